//! Registering with the switch: the module's API commands.

use std::ffi::{CStr, c_char};

use super::sys;

/// The `switch_api_function_t` registered as `cc_cdr`.
pub type ApiFn = unsafe extern "C" fn(
    *const c_char,
    *mut sys::switch_core_session_t,
    *mut sys::switch_stream_handle_t,
) -> sys::switch_status_t;

/// The event callback registered for both bound events.
pub type EventFn = unsafe extern "C" fn(*mut sys::switch_event_t);

/// Adds an API command to the module. FreeSWITCH keeps the string pointers
/// until unload, hence 'static.
///
/// # Safety
/// `module` is the module interface being built by load.
pub unsafe fn add_api(
    module: *mut sys::switch_loadable_module_interface_t,
    name: &'static CStr,
    desc: &'static CStr,
    syntax: &'static CStr,
    function: ApiFn,
) -> bool {
    // SAFETY: module is valid; SWITCH_API_INTERFACE asks for an api interface.
    let api_interface = unsafe {
        sys::switch_loadable_module_create_interface(
            module,
            sys::switch_module_interface_name_t::SWITCH_API_INTERFACE,
        )
    } as *mut sys::switch_api_interface_t;
    if api_interface.is_null() {
        return false;
    }
    // SAFETY: a zeroed interface from the module pool.
    unsafe {
        (*api_interface).interface_name = name.as_ptr();
        (*api_interface).desc = desc.as_ptr();
        (*api_interface).syntax = syntax.as_ptr();
        (*api_interface).function = Some(function);
    }
    true
}

/// `SWITCH_CMD_CHUNK_LEN`: the size a core stream starts at and grows by.
const STREAM_CHUNK: usize = 1024;

/// Whether the module `name` (e.g. `mod_callcenter`) is loaded.
pub fn module_loaded(name: &CStr) -> bool {
    // SAFETY: a NUL-terminated name; the core looks it up under its lock.
    let status = unsafe { sys::switch_loadable_module_exists(name.as_ptr()) };
    status == sys::switch_status_t::SWITCH_STATUS_SUCCESS
}

/// What the API command `command args` writes, as `fs_cli` would show it,
/// or `None` if it could not run. Call it from a thread of the module's
/// own, never from an event callback: the command may take locks.
pub fn api_output(command: &CStr, args: &CStr) -> Option<String> {
    // SAFETY: an all-zero stream is the start SWITCH_STANDARD_STREAM makes.
    let mut stream: sys::switch_stream_handle_t = unsafe { std::mem::zeroed() };
    // SAFETY: malloc'd, because switch_console_stream_write reallocs it.
    let data = unsafe { libc::calloc(1, STREAM_CHUNK) };
    if data.is_null() {
        return None;
    }
    stream.data = data;
    stream.end = data;
    stream.data_size = STREAM_CHUNK;
    stream.alloc_len = STREAM_CHUNK;
    stream.alloc_chunk = STREAM_CHUNK;
    stream.write_function = Some(sys::switch_console_stream_write);
    stream.raw_write_function = Some(sys::switch_console_stream_raw_write);
    // SAFETY: both strings NUL-terminated; no session; the stream is set up
    // as the core's own macro does.
    let status = unsafe {
        sys::switch_api_execute(
            command.as_ptr(),
            args.as_ptr(),
            std::ptr::null_mut(),
            &mut stream,
        )
    };
    let text = if stream.data.is_null() {
        None
    } else {
        // SAFETY: the stream's buffer, kept NUL-terminated by its writer.
        Some(
            unsafe { CStr::from_ptr(stream.data as *const c_char) }
                .to_string_lossy()
                .into_owned(),
        )
    };
    // SAFETY: the buffer malloc'd above (or its realloc), freed once.
    unsafe { libc::free(stream.data) };
    text.filter(|_| status == sys::switch_status_t::SWITCH_STATUS_SUCCESS)
}

/// Whether FreeSWITCH has a channel of this UUID (`uuid_exists`). From a
/// thread of the module's own.
pub fn channel_exists(uuid: &str) -> bool {
    let Ok(uuid) = std::ffi::CString::new(uuid) else {
        return false;
    };
    api_output(c"uuid_exists", &uuid).is_some_and(|answer| answer.trim() == "true")
}

/// mod_callcenter's `callcenter_config ARGS` (`agent list`, `tier list`,
/// ...), if it is loaded.
pub fn callcenter_config(args: &str) -> Option<String> {
    if !module_loaded(c"mod_callcenter") {
        return None;
    }
    let args = std::ffi::CString::new(args).ok()?;
    api_output(c"callcenter_config", &args)
}
