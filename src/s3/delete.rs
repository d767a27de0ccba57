//! DeleteObject.

use rusty_s3::Method;

use super::sign::request;
use super::S3;
use crate::error::Result;
use crate::http::RequestBody;
use crate::remote::client::Client;
use crate::remote::Delete;

impl Delete for S3 {
    /// DeleteObject; a missing object is not an error.
    fn delete(&self, c: &Client, path: &str, key: &str) -> Result<()> {
        let s3 = self;
        let build = || {
            Ok(request(
                "DELETE",
                s3.sign_request(Method::Delete, Some(key), &[], &[])?,
                Vec::new(),
            ))
        };
        match c.send(path, &build, RequestBody::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e.provider_code() == Some("NoSuchKey") => Ok(()),
            Err(e) => Err(e),
        }
    }
}
