//! `blobio_options` and `blobio_open`: a store configured by a URL and
//! string options, the interface that grows by keys, never by struct
//! members.

use std::ffi::c_char;
use std::sync::Mutex;

use super::boundary::{arg_out, arg_ref, arg_str, boundary, guard, FfiResult};
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::open::{open_config_store, open_store, store_option, Opened, Options};

/// Options for `blobio_open()`: string keys with string values, each
/// checked when it is set. Made by `blobio_options_new()`, released with
/// `blobio_options_free()`; one handle may configure any number of stores.
///
/// Thread safety: setting and reading may happen from several threads
/// (they are serialised); `blobio_options_free()` must be the last use.
pub struct blobio_options {
    inner: Mutex<Options>,
}

/// Makes an empty set of options. On success `*out` receives a handle to
/// release with `blobio_options_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_options_new(out: *mut *mut blobio_options) -> blobio_status {
    boundary("blobio_options_new", || {
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        out.write(Box::into_raw(Box::new(blobio_options {
            inner: Mutex::new(Options::new()),
        })));
        Ok(())
    })
}

/// Sets `key` to `value`. Keys are case-insensitive and include the
/// aliases object_store and DuckDB secrets use (`aws_region`, `key_id`,
/// `azure_storage_account_name`, ...); setting a key twice keeps the last
/// value. Values are strings: `true`/`false`, whole numbers, sizes in bytes
/// or with `KiB`/`MiB`/`GiB`, durations in milliseconds.
///
/// An unknown key, or a value that does not read as the key's kind, lies
/// outside its range or holds a control character, is
/// `BLOBIO_STATUS_INVALID_ARGUMENT` and changes nothing; the last-error
/// message names the key and the value (a secret's value never). The keys
/// are listed in the README ("Options").
#[no_mangle]
pub unsafe extern "C" fn blobio_options_set(
    opts: *mut blobio_options,
    key: *const c_char,
    value: *const c_char,
) -> blobio_status {
    boundary("blobio_options_set", || {
        // SAFETY: `opts` is NULL, which `arg_ref` refuses, or a live options handle from its
        // `_new`, not yet freed (the header's handle contract).
        let opts = unsafe { arg_ref(opts.cast_const(), "opts") }?;
        // SAFETY: `key` is NULL, which `arg_str` refuses, or a NUL-terminated string the caller
        // keeps valid until this export returns (the header's string contract); the `&str` does
        // not outlive the call.
        let key = unsafe { arg_str(key, "key") }?;
        // SAFETY: `value` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let value = unsafe { arg_str(value, "value") }?;
        let mut inner = opts.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.set(key, value)?;
        Ok(())
    })
}

/// Releases options. NULL is a no-op. A store opened with them does not
/// need them any more.
#[no_mangle]
pub unsafe extern "C" fn blobio_options_free(opts: *mut blobio_options) {
    guard((), || {
        if !opts.is_null() {
            // SAFETY: made by `blobio_options_new` and, as the contract
            // says, not used after this call.
            drop(unsafe { Box::from_raw(opts) });
        }
    })
}

fn options_of(opts: *const blobio_options) -> FfiResult<Options> {
    // SAFETY: as for every `arg_*` call of this module; NULL means none.
    match unsafe { opts.as_ref() } {
        Some(o) => Ok(o.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()),
        None => Ok(Options::new()),
    }
}

fn handle(opened: Opened) -> FfiResult<Box<blobio_store>> {
    match opened {
        Opened::Plain(b) => blobio_store::new(b),
        Opened::Resilient(r) => blobio_store::resilient(r),
    }
}

/// Opens the store `url` names, configured by `opts` (NULL: none).
///
/// URLs: a plain path or `file:///abs/path` (a local directory, created
/// when missing); `s3://bucket/prefix`, `s3a://bucket/prefix`,
/// `https://bucket.s3.REGION.amazonaws.com/prefix`,
/// `https://s3.REGION.amazonaws.com/bucket/prefix`; `az://container/prefix`,
/// `azure://container/prefix`,
/// `abfss://container@ACCOUNT.dfs.core.windows.net/prefix`,
/// `https://ACCOUNT.blob.core.windows.net/container/prefix`. Any other URL,
/// and an option that does not apply to the URL's kind of store, is
/// `BLOBIO_STATUS_INVALID_ARGUMENT` naming what is wrong. The option
/// `resilient=true` wraps the store in retries behind a circuit breaker
/// (the `blobio_circuit_*` functions then work on it).
///
/// On success `*out` receives a store to release with `blobio_store_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_open(
    url: *const c_char,
    opts: *const blobio_options,
    out: *mut *mut blobio_store,
) -> blobio_status {
    boundary("blobio_open", || {
        // SAFETY: `url` is NULL, which `arg_str` refuses, or a NUL-terminated string the caller
        // keeps valid until this export returns (the header's string contract); the `&str` does
        // not outlive the call.
        let url = unsafe { arg_str(url, "url") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let store = handle(open_store(url, &options_of(opts)?)?)?;
        out.write(Box::into_raw(store));
        Ok(())
    })
}

/// Opens a store again from what `blobio_store_kind()` and
/// `blobio_store_config_json()` printed of it (in another process, say),
/// for every kind; a resilient store's JSON says so, with its settings.
/// Credentials never come from the JSON: they come from `opts` (NULL:
/// none), the environment or the credential chain; `opts` may change any
/// other setting too.
///
/// On success `*out` receives a store to release with `blobio_store_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_open_config(
    kind: *const c_char,
    config_json: *const c_char,
    opts: *const blobio_options,
    out: *mut *mut blobio_store,
) -> blobio_status {
    boundary("blobio_open_config", || {
        // SAFETY: `kind` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let kind = unsafe { arg_str(kind, "kind") }?;
        // SAFETY: `config_json` is NULL, which `arg_str` refuses, or a NUL-terminated string
        // the caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let json = unsafe { arg_str(config_json, "config_json") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let store = handle(open_config_store(kind, json, &options_of(opts)?)?)?;
        out.write(Box::into_raw(store));
        Ok(())
    })
}

/// Reads back a non-secret setting of `store` by option name (or alias):
/// `bucket`, `prefix`, `region`, `endpoint`, `container`, `account_name`,
/// `base_path`, `part_size`, ... (what the Go package's `GetBucket`,
/// `GetPrefix`, `GetRegion`, `GetContainer`, `GetAccountName` and
/// `GetBasePath` return). A secret is `BLOBIO_STATUS_PERMISSION_DENIED`,
/// never the secret; a setting the store does not have is
/// `BLOBIO_STATUS_INVALID_ARGUMENT`. On success `*out` receives a string to
/// release with `blobio_string_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_store_option(
    store: *const blobio_store,
    key: *const c_char,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_store_option", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `key` is NULL, which `arg_str` refuses, or a NUL-terminated string the caller
        // keeps valid until this export returns (the header's string contract); the `&str` does
        // not outlive the call.
        let key = unsafe { arg_str(key, "key") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let value = store_option(store.backend(), key)?;
        out.write(into_c_string(value)?.into_raw());
        Ok(())
    })
}
