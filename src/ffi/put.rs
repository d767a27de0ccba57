//! `blobio_put_options` and the writes that take them: conditional writes
//! (create only, update only a given version) that report the new version.

use std::borrow::Cow;
use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::Mutex;

use super::boundary::{arg_bytes, arg_out, arg_ref, arg_str, boundary, guard, FfiResult, Out};
use super::callbacks::{blobio_read_cb, CallbackReader};
use super::objects::upload_size;
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::backend::{PutMode, PutOptions, PutResult};
use crate::error::Error;

/// Put mode of `blobio_put_options_set_mode()`: replace whatever is at the
/// key (the default, as `blobio_write()`).
pub const BLOBIO_PUT_OVERWRITE: i32 = 0;
/// Put mode: write only if nothing is at the key; otherwise
/// `BLOBIO_STATUS_ALREADY_EXISTS` and nothing changes.
pub const BLOBIO_PUT_CREATE: i32 = 1;
/// Put mode: write only if the object is still the version given (one a
/// write reported); otherwise, or when it is gone,
/// `BLOBIO_STATUS_PRECONDITION_FAILED` and nothing changes.
pub const BLOBIO_PUT_UPDATE: i32 = 2;

/// What a write does besides storing the bytes: made by
/// `blobio_put_options_new()` (a plain overwrite until set otherwise),
/// released with `blobio_put_options_free()`; one handle may serve any
/// number of writes, from any thread (setters and writes are serialised).
pub struct blobio_put_options {
    inner: Mutex<PutOptions>,
}

impl blobio_put_options {
    fn with<T>(&self, f: impl FnOnce(&mut PutOptions) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Makes put options of a plain overwrite. On success `*out` receives a
/// handle to release with `blobio_put_options_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_put_options_new(out: *mut *mut blobio_put_options) -> blobio_status {
    boundary("blobio_put_options_new", || {
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        out.write(Box::into_raw(Box::new(blobio_put_options {
            inner: Mutex::new(PutOptions::default()),
        })));
        Ok(())
    })
}

/// Releases put options. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn blobio_put_options_free(opts: *mut blobio_put_options) {
    guard((), || {
        if !opts.is_null() {
            // SAFETY: made by `blobio_put_options_new` and, as the contract
            // says, not used after this call.
            drop(unsafe { Box::from_raw(opts) });
        }
    })
}

/// Sets the put mode: `BLOBIO_PUT_OVERWRITE`, `BLOBIO_PUT_CREATE` (with
/// `version` NULL) or `BLOBIO_PUT_UPDATE` with `version`, a version that a
/// write or `blobio_head()` reported. Another mode, a missing version for
/// an update or a version for another mode is
/// `BLOBIO_STATUS_INVALID_ARGUMENT` (NULL_ARGUMENT for the missing one) and
/// changes nothing.
#[no_mangle]
pub unsafe extern "C" fn blobio_put_options_set_mode(
    opts: *mut blobio_put_options,
    mode: i32,
    version: *const c_char,
) -> blobio_status {
    boundary("blobio_put_options_set_mode", || {
        // SAFETY: `opts` is NULL, which `arg_ref` refuses, or a live options handle from its
        // `_new`, not yet freed (the header's handle contract).
        let opts = unsafe { arg_ref(opts.cast_const(), "opts") }?;
        let mode = match mode {
            // SAFETY: `version` is NULL, which `arg_str` refuses, or a NUL-terminated string
            // the caller keeps valid until this export returns (the header's string contract);
            // the `&str` does not outlive the call.
            BLOBIO_PUT_UPDATE => PutMode::Update(unsafe { arg_str(version, "version") }?.to_owned()),
            _ if !version.is_null() => {
                return Err(Error::invalid_argument(
                    "version: only BLOBIO_PUT_UPDATE takes a version (pass NULL)",
                )
                .into())
            }
            BLOBIO_PUT_OVERWRITE => PutMode::Overwrite,
            BLOBIO_PUT_CREATE => PutMode::Create,
            other => {
                return Err(Error::invalid_argument(format!(
                    "mode: {other} is not a BLOBIO_PUT_* mode"
                ))
                .into())
            }
        };
        opts.with(|o| o.mode = mode);
        Ok(())
    })
}

