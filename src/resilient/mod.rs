//! `ResilientBackend`: retries with backoff behind a circuit breaker, around
//! any [`Backend`], built so that a retry never corrupts data.
//!
//! Layout: `retry.rs` (which failures are retried, backoff with jitter),
//! `breaker.rs` (the circuit breaker state machine and its stats).
//!
//! What is retried, and why it is safe:
//! - Only failures that may go away: connection refused or reset, timeouts,
//!   a body that ended early, 5xx, 429, SlowDown, ServerBusy. Never a final
//!   answer (NotFound, PermissionDenied, PreconditionFailed, ...), never a
//!   failure of the caller's own reader or writer, never while the circuit
//!   is open.
//! - The pause before a retry is the backoff, unless the server asked for
//!   one (`Retry-After` on a 429 or 503, see [`Error::ServerBusy`]): then
//!   that long, capped at `retry_max_delay`.
//! - Reads of whole objects into memory, ranged reads, stats, lists and
//!   deletes are idempotent: a retry repeats them.
//! - `read_to`/`read_to_at` stream into the caller's writer, which cannot
//!   take bytes back. A read that fails after delivering N bytes resumes at
//!   byte N of the same version of the object (the backend's
//!   [`Backend::read_to_at_checked`] with the version it reported), so no
//!   byte is written twice and two versions are never spliced: an object
//!   that changed in between fails with [`Error::ChangedDuringRead`]. A
//!   backend that cannot tell versions apart is never resumed after bytes
//!   were delivered; the original error is returned.
//! - `write(path, &[u8])` holds its bytes: retried freely (an object store
//!   write replaces the whole object, so a repeat is harmless).
//! - `write_reader` consumes a one-way stream, which cannot be replayed: it
//!   is attempted once (the S3 and Azure backends still resend each
//!   buffered part or block on their own). A caller whose source can start
//!   over says so with [`ResilientBackend::write_reader_replayable`] (a
//!   seekable source) or [`ResilientBackend::write_reader_with`] (a source
//!   factory), and those are retried.
//! - `append_reader` consumes its stream too and is attempted once.

mod breaker;
mod retry;

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use self::breaker::{BreakerConfig, Permit};
pub use self::breaker::{CircuitBreaker, CircuitState, CircuitStats};
use self::retry::{classify, Class};
use crate::backend::{
    AppendingBackend, Backend, BatchDeleter, DirectoryLister, DirectoryRemover, ObjectInfo,
    ObjectLister, ObjectMeta, PresignMethod, PutOptions, PutResult, ReadRange,
};
use crate::error::{Error, Result};
use crate::http::CountingWriter;
use crate::retry::{self as policy, RetryPolicy};

/// Default consecutive failures that open the circuit.
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// Default time an open circuit waits before letting probes through.
pub const DEFAULT_OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of half-open probes (and successes that close it).
pub const DEFAULT_HALF_OPEN_MAX_REQUESTS: u32 = 3;
/// Default retries after a first failed attempt.
pub const DEFAULT_MAX_RETRIES: u32 = policy::DEFAULT_MAX_RETRIES;
/// Default delay before the first retry.
pub const DEFAULT_RETRY_DELAY: Duration = policy::DEFAULT_BASE_DELAY;
/// Default cap on the delay between retries.
pub const DEFAULT_RETRY_MAX_DELAY: Duration = policy::DEFAULT_MAX_DELAY;

/// Settings of a [`ResilientBackend`]. The defaults are the Go package's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResilientConfig {
    /// Consecutive failures (network, timeout, 5xx, throttling) that open
    /// the circuit. At least 1. Default 5.
    pub max_failures: u32,
    /// How long an open circuit refuses calls before it lets probes
    /// through. Default 30 s.
    pub open_timeout: Duration,
    /// Probes a half-open circuit lets through at once, and the successes
    /// among them that close it. At least 1. Default 3.
    pub half_open_max_requests: u32,
    /// Retries after the first attempt of a call (0: no retries, the
    /// breaker only). Default 3.
    pub max_retries: u32,
    /// Delay before the first retry; it doubles at each further retry, and
    /// each pause is drawn in the upper half of that value (jitter).
    /// Default 100 ms.
    pub retry_delay: Duration,
    /// Cap on the delay between retries, a server's `Retry-After`
    /// included. Default 5 s.
    pub retry_max_delay: Duration,
    /// No retry starts past this long after the call began (the deadline
    /// of [`RetryPolicy::retry_timeout`]). Default 180 s.
    pub retry_timeout: Duration,
}

impl Default for ResilientConfig {
    fn default() -> Self {
        ResilientConfig {
            max_failures: DEFAULT_MAX_FAILURES,
            open_timeout: DEFAULT_OPEN_TIMEOUT,
            half_open_max_requests: DEFAULT_HALF_OPEN_MAX_REQUESTS,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_delay: DEFAULT_RETRY_DELAY,
            retry_max_delay: DEFAULT_RETRY_MAX_DELAY,
            retry_timeout: policy::DEFAULT_RETRY_TIMEOUT,
        }
    }
}

