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
