//! Resilient stores: retries with backoff and a circuit breaker around
//! another store, and the breaker's state for C.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{arg_out, arg_ref, boundary, Failure, FfiResult};
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::error::Error;
use crate::resilient::{
    CircuitBreaker, ResilientBackend, ResilientConfig, DEFAULT_HALF_OPEN_MAX_REQUESTS,
    DEFAULT_MAX_FAILURES, DEFAULT_MAX_RETRIES, DEFAULT_OPEN_TIMEOUT, DEFAULT_RETRY_DELAY,
    DEFAULT_RETRY_MAX_DELAY,
};

/// `blobio_circuit_state()`: calls go through.
pub const BLOBIO_CIRCUIT_CLOSED: i32 = 0;
/// `blobio_circuit_state()`: calls fail at once with
/// `BLOBIO_STATUS_CIRCUIT_OPEN`, touching no network.
pub const BLOBIO_CIRCUIT_OPEN: i32 = 1;
/// `blobio_circuit_state()`: a few probe calls go through; enough
/// successes close the circuit, a failure opens it again.
pub const BLOBIO_CIRCUIT_HALF_OPEN: i32 = 2;

/// Settings of `blobio_resilient_new()`. Zero-initialise it
/// (`blobio_resilient_config cfg = {0};`) and set what you need: every 0
/// means the default (those of the Go package). To turn retries off (each
/// call attempted once, still guarded by the breaker) set `no_retries`:
/// `max_retries = 0` alone means the default.
#[repr(C)]
pub struct blobio_resilient_config {
    /// Consecutive failures (network errors, timeouts, HTTP 5xx, throttling)
    /// that open the circuit; 0: 5. Final answers such as NOT_FOUND never
    /// count.
    pub max_failures: u32,
    /// How long an open circuit refuses calls before letting probes
    /// through, in milliseconds; 0: 30 s.
    pub open_timeout_ms: u32,
    /// Probes a half-open circuit lets through at once, and the successes
    /// that close it; 0: 3.
    pub half_open_max_requests: u32,
    /// Retries after the first attempt of a call; 0: 3 (see `no_retries`
    /// for none).
    pub max_retries: u32,
    /// Delay before the first retry in milliseconds, doubling at each
    /// further retry (with jitter); 0: 100 ms.
    pub retry_delay_ms: u32,
    /// Cap on the delay between retries in milliseconds, a server's
    /// `Retry-After` included; 0: 5 s.
    pub retry_max_delay_ms: u32,
    /// True: no retries at all, whatever `max_retries` says; every call is
    /// attempted once through the circuit breaker. False (as in a
    /// zero-initialised config): `max_retries` applies. (Added after the
    /// other fields so that their offsets never move.)
    pub no_retries: bool,
}

fn millis(ms: u32, default: Duration) -> Duration {
    if ms == 0 {
        default
    } else {
        Duration::from_millis(u64::from(ms))
    }
}

fn count(n: u32, default: u32) -> u32 {
    if n == 0 {
        default
    } else {
        n
    }
}

fn config(c: Option<&blobio_resilient_config>) -> ResilientConfig {
    let Some(c) = c else {
        return ResilientConfig::default();
    };
    ResilientConfig {
        max_failures: count(c.max_failures, DEFAULT_MAX_FAILURES),
        open_timeout: millis(c.open_timeout_ms, DEFAULT_OPEN_TIMEOUT),
        half_open_max_requests: count(c.half_open_max_requests, DEFAULT_HALF_OPEN_MAX_REQUESTS),
        max_retries: if c.no_retries {
            0
        } else {
            count(c.max_retries, DEFAULT_MAX_RETRIES)
        },
        retry_delay: millis(c.retry_delay_ms, DEFAULT_RETRY_DELAY),
        retry_max_delay: millis(c.retry_max_delay_ms, DEFAULT_RETRY_MAX_DELAY),
        ..ResilientConfig::default()
    }
}

