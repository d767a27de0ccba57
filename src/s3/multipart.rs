//! S3 multipart uploads.
//!
//! The source is cut into equal parts (every part `part_size` bytes but the
//! last: some S3-compatible stores reject anything else). Up to
//! `upload_concurrency` parts are in flight on the worker pool, so memory is
//! bounded by the parts in flight plus the one being read. Each part is
//! buffered, so a part that fails on a transient error is resent on its own.
//! Any failure aborts the upload: no parts are left behind and no object
//! appears.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use rusty_s3::actions::{CompleteMultipartUpload, CreateMultipartUpload};
use rusty_s3::S3Action;

use super::{content_type, S3Inner};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{header, read_small_body, RequestBody};
use crate::pool::Ticket;

/// Attempts per part on transient failures.
const PART_ATTEMPTS: u32 = 3;

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
    let mut read_total = 0u64;
    let first = read_part(path, reader, part_size)?;
    read_total += first.len() as u64;
    if first.len() < part_size {
        check_size(path, read_total, size)?;
        return s3.put_object(path, key, RequestBody::Bytes(&first));
    }

    let upload_id = create(s3, path, key)?;
    let result = upload_parts(s3, path, key, &upload_id, first, reader, size, &mut read_total)
        .and_then(|etags| complete(s3, path, key, &upload_id, &etags));
    if let Err(e) = result {
        abort(s3, path, key, &upload_id);
        return Err(e);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn upload_parts(
    s3: &Arc<S3Inner>,
    path: &str,
    key: &str,
    upload_id: &str,
    first: Vec<u8>,
    reader: &mut dyn Read,
    size: Option<u64>,
    read_total: &mut u64,
) -> Result<Vec<String>> {
    let part_size = s3.part_size as usize;
    let pool = s3.pool();
    let mut in_flight: VecDeque<Ticket<String>> = VecDeque::new();
    let mut etags = Vec::new();
    let mut next = Some(first);
    let mut part_number: u16 = 0;
    let outcome = (|| -> Result<()> {
        while let Some(data) = next.take() {
            part_number = part_number.checked_add(1).filter(|n| *n <= 10_000).ok_or_else(|| {
                Error::invalid_argument(format!(
                    "{path}: more than 10,000 parts of {part_size} bytes; raise the part size"
                ))
            })?;
            if in_flight.len() >= s3.upload_concurrency {
                etags.push(in_flight.pop_front().expect("non-empty").wait()?);
            }
            let full = data.len() == part_size;
            let job_s3 = Arc::clone(s3);
            let (job_path, job_key, job_id) = (path.to_owned(), key.to_owned(), upload_id.to_owned());
            let number = part_number;
            in_flight.push_back(pool.submit(move || {
                put_part(&job_s3, &job_path, &job_key, &job_id, number, &data)
            }));
            if full {
                let data = read_part(path, reader, part_size)?;
                *read_total += data.len() as u64;
                if !data.is_empty() {
                    next = Some(data);
                }
            }
        }
        check_size(path, *read_total, size)
    })();
    // Every part in flight finishes before the upload is completed or
    // aborted, so an abort cannot race a part that lands after it.
    let mut first_error = outcome.err();
    for t in in_flight {
        match t.wait() {
            Ok(etag) => etags.push(etag),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(etags),
    }
}

/// Fills a buffer of up to `part_size` bytes; shorter only at end of data.
fn read_part(path: &str, reader: &mut dyn Read, part_size: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; part_size];
    let mut filled = 0;
    while filled < part_size {
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

fn create(s3: &S3Inner, path: &str, key: &str) -> Result<String> {
    let ct = content_type(key);
    let mut action = CreateMultipartUpload::new(&s3.bucket, s3.credentials.as_ref(), key);
    action.headers_mut().insert("content-type", ct);
    let url = s3.sign(action);
    let resp = s3
        .send_ok(path, "POST", &url, &[("content-type", ct)], RequestBody::Empty)
        .map_err(|e| s3.missing_bucket_on_write(path, e))?;
    let body = read_small_body(path, resp, 1024 * 1024)?;
    let text = String::from_utf8_lossy(&body);
    CreateMultipartUpload::parse_response(&text)
        .map(|r| r.upload_id().to_owned())
        .map_err(|e| Error::Other {
            path: path.to_owned(),
            message: format!("unreadable CreateMultipartUpload response: {e}"),
            remote: None,
            source: None,
        })
}

/// Uploads one part, retrying transient failures; returns its ETag.
fn put_part(
    s3: &S3Inner,
    path: &str,
    key: &str,
    upload_id: &str,
    number: u16,
    data: &[u8],
) -> Result<String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let url = s3.sign(s3.bucket.upload_part(s3.credentials.as_ref(), key, number, upload_id));
        let result = s3
            .send_ok(path, "PUT", &url, &[], RequestBody::Bytes(data))
            .and_then(|resp| {
                header(&resp, "etag").map(str::to_owned).ok_or_else(|| Error::Other {
                    path: path.to_owned(),
                    message: format!("part {number} response has no ETag"),
                    remote: None,
                    source: None,
                })
            });
        match result {
            Err(e) if attempt < PART_ATTEMPTS && is_transient(&e) => {
                log::debug!("retrying part {number} of {path} after: {e}");
                sleep(Duration::from_millis(100 << attempt));
            }
            other => return other,
        }
    }
}

fn is_transient(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Server)
}

fn complete(s3: &S3Inner, path: &str, key: &str, upload_id: &str, etags: &[String]) -> Result<()> {
    let action = CompleteMultipartUpload::new(
        &s3.bucket,
        s3.credentials.as_ref(),
        key,
        upload_id,
        etags.iter().map(String::as_str),
    );
    let url = s3.sign(action.clone());
    let body = action.body();
    let resp = s3.send_ok(path, "POST", &url, &[], RequestBody::Bytes(body.as_bytes()))?;
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
