//! Block uploads: Put Block for each block, then Put Block List. The engine
//! (`src/remote/upload.rs`) cuts the source into blocks and runs them.
//! Nothing is visible until Put Block List commits the list: a failed
//! upload commits nothing, and the previous version of the blob (if any)
//! stays whole. Azure discards uncommitted blocks after a week; there is no
//! call to discard them sooner.
//!
//! Block ids are base64 of `<16 hex digits unique to this upload><6-digit
//! block number>`: all the same length (Azure requires it per blob), and
//! distinct from the ids of a concurrent upload to the same blob, so two
//! writers never commit each other's blocks.

use base64::Engine as _;

use super::put::{conditioned, with_checksum, with_metadata};
use super::request::Req;
use super::Azure;
use crate::checksum::Checksum;
use crate::error::Result;
use crate::http::{header, RequestBody};
use crate::remote::client::Client;
use crate::remote::{Part, Parts, PutArgs};
use crate::retry::random_u64;

/// A value unlikely to repeat across processes, threads and time, as 16
/// hex digits: the upload's part of its block ids.
pub(crate) fn upload_id() -> String {
    format!("{:016x}", random_u64())
}

/// The base64 block id of block `n` of upload `upload`.
pub(crate) fn block_id(upload: &str, n: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{upload}{n:06}"))
}

/// The Put Block List body committing `ids` in order.
pub(crate) fn block_list_xml(ids: &[String]) -> String {
    let mut xml = String::with_capacity(64 + ids.len() * 50);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
    for id in ids {
        // Base64 needs no XML escaping.
        xml.push_str("<Latest>");
        xml.push_str(id);
        xml.push_str("</Latest>");
    }
    xml.push_str("</BlockList>");
    xml
}

impl Parts for Azure {
    /// Block ids start with an id of the upload: there is nothing to
    /// create.
    fn start_upload(
        &self,
        _c: &Client,
        _path: &str,
        _key: &str,
        _o: &PutArgs<'_>,
    ) -> Result<String> {
        Ok(upload_id())
    }

    /// Put Block `n` of `upload`, with its checksum; returns its id.
    fn put_part(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        upload: &str,
        n: u32,
        data: &[u8],
        checksum: Option<Checksum>,
    ) -> Result<Part> {
        let id = block_id(upload, n);
        let req = Req::new("PUT", self.blob_path(key))
            .query("comp", "block")
            .query("blockid", id.clone());
        let req = with_checksum(req, checksum.as_ref());
        self.send(c, path, &req, RequestBody::Bytes(data))?;
        Ok(Part { id, checksum: None })
    }

    /// Put Block List: makes the blob what the blocks say, atomically,
    /// under the mode's condition; returns the ETag.
    fn complete_upload(
        &self,
        c: &Client,
        path: &str,
        key: &str,
        _upload: &str,
        parts: &[Part],
        o: &PutArgs<'_>,
    ) -> Result<Option<String>> {
        let ids: Vec<String> = parts.iter().map(|p| p.id.clone()).collect();
        let body = block_list_xml(&ids);
        let mut req = Req::new("PUT", self.blob_path(key))
            .query("comp", "blocklist")
            .header("content-type", "application/xml")
            .header("x-ms-blob-content-type", o.content_type);
        // The whole blob's MD5, kept as its Content-MD5 for reads to check
        // (Put Block List computes none of its own).
        if let Some(sum @ Checksum::Md5(_)) = &o.digest {
            req = req.header("x-ms-blob-content-md5", sum.base64());
        }
        let req = conditioned(with_metadata(req, o), o);
        self.send(c, path, &req, RequestBody::Bytes(body.as_bytes()))
            .map(|resp| header(&resp, "etag").map(str::to_owned))
    }

    /// Nothing to do: uncommitted blocks are never visible, and Azure
    /// discards them after a week (there is no call to do it sooner).
    fn abort_upload(&self, _c: &Client, _path: &str, _key: &str, _upload: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_have_equal_lengths_and_differ_between_uploads() {
        let a = upload_id();
        let b = upload_id();
        assert_ne!(a, b);
        let ids: Vec<String> = [0, 9, 10, 49_999]
            .iter()
            .map(|n| block_id(&a, *n))
            .collect();
        assert!(ids.iter().all(|id| id.len() == ids[0].len()), "{ids:?}");
        assert_ne!(block_id(&a, 0), block_id(&b, 0));
        assert_eq!(a.len(), 16);
        assert_eq!(
            block_id("0000000000001234", 7),
            base64::engine::general_purpose::STANDARD.encode("0000000000001234000007")
        );
    }

    #[test]
    fn block_list_lists_latest_ids_in_order() {
        let xml = block_list_xml(&["QQ==".into(), "Qg==".into()]);
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>QQ==</Latest><Latest>Qg==</Latest></BlockList>"
        );
    }
}
