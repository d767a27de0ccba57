//! GetObject and HeadObject (and HeadBucket, the check at open).

use rusty_s3::Method;

use super::sign::request;
use super::S3;
use crate::error::{ErrorKind, Result};
use super::put::checksum_names;
use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::http::{header, RequestBody, Response};
use crate::remote::client::Client;
use crate::remote::{ByteRange, Get, GetOptions};

impl Get for S3 {
    /// GetObject with an optional `Range` and `If-Match`.
    fn get(&self, c: &Client, path: &str, key: &str, o: &GetOptions<'_>) -> Result<Response> {
        let s3 = self;
        let range = o.range.map(ByteRange::header);
        c.send(
            path,
            &|| {
                let mut headers = Vec::with_capacity(2);
                if let Some(r) = &range {
                    headers.push(("range", r.clone()));
                }
                if let Some(v) = o.if_match {
                    headers.push(("if-match", v.to_owned()));
                }
                let mode = [("x-amz-checksum-mode", "ENABLED")];
                let signed: &[(&str, &str)] = if o.checksum_mode { &mode } else { &[] };
                let url = s3.sign_request(Method::Get, Some(key), &[], signed)?;
                if o.checksum_mode {
                    headers.push(("x-amz-checksum-mode", "ENABLED".to_owned()));
                }
                Ok(request("GET", url, headers))
            },
            RequestBody::Empty,
        )
    }

    /// `x-amz-checksum-<algorithm>` of the whole object: not one ending in
    /// `-<parts>`, nor of type COMPOSITE (a checksum of the parts'
    /// checksums, which the body alone cannot give).
    fn stored_checksum(&self, resp: &Response) -> Option<Checksum> {
        if header(resp, "x-amz-checksum-type").is_some_and(|t| t.eq_ignore_ascii_case("COMPOSITE")) {
            return None;
        }
        [
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha256,
        ]
        .into_iter()
        .find_map(|a| {
            let value = header(resp, checksum_names(a).0)?;
            if value.contains('-') {
                return None;
            }
            Checksum::parse(a, value)
        })
    }

    /// HeadObject, with `If-Match` when given: the answer, or `None` on 404.
    fn head(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<Option<Response>> {
        let s3 = self;
        let sent = c.send(
            path,
            &|| {
                let headers = if_match
                    .map(|v| vec![("if-match", v.to_owned())])
                    .unwrap_or_default();
                let url = s3.sign_request(Method::Head, Some(key), &[], &[])?;
                Ok(request("HEAD", url, headers))
            },
            RequestBody::Empty,
        );
        match sent {
            Ok(resp) => Ok(Some(resp)),
            Err(e) if e.kind() == ErrorKind::NotFound && e.http_status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// HeadBucket.
pub(super) fn head_bucket(s3: &S3, c: &Client) -> Result<()> {
    let label = format!("bucket {}", s3.bucket.name());
    c.send(
        &label,
        &|| {
            Ok(request(
                "HEAD",
                s3.sign_request(Method::Head, None, &[], &[])?,
                Vec::new(),
            ))
        },
        RequestBody::Empty,
    )
    .map(drop)
}
