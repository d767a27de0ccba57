//! Progress of long transfers, told to a callback on the calling thread.
//!
//! The bytes of a transfer are counted where they move: the body bytes of
//! every request and response of the call (parts and ranges on worker
//! threads included; a request sent again after a failure counts again,
//! though never past the total), and the bytes a local store copies. The
//! callback only ever runs on the thread that made the call, when that
//! thread moves bytes itself or waits for parts or ranges (from the pool,
//! or the range threads of a `read` into memory; looking every 100 ms),
//! and then only when 100 ms have passed or 1 MiB more has moved since it
//! was last called (whichever comes first): it is rate-limited, not a
//! timer, so a call stuck in one read does not call it meanwhile.
//! A call that succeeds ends with a call of `(total, total)`, where
//! `total` is the size when it was known, else the bytes moved (unless the
//! last call said just that; a call that moved no body, as a stat, a
//! delete or a list, never calls it).
//! The counts it is given never go down and never exceed the total.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::CancelToken;

/// The total a C progress callback is given while the size is not known.
pub const UNKNOWN_TOTAL: u64 = u64::MAX;

/// A progress callback: bytes done, the total when known. It returns
/// `true` to go on, `false` to cancel the call (which then fails with
/// [`crate::ErrorKind::Cancelled`]).
pub type Progress = Box<dyn FnMut(u64, Option<u64>) -> bool>;

/// Least time between two calls of the callback, unless 1 MiB moved.
pub(crate) const EVERY: Duration = Duration::from_millis(100);
/// Bytes after which the callback is called even before [`EVERY`].
const EVERY_BYTES: u64 = 1024 * 1024;

thread_local! {
    static CALLBACK: RefCell<Option<Progress>> = const { RefCell::new(None) };
}

/// Runs `f` with `callback` installed as the progress callback of every
/// call made on this thread inside it (`read_to`, `read_to_at`,
/// `write_reader`, `write`, `read`, parallel transfers: see the module
/// documentation for when it is called). The previous callback comes back
/// when `f` returns.
///
/// ```no_run
/// use blobio::{with_progress, Backend, LocalBackend};
///
/// let store = LocalBackend::new("./data")?;
/// let mut out = Vec::new();
/// with_progress(
///     |done, total| {
///         eprintln!("{done} of {total:?} bytes");
///         true // false would cancel the read
///     },
///     || store.read_to("big.bin", &mut out),
/// )?;
/// # Ok::<(), blobio::Error>(())
/// ```
pub fn with_progress<R>(
    callback: impl FnMut(u64, Option<u64>) -> bool + 'static,
    f: impl FnOnce() -> R,
) -> R {
    let previous = set(Some(Box::new(callback)));
    struct Restore(Option<Option<Progress>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(p) = self.0.take() {
                set(p);
            }
        }
    }
    let _restore = Restore(Some(previous));
    f()
}

/// Installs (or with None removes) the current thread's callback; the
/// previous one is returned.
pub(crate) fn set(callback: Option<Progress>) -> Option<Progress> {
    CALLBACK.with(|c| std::mem::replace(&mut *c.borrow_mut(), callback))
}

/// Whether the current thread has a callback.
pub(super) fn installed() -> bool {
    CALLBACK.with(|c| c.try_borrow().map_or(true, |c| c.is_some()))
}

/// The bytes one call has moved, shared by the threads working for it.
pub(crate) struct Meter {
    done: AtomicU64,
    total: AtomicU64,
    /// The calling thread: the only one that calls the callback.
    owner: ThreadId,
    /// The call's own token, cancelled when the callback says stop.
    token: CancelToken,
    last: Mutex<Last>,
}

struct Last {
    at: Instant,
    /// What the callback was last told.
    done: u64,
    total: Option<u64>,
}

impl Meter {
    pub(super) fn new(token: CancelToken) -> Self {
        Meter {
            done: AtomicU64::new(0),
            total: AtomicU64::new(UNKNOWN_TOTAL),
            owner: std::thread::current().id(),
            token,
            last: Mutex::new(Last {
                at: Instant::now(),
                done: 0,
                total: None,
            }),
        }
    }

    pub(super) fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    fn total(&self) -> Option<u64> {
        Some(self.total.load(Ordering::Relaxed)).filter(|t| *t != UNKNOWN_TOTAL)
    }

    /// Counts `n` bytes; on the calling thread, tells the callback when it
    /// is due.
    pub(super) fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        if std::thread::current().id() != self.owner {
            return;
        }
        let total = self.total();
        let done = self.done.load(Ordering::Relaxed).min(total.unwrap_or(u64::MAX));
        {
            let Ok(mut last) = self.last.lock() else { return };
            let now = Instant::now();
            if done <= last.done
                || (now.duration_since(last.at) < EVERY && done - last.done < EVERY_BYTES)
            {
                return;
            }
            last.at = now;
            last.done = done;
            last.total = total;
        }
        if !report(done, total) {
            self.token.cancel();
        }
    }

    /// The last call, once the transfer succeeded.
    pub(super) fn finish(&self) {
        let done = self.done.load(Ordering::Relaxed);
        if self.total().is_none() && done == 0 {
            // No transfer (a stat, a delete, a list).
            return;
        }
        let total = self.total().unwrap_or(done);
        if let Ok(last) = self.last.lock() {
            if last.done == total && last.total == Some(total) {
                // The last call already said (total, total).
                return;
            }
        }
        // Its answer is too late to cancel anything.
        let _ = report(total, Some(total));
    }
}

/// Calls the thread's callback (taken out while it runs, so that a call it
/// makes itself does not call it again); `true` without one.
fn report(done: u64, total: Option<u64>) -> bool {
    let Some(mut cb) = CALLBACK.with(|c| c.try_borrow_mut().ok().and_then(|mut c| c.take()))
    else {
        return true;
    };
    let go = cb(done, total);
    CALLBACK.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            if c.is_none() {
                *c = Some(cb);
            }
        }
    });
    go
}
