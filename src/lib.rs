//! mod_cc_cdr: call-center CDRs and statistics from mod_callcenter's events.
//!
//! `ffi/` holds every `unsafe` and all contact with FreeSWITCH. The rest is
//! plain Rust: `event` (the copied event), `visit` (call assembly), `cdr`
//! (the row), `store` (schema and SQLite), `writer` (the writer thread),
//! `config`, `command` and `logging`. This file holds only the export table
//! and the one-line trampolines FreeSWITCH calls.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod agent;
pub mod capture;
pub mod cdr;
pub mod command;
pub mod config;
pub mod esl;
pub mod event;
mod ffi;
pub mod harness;
pub mod logging;
pub mod pg_server;
pub mod scenarios;
pub mod stats;
pub mod store;
pub mod synth;
pub mod table;
#[cfg(test)]
mod test_support;
pub mod tz;
pub mod visit;
pub mod writer;

/// For `benches/callback.rs`: a FreeSWITCH event built in memory and handed
/// to the real event callback.
#[doc(hidden)]
pub use ffi::bench::BenchEvent;

use std::ffi::c_char;

use ffi::guard::guard;
use ffi::sys;

const GENERR: sys::switch_status_t = sys::switch_status_t::SWITCH_STATUS_GENERR;
const FALSE: sys::switch_status_t = sys::switch_status_t::SWITCH_STATUS_FALSE;

/// The table FreeSWITCH's loader looks up as `<file name>_module_interface`.
#[unsafe(no_mangle)]
pub static mod_cc_cdr_module_interface: sys::switch_loadable_module_function_table_t =
    sys::switch_loadable_module_function_table_t {
        switch_api_version: sys::SWITCH_API_VERSION as i32,
        load: Some(mod_cc_cdr_load),
        shutdown: Some(mod_cc_cdr_shutdown),
        runtime: None,
        flags: 0,
    };

unsafe extern "C" fn mod_cc_cdr_load(
    module_interface: *mut *mut sys::switch_loadable_module_interface_t,
    pool: *mut sys::switch_memory_pool_t,
) -> sys::switch_status_t {
    guard("load", GENERR, || unsafe {
        ffi::module::load(module_interface, pool, cc_cdr_api, on_event)
    })
}

unsafe extern "C" fn mod_cc_cdr_shutdown() -> sys::switch_status_t {
    guard("shutdown", GENERR, || unsafe { ffi::module::shutdown() })
}

unsafe extern "C" fn cc_cdr_api(
    cmd: *const c_char,
    _session: *mut sys::switch_core_session_t,
    stream: *mut sys::switch_stream_handle_t,
) -> sys::switch_status_t {
    guard("cc_cdr", FALSE, || unsafe { ffi::module::api(cmd, stream) })
}

unsafe extern "C" fn on_event(event: *mut sys::switch_event_t) {
    guard("event callback", (), || unsafe {
        ffi::module::on_event(event)
    })
}

#[cfg(feature = "bench-inject")]
unsafe extern "C" fn cc_cdr_bench_fire(
    cmd: *const c_char,
    _session: *mut sys::switch_core_session_t,
    stream: *mut sys::switch_stream_handle_t,
) -> sys::switch_status_t {
    guard("cc_cdr_bench_fire", FALSE, || unsafe {
        ffi::inject::api(cmd, stream);
        sys::switch_status_t::SWITCH_STATUS_SUCCESS
    })
}
