//! PutObject: one request that makes the object what its body holds.

use rusty_s3::Method;

use super::sign::request_with;
use super::{S3, META_PREFIX};
use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::error::{Error, Result};
use crate::http::{header, RequestBody};
use crate::remote::client::{Client, HeaderName};
use crate::backend::PutMode;
use crate::remote::{Put, PutArgs};

impl Put for S3 {
    /// PutObject of exactly the body's bytes, with the content type and
    /// the mode's condition; returns the ETag.
    fn put(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        body: RequestBody<'_>,
        o: &PutArgs<'_>,
    ) -> Result<Option<String>> {
        let s3 = self;
        let build = || {
            let headers = put_headers(o);
            let url = s3.sign_request(Method::Put, Some(key), &[], &signed(&headers))?;
            Ok(request_with("PUT", url, headers))
        };
        c.send(path, &build, body)
            .map(|resp| header(&resp, "etag").map(str::to_owned))
            .map_err(|e| match o.mode {
                // If-Match of a missing key: the key is what is missing.
                PutMode::Update(_) if e.provider_code() == Some("NoSuchKey") => e,
                _ => missing_bucket_on_write(s3, path, e),
            })
    }
}

/// The headers of a PutObject: content type, user metadata, the body's
/// checksum and the mode's condition.
pub(super) fn put_headers(o: &PutArgs<'_>) -> Vec<(HeaderName, String)> {
    let mut headers = attribute_headers(o);
    if let Some(sum) = &o.digest {
        push_checksum(&mut headers, sum);
    }
    if let Some((name, value)) = o.condition() {
        headers.push((name.into(), value.to_owned()));
    }
    headers
}

/// The header S3 checks a body against: `x-amz-checksum-<algorithm>`
/// (with `x-amz-sdk-checksum-algorithm`, which some servers need before
/// they keep the checksum), or `Content-MD5`.
pub(super) fn push_checksum(headers: &mut Vec<(HeaderName, String)>, sum: &Checksum) {
    let value = sum.base64();
    match sum {
        Checksum::Md5(_) => headers.push(("content-md5".into(), value)),
        _ => {
            let (name, algorithm) = checksum_names(sum.algorithm());
            headers.push((name.into(), value));
            headers.push(("x-amz-sdk-checksum-algorithm".into(), algorithm.to_owned()));
        }
    }
}

/// S3's header and name of an algorithm it keeps (not MD5, nor none).
pub(super) fn checksum_names(a: ChecksumAlgorithm) -> (&'static str, &'static str) {
    match a {
        ChecksumAlgorithm::Crc64Nvme => ("x-amz-checksum-crc64nvme", "CRC64NVME"),
        ChecksumAlgorithm::Sha256 => ("x-amz-checksum-sha256", "SHA256"),
        _ => ("x-amz-checksum-crc32c", "CRC32C"),
    }
}

/// What the object is: content type and user metadata (`x-amz-meta-*`),
/// sent with PutObject and CreateMultipartUpload.
pub(super) fn attribute_headers(o: &PutArgs<'_>) -> Vec<(HeaderName, String)> {
    let mut headers = Vec::with_capacity(2 + o.metadata.len());
    headers.push(("content-type".into(), o.content_type.to_owned()));
    for (name, value) in o.metadata {
        headers.push((format!("{META_PREFIX}{name}").into(), value.clone()));
    }
    headers
}

/// Headers as the signer takes them: every header sent is signed.
pub(super) fn signed(headers: &[(HeaderName, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(k, v)| (&**k, v.as_str())).collect()
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
