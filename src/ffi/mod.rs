//! The C ABI: opaque handles, status codes, callbacks and the panic boundary.
//!
//! This layer only converts types and calls the Rust API; it knows nothing
//! about S3 or Azure. `include/blobio.h` is generated from these files by
//! cbindgen (see `cbindgen.toml`; `BLOBIO_BLESS=1 cargo test --test header`
//! rewrites it), so the doc comments here are the C documentation too.
//!
//! # Safety contract
//!
//! The exported functions are `unsafe extern "C"`: they trust the caller
//! for what C cannot express. Every pointer argument is either NULL (refused
//! with `BLOBIO_STATUS_NULL_ARGUMENT`, except where a function documents
//! NULL as meaningful) or valid for the access the function makes: strings
//! are NUL-terminated, `data`/`len` pairs describe readable (or, for
//! outputs, writable) memory, handles come from the matching constructor and
//! have not been freed. Callbacks must return normally: a C++ exception or a
//! `longjmp` must not cross blobio's frames.
//!
//! Every export runs inside the `boundary` module's wrapper, which catches panics
//! (`BLOBIO_STATUS_PANIC`) and records the failure in the calling thread's
//! last-error slot.
#![allow(non_camel_case_types)]
// The exports document their contract in C terms (above and in the header)
// rather than in a per-function `# Safety` heading, which would end up
// verbatim in every doxygen comment.
#![allow(clippy::missing_safety_doc)]
#![deny(unsafe_op_in_unsafe_fn)]
// Every unsafe block says, in a `// SAFETY:` comment, why it holds.
#![deny(clippy::undocumented_unsafe_blocks)]

// cbindgen emits functions in the order it parses them, so these modules are
// declared in the order the header should read; each in its own group so
// rustfmt keeps that order.
mod status;

mod version;

mod last_error;

mod logging;

mod callbacks;

mod cancel;

mod store;

mod open;

mod objects;

mod ranges;

mod presign;
mod put;

mod head;

mod buffer;

mod list;

mod strings;

mod s3;

mod resilient;

mod boundary;
pub(crate) mod cpu;


pub use buffer::{blobio_buffer, blobio_buffer_free};
pub use cancel::{
    blobio_cancel_token, blobio_cancel_token_cancel, blobio_cancel_token_free,
    blobio_cancel_token_is_cancelled, blobio_cancel_token_new, blobio_progress_cb,
    blobio_set_thread_cancel_token, blobio_set_thread_progress_callback,
    BLOBIO_PROGRESS_UNKNOWN_TOTAL,
};
pub use callbacks::{blobio_read_cb, blobio_rewind_cb, blobio_write_cb};
pub use last_error::{
    blobio_last_error_code, blobio_last_error_http_status, blobio_last_error_message,
};
pub use logging::{
    blobio_log_cb, blobio_set_log_callback, BLOBIO_LOG_DEBUG, BLOBIO_LOG_ERROR, BLOBIO_LOG_INFO,
    BLOBIO_LOG_TRACE, BLOBIO_LOG_WARN,
};
pub use list::{
    blobio_list, blobio_list_directories, blobio_list_free, blobio_list_get, blobio_list_len,
    blobio_list_objects, blobio_object_info, blobio_object_list, blobio_object_list_free,
    blobio_object_list_get, blobio_object_list_len,
};
pub use open::{
    blobio_open, blobio_open_config, blobio_options, blobio_options_free, blobio_options_new,
    blobio_options_set, blobio_store_option,
};
pub use objects::{
    blobio_append_from, blobio_delete, blobio_delete_batch, blobio_exists, blobio_read,
    blobio_read_range, blobio_read_to, blobio_read_to_at, blobio_remove_directory, blobio_stat,
    blobio_write, blobio_write_from, blobio_write_from_rewindable,
};
pub use presign::blobio_presign;
pub use ranges::{blobio_range, blobio_read_ranges};
pub use head::{
    blobio_head, blobio_object_meta, blobio_object_meta_content_type, blobio_object_meta_free,
    blobio_object_meta_last_modified, blobio_object_meta_metadata_get,
    blobio_object_meta_metadata_len, blobio_object_meta_metadata_name,
    blobio_object_meta_metadata_value, blobio_object_meta_size, blobio_object_meta_version,
};
pub use put::{
    blobio_put_options, blobio_put_options_free, blobio_put_options_new,
    blobio_put_options_set_content_type, blobio_put_options_set_metadata,
    blobio_put_options_set_mode, blobio_copy, blobio_rename, blobio_write_ex, blobio_write_from_ex, BLOBIO_PUT_CREATE,
    BLOBIO_PUT_OVERWRITE, BLOBIO_PUT_UPDATE,
};
pub use resilient::{
    blobio_circuit_reset, blobio_circuit_state, blobio_circuit_stats_json, BLOBIO_CIRCUIT_CLOSED,
    BLOBIO_CIRCUIT_HALF_OPEN, BLOBIO_CIRCUIT_OPEN,
};
pub use s3::{blobio_s3_path, blobio_s3_query_path, blobio_s3_query_path_range};
pub use status::{blobio_status, blobio_status_str};
pub use store::{
    blobio_local_new, blobio_store, blobio_store_config_json, blobio_store_free, blobio_store_kind,
    blobio_store_stats_json, blobio_store_stats_reset,
};
pub use strings::{
    blobio_local_base_path, blobio_sanitize_s3_prefix, blobio_storage_path, blobio_string_free,
};
pub use version::{
    blobio_version, BLOBIO_VERSION_MAJOR, BLOBIO_VERSION_MINOR, BLOBIO_VERSION_PATCH,
};
