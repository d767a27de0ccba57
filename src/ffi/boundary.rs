//! The boundary every export runs inside: argument checks, panic catching,
//! and turning a failure into a status plus the thread's last error.

use std::borrow::Cow;
use std::ffi::{c_char, CStr};
use std::panic::{self, AssertUnwindSafe};

use super::last_error;
use super::status::blobio_status;
use crate::error::Error;

/// Why an export failed.
pub(crate) enum Failure {
    /// A required pointer argument was NULL; names the argument.
    NullArgument(Cow<'static, str>),
    /// A string argument was not UTF-8; names the argument and says where.
    NotUtf8(Cow<'static, str>, usize),
    /// The Rust API (or the C layer's own checks) failed.
    Error(Error),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure::Error(err)
    }
}

/// Result of an export's body.
pub(crate) type FfiResult<T> = Result<T, Failure>;

/// Runs the body of a status-returning export named `function`.
///
/// A panic becomes `BLOBIO_STATUS_PANIC`; any failure is recorded as the
/// calling thread's last error. The body writes its out-parameters only once
/// everything else has succeeded.
pub(crate) fn boundary(
    function: &'static str,
    body: impl FnOnce() -> FfiResult<()>,
) -> blobio_status {
    // Ok: the body failed; Err: it panicked.
    let failed = match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return blobio_status::Ok,
        Ok(Err(failure)) => Ok(failure),
        Err(payload) => Err(payload),
    };
    // Describing the failure formats, allocates and drops the error (or the
    // panic payload); a panic in any of that must not escape either.
    panic::catch_unwind(AssertUnwindSafe(|| {
        let (status, message, detail) = match failed {
            Ok(failure) => describe(function, failure),
            Err(payload) => (
                blobio_status::Panic,
                format!(
                    "{function}: blobio panicked (a bug in blobio): {}",
                    panic_message(&*payload)
                ),
                None,
            ),
        };
        last_error::set(status, message, detail);
        status
    }))
    .unwrap_or(blobio_status::Panic)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic payload")
}

/// HTTP status and provider code of a failure, when a server gave them.
type Detail = (Option<u16>, Option<String>);

fn describe(function: &'static str, failure: Failure) -> (blobio_status, String, Option<Detail>) {
    match failure {
        Failure::NullArgument(name) => (
            blobio_status::NullArgument,
            format!("{function}: argument `{name}` is NULL"),
            None,
        ),
        Failure::NotUtf8(name, at) => (
            blobio_status::InvalidArgument,
            format!("{function}: argument `{name}` is not valid UTF-8 (bad byte at offset {at})"),
            None,
        ),
        Failure::Error(err) => (
            blobio_status::from_error(&err),
            format!("{function}: {err}"),
            Some((err.http_status(), err.provider_code().map(str::to_owned))),
        ),
    }
}

/// Runs the body of an export that does not return a status; a panic gives
/// `fallback`.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A required `const T *` argument.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `T` for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, name: &'static str) -> FfiResult<&'a T> {
    // SAFETY: the caller promises a non-NULL `ptr` is valid.
    unsafe { ptr.as_ref() }.ok_or(Failure::NullArgument(Cow::Borrowed(name)))
}

/// A required UTF-8, NUL-terminated string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, name: &'static str) -> FfiResult<&'a str> {
    // SAFETY: as promised by the caller.
    unsafe { c_str(ptr, Cow::Borrowed(name)) }
}

/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, name: Cow<'static, str>) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(Failure::NullArgument(name));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| Failure::NotUtf8(name, e.valid_up_to()))
}

/// Input bytes `data`/`len`; `data` may be NULL only when `len` is 0.
///
/// # Safety
/// A non-NULL `data` is valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(
    data: *const u8,
    len: usize,
    name: &'static str,
) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Failure::NullArgument(Cow::Borrowed(name)));
    }
    // SAFETY: non-NULL and, as promised, valid for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Output bytes `dst`/`len`; `dst` may be NULL only when `len` is 0.
///
/// # Safety
/// A non-NULL `dst` is valid for writes of `len` bytes for `'a` and aliases
/// nothing else the call touches.
pub(crate) unsafe fn arg_bytes_mut<'a>(
    dst: *mut u8,
    len: usize,
    name: &'static str,
) -> FfiResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if dst.is_null() {
        return Err(Failure::NullArgument(Cow::Borrowed(name)));
    }
    // Bytes behind a C pointer are opaque to Rust and taken as initialised;
    // backends only write into a read buffer, and valgrind would flag one
    // that read it first.
    // SAFETY: non-NULL and, as promised, valid for writes of `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(dst, len) })
}

/// A required out-parameter: checked for NULL up front, written only at the
/// end of a successful call.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Stores `value` without reading or dropping what was there (C memory,
    /// possibly uninitialised).
    pub(crate) fn write(self, value: T) {
        // SAFETY: `arg_out` checked for NULL; the caller of the export
        // promised the pointer is valid for writes of `T`.
        unsafe { self.0.write(value) }
    }
}

/// A required `T *out` argument.
///
/// # Safety
/// `ptr` is NULL or valid for writes of `T` until the export returns.
pub(crate) unsafe fn arg_out<T>(ptr: *mut T, name: &'static str) -> FfiResult<Out<T>> {
    if ptr.is_null() {
        return Err(Failure::NullArgument(Cow::Borrowed(name)));
    }
    Ok(Out(ptr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    #[test]
    fn a_panic_becomes_the_panic_status_and_a_message() {
        let status = boundary("blobio_test", || panic!("boom"));
        assert_eq!(status, blobio_status::Panic);
        let message = last_error::message_for_tests();
        assert!(
            message.contains("blobio_test") && message.contains("boom"),
            "{message}"
        );
    }

    #[test]
    fn a_null_argument_is_named_in_the_message() {
        let status = boundary("blobio_test", || {
            // SAFETY: NULL is always acceptable to arg_str.
            unsafe { arg_str(ptr::null(), "path") }.map(|_| ())
        });
        assert_eq!(status, blobio_status::NullArgument);
        assert!(last_error::message_for_tests().contains("`path` is NULL"));
    }

    #[test]
    fn invalid_utf8_is_an_invalid_argument() {
        let status = boundary("blobio_test", || {
            // SAFETY: a NUL-terminated literal.
            unsafe { arg_str(c"ab\xffc".as_ptr(), "path") }.map(|_| ())
        });
        assert_eq!(status, blobio_status::InvalidArgument);
        assert!(last_error::message_for_tests().contains("offset 2"));
    }

    #[test]
    fn guard_returns_the_fallback_on_panic() {
        assert_eq!(guard(7, || panic!("boom")), 7);
        assert_eq!(guard(7, || 3), 3);
    }
}
