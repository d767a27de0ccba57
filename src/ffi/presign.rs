//! `blobio_presign`: a URL that grants one request on an object.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{arg_out, arg_ref, arg_str, boundary};
use super::status::blobio_status;
use super::store::blobio_store;
use super::strings::into_c_string;
use crate::backend::PresignMethod;
use crate::error::Error;

/// A URL that lets anyone holding it send one `method` request (`"GET"`,
/// `"PUT"` or `"HEAD"`) for the object at `path`, during the next
/// `expires_seconds` (1 to 604800, 7 days), with no credentials of their
/// own; for example `curl "$url"` or `curl -T file "$url"`.
///
/// S3 presigns it with the store's current credentials (a session token
/// included: temporary credentials end the URL's life when they expire);
/// Azure makes a blob service SAS from the account key, and a store opened
/// without the key (a SAS, a token) gets `BLOBIO_STATUS_UNSUPPORTED`, as
/// does the local store. An anonymous S3 store gives the plain URL. The URL
/// is a secret: keep it as you would a key. On success `*out` receives it,
/// to release with `blobio_string_free()`.
#[no_mangle]
pub unsafe extern "C" fn blobio_presign(
    store: *const blobio_store,
    method: *const c_char,
    path: *const c_char,
    expires_seconds: u64,
    out: *mut *mut c_char,
) -> blobio_status {
    boundary("blobio_presign", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `method` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let method = unsafe { arg_str(method, "method") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        // SAFETY: `out` is NULL, which `arg_out` refuses, or valid for writes of its type until
        // this export returns (the header's out-parameter contract); it is written only on
        // success.
        let out = unsafe { arg_out(out, "out") }?;
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => PresignMethod::Get,
            "PUT" => PresignMethod::Put,
            "HEAD" => PresignMethod::Head,
            _ => {
                return Err(Error::invalid_argument(format!(
                    "presign method {method:?}: GET, PUT or HEAD"
                ))
                .into())
            }
        };
        let url = store.backend().presign(method, path, Duration::from_secs(expires_seconds))?;
        out.write(into_c_string(url)?.into_raw());
        Ok(())
    })
}
