//! The DuckDB path helpers of S3 stores.

use std::ffi::c_char;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::boundary::{arg_out, arg_ref, arg_str, boundary, FfiResult};
use super::list::{blobio_list, into_c_list};
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::error::Error;
use crate::layout::{s3_key_uri, s3_query_path, s3_query_path_range};

/// The `s3://bucket/prefix/path` URI of a key of an S3 store.
/// `BLOBIO_STATUS_UNSUPPORTED` for other stores. On success `*out` receives
/// a string to release with `blobio_string_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_s3_path(
    store: *const blobio_store,
    path: *const c_char,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_s3_path", || {
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
        let uri = s3_key_uri(store.backend(), path)?;
        out.write(into_c_string(uri)?.into_raw());
        Ok(())
    })
}

/// A negative level means any.
fn level(value: i32) -> Option<u32> {
    u32::try_from(value).ok()
}

/// The DuckDB glob over one year, month, day or hour of a measurement in
/// the time-partitioned layout `database/measurement/YYYY/MM/DD/HH/`, with
/// the bucket and prefix: for example
/// `s3://bucket/prefix/mydb/cpu/2025/11/25/16/` followed by the Parquet
/// pattern. A negative `month`, `day` or `hour` means any; a finer level
/// counts only when every coarser one is given. Months are 1-12, days 1-31,
/// hours 0-23 (else `BLOBIO_STATUS_INVALID_ARGUMENT`).
/// `BLOBIO_STATUS_UNSUPPORTED` for stores other than S3. On success `*out`
/// receives a string to release with `blobio_string_free()`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn blobio_s3_query_path(
    store: *const blobio_store,
    database: *const c_char,
    measurement: *const c_char,
    year: i32,
    month: i32,
    day: i32,
    hour: i32,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_s3_query_path", || {
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
        let glob = s3_query_path(
            store.backend(),
            database,
            measurement,
            year,
            level(month),
            level(day),
            level(hour),
        )?;
        out.write(into_c_string(glob)?.into_raw());
        Ok(())
    })
}

fn unix_time(seconds: i64) -> FfiResult<SystemTime> {
    let span = Duration::from_secs(seconds.unsigned_abs());
    let t = if seconds >= 0 {
        UNIX_EPOCH.checked_add(span)
    } else {
        UNIX_EPOCH.checked_sub(span)
    };
    t.ok_or_else(|| Error::invalid_argument(format!("unix time {seconds} is out of range")).into())
}

/// One day-level DuckDB glob per UTC calendar day from `start_unix` to
/// `end_unix` (seconds since 1970-01-01T00:00:00Z) inclusive, as a list
/// (empty when `end_unix` is before `start_unix`).
/// `BLOBIO_STATUS_UNSUPPORTED` for stores other than S3. On success `*out`
/// receives a list to release with `blobio_list_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_s3_query_path_range(
    store: *const blobio_store,
    database: *const c_char,
    measurement: *const c_char,
    start_unix: i64,
    end_unix: i64,
    out: *mut *mut blobio_list,
) -> blobio_status {
    boundary("blobio_s3_query_path_range", || {
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
        let globs = s3_query_path_range(
            store.backend(),
            database,
            measurement,
            unix_time(start_unix)?,
            unix_time(end_unix)?,
        )?;
        out.write(into_c_list(globs)?);
        Ok(())
    })
}
