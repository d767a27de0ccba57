//! Cancelling a call from another thread, and watching its progress.
//!
//! A [`CancelToken`] is installed on the thread that makes calls, for as
//! long as a closure runs ([`CancelToken::scope`]; from C, until it is
//! uninstalled). Every call of every store made there takes it: `read`,
//! `read_range`, `read_to_at`, `read_ranges`, `write`, `write_reader`,
//! `put`, the lists, `delete`, `copy`, ... One token may serve many calls
//! on many threads. [`CancelToken::cancel`], from any thread, ends each of
//! them with [`crate::ErrorKind::Cancelled`] within about a millisecond of
//! the cancel, wherever the call is:
//!
//! - blocked on a socket (a server that sends nothing, a body that
//!   stalls): every socket read and write of a call registers its
//!   connection with the token while it runs, and the cancel shuts those
//!   connections down, which wakes the blocked read or write at once (see
//!   `socket.rs`); a connect in progress (`connect(2)` to an address that
//!   never answers) and a host name's lookup too, which run aside while
//!   the call waits on its token;
//! - pausing before a retry: the pause wakes;
//! - on worker threads (parts of an upload, ranges of a download, batch
//!   deletes): the jobs of a call carry its token with them;
//! - copying between a file and the caller's reader or writer: checked
//!   between chunks.
//!
//! A multipart upload that is cancelled is aborted (S3
//! `AbortMultipartUpload`, sent without the token so that it is not
//! cancelled too): no upload is left behind. The abort gets one second:
//! a server that does not answer it cannot hold the cancelled call longer
//! (the upload is then left to the bucket's lifecycle rules). On Azure the staged blocks of
//! an upload that is never committed are not an object, and the service
//! drops them (after a week); nothing is listed meanwhile.
//!
//! A cancelled token stays cancelled: calls made with it afterwards fail
//! at once. Use a new token for new work.
//!
//! A progress callback ([`with_progress`]) is the other way to stop a call:
//! it is told how many bytes a transfer has moved, and returning `false`
//! cancels the call as a token would.

mod progress;
pub(crate) mod socket;

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::ShutdownHandle;

use crate::error::{Error, ErrorKind, Result};

pub use progress::{with_progress, Progress, UNKNOWN_TOTAL};
pub(crate) use progress::EVERY as PROGRESS_EVERY;
pub(crate) use progress::{set as set_thread_progress, Meter};

/// A cancel switch for the calls of one or more threads.
///
/// Cheap to clone (clones share one switch), `Send` and `Sync`: keep a
/// clone on the thread that decides, install one where the calls are made
/// ([`CancelToken::scope`]), and call [`CancelToken::cancel`] from the
/// first. Cancelling is final: a cancelled token never resets.
///
/// ```no_run
/// use blobio::{Backend, CancelToken, ErrorKind, LocalBackend};
///
/// let store = LocalBackend::new("./data")?;
/// let token = CancelToken::new();
/// let stopper = token.clone();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_secs(1));
///     stopper.cancel();
/// });
/// let mut out = std::io::sink();
/// match token.scope(|| store.read_to("big.bin", &mut out)) {
///     Err(e) if e.kind() == ErrorKind::Cancelled => println!("stopped"),
///     other => println!("{other:?}"),
/// }
/// # Ok::<(), blobio::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    state: Mutex<State>,
    /// Wakes the pauses (before a retry) of the token's calls.
    wake: Condvar,
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// The connections in use by a read or write of the token's calls.
    sockets: Vec<(u64, Weak<dyn ShutdownHandle>)>,
    /// Tokens cancelled with this one (one per call that has a progress
    /// callback, so that the callback can stop its call alone).
    children: Vec<Weak<Inner>>,
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned lock still
        // holds a consistent list.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cancel(&self) {
        if self.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        // The sockets are shut down with the lock held: a read that ends
        // meanwhile unregisters (under the lock) only after, then sees the
        // flag, fails, and its connection is never pooled; so a socket is
        // never shut down once another call may have it.
        let children = {
            let mut s = self.state();
            for (_, socket) in std::mem::take(&mut s.sockets) {
                if let Some(socket) = socket.upgrade() {
                    socket.shutdown();
                }
            }
            std::mem::take(&mut s.children)
        };
        for child in children {
            if let Some(child) = child.upgrade() {
                child.cancel();
            }
        }
        // Taking the lock orders the flag before a pause that is about to
        // wait: it either sees the flag or is woken here.
        drop(self.state());
        self.wake.notify_all();
    }
}

