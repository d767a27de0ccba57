//! The circuit breaker of a resilient store (one opened with
//! `resilient=true`), for C.

use std::ffi::c_char;

use super::boundary::{arg_out, arg_ref, boundary, FfiResult};
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::error::Error;
use crate::resilient::CircuitBreaker;

/// `blobio_circuit_state()`: calls go through.
pub const BLOBIO_CIRCUIT_CLOSED: i32 = 0;
/// `blobio_circuit_state()`: calls fail at once with
/// `BLOBIO_STATUS_CIRCUIT_OPEN`, touching no network.
pub const BLOBIO_CIRCUIT_OPEN: i32 = 1;
/// `blobio_circuit_state()`: a few probe calls go through; enough
/// successes close the circuit, a failure opens it again.
pub const BLOBIO_CIRCUIT_HALF_OPEN: i32 = 2;

/// The breaker of a resilient store; UNSUPPORTED for any other.
fn circuit(store: &blobio_store) -> FfiResult<&CircuitBreaker> {
    store.circuit().ok_or_else(|| {
        Error::Unsupported {
            operation: "a circuit breaker (the store was not opened with resilient=true)",
            backend: store.backend().kind(),
        }
        .into()
    })
}

/// The circuit state of a store made by `blobio_open() with `resilient=true``:
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
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `state` is NULL, which `arg_out` refuses, or valid for writes of its type
        // until this export returns (the header's out-parameter contract); it is written only
        // on success.
        let state = unsafe { arg_out(state, "state") }?;
        let breaker = circuit(store)?;
        state.write(breaker.state() as i32);
        Ok(())
    })
}

/// Closes the circuit of a store made by `blobio_open() with `resilient=true`` and
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
/// `blobio_open() with `resilient=true``, as a JSON object:
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
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let json = circuit(store)?.stats().to_json();
        out.write(into_c_string(json)?.into_raw());
        Ok(())
    })
}
