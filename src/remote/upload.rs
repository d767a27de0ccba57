//! How any remote store writes: one request for what is small enough, an
//! upload in parts for the rest.
//!
//! A part upload cuts the source into equal parts (every part `part_size`
//! bytes but the last: some S3-compatible stores reject anything else). Up
//! to `upload_concurrency` parts are in flight on the worker pool, so memory
//! is bounded by the parts in flight plus the one being read. Each part is
//! buffered, so a part that fails on a transient error is sent again on its
//! own, drawing on the call's retry budget. Any failure abandons the upload
//! (S3 aborts it; Azure's uncommitted blocks expire): no object appears.
//!
//! A source of an announced size must give exactly that many bytes. One
//! that ends early, or still has bytes after them, fails the write with
//! [`crate::ErrorKind::Io`] before the last byte goes out, so nothing is
//! stored.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;

use super::Engine;
use crate::backend::PutOptions;
use crate::checksum::{Checksum, ChecksumAlgorithm, Hasher};
use crate::error::{Error, Result};
use crate::http::RequestBody;
use crate::pool::{Pool, Ticket};
use crate::retry;

/// Streamed uploads of a known size up to this are read into memory first
/// and sent as one request that can be sent again. 4 MiB.
const REPLAYABLE_PUT_SIZE: u64 = 4 * 1024 * 1024;

/// A new object's version, when the store named it.
type Version = Option<String>;

/// `write`: one request below the threshold, else parts.
pub(crate) fn write(
    e: &Arc<Engine>,
    path: &str,
    key: &str,
    data: &[u8],
    o: &PutOptions,
) -> Result<Version> {
    crate::cancel::set_total(Some(data.len() as u64));
    if (data.len() as u64) < e.settings.single_put_threshold {
        let mut o = e.put_args(key, o);
        o.digest = o.checksum.digest(data);
        return e
            .proto
            .put(&e.client, path, key, RequestBody::Bytes(data), &o);
    }
    e.settings.check_upload_size(path, data.len() as u64)?;
    let mut reader = data;
    in_parts(e, path, key, &mut reader, Some(data.len() as u64), o)
}

/// `write_reader`: small known sizes from memory, larger ones below the
/// threshold streamed in one request, the rest in parts.
pub(crate) fn write_reader(
    e: &Arc<Engine>,
    path: &str,
    key: &str,
    reader: &mut dyn Read,
    size: Option<u64>,
    options: &PutOptions,
) -> Result<Version> {
    let mut o = e.put_args(key, options);
    let checksum = o.checksum;
    crate::cancel::set_total(size);
    match size {
        // Small enough to hold: read it first, so the request can be sent
        // again after a transient failure.
        Some(n) if n < e.settings.single_put_threshold && n <= REPLAYABLE_PUT_SIZE => {
            let mut data = Vec::with_capacity(n as usize);
            let mut src = Exact::new(reader, n);
            src.read_to_end(&mut data).map_err(|_| src.failure(path))?;
            o.digest = checksum.digest(&data);
            e.proto
                .put(&e.client, path, key, RequestBody::Bytes(&data), &o)
        }
        // A checksum goes in the headers, before the body: a source too
        // large to hold goes in parts, each checked.
        Some(n) if n < e.settings.single_put_threshold && checksum == ChecksumAlgorithm::None => {
            let mut src = Exact::new(reader, n);
            let result = e
                .proto
                .put(&e.client, path, key, RequestBody::Reader(&mut src, n), &o);
            result.map_err(|err| src.explain(path, err))
        }
        Some(n) => {
            if n >= e.settings.single_put_threshold {
                e.settings.check_upload_size(path, n)?;
            }
            in_parts(e, path, key, reader, size, options)
        }
        None => in_parts(e, path, key, reader, None, options),
    }
}

/// Uploads `reader` in parts; a source that fits in the first part goes up
/// as one request instead.
fn in_parts(
    e: &Arc<Engine>,
    path: &str,
    key: &str,
    reader: &mut dyn Read,
    size: Option<u64>,
    options: &PutOptions,
) -> Result<Version> {
    let part_size = e.settings.part_size as usize;
    let mut o = e.put_args(key, options);
    let checksum = o.checksum;
    let mut sums = Sums {
        algorithm: checksum,
        whole: e
            .proto
            .whole_checksum(checksum)
            .then(|| checksum.hasher())
            .flatten(),
    };
    let (first, first_sum) = fill_part(path, reader, part_size, Vec::new(), &mut sums)?;
    if first.len() < part_size {
        check_size(path, first.len() as u64, size)?;
        o.digest = first_sum;
        crate::cancel::set_total(Some(first.len() as u64));
        return e
            .proto
            .put(&e.client, path, key, RequestBody::Bytes(&first), &o);
    }
    let upload = e.proto.start_upload(&e.client, path, key, &o)?;
    let job = (
        Arc::clone(e),
        path.to_owned(),
        key.to_owned(),
        upload.clone(),
    );
    let budget = retry::current_budget();
    let unit = e.settings.limits.unit;
    let put_part = move |n: u32, data: &[u8], sum: Option<Checksum>| {
        let (e, path, key, upload) = &job;
        retry::within(budget.clone(), || {
            retry::retrying(
                &e.settings.retry,
                &|| format!("{unit} {n} of {path}"),
                || e.proto.put_part(&e.client, path, key, upload, n, data, sum),
            )
        })
    };
    let first = (first, first_sum);
    let parts = upload_parts(e, &e.pool(), path, first, reader, size, &mut sums, put_part);
    let result = parts.and_then(|parts| {
        o.digest = sums.whole.map(Hasher::finish);
        e.proto
            .complete_upload(&e.client, path, key, &upload, &parts, &o)
    });
    if result.is_err() {
        // Also after a cancel: without the call's token, so that the
        // abort is sent (no orphaned upload); then within a grace period,
        // so that a server that answers nothing cannot hold the call.
        crate::cancel::cleanup(|| e.proto.abort_upload(&e.client, path, key, &upload));
    }
    result
}

