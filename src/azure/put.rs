//! Put Blob: one request that makes the blob what its body holds.

use super::request::Req;
use super::{Azure, META_PREFIX};
use crate::checksum::Checksum;
use crate::error::Result;
use crate::http::{header, RequestBody};
use crate::remote::client::Client;
use crate::remote::{Put, PutArgs};

impl Put for Azure {
    /// Put Blob (a block blob) of exactly the body's bytes, under the
    /// mode's condition; returns the ETag.
    fn put(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        body: RequestBody<'_>,
        o: &PutArgs<'_>,
    ) -> Result<Option<String>> {
        let az = self;
        let req = Req::new("PUT", az.blob_path(key))
            .header("content-type", o.content_type)
            .header("x-ms-blob-type", "BlockBlob");
        let req = with_checksum(conditioned(with_metadata(req, o), o), o.digest.as_ref());
        az.send(c, path, &req, body)
            .map(|resp| header(&resp, "etag").map(str::to_owned))
    }
}

/// `req` with the user metadata (`x-ms-meta-*`).
pub(super) fn with_metadata(mut req: Req, o: &PutArgs<'_>) -> Req {
    for (name, value) in o.metadata {
        req = req.header(format!("{META_PREFIX}{name}"), value.as_str());
    }
    req
}

/// `req` with the header Azure checks the body against: `Content-MD5`
/// (kept as the blob's MD5 by Put Blob) or `x-ms-content-crc64`. Azure has
/// no header for the other algorithms.
pub(super) fn with_checksum(req: Req, sum: Option<&Checksum>) -> Req {
    match sum {
        Some(sum @ Checksum::Md5(_)) => req.header("content-md5", sum.base64()),
        Some(sum @ Checksum::Crc64Nvme(_)) => req.header("x-ms-content-crc64", sum.base64_le()),
        _ => req,
    }
}

/// `req` with the mode's condition header.
pub(super) fn conditioned(req: Req, o: &PutArgs<'_>) -> Req {
    match o.condition() {
        Some((name, value)) => req.header(name, value),
        None => req,
    }
}
