//! Benchmark support: a FreeSWITCH event built in memory, laid out as the
//! switch lays it out, delivered to the module's real `extern "C"` event
//! callback. Lets `benches/callback.rs` time exactly what a dispatch thread
//! runs, without a switch. Not used by the module itself.

use std::ffi::{CString, c_void};
use std::ptr;

use super::sys;
use crate::writer::Ingress;

/// An event and its header list, owned by Rust.
pub struct BenchEvent {
    _names: Vec<CString>,
    _values: Vec<CString>,
    headers: Vec<sys::switch_event_header_t>,
    event: Box<sys::switch_event_t>,
}

impl BenchEvent {
    /// A `CUSTOM` event when `custom`, else a `CHANNEL_HANGUP_COMPLETE`,
    /// with these headers in this order. NUL bytes are dropped from them.
    pub fn new(custom: bool, pairs: &[(&[u8], &[u8])]) -> BenchEvent {
        let c = |b: &[u8]| {
            CString::new(b.iter().copied().filter(|&x| x != 0).collect::<Vec<u8>>())
                .expect("NULs removed")
        };
        let names: Vec<CString> = pairs.iter().map(|(n, _)| c(n)).collect();
        let values: Vec<CString> = pairs.iter().map(|(_, v)| c(v)).collect();
        let mut headers: Vec<sys::switch_event_header_t> = names
            .iter()
            .zip(&values)
            .map(|(n, v)| sys::switch_event_header_t {
                name: n.as_ptr() as *mut _,
                value: v.as_ptr() as *mut _,
                array: ptr::null_mut(),
                idx: 0,
                hash: 0,
                next: ptr::null_mut(),
            })
            .collect();
        // Link the nodes; the Vec is never resized again, so they stay put.
        let base = headers.as_mut_ptr();
        for i in 1..headers.len() {
            // SAFETY: i - 1 and i are in bounds of the Vec's buffer.
            unsafe { (*base.add(i - 1)).next = base.add(i) };
        }
        // SAFETY: switch_event_t is plain C data; all-zero is a valid value
        // (NULL pointers, event id 0) that is filled in below.
        let mut event: Box<sys::switch_event_t> = Box::new(unsafe { std::mem::zeroed() });
        event.event_id = if custom {
            sys::switch_event_types_t::SWITCH_EVENT_CUSTOM
        } else {
            sys::switch_event_types_t::SWITCH_EVENT_CHANNEL_HANGUP_COMPLETE
        };
        event.headers = if headers.is_empty() {
            ptr::null_mut()
        } else {
            base
        };
        event.last_header = headers.last_mut().map_or(ptr::null_mut(), |h| h as *mut _);
        BenchEvent {
            _names: names,
            _values: values,
            headers,
            event,
        }
    }

    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// Delivers the event to the module's event callback, as FreeSWITCH's
    /// dispatch thread does for a node bound with `ingress` as user data.
    pub fn deliver(&mut self, ingress: &Ingress) {
        self.event.bind_user_data = ingress as *const Ingress as *mut c_void;
        let event: *mut sys::switch_event_t = &mut *self.event;
        // SAFETY: the event and its headers are alive and well formed, and
        // `ingress` outlives the call.
        unsafe { crate::trampolines::on_event(event) };
        self.event.bind_user_data = ptr::null_mut();
    }
}
