//! Output of API commands through FreeSWITCH's stream handle.

use super::log::c_text;
use super::sys;

/// Writes `text` to an API stream. `write_function` is printf-style, so the
/// text goes as the argument of `"%s"`.
///
/// # Safety
/// `stream` must be NULL or the stream FreeSWITCH passed to the API call.
pub unsafe fn write(stream: *mut sys::switch_stream_handle_t, text: &str) {
    if stream.is_null() {
        return;
    }
    // SAFETY: non-NULL, and valid for the duration of the API call.
    let Some(write_function) = (unsafe { (*stream).write_function }) else {
        return;
    };
    let text = c_text(text);
    // SAFETY: as above; "%s" consumes the one NUL-terminated argument.
    unsafe {
        write_function(stream, c"%s".as_ptr(), text.as_ptr());
    }
}