impl ResilientConfig {
    /// Checks the settings: [`crate::ErrorKind::InvalidArgument`] when
    /// `max_failures` or `half_open_max_requests` is 0, or `retry_delay`
    /// exceeds `retry_max_delay`.
    pub fn validate(&self) -> Result<()> {
        if self.max_failures == 0 {
            return Err(Error::invalid_argument(
                "resilient max_failures must be at least 1",
            ));
        }
        if self.half_open_max_requests == 0 {
            return Err(Error::invalid_argument(
                "resilient half_open_max_requests must be at least 1",
            ));
        }
        if self.retry_delay > self.retry_max_delay {
            return Err(Error::invalid_argument(format!(
                "resilient retry_delay {:?} exceeds retry_max_delay {:?}",
                self.retry_delay, self.retry_max_delay
            )));
        }
        self.retry_policy().validate("resilient")
    }

    /// The retry settings as the [`RetryPolicy`] every layer follows.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            base_delay: self.retry_delay,
            max_delay: self.retry_max_delay,
            jitter: true,
            retry_timeout: self.retry_timeout,
        }
    }
}

/// A source that can be read and rewound: files, `io::Cursor`s, anything
/// `Read + Seek`. See [`ResilientBackend::write_reader_replayable`].
pub trait ReadSeek: Read + Seek {}

impl<T: Read + Seek + ?Sized> ReadSeek for T {}

/// Retries with backoff and a circuit breaker around another backend.
///
/// It is a [`Backend`] itself, with the inner backend's kind, root and
/// capabilities (each capability call is retried and guarded the same
/// way). Share one instance between threads: the breaker is shared too.
/// See the [module documentation](self) for what is retried and why that
/// never corrupts data.
///
/// Timeouts are the inner backend's: a network backend's connect, request
/// and stall timeouts ([`crate::Timeouts`]) each end an attempt with
/// [`crate::ErrorKind::Timeout`], which is retried. The longest a call can take is
/// about `(max_retries + 1)` times the inner bound plus the backoff pauses.
#[derive(Debug)]
pub struct ResilientBackend {
    inner: Box<dyn Backend>,
    cfg: ResilientConfig,
    policy: RetryPolicy,
    breaker: Arc<CircuitBreaker>,
}

/// A failed attempt, as the retry loop sees it.
struct Failed {
    err: Error,
    /// What the failure says about the backend (reported to the breaker).
    class: Class,
    /// False when repeating the attempt could corrupt data, whatever the
    /// class says.
    repeatable: bool,
}

impl From<Error> for Failed {
    fn from(err: Error) -> Self {
        Failed {
            class: classify(&err),
            err,
            repeatable: true,
        }
    }
}

impl ResilientBackend {
    /// Wraps `inner`. Fails when the settings are not valid (see
    /// [`ResilientConfig::validate`]).
    pub fn new(inner: Box<dyn Backend>, cfg: ResilientConfig) -> Result<Self> {
        cfg.validate()?;
        let breaker = Arc::new(CircuitBreaker::new(BreakerConfig {
            max_failures: cfg.max_failures,
            open_timeout: cfg.open_timeout,
            half_open_max_requests: cfg.half_open_max_requests,
        }));
        Ok(ResilientBackend {
            inner,
            policy: cfg.retry_policy(),
            cfg,
            breaker,
        })
    }

    /// The wrapped backend (calls on it bypass retries and the breaker).
    pub fn inner(&self) -> &dyn Backend {
        &*self.inner
    }

    /// The settings.
    pub fn config(&self) -> &ResilientConfig {
        &self.cfg
    }

    /// The circuit breaker, shareable (e.g. for a health endpoint that
    /// outlives a borrow of the store).
    pub fn circuit(&self) -> &Arc<CircuitBreaker> {
        &self.breaker
    }

    /// The circuit's state.
    pub fn state(&self) -> CircuitState {
        self.breaker.state()
    }

    /// The circuit's state and counters.
    pub fn stats(&self) -> CircuitStats {
        self.breaker.stats()
    }

    /// Closes the circuit and clears the consecutive failure count.
    pub fn reset(&self) {
        self.breaker.reset()
    }

    /// Whether the circuit refuses calls right now.
    pub fn is_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// [`Backend::write_reader`] from a source that can be rewound, retried
    /// like [`Backend::write`]: before each retry the source is sought back
    /// to where it was when the call began. `size` is the number of bytes
    /// from there, when known. A failing seek or read of the source is
    /// [`crate::ErrorKind::Io`] and is not retried.
    pub fn write_reader_replayable(
        &self,
        path: &str,
        source: &mut dyn ReadSeek,
        size: Option<u64>,
    ) -> Result<()> {
        let start = source.stream_position().map_err(|e| Error::Io {
            path: path.to_owned(),
            operation: "find the source's position",
            source: e,
        })?;
        self.call(path, |attempt| {
            if attempt > 0 {
                source.seek(SeekFrom::Start(start)).map_err(|e| Error::Io {
                    path: path.to_owned(),
                    operation: "rewind the source for a retry",
                    source: e,
                })?;
            }
            let mut reader: &mut dyn ReadSeek = &mut *source;
            self.inner.write_reader(path, &mut reader, size)
        })
    }

