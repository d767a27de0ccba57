//! S3 stores: `blobio_s3_new` and the DuckDB path helpers of S3 stores.

use std::ffi::c_char;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::boundary::{arg_out, arg_ref, arg_str, boundary, FfiResult};
use super::config::{apply_downloads, apply_http, opt_str, TimeoutsMs};
use super::list::{blobio_list, into_c_list};
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::error::Error;
use crate::layout::{s3_key_uri, s3_query_path, s3_query_path_range};
use crate::s3::{S3Backend, S3Config};

/// Configuration of an S3 store for `blobio_s3_new()`. Zero-initialise it
/// (`blobio_s3_config cfg = {0};`) and set what you need: a NULL string or
/// a 0 number means the default. Strings are only read during the call.
#[repr(C)]
pub struct blobio_s3_config {
    /// Bucket name (required).
    pub bucket: *const c_char,
    /// Region; NULL: `AWS_REGION`, then `AWS_DEFAULT_REGION`, then
    /// `us-east-1`.
    pub region: *const c_char,
    /// Endpoint URL of an S3-compatible store (`http://127.0.0.1:9000`); a
    /// bare `host:port` gets `https://` or `http://` from `use_ssl`. NULL:
    /// `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then AWS.
    pub endpoint: *const c_char,
    /// Access key id; NULL: `AWS_ACCESS_KEY_ID`.
    pub access_key: *const c_char,
    /// Secret access key; NULL: `AWS_SECRET_ACCESS_KEY`.
    pub secret_key: *const c_char,
    /// Session token of temporary credentials; NULL: `AWS_SESSION_TOKEN`.
    pub session_token: *const c_char,
    /// Key prefix under which the store lives (normalised as
    /// `blobio_sanitize_s3_prefix()` does); NULL: none.
    pub prefix: *const c_char,
    /// Scheme for a bare `host:port` endpoint: true for https.
    pub use_ssl: bool,
    /// Path-style URLs (`endpoint/bucket/key`), which most S3-compatible
    /// stores and IP endpoints need.
    pub path_style: bool,
    /// Connect timeout in milliseconds; 0: 10 s.
    pub connect_timeout_ms: u32,
    /// Time allowed to send a request and receive the response headers, in
    /// milliseconds; 0: 60 s.
    pub request_timeout_ms: u32,
    /// PEM file of CA certificates to trust instead of the system CA store;
    /// NULL: `BLOBIO_CA_BUNDLE`, then the system store (`SSL_CERT_FILE`, else
    /// the distribution bundle, as listed in the README).
    pub ca_bundle_path: *const c_char,
    /// Part size of multipart uploads in bytes (at least 5 MiB); 0: 16 MiB.
    pub part_size: u64,
    /// Parts uploaded at once; 0: 5.
    pub upload_concurrency: u32,
    /// Size at or above which uploads go multipart, in bytes; 0: 100 MiB.
    pub multipart_threshold: u64,
    /// Longest silence while a body is sent or received (a stalled
    /// transfer), in milliseconds; 0: 30 s. (Added after the other fields so
    /// that their offsets never move.)
    pub stall_timeout_ms: u32,
    /// Objects at least this many bytes long are read as parallel ranged
    /// GETs (each with If-Match, so a replaced object is an error, never a
    /// mix); 0: 32 MiB; `UINT64_MAX`: always one stream.
    pub download_threshold: u64,
    /// Size of each range of a parallel read, in bytes; 0: 8 MiB.
    pub download_part_size: u64,
    /// Ranges in flight in a parallel read; 0: 4. Memory is bounded by
    /// (download_concurrency + 1) × download_part_size.
    pub download_concurrency: u32,
}

/// Opens a store in an S3 bucket (AWS or any S3-compatible store). Every
/// request is signed with AWS Signature V4. The bucket is checked once (at
/// most 10 s); a missing bucket is only logged, so a store can be opened
/// before its bucket exists. On success `*out` receives a store to release
/// with `blobio_store_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_s3_new(
    cfg: *const blobio_s3_config,
    out: *mut *mut blobio_store,
) -> blobio_status {
    boundary("blobio_s3_new", || {
        // SAFETY (every `arg_*`/`opt_str` call in this module): the C caller
        // upholds the module's safety contract for every pointer argument.
        let c = unsafe { arg_ref(cfg, "cfg") }?;
        let out = unsafe { arg_out(out, "out") }?;
        let bucket = unsafe { arg_str(c.bucket, "cfg->bucket") }?;
        let mut config = S3Config::new(bucket);
        config.region = unsafe { opt_str(c.region, "cfg->region") }?;
        config.endpoint = unsafe { opt_str(c.endpoint, "cfg->endpoint") }?;
        config.access_key = unsafe { opt_str(c.access_key, "cfg->access_key") }?;
        config.secret_key = unsafe { opt_str(c.secret_key, "cfg->secret_key") }?;
        config.session_token = unsafe { opt_str(c.session_token, "cfg->session_token") }?;
        config.prefix = unsafe { opt_str(c.prefix, "cfg->prefix") }?.unwrap_or_default();
        config.use_ssl = c.use_ssl;
        config.path_style = c.path_style;
        let timeouts = TimeoutsMs {
            connect: c.connect_timeout_ms,
            request: c.request_timeout_ms,
            stall: c.stall_timeout_ms,
        };
        unsafe { apply_http(&mut config.http, timeouts, c.ca_bundle_path) }?;
        if c.part_size != 0 {
            config.part_size = c.part_size;
        }
        if c.upload_concurrency != 0 {
            config.upload_concurrency = c.upload_concurrency as usize;
        }
        if c.multipart_threshold != 0 {
            config.multipart_threshold = c.multipart_threshold;
        }
        apply_downloads(
            (
                &mut config.download_threshold,
                &mut config.download_part_size,
                &mut config.download_concurrency,
            ),
            c.download_threshold,
            c.download_part_size,
            c.download_concurrency,
        );
        let store = blobio_store::new(Box::new(S3Backend::new(config)?))?;
        out.write(Box::into_raw(store));
        Ok(())
    })
}

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
        let store = unsafe { arg_ref(store, "store") }?;
        let path = unsafe { arg_str(path, "path") }?;
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
        let store = unsafe { arg_ref(store, "store") }?;
        let database = unsafe { arg_str(database, "database") }?;
        let measurement = unsafe { arg_str(measurement, "measurement") }?;
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
        let store = unsafe { arg_ref(store, "store") }?;
        let database = unsafe { arg_str(database, "database") }?;
        let measurement = unsafe { arg_str(measurement, "measurement") }?;
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
