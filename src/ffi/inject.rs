//! Benchmark only (`--features bench`, never in a release build):
//! the `cc_cdr_bench_fire` API, which fires copies of captured events inside
//! the switch, through `switch_event_fire`, as mod_callcenter does. Loads
//! beyond what real calls can make, without the event socket's parsing cost.
//!
//!   cc_cdr_bench_fire <capture file> <copies> [events per second]
//!
//! Each copy of the capture's `callcenter::info` and `CHANNEL_HANGUP_COMPLETE`
//! events gets its own UUIDs and times (`crate::synth`). Without a rate, it
//! fires as fast as the switch takes them. It answers when all are fired.

use std::ffi::{CString, c_char};
use std::ptr;
use std::time::{Duration, Instant};

use super::{stream, sys};
use crate::domain::capture::{parse_event, source_of, split_events};
use crate::domain::event::Source;
use testkit::synth::{self, Headers};

const SUBCLASS: &std::ffi::CStr = c"callcenter::info";

/// Headers the switch adds to every event itself.
fn added_by_switch(name: &str) -> bool {
    matches!(
        name,
        "Event-Name" | "Event-Subclass" | "Core-UUID" | "Event-Date-Local" | "Event-Date-GMT"
    ) || name.starts_with("FreeSWITCH-")
        || name.starts_with("Event-Calling-")
}

fn template(file: &str) -> Vec<(bool, Headers)> {
    split_events(file)
        .map(parse_event)
        .filter_map(|headers| {
            let custom = source_of(&headers)? == Source::Callcenter;
            let kept = headers
                .into_iter()
                .filter(|(n, _)| !added_by_switch(n))
                .collect();
            Some((custom, kept))
        })
        .collect()
}

fn c(bytes: &[u8]) -> CString {
    CString::new(
        bytes
            .iter()
            .copied()
            .filter(|&b| b != 0)
            .collect::<Vec<u8>>(),
    )
    .expect("NULs removed")
}

/// Fires one event; false if the switch refused it.
fn fire(custom: bool, headers: &Headers) -> bool {
    let (id, subclass) = if custom {
        (
            sys::switch_event_types_t::SWITCH_EVENT_CUSTOM,
            SUBCLASS.as_ptr(),
        )
    } else {
        (
            sys::switch_event_types_t::SWITCH_EVENT_CHANNEL_HANGUP_COMPLETE,
            ptr::null(),
        )
    };
    let mut event: *mut sys::switch_event_t = ptr::null_mut();
    // SAFETY: out-pointer to a local; file and function are 'static C strings.
    let status = unsafe {
        sys::switch_event_create_subclass_detailed(
            c"inject.rs".as_ptr(),
            c"cc_cdr_bench_fire".as_ptr(),
            line!() as i32,
            &mut event,
            id,
            subclass,
        )
    };
    if status != sys::switch_status_t::SWITCH_STATUS_SUCCESS || event.is_null() {
        return false;
    }
    for (name, value) in headers {
        let (name, value) = (c(name.as_bytes()), c(value));
        // SAFETY: a live event of ours; the switch copies name and value.
        unsafe {
            sys::switch_event_add_header_string(
                event,
                sys::switch_stack_t::SWITCH_STACK_BOTTOM,
                name.as_ptr(),
                value.as_ptr(),
            )
        };
    }
    // SAFETY: the switch takes the event and NULLs the pointer on success.
    let status = unsafe {
        sys::switch_event_fire_detailed(
            c"inject.rs".as_ptr(),
            c"cc_cdr_bench_fire".as_ptr(),
            line!() as i32,
            &mut event,
            ptr::null_mut(),
        )
    };
    if !event.is_null() {
        // SAFETY: still ours: not taken by the switch.
        unsafe { sys::switch_event_destroy(&mut event) };
    }
    status == sys::switch_status_t::SWITCH_STATUS_SUCCESS
}

fn run(args: &str) -> Result<String, String> {
    let usage = "usage: cc_cdr_bench_fire <capture file> <copies> [events per second]";
    let mut words = args.split_whitespace();
    let (Some(path), Some(copies)) = (words.next(), words.next()) else {
        return Err(usage.into());
    };
    let copies: u64 = copies.parse().map_err(|_| usage.to_owned())?;
    let rate: Option<f64> = match words.next() {
        Some(r) => Some(r.parse().ok().filter(|r: &f64| *r > 0.0).ok_or(usage)?),
        None => None,
    };
    let file = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let template = template(&file);
    if template.is_empty() {
        return Err(format!("{path} holds no callcenter or hangup events"));
    }
    let started = Instant::now();
    let (mut fired, mut refused) = (0u64, 0u64);
    for n in 0..copies {
        for (custom, headers) in &template {
            if let Some(rate) = rate {
                let due = started + Duration::from_secs_f64(fired as f64 / rate);
                let now = Instant::now();
                if due > now + Duration::from_millis(1) {
                    std::thread::sleep(due - now);
                }
            }
            if fire(*custom, &synth::copy(headers, n)) {
                fired += 1;
            } else {
                refused += 1;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(format!(
        "+OK fired {fired} events ({refused} refused) in {secs:.3} s: {:.0} events/s\n",
        fired as f64 / secs
    ))
}

/// The API command's body.
///
/// # Safety
/// `cmd` NULL or NUL-terminated; `stream` NULL or FreeSWITCH's stream.
pub unsafe fn api(cmd: *const c_char, stream: *mut sys::switch_stream_handle_t) {
    let args = if cmd.is_null() {
        String::new()
    } else {
        // SAFETY: non-NULL, NUL-terminated for the call.
        unsafe { std::ffi::CStr::from_ptr(cmd) }
            .to_string_lossy()
            .into_owned()
    };
    let text = run(&args).unwrap_or_else(|e| format!("-ERR {e}\n"));
    // SAFETY: the caller's stream.
    unsafe { stream::write(stream, &text) };
}

/// Registers `cc_cdr_bench_fire` on the module.
///
/// # Safety
/// `module` is the module interface being built by load.
pub unsafe fn register(module: *mut sys::switch_loadable_module_interface_t) -> bool {
    // SAFETY: the caller's contract; the strings are 'static.
    unsafe {
        super::host::add_api(
            module,
            c"cc_cdr_bench_fire",
            c"benchmark only: fire copies of captured events",
            c"<capture file> <copies> [events per second]",
            crate::trampolines::cc_cdr_bench_fire,
        )
    }
}