/// Sets the content type of the written object; NULL goes back to the
/// store's default for the key (`application/vnd.apache.parquet` for
/// `.parquet` keys, else `application/octet-stream`). Checked when a write
/// uses it (printable ASCII).
#[no_mangle]
pub unsafe extern "C" fn blobio_put_options_set_content_type(
    opts: *mut blobio_put_options,
    content_type: *const c_char,
) -> blobio_status {
    boundary("blobio_put_options_set_content_type", || {
        // SAFETY: `opts` is NULL, which `arg_ref` refuses, or a live options handle from its
        // `_new`, not yet freed (the header's handle contract).
        let opts = unsafe { arg_ref(opts.cast_const(), "opts") }?;
        let ct = match content_type.is_null() {
            true => None,
            // SAFETY: `content_type` is NULL, which `arg_str` refuses, or a NUL-terminated
            // string the caller keeps valid until this export returns (the header's string
            // contract); the `&str` does not outlive the call.
            false => Some(unsafe { arg_str(content_type, "content_type") }?.to_owned()),
        };
        opts.with(|o| o.content_type = ct);
        Ok(())
    })
}

/// Sets the user metadata `name` to `value` (replacing an earlier value of
/// `name`); `value` NULL removes it. Names are lower-case ASCII letters,
/// digits and `_`, not starting with a digit; values printable ASCII
/// without leading or trailing spaces: anything else is
/// `BLOBIO_STATUS_INVALID_ARGUMENT` here and changes nothing.
#[no_mangle]
pub unsafe extern "C" fn blobio_put_options_set_metadata(
    opts: *mut blobio_put_options,
    name: *const c_char,
    value: *const c_char,
) -> blobio_status {
    boundary("blobio_put_options_set_metadata", || {
        // SAFETY: `opts` is NULL, which `arg_ref` refuses, or a live options handle from its
        // `_new`, not yet freed (the header's handle contract).
        let opts = unsafe { arg_ref(opts.cast_const(), "opts") }?;
        // SAFETY: `name` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let name = unsafe { arg_str(name, "name") }?.to_owned();
        let value = match value.is_null() {
            true => None,
            // SAFETY: `value` is NULL, which `arg_str` refuses, or a NUL-terminated string the
            // caller keeps valid until this export returns (the header's string contract); the
            // `&str` does not outlive the call.
            false => Some(unsafe { arg_str(value, "value") }?.to_owned()),
        };
        if let Some(v) = &value {
            PutOptions {
                metadata: vec![(name.clone(), v.clone())],
                ..PutOptions::default()
            }
            .check()?;
        }
        opts.with(|o| {
            o.metadata.retain(|(n, _)| *n != name);
            if let Some(v) = value {
                o.metadata.push((name, v));
            }
        });
        Ok(())
    })
}

/// The options a write was given (NULL: a plain overwrite).
///
/// # Safety
/// `opts` is NULL or a live handle.
unsafe fn options_of(opts: *const blobio_put_options) -> PutOptions {
    // SAFETY: as promised by the caller.
    match unsafe { opts.as_ref() } {
        Some(o) => o.with(|o| o.clone()),
        None => PutOptions::default(),
    }
}

/// The optional `char **version` out-parameter.
///
/// # Safety
/// `out` is NULL or valid for writes.
unsafe fn version_out(out: *mut *mut c_char) -> FfiResult<Option<Out<*mut c_char>>> {
    if out.is_null() {
        return Ok(None);
    }
    // SAFETY: as promised by the caller.
    unsafe { arg_out(out, "version") }.map(Some)
}

/// Writes the reported version to `out`, when asked for.
fn report(out: Option<Out<*mut c_char>>, put: PutResult) -> FfiResult<()> {
    if let Some(out) = out {
        let s = match put.version {
            Some(v) => into_c_string(v)?.into_raw(),
            None => ptr::null_mut(),
        };
        out.write(s);
    }
    Ok(())
}

/// `blobio_write()` with put options (`opts` NULL: a plain overwrite).
/// On success, when `version` is not NULL, `*version` receives the new
/// object's version (its ETag on S3 and Azure; a token of the file on the
/// local store), to release with `blobio_string_free()`, or NULL when the
/// store named none. A create that finds an object is
/// `BLOBIO_STATUS_ALREADY_EXISTS`; an update of a version that is no longer
/// there is `BLOBIO_STATUS_PRECONDITION_FAILED`; either leaves the object
/// as it was.
#[no_mangle]
pub unsafe extern "C" fn blobio_write_ex(
    store: *const blobio_store,
    path: *const c_char,
    data: *const u8,
    len: usize,
    opts: *const blobio_put_options,
    version: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_write_ex", || {
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
        // SAFETY: `version` is NULL (no version wanted) or valid for writes of a `char *` until
        // this export returns, as the header documents.
        let out = unsafe { version_out(version) }?;
        // SAFETY: `opts` is NULL (plain options) or a live `blobio_put_options`, not yet freed,
        // as the header documents.
        let options = unsafe { options_of(opts) };
        report(out, store.backend().put(path, data, &options)?)
    })
}

