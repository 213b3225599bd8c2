//! The module's lifecycle inside FreeSWITCH: load, shutdown, the `cc_cdr`
//! API and the event callback. Called only from the guarded trampolines in
//! `lib.rs`.
//!
//! Per-load state lives in `LOADED` and is built by `load` and torn down by
//! `shutdown`: statics survive `reload`, because the library may stay mapped.

use std::ffi::{CStr, c_char, c_void};
use std::path::PathBuf;
use std::ptr;
use std::sync::{Arc, Mutex};

use super::guard::guard;
use super::sys;
use super::{event, host, log as fslog, stream, xml};
use crate::domain::event::Source;
use crate::logging::{self, Level, log};
use crate::service::{self, Host, Service, commands};
use crate::writer::Ingress;

const MODULE_NAME: &CStr = c"mod_cc_cdr";
const CONFIG_NAME: &CStr = c"cc_cdr.conf";
const SUBCLASS: &CStr = c"callcenter::info";

/// Everything one load owns.
struct Loaded {
    nodes: Vec<*mut sys::switch_event_node_t>,
    /// The event callbacks' `user_data`; freed after every node is unbound.
    ingress: *mut Ingress,
    /// Shared with `cc_cdr` calls in flight, which run without the lock.
    service: Arc<Service>,
}

// SAFETY: the raw pointers are only used by load and shutdown, which
// FreeSWITCH never runs concurrently for one module, under LOADED's lock.
unsafe impl Send for Loaded {}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

fn loaded() -> std::sync::MutexGuard<'static, Option<Loaded>> {
    LOADED.lock().unwrap_or_else(|e| e.into_inner())
}

