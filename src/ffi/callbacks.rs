//! Streaming callbacks: C functions adapted to `Read` and `Write`, and how
//! an abort signalled by one is recognised in the error it causes.

use std::ffi::c_void;
use std::fmt;
use std::io::{self, Read, Write};

use crate::error::Error;

/// Supplies the bytes of a streaming upload (`blobio_write_from`,
/// `blobio_append_from`).
///
/// blobio calls it repeatedly with `user` as given, a buffer `buf` of `cap`
/// bytes (`cap` > 0) and `out_n`. The callback copies up to `cap` bytes into
/// `buf`, stores how many in `*out_n`, and returns 0. Storing 0 in `*out_n`
/// means end of data (`*out_n` is 0 when the callback is entered). A non-zero
/// return aborts the upload with `BLOBIO_STATUS_CALLBACK_ABORTED`; storing
/// more than `cap` aborts it with `BLOBIO_STATUS_INVALID_ARGUMENT`.
///
/// It runs on the thread that called the blobio function, before that
/// function returns. `buf` is valid only during the call.
pub type blobio_read_cb = Option<
    unsafe extern "C" fn(user: *mut c_void, buf: *mut u8, cap: usize, out_n: *mut usize) -> i32,
>;

/// Puts the source of `blobio_write_from_rewindable()` back at the first
/// byte it gave, so that a resilient store can send the upload again (as
/// libcurl's `CURLOPT_SEEKFUNCTION` does for a resent request).
///
/// blobio calls it with `user` as given, only before a retry of the whole
/// upload, never after the call returned. Return 0 when the next read
/// callback will give the same bytes from the start; a non-zero return (the
/// source cannot be rewound after all) ends the upload with
/// `BLOBIO_STATUS_CALLBACK_ABORTED` and no further attempt.
///
/// It runs on the thread that called the blobio function, before that
/// function returns.
pub type blobio_rewind_cb = Option<unsafe extern "C" fn(user: *mut c_void) -> i32>;

/// Receives the bytes of a streaming download (`blobio_read_to`,
/// `blobio_read_to_at`).
///
/// blobio calls it with `user` as given and each chunk in order; the chunk
/// is not NUL-terminated, may be empty, and `data` is valid only during the
/// call (copy what you keep). Return 0 to continue; a non-zero return stops
/// the download with `BLOBIO_STATUS_CALLBACK_ABORTED`.
///
/// It runs on the thread that called the blobio function, before that
/// function returns.
pub type blobio_write_cb =
    Option<unsafe extern "C" fn(user: *mut c_void, data: *const u8, len: usize) -> i32>;

/// Why a callback adapter failed. Travels as the payload of an `io::Error`
/// through the backend and is found again by [`callback_fault`].
#[derive(Debug)]
pub(crate) enum CallbackFault {
    /// The callback returned non-zero.
    Aborted {
        /// Which kind of callback.
        callback: &'static str,
        /// What it returned.
        code: i32,
    },
    /// A read callback claimed more bytes than the buffer holds.
    Overrun {
        /// What it claimed.
        n: usize,
        /// The buffer's size.
        cap: usize,
    },
}

impl fmt::Display for CallbackFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallbackFault::Aborted { callback, code } => {
                write!(f, "the {callback} callback aborted (returned {code})")
            }
            CallbackFault::Overrun { n, cap } => write!(
                f,
                "the read callback reported {n} bytes for a buffer of {cap}"
            ),
        }
    }
}

impl std::error::Error for CallbackFault {}

/// The callback fault behind `err`, wherever it sits: the I/O source of an
/// [`Error::Io`], anywhere in the `source()` chain (inside `io::Error`
/// payloads too, which `io::Error::source` skips), or in any failure of an
/// [`Error::Batch`].
pub(crate) fn callback_fault(err: &Error) -> Option<&CallbackFault> {
    if let Error::Batch { failures } = err {
        return failures.iter().find_map(|f| callback_fault(&f.error));
    }
    if let Some(found) = err.io_source().and_then(fault_in_io) {
        return Some(found);
    }
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        if let Some(found) = c.downcast_ref::<CallbackFault>() {
            return Some(found);
        }
        if let Some(found) = c.downcast_ref::<io::Error>().and_then(fault_in_io) {
            return Some(found);
        }
        if let Some(found) = c.downcast_ref::<Error>().and_then(callback_fault) {
            return Some(found);
        }
        cause = c.source();
    }
    None
}

fn fault_in_io(err: &io::Error) -> Option<&CallbackFault> {
    let inner = err.get_ref()?;
    if let Some(found) = inner.downcast_ref::<CallbackFault>() {
        return Some(found);
    }
    inner.downcast_ref::<io::Error>().and_then(fault_in_io)
}

/// A [`blobio_read_cb`] as a `Read`. Not `Send`: it holds the caller's
/// `user` pointer, so the callback can only run on the calling thread.
pub(crate) struct CallbackReader {
    cb: unsafe extern "C" fn(*mut c_void, *mut u8, usize, *mut usize) -> i32,
    user: *mut c_void,
}