/// `blobio_write_from()` with put options and the new version, as
/// `blobio_write_ex()`. An upload in parts is conditional at its
/// completion: a refused one leaves nothing behind. Attempted once.
#[no_mangle]
pub unsafe extern "C" fn blobio_write_from_ex(
    store: *const blobio_store,
    path: *const c_char,
    cb: blobio_read_cb,
    user: *mut c_void,
    size: i64,
    opts: *const blobio_put_options,
    version: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_write_from_ex", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        let cb = cb.ok_or(super::boundary::Failure::NullArgument(Cow::Borrowed("cb")))?;
        let size = upload_size(size)?;
        // SAFETY: `version` is NULL (no version wanted) or valid for writes of a `char *` until
        // this export returns, as the header documents.
        let out = unsafe { version_out(version) }?;
        // SAFETY: `opts` is NULL (plain options) or a live `blobio_put_options`, not yet freed,
        // as the header documents.
        let options = unsafe { options_of(opts) };
        // SAFETY: `cb` is the caller's read callback for `user` (the header's callback
        // contract: called on this thread before the export returns, and it returns normally);
        // the reader is dropped before the export returns.
        let mut reader = unsafe { CallbackReader::new(cb, user) };
        report(out, store.backend().put_reader(path, &mut reader, size, &options)?)
    })
}

/// Which of copy and rename.
type Transfer = fn(&dyn crate::Backend, &str, &str, &PutOptions) -> crate::Result<PutResult>;

/// The body of `blobio_copy()` and `blobio_rename()`.
///
/// # Safety
/// The exports' contract for every argument.
unsafe fn transfer(
    function: &'static str,
    op: Transfer,
    store: *const blobio_store,
    from: *const c_char,
    to: *const c_char,
    opts: *const blobio_put_options,
    version: *mut *mut c_char,
) -> blobio_status {
    boundary(function, || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `from` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let from = unsafe { arg_str(from, "from") }?;
        // SAFETY: `to` is NULL, which `arg_str` refuses, or a NUL-terminated string the caller
        // keeps valid until this export returns (the header's string contract); the `&str` does
        // not outlive the call.
        let to = unsafe { arg_str(to, "to") }?;
        // SAFETY: `version` is NULL (no version wanted) or valid for writes of a `char *` until
        // this export returns, as the header documents.
        let out = unsafe { version_out(version) }?;
        // SAFETY: `opts` is NULL (plain options) or a live `blobio_put_options`, not yet freed,
        // as the header documents.
        let options = unsafe { options_of(opts) };
        report(out, op(store.backend(), from, to, &options)?)
    })
}

/// Copies the object `from` to `to` on the store itself (S3 CopyObject or
/// UploadPartCopy, Azure Copy Blob, a `copy_file_range` locally), with its
/// content type and metadata. `opts` (NULL: overwrite) gives the put mode
/// for `to`, and nothing else: a content type or metadata set on it is
/// `BLOBIO_STATUS_INVALID_ARGUMENT`, as is a copy onto itself. `version`
/// as for `blobio_write_ex()`. A missing `from` is `BLOBIO_STATUS_NOT_FOUND`.
#[no_mangle]
pub unsafe extern "C" fn blobio_copy(
    store: *const blobio_store,
    from: *const c_char,
    to: *const c_char,
    opts: *const blobio_put_options,
    version: *mut *mut c_char,
) -> blobio_status {
    // SAFETY: as promised by the caller.
    unsafe { transfer("blobio_copy", |b, f, t, o| b.copy(f, t, o), store, from, to, opts, version) }
}

/// Moves the object `from` to `to`, as `blobio_copy()` takes its
/// arguments. Local: one atomic rename. S3 and Azure: a server-side copy,
/// then the delete of `from`; not atomic (for a moment both exist; a failed
/// copy deletes nothing, a failed delete leaves both).
#[no_mangle]
pub unsafe extern "C" fn blobio_rename(
    store: *const blobio_store,
    from: *const c_char,
    to: *const c_char,
    opts: *const blobio_put_options,
    version: *mut *mut c_char,
) -> blobio_status {
    // SAFETY: as promised by the caller.
    unsafe { transfer("blobio_rename", |b, f, t, o| b.rename(f, t, o), store, from, to, opts, version) }
}