/// Wraps `inner` in retries with exponential backoff (and jitter) behind a
/// circuit breaker. Only failures that may go away are retried — network
/// errors, timeouts, HTTP 5xx, 429, SlowDown, ServerBusy — never a final
/// answer (NOT_FOUND, PERMISSION_DENIED, ...), and never while the circuit
/// is open. Retries never corrupt data: `blobio_read_to()` and
/// `blobio_read_to_at()` resume where a failed transfer stopped, on the
/// same version of the object (an object replaced in between fails with
/// `BLOBIO_STATUS_PRECONDITION_FAILED` and nothing is spliced), and
/// `blobio_write_from()` is not retried, as its callback cannot be
/// replayed (each part of a large upload is still resent on its own):
/// `blobio_write_from_rewindable()`, whose source can start over, is. A
/// `Retry-After` on a 429 or 503 answer sets the pause before the next
/// attempt (within `retry_max_delay_ms`). The wrapper and the store share
/// one retry budget per call: a part or range the store sends again, and
/// the wrapper's own attempts, add up to `max_retries` retries in all.
///
/// `cfg` may be NULL for the defaults. The new store has `inner`'s kind,
/// paths and capabilities; the `blobio_circuit_*` functions work on it.
///
/// Ownership: `inner` is always taken over, on failure too — never use or
/// free it after this call. On success `*out` receives the wrapped store,
/// to release with `blobio_store_free()` (which closes `inner` as well); on
/// failure `inner` has been closed and released.
#[no_mangle]
pub unsafe extern "C" fn blobio_resilient_new(
    inner: *mut blobio_store,
    cfg: *const blobio_resilient_config,
    out: *mut *mut blobio_store,
) -> blobio_status {
    boundary("blobio_resilient_new", || {
        if inner.is_null() {
            return Err(Failure::NullArgument("inner".into()));
        }
        // SAFETY: a non-NULL store came from Box::into_raw in a constructor;
        // the caller hands it over here and never uses it again.
        let backend = unsafe { Box::from_raw(inner) }.into_backend();
        // SAFETY (both): the C caller upholds the module's safety contract.
        let checked = unsafe { arg_out(out, "out") }.and_then(|out| {
            let cfg = config(unsafe { cfg.as_ref() });
            cfg.validate()?;
            Ok((out, cfg))
        });
        let (out, cfg) = match checked {
            Ok(v) => v,
            Err(failure) => {
                // As blobio_store_free() would have.
                if let Err(e) = backend.close() {
                    log::warn!(
                        "blobio_resilient_new: closing the {} store failed: {e}",
                        backend.kind()
                    );
                }
                return Err(failure);
            }
        };
        let wrapped = ResilientBackend::new(backend, cfg)?;
        let store = blobio_store::resilient(Box::new(wrapped))?;
        out.write(Box::into_raw(store));
        Ok(())
    })
}

/// The breaker of a resilient store; UNSUPPORTED for any other.
fn circuit(store: &blobio_store) -> FfiResult<&CircuitBreaker> {
    store.circuit().ok_or_else(|| {
        Error::Unsupported {
            operation: "a circuit breaker (the store was not made by blobio_resilient_new)",
            backend: store.backend().kind(),
        }
        .into()
    })
}

/// The circuit state of a store made by `blobio_resilient_new()`:
/// `BLOBIO_CIRCUIT_CLOSED` (0), `BLOBIO_CIRCUIT_OPEN` (1) or
/// `BLOBIO_CIRCUIT_HALF_OPEN` (2), written to `*state`. An open circuit
/// whose timeout has passed reads as half-open. `BLOBIO_STATUS_UNSUPPORTED`
/// for a store that is not resilient.
#[no_mangle]
pub unsafe extern "C" fn blobio_circuit_state(
    store: *const blobio_store,
    state: *mut i32,
) -> blobio_status {
    boundary("blobio_circuit_state", || {
        // SAFETY (both): the C caller upholds the module's contract.
        let store = unsafe { arg_ref(store, "store") }?;
        let state = unsafe { arg_out(state, "state") }?;
        let breaker = circuit(store)?;
        state.write(breaker.state() as i32);
        Ok(())
    })
}

/// Closes the circuit of a store made by `blobio_resilient_new()` and
/// clears its count of consecutive failures (the totals of
/// `blobio_circuit_stats_json()` stay). `BLOBIO_STATUS_UNSUPPORTED` for a
/// store that is not resilient.
#[no_mangle]
pub unsafe extern "C" fn blobio_circuit_reset(store: *const blobio_store) -> blobio_status {
    boundary("blobio_circuit_reset", || {
        // SAFETY: the C caller upholds the module's contract.
        let store = unsafe { arg_ref(store, "store") }?;
        circuit(store)?.reset();
        Ok(())
    })
}

/// The circuit breaker's state and counters of a store made by
/// `blobio_resilient_new()`, as a JSON object:
/// `{"state":"closed"|"open"|"half_open", "state_code":0|1|2,
/// "consecutive_failures", "successes", "failures", "neutral", "rejected",
/// "retries", "times_opened", "last_failure_unix_ms" (null when none)}`.
/// Every attempt ends as one of successes (including final answers such as
/// NOT_FOUND), failures or neutral (the caller's own callback or argument
/// failed); `rejected` counts calls refused while open. On success `*out`
/// receives a string to release with `blobio_string_free()`.
/// `BLOBIO_STATUS_UNSUPPORTED` for a store that is not resilient.
#[no_mangle]
pub unsafe extern "C" fn blobio_circuit_stats_json(
    store: *const blobio_store,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_circuit_stats_json", || {
        // SAFETY (both): the C caller upholds the module's contract.
        let store = unsafe { arg_ref(store, "store") }?;
        let out = unsafe { arg_out(out, "out") }?;
        let json = circuit(store)?.stats().to_json();
        out.write(into_c_string(json)?.into_raw());
        Ok(())
    })
}
