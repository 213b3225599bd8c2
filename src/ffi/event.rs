//! Copying the wanted headers out of a FreeSWITCH event.

use std::ffi::CStr;

use super::sys;
use crate::event::{CcEvent, Source};

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
            // SAFETY: FreeSWITCH header names and values are NUL-terminated.
            let pair = unsafe {
                (
                    CStr::from_ptr(h.name).to_bytes(),
                    CStr::from_ptr(h.value).to_bytes(),
                )
            };
            return Some(pair);
        }
        None
    });
    CcEvent::copy_if_relevant(source, headers)
}
