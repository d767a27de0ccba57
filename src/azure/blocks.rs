//! Block uploads: Put Block for each block, then Put Block List.
//!
//! The source is cut into blocks of `block_size` bytes (the last may be
//! shorter). Up to `upload_concurrency` blocks are in flight on the worker
//! pool, so memory is bounded by the blocks in flight plus the one being
//! read. Each block is buffered, so a block that fails on a transient error
//! is resent on its own. Nothing is visible until Put Block List commits the
//! list: a failed upload commits nothing, and the previous version of the
//! blob (if any) stays whole. Azure discards uncommitted blocks after a week;
//! there is no call to discard them sooner.
//!
//! Block ids are base64 of `<16 hex digits unique to this upload><6-digit
//! block number>`: all the same length (Azure requires it per blob), and
//! distinct from the ids of a concurrent upload to the same blob, so two
//! writers never commit each other's blocks.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::{content_type, AzureInner, Req};
use crate::error::Result;
use crate::http::RequestBody;
use crate::transfer::{check_size, read_part, upload_parts, PartPlan};

/// Azure's limit on committed blocks per blob.
const MAX_BLOCKS: u32 = 50_000;

/// Uploads `reader` (of `size` bytes when known) to `key` in blocks. A
/// source that fits in the first block goes up as one Put Blob instead.
pub(crate) fn upload(
    az: &Arc<AzureInner>,
    path: &str,
    key: &str,
    reader: &mut dyn Read,
    size: Option<u64>,
) -> Result<()> {
    let block_size = az.block_size as usize;
    let first = read_part(path, reader, block_size)?;
    if first.len() < block_size {
        check_size(path, first.len() as u64, size)?;
        return az.put_blob(path, key, RequestBody::Bytes(&first));
    }
    let upload = upload_id();
    let plan = PartPlan {
        path,
        part_size: block_size,
        concurrency: az.upload_concurrency,
        max_parts: MAX_BLOCKS,
        unit: "block",
    };
    let job = (Arc::clone(az), path.to_owned(), key.to_owned());
    // Nothing is visible before the commit: a failure leaves only
    // uncommitted blocks, which Azure discards.
    let ids = upload_parts(&az.pool(), &plan, first, reader, size, move |n, data| {
        let (az, path, key) = &job;
        let id = block_id(upload, n);
        put_block(az, path, key, &id, data).map(|()| id)
    })?;
    commit(az, path, key, &ids)
}

/// A value unlikely to repeat across processes, threads and time.
pub(crate) fn upload_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// The base64 block id of block `n` of upload `upload`.
pub(crate) fn block_id(upload: u64, n: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{upload:016x}{n:06}"))
}

/// Put Block.
fn put_block(az: &AzureInner, path: &str, key: &str, id: &str, data: &[u8]) -> Result<()> {
    let req = Req::new("PUT", az.blob_path(key))
        .query("comp", "block")
        .query("blockid", id);
    az.send_ok(path, &req, RequestBody::Bytes(data)).map(|_| ())
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

/// Put Block List: makes the blob what the blocks say, atomically.
fn commit(az: &AzureInner, path: &str, key: &str, ids: &[String]) -> Result<()> {
    let body = block_list_xml(ids);
    let req = Req::new("PUT", az.blob_path(key))
        .query("comp", "blocklist")
        .header("content-type", "application/xml")
        .header("x-ms-blob-content-type", content_type(key));
    az.send_ok(path, &req, RequestBody::Bytes(body.as_bytes()))
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_have_equal_lengths_and_differ_between_uploads() {
        let a = upload_id();
        let b = upload_id();
        assert_ne!(a, b);
        let ids: Vec<String> = [0, 9, 10, 49_999].iter().map(|n| block_id(a, *n)).collect();
        assert!(ids.iter().all(|id| id.len() == ids[0].len()), "{ids:?}");
        assert_ne!(block_id(a, 0), block_id(b, 0));
        assert_eq!(
            block_id(0x1234, 7),
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