impl CancelToken {
    /// A token not cancelled.
    pub fn new() -> Self {
        CancelToken::default()
    }

    /// Cancels every call that has this token, now and later. Callable from
    /// any thread, any number of times.
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Runs `f` with this token installed on the current thread: every call
    /// made inside (on this thread, and the work it hands to blobio's
    /// threads) can be cancelled with it. The thread's previous token comes
    /// back when `f` returns (or panics). Nested scopes: the innermost
    /// token is the one used.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let previous = install(Some(self.clone()));
        let _restore = Restore(Some(previous));
        f()
    }

    /// A token cancelled with this one, that can also be cancelled alone.
    pub(crate) fn child(&self) -> CancelToken {
        let child = CancelToken::new();
        let mut s = self.inner.state();
        if self.is_cancelled() {
            child.cancel();
        } else {
            s.children.retain(|c| c.strong_count() > 0);
            s.children.push(Arc::downgrade(&child.inner));
        }
        child
    }

    /// Registers `socket` as in use by one of this token's calls until the
    /// guard drops; a socket registered after the cancel is shut down at
    /// once.
    pub(crate) fn register(&self, socket: &Weak<dyn ShutdownHandle>) -> Registered<'_> {
        let id = {
            let mut s = self.inner.state();
            s.next_id += 1;
            let id = s.next_id;
            s.sockets.push((id, Weak::clone(socket)));
            id
        };
        if self.is_cancelled() {
            if let Some(socket) = socket.upgrade() {
                socket.shutdown();
            }
        }
        Registered { token: self, id }
    }

    /// Sleeps for `d`, or less when the token is cancelled meanwhile.
    /// Whether it was.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut s = self.inner.state();
        while !self.is_cancelled() {
            let now = Instant::now();
            if now >= until {
                return false;
            }
            s = self
                .inner
                .wake
                .wait_timeout(s, until - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }
}

/// A socket registered with a token; unregistered when dropped.
pub(crate) struct Registered<'a> {
    token: &'a CancelToken,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let mut s = self.token.inner.state();
        if let Some(i) = s.sockets.iter().position(|(id, _)| *id == self.id) {
            s.sockets.swap_remove(i);
        }
    }
}

/// What the current thread's work belongs to: the token of its call and
/// the meter of its transfer. Handed to the worker threads of a call.
#[derive(Clone, Default)]
pub(crate) struct Context {
    token: Option<CancelToken>,
    meter: Option<Arc<Meter>>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("token", &self.token)
            .field("metered", &self.meter.is_some())
            .finish()
    }
}

impl Context {
    /// The context of the current thread, to hand to a job.
    pub(crate) fn current() -> Context {
        CONTEXT.with(|c| c.borrow().clone())
    }

    /// Runs `f` in this context (on a worker thread).
    pub(crate) fn enter<T>(self, f: impl FnOnce() -> T) -> T {
        let previous = CONTEXT.with(|c| c.replace(self));
        let _restore = RestoreContext(Some(previous));
        f()
    }
}

thread_local! {
    /// The current thread's token and meter.
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
    /// Whether the current thread is inside a call (a store's method).
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Installs `token` for the calls the current thread makes (None
/// uninstalls); the previous one is returned.
pub(crate) fn install(token: Option<CancelToken>) -> Option<CancelToken> {
    CONTEXT.with(|c| std::mem::replace(&mut c.borrow_mut().token, token))
}

struct Restore(Option<Option<CancelToken>>);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            install(previous);
        }
    }
}

struct RestoreContext(Option<Context>);

impl Drop for RestoreContext {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            CONTEXT.with(|c| *c.borrow_mut() = previous);
        }
    }
}

struct LeaveCall;

impl Drop for LeaveCall {
    fn drop(&mut self) {
        IN_CALL.with(|c| c.set(false));
    }
}

/// The token of the current thread's call, if it has one.
pub(crate) fn current_token() -> Option<CancelToken> {
    CONTEXT.with(|c| c.borrow().token.clone())
}

