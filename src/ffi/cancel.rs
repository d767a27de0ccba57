//! `blobio_cancel_token`: cancelling the calls of a thread from another
//! thread; and the thread's progress callback. Both are installed per
//! thread and apply to every call that thread makes until uninstalled (see
//! `crate::cancel` for what a cancel interrupts).

use std::ffi::{c_int, c_void};
use std::ptr;

use super::boundary::{boundary, guard};
use super::status::blobio_status;
use crate::cancel::{self, CancelToken, UNKNOWN_TOTAL};

/// A cancel switch for blobio calls (opaque). Made by
/// `blobio_cancel_token_new()`, released by `blobio_cancel_token_free()`.
///
/// Install it on the thread that makes the calls with
/// `blobio_set_thread_cancel_token()`; call `blobio_cancel_token_cancel()`
/// from any other thread (or a progress callback) to stop them: each call
/// in progress, and every later call made with the token, fails with
/// `BLOBIO_STATUS_CANCELLED` — within milliseconds, also a call blocked on
/// a server that sends nothing, a parallel download, or a multipart
/// upload (which is then aborted on S3, the abort given at most 1 s; on
/// Azure its uncommitted blocks are not an object and the service drops
/// them), a connect to an address that never answers, or a DNS lookup
/// that hangs.
///
/// Cancelling is final: a cancelled token never resets. For new work after
/// a cancel, make (and install) a new token. One token may be installed on
/// many threads at once; one cancel stops all of their calls.
pub struct blobio_cancel_token {
    token: CancelToken,
}

/// A new token, not cancelled; NULL only if memory ran out. Free it with
/// `blobio_cancel_token_free()`.
#[no_mangle]
pub extern "C" fn blobio_cancel_token_new() -> *mut blobio_cancel_token {
    guard(ptr::null_mut(), || {
        Box::into_raw(Box::new(blobio_cancel_token {
            token: CancelToken::new(),
        }))
    })
}

/// Cancels every call that has `tok`, now and later. Thread-safe: call it
/// from any thread, while calls run on others, any number of times. NULL
/// is a no-op. It does not wait for the calls to end.
#[no_mangle]
pub unsafe extern "C" fn blobio_cancel_token_cancel(tok: *const blobio_cancel_token) {
    guard((), || {
        // SAFETY: the caller passes NULL or a live token (the contract of
        // every handle); a token is only read here, from any thread
        // (CancelToken is Sync).
        if let Some(t) = unsafe { tok.as_ref() } {
            t.token.cancel();
        }
    })
}

/// Whether `tok` was cancelled: 1 if so, 0 if not (or `tok` is NULL).
#[no_mangle]
pub unsafe extern "C" fn blobio_cancel_token_is_cancelled(tok: *const blobio_cancel_token) -> i32 {
    guard(0, || {
        // SAFETY: as in blobio_cancel_token_cancel.
        i32::from(unsafe { tok.as_ref() }.is_some_and(|t| t.token.is_cancelled()))
    })
}

/// Releases `tok`. NULL is a no-op. A thread where `tok` is installed keeps
/// its own reference: its calls still see the token (and a cancel made
/// before the free) until it is uninstalled there; freeing only means the
/// token can no longer be cancelled through this handle. Do not free `tok`
/// while another thread may still pass it to `blobio_cancel_token_cancel()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_cancel_token_free(tok: *mut blobio_cancel_token) {
    guard((), || {
        if !tok.is_null() {
            // SAFETY: a non-NULL `tok` came from blobio_cancel_token_new()
            // and is freed once (the handle contract).
            drop(unsafe { Box::from_raw(tok) });
        }
    })
}

/// Installs `tok` for every blobio call the calling thread makes from now
/// on (on every store), replacing the thread's previous token; NULL
/// uninstalls. The thread holds its own reference to the token (see
/// `blobio_cancel_token_free()`), dropped when it is replaced, uninstalled,
/// or the thread exits. Work a call hands to blobio's worker threads
/// carries the token along. Always `BLOBIO_STATUS_OK` (NULL is meaningful).
#[no_mangle]
pub unsafe extern "C" fn blobio_set_thread_cancel_token(
    tok: *const blobio_cancel_token,
) -> blobio_status {
    boundary("blobio_set_thread_cancel_token", || {
        // SAFETY: as in blobio_cancel_token_cancel.
        let token = unsafe { tok.as_ref() }.map(|t| t.token.clone());
        cancel::install(token);
        Ok(())
    })
}

/// The total a progress callback is given while the size of the transfer
/// is not known yet.
pub const BLOBIO_PROGRESS_UNKNOWN_TOTAL: u64 = u64::MAX;

/// Told how far a transfer of the calling thread has got: `done` bytes of
/// `total` (`BLOBIO_PROGRESS_UNKNOWN_TOTAL` while the size is not known,
/// as for a streamed upload of unknown size). Return 0 to go on, non-zero
/// to cancel the call (it fails with `BLOBIO_STATUS_CANCELLED`).
///
/// It runs only on the thread that made the call, inside that call, never
/// on a worker thread; and only when at least 100 ms have passed or at
/// least 1 MiB more has moved since its last call (it is rate-limited, not
/// a timer: while the calling thread waits for a slow part it is not
/// called). `done` never decreases and never exceeds a known `total`; it
/// counts the body bytes moved, parts and ranges on worker threads
/// included (a request sent again after a failure counts again, up to the
/// total). A call that succeeds ends with a call of `(total, total)`
/// (`total` being the bytes moved when the size was not known; not
/// repeated when the last call said just that), whose return value is
/// ignored. A call that moves no body never calls it. It must not call
/// `blobio_set_thread_progress_callback()`, and should not call other
/// blobio functions (their bytes would count toward the transfer it
/// reports on); to stop the transfer, return non-zero.
pub type blobio_progress_cb = Option<unsafe extern "C" fn(user: *mut c_void, done: u64, total: u64) -> c_int>;

/// Installs `cb` (with `user` passed back to it) as the progress callback
/// of every call the calling thread makes from now on: reads and writes
/// (`blobio_read`, `blobio_read_to`, `blobio_write`, `blobio_write_from`,
/// ranges, parallel transfers), on every store. NULL `cb` uninstalls.
/// Replaces the thread's previous callback. Calls that move no body
/// (stat, delete, list) do not call it.
#[no_mangle]
pub unsafe extern "C" fn blobio_set_thread_progress_callback(
    cb: blobio_progress_cb,
    user: *mut c_void,
) -> blobio_status {
    const _: () = assert!(BLOBIO_PROGRESS_UNKNOWN_TOTAL == UNKNOWN_TOTAL);
    boundary("blobio_set_thread_progress_callback", || {
        let callback = cb.map(|cb| {
            Box::new(move |done: u64, total: Option<u64>| {
                // SAFETY: `cb` is the caller's function, called on the
                // caller's own thread with its own `user` pointer, as the
                // header documents; it returns normally.
                let answer = unsafe { cb(user, done, total.unwrap_or(UNKNOWN_TOTAL)) };
                answer == 0
            }) as cancel::Progress
        });
        cancel::set_thread_progress(callback);
        Ok(())
    })
}
