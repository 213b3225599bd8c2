//! Copying the wanted headers out of a FreeSWITCH event.

use std::ffi::{CStr, c_char};

use super::sys;
use crate::domain::event::{CcEvent, HeaderValue, Source, WantedVars};

/// A header value still in FreeSWITCH's memory, measured only if wanted.
struct CValue<'a>(&'a c_char);

impl<'a> HeaderValue<'a> for CValue<'a> {
    fn bytes(self) -> &'a [u8] {
        // SAFETY: made only from a non-NULL, NUL-terminated header value of
        // an event alive for the callback (see `copy`).
        unsafe { CStr::from_ptr(self.0) }.to_bytes()
    }
}

/// The event's headers, `(name, value)`, as a walk of its list.
struct Headers<'a> {
    next: *const sys::switch_event_header_t,
    _event: std::marker::PhantomData<&'a sys::switch_event_t>,
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a [u8], CValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.next.is_null() {
            // SAFETY: each header is a live node of the event's list, which
            // outlives 'a (see `copy`).
            let h = unsafe { &*self.next };
            self.next = h.next;
            if h.name.is_null() || h.value.is_null() {
                continue;
            }
            // SAFETY: FreeSWITCH header names and values are NUL-terminated
            // and live as long as the event.
            return Some(unsafe { (CStr::from_ptr(h.name).to_bytes(), CValue(&*h.value)) });
        }
        None
    }
}

/// Walks the event's header list and copies the headers `CcEvent` wants,
/// and the `wanted` channel variables, if the event is one the module
/// uses. Returns `None` for a NULL or irrelevant event.
///
/// # Safety
/// `event` must be NULL or an event FreeSWITCH is delivering to a callback;
/// it is only read during this call.
pub unsafe fn copy(
    event: *const sys::switch_event_t,
    source: Source,
    wanted: &WantedVars,
) -> Option<CcEvent> {
    if event.is_null() {
        return None;
    }
    let headers = Headers {
        // SAFETY: non-NULL and alive for the callback.
        next: unsafe { (*event).headers },
        _event: std::marker::PhantomData,
    };
    CcEvent::copy_if_relevant(source, headers, wanted)
}