/// Whether the current thread's call was cancelled.
pub(crate) fn is_cancelled() -> bool {
    CONTEXT.with(|c| c.borrow().token.as_ref().is_some_and(CancelToken::is_cancelled))
}

/// Fails with [`Error::Cancelled`] naming `path` when the current thread's
/// call was cancelled.
pub(crate) fn check(path: &str) -> Result<()> {
    if is_cancelled() {
        return Err(cancelled(path));
    }
    Ok(())
}

/// The error of a cancelled call.
pub(crate) fn cancelled(path: &str) -> Error {
    Error::Cancelled {
        path: path.to_owned(),
    }
}

/// Counts `n` bytes moved for the current thread's transfer (reporting
/// them, rate-limited, when this is the calling thread), then
/// [`check`]s.
pub(crate) fn advance(path: &str, n: u64) -> Result<()> {
    let meter = CONTEXT.with(|c| c.borrow().meter.clone());
    if let Some(m) = meter {
        m.add(n);
    }
    check(path)
}

/// Tells the progress callback, when due, what the workers of the
/// current thread's call have moved.
pub(crate) fn tick() {
    let meter = CONTEXT.with(|c| c.borrow().meter.clone());
    if let Some(m) = meter {
        m.add(0);
    }
}

/// Whether the current thread's call counts its bytes (has a progress
/// callback).
pub(crate) fn metered() -> bool {
    CONTEXT.with(|c| c.borrow().meter.is_some())
}

/// A request body that counts what is read from it (see [`advance`]); a
/// read after the cancel fails.
pub(crate) struct Counted<'a> {
    path: &'a str,
    inner: &'a mut dyn std::io::Read,
}

impl<'a> Counted<'a> {
    pub(crate) fn new(path: &'a str, inner: &'a mut dyn std::io::Read) -> Self {
        Counted { path, inner }
    }
}

impl std::io::Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        advance(self.path, n as u64).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "cancelled")
        })?;
        Ok(n)
    }
}

/// Tells the current transfer its total size in bytes, once known.
pub(crate) fn set_total(total: Option<u64>) {
    if let Some(total) = total {
        CONTEXT.with(|c| {
            if let Some(m) = &c.borrow().meter {
                m.set_total(total);
            }
        });
    }
}

/// Sleeps `d` (a pause before a retry), waking early when the call is
/// cancelled; then fails with [`Error::Cancelled`] if it was.
pub(crate) fn sleep(path: &str, d: Duration) -> Result<()> {
    match current_token() {
        Some(t) if t.sleep(d) => Err(cancelled(path)),
        Some(_) => Ok(()),
        None => {
            std::thread::sleep(d);
            Ok(())
        }
    }
}

/// Runs `f` with no token and no meter: the clean-up of a call that was
/// cancelled (aborting its upload) must not be cancelled too.
pub(crate) fn shielded<T>(f: impl FnOnce() -> T) -> T {
    Context::default().enter(f)
}

/// How long the clean-up of a cancelled call (aborting its upload) may
/// take before it is cancelled too.
pub(crate) const CLEANUP_GRACE: Duration = Duration::from_secs(1);

/// Runs `f`, the clean-up of a failed call, [`shielded`] from the call's
/// token. After a cancel it gets [`CLEANUP_GRACE`] and no more: a token of
/// its own is cancelled by a watchdog thread then (a cancelled call must
/// end soon even when the server answers nothing, at the price of an
/// upload left for the store's lifecycle rules).
pub(crate) fn cleanup<T>(f: impl FnOnce() -> T) -> T {
    if !is_cancelled() {
        return shielded(f);
    }
    let grace = CancelToken::new();
    let watchdog = {
        let grace = grace.clone();
        std::thread::Builder::new()
            .name("blobio-cleanup".into())
            .spawn(move || {
                if !grace.sleep(CLEANUP_GRACE) {
                    grace.cancel();
                }
            })
    };
    let out = Context {
        token: Some(grace.clone()),
        meter: None,
    }
    .enter(f);
    // Wakes the watchdog, which then ends.
    grace.cancel();
    if let Ok(w) = watchdog {
        let _ = w.join();
    }
    out
}