    /// [`Backend::write_reader`] from a source factory, retried like
    /// [`Backend::write`]: each attempt calls `open` for a fresh reader of
    /// the same bytes (reopening a file, restarting a generator). `size` is
    /// the number of bytes each reader gives, when known. An `open` that
    /// fails is [`crate::ErrorKind::Io`] and is not retried.
    pub fn write_reader_with<'s>(
        &self,
        path: &str,
        open: &mut dyn FnMut() -> io::Result<Box<dyn Read + 's>>,
        size: Option<u64>,
    ) -> Result<()> {
        self.call(path, |_| {
            let mut reader = open().map_err(|e| Error::Io {
                path: path.to_owned(),
                operation: "open the source",
                source: e,
            })?;
            self.inner.write_reader(path, &mut reader, size)
        })
    }

    /// A permit for one attempt; CircuitOpen when refused.
    #[inline]
    fn acquire(&self, path: &str, retry: bool) -> Result<Permit<'_>> {
        match self.breaker.try_acquire(None) {
            Some(permit) => {
                if retry {
                    self.breaker.note_retry();
                }
                Ok(permit)
            }
            None => {
                if !retry {
                    self.breaker.note_rejected();
                }
                Err(Error::CircuitOpen {
                    path: path.to_owned(),
                })
            }
        }
    }

    /// Runs `op` (given the attempt number, from 0) until it succeeds, fails
    /// for good, runs out of retries, or the circuit opens. A retry that the
    /// circuit refuses ends the call with the last real failure.
    #[inline]
    fn call<T>(&self, path: &str, mut op: impl FnMut(u32) -> Result<T>) -> Result<T> {
        self.retrying(path, |attempt| op(attempt).map_err(Failed::from))
    }

    /// The retry loop under [`Self::call`]: each attempt holds a breaker
    /// permit, its failure is reported with the class the attempt gives,
    /// and a transient failure is retried after a pause unless the attempt
    /// said it must not be repeated.
    ///
    /// Retries draw on the call's budget ([`crate::retry`]), which the inner
    /// store shares: while an attempt runs, the store's own requests are
    /// sent once each (this loop decides), and what it repeats on its own
    /// (a part, a range) is taken from the same budget. Inside a loop of an
    /// outer wrapper, each call is attempted once.
    fn retrying<T>(
        &self,
        path: &str,
        mut attempt: impl FnMut(u32) -> Result<T, Failed>,
    ) -> Result<T> {
        let mut value = None;
        self.retry_loop(path, &mut |n| attempt(n).map(|v| value = Some(v)))?;
        value.ok_or_else(|| Error::Other {
            path: path.to_owned(),
            message: "an attempt succeeded without a result".into(),
            remote: None,
            source: None,
        })
    }

    /// The loop itself, once for every kind of call (a generic loop per
    /// method would be compiled a dozen times over).
    #[inline(never)]
    fn retry_loop(
        &self,
        path: &str,
        attempt: &mut dyn FnMut(u32) -> Result<(), Failed>,
    ) -> Result<()> {
        // The call's cancel context first: the budget entered next hands
        // it to the inner store's worker threads.
        crate::cancel::call(|| self.retry_loop_inner(path, attempt))
    }

    fn retry_loop_inner(
        &self,
        path: &str,
        attempt: &mut dyn FnMut(u32) -> Result<(), Failed>,
    ) -> Result<()> {
        let nested = policy::inside_loop();
        let _call = policy::enter_call(&self.policy);
        let budget = policy::current_budget().expect("a call's budget was entered");
        let mut retry = 0u32;
        let mut last: Option<Error> = None;
        loop {
            let permit = match self.acquire(path, retry > 0) {
                Ok(p) => p,
                Err(refused) => return Err(last.unwrap_or(refused)),
            };
            let result = {
                let _deciding = policy::looping(Arc::clone(&budget));
                attempt(retry)
            };
            match result {
                Ok(value) => {
                    permit.finish(None);
                    return Ok(value);
                }
                Err(Failed {
                    err,
                    class,
                    repeatable,
                }) => {
                    permit.finish(Some(class));
                    if nested || !repeatable || class != Class::Transient || self.breaker.is_open() {
                        return Err(err);
                    }
                    let Some(delay) = budget.take(retry + 1, &err) else {
                        return Err(err);
                    };
                    retry += 1;
                    log::info!("retry {retry} of {path} in {delay:?} after: {err}");
                    crate::cancel::sleep(path, delay)?;
                    last = Some(err);
                }
            }
        }
    }

    /// One attempt through the breaker, never retried (nor are the inner
    /// store's requests: this wrapper decides, and says no).
    fn once<T>(&self, path: &str, op: impl FnOnce() -> Result<T>) -> Result<T> {
        crate::cancel::call(|| self.once_inner(path, op))
    }

    fn once_inner<T>(&self, path: &str, op: impl FnOnce() -> Result<T>) -> Result<T> {
        let permit = self.acquire(path, false)?;
        let _call = policy::enter_call(&self.policy);
        let budget = policy::current_budget().expect("a call's budget was entered");
        let result = {
            let _deciding = policy::looping(budget);
            op()
        };
        permit.finish(result.as_ref().err().map(classify));
        result
    }

    /// `read_to` (`whole`) or `read_to_at(start)`, resumed after a failure
    /// at the byte where it stopped, on the same version of the object.
    fn read_resumable(
        &self,
        path: &str,
        writer: &mut dyn Write,
        start: u64,
        whole: bool,
    ) -> Result<u64> {
        let mut delivered = 0u64;
        let mut version: Option<String> = None;
        self.retrying(path, |_| {
            let resuming = delivered > 0;
            let mut out = CountingWriter {
                inner: &mut *writer,
                count: 0,
            };
            let mut seen = None;
            let result = if resuming {
                self.inner.read_to_at_checked(
                    path,
                    &mut out,
                    start + delivered,
                    version.as_deref(),
                    &mut seen,
                )
            } else if whole {
                self.inner.read_to_checked(path, &mut out, &mut seen)
            } else {
                self.inner
                    .read_to_at_checked(path, &mut out, start, None, &mut seen)
            };
            let got = out.count;
            let err = match result {
                Ok(_) => return Ok(delivered + got),
                Err(e) => e,
            };
            if !resuming {
                // The bytes just delivered (if any) are of this version.
                version = seen;
            } else if got > 0 && seen != version {
                // A backend that breaks its contract (writing before
                // checking): nothing more can be trusted.
                return Err(Failed {
                    err: Error::ChangedDuringRead {
                        path: path.to_owned(),
                        delivered: delivered + got,
                        remote: None,
                    },
                    class: Class::Neutral,
                    repeatable: false,
                });
            }
            delivered += got;
            let err = match err {
                Error::PreconditionFailed { remote, .. } if resuming => Error::ChangedDuringRead {
                    path: path.to_owned(),
                    delivered,
                    remote,
                },
                other => other,
            };
            let mut failed = Failed::from(err);
            if failed.class == Class::Transient && delivered > 0 && version.is_none() {
                // Bytes are out and the backend cannot say whether a resumed
                // read would continue the same version: never splice.
                log::debug!("not resuming {path} after {delivered} bytes: the {} backend reports no versions", self.inner.kind());
                failed.repeatable = false;
            }
            Err(failed)
        })
    }

    /// How a listing names its prefix in errors (an empty one is the root).
    fn prefix_name(prefix: &str) -> String {
        if prefix.is_empty() {
            "(the store's root)".to_owned()
        } else {
            prefix.to_owned()
        }
    }

    /// The path to name in a CircuitOpen error of a batch.
    fn batch_name(paths: &[&str]) -> String {
        match paths {
            [] => "(empty batch)".to_owned(),
            [one] => (*one).to_owned(),
            [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
        }
    }
}

