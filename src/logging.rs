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

thread_local! {
    /// The last panic on this thread, as the hook saw it: message and place.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

type Hook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync + 'static>;

/// The hook that was in place before ours, put back by `remove_panic_hook`.
static PREVIOUS_HOOK: std::sync::Mutex<Option<Hook>> = std::sync::Mutex::new(None);

/// The text of a panic's payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Sends every panic's message and source location to the log at `Crit`
/// (FreeSWITCH's log while the module is loaded), and keeps it for
/// `take_last_panic` on the panicking thread. The process's hook is global:
/// the one before is kept, and put back by `remove_panic_hook`, which must
/// run before the module's code is unmapped.
pub fn install_panic_hook() {
    let mut previous = PREVIOUS_HOOK.lock().unwrap_or_else(|e| e.into_inner());
    if previous.is_some() {
        return;
    }
    *previous = Some(std::panic::take_hook());
    drop(previous);
    std::panic::set_hook(Box::new(|info| {
        let message = panic_text(info.payload());
        let place = info.location().map_or_else(
            || "an unknown place".to_owned(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        let thread = std::thread::current();
        let text = format!(
            "panic in thread '{}' at {place}: {message}",
            thread.name().unwrap_or("unnamed")
        );
        LAST_PANIC.with(|last| *last.borrow_mut() = Some(format!("{message} (at {place})")));
        let sink = *SINK.read().unwrap_or_else(|e| e.into_inner());
        match sink {
            Some(sink) => sink(
                Level::Crit,
                &text,
                info.location().unwrap_or(Location::caller()),
            ),
            None => eprintln!("mod_cc_cdr [Crit] {text}"),
        }
    }));
}

/// Puts back the hook `install_panic_hook` replaced.
pub fn remove_panic_hook() {
    let previous = PREVIOUS_HOOK
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(previous) = previous {
        let _ours = std::panic::take_hook();
        std::panic::set_hook(previous);
    }
}

/// The last panic the hook saw on this thread, message and place, if any.
pub fn take_last_panic() -> Option<String> {
    LAST_PANIC.with(|last| last.borrow_mut().take())
}

/// Runs `body`, and turns a panic in it into its message (and place, where
/// the hook is installed).
pub fn catch<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
        .map_err(|payload| take_last_panic().unwrap_or_else(|| panic_text(&*payload)))
}
