//! `blobio_buffer`: bytes blobio allocated for the caller.

use std::ptr;

use super::boundary::guard;

/// Bytes returned by `blobio_read()`. `data` is NULL when `len` is 0. The
/// memory belongs to blobio: release it with `blobio_buffer_free()`, never
/// with `free()`.
#[repr(C)]
#[derive(Debug)]
pub struct blobio_buffer {
    /// The first byte, or NULL when empty.
    pub data: *mut u8,
    /// Number of bytes at `data`.
    pub len: usize,
}

impl blobio_buffer {
    /// Hands `bytes` to C.
    pub(crate) fn from_vec(bytes: Vec<u8>) -> blobio_buffer {
        if bytes.is_empty() {
            return blobio_buffer {
                data: ptr::null_mut(),
                len: 0,
            };
        }
        let len = bytes.len();
        let data = Box::into_raw(bytes.into_boxed_slice()).cast::<u8>();
        blobio_buffer { data, len }
    }
}

/// Releases the bytes of `buf` and resets it to `{NULL, 0}`, so freeing it
/// twice is harmless. NULL, and a buffer that is already empty, are no-ops.
#[no_mangle]
pub unsafe extern "C" fn blobio_buffer_free(buf: *mut blobio_buffer) {
    guard((), || {
        // SAFETY: NULL or a live blobio_buffer, as promised.
        let Some(buf) = (unsafe { buf.as_mut() }) else {
            return;
        };
        if !buf.data.is_null() {
            // SAFETY: non-NULL data and len came from `from_vec`'s boxed
            // slice and have not been freed (the fields are reset below).
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(buf.data, buf.len)) });
        }
        buf.data = ptr::null_mut();
        buf.len = 0;
    })
}
