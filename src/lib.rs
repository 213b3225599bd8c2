//! mod_cc_cdr: call-center CDRs and statistics from mod_callcenter's events.
//!
//! Data flows one way: FreeSWITCH's event threads copy an event (`ffi`) and
//! hand it to the writer thread (`writer`), which assembles queue visits and
//! agent activity from it (`domain`), writes the rows (`store`), from which
//! the statistics are read (`stats`). `service` runs one load of the module
//! (configuration from `config`, the writer, the `cc_cdr` commands) without
//! knowing FreeSWITCH; `ffi/` adapts it to the switch and holds every
//! `unsafe`, which the compiler refuses anywhere else. This file holds only
//! the export table and the one-line trampolines FreeSWITCH calls.
#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod config;
pub mod domain;
pub mod export;
#[allow(unsafe_code)]
mod ffi;
pub mod http;
pub mod live;
pub mod logging;
pub mod queue_log;
pub mod service;
pub mod stats;
pub mod store;
pub mod table;
pub mod tz;
pub mod writer;

/// For `benches/callback.rs`: a FreeSWITCH event built in memory and handed
/// to the real event callback.
#[cfg(feature = "bench")]
#[doc(hidden)]
pub use ffi::bench::BenchEvent;

/// The export table and the one-line trampolines FreeSWITCH calls: each
/// runs its body in `guard`, so that no panic unwinds into the switch.
#[allow(unsafe_code)]
mod trampolines {
    use std::ffi::c_char;

    use crate::ffi::guard::guard;
    use crate::ffi::{self, sys};

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
        // SAFETY: FreeSWITCH's loader passes its out-pointer and the pool.
        guard("load", GENERR, || unsafe {
            ffi::module::load(module_interface, pool, cc_cdr_api, on_event)
        })
    }

    unsafe extern "C" fn mod_cc_cdr_shutdown() -> sys::switch_status_t {
        // SAFETY: called by the loader once per successful load.
        guard("shutdown", GENERR, || unsafe { ffi::module::shutdown() })
    }

    pub(crate) unsafe extern "C" fn cc_cdr_api(
        cmd: *const c_char,
        _session: *mut sys::switch_core_session_t,
        stream: *mut sys::switch_stream_handle_t,
    ) -> sys::switch_status_t {
        // SAFETY: FreeSWITCH passes the command text and its stream.
        guard("cc_cdr", FALSE, || unsafe { ffi::module::api(cmd, stream) })
    }

    pub(crate) unsafe extern "C" fn on_event(event: *mut sys::switch_event_t) {
        // SAFETY: FreeSWITCH passes the event it is delivering to our bind.
        guard("event callback", (), || unsafe {
            ffi::module::on_event(event)
        })
    }

    #[cfg(feature = "bench")]
    pub(crate) unsafe extern "C" fn cc_cdr_bench_fire(
        cmd: *const c_char,
        _session: *mut sys::switch_core_session_t,
        stream: *mut sys::switch_stream_handle_t,
    ) -> sys::switch_status_t {
        // SAFETY: FreeSWITCH passes the command text and its stream.
        guard("cc_cdr_bench_fire", FALSE, || unsafe {
            ffi::inject::api(cmd, stream);
            sys::switch_status_t::SWITCH_STATUS_SUCCESS
        })
    }
}
