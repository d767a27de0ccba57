//! Reading, writing, stating and deleting objects.

use std::borrow::Cow;
use std::ffi::{c_char, c_void};
use std::io::Read;

use super::boundary::{
    arg_bytes, arg_bytes_mut, arg_out, arg_ref, arg_str, boundary, c_str, Failure,
};
use super::buffer::blobio_buffer;
use super::callbacks::{
    blobio_read_cb, blobio_rewind_cb, blobio_write_cb, CallbackReader, CallbackWriter,
    RewindableSource,
};
use super::status::blobio_status;
use super::store::blobio_store;
use crate::error::Error;

/// Writes `len` bytes at `data` to `path`, atomically: a concurrent reader
/// sees the old object or the new one, never a mix. `data` may be NULL when
/// `len` is 0 (an empty object).
#[no_mangle]
pub unsafe extern "C" fn blobio_write(
    store: *const blobio_store,
    path: *const c_char,
    data: *const u8,
    len: usize,
) -> blobio_status {
    boundary("blobio_write", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: `data`/`len` is a data/len pair: the header documents `data` as readable for
        // `len` bytes during the call; `arg_bytes` refuses NULL unless `len` is 0.
        let data = unsafe { arg_bytes(data, len, "data") }?;
        store.backend().write(path, data)?;
        Ok(())
    })
}

/// The size argument of an upload: -1 is unknown.
pub(crate) fn upload_size(size: i64) -> Result<Option<u64>, Error> {
    match size {
        -1 => Ok(None),
        s => u64::try_from(s).map(Some).map_err(|_| {
            Error::invalid_argument(format!("size {s} is negative (use -1 for an unknown size)"))
        }),
    }
}

/// Streams an object to `path` from `cb` (see `blobio_read_cb`), without
/// holding it in memory. `size` is the exact number of bytes `cb` will give,
/// or -1 when unknown; a source that gives a different count fails with
/// `BLOBIO_STATUS_IO`. Nothing appears at `path` unless the whole stream
/// arrives. On the local store an interrupted stream leaves a staged
/// partial that `blobio_append_from()` can complete. A resilient store
/// attempts it once, as `cb` cannot be replayed (each part of a large
/// upload is still resent on its own); `blobio_write_from_rewindable()`
/// retries the whole upload.
#[no_mangle]
pub unsafe extern "C" fn blobio_write_from(
    store: *const blobio_store,
    path: *const c_char,
    cb: blobio_read_cb,
    user: *mut c_void,
    size: i64,
) -> blobio_status {
    // SAFETY: as promised by the caller.
    unsafe { write_from("blobio_write_from", store, path, cb, None, user, size) }
}

/// `blobio_write_from()` and, with `rewind` (NULL refused),
/// `blobio_write_from_rewindable()`.
///
/// # Safety
/// The exports' contract for every argument.
unsafe fn write_from(
    function: &'static str,
    store: *const blobio_store,
    path: *const c_char,
    cb: blobio_read_cb,
    rewind: Option<blobio_rewind_cb>,
    user: *mut c_void,
    size: i64,
) -> blobio_status {
    boundary(function, || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        let cb = cb.ok_or(Failure::NullArgument(Cow::Borrowed("cb")))?;
        let rewind = match rewind {
            Some(r) => Some(r.ok_or(Failure::NullArgument(Cow::Borrowed("rewind")))?),
            None => None,
        };
        let size = upload_size(size)?;
        match (rewind, store.as_resilient()) {
            (Some(rewind), Some(resilient)) => {
                // SAFETY: `cb` and `rewind` are the caller's callbacks for `user` (the header's
                // callback contract: called on this thread before the export returns, and they
                // return normally); the source is dropped before the export returns.
                let mut source = unsafe { RewindableSource::new(cb, rewind, user) };
                let mut open = || Ok(Box::new(source.open()?) as Box<dyn Read>);
                resilient.write_reader_with(path, &mut open, size)?;
            }
            // One attempt: the source is never rewound.
            _ => {
                // SAFETY: `cb` is the caller's read callback for `user` (the header's callback
                // contract: called on this thread before the export returns, and it returns
                // normally); the reader is dropped before the export returns.
                let mut reader = unsafe { CallbackReader::new(cb, user) };
                store.backend().write_reader(path, &mut reader, size)?;
            }
        }
        Ok(())
    })
}

/// `blobio_write_from()` from a source that can start over: `rewind` (see
/// `blobio_rewind_cb`) puts it back at its first byte. A store made by
/// `blobio_open() with `resilient=true`` then retries the whole upload after a transient
/// failure (network error, timeout, HTTP 5xx, 429), calling `rewind` before
/// each new attempt; any other store makes one attempt and never calls
/// `rewind`. `size` is the byte count of every pass (-1: unknown).
#[no_mangle]
pub unsafe extern "C" fn blobio_write_from_rewindable(
    store: *const blobio_store,
    path: *const c_char,
    cb: blobio_read_cb,
    rewind: blobio_rewind_cb,
    user: *mut c_void,
    size: i64,
) -> blobio_status {
    // SAFETY: as promised by the caller.
    unsafe {
        write_from(
            "blobio_write_from_rewindable",
            store,
            path,
            cb,
            Some(rewind),
            user,
            size,
        )
    }
}

