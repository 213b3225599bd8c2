//! Copying the wanted headers out of a FreeSWITCH event.

use std::ffi::{CStr, c_char};

use super::sys;
use crate::domain::event::{CcEvent, HeaderValue, Source};

/// A header value still in FreeSWITCH's memory, measured only if wanted.
struct CValue<'a>(&'a c_char);

impl<'a> HeaderValue<'a> for CValue<'a> {
    fn bytes(self) -> &'a [u8] {
        // SAFETY: made only from a non-NULL, NUL-terminated header value of
        // an event alive for the callback (see `copy`).
        unsafe { CStr::from_ptr(self.0) }.to_bytes()
    }
}

/// Walks the event's header list once and copies the headers `CcEvent`
/// wants, if the event is one the module uses. Returns `None` for a NULL or
/// irrelevant event.
///
/// # Safety
/// `event` must be NULL or an event FreeSWITCH is delivering to a callback;
/// it is only read during this call.
pub unsafe fn copy(event: *const sys::switch_event_t, source: Source) -> Option<CcEvent> {
    if event.is_null() {
        return None;
    }
    // SAFETY: non-NULL and alive for the callback.
    let mut header = unsafe { (*event).headers };
    let headers = std::iter::from_fn(move || {
        while !header.is_null() {
            // SAFETY: each header is a live node of the event's list.
            let h = unsafe { &*header };
            header = h.next;
            if h.name.is_null() || h.value.is_null() {
                continue;
            }
            // SAFETY: FreeSWITCH header names and values are NUL-terminated
            // and live as long as the event.
            let pair = unsafe { (CStr::from_ptr(h.name).to_bytes(), CValue(&*h.value)) };
            return Some(pair);
        }
        None
    });
    CcEvent::copy_if_relevant(source, headers)
}
