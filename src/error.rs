//! The one error type every blobio operation returns.
//!
//! Every variant names the path (or bucket, container, prefix) it concerns and
//! keeps its underlying cause, so a caller can log one line and still find the
//! root cause. Remote failures also keep what the server said: HTTP status,
//! provider error code (`NoSuchKey`, `BlobNotFound`, ...) and request id.

use std::fmt;
use std::io;
use std::time::{Duration, SystemTime};

/// Result alias used throughout blobio.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Boxed cause kept by an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A stable classification of an [`Error`].
///
/// New kinds may be added; existing ones never change meaning. The C ABI maps
/// each kind to one `BLOBIO_STATUS_*` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object, bucket or container does not exist.
    NotFound,
    /// An argument (configuration, offset, size) is not acceptable.
    InvalidArgument,
    /// A path is not a legal key for the store.
    InvalidPath,
    /// Credentials were refused or do not grant the operation.
    PermissionDenied,
    /// The object already exists where it must not.
    AlreadyExists,
    /// A conditional request's precondition did not hold (HTTP 412).
    PreconditionFailed,
    /// The backend cannot resume (append to) a partial object.
    ResumeNotSupported,
    /// The backend does not support the operation.
    Unsupported,
    /// The circuit breaker is open; the call was not attempted.
    CircuitOpen,
    /// A connect, request or body timeout expired.
    Timeout,
    /// The connection failed, was reset, or a body ended early.
    Network,
    /// The server reported an error of its own (5xx, throttling).
    Server,
    /// A local I/O error (file system, or a caller's reader/writer).
    Io,
    /// The operation was cancelled by the caller.
    Cancelled,
    /// The bytes do not have the checksum the store gave for them (read),
    /// or the store found that the bytes it got do not have the one sent
    /// (write): damaged on the way. Nothing was stored or reported as read.
    ChecksumMismatch,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// A stable lower-case name for logs and the C ABI.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::InvalidPath => "invalid_path",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::PreconditionFailed => "precondition_failed",
            ErrorKind::ResumeNotSupported => "resume_not_supported",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Network => "network",
            ErrorKind::Server => "server",
            ErrorKind::Io => "io",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::ChecksumMismatch => "checksum_mismatch",
            ErrorKind::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a remote service said about a failed request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceDetail {
    /// HTTP status code of the response.
    pub status: u16,
    /// Provider error code, such as `NoSuchKey` or `AuthorizationFailure`.
    pub code: Option<String>,
    /// The provider's human-readable message.
    pub message: Option<String>,
    /// The provider's request id, for support tickets.
    pub request_id: Option<String>,
}

impl fmt::Display for ServiceDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if let Some(msg) = &self.message {
            write!(f, ": {msg}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// Formats the optional service detail as a suffix of an error message.
struct Remote<'a>(&'a Option<Box<ServiceDetail>>);

impl fmt::Display for Remote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, " ({d})"),
            None => Ok(()),
        }
    }
}

/// One path that a batch delete could not delete, and why.
#[derive(Debug)]
pub struct BatchFailure {
    /// The path as the caller gave it.
    pub path: String,
    /// Why it could not be deleted.
    pub error: Error,
}

