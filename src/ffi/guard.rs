//! The guard every `extern "C"` entry point runs in: a panic must never
//! unwind into FreeSWITCH (that aborts the whole switch), so it is caught,
//! logged, and replaced by a typed fallback.

use std::panic::catch_unwind;

use crate::logging::{Level, catch, log};

/// Runs `body`; on a panic, logs it as `what` and returns `fallback`.
pub fn guard<T>(what: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    match catch(body) {
        Ok(value) => value,
        Err(reason) => {
            // Logging must not panic again on the way out.
            let _ = catch_unwind(|| log(Level::Crit, &format!("{what}: internal error: {reason}")));
            fallback
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_fallback() {
        assert_eq!(guard("test", 7, || -> i32 { panic!("boom") }), 7);
        assert_eq!(guard("test", 7, || 3), 3);
    }
}
