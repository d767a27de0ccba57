//! Get Blob, Get Blob Properties (and Get Container Properties, the check
//! at open).

use super::request::Req;
use super::Azure;
use crate::error::{ErrorKind, Result};
use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::http::{header, RequestBody, Response};
use crate::remote::client::Client;
use crate::remote::{Get, GetOptions};

impl Get for Azure {
    /// Get Blob with an optional `x-ms-range` and `If-Match`.
    fn get(&self, c: &Client, path: &str, key: &str, o: &GetOptions<'_>) -> Result<Response> {
        let az = self;
        let mut req = Req::new("GET", az.blob_path(key));
        if let Some(r) = o.range {
            req = req.header("x-ms-range", r.header());
        }
        if let Some(v) = o.if_match {
            req = req.header("if-match", v);
        }
        az.send(c, path, &req, RequestBody::Empty)
    }

    /// The MD5 Azure keeps of the blob: `Content-MD5` of a whole-blob
    /// answer, `x-ms-blob-content-md5` of a ranged one.
    fn stored_checksum(&self, resp: &Response) -> Option<Checksum> {
        let value = header(resp, "x-ms-blob-content-md5").or_else(|| header(resp, "content-md5"))?;
        Checksum::parse(ChecksumAlgorithm::Md5, value)
    }

    /// Get Blob Properties, with `If-Match` when given: the answer, or `None`
    /// when the blob is missing (a missing container is an error).
    fn head(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<Option<Response>> {
        let az = self;
        let mut req = Req::new("HEAD", az.blob_path(key));
        if let Some(v) = if_match {
            req = req.header("if-match", v);
        }
        match az.send(c, path, &req, RequestBody::Empty) {
            Ok(resp) => Ok(Some(resp)),
            Err(e)
                if e.kind() == ErrorKind::NotFound
                    && e.http_status() == Some(404)
                    && e.provider_code() != Some("ContainerNotFound") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Get Container Properties.
pub(super) fn container_properties(az: &Azure, c: &Client) -> Result<()> {
    let label = format!("azure://{}", az.container);
    let req = Req::new("GET", az.container_path.clone()).query("restype", "container");
    az.send(c, &label, &req, RequestBody::Empty).map(drop)
}