/// The error type of every blobio operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object, bucket or container does not exist.
    #[error("{path}: not found{}", Remote(.remote))]
    NotFound {
        /// What was looked for.
        path: String,
        /// What the server said, if a server was asked.
        remote: Option<Box<ServiceDetail>>,
    },

    /// An argument is not acceptable.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong, naming the argument.
        message: String,
    },

    /// The server refused the request as malformed or too large (HTTP 400,
    /// 411, 413, 414, 416): what it said is kept.
    #[error("{path}: request refused{}", Remote(.remote))]
    BadRequest {
        /// The path or resource concerned.
        path: String,
        /// What the server said.
        remote: Option<Box<ServiceDetail>>,
    },

    /// A path is not a legal key for the store.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// Credentials were refused or do not grant the operation.
    #[error("{path}: permission denied{}", Remote(.remote))]
    PermissionDenied {
        /// The path or resource concerned.
        path: String,
        /// What the server said, if a server was asked.
        remote: Option<Box<ServiceDetail>>,
        /// The local cause, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The object already exists.
    #[error("{path}: already exists{}", Remote(.remote))]
    AlreadyExists {
        /// The path concerned.
        path: String,
        /// What the server said, if a server was asked.
        remote: Option<Box<ServiceDetail>>,
    },

    /// A precondition (If-Match, If-None-Match) did not hold.
    #[error("{path}: precondition failed{}", Remote(.remote))]
    PreconditionFailed {
        /// The path concerned.
        path: String,
        /// What the server said.
        remote: Option<Box<ServiceDetail>>,
    },

    /// The object changed while a resumed read was under way: the bytes
    /// already delivered belong to a version that no longer exists, and the
    /// rest was not read, so two versions were never spliced together.
    #[error("{path}: the object changed during the download after {delivered} bytes had been \
             delivered (it was replaced or modified); the rest of it was not read, so nothing \
             was spliced: discard those bytes and read it again{}", Remote(.remote))]
    ChangedDuringRead {
        /// The path concerned.
        path: String,
        /// Bytes delivered to the writer before the change was detected.
        delivered: u64,
        /// What the server said, if it refused the resumed request.
        remote: Option<Box<ServiceDetail>>,
    },

    /// The backend cannot append to a partial object.
    #[error("{path}: the {backend} backend cannot resume a partial write; delete it and write from byte zero")]
    ResumeNotSupported {
        /// The path concerned.
        path: String,
        /// The backend kind.
        backend: &'static str,
    },

    /// The backend does not support the operation.
    #[error("{operation} is not supported by the {backend} backend")]
    Unsupported {
        /// The operation asked for.
        operation: &'static str,
        /// The backend kind.
        backend: &'static str,
    },

    /// The circuit breaker is open.
    #[error("{path}: circuit breaker is open; call not attempted")]
    CircuitOpen {
        /// The path of the rejected call.
        path: String,
    },

    /// A timeout expired: one of the client's, or the server's (408, or a
    /// code saying so, with what the server said in `remote`).
    #[error("{path}: timed out: {message}{}", Remote(.remote))]
    Timeout {
        /// The path concerned.
        path: String,
        /// Which timeout.
        message: String,
        /// What the server said, when it was the server that timed out.
        remote: Option<Box<ServiceDetail>>,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },

    /// The connection failed or a body ended early.
    #[error("{path}: network error: {message}")]
    Network {
        /// The path concerned.
        path: String,
        /// What failed.
        message: String,
        /// The transport's error.
        #[source]
        source: Option<BoxError>,
    },

    /// The server failed (5xx, throttling).
    #[error("{path}: server error{}", Remote(.remote))]
    Server {
        /// The path concerned.
        path: String,
        /// What the server said.
        remote: Option<Box<ServiceDetail>>,
    },

    /// The server is busy or throttling (429, or 503 such as S3's
    /// `SlowDown` and Azure's `ServerBusy`) and said when to come back, in a
    /// `Retry-After` header. Of kind [`ErrorKind::Server`], like
    /// [`Error::Server`]; the resilient wrapper waits `retry_after` (within
    /// its cap) before its next attempt.
    #[error("{path}: server busy, retry after {retry_after:?}{}", Remote(.remote))]
    ServerBusy {
        /// The path concerned.
        path: String,
        /// What the server said.
        remote: Option<Box<ServiceDetail>>,
        /// The pause the server asked for.
        retry_after: Duration,
    },

    /// A local I/O error.
    #[error("{path}: {operation}: {source}")]
    Io {
        /// The path concerned.
        path: String,
        /// What was being done ("open", "rename", "read source", ...).
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The caller cancelled the operation.
    #[error("{path}: cancelled")]
    Cancelled {
        /// The path concerned.
        path: String,
    },

    /// Some paths of a batch delete failed; every other path was deleted.
    #[error("batch delete: {} of the paths failed, first {}: {}", .failures.len(),
            .failures.first().map(|f| f.path.as_str()).unwrap_or(""),
            .failures.first().map(|f| f.error.to_string()).unwrap_or_default())]
    Batch {
        /// Every path that failed, with its error.
        failures: Vec<BatchFailure>,
    },

    /// Bytes damaged on the way: see [`ErrorKind::ChecksumMismatch`].
    #[error("{path}: checksum mismatch: {message}{}", Remote(.remote))]
    ChecksumMismatch {
        /// The path concerned.
        path: String,
        /// Which checksum, what it should be and what it is.
        message: String,
        /// What the server said, when it found the mismatch.
        remote: Option<Box<ServiceDetail>>,
    },

    /// Anything else.
    #[error("{path}: {message}{}", Remote(.remote))]
    Other {
        /// The path concerned.
        path: String,
        /// What went wrong.
        message: String,
        /// What the server said, if a server was asked.
        remote: Option<Box<ServiceDetail>>,
        /// The cause, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// The stable kind of this error. A [`Error::Batch`] reports the kind of its
    /// first failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::InvalidArgument { .. } | Error::BadRequest { .. } => ErrorKind::InvalidArgument,
            Error::InvalidPath { .. } => ErrorKind::InvalidPath,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::PreconditionFailed { .. } | Error::ChangedDuringRead { .. } => {
                ErrorKind::PreconditionFailed
            }
            Error::ResumeNotSupported { .. } => ErrorKind::ResumeNotSupported,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::CircuitOpen { .. } => ErrorKind::CircuitOpen,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Network { .. } => ErrorKind::Network,
            Error::Server { .. } | Error::ServerBusy { .. } => ErrorKind::Server,
            Error::Io { .. } => ErrorKind::Io,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::ChecksumMismatch { .. } => ErrorKind::ChecksumMismatch,
            Error::Batch { failures } => failures
                .first()
                .map(|f| f.error.kind())
                .unwrap_or(ErrorKind::Other),
            Error::Other { .. } => ErrorKind::Other,
        }
    }

    /// The path (or bucket/container) the error concerns, if it names one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::NotFound { path, .. }
            | Error::InvalidPath { path, .. }
            | Error::BadRequest { path, .. }
            | Error::PermissionDenied { path, .. }
            | Error::AlreadyExists { path, .. }
            | Error::PreconditionFailed { path, .. }
            | Error::ChangedDuringRead { path, .. }
            | Error::ResumeNotSupported { path, .. }
            | Error::CircuitOpen { path }
            | Error::Timeout { path, .. }
            | Error::Network { path, .. }
            | Error::Server { path, .. }
            | Error::ServerBusy { path, .. }
            | Error::Io { path, .. }
            | Error::Cancelled { path }
            | Error::ChecksumMismatch { path, .. }
            | Error::Other { path, .. } => Some(path),
            Error::Batch { failures } => failures.first().map(|f| f.path.as_str()),
            Error::InvalidArgument { .. } | Error::Unsupported { .. } => None,
        }
    }

    /// What the server said, when the error came from a server response.
    pub fn service_detail(&self) -> Option<&ServiceDetail> {
        match self {
            Error::NotFound { remote, .. }
            | Error::BadRequest { remote, .. }
            | Error::PermissionDenied { remote, .. }
            | Error::AlreadyExists { remote, .. }
            | Error::PreconditionFailed { remote, .. }
            | Error::ChangedDuringRead { remote, .. }
            | Error::Server { remote, .. }
            | Error::ServerBusy { remote, .. }
            | Error::ChecksumMismatch { remote, .. }
            | Error::Timeout { remote, .. }
            | Error::Other { remote, .. } => remote.as_deref(),
            Error::Batch { failures } => failures.first().and_then(|f| f.error.service_detail()),
            _ => None,
        }
    }

    /// The HTTP status of the failed response, if there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.service_detail().map(|d| d.status)
    }

    /// The provider's error code (`NoSuchKey`, `BlobNotFound`, ...), if any.
    pub fn provider_code(&self) -> Option<&str> {
        self.service_detail().and_then(|d| d.code.as_deref())
    }

    /// The provider's request id, if any.
    pub fn request_id(&self) -> Option<&str> {
        self.service_detail().and_then(|d| d.request_id.as_deref())
    }

    /// Whether the same request may succeed when sent again: a connect
    /// error, a timeout, a connection reset or a body cut short, a 5xx or a
    /// throttling answer (429, 503 SlowDown, ServerBusy). Never a 4xx, a
    /// local I/O error or a refused argument. A batch is transient when any
    /// of its failures is (deleting again is harmless). The one rule every
    /// retrying layer (see [`crate::RetryPolicy`]) follows.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Batch { failures } => failures.iter().any(|f| f.error.is_transient()),
            _ => matches!(
                self.kind(),
                ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Server
            ),
        }
    }

    /// The pause the server asked for before another attempt (its
    /// `Retry-After`), when it asked for one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::ServerBusy { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Turns an [`Error::Server`] answer with status 429 or 503 into an
    /// [`Error::ServerBusy`] when `header` (the response's `Retry-After`)
    /// holds a delay; anything else is returned as it is.
    pub(crate) fn with_retry_after(self, header: Option<&str>) -> Error {
        let delay = header.and_then(|v| parse_retry_after(v, SystemTime::now()));
        match (self, delay) {
            (Error::Server { path, remote }, Some(retry_after))
                if matches!(remote.as_deref().map(|d| d.status), Some(429 | 503)) =>
            {
                Error::ServerBusy {
                    path,
                    remote,
                    retry_after,
                }
            }
            (other, _) => other,
        }
    }

    /// Shorthand for an [`Error::InvalidArgument`].
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            message: message.into(),
        }
    }

    /// Shorthand for an [`Error::InvalidPath`].
    pub fn invalid_path(path: &str, reason: &'static str) -> Self {
        Error::InvalidPath {
            path: path.to_owned(),
            reason,
        }
    }

    /// Shorthand for an [`Error::NotFound`] without server detail.
    pub fn not_found(path: &str) -> Self {
        Error::NotFound {
            path: path.to_owned(),
            remote: None,
        }
    }

    /// Classifies a local I/O error on `path`: missing files become
    /// [`Error::NotFound`], refused access [`Error::PermissionDenied`], and
    /// everything else [`Error::Io`] naming the operation.
    pub fn from_io(path: &str, operation: &'static str, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::NotFound => Error::not_found(path),
            io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                path: path.to_owned(),
                remote: None,
                source: Some(Box::new(source)),
            },
            _ => Error::Io {
                path: path.to_owned(),
                operation,
                source,
            },
        }
    }

    /// The I/O error that caused this one, if it was an I/O error.
    ///
    /// The C ABI uses this to recognise an abort signalled by a caller's
    /// callback, which travels as the source of an [`Error::Io`].
    pub fn io_source(&self) -> Option<&io::Error> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A `Retry-After` value (RFC 9110 10.2.3): a number of seconds, or an
/// HTTP-date, which counts from `now` (a date already past is no pause).
/// Anything else is `None`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // An absurdly long number of seconds is as good as "a long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = crate::time::parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21T07:28:00Z
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past"
        );
        for bad in ["", "-5", "1.5", "soon", "Wed, 99 Oct 2015"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn only_busy_server_answers_carry_retry_after() {
        let server = |status| Error::Server {
            path: "k".into(),
            remote: Some(Box::new(ServiceDetail {
                status,
                code: Some("SlowDown".into()),
                ..Default::default()
            })),
        };
        let busy = server(503).with_retry_after(Some("2"));
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(busy.kind(), ErrorKind::Server);
        assert_eq!(busy.path(), Some("k"));
        assert_eq!(busy.provider_code(), Some("SlowDown"));
        assert!(busy.to_string().contains("retry after 2s"), "{busy}");
        assert_eq!(server(429).with_retry_after(Some("1")).retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(server(500).with_retry_after(Some("1")).retry_after(), None);
        assert_eq!(server(503).with_retry_after(None).retry_after(), None);
        assert_eq!(server(503).with_retry_after(Some("later")).retry_after(), None);
        assert_eq!(Error::not_found("k").with_retry_after(Some("1")).retry_after(), None);
    }
}
