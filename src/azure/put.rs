//! Put Blob: one request that makes the blob what its body holds.

use super::request::Req;
use super::Azure;
use crate::error::Result;
use crate::http::RequestBody;
use crate::remote::client::Client;
use crate::remote::{Put, PutMode, PutOptions};

impl Put for Azure {
    /// Put Blob (a block blob) of exactly the body's bytes.
    fn put(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        body: RequestBody<'_>,
        o: &PutOptions<'_>,
    ) -> Result<()> {
        let az = self;
        // Only overwriting puts exist yet; a new mode is a new arm here.
        let PutMode::Overwrite = o.mode;
        let req = Req::new("PUT", az.blob_path(key))
            .header("content-type", o.content_type)
            .header("x-ms-blob-type", "BlockBlob");
        az.send(c, path, &req, body).map(drop)
    }
}
