//! `blobio_status`: the result code of every fallible export, and how a Rust
//! [`Error`] becomes one.

use std::ffi::{c_char, CStr};

use super::boundary::guard;
use super::callbacks::{callback_fault, CallbackFault};
use crate::error::{Error, ErrorKind};

/// The result of every fallible blobio function.
///
/// Values are explicit and append-only: a value never changes meaning and
/// retired values are never reused, so a program compiled against an older
/// header keeps working. Treat any value you do not know as a failure.
/// `blobio_status_str()` names a value; `blobio_last_error_message()` says
/// what went wrong.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum blobio_status {
    /// Success. Out-parameters have been written.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// An argument is not acceptable: a string that is not UTF-8, an offset
    /// at or past the end of an object, a negative size, an index out of range.
    InvalidArgument = 2,
    /// A path is not a legal key: empty, `..` or `.` components, `//`, a
    /// trailing `/`, a path that would leave the store's root, or longer
    /// than 1,024 bytes of UTF-8 (on a remote store: an object name, the
    /// store's prefix included, longer than the service holds; 1,024 bytes
    /// on S3, 1,024 characters on Azure). Refused before any request.
    InvalidPath = 3,
    /// The object, bucket or container does not exist.
    NotFound = 4,
    /// The object already exists where it must not.
    AlreadyExists = 5,
    /// Credentials were refused or do not grant the operation (HTTP 403, EACCES).
    PermissionDenied = 6,
    /// The store does not support the operation.
    Unsupported = 7,
    /// The store cannot append to a partial object (S3, Azure): delete it and
    /// write again from byte zero.
    ResumeNotSupported = 8,
    /// The circuit breaker is open; the call was not attempted.
    CircuitOpen = 9,
    /// A connect, request or body timeout expired.
    Timeout = 10,
    /// The connection failed, was reset, or a body ended early.
    Network = 11,
    /// The server reported an error of its own (HTTP 5xx, throttling).
    Server = 12,
    /// A local I/O error (file system, or a short source).
    Io = 13,
    /// A caller's read or write callback returned non-zero.
    CallbackAborted = 14,
    /// The operation was cancelled.
    Cancelled = 15,
    /// blobio panicked; the call was abandoned. This is a bug in blobio.
    Panic = 16,
    /// Anything else.
    Other = 17,
    /// A conditional request's precondition did not hold (HTTP 412).
    PreconditionFailed = 18,
    /// Bytes damaged on the way: a read whose bytes do not have the
    /// checksum the store keeps, or a write the store refused because the
    /// bytes it got do not have the checksum sent. Nothing was stored, and
    /// a read's bytes must not be used.
    ChecksumMismatch = 19,
}

/// Every status, in value order (for `blobio_status_str` and tests).
const ALL: [(blobio_status, &CStr); 20] = [
    (blobio_status::Ok, c"ok"),
    (blobio_status::NullArgument, c"null_argument"),
    (blobio_status::InvalidArgument, c"invalid_argument"),
    (blobio_status::InvalidPath, c"invalid_path"),
    (blobio_status::NotFound, c"not_found"),
    (blobio_status::AlreadyExists, c"already_exists"),
    (blobio_status::PermissionDenied, c"permission_denied"),
    (blobio_status::Unsupported, c"unsupported"),
    (blobio_status::ResumeNotSupported, c"resume_not_supported"),
    (blobio_status::CircuitOpen, c"circuit_open"),
    (blobio_status::Timeout, c"timeout"),
    (blobio_status::Network, c"network"),
    (blobio_status::Server, c"server"),
    (blobio_status::Io, c"io"),
    (blobio_status::CallbackAborted, c"callback_aborted"),
    (blobio_status::Cancelled, c"cancelled"),
    (blobio_status::Panic, c"panic"),
    (blobio_status::Other, c"other"),
    (blobio_status::PreconditionFailed, c"precondition_failed"),
    (blobio_status::ChecksumMismatch, c"checksum_mismatch"),
];

