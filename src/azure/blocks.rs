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
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::{content_type, AzureInner, Req};
use crate::error::{Error, ErrorKind, Result};
use crate::http::RequestBody;
use crate::pool::Ticket;

/// Attempts per block on transient failures.
const BLOCK_ATTEMPTS: u32 = 3;

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
    let first = read_block(path, reader, block_size)?;
    let mut read_total = first.len() as u64;
    if first.len() < block_size {
        check_size(path, read_total, size)?;
        return az.put_blob(path, key, RequestBody::Bytes(&first));
    }
    let upload = upload_id();
    let ids = upload_blocks(az, path, key, upload, first, reader, &mut read_total)?;
    check_size(path, read_total, size)?;
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

fn upload_blocks(
    az: &Arc<AzureInner>,
    path: &str,
    key: &str,
    upload: u64,
    first: Vec<u8>,
    reader: &mut dyn Read,
    read_total: &mut u64,
) -> Result<Vec<String>> {
    let block_size = az.block_size as usize;
    let pool = az.pool();
    let mut in_flight: VecDeque<Ticket<()>> = VecDeque::new();
    let mut ids = Vec::new();
    let mut next = Some(first);
    let outcome = (|| -> Result<()> {
        while let Some(data) = next.take() {
            let n = ids.len() as u32;
            if n >= MAX_BLOCKS {
                return Err(Error::invalid_argument(format!(
                    "{path}: more than {MAX_BLOCKS} blocks of {block_size} bytes; raise the block size"
                )));
            }
            if in_flight.len() >= az.upload_concurrency {
                in_flight.pop_front().expect("non-empty").wait()?;
            }
            let id = block_id(upload, n);
            ids.push(id.clone());
            let full = data.len() == block_size;
            let job_az = Arc::clone(az);
            let (job_path, job_key) = (path.to_owned(), key.to_owned());
            in_flight.push_back(
                pool.submit(move || put_block(&job_az, &job_path, &job_key, &id, &data)),
            );
            if full {
                let data = read_block(path, reader, block_size)?;
                *read_total += data.len() as u64;
                if !data.is_empty() {
                    next = Some(data);
                }
            }
        }
        Ok(())
    })();
    // Every block in flight finishes before the list is committed (or the
    // upload abandoned), so nothing lands after the outcome is decided.
    let mut first_error = outcome.err();
    for t in in_flight {
        if let Err(e) = t.wait() {
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(ids),
    }
}

/// Fills a buffer of up to `block_size` bytes; shorter only at end of data.
fn read_block(path: &str, reader: &mut dyn Read, block_size: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; block_size];
    let mut filled = 0;
    while filled < block_size {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    operation: "read source",
                    source: e,
                })
            }
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

fn check_size(path: &str, read: u64, size: Option<u64>) -> Result<()> {
    match size {
        Some(expected) if expected != read => Err(Error::Io {
            path: path.to_owned(),
            operation: "read source",
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("source gave {read} bytes, {expected} were announced"),
            ),
        }),
        _ => Ok(()),
    }
}

/// Put Block, retrying transient failures.
fn put_block(az: &AzureInner, path: &str, key: &str, id: &str, data: &[u8]) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let req = Req::new("PUT", az.blob_path(key))
            .query("comp", "block")
            .query("blockid", id);
        match az.send_ok(path, &req, RequestBody::Bytes(data)) {
            Err(e) if attempt < BLOCK_ATTEMPTS && is_transient(&e) => {
                log::debug!("retrying a block of {path} after: {e}");
                sleep(Duration::from_millis(100 << attempt));
            }
            other => return other.map(|_| ()),
        }
    }
}

fn is_transient(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Server
    )
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
