//! How the S3 and Azure backends move bytes: uploads in parts, downloads in
//! parallel ranges, batches of deletes, and the small readers and writers
//! they need. A backend brings the requests (a closure that puts one part,
//! one that fetches one range, one that deletes one chunk); this module
//! brings the loops, the bounded windows on the worker pool, and the checks
//! that keep two versions of an object from being spliced.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::Duration;

use crate::error::{BatchFailure, Error, ErrorKind, Result};
use crate::http::{copy_body, copy_exact, header, Response};
use crate::pool::{Pool, Ticket};

/// Downloads of more than this many bytes fetch ranges in parallel. 32 MiB.
pub const DEFAULT_DOWNLOAD_THRESHOLD: u64 = 32 * 1024 * 1024;
/// Size of each range of a parallel download. 8 MiB.
pub const DEFAULT_DOWNLOAD_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Ranges of one download in flight at once.
pub const DEFAULT_DOWNLOAD_CONCURRENCY: usize = 4;

/// Attempts per part or range on transient failures.
const PART_ATTEMPTS: u32 = 3;

/// When and how a download is split into parallel ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RangedDownload {
    /// More bytes than this to read: parallel ranges.
    pub(crate) threshold: u64,
    /// Bytes per range.
    pub(crate) part_size: u64,
    /// Ranges in flight at once.
    pub(crate) concurrency: usize,
}

impl RangedDownload {
    /// Checks the settings of the `backend` backend.
    pub(crate) fn new(backend: &str, threshold: u64, part_size: u64, concurrency: usize) -> Result<Self> {
        if part_size == 0 {
            return Err(Error::invalid_argument(format!(
                "{backend} download part size must be at least 1 byte"
            )));
        }
        if concurrency == 0 {
            return Err(Error::invalid_argument(format!(
                "{backend} download concurrency must be at least 1"
            )));
        }
        Ok(RangedDownload {
            threshold,
            part_size,
            concurrency,
        })
    }
}

/// Whether a failure can go away when the same request is sent again.
pub(crate) fn is_transient(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Server
    )
}

/// Runs `attempt` until it succeeds, fails for good, or has failed
/// [`PART_ATTEMPTS`] times on transient errors (with a short backoff).
/// Only for requests whose body is in memory and which are idempotent.
fn with_retries<T>(path: &str, what: &dyn Fn() -> String, mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
    let mut n = 0;
    loop {
        n += 1;
        match attempt() {
            Err(e) if n < PART_ATTEMPTS && is_transient(&e) => {
                log::debug!("retrying {} of {path} after: {e}", what());
                sleep(Duration::from_millis(100 << n));
            }
            other => return other,
        }
    }
}

// ---------------------------------------------------------------------------
// Uploads in parts

/// The shape of an upload in parts.
pub(crate) struct PartPlan<'a> {
    /// The object, for errors.
    pub(crate) path: &'a str,
    /// Every part but the last has exactly this many bytes.
    pub(crate) part_size: usize,
    /// Parts in flight at once.
    pub(crate) concurrency: usize,
    /// The store's limit on parts per object.
    pub(crate) max_parts: u32,
    /// What the store calls a part ("part", "block"), for messages.
    pub(crate) unit: &'static str,
}

