//! S3 multipart uploads: CreateMultipartUpload, UploadPart,
//! CompleteMultipartUpload, AbortMultipartUpload. The engine
//! (`src/remote/upload.rs`) cuts the source into parts and runs them; a
//! failed upload is aborted, so no parts are left behind and no object
//! appears.

use rusty_s3::Method;

use super::error::error_in_body;
use super::put::{attribute_headers, checksum_names, missing_bucket_on_write, push_checksum, signed};
use super::sign::{request, request_with};
use super::S3;
use crate::checksum::{Checksum, ChecksumAlgorithm};
use crate::error::{Error, Result};
use crate::http::{header, read_small_body, RequestBody};
use crate::remote::client::Client;
use crate::remote::{Part, Parts, PutArgs};
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
            let mut headers = attribute_headers(o);
            // The parts' checksums make the object's: CRC-32C and SHA-256
            // as a checksum of the parts' checksums (S3's default type, said
            // all the same: moto, told nothing, keeps that checksum as if
            // it were the whole object's), CRC-64/NVME of the whole object
            // (its only type).
            match o.checksum {
                ChecksumAlgorithm::Md5 | ChecksumAlgorithm::None => {}
                a => {
                    let (_, name) = checksum_names(a);
                    headers.push(("x-amz-checksum-algorithm".into(), name.to_owned()));
                    let kind = if a == ChecksumAlgorithm::Crc64Nvme { "FULL_OBJECT" } else { "COMPOSITE" };
                    headers.push(("x-amz-checksum-type".into(), kind.to_owned()));
                }
            }
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

    /// UploadPart of part `n` (from 0; S3 numbers them from 1), with its
    /// checksum; returns its ETag.
    fn put_part(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        upload_id: &str,
        n: u32,
        data: &[u8],
        checksum: Option<Checksum>,
    ) -> Result<Part> {
        let s3 = self;
        // n < MAX_PARTS (10,000), so the part number fits.
        let number = (n + 1) as u16;
        let build = || {
            let number = number.to_string();
            let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
            let mut headers = Vec::new();
            if let Some(sum) = &checksum {
                push_checksum(&mut headers, sum);
            }
            let url = s3.sign_request(Method::Put, Some(key), &query, &signed(&headers))?;
            Ok(request_with("PUT", url, headers))
        };
        let resp = c.send(path, &build, RequestBody::Bytes(data))?;
        let etag = header(&resp, "etag")
            .map(str::to_owned)
            .ok_or_else(|| Error::Other {
                path: path.to_owned(),
                message: format!("part {number} response has no ETag"),
                remote: None,
                source: None,
            })?;
        Ok(Part {
            id: etag,
            // The completion lists the checksums S3 keeps (not MD5).
            checksum: checksum.filter(|s| !matches!(s, Checksum::Md5(_))),
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
        parts: &[Part],
        o: &PutArgs<'_>,
    ) -> Result<Option<String>> {
        let s3 = self;
        let body = complete_body(parts);
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
/// the ETag its upload answered and the checksum it was sent with.
fn complete_body(parts: &[Part]) -> String {
    let mut body = String::from("<CompleteMultipartUpload>");
    for (i, part) in parts.iter().enumerate() {
        body.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag>",
            i + 1,
            escape(&part.id)
        ));
        if let Some(sum) = &part.checksum {
            let element = match sum.algorithm() {
                ChecksumAlgorithm::Crc64Nvme => "ChecksumCRC64NVME",
                ChecksumAlgorithm::Sha256 => "ChecksumSHA256",
                _ => "ChecksumCRC32C",
            };
            // Base64 needs no XML escaping.
            body.push_str(&format!("<{element}>{}</{element}>", sum.base64()));
        }
        body.push_str("</Part>");
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
        let parts = [
            Part { id: "\"a1\"".to_owned(), checksum: None },
            Part { id: "\"b&2\"".to_owned(), checksum: Some(Checksum::Crc32c(0xE306_9283)) },
        ];
        assert_eq!(
            complete_body(&parts),
            "<CompleteMultipartUpload>\
<Part><PartNumber>1</PartNumber><ETag>&quot;a1&quot;</ETag></Part>\
<Part><PartNumber>2</PartNumber><ETag>&quot;b&amp;2&quot;</ETag><ChecksumCRC32C>4waSgw==</ChecksumCRC32C></Part>\
</CompleteMultipartUpload>"
        );
    }
}