/// The checksums computed as a source is read: each part's, and the
/// whole object's where the protocol gives it to the completion.
struct Sums {
    algorithm: ChecksumAlgorithm,
    whole: Option<Hasher>,
}

/// Uploads `first` (a full part already read, with its checksum) and the
/// rest of `reader` in parts, up to the upload concurrency at once on
/// `pool`. `put_part(n, bytes, checksum)` sends part `n` (from 0). Returns
/// what `put_part` returned, in part order. Every part in flight has
/// finished when this returns, so the caller can complete or abandon the
/// upload knowing nothing lands after.
#[allow(clippy::too_many_arguments)]
fn upload_parts<T, F>(
    e: &Arc<Engine>,
    pool: &Pool,
    path: &str,
    first: (Vec<u8>, Option<Checksum>),
    reader: &mut dyn Read,
    size: Option<u64>,
    sums: &mut Sums,
    put_part: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(u32, &[u8], Option<Checksum>) -> Result<T> + Send + Sync + 'static,
{
    let s = &e.settings;
    let (part_size, concurrency) = (s.part_size as usize, s.upload_concurrency);
    let put_part = Arc::new(put_part);
    let mut read_total = first.0.len() as u64;
    let mut in_flight: VecDeque<Ticket<T>> = VecDeque::new();
    let mut done = Vec::new();
    let mut next = Some(first);
    let mut n: u32 = 0;
    let outcome = (|| -> Result<()> {
        while let Some((data, sum)) = next.take() {
            crate::cancel::check(path)?;
            if n >= s.limits.max_parts {
                return Err(s.too_many_parts(path));
            }
            if in_flight.len() >= concurrency {
                done.push(in_flight.pop_front().expect("non-empty").wait()?);
            }
            let full = data.len() == part_size;
            let job = Arc::clone(&put_part);
            let (number, engine) = (n, Arc::clone(e));
            in_flight.push_back(pool.submit(move || {
                let sent = job(number, &data, sum);
                engine.buffers.give(data);
                sent
            }));
            n += 1;
            if full {
                // The store's buffers of parts already sent: a fresh buffer
                // of several MiB costs a page fault every 4 KiB.
                let buf = e.buffers.take(part_size);
                let (data, sum) = fill_part(path, reader, part_size, buf, sums)?;
                read_total += data.len() as u64;
                if let Some(expected) = size {
                    if read_total > expected {
                        return check_size(path, read_total, size);
                    }
                }
                if !data.is_empty() {
                    next = Some((data, sum));
                }
            }
        }
        // The size is known now, for the progress callback.
        crate::cancel::set_total(Some(read_total));
        check_size(path, read_total, size)
    })();
    let mut first_error = outcome.err();
    for t in in_flight {
        match t.wait() {
            Ok(v) => done.push(v),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Bytes read at a time while a checksum is computed: each slice is
/// hashed while it is still in the CPU's cache, just after the reader
/// wrote it (a whole part hashed afterwards comes from memory again).
const HASHED_SLICE: usize = 256 * 1024;

/// Fills `buf` (a recycled buffer, or an empty one) with up to `part_size`
/// bytes of `reader`; shorter only at the end of the source. Returns the
/// part's checksum, and adds its bytes to the whole object's.
fn fill_part(
    path: &str,
    reader: &mut dyn Read,
    part_size: usize,
    buf: Vec<u8>,
    sums: &mut Sums,
) -> Result<(Vec<u8>, Option<Checksum>)> {
    let mut buf = sized(buf, part_size);
    let mut part = sums.algorithm.hasher();
    let slice = if part.is_some() || sums.whole.is_some() {
        HASHED_SLICE
    } else {
        part_size
    };
    let mut filled = 0;
    while filled < part_size {
        // A cancel between two reads of the source, not a part later.
        crate::cancel::check(path)?;
        let end = part_size.min(filled + slice);
        match reader.read(&mut buf[filled..end]) {
            Ok(0) => break,
            Ok(n) => {
                let new = &buf[filled..filled + n];
                if let Some(h) = part.as_mut() {
                    h.update(new);
                }
                if let Some(h) = sums.whole.as_mut() {
                    h.update(new);
                }
                filled += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(source_error(path, e)),
        }
    }
    buf.truncate(filled);
    Ok((buf, part.map(Hasher::finish)))
}

/// `buf` with exactly `len` bytes. A fresh buffer comes zeroed from the
/// allocator (`calloc`: pages the kernel has already zeroed are not written
/// a second time).
pub(crate) fn sized(mut buf: Vec<u8>, len: usize) -> Vec<u8> {
    if buf.capacity() < len {
        return vec![0u8; len];
    }
    buf.resize(len, 0);
    buf
}

fn source_error(path: &str, e: io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        operation: "read source",
        source: e,
    }
}

/// Fails when the source gave other than the announced size.
fn check_size(path: &str, read: u64, size: Option<u64>) -> Result<()> {
    match size {
        Some(expected) if expected != read => {
            let what = if read > expected {
                format!("source gave more than the {expected} bytes announced")
            } else {
                format!("source gave {read} bytes, {expected} were announced")
            };
            Err(source_error(
                path,
                io::Error::new(io::ErrorKind::InvalidData, what),
            ))
        }
        _ => Ok(()),
    }
}

/// A source of exactly `len` bytes: one that ends early, or still has a
/// byte once `len` have been read, fails *before* its last bytes are handed
/// on, so a request streaming it never completes. Remembers its own
/// failure, so a failed upload can tell a broken source from a broken
/// connection.
pub(crate) struct Exact<'a> {
    inner: &'a mut dyn Read,
    remaining: u64,
    /// The source was found at its end after the last byte.
    ended: bool,
    failure: Option<io::Error>,
}

impl<'a> Exact<'a> {
    pub(crate) fn new(inner: &'a mut dyn Read, len: u64) -> Self {
        Exact {
            inner,
            remaining: len,
            ended: false,
            failure: None,
        }
    }

    /// The error to report for a failed request: the source's own failure
    /// when there was one.
    pub(crate) fn explain(&mut self, path: &str, request_error: Error) -> Error {
        match self.failure.take() {
            Some(e) => source_error(path, e),
            None => request_error,
        }
    }

    /// The source's failure as an error.
    fn failure(&mut self, path: &str) -> Error {
        let e = self
            .failure
            .take()
            .unwrap_or_else(|| io::Error::other("source failed"));
        source_error(path, e)
    }

    fn fail(&mut self, e: io::Error) -> io::Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        self.failure = Some(e);
        copy
    }

    fn read_retrying(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Whether the source is at its end.
    fn check_end(&mut self) -> io::Result<()> {
        if self.ended {
            return Ok(());
        }
        let mut probe = [0u8; 1];
        match self.read_retrying(&mut probe) {
            Ok(0) => {
                self.ended = true;
                Ok(())
            }
            Ok(_) => Err(self.fail(io::Error::new(
                io::ErrorKind::InvalidData,
                "source has more bytes than the size announced",
            ))),
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl Read for Exact<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // Announced size 0 (or asked again at the end): nothing is
            // handed on before the source proves it is empty.
            self.check_end()?;
            return Ok(0);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let cap = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        match self.read_retrying(&mut buf[..cap]) {
            Ok(0) => Err(self.fail(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "source ended {} bytes before the announced size",
                    self.remaining
                ),
            ))),
            Ok(n) => {
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.check_end()?;
                }
                Ok(n)
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(src: &mut Exact<'_>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        src.read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn an_exact_source_gives_its_bytes_and_refuses_more_or_fewer() {
        let mut ok = &b"abcdef"[..];
        assert_eq!(drain(&mut Exact::new(&mut ok, 6)).unwrap(), b"abcdef");
        let mut long = &b"abcdef"[..];
        let mut src = Exact::new(&mut long, 4);
        let mut buf = [0u8; 4];
        let err = src.read(&mut buf).unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::InvalidData,
            "the last bytes are held back"
        );
        assert!(src.failure.is_some());
        let mut short = &b"ab"[..];
        let err = drain(&mut Exact::new(&mut short, 4)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let mut any = &b"x"[..];
        assert!(
            drain(&mut Exact::new(&mut any, 0)).is_err(),
            "size 0 with a byte to read"
        );
        let mut none = &b""[..];
        assert_eq!(drain(&mut Exact::new(&mut none, 0)).unwrap(), b"");
    }

    #[test]
    fn sizes_that_do_not_match_are_io_errors_saying_which_way() {
        let err = check_size("p", 5, Some(4)).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Io);
        assert!(err.to_string().contains("more than the 4 bytes"), "{err}");
        assert!(check_size("p", 3, Some(4))
            .unwrap_err()
            .to_string()
            .contains("3 bytes, 4"));
        assert!(check_size("p", 3, None).is_ok());
    }
}
