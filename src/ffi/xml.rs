//! Reading `<settings><param name=… value=…/>` from a FreeSWITCH config.

use std::ffi::{CStr, c_char};
use std::ptr;

use super::sys;

/// Frees the XML root when dropped, even on a panic.
struct Root(sys::switch_xml_t);

impl Drop for Root {
    fn drop(&mut self) {
        // SAFETY: the root came from switch_xml_open_cfg and is freed once.
        unsafe { sys::switch_xml_free(self.0) }
    }
}

fn text(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: FreeSWITCH attribute values are NUL-terminated strings that live
    // as long as the XML root, which outlives this call.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// The `(name, value)` of every `<param>` under `<settings>` of the
/// configuration `name` (e.g. `cc_cdr.conf`), or `None` when FreeSWITCH has
/// no such configuration.
pub fn settings(name: &CStr) -> Option<Vec<(String, String)>> {
    let mut cfg: sys::switch_xml_t = ptr::null_mut();
    // SAFETY: name is NUL-terminated; cfg is a valid out-pointer.
    let root = unsafe { sys::switch_xml_open_cfg(name.as_ptr(), &mut cfg, ptr::null_mut()) };
    if root.is_null() {
        return None;
    }
    let _root = Root(root);
    let mut params = Vec::new();
    if cfg.is_null() {
        return Some(params);
    }
    // SAFETY: cfg and its children belong to the root held above.
    unsafe {
        let settings = sys::switch_xml_child(cfg, c"settings".as_ptr());
        if settings.is_null() {
            return Some(params);
        }
        let mut param = sys::switch_xml_child(settings, c"param".as_ptr());
        while !param.is_null() {
            params.push((
                text(sys::switch_xml_attr_soft(param, c"name".as_ptr())),
                text(sys::switch_xml_attr_soft(param, c"value".as_ptr())),
            ));
            param = (*param).next;
        }
    }
    Some(params)
}
