//! Generates the FreeSWITCH bindings with bindgen.
//!
//! The module binds the installed FreeSWITCH headers when it can find them
//! (`FREESWITCH_INCLUDE_DIR`, or pkg-config's `freeswitch`, also looked up
//! under `$FREESWITCH_PREFIX/lib/pkgconfig`), and the project's own
//! declarations in `freeswitch-headers/` otherwise. When real headers are
//! used, the own declarations are bound as well, so that a test can prove
//! that both agree (cfg `cc_cdr_real_headers`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const OWN_HEADER: &str = "freeswitch-headers/cc_cdr_abi.h";

/// Every item the module uses; nothing else is generated.
const TYPES: &[&str] = &[
    "switch_status_t",
    "switch_bool_t",
    "switch_log_level_t",
    "switch_text_channel_t",
    "switch_priority_t",
    "switch_stack_t",
    "switch_event_types_t",
    "switch_module_interface_name_t",
    "switch_size_t",
    "switch_event_t",
    "switch_event_header_t",
    "switch_event_callback_t",
    "switch_stream_handle_t",
    "switch_api_function_t",
    "switch_api_interface_t",
    "switch_loadable_module_function_table_t",
    "switch_module_load_t",
    "switch_module_shutdown_t",
    "switch_module_runtime_t",
    "switch_xml_t",
    "switch_directories",
];

const FUNCTIONS: &[&str] = &[
    "switch_log_printf",
    "switch_event_bind_removable",
    "switch_event_unbind",
    "switch_event_get_header_idx",
    "switch_loadable_module_create_module_interface",
    "switch_loadable_module_create_interface",
    "switch_console_set_complete",
    "switch_core_get_switchname",
    "switch_core_get_uuid",
    "switch_loadable_module_exists",
    "switch_api_execute",
    "switch_console_stream_write",
    "switch_console_stream_raw_write",
    "switch_event_create_subclass_detailed",
    "switch_event_add_header_string",
    "switch_event_fire_detailed",
    "switch_event_destroy",
    "switch_xml_open_cfg",
    "switch_xml_child",
    "switch_xml_attr_soft",
    "switch_xml_free",
];

const VARS: &[&str] = &["SWITCH_API_VERSION", "SWITCH_GLOBAL_dirs"];

/// Host objects the module only handles by pointer.
const OPAQUE: &[&str] = &[
    "switch_loadable_module_interface",
    "switch_core_session",
    "switch_event_node",
    "fspr_pool_t",
    "fspr_thread_rwlock_t",
    "fspr_thread_mutex_t",
];

fn main() {
    println!("cargo::rerun-if-changed={OWN_HEADER}");
    println!("cargo::rerun-if-env-changed=FREESWITCH_INCLUDE_DIR");
    println!("cargo::rerun-if-env-changed=FREESWITCH_PREFIX");
    println!("cargo::rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo::rustc-check-cfg=cfg(cc_cdr_real_headers)");

    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let own = Path::new(OWN_HEADER);

    match find_real_headers() {
        Some(include_dir) => {
            println!(
                "cargo::warning=binding the installed FreeSWITCH headers in {}",
                include_dir.display()
            );
            let wrapper = out.join("real_wrapper.h");
            std::fs::write(&wrapper, "#include <switch.h>\n").expect("write wrapper");
            generate(&wrapper, Some(&include_dir), &out.join("bindings.rs"));
            generate(own, None, &out.join("own_bindings.rs"));
            println!("cargo::rustc-cfg=cc_cdr_real_headers");
        }
        None => generate(own, None, &out.join("bindings.rs")),
    }
}

fn find_real_headers() -> Option<PathBuf> {
    if let Ok(dir) = env::var("FREESWITCH_INCLUDE_DIR") {
        let dir = PathBuf::from(dir);
        if dir.join("switch.h").is_file() {
            return Some(dir);
        }
        println!(
            "cargo::warning=FREESWITCH_INCLUDE_DIR={} has no switch.h; using freeswitch-headers/",
            dir.display()
        );
        return None;
    }
    let prefix = env::var("FREESWITCH_PREFIX").unwrap_or_else(|_| "/usr/local/freeswitch".into());
    let mut search = format!("{prefix}/lib/pkgconfig");
    if let Ok(existing) = env::var("PKG_CONFIG_PATH") {
        search = format!("{existing}:{search}");
    }
    let output = Command::new("pkg-config")
        .args(["--variable=includedir", "freeswitch"])
        .env("PKG_CONFIG_PATH", search)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    dir.join("switch.h").is_file().then_some(dir)
}

fn generate(header: &Path, include_dir: Option<&Path>, out_file: &Path) {
    let mut builder = bindgen::Builder::default()
        .header(header.to_string_lossy())
        .clang_arg("-DSWITCH_API_VISIBILITY=1")
        .default_enum_style(bindgen::EnumVariation::NewType {
            is_bitfield: false,
            is_global: false,
        })
        .prepend_enum_name(false)
        .layout_tests(false)
        .derive_default(false)
        .generate_comments(false)
        .size_t_is_usize(true)
        // The C types of the ABI, as the libc crate defines them for the target.
        .ctypes_prefix("libc");
    if let Some(dir) = include_dir {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    for item in TYPES {
        builder = builder.allowlist_type(item);
    }
    for item in FUNCTIONS {
        builder = builder.allowlist_function(item);
    }
    for item in VARS {
        builder = builder.allowlist_var(item);
    }
    for item in OPAQUE {
        builder = builder.opaque_type(item);
    }
    builder
        .generate()
        .unwrap_or_else(|e| panic!("bindgen failed on {}: {e}", header.display()))
        .write_to_file(out_file)
        .expect("write bindings");
}
