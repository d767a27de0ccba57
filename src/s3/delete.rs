//! DeleteObject.

use super::sign::request;
use super::S3;
use crate::error::Result;
use crate::http::RequestBody;
use crate::remote::client::Client;

/// DeleteObject; a missing object is not an error.
pub(super) fn delete(s3: &S3, c: &Client, path: &str, key: &str) -> Result<()> {
    let build = || Ok(request("DELETE", s3.sign(s3.bucket.delete_object(s3.credentials.as_ref(), key)), Vec::new()));
    match c.send(path, &build, RequestBody::Empty) {
        Ok(_) => Ok(()),
        Err(e) if e.provider_code() == Some("NoSuchKey") => Ok(()),
        Err(e) => Err(e),
    }
}
