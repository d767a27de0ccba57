//! `blobio_store`: the opaque handle around any [`Backend`].

use std::ffi::{c_char, CString};
use std::ptr;

use super::boundary::{arg_out, arg_ref, arg_str, boundary, guard, FfiResult};
use super::status::blobio_status;
use super::strings::into_c_string;
use crate::backend::Backend;
use crate::local::LocalBackend;
use crate::resilient::{CircuitBreaker, ResilientBackend};

/// A store: a local directory, an S3 bucket (and prefix) or an Azure
/// container, opened by a `blobio_*_new` function and released with
/// `blobio_store_free()`.
///
/// Thread safety: a store may be shared by any number of threads at once,
/// without locking on the caller's side; every function taking a
/// `blobio_store *` may run concurrently with any other on the same store,
/// except `blobio_store_free()`, which must be the last use. Callbacks run
/// on the thread that made the call.
pub struct blobio_store {
    backend: Held,
    /// `backend.kind()` as a C string, for `blobio_store_kind`.
    kind: CString,
}

/// The backend of a handle. A resilient wrapper is kept as itself, so the
/// C layer reaches its breaker and its replayable uploads without
/// downcasting.
enum Held {
    Plain(Box<dyn Backend>),
    Resilient(Box<ResilientBackend>),
}

impl blobio_store {
    /// Wraps a backend in a handle for C; every `blobio_*_new` ends here.
    pub(crate) fn new(backend: Box<dyn Backend>) -> FfiResult<Box<blobio_store>> {
        Self::holding(Held::Plain(backend))
    }

    /// [`blobio_store::new`] for a resilient wrapper.
    pub(crate) fn resilient(backend: Box<ResilientBackend>) -> FfiResult<Box<blobio_store>> {
        Self::holding(Held::Resilient(backend))
    }

    fn holding(backend: Held) -> FfiResult<Box<blobio_store>> {
        let mut store = Box::new(blobio_store {
            backend,
            kind: CString::default(),
        });
        store.kind = into_c_string(store.backend().kind().to_owned())?;
        Ok(store)
    }

    /// The backend behind the handle.
    pub(crate) fn backend(&self) -> &dyn Backend {
        match &self.backend {
            Held::Plain(b) => &**b,
            Held::Resilient(r) => &**r,
        }
    }

    /// The resilient wrapper, when the handle holds one.
    pub(crate) fn as_resilient(&self) -> Option<&ResilientBackend> {
        match &self.backend {
            Held::Plain(_) => None,
            Held::Resilient(r) => Some(r),
        }
    }

    /// The circuit breaker, for a resilient store.
    pub(crate) fn circuit(&self) -> Option<&CircuitBreaker> {
        self.as_resilient().map(|r| &**r.circuit())
    }
}

/// Opens a store in the local directory `base_path`, creating the directory
/// (mode 0700) when it is missing. Keys are files under it, resolved beneath
/// a handle on it without following any symlink, so no key can reach
/// outside it. A `.part` suffix in any component and `.blobio-*.tmp` names
/// are reserved for its staging files (`BLOBIO_STATUS_INVALID_PATH`). A
/// write is fsynced (file and directory) before it returns OK; open with
/// `blobio_open(path, opts)` and `durable=false` for a scratch store that
/// skips it. On success `*out` receives a store to release with
/// `blobio_store_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_local_new(
    base_path: *const c_char,
    out: *mut *mut blobio_store,
) -> blobio_status {
    boundary("blobio_local_new", || {
        // SAFETY: `base_path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let base_path = unsafe { arg_str(base_path, "base_path") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let store = blobio_store::new(Box::new(LocalBackend::new(base_path)?))?;
        out.write(Box::into_raw(store));
        Ok(())
    })
}

/// Closes and releases a store. NULL is a no-op. The store must not be in
/// use by another thread, and must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn blobio_store_free(store: *mut blobio_store) {
    guard((), || {
        if store.is_null() {
            return;
        }
        // SAFETY: a non-NULL store came from Box::into_raw in a constructor
        // and, as promised, is freed once.
        let store = unsafe { Box::from_raw(store) };
        // Nothing can report a close failure from here, and the handle goes
        // away either way.
        if let Err(err) = store.backend().close() {
            log::warn!(
                "blobio_store_free: closing the {} store failed: {err}",
                store.backend().kind()
            );
        }
    })
}

/// The store's kind: `"local"`, `"s3"` or `"azure"`; NULL when `store` is
/// NULL. The string lives as long as the store; must not be freed.
#[no_mangle]
pub unsafe extern "C" fn blobio_store_kind(store: *const blobio_store) -> *const c_char {
    guard(ptr::null(), || {
        // SAFETY: NULL or a live store, as promised.
        match unsafe { store.as_ref() } {
            Some(store) => store.kind.as_ptr(),
            None => ptr::null(),
        }
    })
}

/// The store's configuration as a JSON object, never containing a secret
/// (keys and SAS tokens are left out). On success `*out` receives a string
/// to release with `blobio_string_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_store_config_json(
    store: *const blobio_store,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_store_config_json", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let json = into_c_string(store.backend().config_json())?;
        out.write(json.into_raw());
        Ok(())
    })
}

/// The store's counters as JSON (see the README's "Stats"): calls by
/// operation with their errors and latency percentiles (`p50_us`,
/// `p90_us`, `p99_us`), requests by HTTP method and answer class (`2xx`,
/// `3xx`, `4xx`, `5xx`, `network`), `requests_total`, `bytes_sent`,
/// `bytes_received`, `retries`, and errors by kind. On success `*out`
/// receives it, to release with `blobio_string_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_store_stats_json(
    store: *const blobio_store,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_store_stats_json", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let json = store.backend().stats_json().unwrap_or_else(|| "{}".to_owned());
        out.write(into_c_string(json)?.into_raw());
        Ok(())
    })
}

/// Sets every counter of `blobio_store_stats_json()` back to 0.
#[no_mangle]
pub unsafe extern "C" fn blobio_store_stats_reset(store: *const blobio_store) -> blobio_status {
    boundary("blobio_store_stats_reset", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        store.backend().reset_stats();
        Ok(())
    })
}
