//! When a failing database is tried again.

use std::time::Duration;

/// How often a failing database is tried again.
pub const RETRY: Duration = Duration::from_secs(5);
/// The longest wait between two tries of a failing database.
pub const RETRY_MAX: Duration = Duration::from_secs(60);

/// The wait before the next try after `failures` failed tries in a row:
/// `RETRY`, doubling, at most `RETRY_MAX` (a database that is down for
/// hours is not hammered, and one back within seconds is soon used again).
pub fn retry_after(failures: u32) -> Duration {
    RETRY
        .saturating_mul(1u32 << failures.min(16))
        .min(RETRY_MAX)
}
