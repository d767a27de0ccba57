//! S3 multipart uploads.
//!
//! The source is cut into equal parts (every part `part_size` bytes but the
//! last: some S3-compatible stores reject anything else). Up to
//! `upload_concurrency` parts are in flight on the worker pool, so memory is
//! bounded by the parts in flight plus the one being read. Each part is
//! buffered, so a part that fails on a transient error is resent on its own.
//! Any failure aborts the upload: no parts are left behind and no object
//! appears.

use std::io::Read;
use std::sync::Arc;

use rusty_s3::Method;

use super::{content_type, S3Inner};
use crate::error::{Error, Result};
use crate::http::{header, read_small_body, RequestBody};
use crate::transfer::{check_size, read_part, upload_parts, PartPlan};
use crate::xml::{escape, walk};

/// S3's limit on parts per upload.
const MAX_PARTS: u32 = 10_000;

/// Uploads `reader` (of `size` bytes when known) to `key` in parts. A source
/// that fits in the first part goes up as one PutObject instead.
pub(crate) fn upload(
    s3: &Arc<S3Inner>,
    path: &str,
    key: &str,
    reader: &mut dyn Read,
    size: Option<u64>,
) -> Result<()> {
    let part_size = s3.part_size as usize;
    let first = read_part(path, reader, part_size)?;
    if first.len() < part_size {
        check_size(path, first.len() as u64, size)?;
        return s3.put_object(path, key, RequestBody::Bytes(&first));
    }

    let upload_id = create(s3, path, key)?;
    let plan = PartPlan {
        path,
        part_size,
        concurrency: s3.upload_concurrency,
        max_parts: MAX_PARTS,
        unit: "part",
    };
    let job = (Arc::clone(s3), path.to_owned(), key.to_owned(), upload_id.clone());
    let result = upload_parts(&s3.pool(), &plan, first, reader, size, move |n, data| {
        let (s3, path, key, upload_id) = &job;
        // Part numbers start at 1; n < MAX_PARTS, so this fits.
        put_part(s3, path, key, upload_id, n as u16 + 1, data)
    })
    .and_then(|etags| complete(s3, path, key, &upload_id, &etags));
    if let Err(e) = result {
        abort(s3, path, key, &upload_id);
        return Err(e);
    }
    Ok(())
}

fn create(s3: &S3Inner, path: &str, key: &str) -> Result<String> {
    let ct = content_type(key);
    let url = s3.sign_request(Method::Post, Some(key), &[("uploads", "")], &[("content-type", ct)]);
    let resp = s3
        .send_ok(path, "POST", &url, &[("content-type", ct)], RequestBody::Empty)
        .map_err(|e| s3.missing_bucket_on_write(path, e))?;
    let body = read_small_body(path, resp, 1024 * 1024)?;
    parse_upload_id(&body).map_err(|why| Error::Other {
        path: path.to_owned(),
        message: format!("unreadable CreateMultipartUpload response: {why}"),
        remote: None,
        source: None,
    })
}

/// The UploadId of an `InitiateMultipartUploadResult`.
fn parse_upload_id(xml: &[u8]) -> std::result::Result<String, String> {
    let mut id = None;
    walk(xml, "InitiateMultipartUploadResult", &mut |path, text| {
        if let [_, "UploadId"] = path {
            id = Some(text.trim().to_owned());
        }
        Ok(())
    })?;
    id.filter(|i| !i.is_empty()).ok_or_else(|| "no UploadId".to_owned())
}

/// Uploads one part; returns its ETag.
fn put_part(
    s3: &S3Inner,
    path: &str,
    key: &str,
    upload_id: &str,
    number: u16,
    data: &[u8],
) -> Result<String> {
    let url = s3.sign(s3.bucket.upload_part(s3.credentials.as_ref(), key, number, upload_id));
    let resp = s3.send_ok(path, "PUT", &url, &[], RequestBody::Bytes(data))?;
    header(&resp, "etag").map(str::to_owned).ok_or_else(|| Error::Other {
        path: path.to_owned(),
        message: format!("part {number} response has no ETag"),
        remote: None,
        source: None,
    })
}

fn complete(s3: &S3Inner, path: &str, key: &str, upload_id: &str, etags: &[String]) -> Result<()> {
    let url = s3.sign_request(Method::Post, Some(key), &[("uploadId", upload_id)], &[]);
    let body = complete_body(etags);
    let headers = [("content-type", "application/xml")];
    let resp = s3.send_ok(path, "POST", &url, &headers, RequestBody::Bytes(body.as_bytes()))?;
    // S3 may answer 200 and still fail: the failure is in the body.
    let body = read_small_body(path, resp, 1024 * 1024)?;
    let (code, message, request_id) = super::error::parse_error_xml(&body);
    if let Some(code) = code {
        return Err(super::error::classify(
            path,
            crate::error::ServiceDetail {
                status: 200,
                code: Some(code),
                message,
                request_id,
            },
        ));
    }
    Ok(())
}

fn abort(s3: &S3Inner, path: &str, key: &str, upload_id: &str) {
    let url = s3.sign(s3.bucket.abort_multipart_upload(s3.credentials.as_ref(), key, upload_id));
    match s3.send_ok(path, "DELETE", &url, &[], RequestBody::Empty) {
        Ok(_) => log::debug!("aborted multipart upload of {path}"),
        Err(e) => log::warn!("could not abort multipart upload {upload_id} of {path}: {e}"),
    }
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
