//! `blobio_head`: an object's size, version, modification time, content
//! type and user metadata, in an opaque handle read through accessors (so
//! it can grow without changing any struct a program was built against).

use std::ffi::{c_char, CString};
use std::ptr;

use super::boundary::{arg_out, arg_ref, arg_str, boundary, guard, FfiResult};
use super::list::unix_ms;
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::backend::ObjectMeta;

/// What `blobio_head()` reports of an object. Plain data: read it from any
/// thread; release it once with `blobio_object_meta_free()`. Strings it
/// gives live as long as the handle.
pub struct blobio_object_meta {
    size: u64,
    version: Option<CString>,
    last_modified_unix_ms: Option<i64>,
    content_type: Option<CString>,
    metadata: Vec<(CString, CString)>,
}

fn c_meta(m: ObjectMeta) -> FfiResult<blobio_object_meta> {
    let opt = |s: Option<String>| s.map(into_c_string).transpose();
    let metadata = m
        .metadata
        .into_iter()
        .map(|(k, v)| Ok((into_c_string(k)?, into_c_string(v)?)))
        .collect::<FfiResult<Vec<_>>>()?;
    Ok(blobio_object_meta {
        size: m.size,
        version: opt(m.version)?,
        last_modified_unix_ms: m.last_modified.map(unix_ms),
        content_type: opt(m.content_type)?,
        metadata,
    })
}

/// Looks up the object at `path`. On success `*out` receives a handle to
/// release with `blobio_object_meta_free()`; a missing object is
/// `BLOBIO_STATUS_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn blobio_head(
    store: *const blobio_store,
    path: *const c_char,
    out: *mut *mut blobio_object_meta,
) -> blobio_status {
    boundary("blobio_head", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let meta = c_meta(store.backend().head(path)?)?;
        out.write(Box::into_raw(Box::new(meta)));
        Ok(())
    })
}

/// The handle behind `meta`, if not NULL.
fn meta_ref<'a>(meta: *const blobio_object_meta) -> Option<&'a blobio_object_meta> {
    // SAFETY: NULL or a live handle, as the contract says.
    unsafe { meta.as_ref() }
}

fn c_ptr(s: Option<&CString>) -> *const c_char {
    s.map_or(ptr::null(), |s| s.as_ptr())
}

/// The object's size in bytes (0 for NULL).
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_size(meta: *const blobio_object_meta) -> u64 {
    guard(0, || meta_ref(meta).map_or(0, |m| m.size))
}

/// The object's version (the ETag on S3 and Azure; a token of the file on
/// the local store), what `BLOBIO_PUT_UPDATE` takes; NULL when the store
/// names none (or for NULL).
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_version(
    meta: *const blobio_object_meta,
) -> *const c_char {
    guard(ptr::null(), || {
        c_ptr(meta_ref(meta).and_then(|m| m.version.as_ref()))
    })
}

/// Whether the store said when the object was last modified; if so, and
/// `out_unix_ms` is not NULL, `*out_unix_ms` receives it in milliseconds
/// since 1970-01-01 UTC.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_last_modified(
    meta: *const blobio_object_meta,
    out_unix_ms: *mut i64,
) -> bool {
    guard(false, || {
        let Some(ms) = meta_ref(meta).and_then(|m| m.last_modified_unix_ms) else {
            return false;
        };
        if !out_unix_ms.is_null() {
            // SAFETY: a non-NULL out-parameter is valid for writes.
            unsafe { out_unix_ms.write(ms) };
        }
        true
    })
}

/// The object's content type; NULL when the store keeps none.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_content_type(
    meta: *const blobio_object_meta,
) -> *const c_char {
    guard(ptr::null(), || {
        c_ptr(meta_ref(meta).and_then(|m| m.content_type.as_ref()))
    })
}

/// How many user metadata entries the object has (sorted by name).
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_metadata_len(meta: *const blobio_object_meta) -> usize {
    guard(0, || meta_ref(meta).map_or(0, |m| m.metadata.len()))
}

/// The name of metadata entry `i`; NULL when `i` is out of range.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_metadata_name(
    meta: *const blobio_object_meta,
    i: usize,
) -> *const c_char {
    guard(ptr::null(), || {
        c_ptr(meta_ref(meta).and_then(|m| m.metadata.get(i)).map(|(k, _)| k))
    })
}

/// The value of metadata entry `i`; NULL when `i` is out of range.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_metadata_value(
    meta: *const blobio_object_meta,
    i: usize,
) -> *const c_char {
    guard(ptr::null(), || {
        c_ptr(meta_ref(meta).and_then(|m| m.metadata.get(i)).map(|(_, v)| v))
    })
}

/// The value of the metadata named `name`; NULL when there is none.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_metadata_get(
    meta: *const blobio_object_meta,
    name: *const c_char,
) -> *const c_char {
    guard(ptr::null(), || {
        if name.is_null() {
            return ptr::null();
        }
        // SAFETY: a non-NULL `name` is a NUL-terminated string.
        let name = unsafe { std::ffi::CStr::from_ptr(name) };
        c_ptr(
            meta_ref(meta)
                .and_then(|m| m.metadata.iter().find(|(k, _)| k.as_c_str() == name))
                .map(|(_, v)| v),
        )
    })
}

/// Releases what `blobio_head()` returned. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_meta_free(meta: *mut blobio_object_meta) {
    guard((), || {
        if !meta.is_null() {
            // SAFETY: made by `blobio_head` and, as the contract says, not
            // used after this call.
            drop(unsafe { Box::from_raw(meta) });
        }
    })
}
