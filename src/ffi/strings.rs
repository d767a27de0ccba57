//! Strings blobio allocates for the caller, and the path helpers that
//! return them.

use std::ffi::{c_char, CString};

use super::boundary::{arg_out, arg_ref, arg_str, boundary, guard, FfiResult};
use super::status::blobio_status;
use super::store::blobio_store;
use crate::error::Error;
use crate::layout::{get_local_base_path, get_storage_path};
use crate::paths::sanitize_s3_prefix;

/// `s` as a C string; a NUL byte inside cannot cross to C.
pub(crate) fn into_c_string(s: String) -> FfiResult<CString> {
    CString::new(s).map_err(|e| {
        Error::invalid_argument(format!(
            "the result contains a NUL byte at offset {} and cannot be returned as a C string",
            e.nul_position()
        ))
        .into()
    })
}

/// Releases a string returned through a `char **out` parameter. NULL is a
/// no-op. Only for strings blobio allocated: never pass it memory from
/// `malloc`, and never pass blobio's strings to `free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_string_free(s: *mut c_char) {
    guard((), || {
        if !s.is_null() {
            // SAFETY: a non-NULL `s` came from CString::into_raw and, as
            // promised, is freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}

/// The DuckDB `read_parquet` glob covering every Parquet file of one
/// database and measurement: `<root><database>/<measurement>/` followed by a
/// recursive pattern for `.parquet` files at any depth, where the root is
/// the local base directory, `s3://bucket/prefix/` or `azure://container/`.
// (The pattern itself is not spelled out above: it would end the C comment.) `database` and `measurement` must each be one path
/// segment without `/` or glob characters (else
/// `BLOBIO_STATUS_INVALID_ARGUMENT`). On success `*out` receives a string to
/// release with `blobio_string_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_storage_path(
    store: *const blobio_store,
    database: *const c_char,
    measurement: *const c_char,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_storage_path", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `database` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let database = unsafe { arg_str(database, "database") }?;
        // SAFETY: `measurement` is NULL, which `arg_str` refuses, or a NUL-terminated string
        // the caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let measurement = unsafe { arg_str(measurement, "measurement") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let path = get_storage_path(store.backend(), database, measurement)?;
        out.write(into_c_string(path)?.into_raw());
        Ok(())
    })
}

/// The store's local base directory, for a feature that needs a real
/// directory. For an S3 or Azure store it logs a warning that `feature` is
/// not supported there and gives `""`; for any other kind that is not a
/// local directory it gives `fallback`. On success `*out` receives a string
/// to release with `blobio_string_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_local_base_path(
    store: *const blobio_store,
    feature: *const c_char,
    fallback: *const c_char,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_local_base_path", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `feature` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let feature = unsafe { arg_str(feature, "feature") }?;
        // SAFETY: `fallback` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let fallback = unsafe { arg_str(fallback, "fallback") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let base = get_local_base_path(store.backend(), feature, fallback);
        out.write(into_c_string(base)?.into_raw());
        Ok(())
    })
}

/// Normalises an S3 key prefix: trims spaces and leading `/`, and ends it
/// with exactly one `/`. An unsafe prefix (containing `..` or a character
/// outside `[A-Za-z0-9/_.-]`) becomes `""` with a warning logged; so does an
/// empty one. On success `*out` receives a string to release with
/// `blobio_string_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_sanitize_s3_prefix(
    prefix: *const c_char,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_sanitize_s3_prefix", || {
        // SAFETY: `prefix` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let prefix = unsafe { arg_str(prefix, "prefix") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        out.write(into_c_string(sanitize_s3_prefix(prefix))?.into_raw());
        Ok(())
    })
}