/// The `as_*` accessors of [`Backend`]: this wrapper has a capability
/// exactly when the inner backend has it, and serves it itself.
macro_rules! capability_accessors {
    ($($accessor:ident: $capability:ident),* $(,)?) => {$(
        fn $accessor(&self) -> Option<&dyn $capability> {
            self.inner.$accessor().map(|_| self as &dyn $capability)
        }
    )*};
}

#[deny(clippy::missing_trait_methods)]
impl Backend for ResilientBackend {
    fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        self.call(path, |_| self.inner.write(path, data))
    }

    /// Attempted once: a consumed stream cannot be replayed (see
    /// [`ResilientBackend::write_reader_replayable`]).
    fn write_reader(&self, path: &str, reader: &mut dyn Read, size: Option<u64>) -> Result<()> {
        self.once(path, || self.inner.write_reader(path, reader, size))
    }

    /// Retried like `write`; see [`Backend::put`] on a conditional write
    /// sent again after its answer was lost.
    fn put(&self, path: &str, data: &[u8], options: &PutOptions) -> Result<PutResult> {
        self.call(path, |_| self.inner.put(path, data, options))
    }

    /// Attempted once, as `write_reader`.
    fn put_reader(
        &self,
        path: &str,
        reader: &mut dyn Read,
        size: Option<u64>,
        options: &PutOptions,
    ) -> Result<PutResult> {
        self.once(path, || self.inner.put_reader(path, reader, size, options))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.call(path, |_| self.inner.read(path))
    }

    fn read_to(&self, path: &str, writer: &mut dyn Write) -> Result<u64> {
        self.read_resumable(path, writer, 0, true)
    }

    fn read_to_at(&self, path: &str, writer: &mut dyn Write, offset: u64) -> Result<u64> {
        self.read_resumable(path, writer, offset, false)
    }

    /// A nested wrapper reads (and resumes) through this one's guard but
    /// forwards the version check as is.
    fn read_to_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        self.once(path, || {
            self.inner.read_to_checked(path, writer, seen_version)
        })
    }

    fn read_to_at_checked(
        &self,
        path: &str,
        writer: &mut dyn Write,
        offset: u64,
        if_match: Option<&str>,
        seen_version: &mut Option<String>,
    ) -> Result<u64> {
        self.once(path, || {
            self.inner
                .read_to_at_checked(path, writer, offset, if_match, seen_version)
        })
    }

    fn read_range(&self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.call(path, |_| self.inner.read_range(path, offset, buf))
    }

    fn read_ranges(&self, path: &str, ranges: &mut [ReadRange<'_>]) -> Result<()> {
        self.call(path, |_| self.inner.read_ranges(path, &mut *ranges))
    }

    fn stats_json(&self) -> Option<String> {
        self.inner.stats_json()
    }

    fn reset_stats(&self) {
        self.inner.reset_stats()
    }

    /// Signing is local: nothing to retry or to count against the circuit.
    fn presign(&self, method: PresignMethod, path: &str, expires: std::time::Duration) -> Result<String> {
        self.inner.presign(method, path, expires)
    }

    fn stat_file(&self, path: &str) -> Result<Option<u64>> {
        self.call(path, |_| self.inner.stat_file(path))
    }

    fn exists(&self, path: &str) -> Result<bool> {
        self.call(path, |_| self.inner.exists(path))
    }

    fn head(&self, path: &str) -> Result<ObjectMeta> {
        self.call(path, |_| self.inner.head(path))
    }

    fn copy(&self, from: &str, to: &str, options: &PutOptions) -> Result<PutResult> {
        self.call(to, |_| self.inner.copy(from, to, options))
    }

    /// Retried like `copy`. A remote rename is a copy and a delete: an
    /// attempt whose delete failed is sent again whole (the source is still
    /// there), and one whose answer was lost after the delete finds no
    /// source (NotFound) although the object moved.
    fn rename(&self, from: &str, to: &str, options: &PutOptions) -> Result<PutResult> {
        self.call(to, |_| self.inner.rename(from, to, options))
    }

    fn delete(&self, path: &str) -> Result<()> {
        self.call(path, |_| self.inner.delete(path))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.call(&Self::prefix_name(prefix), |_| self.inner.list(prefix))
    }

    fn close(&self) -> Result<()> {
        self.inner.close()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    /// The inner backend's configuration with a `"resilient"` member.
    fn config_json(&self) -> String {
        let inner = self.inner.config_json();
        let mut value: serde_json::Value = match serde_json::from_str(&inner) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => return inner,
        };
        value["resilient"] = serde_json::json!({
            "max_failures": self.cfg.max_failures,
            "open_timeout_ms": self.cfg.open_timeout.as_millis() as u64,
            "half_open_max_requests": self.cfg.half_open_max_requests,
            "max_retries": self.cfg.max_retries,
            "retry_delay_ms": self.cfg.retry_delay.as_millis() as u64,
            "retry_max_delay_ms": self.cfg.retry_max_delay.as_millis() as u64,
        });
        value.to_string()
    }

    fn storage_root(&self) -> String {
        self.inner.storage_root()
    }

    fn local_base_path(&self) -> Option<&Path> {
        self.inner.local_base_path()
    }

    capability_accessors! {
        as_batch_deleter: BatchDeleter,
        as_directory_lister: DirectoryLister,
        as_object_lister: ObjectLister,
        as_directory_remover: DirectoryRemover,
        as_appending: AppendingBackend,
    }
}

