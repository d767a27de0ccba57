//! CopyObject and UploadPartCopy: the server copies, the engine
//! (`src/remote/copy.rs`) decides which and runs the parts.

use percent_encoding::utf8_percent_encode;
use rusty_s3::Method;

use super::error::error_in_body;
use super::multipart::{parse_etag, ANSWER_LIMIT};
use super::put::{missing_bucket_on_write, signed};
use super::sign::request_with;
use super::S3;
use crate::error::Result;
use crate::http::PATH_SET;
use crate::remote::client::{Client, HeaderName};
use crate::remote::{CopyState, PutArgs, ServerCopy, Part};

impl S3 {
    /// `x-amz-copy-source` of the object `key` of this bucket.
    fn copy_source(&self, key: &str) -> String {
        let mut s = format!("/{}/", self.bucket.name());
        s.extend(utf8_percent_encode(key, PATH_SET));
        s
    }

    /// Sends a copy request and reads its answer: the ETag of the `root`
    /// document, or the error a 200 answer carries in its body.
    fn send_copy(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        query: &[(&str, &str)],
        headers: Vec<(HeaderName, String)>,
        root: &str,
    ) -> Result<Option<String>> {
        let build = || {
            let url = self.sign_request(Method::Put, Some(key), query, &signed(&headers))?;
            Ok(request_with("PUT", url, headers.clone()))
        };
        // A 200 may carry the copy's failure in its body.
        let check = |answer: &[u8]| error_in_body(path, answer);
        let answer = c
            .send_for_body(path, &build, &[], ANSWER_LIMIT, &check)
            .map_err(|e| missing_bucket_on_write(self, path, e))?;
        Ok(parse_etag(&answer, root))
    }
}

impl ServerCopy for S3 {
    /// CopyObject, keeping the source's content type and metadata
    /// (the default `COPY` directive), under the mode's condition.
    fn copy(
        &self,
        c: &Client,
        path: &str,
        src: &str,
        dst: &str,
        o: &PutArgs<'_>,
    ) -> Result<(Option<String>, CopyState)> {
        let mut headers: Vec<(HeaderName, String)> =
            vec![("x-amz-copy-source".into(), self.copy_source(src))];
        if let Some((name, value)) = o.condition() {
            headers.push((name.into(), value.to_owned()));
        }
        let etag = self.send_copy(c, path, dst, &[], headers, "CopyObjectResult")?;
        Ok((etag, CopyState::Done))
    }

    /// UploadPartCopy of a range of `src`, only while it is `src_etag`.
    fn copy_part(
        &self,
        c: &Client,
        path: &str,
        src: &str,
        src_etag: &str,
        dst: &str,
        upload: &str,
        n: u32,
        range: (u64, u64),
    ) -> Result<Part> {
        let number = (n + 1).to_string();
        let query = [("partNumber", number.as_str()), ("uploadId", upload)];
        let headers: Vec<(HeaderName, String)> = vec![
            ("x-amz-copy-source".into(), self.copy_source(src)),
            (
                "x-amz-copy-source-range".into(),
                format!("bytes={}-{}", range.0, range.1),
            ),
            ("x-amz-copy-source-if-match".into(), src_etag.to_owned()),
        ];
        let etag = self
            .send_copy(c, path, dst, &query, headers, "CopyPartResult")?
            .ok_or_else(|| crate::Error::Other {
                path: path.to_owned(),
                message: format!("copy of part {number} answered no ETag"),
                remote: None,
                source: None,
            })?;
        Ok(Part { id: etag, checksum: None })
    }
}
