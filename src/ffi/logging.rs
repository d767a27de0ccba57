//! `blobio_set_log_callback`: the library's `log` records delivered to C.
//!
//! The first call installs blobio's logger as the process's `log` logger
//! (a C program has no other). The callback, its `user` pointer and the
//! lowest level wanted sit behind a lock that every delivery holds while
//! the callback runs, so once `blobio_set_log_callback` returns, the
//! previous callback is not running and never runs again: the caller may
//! free what its `user` pointed to. A record made inside a callback (the
//! callback calling blobio) is dropped rather than delivered recursively.

use std::borrow::Cow;
use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, RwLock};

use super::boundary::{boundary, Failure};
use super::status::blobio_status;
use crate::error::Error;

/// Level of a record: an error. Also a `min_level` of
/// `blobio_set_log_callback()`: errors only.
pub const BLOBIO_LOG_ERROR: i32 = 1;
/// A warning (a retry given up, a circuit opened, ...).
pub const BLOBIO_LOG_WARN: i32 = 2;
/// Information an operator wants (retries, where credentials came from).
pub const BLOBIO_LOG_INFO: i32 = 3;
/// Detail for debugging. Release builds of blobio keep no records below
/// `BLOBIO_LOG_INFO`; debug builds keep all.
pub const BLOBIO_LOG_DEBUG: i32 = 4;
/// Wire-level detail of the HTTP and TLS libraries.
pub const BLOBIO_LOG_TRACE: i32 = 5;

/// Receives one log record: `level` (`BLOBIO_LOG_ERROR` ... `_TRACE`),
/// `target` (the module that made it, e.g. `blobio::retry`) and `message`,
/// both NUL-terminated UTF-8 valid only during the call.
///
/// It runs on whatever thread made the record: the caller's thread, or one
/// of a store's worker threads (parts and ranges of a transfer), possibly
/// on several threads at once. It must return normally, quickly, and must
/// not call `blobio_set_log_callback()`; records that blobio functions make
/// while it runs on that thread are dropped.
pub type blobio_log_cb = Option<
    unsafe extern "C" fn(user: *mut c_void, level: i32, target: *const c_char, message: *const c_char),
>;

struct Sink {
    cb: unsafe extern "C" fn(*mut c_void, i32, *const c_char, *const c_char),
    user: *mut c_void,
    min: log::LevelFilter,
}

// SAFETY: `user` is the caller's opaque pointer, handed back to its own
// callback, which is documented to run on any thread.
unsafe impl Send for Sink {}
// SAFETY: as above; blobio never dereferences `user`.
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
}

struct CLogger;

static LOGGER: CLogger = CLogger;

fn level_number(level: log::Level) -> i32 {
    match level {
        log::Level::Error => BLOBIO_LOG_ERROR,
        log::Level::Warn => BLOBIO_LOG_WARN,
        log::Level::Info => BLOBIO_LOG_INFO,
        log::Level::Debug => BLOBIO_LOG_DEBUG,
        log::Level::Trace => BLOBIO_LOG_TRACE,
    }
}

/// The HTTP library's protocol layer traces the raw bytes it sends and
/// receives, headers (credentials) and bodies alike, as hex: never
/// delivered.
fn is_wire_dump(target: &str) -> bool {
    target == "ureq_proto" || target.starts_with("ureq_proto::")
}

/// A C string of `text`, NUL bytes shown as `\0`.
fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// `text` with the query of every URL in it replaced by `<redacted>`: the
/// HTTP library's trace records print whole URLs, and a presigned S3 URL
/// or a SAS carries its signature (and any session token) there.
fn redact_queries(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('?') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, url) = rest.split_at(at);
        out.push_str(head);
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '>' | ')' | ']'))
            .unwrap_or(url.len());
        let (url, tail) = url.split_at(end);
        match url.find('?') {
            Some(q) => {
                out.push_str(&url[..q]);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = tail;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

impl log::Log for CLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let sink = SINK.read().unwrap_or_else(|p| p.into_inner());
        sink.as_ref().is_some_and(|s| metadata.level() <= s.min)
    }

    fn log(&self, record: &log::Record<'_>) {
        if DELIVERING.with(Cell::get) || is_wire_dump(record.target()) {
            return;
        }
        let sink = SINK.read().unwrap_or_else(|p| p.into_inner());
        let Some(sink) = sink.as_ref().filter(|s| record.level() <= s.min) else {
            return;
        };
        let target = c_text(record.target());
        let message = c_text(&redact_queries(&record.args().to_string()));
        DELIVERING.with(|d| d.set(true));
        // SAFETY: the callback and `user` as the C caller registered them;
        // both strings outlive the call.
        unsafe { (sink.cb)(sink.user, level_number(record.level()), target.as_ptr(), message.as_ptr()) };
        DELIVERING.with(|d| d.set(false));
    }

    fn flush(&self) {}
}