/// The capability wrappers below are only handed out when the inner
/// backend has the capability, so the `expect`s cannot fail.
const HAS_CAPABILITY: &str = "capability checked by the as_* accessor";

/// Retried as a whole: deleting is idempotent (a missing key is not a
/// failure), so a repeat only finishes what an interrupted batch began.
impl BatchDeleter for ResilientBackend {
    fn delete_batch(&self, paths: &[&str]) -> Result<()> {
        let deleter = self.inner.as_batch_deleter().expect(HAS_CAPABILITY);
        self.call(&Self::batch_name(paths), |_| deleter.delete_batch(paths))
    }
}

impl DirectoryLister for ResilientBackend {
    fn list_directories(&self, prefix: &str) -> Result<Vec<String>> {
        let lister = self.inner.as_directory_lister().expect(HAS_CAPABILITY);
        self.call(&Self::prefix_name(prefix), |_| {
            lister.list_directories(prefix)
        })
    }
}

impl ObjectLister for ResilientBackend {
    fn list_objects(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let lister = self.inner.as_object_lister().expect(HAS_CAPABILITY);
        self.call(&Self::prefix_name(prefix), |_| lister.list_objects(prefix))
    }
}

/// Retried: removing an empty (or missing) directory is idempotent.
impl DirectoryRemover for ResilientBackend {
    fn remove_directory(&self, path: &str) -> Result<()> {
        let remover = self.inner.as_directory_remover().expect(HAS_CAPABILITY);
        self.call(path, |_| remover.remove_directory(path))
    }
}