/// Uploads `first` (a full part already read) and the rest of `reader` in
/// parts, up to `plan.concurrency` at once on `pool`: memory is bounded by
/// the parts in flight plus the one being read. `put_part(n, bytes)` sends
/// part `n` (from 0) and is retried on transient failures (its bytes are in
/// memory). Returns what `put_part` returned, in part order. Every part in
/// flight has finished when this returns, so the caller can complete or
/// abandon the upload knowing nothing lands after it.
pub(crate) fn upload_parts<T, F>(
    pool: &Pool,
    plan: &PartPlan<'_>,
    first: Vec<u8>,
    reader: &mut dyn Read,
    size: Option<u64>,
    put_part: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(u32, &[u8]) -> Result<T> + Send + Sync + 'static,
{
    let path = plan.path;
    let put_part = Arc::new(put_part);
    let mut read_total = first.len() as u64;
    let mut in_flight: VecDeque<Ticket<T>> = VecDeque::new();
    let mut done = Vec::new();
    let mut next = Some(first);
    let mut n: u32 = 0;
    // Buffers of parts already sent, for the parts still to read: a fresh
    // buffer of several MiB costs a page fault every 4 KiB.
    let spare: Arc<Mutex<Vec<Vec<u8>>>> = Arc::new(Mutex::new(Vec::new()));
    let outcome = (|| -> Result<()> {
        while let Some(data) = next.take() {
            if n >= plan.max_parts {
                return Err(Error::invalid_argument(format!(
                    "{path}: more than {} {unit}s of {} bytes; raise the {unit} size",
                    plan.max_parts,
                    plan.part_size,
                    unit = plan.unit
                )));
            }
            if in_flight.len() >= plan.concurrency {
                done.push(in_flight.pop_front().expect("non-empty").wait()?);
            }
            let full = data.len() == plan.part_size;
            let job = Arc::clone(&put_part);
            let (job_path, unit, number) = (path.to_owned(), plan.unit, n);
            let (job_spare, keep) = (Arc::clone(&spare), plan.concurrency);
            in_flight.push_back(pool.submit(move || {
                let sent =
                    with_retries(&job_path, &|| format!("{unit} {number}"), || job(number, &data));
                if let Ok(mut spare) = job_spare.lock() {
                    if spare.len() < keep {
                        spare.push(data);
                    }
                }
                sent
            }));
            n += 1;
            if full {
                let buf = spare.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
                let data = fill_part(path, reader, plan.part_size, buf)?;
                read_total += data.len() as u64;
                if !data.is_empty() {
                    next = Some(data);
                }
            }
        }
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

/// Fills a buffer of up to `part_size` bytes; shorter only at end of data.
pub(crate) fn read_part(path: &str, reader: &mut dyn Read, part_size: usize) -> Result<Vec<u8>> {
    fill_part(path, reader, part_size, Vec::new())
}

/// [`read_part`] into `buf` (a recycled buffer keeps its pages; its old
/// bytes are overwritten or cut off).
fn fill_part(path: &str, reader: &mut dyn Read, part_size: usize, buf: Vec<u8>) -> Result<Vec<u8>> {
    let mut buf = sized(buf, part_size);
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

/// Fails when the source gave other than the announced size.
pub(crate) fn check_size(path: &str, read: u64, size: Option<u64>) -> Result<()> {
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

/// A source reader limited to `len` bytes that remembers its own failure,
/// so a failed upload can tell a broken source from a broken connection.
pub(crate) struct TrackedSource<'a> {
    inner: &'a mut dyn Read,
    remaining: u64,
    failure: Option<io::Error>,
}

impl<'a> TrackedSource<'a> {
    pub(crate) fn new(inner: &'a mut dyn Read, len: u64) -> Self {
        TrackedSource {
            inner,
            remaining: len,
            failure: None,
        }
    }

    /// The error to report for a failed request: the source's own failure
    /// when there was one.
    pub(crate) fn explain(&mut self, path: &str, request_error: Error) -> Error {
        match self.failure.take() {
            Some(e) => Error::Io {
                path: path.to_owned(),
                operation: "read source",
                source: e,
            },
            None => request_error,
        }
    }
}

impl Read for TrackedSource<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let cap = buf.len().min(self.remaining.min(usize::MAX as u64) as usize);
        let read = loop {
            match self.inner.read(&mut buf[..cap]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(0) => {
                let e = io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("source ended {} bytes before the announced size", self.remaining),
                );
                self.failure = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
            Ok(n) => {
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failure = Some(e);
                Err(copy)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Reads

/// The object's size from a response's Content-Length.
pub(crate) fn content_length(path: &str, resp: &Response) -> Result<u64> {
    header(resp, "content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Other {
            path: path.to_owned(),
            message: "response has no valid Content-Length".into(),
            remote: None,
            source: None,
        })
}

/// An offset at or past the end of the object.
pub(crate) fn past_end(path: &str, offset: u64, size: Option<u64>) -> Error {
    let size = size.map(|s| format!(" ({s} bytes)")).unwrap_or_default();
    Error::invalid_argument(format!(
        "{path}: offset {offset} is at or past the end of the object{size}"
    ))
}

/// Refuses a response whose ETag is not the one asked for: some
/// S3-compatible servers (s3s-fs) ignore `If-Match`, so the header alone
/// cannot be trusted to keep two versions from being spliced.
pub(crate) fn check_version(path: &str, if_match: Option<&str>, etag: Option<&str>) -> Result<()> {
    match if_match {
        Some(want) if etag != Some(want) => Err(Error::PreconditionFailed {
            path: path.to_owned(),
            remote: None,
        }),
        _ => Ok(()),
    }
}

/// Reads a ranged response: a 206 body as is; a 200 (the server ignored
/// the range) with the first `offset` bytes skipped.
pub(crate) fn ranged_body(path: &str, resp: Response, offset: u64, writer: &mut dyn Write) -> Result<u64> {
    if resp.status().as_u16() == 206 || offset == 0 {
        return copy_body(path, resp, writer);
    }
    let mut skip = SkipWriter {
        skip: offset,
        inner: writer,
        written: 0,
    };
    copy_body(path, resp, &mut skip)?;
    Ok(skip.written)
}

/// Drops the first `skip` bytes written to it.
struct SkipWriter<'a> {
    skip: u64,
    inner: &'a mut dyn Write,
    written: u64,
}

impl Write for SkipWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let drop = self.skip.min(buf.len() as u64) as usize;
        self.skip -= drop as u64;
        self.inner.write_all(&buf[drop..])?;
        self.written += (buf.len() - drop) as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes into a fixed buffer; more bytes than fit is a server fault.
pub(crate) struct BoundedWriter<'a> {
    buf: &'a mut [u8],
    filled: usize,
}

impl<'a> BoundedWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        BoundedWriter { buf, filled: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn filled(&self) -> usize {
        self.filled
    }
}

impl Write for BoundedWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.buf.len() - self.filled;
        if data.len() > room {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "server sent more bytes than the requested range",
            ));
        }
        self.buf[self.filled..self.filled + data.len()].copy_from_slice(data);
        self.filled += data.len();
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a download goes: a vector (given room for the announced length
/// before the first byte), or any writer.
pub(crate) enum Sink<'a> {
    /// `read`: the whole object in memory.
    Vec(&'a mut Vec<u8>),
    /// `read_to` and friends.
    Writer(&'a mut dyn Write),
}

impl<'a> Sink<'a> {
    /// The writer for the body of `resp`.
    pub(crate) fn prepare(self, resp: &Response) -> &'a mut dyn Write {
        match self {
            Sink::Vec(v) => {
                v.reserve_exact(resp.body().content_length().unwrap_or(0) as usize);
                v
            }
            Sink::Writer(w) => w,
        }
    }
}

/// Sends one ranged GET of the object, conditional on its ETag: given the
/// `Range` value (`bytes=a-b`) and the ETag for `If-Match`, returns a 2xx
/// response or the error the store answered.
type FetchRange = dyn Fn(&str, &str) -> Result<Response> + Send + Sync;

/// The requests a network backend brings to a read; [`read_object`]
/// brings the rest.
pub(crate) trait RangedStore: Send + Sync + 'static {
    /// The store's key for a user path (validated).
    fn object_key(&self, path: &str) -> Result<String>;
    /// GET from `offset` (a range when above 0), with `If-Match` when
    /// given; `None` when the offset is at or past the end (416).
    fn get_from(&self, path: &str, key: &str, offset: u64, if_match: Option<&str>) -> Result<Option<Response>>;
    /// HEAD with `If-Match`; an error unless it succeeded.
    fn head_matching(&self, path: &str, key: &str, if_match: &str) -> Result<Response>;
    /// GET of `range` (`bytes=a-b`) with `If-Match: etag`; an error unless
    /// it succeeded.
    fn fetch_range(&self, path: &str, key: &str, range: &str, etag: &str) -> Result<Response>;
    /// When reads go parallel.
    fn ranged_download(&self) -> &RangedDownload;
    /// The store's worker pool (made on first use).
    fn worker_pool(&self) -> Arc<Pool>;
}

/// Reads the object at `path` from `offset` into `sink`, as
/// [`crate::Backend::read_to_at_checked`] says: the version is the ETag,
/// taken from the response before any byte is written, and compared with
/// `if_match` as well as sent in `If-Match`. A large object is read in
/// parallel ranges (see [`download`]).
pub(crate) fn read_object<S: RangedStore>(
    store: &Arc<S>,
    path: &str,
    sink: Sink<'_>,
    offset: u64,
    if_match: Option<&str>,
    seen_version: &mut Option<String>,
) -> Result<u64> {
    let key = store.object_key(path)?;
    let Some(resp) = store.get_from(path, &key, offset, if_match)? else {
        return match if_match {
            Some(v) => resume_at_end(&**store, path, &key, offset, v, seen_version),
            None => Err(past_end(path, offset, None)),
        };
    };
    let etag = header(&resp, "etag").map(str::to_owned);
    check_version(path, if_match, etag.as_deref())?;
    *seen_version = etag;
    let writer = sink.prepare(&resp);
    download(store, path, &key, resp, offset, writer)
}

/// A resumed read whose offset the server found past the end: fine (0
/// bytes) when the object is still version `if_match` and exactly `offset`
/// bytes long, the earlier read having been cut after its last byte.
fn resume_at_end(
    store: &dyn RangedStore,
    path: &str,
    key: &str,
    offset: u64,
    if_match: &str,
    seen_version: &mut Option<String>,
) -> Result<u64> {
    let resp = store.head_matching(path, key, if_match)?;
    let etag = header(&resp, "etag").map(str::to_owned);
    check_version(path, Some(if_match), etag.as_deref())?;
    let size = content_length(path, &resp)?;
    if size != offset {
        return Err(past_end(path, offset, Some(size)));
    }
    *seen_version = etag;
    Ok(0)
}

/// The [`crate::Backend`] read methods of a backend whose `inner` is an
/// `Arc` of a [`RangedStore`].
macro_rules! ranged_reads {
    () => {
        fn read(&self, path: &str) -> Result<Vec<u8>> {
            let mut out = Vec::new();
            let sink = $crate::transfer::Sink::Vec(&mut out);
            $crate::transfer::read_object(&self.inner, path, sink, 0, None, &mut None)?;
            Ok(out)
        }

        fn read_to(&self, path: &str, writer: &mut dyn Write) -> Result<u64> {
            let sink = $crate::transfer::Sink::Writer(writer);
            $crate::transfer::read_object(&self.inner, path, sink, 0, None, &mut None)
        }

        fn read_to_at(&self, path: &str, writer: &mut dyn Write, offset: u64) -> Result<u64> {
            let sink = $crate::transfer::Sink::Writer(writer);
            $crate::transfer::read_object(&self.inner, path, sink, offset, None, &mut None)
        }

        fn read_to_checked(
            &self,
            path: &str,
            writer: &mut dyn Write,
            seen_version: &mut Option<String>,
        ) -> Result<u64> {
            let sink = $crate::transfer::Sink::Writer(writer);
            $crate::transfer::read_object(&self.inner, path, sink, 0, None, seen_version)
        }

        /// The version is the ETag, taken from the response before any
        /// byte is written, and compared with `if_match` as well as sent in
        /// `If-Match`.
        fn read_to_at_checked(
            &self,
            path: &str,
            writer: &mut dyn Write,
            offset: u64,
            if_match: Option<&str>,
            seen_version: &mut Option<String>,
        ) -> Result<u64> {
            let sink = $crate::transfer::Sink::Writer(writer);
            $crate::transfer::read_object(&self.inner, path, sink, offset, if_match, seen_version)
        }
    };
}
pub(crate) use ranged_reads;

/// Streams `resp`, the answer to a GET of `key` from `offset` (a range
/// when above 0), into `writer`; returns the bytes written.
///
/// When more than the threshold of bytes are to come, only the first part
/// of them is taken from `resp`; the rest is fetched in ranges of the part
/// size, as many at once as the concurrency on the store's pool, each sent
/// with `If-Match` of `resp`'s ETag and checked against the ETag it comes
/// back with. Ranges are handed to `writer` strictly in order, so memory is
/// bounded by the ranges in flight plus the one being written. A range of
/// another version fails the read with [`Error::ChangedDuringRead`] before
/// any of its bytes is written; any failure stops the other ranges, and
/// `writer` never sees a byte past it.
///
/// A response without an ETag or a length, or a server that ignored the
/// range of `resp`, is streamed as it is.
fn download<S: RangedStore>(
    store: &Arc<S>,
    path: &str,
    key: &str,
    resp: Response,
    offset: u64,
    writer: &mut dyn Write,
) -> Result<u64> {
    let cfg = store.ranged_download();
    let status = resp.status().as_u16();
    let len = resp.body().content_length();
    let etag = header(&resp, "etag").map(str::to_owned);
    let (Some(len), Some(etag)) = (len, etag) else {
        return ranged_body(path, resp, offset, writer);
    };
    if len <= cfg.threshold || !(status == 206 || offset == 0) {
        return ranged_body(path, resp, offset, writer);
    }
    let first = cfg.part_size.min(len);
    let (job_store, job_key, job_path) = (Arc::clone(store), key.to_owned(), path.to_owned());
    let mut ranges = Ranges {
        path: path.into(),
        pool: store.worker_pool(),
        fetch: Arc::new(move |range: &str, etag: &str| {
            job_store.fetch_range(&job_path, &job_key, range, etag)
        }),
        etag: etag.into(),
        cancel: Arc::new(AtomicBool::new(false)),
        next: offset + first,
        end: offset + len,
        part_size: cfg.part_size,
        window: cfg.concurrency,
        in_flight: VecDeque::new(),
        spare: Arc::new(Mutex::new(Vec::new())),
    };
    // The next ranges are on their way while the first streams in.
    ranges.fill();
    let mut body = resp.into_body().into_reader();
    // The rest of this body is never read: ureq closes its connection.
    let mut delivered = copy_exact(path, &mut (&mut body).take(first), Some(first), writer)?;
    drop(body);
    while let Some(part) = ranges.next_part() {
        let data = part.map_err(|e| changed(path, delivered, e))?;
        writer.write_all(&data).map_err(|e| Error::Io {
            path: path.to_owned(),
            operation: "write to destination",
            source: e,
        })?;
        delivered += data.len() as u64;
        ranges.recycle(data);
    }
    Ok(delivered)
}

/// `buf` (a recycled buffer, or an empty one) with exactly `len` bytes. A
/// fresh buffer comes zeroed from the allocator (`calloc`: pages the kernel
/// has already zeroed are not written a second time).
fn sized(mut buf: Vec<u8>, len: usize) -> Vec<u8> {
    if buf.capacity() < len {
        return vec![0u8; len];
    }
    buf.resize(len, 0);
    buf
}

/// A range refused for its version means the object changed under the read.
fn changed(path: &str, delivered: u64, e: Error) -> Error {
    match e {
        Error::PreconditionFailed { remote, .. } => Error::ChangedDuringRead {
            path: path.to_owned(),
            delivered,
            remote,
        },
        other => other,
    }
}

/// The ranges of one download: those in flight, in order, and where the
/// next one starts. Dropping it stops and waits for every range in flight.
struct Ranges {
    path: Arc<str>,
    pool: Arc<Pool>,
    fetch: Arc<FetchRange>,
    etag: Arc<str>,
    cancel: Arc<AtomicBool>,
    next: u64,
    end: u64,
    part_size: u64,
    window: usize,
    in_flight: VecDeque<Ticket<Vec<u8>>>,
    /// Buffers of ranges already written, for the next ranges: fresh ones
    /// of several MiB each would cost a page fault every 4 KiB.
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Ranges {
    /// Submits ranges until the window is full or none is left.
    fn fill(&mut self) {
        while self.in_flight.len() < self.window && self.next < self.end {
            let start = self.next;
            let len = self.part_size.min(self.end - start);
            self.next += len;
            let (path, fetch, etag, cancel, spare) = (
                Arc::clone(&self.path),
                Arc::clone(&self.fetch),
                Arc::clone(&self.etag),
                Arc::clone(&self.cancel),
                Arc::clone(&self.spare),
            );
            self.in_flight.push_back(self.pool.submit(move || {
                let buf = spare.lock().ok().and_then(|mut s| s.pop()).unwrap_or_default();
                // Every byte is overwritten (or the range fails): a recycled
                // buffer needs no clearing.
                let mut buf = sized(buf, len as usize);
                with_retries(&path, &|| format!("range at {start}"), || {
                    fetch_range(&*fetch, &path, start, &etag, &cancel, &mut buf)
                })?;
                Ok(buf)
            }));
        }
    }

    /// Keeps the buffer of a range written out for a later range.
    fn recycle(&self, buf: Vec<u8>) {
        if let Ok(mut spare) = self.spare.lock() {
            if spare.len() <= self.window {
                spare.push(buf);
            }
        }
    }

    /// The next range in order, once it has arrived; a new one takes its
    /// place in the window first.
    fn next_part(&mut self) -> Option<Result<Vec<u8>>> {
        let ticket = self.in_flight.pop_front()?;
        self.fill();
        Some(ticket.wait())
    }
}

impl Drop for Ranges {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        for t in self.in_flight.drain(..) {
            let _ = t.wait();
        }
    }
}

/// Fills `buf` with the bytes at `start`, of version `etag` only.
fn fetch_range(
    fetch: &FetchRange,
    path: &str,
    start: u64,
    etag: &str,
    cancel: &AtomicBool,
    buf: &mut [u8],
) -> Result<()> {
    let len = buf.len() as u64;
    let stopped = || Error::Cancelled {
        path: path.to_owned(),
    };
    if cancel.load(Ordering::Relaxed) {
        return Err(stopped());
    }
    let resp = fetch(&format!("bytes={start}-{}", start + len - 1), etag)?;
    let status = resp.status().as_u16();
    if status != 206 {
        return Err(Error::Other {
            path: path.to_owned(),
            message: format!("the server answered a range request with HTTP {status}"),
            remote: None,
            source: None,
        });
    }
    check_version(path, Some(etag), header(&resp, "etag"))?;
    if resp.body().content_length() != Some(len) {
        return Err(Error::Other {
            path: path.to_owned(),
            message: format!(
                "the server sent {:?} bytes for a range of {len}",
                resp.body().content_length()
            ),
            remote: None,
            source: None,
        });
    }
    let mut reader = resp.into_body().into_reader();
    let mut filled = 0;
    while filled < buf.len() {
        if cancel.load(Ordering::Relaxed) {
            return Err(stopped());
        }
        match reader.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(Error::Network {
                    path: path.to_owned(),
                    message: format!("range at {start}: body ended after {filled} of {len} bytes"),
                    source: None,
                })
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(crate::http::io_error(path, "read body", e)),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Batches

/// Runs `work` on every chunk, up to `concurrency` chunks at once on the
/// pool (a single chunk runs on the calling thread, starting no thread), and
/// gathers the failures it reports.
pub(crate) fn run_batches<C, F>(
    chunks: Vec<C>,
    concurrency: usize,
    pool: impl FnOnce() -> Arc<Pool>,
    work: F,
) -> Vec<BatchFailure>
where
    C: Send + 'static,
    F: Fn(C) -> Vec<BatchFailure> + Send + Sync + 'static,
{
    let mut failures = Vec::new();
    if chunks.len() <= 1 {
        for chunk in chunks {
            failures.extend(work(chunk));
        }
        return failures;
    }
    let pool = pool();
    let work = Arc::new(work);
    let mut in_flight: VecDeque<Ticket<Vec<BatchFailure>>> = VecDeque::new();
    let collect = |ticket: Ticket<Vec<BatchFailure>>, failures: &mut Vec<BatchFailure>| {
        match ticket.wait() {
            Ok(f) => failures.extend(f),
            // Only a panic in the job gets here; say so rather than lose it.
            Err(error) => failures.push(BatchFailure {
                path: String::new(),
                error,
            }),
        }
    };
    for chunk in chunks {
        if in_flight.len() >= concurrency.max(1) {
            collect(in_flight.pop_front().expect("non-empty"), &mut failures);
        }
        let job = Arc::clone(&work);
        in_flight.push_back(pool.submit(move || Ok(job(chunk))));
    }
    for t in in_flight {
        collect(t, &mut failures);
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_settings_refuse_zero_part_size_and_concurrency() {
        assert!(RangedDownload::new("S3", 1, 0, 4).is_err());
        assert!(RangedDownload::new("S3", 1, 1, 0).is_err());
        let ok = RangedDownload::new("S3", 0, 1, 1).unwrap();
        assert_eq!((ok.threshold, ok.part_size, ok.concurrency), (0, 1, 1));
    }

    fn plan(part_size: usize, concurrency: usize, max_parts: u32, unit: &'static str) -> PartPlan<'static> {
        PartPlan {
            path: "p",
            part_size,
            concurrency,
            max_parts,
            unit,
        }
    }

    #[test]
    fn parts_keep_their_order_and_a_short_source_fails() {
        let pool = Pool::new("t-parts", 3);
        let plan = plan(4, 2, 100, "part");
        let data: Vec<u8> = (0..18).collect();
        let mut rest = &data[4..];
        let got = upload_parts(&pool, &plan, data[..4].to_vec(), &mut rest, Some(18), |n, b| {
            Ok((n, b.to_vec()))
        })
        .unwrap();
        let numbers: Vec<u32> = got.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [0, 1, 2, 3, 4]);
        assert_eq!(got.concat_bytes(), data);
        let mut rest = &data[4..];
        let err = upload_parts(&pool, &plan, data[..4].to_vec(), &mut rest, Some(20), |_, _| Ok(()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    }

    #[test]
    fn too_many_parts_is_an_invalid_argument_naming_the_unit() {
        let pool = Pool::new("t-max", 1);
        let plan = plan(1, 1, 2, "block");
        let mut rest = &b"bcd"[..];
        let err = upload_parts(&pool, &plan, b"a".to_vec(), &mut rest, None, |_, _| Ok(()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("more than 2 blocks of 1 bytes"), "{err}");
    }

    #[test]
    fn a_panicking_batch_is_reported_not_lost() {
        let pool = Arc::new(Pool::new("t-batch", 2));
        let failures = run_batches(vec![1, 2, 3], 2, || Arc::clone(&pool), |c| {
            if c == 2 {
                panic!("chunk two");
            }
            vec![BatchFailure {
                path: format!("k{c}"),
                error: Error::not_found(&format!("k{c}")),
            }]
        });
        let paths: Vec<&str> = failures.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["k1", "", "k3"]);
        assert!(failures[1].error.to_string().contains("chunk two"));
    }

    trait ConcatBytes {
        fn concat_bytes(&self) -> Vec<u8>;
    }

    impl ConcatBytes for Vec<(u32, Vec<u8>)> {
        fn concat_bytes(&self) -> Vec<u8> {
            self.iter().flat_map(|(_, b)| b.iter().copied()).collect()
        }
    }
}