/// Resumes an interrupted `blobio_write_from()` to `path`: appends exactly
/// `append_size` bytes from `cb` to the staged partial, then publishes the
/// object. `BLOBIO_STATUS_NOT_FOUND` when there is no partial; a short
/// source fails and keeps the (longer) partial for another attempt. Only
/// the local store can resume; S3 and Azure give
/// `BLOBIO_STATUS_RESUME_NOT_SUPPORTED` (delete and write from byte zero).
#[no_mangle]
pub unsafe extern "C" fn blobio_append_from(
    store: *const blobio_store,
    path: *const c_char,
    cb: blobio_read_cb,
    user: *mut c_void,
    append_size: u64,
) -> blobio_status {
    boundary("blobio_append_from", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        let cb = cb.ok_or(Failure::NullArgument(Cow::Borrowed("cb")))?;
        let backend = store.backend();
        let appender = backend
            .as_appending()
            .ok_or_else(|| Error::ResumeNotSupported {
                path: path.to_owned(),
                backend: backend.kind(),
            })?;
        // SAFETY: `cb` is the caller's read callback for `user` (the header's callback
        // contract: called on this thread before the export returns, and it returns normally);
        // the reader is dropped before the export returns.
        let mut reader = unsafe { CallbackReader::new(cb, user) };
        appender.append_reader(path, &mut reader, append_size)?;
        Ok(())
    })
}

/// Reads the whole object at `path` into memory. On success `*out` receives
/// the bytes, to release with `blobio_buffer_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_read(
    store: *const blobio_store,
    path: *const c_char,
    out: *mut blobio_buffer,
) -> blobio_status {
    boundary("blobio_read", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let bytes = store.backend().read(path)?;
        out.write(blobio_buffer::from_vec(bytes));
        Ok(())
    })
}

/// Streams the whole object at `path` to `cb` (see `blobio_write_cb`). On
/// success `*written` receives the number of bytes delivered. On failure the
/// callback may already have received part of the object.
#[no_mangle]
pub unsafe extern "C" fn blobio_read_to(
    store: *const blobio_store,
    path: *const c_char,
    cb: blobio_write_cb,
    user: *mut c_void,
    written: *mut u64,
) -> blobio_status {
    boundary("blobio_read_to", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        let cb = cb.ok_or(Failure::NullArgument(Cow::Borrowed("cb")))?;
        // SAFETY: `written` is NULL, which `arg_out` refuses, or valid for writes of its type
        // until this export returns (the header's out-parameter contract); it is written only
        // on success.
        let written = unsafe { arg_out(written, "written") }?;
        // SAFETY: `cb` is the caller's write callback for `user` (the header's callback
        // contract: called on this thread before the export returns, and it returns normally);
        // the writer is dropped before the export returns.
        let mut writer = unsafe { CallbackWriter::new(cb, user) };
        written.write(store.backend().read_to(path, &mut writer)?);
        Ok(())
    })
}

/// Streams the object at `path` from byte `offset` to its end to `cb`. An
/// offset of 0 is the whole object (an empty object delivers nothing); an
/// offset at or past the end of a non-empty object is
/// `BLOBIO_STATUS_INVALID_ARGUMENT`. On success `*written` receives the
/// number of bytes delivered.
#[no_mangle]
pub unsafe extern "C" fn blobio_read_to_at(
    store: *const blobio_store,
    path: *const c_char,
    offset: u64,
    cb: blobio_write_cb,
    user: *mut c_void,
    written: *mut u64,
) -> blobio_status {
    boundary("blobio_read_to_at", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        let cb = cb.ok_or(Failure::NullArgument(Cow::Borrowed("cb")))?;
        // SAFETY: `written` is NULL, which `arg_out` refuses, or valid for writes of its type
        // until this export returns (the header's out-parameter contract); it is written only
        // on success.
        let written = unsafe { arg_out(written, "written") }?;
        // SAFETY: `cb` is the caller's write callback for `user` (the header's callback
        // contract: called on this thread before the export returns, and it returns normally);
        // the writer is dropped before the export returns.
        let mut writer = unsafe { CallbackWriter::new(cb, user) };
        written.write(store.backend().read_to_at(path, &mut writer, offset)?);
        Ok(())
    })
}

/// Positional read: copies up to `len` bytes of the object at `path`,
/// starting at byte `offset`, into `dst`. On success `*n_read` receives the
/// count, fewer than `len` only at the end of the object. Offsets follow
/// `blobio_read_to_at()`: one at or past the end of a non-empty object is
/// `BLOBIO_STATUS_INVALID_ARGUMENT`. `dst` may be NULL when `len` is 0. On
/// failure the contents of `dst` are unspecified.
#[no_mangle]
pub unsafe extern "C" fn blobio_read_range(
    store: *const blobio_store,
    path: *const c_char,
    offset: u64,
    dst: *mut u8,
    len: usize,
    n_read: *mut usize,
) -> blobio_status {
    boundary("blobio_read_range", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: `n_read` is NULL, which `arg_out` refuses, or valid for writes of its type
        // until this export returns (the header's out-parameter contract); it is written only
        // on success.
        let n_read = unsafe { arg_out(n_read, "n_read") }?;
        // SAFETY: `dst`/`len` is the caller's buffer: writable for `len` bytes during the call
        // and aliasing no other argument, as the header documents; `arg_bytes_mut` refuses NULL
        // unless `len` is 0.
        let dst = unsafe { arg_bytes_mut(dst, len, "dst") }?;
        n_read.write(store.backend().read_range(path, offset, dst)?);
        Ok(())
    })
}