/// Attempted once, through the breaker: the stream is consumed.
impl AppendingBackend for ResilientBackend {
    fn append_reader(&self, path: &str, reader: &mut dyn Read, append_size: u64) -> Result<()> {
        let appender = self.inner.as_appending().expect(HAS_CAPABILITY);
        self.once(path, || appender.append_reader(path, reader, append_size))
    }
}

#[cfg(test)]
mod tests {
    //! The wrapper's own logic over a scripted in-memory backend (the real
    //! stores, behind a fault-injecting proxy, are in tests/resilient.rs).
    use super::*;
    use crate::error::ErrorKind;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// What the next attempt of an operation does.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        /// Deliver up to this many bytes, then fail with a network error.
        CutAfter(usize),
        /// Fail at once with this kind of error.
        Fail(ErrorKindTag),
        /// Replace the object with other bytes, then go on as normal.
        Replace,
    }

    #[derive(Debug, Clone, Copy)]
    enum ErrorKindTag {
        Server,
        NotFound,
        /// A 503 whose Retry-After asks for an hour.
        BusyForAnHour,
    }

    #[derive(Debug)]
    struct Scripted {
        data: Mutex<(Vec<u8>, u32)>,
        steps: Mutex<VecDeque<Step>>,
        versions: bool,
        calls: Arc<Mutex<Vec<String>>>,
    }

    impl Scripted {
        fn new(data: &[u8], versions: bool, steps: &[Step]) -> Self {
            Scripted {
                data: Mutex::new((data.to_vec(), 1)),
                steps: Mutex::new(steps.iter().copied().collect()),
                versions,
                calls: Arc::default(),
            }
        }

        fn next(&self, call: String) -> Option<Step> {
            self.calls.lock().unwrap().push(call);
            let step = self.steps.lock().unwrap().pop_front();
            if let Some(Step::Replace) = step {
                let mut d = self.data.lock().unwrap();
                d.0.iter_mut().for_each(|b| *b ^= 0xFF);
                d.1 += 1;
                return self.steps.lock().unwrap().pop_front();
            }
            step
        }

        fn fail(path: &str, kind: ErrorKindTag) -> Error {
            match kind {
                ErrorKindTag::Server => Error::Server {
                    path: path.into(),
                    remote: None,
                },
                ErrorKindTag::NotFound => Error::not_found(path),
                ErrorKindTag::BusyForAnHour => Error::ServerBusy {
                    path: path.into(),
                    remote: None,
                    retry_after: Duration::from_secs(3600),
                },
            }
        }

        fn stream(
            &self,
            path: &str,
            w: &mut dyn Write,
            offset: u64,
            if_match: Option<&str>,
            seen: &mut Option<String>,
        ) -> Result<u64> {
            let step = self.next(format!("read {offset} {if_match:?}"));
            let (data, version) = self.data.lock().unwrap().clone();
            if let Some(Step::Fail(kind)) = step {
                return Err(Self::fail(path, kind));
            }
            let version = format!("v{version}");
            if if_match.is_some_and(|v| v != version) {
                return Err(Error::PreconditionFailed {
                    path: path.into(),
                    remote: None,
                });
            }
            if self.versions {
                *seen = Some(version);
            }
            let offset = offset as usize;
            if if_match.is_some() && offset == data.len() {
                return Ok(0);
            }
            if offset > 0 && offset >= data.len() {
                return Err(Error::invalid_argument("past the end"));
            }
            let rest = &data[offset..];
            let n = match step {
                Some(Step::CutAfter(n)) => n.min(rest.len()),
                _ => rest.len(),
            };
            w.write_all(&rest[..n]).map_err(|e| Error::Io {
                path: path.into(),
                operation: "write to destination",
                source: e,
            })?;
            match step {
                Some(Step::CutAfter(_)) => Err(Error::Network {
                    path: path.into(),
                    message: "body ended early".into(),
                    source: None,
                }),
                _ => Ok(n as u64),
            }
        }
    }

    impl Backend for Scripted {
        fn write(&self, path: &str, data: &[u8]) -> Result<()> {
            if let Some(Step::Fail(k)) = self.next(format!("write {}", data.len())) {
                return Err(Self::fail(path, k));
            }
            self.data.lock().unwrap().0 = data.to_vec();
            Ok(())
        }
        fn write_reader(&self, path: &str, r: &mut dyn Read, _size: Option<u64>) -> Result<()> {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).map_err(|e| Error::Io {
                path: path.into(),
                operation: "read source",
                source: e,
            })?;
            if let Some(Step::Fail(k)) = self.next(format!("write_reader {}", buf.len())) {
                return Err(Self::fail(path, k));
            }
            self.data.lock().unwrap().0 = buf;
            Ok(())
        }
        fn read(&self, path: &str) -> Result<Vec<u8>> {
            let mut out = Vec::new();
            self.read_to(path, &mut out)?;
            Ok(out)
        }
        fn read_to(&self, path: &str, w: &mut dyn Write) -> Result<u64> {
            self.stream(path, w, 0, None, &mut None)
        }
        fn read_to_at(&self, path: &str, w: &mut dyn Write, offset: u64) -> Result<u64> {
            self.stream(path, w, offset, None, &mut None)
        }
        fn read_to_checked(
            &self,
            path: &str,
            w: &mut dyn Write,
            seen: &mut Option<String>,
        ) -> Result<u64> {
            self.stream(path, w, 0, None, seen)
        }
        fn read_to_at_checked(
            &self,
            path: &str,
            w: &mut dyn Write,
            offset: u64,
            if_match: Option<&str>,
            seen: &mut Option<String>,
        ) -> Result<u64> {
            self.stream(path, w, offset, if_match, seen)
        }
        fn read_range(&self, _: &str, _: u64, _: &mut [u8]) -> Result<usize> {
            unimplemented!()
        }
        fn stat_file(&self, _: &str) -> Result<Option<u64>> {
            unimplemented!()
        }
        fn exists(&self, path: &str) -> Result<bool> {
            match self.next("exists".into()) {
                Some(Step::Fail(k)) => Err(Self::fail(path, k)),
                _ => Ok(true),
            }
        }
        fn delete(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        fn list(&self, _: &str) -> Result<Vec<String>> {
            unimplemented!()
        }
        fn kind(&self) -> &'static str {
            "scripted"
        }
        fn config_json(&self) -> String {
            "{\"kind\":\"scripted\"}".into()
        }
    }

    fn data() -> Vec<u8> {
        (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn quick() -> ResilientConfig {
        ResilientConfig {
            retry_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(2),
            open_timeout: Duration::from_millis(50),
            ..Default::default()
        }
    }

    type Calls = Arc<Mutex<Vec<String>>>;

    fn wrap(inner: Scripted) -> (ResilientBackend, Calls) {
        let calls = Arc::clone(&inner.calls);
        (
            ResilientBackend::new(Box::new(inner), quick()).unwrap(),
            calls,
        )
    }

    fn calls(calls: &Calls) -> Vec<String> {
        calls.lock().unwrap().clone()
    }

    #[test]
    fn read_to_resumes_at_the_cut_and_delivers_every_byte_once() {
        let (store, inner) = wrap(Scripted::new(
            &data(),
            true,
            &[Step::CutAfter(4_000), Step::CutAfter(3_000)],
        ));
        let mut out = Vec::new();
        assert_eq!(store.read_to("k", &mut out).unwrap(), 10_000);
        assert_eq!(out, data());
        assert_eq!(
            calls(&inner),
            [
                "read 0 None",
                "read 4000 Some(\"v1\")",
                "read 7000 Some(\"v1\")"
            ]
        );
        assert_eq!(store.stats().retries, 2);
    }

    #[test]
    fn read_to_at_resumes_from_its_offset() {
        let (store, inner) = wrap(Scripted::new(&data(), true, &[Step::CutAfter(100)]));
        let mut out = Vec::new();
        assert_eq!(store.read_to_at("k", &mut out, 9_000).unwrap(), 1_000);
        assert_eq!(out, &data()[9_000..]);
        assert_eq!(calls(&inner), ["read 9000 None", "read 9100 Some(\"v1\")"]);
    }

    #[test]
    fn a_cut_after_the_last_byte_resumes_to_nothing() {
        let (store, inner) = wrap(Scripted::new(&data(), true, &[Step::CutAfter(10_000)]));
        let mut out = Vec::new();
        assert_eq!(store.read_to("k", &mut out).unwrap(), 10_000);
        assert_eq!(out, data());
        assert_eq!(calls(&inner), ["read 0 None", "read 10000 Some(\"v1\")"]);
    }

    #[test]
    fn an_object_replaced_between_cut_and_resume_is_never_spliced() {
        let (store, _) = wrap(Scripted::new(
            &data(),
            true,
            &[Step::CutAfter(4_000), Step::Replace],
        ));
        let mut out = Vec::new();
        let err = store.read_to("obj/k", &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
        assert!(
            matches!(
                err,
                Error::ChangedDuringRead {
                    delivered: 4_000,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("obj/k") && msg.contains("changed during the download"),
            "{msg}"
        );
        assert_eq!(
            out,
            &data()[..4_000],
            "only the old version's first bytes were delivered"
        );
        // A final answer, not a failure of the backend.
        assert_eq!(store.stats().consecutive_failures, 0);
    }

    #[test]
    fn without_versions_a_read_is_retried_only_before_its_first_byte() {
        let (store, inner) = wrap(Scripted::new(
            &data(),
            false,
            &[Step::CutAfter(0), Step::CutAfter(5)],
        ));
        let mut out = Vec::new();
        let err = store.read_to("k", &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network);
        assert_eq!(out, &data()[..5]);
        assert_eq!(calls(&inner), ["read 0 None", "read 0 None"]);
    }

    #[test]
    fn final_answers_are_not_retried_and_transient_failures_are_retried_max_retries_times() {
        let (store, inner) = wrap(Scripted::new(
            &data(),
            true,
            &[Step::Fail(ErrorKindTag::NotFound)],
        ));
        assert_eq!(store.exists("k").unwrap_err().kind(), ErrorKind::NotFound);
        assert_eq!(calls(&inner).len(), 1);

        let steps = [Step::Fail(ErrorKindTag::Server); 4];
        let (store, inner) = wrap(Scripted::new(&data(), true, &steps));
        assert_eq!(store.exists("k").unwrap_err().kind(), ErrorKind::Server);
        assert_eq!(calls(&inner).len(), 4, "1 attempt + max_retries 3");
        let s = store.stats();
        assert_eq!(
            (s.failures, s.retries, s.state),
            (4, 3, CircuitState::Closed)
        );
    }

    #[test]
    fn a_retry_after_longer_than_the_cap_waits_only_the_cap() {
        let (store, inner) = wrap(Scripted::new(
            &data(),
            true,
            &[Step::Fail(ErrorKindTag::BusyForAnHour)],
        ));
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(store.exists("k").map_err(|e| e.to_string())));
        let answer = finished
            .recv_timeout(Duration::from_secs(30))
            .expect("an hour's Retry-After was not capped at retry_max_delay (2 ms)");
        assert_eq!(answer, Ok(true));
        assert_eq!(calls(&inner), ["exists", "exists"]);
    }

    #[test]
    fn an_open_circuit_refuses_without_calling_the_backend_then_probes_close_it() {
        let steps = [Step::Fail(ErrorKindTag::Server); 5];
        let (store, inner) = wrap(Scripted::new(&data(), true, &steps));
        let _ = store.exists("a");
        let _ = store.exists("b");
        assert_eq!(
            calls(&inner).len(),
            5,
            "the retry after the 5th failure is not made"
        );
        assert_eq!(store.state(), CircuitState::Open);
        assert_eq!(
            store.exists("c").unwrap_err().kind(),
            ErrorKind::CircuitOpen
        );
        assert_eq!(calls(&inner).len(), 5);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(store.state(), CircuitState::HalfOpen);
        for _ in 0..3 {
            assert!(store.exists("d").unwrap());
        }
        assert_eq!(store.state(), CircuitState::Closed);
        assert_eq!(store.stats().rejected, 1);
    }

    #[test]
    fn a_plain_write_reader_is_attempted_once_and_replayable_sources_are_rewound() {
        let steps = [
            Step::Fail(ErrorKindTag::Server),
            Step::Fail(ErrorKindTag::Server),
        ];
        let (store, inner) = wrap(Scripted::new(b"", true, &steps));
        let err = store
            .write_reader("k", &mut &b"streamed"[..], Some(8))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Server);
        assert_eq!(calls(&inner), ["write_reader 8"]);

        let mut src = io::Cursor::new(b"__replayable".to_vec());
        src.set_position(2);
        store
            .write_reader_replayable("k", &mut src, Some(10))
            .unwrap();
        assert_eq!(
            calls(&inner),
            ["write_reader 8", "write_reader 10", "write_reader 10"]
        );
        assert_eq!(store.read("k").unwrap(), b"replayable");

        let (store, inner) = wrap(Scripted::new(b"", true, &steps));
        let mut opened = 0;
        store
            .write_reader_with(
                "k",
                &mut || {
                    opened += 1;
                    Ok(Box::new(&b"from a factory"[..]) as Box<dyn Read>)
                },
                Some(14),
            )
            .unwrap();
        assert_eq!(opened, 3);
        assert_eq!(calls(&inner).len(), 3);
        assert_eq!(store.read("k").unwrap(), b"from a factory");
    }

    #[test]
    fn config_is_validated_and_reported_in_config_json() {
        let bad = |cfg: ResilientConfig| {
            ResilientBackend::new(Box::new(Scripted::new(b"", true, &[])), cfg)
                .unwrap_err()
                .kind()
        };
        assert_eq!(
            bad(ResilientConfig {
                max_failures: 0,
                ..quick()
            }),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            bad(ResilientConfig {
                half_open_max_requests: 0,
                ..quick()
            }),
            ErrorKind::InvalidArgument
        );
        let slow_first = ResilientConfig {
            retry_delay: Duration::from_secs(9),
            ..Default::default()
        };
        assert_eq!(bad(slow_first), ErrorKind::InvalidArgument);
        let (store, _) = wrap(Scripted::new(b"", true, &[]));
        let json: serde_json::Value = serde_json::from_str(&store.config_json()).unwrap();
        assert_eq!(json["kind"], "scripted");
        assert_eq!(json["resilient"]["max_retries"], 3);
        assert_eq!(store.kind(), "scripted");
    }
}
