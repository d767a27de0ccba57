//! S3 multipart uploads: CreateMultipartUpload, UploadPart,
//! CompleteMultipartUpload, AbortMultipartUpload. The engine
//! (`src/remote/upload.rs`) cuts the source into parts and runs them; a
//! failed upload is aborted, so no parts are left behind and no object
//! appears.

use rusty_s3::Method;

use super::error::error_in_body;
use super::put::{attribute_headers, missing_bucket_on_write, signed};
use super::sign::{request, request_with};
use super::S3;
use crate::error::{Error, Result};
use crate::http::{header, read_small_body, RequestBody};
use crate::remote::client::Client;
use crate::remote::{Parts, PutArgs};
use crate::xml::{escape, walk};

impl Parts for S3 {
    /// CreateMultipartUpload; returns the upload id.
    fn start_upload(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        o: &PutArgs<'_>,
    ) -> Result<String> {
        let s3 = self;
        let build = || {
            let headers = attribute_headers(o);
            let query = [("uploads", "")];
            let url = s3.sign_request(Method::Post, Some(key), &query, &signed(&headers))?;
            Ok(request_with("POST", url, headers))
        };
        let resp = c
            .send(path, &build, RequestBody::Empty)
            .map_err(|e| missing_bucket_on_write(s3, path, e))?;
        let body = read_small_body(path, resp, 1024 * 1024)?;
        parse_upload_id(&body).map_err(|why| Error::Other {
            path: path.to_owned(),
            message: format!("unreadable CreateMultipartUpload response: {why}"),
            remote: None,
            source: None,
        })
    }

    /// UploadPart of part `n` (from 0; S3 numbers them from 1); returns its
    /// ETag.
    fn put_part(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        upload_id: &str,
        n: u32,
        data: &[u8],
    ) -> Result<String> {
        let s3 = self;
        // n < MAX_PARTS (10,000), so the part number fits.
        let number = (n + 1) as u16;
        let build = || {
            let number = number.to_string();
            let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
            let url = s3.sign_request(Method::Put, Some(key), &query, &[])?;
            Ok(request("PUT", url, Vec::new()))
        };
        let resp = c.send(path, &build, RequestBody::Bytes(data))?;
        header(&resp, "etag")
            .map(str::to_owned)
            .ok_or_else(|| Error::Other {
                path: path.to_owned(),
                message: format!("part {number} response has no ETag"),
                remote: None,
                source: None,
            })
    }

    /// CompleteMultipartUpload of the parts' ETags, in order, under the
    /// mode's condition (S3 checks it at completion); returns the ETag.
    fn complete_upload(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        upload_id: &str,
        etags: &[String],
        o: &PutArgs<'_>,
    ) -> Result<Option<String>> {
        let s3 = self;
        let body = complete_body(etags);
        let build = || {
            let mut headers = vec![("content-type".into(), "application/xml".to_owned())];
            if let Some((name, value)) = o.condition() {
                headers.push((name.into(), value.to_owned()));
            }
            let query = [("uploadId", upload_id)];
            let url = s3.sign_request(Method::Post, Some(key), &query, &signed(&headers))?;
            Ok(request_with("POST", url, headers))
        };
        // S3 may answer 200 and still fail: the failure is in the body.
        let check = |answer: &[u8]| error_in_body(path, answer);
        let answer = c.send_for_body(path, &build, body.as_bytes(), ANSWER_LIMIT, &check)?;
        Ok(parse_etag(&answer, "CompleteMultipartUploadResult"))
    }

    /// AbortMultipartUpload, best effort.
    fn abort_upload(&self, c: &Client, path: &str, key: &str, upload_id: &str) {
        let s3 = self;
        let build = || {
            let url = s3.sign_request(Method::Delete, Some(key), &[("uploadId", upload_id)], &[])?;
            Ok(request("DELETE", url, Vec::new()))
        };
        match c.send(path, &build, RequestBody::Empty) {
            Ok(_) => log::info!("aborted multipart upload of {path}"),
            Err(e) => log::warn!("could not abort multipart upload {upload_id} of {path}: {e}"),
        }
    }
}

/// Longest answer document read.
pub(super) const ANSWER_LIMIT: u64 = 1024 * 1024;

/// The UploadId of an `InitiateMultipartUploadResult`.
pub(crate) fn parse_upload_id(xml: &[u8]) -> std::result::Result<String, String> {
    let mut id = None;
    walk(xml, "InitiateMultipartUploadResult", &mut |path, text| {
        if let [_, "UploadId"] = path {
            id = Some(text.trim().to_owned());
        }
        Ok(())
    })?;
    id.filter(|i| !i.is_empty())
        .ok_or_else(|| "no UploadId".to_owned())
}

/// The ETag of a `root` document (`CompleteMultipartUploadResult`,
/// `CopyObjectResult`, `CopyPartResult`).
pub(crate) fn parse_etag(xml: &[u8], root: &str) -> Option<String> {
    let mut etag = None;
    let _ = walk(xml, root, &mut |path, text| {
        if let [_, "ETag"] = path {
            etag = Some(text.trim().to_owned());
        }
        Ok(())
    });
    etag.filter(|e| !e.is_empty())
}

/// The CompleteMultipartUpload document: every part, numbered from 1, with
/// the ETag its upload answered.
fn complete_body(etags: &[String]) -> String {
    let mut body = String::from("<CompleteMultipartUpload>");
    for (i, etag) in etags.iter().enumerate() {
        body.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            i + 1,
            escape(etag)
        ));
    }
    body.push_str("</CompleteMultipartUpload>");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_id_is_read_from_the_initiate_result() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2Fk&amp;SUQ</UploadId></InitiateMultipartUploadResult>"#;
        assert_eq!(parse_upload_id(xml).unwrap(), "VXBsb2Fk&SUQ");
        let none = b"<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>";
        assert_eq!(parse_upload_id(none).unwrap_err(), "no UploadId");
        assert!(parse_upload_id(b"<InitiateMultipartUploadResult><UploadId>x").is_err());
    }

    #[test]
    fn the_etag_is_read_from_the_complete_result() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>l</Location>
<Bucket>b</Bucket><Key>k</Key><ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag></CompleteMultipartUploadResult>"#;
        assert_eq!(
            parse_etag(xml, "CompleteMultipartUploadResult").as_deref(),
            Some("\"3858f62230ac3c915f300c664312c11f-9\"")
        );
        assert_eq!(parse_etag(b"<CompleteMultipartUploadResult/>", "CompleteMultipartUploadResult"), None);
        assert_eq!(parse_etag(b"<CopyObjectResult><ETag>e</ETag></CopyObjectResult>", "CopyObjectResult").as_deref(), Some("e"));
    }

    #[test]
    fn the_complete_document_lists_every_part_in_order() {
        let etags = ["\"a1\"".to_owned(), "\"b&2\"".to_owned()];
        assert_eq!(
            complete_body(&etags),
            "<CompleteMultipartUpload>\
<Part><PartNumber>1</PartNumber><ETag>&quot;a1&quot;</ETag></Part>\
<Part><PartNumber>2</PartNumber><ETag>&quot;b&amp;2&quot;</ETag></Part>\
</CompleteMultipartUpload>"
        );
    }
}
