//! The calling thread's last failure, set at the boundary of every export.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::ptr;

use super::boundary::guard;
use super::status::blobio_status;

struct LastError {
    message: CString,
    http_status: i32,
    code: Option<CString>,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

/// A C string of `s`; a NUL inside (never expected) is shown as `\0`.
fn c_string(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let shown = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\\0");
        CString::new(shown).unwrap_or_default()
    })
}

/// Records a failure of `status` as the calling thread's last error.
pub(crate) fn set(
    status: blobio_status,
    message: String,
    detail: Option<(Option<u16>, Option<String>)>,
) {
    debug_assert_ne!(status, blobio_status::Ok);
    let (http_status, code) = detail.unwrap_or((None, None));
    let error = LastError {
        message: c_string(message),
        http_status: http_status.map_or(0, i32::from),
        code: code.map(c_string),
    };
    // During thread teardown the slot may be gone; the status still tells.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = Some(error));
}

fn with_last<T>(fallback: T, f: impl FnOnce(&LastError) -> T) -> T {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ref().map(f))
        .ok()
        .flatten()
        .unwrap_or(fallback)
}

/// A message describing the last failure of a blobio call on the calling
/// thread, naming the function and, where there is one, the path; `""` when
/// no call has failed on this thread.
///
/// Only failures set it; a successful call leaves it as it was. The string
/// belongs to blobio: it stays valid until the next failing blobio call on
/// the same thread. Copy it to keep it. Never NULL.
#[no_mangle]
pub extern "C" fn blobio_last_error_message() -> *const c_char {
    guard(c"".as_ptr(), || {
        with_last(c"".as_ptr(), |e| e.message.as_ptr())
    })
}

/// The HTTP status of the response behind the last failure on the calling
/// thread, or 0 when that failure had no HTTP response (a local error, a
/// connection failure) or no call has failed.
#[no_mangle]
pub extern "C" fn blobio_last_error_http_status() -> i32 {
    guard(0, || with_last(0, |e| e.http_status))
}

/// The provider's error code behind the last failure on the calling thread
/// (`NoSuchKey`, `BlobNotFound`, `SignatureDoesNotMatch`, ...), or NULL when
/// the server gave none or no call has failed. Valid until the next failing
/// blobio call on the same thread; must not be freed.
#[no_mangle]
pub extern "C" fn blobio_last_error_code() -> *const c_char {
    guard(ptr::null(), || {
        with_last(ptr::null(), |e| {
            e.code.as_ref().map_or(ptr::null(), |c| c.as_ptr())
        })
    })
}

/// The last error message as a Rust string, for unit tests.
#[cfg(test)]
pub(crate) fn message_for_tests() -> String {
    // SAFETY: blobio_last_error_message never returns NULL and its string
    // lives until the next failure on this thread.
    unsafe { std::ffi::CStr::from_ptr(blobio_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_kept_and_nul_bytes_are_escaped() {
        set(
            blobio_status::NotFound,
            "a\0b".to_owned(),
            Some((Some(404), Some("NoSuchKey".to_owned()))),
        );
        assert_eq!(message_for_tests(), "a\\0b");
        assert_eq!(blobio_last_error_http_status(), 404);
        // SAFETY: non-NULL, as set just above.
        let code = unsafe { std::ffi::CStr::from_ptr(blobio_last_error_code()) };
        assert_eq!(code.to_bytes(), b"NoSuchKey");
    }

    #[test]
    fn a_thread_without_failures_has_an_empty_message() {
        std::thread::spawn(|| {
            assert_eq!(message_for_tests(), "");
            assert_eq!(blobio_last_error_http_status(), 0);
            assert!(blobio_last_error_code().is_null());
        })
        .join()
        .unwrap();
    }
}
