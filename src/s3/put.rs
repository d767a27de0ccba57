//! PutObject: one request that makes the object what its body holds.

use rusty_s3::Method;

use super::sign::request;
use super::S3;
use crate::error::{Error, Result};
use crate::http::RequestBody;
use crate::remote::client::Client;
use crate::remote::{Put, PutMode, PutOptions};

impl Put for S3 {
    /// PutObject of exactly the body's bytes, with the content type.
    fn put(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        body: RequestBody<'_>,
        o: &PutOptions<'_>,
    ) -> Result<()> {
        let s3 = self;
        // Only overwriting puts exist yet; a new mode is a new arm here.
        let PutMode::Overwrite = o.mode;
        let build = || {
            let ct = [("content-type", o.content_type)];
            let url = s3.sign_request(Method::Put, Some(key), &[], &ct)?;
            Ok(request("PUT", url, vec![("content-type", o.content_type.to_owned())]))
        };
        c.send(path, &build, body)
            .map(drop)
            .map_err(|e| missing_bucket_on_write(s3, path, e))
    }
}

/// A 404 on a write can only mean the bucket is missing (some servers say
/// NoSuchKey); say so.
pub(super) fn missing_bucket_on_write(s3: &S3, path: &str, e: Error) -> Error {
    match e {
        Error::NotFound { remote, path: p } if !p.starts_with("s3://") => Error::NotFound {
            path: format!("s3://{} (bucket, for {path})", s3.bucket.name()),
            remote,
        },
        other => other,
    }
}