impl blobio_status {
    /// The status a Rust error is reported as. A caller's callback that
    /// aborted is recognised anywhere in the error's cause chain.
    pub(crate) fn from_error(err: &Error) -> blobio_status {
        match callback_fault(err) {
            Some(CallbackFault::Aborted { .. }) => return blobio_status::CallbackAborted,
            Some(CallbackFault::Overrun { .. }) => return blobio_status::InvalidArgument,
            None => {}
        }
        Self::from_kind(err.kind())
    }

    /// The status of an error kind; kinds map one to one.
    pub(crate) fn from_kind(kind: ErrorKind) -> blobio_status {
        match kind {
            ErrorKind::NotFound => blobio_status::NotFound,
            ErrorKind::InvalidArgument => blobio_status::InvalidArgument,
            ErrorKind::InvalidPath => blobio_status::InvalidPath,
            ErrorKind::PermissionDenied => blobio_status::PermissionDenied,
            ErrorKind::AlreadyExists => blobio_status::AlreadyExists,
            ErrorKind::PreconditionFailed => blobio_status::PreconditionFailed,
            ErrorKind::ResumeNotSupported => blobio_status::ResumeNotSupported,
            ErrorKind::Unsupported => blobio_status::Unsupported,
            ErrorKind::CircuitOpen => blobio_status::CircuitOpen,
            ErrorKind::Timeout => blobio_status::Timeout,
            ErrorKind::Network => blobio_status::Network,
            ErrorKind::Server => blobio_status::Server,
            ErrorKind::Io => blobio_status::Io,
            ErrorKind::Cancelled => blobio_status::Cancelled,
            ErrorKind::ChecksumMismatch => blobio_status::ChecksumMismatch,
            ErrorKind::Other => blobio_status::Other,
            // No wildcard: `#[non_exhaustive]` does not apply inside the
            // crate, so a new kind fails to compile here until it gets a
            // status of its own (appended to the enum).
        }
    }
}

/// A static, lower-case name for a status value (`"ok"`, `"not_found"`,
/// ...), the same names the Rust API's error kinds use. Unknown values give
/// `"unknown"`. Never NULL; the string must not be freed.
#[no_mangle]
pub extern "C" fn blobio_status_str(status: i32) -> *const c_char {
    guard(c"unknown".as_ptr(), || {
        ALL.iter()
            .find(|(s, _)| *s as i32 == status)
            .map_or(c"unknown", |(_, name)| name)
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_are_dense_and_explicit() {
        for (i, (status, _)) in ALL.iter().enumerate() {
            assert_eq!(*status as i32, i as i32, "{status:?}");
        }
        assert_eq!(blobio_status::Other as i32, 17);
        assert_eq!(blobio_status::PreconditionFailed as i32, 18);
    }

    #[test]
    fn every_error_kind_maps_to_the_status_of_the_same_name() {
        let kinds = [
            ErrorKind::NotFound,
            ErrorKind::InvalidArgument,
            ErrorKind::InvalidPath,
            ErrorKind::PermissionDenied,
            ErrorKind::AlreadyExists,
            ErrorKind::PreconditionFailed,
            ErrorKind::ResumeNotSupported,
            ErrorKind::Unsupported,
            ErrorKind::CircuitOpen,
            ErrorKind::Timeout,
            ErrorKind::Network,
            ErrorKind::Server,
            ErrorKind::Io,
            ErrorKind::Cancelled,
            ErrorKind::ChecksumMismatch,
            ErrorKind::Other,
        ];
        for kind in kinds {
            let status = blobio_status::from_kind(kind);
            // SAFETY: blobio_status_str returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(blobio_status_str(status as i32)) };
            assert_eq!(name.to_str().unwrap(), kind.as_str());
        }
    }

    #[test]
    fn unknown_status_values_have_a_name() {
        for v in [-1, 20, 1000, i32::MIN, i32::MAX] {
            // SAFETY: as above.
            let name = unsafe { CStr::from_ptr(blobio_status_str(v)) };
            assert_eq!(name.to_bytes(), b"unknown");
        }
    }
}
