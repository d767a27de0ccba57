//! Delete Blob.

use super::request::Req;
use super::Azure;
use crate::error::Result;
use crate::http::RequestBody;
use crate::remote::client::Client;
use crate::remote::Delete;

impl Delete for Azure {
    /// Delete Blob (with its snapshots); a missing blob is not an error.
    fn delete(&self, c: &Client, path: &str, key: &str) -> Result<()> {
        let az = self;
        let req = Req::new("DELETE", az.blob_path(key)).header("x-ms-delete-snapshots", "include");
        match az.send(c, path, &req, RequestBody::Empty) {
            Ok(_) => Ok(()),
            Err(e) if e.provider_code() == Some("BlobNotFound") => Ok(()),
            Err(e) => Err(e),
        }
    }
}
