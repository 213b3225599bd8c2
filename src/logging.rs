//! Logging for code that knows nothing of FreeSWITCH.
//!
//! The FFI layer installs a sink that forwards to `switch_log_printf` while
//! the module is loaded; without one (tests, the report tools) messages go to
//! standard error.

use std::panic::Location;
use std::sync::RwLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Crit,
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

/// Where messages go: level, text, and the source line that logged it.
pub type Sink = fn(Level, &str, &Location<'_>);

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Routes all further messages to `sink`, or back to standard error.
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
}

#[track_caller]
pub fn log(level: Level, message: &str) {
    let sink = *SINK.read().unwrap_or_else(|e| e.into_inner());
    match sink {
        Some(sink) => sink(level, message, Location::caller()),
        None => eprintln!("mod_cc_cdr [{level:?}] {message}"),
    }
}