impl CallbackReader {
    /// # Safety
    /// `cb` must be safe to call with `user` and a valid buffer for as long
    /// as the reader is used.
    pub(crate) unsafe fn new(
        cb: unsafe extern "C" fn(*mut c_void, *mut u8, usize, *mut usize) -> i32,
        user: *mut c_void,
    ) -> Self {
        CallbackReader { cb, user }
    }
}

impl Read for CallbackReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            // Asking C for zero bytes would read as end of data.
            return Ok(0);
        }
        let mut n = 0usize;
        // SAFETY: `new`'s caller promised `cb` accepts `user`; `buf` is a
        // live, writable slice of `buf.len()` bytes and `n` a live usize.
        let rc = unsafe { (self.cb)(self.user, buf.as_mut_ptr(), buf.len(), &mut n) };
        if rc != 0 {
            return Err(io::Error::other(CallbackFault::Aborted {
                callback: "read",
                code: rc,
            }));
        }
        if n > buf.len() {
            return Err(io::Error::other(CallbackFault::Overrun {
                n,
                cap: buf.len(),
            }));
        }
        Ok(n)
    }
}

/// A [`blobio_read_cb`] with its [`blobio_rewind_cb`]: a source that can
/// start over, handed to the resilient wrapper as a source factory.
pub(crate) struct RewindableSource {
    read: unsafe extern "C" fn(*mut c_void, *mut u8, usize, *mut usize) -> i32,
    rewind: unsafe extern "C" fn(*mut c_void) -> i32,
    user: *mut c_void,
    opened: bool,
}

impl RewindableSource {
    /// # Safety
    /// `read` and `rewind` must be safe to call with `user` (and a valid
    /// buffer) for as long as the source is used.
    pub(crate) unsafe fn new(
        read: unsafe extern "C" fn(*mut c_void, *mut u8, usize, *mut usize) -> i32,
        rewind: unsafe extern "C" fn(*mut c_void) -> i32,
        user: *mut c_void,
    ) -> Self {
        RewindableSource {
            read,
            rewind,
            user,
            opened: false,
        }
    }

    /// A reader of the source from its first byte: the source as it is the
    /// first time, rewound by the callback every later time.
    pub(crate) fn open(&mut self) -> io::Result<CallbackReader> {
        if std::mem::replace(&mut self.opened, true) {
            // SAFETY: `new`'s caller promised `rewind` accepts `user`.
            let rc = unsafe { (self.rewind)(self.user) };
            if rc != 0 {
                return Err(io::Error::other(CallbackFault::Aborted {
                    callback: "rewind",
                    code: rc,
                }));
            }
        }
        // SAFETY: as promised to `new`.
        Ok(unsafe { CallbackReader::new(self.read, self.user) })
    }
}

/// A [`blobio_write_cb`] as a `Write`. Not `Send`, like [`CallbackReader`].
pub(crate) struct CallbackWriter {
    cb: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32,
    user: *mut c_void,
}

impl CallbackWriter {
    /// # Safety
    /// `cb` must be safe to call with `user` and a valid chunk for as long
    /// as the writer is used.
    pub(crate) unsafe fn new(
        cb: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32,
        user: *mut c_void,
    ) -> Self {
        CallbackWriter { cb, user }
    }
}

impl Write for CallbackWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // SAFETY: `new`'s caller promised `cb` accepts `user`; `data` is a
        // live slice of `data.len()` bytes.
        let rc = unsafe { (self.cb)(self.user, data.as_ptr(), data.len()) };
        if rc != 0 {
            return Err(io::Error::other(CallbackFault::Aborted {
                callback: "write",
                code: rc,
            }));
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BatchFailure;

    fn aborted() -> io::Error {
        io::Error::other(CallbackFault::Aborted {
            callback: "read",
            code: 5,
        })
    }

    #[test]
    fn an_abort_is_found_as_the_io_source() {
        let err = Error::Io {
            path: "p".into(),
            operation: "read source",
            source: aborted(),
        };
        assert!(matches!(
            callback_fault(&err),
            Some(CallbackFault::Aborted { code: 5, .. })
        ));
    }

    #[test]
    fn an_abort_is_found_deeper_in_the_source_chain() {
        let wrapped = io::Error::other(aborted());
        let err = Error::Network {
            path: "p".into(),
            message: "upload".into(),
            source: Some(Box::new(wrapped)),
        };
        assert!(callback_fault(&err).is_some());
        let inner = Error::Io {
            path: "p".into(),
            operation: "read source",
            source: aborted(),
        };
        let outer = Error::Other {
            path: "p".into(),
            message: "retry gave up".into(),
            remote: None,
            source: Some(Box::new(inner)),
        };
        assert!(callback_fault(&outer).is_some());
    }

    #[test]
    fn an_abort_is_found_inside_a_batch() {
        let err = Error::Batch {
            failures: vec![
                BatchFailure {
                    path: "a".into(),
                    error: Error::not_found("a"),
                },
                BatchFailure {
                    path: "b".into(),
                    error: Error::Io {
                        path: "b".into(),
                        operation: "x",
                        source: aborted(),
                    },
                },
            ],
        };
        assert!(callback_fault(&err).is_some());
    }

    #[test]
    fn other_io_errors_are_not_aborts() {
        let err = Error::Io {
            path: "p".into(),
            operation: "write",
            source: io::Error::other("disk full"),
        };
        assert!(callback_fault(&err).is_none());
    }
}
