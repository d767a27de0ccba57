//! Put Blob: one request that makes the blob what its body holds.

use super::request::Req;
use super::{Azure, META_PREFIX};
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
        let req = conditioned(with_metadata(req, o), o);
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

/// `req` with the mode's condition header.
pub(super) fn conditioned(req: Req, o: &PutArgs<'_>) -> Req {
    match o.condition() {
        Some((name, value)) => req.header(name, value),
        None => req,
    }
}
