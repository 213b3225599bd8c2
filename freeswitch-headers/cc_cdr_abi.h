/*
 * mod_cc_cdr: the subset of the FreeSWITCH module ABI that this module uses.
 *
 * Written for this project from FreeSWITCH's public, documented API
 * (SWITCH_API_VERSION 5: FreeSWITCH 1.10.x and 1.11.x). Only what the module
 * touches is declared. Structs whose fields the module reads or writes are
 * declared in full, in the host's layout; everything else is an incomplete
 * type used only through pointers.
 *
 * When real FreeSWITCH headers are installed, build.rs binds those instead,
 * and the `abi_agrees_with_installed_headers` test checks that the two agree
 * on sizes, field offsets, enum values and the API version.
 */
#ifndef MOD_CC_CDR_ABI_H
#define MOD_CC_CDR_ABI_H

#include <stdint.h>
#include <stddef.h>

#define SWITCH_API_VERSION 5

typedef uintptr_t switch_size_t;

typedef enum { SWITCH_FALSE = 0, SWITCH_TRUE = 1 } switch_bool_t;

/* Return codes: only the values the module produces or tests are named. */
typedef enum {
	SWITCH_STATUS_SUCCESS = 0,
	SWITCH_STATUS_FALSE = 1,
	SWITCH_STATUS_GENERR = 9,
	SWITCH_STATUS_NOUNLOAD = 16,
	SWITCH_STATUS_TERM = 21
} switch_status_t;

typedef enum {
	SWITCH_LOG_DEBUG = 7,
	SWITCH_LOG_INFO = 6,
	SWITCH_LOG_NOTICE = 5,
	SWITCH_LOG_WARNING = 4,
	SWITCH_LOG_ERROR = 3,
	SWITCH_LOG_CRIT = 2,
	/* The host declares a negative level, which makes this enum signed. */
	SWITCH_LOG_DISABLE = -1
} switch_log_level_t;

typedef enum { SWITCH_CHANNEL_ID_LOG = 0 } switch_text_channel_t;

typedef enum { SWITCH_PRIORITY_NORMAL = 0 } switch_priority_t;

/* Where switch_event_add_header_string puts a header. */
typedef enum { SWITCH_STACK_BOTTOM = (1 << 0) } switch_stack_t;

/* Event ids are positions in the host's list; only those bound are named. */
typedef enum {
	SWITCH_EVENT_CUSTOM = 0,
	SWITCH_EVENT_CHANNEL_HANGUP_COMPLETE = 8,
	SWITCH_EVENT_RELOADXML = 56
} switch_event_types_t;

typedef enum { SWITCH_API_INTERFACE = 5 } switch_module_interface_name_t;

/* Opaque host objects, only ever handled by pointer. */
typedef struct fspr_pool_t switch_memory_pool_t;
typedef struct switch_core_session switch_core_session_t;
typedef struct switch_event_node switch_event_node_t;
typedef struct switch_loadable_module_interface switch_loadable_module_interface_t;
typedef struct fspr_thread_rwlock_t switch_thread_rwlock_t;
typedef struct fspr_thread_mutex_t switch_mutex_t;

/* One header of an event: a singly linked list hangs off switch_event. */
typedef struct switch_event_header {
	char *name;
	char *value;
	char **array;
	int idx;
	unsigned long hash;
	struct switch_event_header *next;
} switch_event_header_t;

typedef struct switch_event {
	switch_event_types_t event_id;
	switch_priority_t priority;
	char *owner;
	char *subclass_name;
	switch_event_header_t *headers;
	switch_event_header_t *last_header;
	char *body;
	void *bind_user_data;
	void *event_user_data;
	unsigned long key;
	struct switch_event *next;
	int flags;
} switch_event_t;

typedef void (*switch_event_callback_t)(switch_event_t *);

/* The output stream of an API command. write_function is printf-style. */
typedef struct switch_stream_handle switch_stream_handle_t;
typedef uint8_t *(*switch_stream_handle_read_function_t)(switch_stream_handle_t *handle, int *len);
typedef switch_status_t (*switch_stream_handle_write_function_t)(switch_stream_handle_t *handle, const char *fmt, ...);
typedef switch_status_t (*switch_stream_handle_raw_write_function_t)(switch_stream_handle_t *handle, uint8_t *data,
									 switch_size_t datalen);
struct switch_stream_handle {
	switch_stream_handle_read_function_t read_function;
	switch_stream_handle_write_function_t write_function;
	switch_stream_handle_raw_write_function_t raw_write_function;
	void *data;
	void *end;
	switch_size_t data_size;
	switch_size_t data_len;
	switch_size_t alloc_len;
	switch_size_t alloc_chunk;
	switch_event_t *param_event;
};

