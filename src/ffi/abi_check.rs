//! Proof that `freeswitch-headers/` agrees with the installed FreeSWITCH
//! headers: sizes, field offsets, enum values and the API version. It runs
//! wherever build.rs found real headers (cfg `cc_cdr_real_headers`) and says
//! it skipped otherwise.

#[cfg(cc_cdr_real_headers)]
mod own {
    #![allow(
        non_camel_case_types,
        non_upper_case_globals,
        non_snake_case,
        dead_code,
        // The same functions, declared with this module's own types.
        clashing_extern_declarations,
        clippy::all
    )]
    include!(concat!(env!("OUT_DIR"), "/own_bindings.rs"));
}

#[cfg(cc_cdr_real_headers)]
#[test]
fn abi_agrees_with_installed_headers() {
    use super::sys as real;
    use std::mem::{offset_of, size_of};

    macro_rules! same_layout {
        ($ty:ident { $($field:ident),* $(,)? }) => {{
            assert_eq!(size_of::<real::$ty>(), size_of::<own::$ty>(), "size of {}", stringify!($ty));
            $(assert_eq!(
                offset_of!(real::$ty, $field),
                offset_of!(own::$ty, $field),
                "offset of {}.{}", stringify!($ty), stringify!($field)
            );)*
        }};
    }
    macro_rules! same_values {
        ($ty:ident: $($value:ident),* $(,)?) => {{
            $(assert_eq!(real::$ty::$value.0, own::$ty::$value.0, "{}", stringify!($value));)*
        }};
    }

    assert_eq!(real::SWITCH_API_VERSION, own::SWITCH_API_VERSION);
    same_layout!(switch_event_header {
        name,
        value,
        array,
        idx,
        hash,
        next
    });
    same_layout!(switch_event {
        event_id,
        priority,
        owner,
        subclass_name,
        headers,
        last_header,
        body,
        bind_user_data,
        event_user_data,
        key,
        next,
        flags,
    });
    same_layout!(switch_stream_handle {
        read_function,
        write_function,
        raw_write_function,
        data,
        end,
        data_size,
        data_len,
        alloc_len,
        alloc_chunk,
        param_event,
    });
    same_layout!(switch_api_interface {
        interface_name,
        desc,
        function,
        syntax,
        rwlock,
        refs,
        reflock,
        parent,
        next,
    });
    same_layout!(switch_loadable_module_function_table {
        switch_api_version,
        load,
        shutdown,
        runtime,
        flags,
    });
    same_layout!(switch_xml {
        name,
        attr,
        txt,
        free_path,
        off,
        next,
        sibling,
        ordered,
        child,
        parent,
        flags,
        is_switch_xml_root_t,
        refs,
        open,
        close,
    });
    same_layout!(switch_directories {
        base_dir,
        mod_dir,
        conf_dir,
        log_dir,
        run_dir,
        db_dir,
        script_dir,
        temp_dir,
        htdocs_dir,
        grammar_dir,
        storage_dir,
        cache_dir,
        recordings_dir,
        sounds_dir,
        lib_dir,
        certs_dir,
        fonts_dir,
        images_dir,
        data_dir,
        localstate_dir,
    });
    same_values!(switch_status_t: SWITCH_STATUS_SUCCESS, SWITCH_STATUS_FALSE,
        SWITCH_STATUS_GENERR, SWITCH_STATUS_NOUNLOAD, SWITCH_STATUS_TERM);
    same_values!(switch_bool_t: SWITCH_FALSE, SWITCH_TRUE);
    same_values!(switch_log_level_t: SWITCH_LOG_DEBUG, SWITCH_LOG_INFO, SWITCH_LOG_NOTICE,
        SWITCH_LOG_WARNING, SWITCH_LOG_ERROR, SWITCH_LOG_CRIT);
    same_values!(switch_text_channel_t: SWITCH_CHANNEL_ID_LOG);
    same_values!(switch_priority_t: SWITCH_PRIORITY_NORMAL);
    same_values!(switch_stack_t: SWITCH_STACK_BOTTOM);
    same_values!(switch_event_types_t: SWITCH_EVENT_CUSTOM,
        SWITCH_EVENT_CHANNEL_HANGUP_COMPLETE, SWITCH_EVENT_RELOADXML);
    same_values!(switch_module_interface_name_t: SWITCH_API_INTERFACE);
}

#[cfg(not(cc_cdr_real_headers))]
#[test]
fn abi_agrees_with_installed_headers() {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: no FreeSWITCH headers (set FREESWITCH_INCLUDE_DIR or install freeswitch.pc) \
         to compare freeswitch-headers/ with"
    );
}
