//! Listings: keys, child directories, and objects with metadata.

use std::ffi::{c_char, CString};
use std::ptr;
use std::time::{SystemTime, UNIX_EPOCH};

use super::boundary::{arg_out, arg_ref, arg_str, boundary, guard, Failure};
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::backend::ObjectInfo;
use crate::error::Error;

/// A list of strings (keys or directory names) returned by `blobio_list()`
/// and `blobio_list_directories()`. Read it with `blobio_list_len()` and
/// `blobio_list_get()`; release it with `blobio_list_free()`. A list is
/// immutable: any number of threads may read one at once.
///
/// In C the type is spelled `struct blobio_list`: the bare name is the
/// function `blobio_list()`.
pub struct blobio_list {
    items: Vec<CString>,
}

/// Objects with metadata returned by `blobio_list_objects()`. Read it with
/// `blobio_object_list_len()` and `blobio_object_list_get()`; release it with
/// `blobio_object_list_free()`. Immutable, like `blobio_list`.
pub struct blobio_object_list {
    items: Vec<ObjectEntry>,
}

struct ObjectEntry {
    path: CString,
    size: u64,
    last_modified_unix_ms: i64,
}

/// One object of a `blobio_object_list`, filled in by
/// `blobio_object_list_get()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct blobio_object_info {
    /// The key relative to the store's root, `/`-separated. Borrowed from
    /// the list: valid until the list is freed.
    pub path: *const c_char,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time as reported by the store, in milliseconds
    /// since 1970-01-01T00:00:00Z (negative before it).
    pub last_modified_unix_ms: i64,
}

fn c_strings(items: Vec<String>) -> Result<Vec<CString>, Failure> {
    items.into_iter().map(into_c_string).collect()
}

/// A list for C holding `items`, to be released with `blobio_list_free()`.
pub(crate) fn into_c_list(items: Vec<String>) -> Result<*mut blobio_list, Failure> {
    Ok(Box::into_raw(Box::new(blobio_list {
        items: c_strings(items)?,
    })))
}

pub(crate) fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

fn object_entry(info: ObjectInfo) -> Result<ObjectEntry, Failure> {
    Ok(ObjectEntry {
        path: into_c_string(info.path)?,
        size: info.size,
        last_modified_unix_ms: unix_ms(info.last_modified),
    })
}

/// Every key that starts with `prefix`, recursively, sorted: a plain string
/// prefix as on S3 (`"db/cp"` matches `"db/cpu/a.parquet"`); `""` lists the
/// whole store. Keys are relative to the store's root. A prefix that matches
/// nothing gives an empty list. On success `*out` receives a list to release
/// with `blobio_list_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_list(
    store: *const blobio_store,
    prefix: *const c_char,
    out: *mut *mut blobio_list,
) -> blobio_status {
    boundary("blobio_list", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `prefix` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let prefix = unsafe { arg_str(prefix, "prefix") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let items = c_strings(store.backend().list(prefix)?)?;
        out.write(Box::into_raw(Box::new(blobio_list { items })));
        Ok(())
    })
}

/// Names (without slashes) of the immediate child directories of the
/// directory `prefix` (`""` for the root), sorted, hidden names (starting
/// with `.`) skipped. A missing directory gives an empty list. On success
/// `*out` receives a list to release with `blobio_list_free()`.
/// `BLOBIO_STATUS_UNSUPPORTED` for a store that cannot list directories.
#[no_mangle]
pub unsafe extern "C" fn blobio_list_directories(
    store: *const blobio_store,
    prefix: *const c_char,
    out: *mut *mut blobio_list,
) -> blobio_status {
    boundary("blobio_list_directories", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `prefix` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let prefix = unsafe { arg_str(prefix, "prefix") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let backend = store.backend();
        let lister = backend.as_directory_lister().ok_or(Error::Unsupported {
            operation: "list_directories",
            backend: backend.kind(),
        })?;
        let items = c_strings(lister.list_directories(prefix)?)?;
        out.write(Box::into_raw(Box::new(blobio_list { items })));
        Ok(())
    })
}

/// The number of strings in `list`; 0 when `list` is NULL.
#[no_mangle]
pub unsafe extern "C" fn blobio_list_len(list: *const blobio_list) -> usize {
    // SAFETY: `list` is NULL (answered as an empty list) or a live list from the call that made
    // it, not yet freed.
    guard(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// The string at index `i` of `list`, or NULL when `list` is NULL or `i` is
/// out of range. Borrowed from the list: valid until the list is freed; must
/// not be freed itself.
#[no_mangle]
pub unsafe extern "C" fn blobio_list_get(list: *const blobio_list, i: usize) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: `list` is NULL (answered as an empty list) or a live list from the call that
        // made it, not yet freed.
        unsafe { list.as_ref() }
            .and_then(|l| l.items.get(i))
            .map_or(ptr::null(), |s| s.as_ptr())
    })
}

/// Releases a list and every string in it. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn blobio_list_free(list: *mut blobio_list) {
    guard((), || {
        if !list.is_null() {
            // SAFETY: a non-NULL list came from Box::into_raw above and, as
            // promised, is freed once.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// Like `blobio_list()`, with each object's size and modification time,
/// sorted by path. On success `*out` receives a list to release with
/// `blobio_object_list_free()`. `BLOBIO_STATUS_UNSUPPORTED` for a store
/// that cannot list metadata.
#[no_mangle]
pub unsafe extern "C" fn blobio_list_objects(
    store: *const blobio_store,
    prefix: *const c_char,
    out: *mut *mut blobio_object_list,
) -> blobio_status {
    boundary("blobio_list_objects", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `prefix` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let prefix = unsafe { arg_str(prefix, "prefix") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let backend = store.backend();
        let lister = backend.as_object_lister().ok_or(Error::Unsupported {
            operation: "list_objects",
            backend: backend.kind(),
        })?;
        let items = lister
            .list_objects(prefix)?
            .into_iter()
            .map(object_entry)
            .collect::<Result<Vec<_>, _>>()?;
        out.write(Box::into_raw(Box::new(blobio_object_list { items })));
        Ok(())
    })
}

/// The number of objects in `list`; 0 when `list` is NULL.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_list_len(list: *const blobio_object_list) -> usize {
    // SAFETY: `list` is NULL (answered as an empty list) or a live list from the call that made
    // it, not yet freed.
    guard(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// Fills `*out` with the object at index `i` of `list`.
/// `BLOBIO_STATUS_INVALID_ARGUMENT` when `i` is out of range. The path in
/// `*out` is borrowed from the list: valid until the list is freed.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_list_get(
    list: *const blobio_object_list,
    i: usize,
    out: *mut blobio_object_info,
) -> blobio_status {
    boundary("blobio_object_list_get", || {
        // SAFETY: `list` is NULL, which `arg_ref` refuses, or a live list from the listing call
        // that made it, not yet freed (lists are plain data, readable from any thread).
        let list = unsafe { arg_ref(list, "list") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let entry = list.items.get(i).ok_or_else(|| {
            Error::invalid_argument(format!(
                "index {i} is out of range for a list of {}",
                list.items.len()
            ))
        })?;
        out.write(blobio_object_info {
            path: entry.path.as_ptr(),
            size: entry.size,
            last_modified_unix_ms: entry.last_modified_unix_ms,
        });
        Ok(())
    })
}

/// Releases an object list and every path in it. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn blobio_object_list_free(list: *mut blobio_object_list) {
    guard((), || {
        if !list.is_null() {
            // SAFETY: a non-NULL list came from Box::into_raw above and, as
            // promised, is freed once.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}
