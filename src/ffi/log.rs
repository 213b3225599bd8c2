//! The logging bridge to `switch_log_printf`. Messages are always passed as
//! the argument of a `"%s"` format, never as the format itself.

use std::ffi::CString;
use std::panic::Location;
use std::ptr;

use super::sys;
use crate::logging::Level;

/// Installed as `crate::logging`'s sink while the module is loaded.
pub fn to_freeswitch(level: Level, message: &str, location: &Location<'_>) {
    let level = match level {
        Level::Crit => sys::switch_log_level_t::SWITCH_LOG_CRIT,
        Level::Error => sys::switch_log_level_t::SWITCH_LOG_ERROR,
        Level::Warning => sys::switch_log_level_t::SWITCH_LOG_WARNING,
        Level::Notice => sys::switch_log_level_t::SWITCH_LOG_NOTICE,
        Level::Info => sys::switch_log_level_t::SWITCH_LOG_INFO,
        Level::Debug => sys::switch_log_level_t::SWITCH_LOG_DEBUG,
    };
    let text = c_text(&format!("{message}\n"));
    let file = c_text(location.file());
    let line = i32::try_from(location.line()).unwrap_or(0);
    // SAFETY: every pointer is a NUL-terminated string alive for the call,
    // and the format "%s" consumes exactly the one string argument.
    unsafe {
        sys::switch_log_printf(
            sys::switch_text_channel_t::SWITCH_CHANNEL_ID_LOG,
            file.as_ptr(),
            c"mod_cc_cdr".as_ptr(),
            line,
            ptr::null(),
            level,
            c"%s".as_ptr(),
            text.as_ptr(),
        );
    }
}

/// A C string of `text`, with any NUL byte shown as `\0`.
pub fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}