typedef switch_status_t (*switch_api_function_t)(const char *cmd, switch_core_session_t *session,
						 switch_stream_handle_t *stream);

/* An API command registration; the host keeps the string pointers. */
typedef struct switch_api_interface {
	const char *interface_name;
	const char *desc;
	switch_api_function_t function;
	const char *syntax;
	switch_thread_rwlock_t *rwlock;
	int refs;
	switch_mutex_t *reflock;
	switch_loadable_module_interface_t *parent;
	struct switch_api_interface *next;
} switch_api_interface_t;

/* The table a module exports as <name>_module_interface. */
typedef switch_status_t (*switch_module_load_t)(switch_loadable_module_interface_t **module_interface,
						switch_memory_pool_t *pool);
typedef switch_status_t (*switch_module_runtime_t)(void);
typedef switch_status_t (*switch_module_shutdown_t)(void);
typedef uint32_t switch_module_flag_t;
typedef struct switch_loadable_module_function_table {
	int switch_api_version;
	switch_module_load_t load;
	switch_module_shutdown_t shutdown;
	switch_module_runtime_t runtime;
	switch_module_flag_t flags;
} switch_loadable_module_function_table_t;

/* A parsed XML node (configuration files). */
typedef struct switch_xml *switch_xml_t;
struct switch_xml {
	char *name;
	char **attr;
	char *txt;
	char *free_path;
	switch_size_t off;
	switch_xml_t next;
	switch_xml_t sibling;
	switch_xml_t ordered;
	switch_xml_t child;
	switch_xml_t parent;
	uint32_t flags;
	switch_bool_t is_switch_xml_root_t;
	uint32_t refs;
	const char *open;
	const char *close;
};

/* The host's directory layout (db_dir is where cc_cdr.db goes by default). */
typedef struct switch_directories {
	char *base_dir;
	char *mod_dir;
	char *conf_dir;
	char *log_dir;
	char *run_dir;
	char *db_dir;
	char *script_dir;
	char *temp_dir;
	char *htdocs_dir;
	char *grammar_dir;
	char *storage_dir;
	char *cache_dir;
	char *recordings_dir;
	char *sounds_dir;
	char *lib_dir;
	char *certs_dir;
	char *fonts_dir;
	char *images_dir;
	char *data_dir;
	char *localstate_dir;
} switch_directories;

extern switch_directories SWITCH_GLOBAL_dirs;

/* Functions exported by libfreeswitch (none of them is a macro or inline). */
void switch_log_printf(switch_text_channel_t channel, const char *file, const char *func, int line,
		       const char *userdata, switch_log_level_t level, const char *fmt, ...);

switch_status_t switch_event_bind_removable(const char *id, switch_event_types_t event, const char *subclass_name,
					    switch_event_callback_t callback, void *user_data,
					    switch_event_node_t **node);
switch_status_t switch_event_unbind(switch_event_node_t **node);
char *switch_event_get_header_idx(switch_event_t *event, const char *header_name, int idx);

switch_loadable_module_interface_t *switch_loadable_module_create_module_interface(switch_memory_pool_t *pool,
										  const char *name);
void *switch_loadable_module_create_interface(switch_loadable_module_interface_t *mod,
					      switch_module_interface_name_t iname);
switch_status_t switch_console_set_complete(const char *string);
const char *switch_core_get_switchname(void);
char *switch_core_get_uuid(void);

/* Running another module's API command (callcenter_config agent list) into a
   stream of the core's own making (SWITCH_STANDARD_STREAM's functions). */
switch_status_t switch_loadable_module_exists(const char *mod);
switch_status_t switch_api_execute(const char *cmd, const char *arg, switch_core_session_t *session,
				   switch_stream_handle_t *stream);
switch_status_t switch_console_stream_write(switch_stream_handle_t *handle, const char *fmt, ...);
switch_status_t switch_console_stream_raw_write(switch_stream_handle_t *handle, uint8_t *data,
						switch_size_t datalen);

/* Only the bench-inject build fires events (cc_cdr_bench burst). */
switch_status_t switch_event_create_subclass_detailed(const char *file, const char *func, int line,
						      switch_event_t **event, switch_event_types_t event_id,
						      const char *subclass_name);
switch_status_t switch_event_add_header_string(switch_event_t *event, switch_stack_t stack, const char *header_name,
					       const char *data);
switch_status_t switch_event_fire_detailed(const char *file, const char *func, int line, switch_event_t **event,
					   void *user_data);
void switch_event_destroy(switch_event_t **event);

switch_xml_t switch_xml_open_cfg(const char *file_path, switch_xml_t *node, switch_event_t *params);
switch_xml_t switch_xml_child(switch_xml_t xml, const char *name);
const char *switch_xml_attr_soft(switch_xml_t xml, const char *attr);
void switch_xml_free(switch_xml_t xml);

#endif