/// Delivers blobio's log records at `min_level` and above
/// (`BLOBIO_LOG_ERROR` = 1 ... `BLOBIO_LOG_TRACE` = 5) to `cb`, with `user`
/// as given; `cb` NULL (or `min_level` 0) stops delivery. With no callback
/// set, nothing is logged anywhere. The callback replaces any earlier one:
/// when this returns, the earlier callback is not running on any thread and
/// is never called again.
///
/// No record carries a secret, a token or a signature (the query of any
/// URL in a record, where a SAS or a presigned request keeps its
/// signature, is shown as `<redacted>`; the HTTP library's hex dumps of
/// raw requests and answers are never delivered). `min_level` outside
/// 0..=5 is `BLOBIO_STATUS_INVALID_ARGUMENT`. A process whose Rust code
/// already installed a `log` logger of its own gets
/// `BLOBIO_STATUS_UNSUPPORTED`.
#[no_mangle]
pub unsafe extern "C" fn blobio_set_log_callback(
    min_level: i32,
    cb: blobio_log_cb,
    user: *mut c_void,
) -> blobio_status {
    boundary("blobio_set_log_callback", || {
        let min = match min_level {
            0 => log::LevelFilter::Off,
            BLOBIO_LOG_ERROR => log::LevelFilter::Error,
            BLOBIO_LOG_WARN => log::LevelFilter::Warn,
            BLOBIO_LOG_INFO => log::LevelFilter::Info,
            BLOBIO_LOG_DEBUG => log::LevelFilter::Debug,
            BLOBIO_LOG_TRACE => log::LevelFilter::Trace,
            other => {
                return Err(Failure::from(Error::invalid_argument(format!(
                    "min_level {other} is not a log level (0 to 5)"
                ))))
            }
        };
        if DELIVERING.with(Cell::get) {
            return Err(Failure::from(Error::invalid_argument(
                "blobio_set_log_callback called from a log callback".to_owned(),
            )));
        }
        static INSTALL: Once = Once::new();
        static OURS: AtomicBool = AtomicBool::new(false);
        INSTALL.call_once(|| OURS.store(log::set_logger(&LOGGER).is_ok(), Ordering::Release));
        if !OURS.load(Ordering::Acquire) {
            return Err(Failure::from(Error::Unsupported {
                operation: "blobio_set_log_callback (this process has a log logger of its own)",
                backend: "process",
            }));
        }
        let sink = match cb {
            Some(cb) if min != log::LevelFilter::Off => Some(Sink { cb, user, min }),
            _ => None,
        };
        let level = sink.as_ref().map_or(log::LevelFilter::Off, |s| s.min);
        // Taking the lock for writing waits for every delivery in flight.
        let mut slot = SINK.write().unwrap_or_else(|p| p.into_inner());
        *slot = sink;
        log::set_max_level(level);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::redact_queries;

    #[test]
    fn queries_of_urls_are_redacted_and_nothing_else() {
        assert_eq!(redact_queries("no url here? fine"), "no url here? fine");
        assert_eq!(
            redact_queries("GET https://a.blob.core.windows.net/c/k?sv=1&sig=SECRET done"),
            "GET https://a.blob.core.windows.net/c/k?<redacted> done"
        );
        assert_eq!(
            redact_queries("PUT http://h:1/b/k?X-Amz-Signature=abc then \"http://x/y?z=1\" and http://plain/p"),
            "PUT http://h:1/b/k?<redacted> then \"http://x/y?<redacted>\" and http://plain/p"
        );
    }
}