/// The size of the object at `path`: on success `*size` receives it, or -1
/// when the object does not exist (not an error). On the local store a
/// staged partial of an interrupted `blobio_write_from()` reports its
/// current size, while `blobio_exists()` says false.
#[no_mangle]
pub unsafe extern "C" fn blobio_stat(
    store: *const blobio_store,
    path: *const c_char,
    size: *mut i64,
) -> blobio_status {
    boundary("blobio_stat", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: `size` is NULL, which `arg_out` refuses, or valid for writes of its type
        // until this export returns (the header's out-parameter contract); it is written only
        // on success.
        let size_out = unsafe { arg_out(size, "size") }?;
        let size = match store.backend().stat_file(path)? {
            None => -1,
            Some(n) => i64::try_from(n).map_err(|_| {
                Error::invalid_argument(format!("{path}: size {n} does not fit in int64_t"))
            })?,
        };
        size_out.write(size);
        Ok(())
    })
}

/// Whether an object exists at `path`: on success `*out` receives the
/// answer. A missing object is not an error.
#[no_mangle]
pub unsafe extern "C" fn blobio_exists(
    store: *const blobio_store,
    path: *const c_char,
    out: *mut bool,
) -> blobio_status {
    boundary("blobio_exists", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        out.write(store.backend().exists(path)?);
        Ok(())
    })
}

/// Deletes the object at `path` (and, on the local store, any staged
/// partial of it). Deleting a missing object succeeds.
#[no_mangle]
pub unsafe extern "C" fn blobio_delete(
    store: *const blobio_store,
    path: *const c_char,
) -> blobio_status {
    boundary("blobio_delete", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        store.backend().delete(path)?;
        Ok(())
    })
}

/// Deletes the `n` objects named by `paths` in as few requests as the store
/// allows. Missing objects are not failures. Every path is checked for NULL
/// and UTF-8 before anything is deleted. When some deletions fail, the
/// others still happen, the status is that of the first failure and
/// `blobio_last_error_message()` counts and names the failures. `paths` may
/// be NULL when `n` is 0.
#[no_mangle]
pub unsafe extern "C" fn blobio_delete_batch(
    store: *const blobio_store,
    paths: *const *const c_char,
    n: usize,
) -> blobio_status {
    boundary("blobio_delete_batch", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        let ptrs: &[*const c_char] = if n == 0 {
            &[]
        } else if paths.is_null() {
            return Err(Failure::NullArgument(Cow::Borrowed("paths")));
        } else {
            // SAFETY: non-NULL and, as promised, valid for `n` pointers.
            unsafe { std::slice::from_raw_parts(paths, n) }
        };
        let keys = ptrs
            .iter()
            .enumerate()
            // SAFETY: each of the `n` pointers in `paths` is NULL, which `c_str` refuses, or a
            // NUL-terminated string valid until this export returns (the header's contract for
            // `paths`).
            .map(|(i, &p)| unsafe { c_str(p, Cow::Owned(format!("paths[{i}]"))) })
            .collect::<Result<Vec<&str>, Failure>>()?;
        let backend = store.backend();
        match backend.as_batch_deleter() {
            Some(deleter) => deleter.delete_batch(&keys)?,
            None => delete_one_by_one(backend, &keys)?,
        }
        Ok(())
    })
}

/// `delete_batch` for a store without the batch capability, with the same
/// outcome: every path attempted, failures collected.
fn delete_one_by_one(backend: &dyn crate::Backend, keys: &[&str]) -> Result<(), Error> {
    let failures: Vec<crate::BatchFailure> = keys
        .iter()
        .filter_map(|&path| {
            backend.delete(path).err().map(|error| crate::BatchFailure {
                path: path.to_owned(),
                error,
            })
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Batch { failures })
    }
}

/// Removes the directory `path` if it is empty; a missing directory
/// succeeds, a non-empty one fails. Object stores have no directories and
/// succeed without doing anything. `BLOBIO_STATUS_UNSUPPORTED` for a store
/// that cannot remove directories.
#[no_mangle]
pub unsafe extern "C" fn blobio_remove_directory(
    store: *const blobio_store,
    path: *const c_char,
) -> blobio_status {
    boundary("blobio_remove_directory", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        let backend = store.backend();
        let remover = backend.as_directory_remover().ok_or(Error::Unsupported {
            operation: "remove_directory",
            backend: backend.kind(),
        })?;
        remover.remove_directory(path)?;
        Ok(())
    })
}