/// One call of a store (a `Backend` method), as every store makes it: it
/// fails at once with [`Error::Cancelled`] when the thread's token is
/// already cancelled; its work takes the token (and, with a progress
/// callback installed, a meter and a token of its own, cancelled with the
/// thread's); and a failure after the cancel is reported as
/// [`Error::Cancelled`] (a connection shut down by the cancel says
/// "connection reset", which is not what happened). Calls nested in a
/// call (a wrapper's) pass through.
pub(crate) fn call<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    // Generic over every store method's body, so kept to the body's one
    // run between two calls that exist once in the binary.
    let scope = CallScope::enter()?;
    let out = body();
    match scope.leave(out.as_ref().err()) {
        Some(cancelled) => Err(cancelled),
        None => out,
    }
}

/// What [`call`] set up for its body, undone when the body has run.
pub(crate) struct CallScope(Option<ActiveCall>);

struct ActiveCall {
    effective: Option<CancelToken>,
    meter: Option<Arc<Meter>>,
    // Dropped in this order: the thread's context first, then the mark.
    _restore: RestoreContext,
    _leave: LeaveCall,
}

impl CallScope {
    /// Installs the call's token and meter; fails when the thread's token
    /// is already cancelled. Nested calls, and calls with neither a token
    /// nor a progress callback, set up nothing.
    #[inline(never)]
    pub(crate) fn enter() -> Result<CallScope> {
        if IN_CALL.with(Cell::get) {
            return Ok(CallScope(None));
        }
        let token = current_token();
        let progress = progress::installed();
        if token.is_none() && !progress {
            return Ok(CallScope(None));
        }
        if token.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(cancelled(""));
        }
        let effective = if progress {
            Some(token.as_ref().map_or_else(CancelToken::new, CancelToken::child))
        } else {
            token
        };
        let meter = match (&effective, progress) {
            (Some(t), true) => Some(Arc::new(Meter::new(t.clone()))),
            _ => None,
        };
        IN_CALL.with(|c| c.set(true));
        let leave = LeaveCall;
        let context = Context {
            token: effective.clone(),
            meter: meter.clone(),
        };
        let previous = CONTEXT.with(|c| c.replace(context));
        Ok(CallScope(Some(ActiveCall {
            effective,
            meter,
            _restore: RestoreContext(Some(previous)),
            _leave: leave,
        })))
    }

    /// Ends the call: the error to report instead of the body's (a
    /// failure after the cancel is the cancel), and the final progress of
    /// a call that succeeded.
    #[inline(never)]
    pub(crate) fn leave(self, err: Option<&Error>) -> Option<Error> {
        let call = self.0?;
        match err {
            Some(e)
                if e.kind() != ErrorKind::Cancelled
                    && call.effective.as_ref().is_some_and(CancelToken::is_cancelled) =>
            {
                Some(cancelled(e.path().unwrap_or("")))
            }
            Some(_) => None,
            None => {
                if let Some(m) = &call.meter {
                    m.finish();
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_wakes_a_pause_and_reaches_children() {
        let token = CancelToken::new();
        let child = token.child();
        let t = token.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            t.cancel();
        });
        let started = Instant::now();
        let err = token.scope(|| sleep("k", Duration::from_secs(10))).unwrap_err();
        let waited = started.elapsed();
        canceller.join().unwrap();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        assert!(child.is_cancelled());
        // A child of a cancelled token starts cancelled; a child alone
        // does not cancel its parent.
        assert!(token.child().is_cancelled());
        let fresh = CancelToken::new();
        fresh.child().cancel();
        assert!(!fresh.is_cancelled());
    }

    #[test]
    fn scopes_nest_and_restore() {
        let (a, b) = (CancelToken::new(), CancelToken::new());
        assert!(current_token().is_none());
        a.scope(|| {
            b.scope(|| b.cancel());
            assert!(!is_cancelled(), "the outer token is back");
            a.cancel();
            assert!(check("p").is_err());
            let err = call(|| Ok(())).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Cancelled);
        });
        assert!(current_token().is_none());
    }

    #[test]
    fn a_failure_after_the_cancel_is_reported_as_cancelled() {
        let token = CancelToken::new();
        let err = token
            .scope(|| {
                call(|| -> Result<()> {
                    token.cancel();
                    Err(Error::Network {
                        path: "k".into(),
                        message: "connection reset".into(),
                        source: None,
                    })
                })
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert_eq!(err.path(), Some("k"));
    }
}