fn db_dir() -> PathBuf {
    // SAFETY: FreeSWITCH fills SWITCH_GLOBAL_dirs before loading modules and
    // does not change db_dir while they run.
    let dir = unsafe { sys::SWITCH_GLOBAL_dirs.db_dir };
    if dir.is_null() {
        return PathBuf::from(".");
    }
    // SAFETY: non-NULL, NUL-terminated.
    PathBuf::from(
        unsafe { CStr::from_ptr(dir) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// C text FreeSWITCH owns, copied; empty for NULL.
fn owned_text(text: *const c_char) -> String {
    if text.is_null() {
        return String::new();
    }
    // SAFETY: non-NULL, NUL-terminated, alive for the call.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// What the switch tells of itself, for the service.
fn host() -> Host {
    // SAFETY: both return strings the core keeps for its lifetime.
    let (switchname, core_uuid) = unsafe {
        (
            owned_text(sys::switch_core_get_switchname()),
            owned_text(sys::switch_core_get_uuid()),
        )
    };
    let cc_instance_id = xml::settings(c"callcenter.conf")
        .unwrap_or_default()
        .into_iter()
        .find(|(name, _)| name == "cc-instance-id")
        .map(|(_, value)| value);
    Host {
        db_dir: db_dir(),
        switchname,
        core_uuid,
        cc_instance_id,
        callcenter_agents: xml::callcenter_agents(),
        callcenter: Some(host::callcenter_config),
        channel_exists: Some(host::channel_exists),
    }
}

/// Loads the module. On any failure, a panic included, everything done so
/// far is undone before returning, because FreeSWITCH unmaps a module whose
/// load failed: a bind or thread left behind would point into nothing.
///
/// # Safety
/// Called by FreeSWITCH's loader with its out-pointer and the module's pool.
pub unsafe fn load(
    module_interface: *mut *mut sys::switch_loadable_module_interface_t,
    pool: *mut sys::switch_memory_pool_t,
    api: host::ApiFn,
    on_event: host::EventFn,
) -> sys::switch_status_t {
    logging::set_sink(Some(fslog::to_freeswitch));
    if loaded().is_some() {
        log(Level::Error, "load refused: mod_cc_cdr is already running");
        return sys::switch_status_t::SWITCH_STATUS_GENERR;
    }
    // Panics in the module's threads reach FreeSWITCH's log with their
    // place; the hook is put back at unload, before the code goes away.
    logging::install_panic_hook();
    let status = guard("load", sys::switch_status_t::SWITCH_STATUS_GENERR, || {
        // SAFETY: the caller's contract.
        unsafe { load_inner(module_interface, pool, api, on_event) }
    });
    if status != sys::switch_status_t::SWITCH_STATUS_SUCCESS {
        if let Some(partial) = loaded().take() {
            // SAFETY: the state of this failed load, torn down once.
            let _ = unsafe { teardown(partial) };
        }
        logging::remove_panic_hook();
    }
    status
}

/// The steps of `load`. Once the writer runs, the state is in `LOADED`, so
/// that `load` can undo it whatever happens next.
unsafe fn load_inner(
    module_interface: *mut *mut sys::switch_loadable_module_interface_t,
    pool: *mut sys::switch_memory_pool_t,
    api: host::ApiFn,
    on_event: host::EventFn,
) -> sys::switch_status_t {
    let fail = sys::switch_status_t::SWITCH_STATUS_GENERR;
    if module_interface.is_null() || pool.is_null() {
        log(
            Level::Error,
            "load refused: FreeSWITCH passed a NULL pointer",
        );
        return fail;
    }
    // SAFETY: pool is the module's pool; the name is a 'static C string.
    let module =
        unsafe { sys::switch_loadable_module_create_module_interface(pool, MODULE_NAME.as_ptr()) };
    if module.is_null() {
        log(
            Level::Error,
            "load refused: cannot create the module interface",
        );
        return fail;
    }
    // SAFETY: module is the interface just made; the strings are 'static.
    let added = unsafe {
        host::add_api(
            module,
            c"cc_cdr",
            c"call-center CDRs: status, statistics and help",
            commands::syntax_c(),
            api,
        )
    };
    if !added {
        log(Level::Error, "load refused: cannot create the cc_cdr API");
        return fail;
    }
    // SAFETY: the caller's out-pointer, checked non-NULL above.
    unsafe { *module_interface = module };
    // SAFETY: the module interface just made.
    #[cfg(feature = "bench")]
    if !unsafe { super::inject::register(module) } {
        log(
            Level::Error,
            "load refused: cannot create cc_cdr_bench_fire",
        );
        return fail;
    }

    let (service, ingress) = match Service::start(
        xml::settings(CONFIG_NAME),
        &xml::columns(CONFIG_NAME),
        &xml::queues(CONFIG_NAME),
        &host(),
    ) {
        Ok(started) => started,
        Err(why) => {
            log(Level::Error, &format!("load refused: {why}"));
            return fail;
        }
    };
    let database = service.database().to_string();
    let ingress = Box::into_raw(Box::new(ingress));
    *loaded() = Some(Loaded {
        nodes: Vec::new(),
        ingress,
        service: Arc::new(service),
    });

    let binds: [(sys::switch_event_types_t, *const c_char); 2] = [
        (
            sys::switch_event_types_t::SWITCH_EVENT_CUSTOM,
            SUBCLASS.as_ptr(),
        ),
        (
            sys::switch_event_types_t::SWITCH_EVENT_CHANNEL_HANGUP_COMPLETE,
            ptr::null(),
        ),
    ];
    for (event_type, subclass) in binds {
        let mut node: *mut sys::switch_event_node_t = ptr::null_mut();
        // SAFETY: id and subclass are copied by FreeSWITCH; user_data stays
        // valid until the node is unbound in teardown.
        let status = unsafe {
            sys::switch_event_bind_removable(
                MODULE_NAME.as_ptr(),
                event_type,
                subclass,
                Some(on_event),
                ingress as *mut c_void,
                &mut node,
            )
        };
        if !node.is_null() {
            if let Some(state) = loaded().as_mut() {
                state.nodes.push(node);
            }
        }
        if status != sys::switch_status_t::SWITCH_STATUS_SUCCESS || node.is_null() {
            log(Level::Error, "load refused: cannot bind to events");
            return fail;
        }
    }

    for completion in commands::completions() {
        let c = fslog::c_text(&completion);
        // SAFETY: the string is copied into the core's completion table.
        unsafe { sys::switch_console_set_complete(c.as_ptr()) };
    }

    log(
        Level::Notice,
        &format!("mod_cc_cdr loaded: writing call-center CDRs to {database}"),
    );
    sys::switch_status_t::SWITCH_STATUS_SUCCESS
}

/// Unbinds, lets the writer drain and commit, joins it, then frees the rest.
/// Returns what the writer did.
///
/// # Safety
/// `state` must come from `load` and be torn down once.
unsafe fn teardown(mut state: Loaded) -> String {
    for node in state.nodes.iter_mut() {
        // SAFETY: a node from switch_event_bind_removable; unbind waits for
        // callbacks in flight, so none runs after this loop.
        unsafe { sys::switch_event_unbind(node) };
    }
    // SAFETY: no callback can see the pointer any more; dropping the sender
    // tells the writer to drain, close open visits and stop.
    drop(unsafe { Box::from_raw(state.ingress) });
    state.service.stop()
}

/// # Safety
/// Called by FreeSWITCH's loader, once per successful load.
pub unsafe fn shutdown() -> sys::switch_status_t {
    let Some(state) = loaded().take() else {
        return sys::switch_status_t::SWITCH_STATUS_SUCCESS;
    };
    // SAFETY: removes only our own completions.
    unsafe { sys::switch_console_set_complete(c"del cc_cdr".as_ptr()) };
    // SAFETY: the state from load, torn down once.
    let done = unsafe { teardown(state) };
    log(Level::Notice, &done);
    logging::remove_panic_hook();
    logging::set_sink(None);
    sys::switch_status_t::SWITCH_STATUS_SUCCESS
}

/// The `cc_cdr` API command.
///
/// # Safety
/// `cmd` NULL or NUL-terminated; `stream` NULL or FreeSWITCH's stream.
pub unsafe fn api(
    cmd: *const c_char,
    stream: *mut sys::switch_stream_handle_t,
) -> sys::switch_status_t {
    if stream.is_null() {
        return sys::switch_status_t::SWITCH_STATUS_FALSE;
    }
    let args = if cmd.is_null() {
        String::new()
    } else {
        // SAFETY: non-NULL, NUL-terminated for the call.
        unsafe { CStr::from_ptr(cmd) }
            .to_string_lossy()
            .into_owned()
    };
    // Answered without holding the lock: a long query must not hold up
    // another command or an unload.
    let running = loaded().as_ref().map(|state| state.service.clone());
    let text = match running {
        Some(service) => service.api(&args),
        None => service::api_not_running(&args),
    };
    // SAFETY: stream checked above.
    unsafe { stream::write(stream, &text) };
    sys::switch_status_t::SWITCH_STATUS_SUCCESS
}

/// The event callback: copy, hand off, return. Never blocks.
///
/// # Safety
/// `event` NULL or the event FreeSWITCH is delivering to this bind.
pub unsafe fn on_event(event: *mut sys::switch_event_t) {
    if event.is_null() {
        return;
    }
    // SAFETY: non-NULL and alive for the callback.
    let (event_id, user_data) = unsafe { ((*event).event_id, (*event).bind_user_data) };
    if user_data.is_null() {
        return;
    }
    let source = if event_id == sys::switch_event_types_t::SWITCH_EVENT_CUSTOM {
        Source::Callcenter
    } else {
        Source::HangupComplete
    };
    // SAFETY: user_data is the Ingress of this load, freed only after the
    // node is unbound, which waits for this callback to return.
    let ingress = unsafe { &*(user_data as *const Ingress) };
    // SAFETY: the event is alive for the callback.
    let Some(copy) = (unsafe { event::copy(event, source, ingress.wanted_vars()) }) else {
        return;
    };
    ingress.submit(copy);
}
