//! Reading `<settings><param name=… value=…/>` from a FreeSWITCH config.

use std::ffi::{CStr, c_char};
use std::ptr;

use super::sys;
use crate::config::{ColumnXml, QueueXml};

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

/// `read` of every `<child>` under `<section>` of the configuration `name`
/// (e.g. `cc_cdr.conf`), or `None` when FreeSWITCH has no such
/// configuration. `read` gets a node that is valid while it runs.
fn each_child<T>(
    name: &CStr,
    section: &CStr,
    child: &CStr,
    mut read: impl FnMut(sys::switch_xml_t) -> T,
) -> Option<Vec<T>> {
    let mut cfg: sys::switch_xml_t = ptr::null_mut();
    // SAFETY: name is NUL-terminated; cfg is a valid out-pointer.
    let root = unsafe { sys::switch_xml_open_cfg(name.as_ptr(), &mut cfg, ptr::null_mut()) };
    if root.is_null() {
        return None;
    }
    let _root = Root(root);
    let mut found = Vec::new();
    if cfg.is_null() {
        return Some(found);
    }
    // SAFETY: cfg and its children belong to the root held above.
    unsafe {
        let parent = sys::switch_xml_child(cfg, section.as_ptr());
        if parent.is_null() {
            return Some(found);
        }
        let mut node = sys::switch_xml_child(parent, child.as_ptr());
        while !node.is_null() {
            found.push(read(node));
            node = (*node).next;
        }
    }
    Some(found)
}

/// The given attributes of `node`, missing ones as `""`.
fn attributes(node: sys::switch_xml_t, attrs: &[&CStr]) -> Vec<String> {
    attrs
        .iter()
        // SAFETY: node is a live element (each_child's, or its child's).
        .map(|a| text(unsafe { sys::switch_xml_attr_soft(node, a.as_ptr()) }))
        .collect()
}

/// The given attributes of every `<child>` under `<section>` of the
/// configuration `name`, missing ones as `""`, or `None` when FreeSWITCH
/// has no such configuration.
fn children(
    name: &CStr,
    section: &CStr,
    child: &CStr,
    attrs: &[&CStr],
) -> Option<Vec<Vec<String>>> {
    each_child(name, section, child, |node| attributes(node, attrs))
}

/// The `(name, value)` of every `<param>` under `<settings>` of the
/// configuration `name`, or `None` when FreeSWITCH has no such configuration.
pub fn settings(name: &CStr) -> Option<Vec<(String, String)>> {
    let params = children(name, c"settings", c"param", &[c"name", c"value"])?;
    Some(
        params
            .into_iter()
            .map(|mut p| (std::mem::take(&mut p[0]), std::mem::take(&mut p[1])))
            .collect(),
    )
}

/// `(name, wrap-up-time)` of the agents in mod_callcenter's `callcenter.conf`.
pub fn callcenter_agents() -> Vec<(String, String)> {
    children(
        c"callcenter.conf",
        c"agents",
        c"agent",
        &[c"name", c"wrap-up-time"],
    )
    .unwrap_or_default()
    .into_iter()
    .map(|mut a| (std::mem::take(&mut a[0]), std::mem::take(&mut a[1])))
    .collect()
}

/// Every `<column name=… variable=… leg=…/>` under `<columns>` of the
/// configuration `name`.
pub fn columns(name: &CStr) -> Vec<ColumnXml> {
    children(name, c"columns", c"column", &[c"name", c"variable", c"leg"])
        .unwrap_or_default()
        .into_iter()
        .map(|mut c| ColumnXml {
            name: std::mem::take(&mut c[0]),
            variable: std::mem::take(&mut c[1]),
            leg: std::mem::take(&mut c[2]),
        })
        .collect()
}

/// Every `<queue name=…>` under `<queues>` of the configuration `name`,
/// with the `(name, value)` of each `<param>` inside it.
pub fn queues(name: &CStr) -> Vec<QueueXml> {
    each_child(name, c"queues", c"queue", |queue| {
        let mut params = Vec::new();
        // SAFETY: queue and its children belong to each_child's root.
        unsafe {
            let mut param = sys::switch_xml_child(queue, c"param".as_ptr());
            while !param.is_null() {
                let mut p = attributes(param, &[c"name", c"value"]);
                params.push((std::mem::take(&mut p[0]), std::mem::take(&mut p[1])));
                param = (*param).next;
            }
        }
        QueueXml {
            name: attributes(queue, &[c"name"]).swap_remove(0),
            params,
        }
    })
    .unwrap_or_default()
}
