//! How any remote store reads: one ranged GET first, then, for a large
//! object, the rest in parallel ranges of one version.
//!
//! A read asks for its first part with a range (the larger of the download
//! threshold and the part size), so the answer's `Content-Range` gives the
//! object's size and its ETag comes along; an object that fits is done in
//! that one request, and no connection is ever dropped mid-body. The rest
//! of a larger object is fetched in ranges of the part size, each sent with
//! `If-Match` of that ETag and checked against the ETag it comes back with
//! (not every S3-compatible server honours the header), so two versions are
//! never spliced. A server that ignores ranges is read as one stream.
//!
//! `read` (into memory) allocates the object once and every range is read
//! in place into its slice of that buffer, on scoped threads, while the
//! first answer streams in on the caller's. Writers (`read_to` and
//! friends) get the bytes strictly in order, and the rest after the first
//! answer comes as its pace says ([`Pace`]): from a slow connection, as
//! ranges from the store's worker pool into recycled buffers, at most
//! `download_concurrency` ahead; from a fast one, as one more request
//! streamed straight to the writer.
//!
//! No length a server announces is trusted to allocate: the buffer of a
//! `read` is reserved fallibly (an object too large to hold is a clear
//! error, never an abort) and its pages are only touched as bytes arrive.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use super::{content_range, ByteRange, Engine, GetOptions};
use crate::checksum::{Checksum, ChecksumAlgorithm, Verifier};
use crate::error::{Error, Result};
use crate::http::{copy_exact, header, io_error, CountingWriter, Response};
use crate::pool::{Pool, Ticket};
use crate::retry;

/// Where a download goes.
pub(crate) enum Sink<'a> {
    /// `read`: the whole object in memory.
    Vec(&'a mut Vec<u8>),
    /// `read_to` and friends.
    Writer(&'a mut dyn Write),
}

/// A GET's answer with what its headers say.
pub(super) struct Got {
    pub(super) resp: Response,
    /// Offset in the object of the body's first byte.
    pub(super) start: u64,
    /// Offset just past the body's last byte, when known.
    pub(super) end: Option<u64>,
    /// The object's size, when known.
    pub(super) total: Option<u64>,
    pub(super) etag: Option<String>,
    /// The checksum the store keeps of the whole object, when it said.
    pub(super) stored: Option<Checksum>,
}

impl Got {
    /// Whether the body is the whole object, so its checksum can be
    /// checked against the stored one.
    fn is_whole(&self) -> bool {
        self.start == 0 && (self.end == self.total || self.total.is_none() && self.end.is_none())
    }
}

pub(super) fn other(path: &str, message: String) -> Error {
    Error::Other {
        path: path.to_owned(),
        message,
        remote: None,
        source: None,
    }
}

/// GET of `range`; `None` when the range is not satisfiable (it starts at
/// or past the end).
pub(super) fn get(
    e: &Engine,
    path: &str,
    key: &str,
    range: Option<ByteRange>,
    if_match: Option<&str>,
) -> Result<Option<Got>> {
    let o = GetOptions {
        range,
        if_match,
        checksum_mode: e.settings.checksum != ChecksumAlgorithm::None,
    };
    let resp = match e.proto.get(&e.client, path, key, &o) {
        Ok(resp) => resp,
        Err(err) if err.http_status() == Some(416) => return Ok(None),
        Err(err) => return Err(err),
    };
    let etag = header(&resp, "etag").map(str::to_owned);
    let stored = o.checksum_mode.then(|| e.proto.stored_checksum(&resp)).flatten();
    let length: Option<u64> = header(&resp, "content-length").and_then(|v| v.trim().parse().ok());
    if resp.status().as_u16() != 206 {
        return Ok(Some(Got {
            resp,
            start: 0,
            end: length,
            total: length,
            etag,
            stored,
        }));
    }
    let Some((a, b, total)) = content_range(&resp) else {
        return Err(other(
            path,
            "a 206 answer without a valid Content-Range".into(),
        ));
    };
    // Azurite answers a range starting exactly at the end with 206 and
    // `Content-Range: bytes 10-9/10` where Azure says 416.
    if total.is_some_and(|t| a >= t) {
        return Ok(None);
    }
    let asked = match range {
        Some(ByteRange::From(s)) | Some(ByteRange::Span(s, _)) => s,
        None => 0,
    };
    let asked_last = match range {
        Some(ByteRange::Span(_, l)) => l,
        _ => u64::MAX,
    };
    if a != asked || b < a || b > asked_last || total.is_some_and(|t| b >= t) {
        return Err(other(
            path,
            format!(
                "asked for {}, the server sent bytes {a}-{b}",
                range.map(ByteRange::header).unwrap_or_default()
            ),
        ));
    }
    if length.is_some_and(|n| n != b - a + 1) {
        return Err(other(
            path,
            format!("the server sent {length:?} bytes for the range {a}-{b}"),
        ));
    }
    Ok(Some(Got {
        resp,
        start: a,
        end: Some(b + 1),
        total,
        etag,
        stored,
    }))
}

/// An offset at or past the end of the object.
pub(crate) fn past_end(path: &str, offset: u64, size: Option<u64>) -> Error {
    let size = size.map(|s| format!(" ({s} bytes)")).unwrap_or_default();
    Error::invalid_argument(format!(
        "{path}: offset {offset} is at or past the end of the object{size}"
    ))
}

/// Refuses an answer whose ETag is not the one asked for.
pub(super) fn check_version(path: &str, if_match: Option<&str>, etag: Option<&str>) -> Result<()> {
    match if_match {
        Some(want) if etag != Some(want) => Err(Error::PreconditionFailed {
            path: path.to_owned(),
            remote: None,
        }),
        _ => Ok(()),
    }
}

/// Reads the object at `path` from `offset` into `sink`, as
/// [`crate::Backend::read_to_at_checked`] says: the version is the ETag,
/// taken before any byte is written, and compared with `if_match` as well
/// as sent in `If-Match`.
pub(crate) fn read(
    e: &Arc<Engine>,
    path: &str,
    sink: Sink<'_>,
    offset: u64,
    if_match: Option<&str>,
    seen_version: &mut Option<String>,
) -> Result<u64> {
    let key = e.key(path)?;
    let d = e.settings.download;
    let range = if d.threshold == u64::MAX {
        // One stream, whatever the size.
        (offset > 0).then_some(ByteRange::From(offset))
    } else {
        let first = d.threshold.max(d.part_size);
        Some(match offset.checked_add(first - 1) {
            Some(last) => ByteRange::Span(offset, last),
            None => ByteRange::From(offset),
        })
    };
    let got = match get(e, path, &key, range, if_match)? {
        Some(got) => got,
        // An empty object has no byte 0, yet reads as nothing.
        None if offset == 0 => {
            get(e, path, &key, None, if_match)?.ok_or_else(|| past_end(path, 0, None))?
        }
        None => {
            return match if_match {
                Some(v) => resume_at_end(e, path, &key, offset, v, seen_version),
                None => Err(past_end(path, offset, None)),
            }
        }
    };
    check_version(path, if_match, got.etag.as_deref())?;
    if got.start == 0 && offset > 0 && got.total.is_some_and(|t| offset >= t) {
        return Err(past_end(path, offset, got.total));
    }
    *seen_version = got.etag.clone();
    crate::cancel::set_total(got.total.map(|t| t.saturating_sub(offset)));
    let rest = match (got.end, got.total) {
        (Some(end), Some(total)) if got.start == offset && end < total => Some(end..total),
        _ => None,
    };
    let Some(rest) = rest else {
        return stream(path, got, offset, sink);
    };
    let Some(etag) = got.etag.clone() else {
        // Without an ETag the ranges of one version cannot be told apart:
        // read the rest as one stream instead (no byte has been taken yet).
        drop(got);
        let again = get(
            e,
            path,
            &key,
            (offset > 0).then_some(ByteRange::From(offset)),
            None,
        )?
        .ok_or_else(|| past_end(path, offset, None))?;
        return stream(path, again, offset, sink);
    };
    match sink {
        Sink::Vec(v) => in_place(e, path, &key, got, offset, rest, &etag, v),
        Sink::Writer(w) => in_order(e, path, &key, got, offset, rest, etag, w),
    }
}

/// Streams one answer (the whole of what is left to read) into `sink`,
/// dropping the bytes before `offset` when the server ignored the range.
/// An answer that is the whole object, with the checksum the store keeps
/// of it, is checked against it before the read succeeds.
fn stream(path: &str, got: Got, offset: u64, sink: Sink<'_>) -> Result<u64> {
    let skip = offset.saturating_sub(got.start);
    let expected = got.end.map(|end| end - got.start);
    let verifier = got.stored.filter(|_| got.is_whole() && offset == 0).and_then(Verifier::new);
    let mut body = got.resp.into_body().into_reader();
    let Some(verifier) = verifier else {
        return stream_body(path, &mut body, skip, expected, sink);
    };
    let mut checked = Checked { inner: body, verifier };
    let n = stream_body(path, &mut checked, skip, expected, sink)?;
    checked.verifier.check(path)?;
    Ok(n)
}

/// A body that hashes what passes through it.
struct Checked<R> {
    inner: R,
    verifier: Verifier,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.verifier.update(&buf[..n]);
        Ok(n)
    }
}

fn stream_body(
    path: &str,
    body: &mut dyn Read,
    skip: u64,
    expected: Option<u64>,
    sink: Sink<'_>,
) -> Result<u64> {
    match sink {
        Sink::Vec(v) if skip == 0 && expected.is_some() => {
            let len = expected.unwrap_or(0);
            *v = zeroed(path, len)?;
            read_body(path, body, v, None)?;
            Ok(len)
        }
        Sink::Vec(v) => {
            let mut skipping = SkipWriter {
                skip,
                inner: v,
                written: 0,
            };
            copy_exact(path, body, expected, &mut skipping)?;
            Ok(skipping.written)
        }
        Sink::Writer(w) if skip == 0 => copy_exact(path, body, expected, w),
        Sink::Writer(w) => {
            let mut skipping = SkipWriter {
                skip,
                inner: w,
                written: 0,
            };
            copy_exact(path, body, expected, &mut skipping)?;
            Ok(skipping.written)
        }
    }
}

/// Fills `buf` with the whole of `body`, which must end there: a server
/// that sends more than it said is not believed. Reading to the end also
/// hands the connection back to the client's pool; a body left unfinished
/// closes it, and the next request pays for a new one.
pub(super) fn read_body(
    path: &str,
    body: &mut dyn Read,
    buf: &mut [u8],
    cancel: Option<&AtomicBool>,
) -> Result<()> {
    read_into(path, body, buf, cancel)?;
    end_of_body(path, body, buf.len() as u64)
}

/// Fails unless `body` has ended: a server that sends more than it said is
/// not believed.
pub(super) fn end_of_body(path: &str, body: &mut dyn Read, len: u64) -> Result<()> {
    let mut probe = [0u8; 1];
    match body.read(&mut probe) {
        Ok(0) => Ok(()),
        Ok(_) => Err(Error::Network {
            path: path.to_owned(),
            message: format!("the server sent more than the {len} bytes it announced"),
            source: None,
        }),
        Err(e) => Err(io_error(path, "read body", e)),
    }
}

/// A zeroed buffer of `len` bytes, or a clear error when this process
/// cannot hold that many. A fresh allocation this size comes from the
/// kernel as untouched zero pages, so memory is used as bytes arrive.
fn zeroed(path: &str, len: u64) -> Result<Vec<u8>> {
    const PROBE_ABOVE: u64 = 64 * 1024 * 1024;
    let too_large = || {
        Error::invalid_argument(format!(
            "{path}: the object is {len} bytes, more than this process can hold in memory; \
             stream it with read_to instead"
        ))
    };
    let n = usize::try_from(len).map_err(|_| too_large())?;
    if len > PROBE_ABOVE {
        // `vec!` aborts when the allocation fails; ask fallibly first.
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(n).map_err(|_| too_large())?;
    }
    Ok(vec![0u8; n])
}

/// Fills `buf` from `body` exactly; a body that ends first is a network
/// error. Reads land on 64-byte boundaries where they can: the copy out of
/// the HTTP client's buffer runs at half speed or worse into a destination
/// that is not cache-line aligned on some CPUs (`rep movsb`).
pub(super) fn read_into(
    path: &str,
    body: &mut dyn Read,
    buf: &mut [u8],
    cancel: Option<&AtomicBool>,
) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::Cancelled {
                path: path.to_owned(),
            });
        }
        let rest = &mut buf[filled..];
        let misaligned = rest.as_ptr() as usize % 64;
        let want = if misaligned != 0 {
            (64 - misaligned).min(rest.len())
        } else {
            rest.len()
        };
        match body.read(&mut rest[..want]) {
            Ok(0) => {
                return Err(Error::Network {
                    path: path.to_owned(),
                    message: format!("body ended after {filled} of {} bytes", buf.len()),
                    source: None,
                })
            }
            Ok(n) => {
                filled += n;
                crate::cancel::advance(path, n as u64)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(path, "read body", e)),
        }
    }
    Ok(())
}

/// `read`: the object's buffer is allocated once; the first answer streams
/// into its head on this thread while scoped threads fetch the other
/// ranges straight into their slices.
#[allow(clippy::too_many_arguments)]
fn in_place(
    e: &Arc<Engine>,
    path: &str,
    key: &str,
    got: Got,
    offset: u64,
    rest: Range<u64>,
    etag: &str,
    out: &mut Vec<u8>,
) -> Result<u64> {
    let len = rest.end - offset;
    let mut buf = zeroed(path, len)?;
    let (head, tail) = buf.split_at_mut((rest.start - offset) as usize);
    let d = e.settings.download;
    let part = usize::try_from(d.part_size).unwrap_or(usize::MAX);
    let ranges: Vec<(u64, &mut [u8])> = tail
        .chunks_mut(part)
        .scan(rest.start, |at, chunk| {
            let start = *at;
            *at += chunk.len() as u64;
            Some((start, chunk))
        })
        .collect();
    let mut body = got.resp.into_body().into_reader();
    in_parallel(
        path,
        d.concurrency,
        ranges,
        |r| r.0,
        |(start, chunk), cancel| fetch_range(e, path, key, *start, etag, cancel, chunk),
        offset,
        |cancel| read_body(path, &mut body, head, Some(cancel)),
    )?;
    *out = buf;
    Ok(len)
}

/// Runs `jobs` (each at an offset of the object, `at`) in order on up to
/// `workers` scoped threads named `blobio-range-N`, each within the
/// calling thread's retry budget, while `caller` (at offset `caller_at`)
/// runs on this thread. All share one cancel flag, raised by the first
/// failure. The failure at the lowest offset is the call's (a job stopped
/// because another failed says nothing; a replaced object is
/// `ChangedDuringRead`); a job left unrun, when a thread could not start,
/// fails the call too: bytes never fetched are never reported.
pub(super) fn in_parallel<J: Send>(
    path: &str,
    workers: usize,
    mut jobs: Vec<J>,
    at: impl Fn(&J) -> u64 + Sync,
    run: impl Fn(&mut J, &AtomicBool) -> Result<()> + Sync,
    caller_at: u64,
    caller: impl FnOnce(&AtomicBool) -> Result<()>,
) -> Result<()> {
    jobs.reverse(); // popped from the back: in order
    let workers = workers.min(jobs.len());
    let queue = Mutex::new(jobs);
    let cancel = AtomicBool::new(false);
    let failure: Mutex<Option<(u64, Error)>> = Mutex::new(None);
    let fail = |offset: u64, err: Error| {
        cancel.store(true, Ordering::Relaxed);
        if matches!(err, Error::Cancelled { .. }) {
            return;
        }
        if let Ok(mut f) = failure.lock() {
            if f.as_ref().map_or(true, |(lowest, _)| offset < *lowest) {
                *f = Some((offset, err));
            }
        }
    };
    let budget = retry::current_budget();
    // Never sent on: `finished` disconnects when every range thread has
    // dropped its clone of `running`, that is, has ended.
    let (running, finished) = crossbeam_channel::bounded::<()>(0);
    std::thread::scope(|s| {
        for i in 0..workers {
            let (queue, cancel, fail, at, run, budget) = (&queue, &cancel, &fail, &at, &run, budget.clone());
            let running = running.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("blobio-range-{i}"))
                .spawn_scoped(s, move || {
                    let _running = running;
                    retry::within(budget, || loop {
                        let next = queue.lock().ok().and_then(|mut q| q.pop());
                        let Some(mut job) = next else { break };
                        if cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Err(err) = run(&mut job, cancel) {
                            fail(at(&job), err);
                            break;
                        }
                    })
                });
            if let Err(err) = spawned {
                fail(0, other(path, format!("cannot start a download thread: {err}")));
            }
        }
        drop(running);
        if let Err(err) = caller(&cancel) {
            fail(caller_at, err);
        }
        // With a progress callback, the calling thread tells it what the
        // range threads move while it waits for them.
        if crate::cancel::metered() {
            while let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(crate::cancel::PROGRESS_EVERY) {
                crate::cancel::tick();
            }
        }
    });
    if let Some((_, err)) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(changed(path, 0, err));
    }
    if !queue.into_inner().unwrap_or_else(|p| p.into_inner()).is_empty() {
        return Err(other(path, "the read stopped before every range was fetched".into()));
    }
    Ok(())
}

/// A writer: the first answer is streamed to it, and the rest follows,
/// fetched as [`Pace`] decides on that first answer: in ranges from the
/// pool, delivered in order as they arrive, or as one more stream.
#[allow(clippy::too_many_arguments)]
fn in_order(
    e: &Arc<Engine>,
    path: &str,
    key: &str,
    got: Got,
    offset: u64,
    rest: Range<u64>,
    etag: String,
    writer: &mut dyn Write,
) -> Result<u64> {
    let d = e.settings.download;
    let mut ranges = Ranges {
        engine: Arc::clone(e),
        path: path.into(),
        key: key.into(),
        pool: None,
        etag: etag.into(),
        cancel: Arc::new(AtomicBool::new(false)),
        budget: retry::current_budget(),
        next: rest.start,
        end: rest.end,
        part_size: d.part_size,
        window: d.concurrency,
        in_flight: VecDeque::new(),
    };
    let first = rest.start - offset;
    let mut body = Paced {
        inner: got.resp.into_body().into_reader(),
        len: first,
        read: 0,
        pace: Pace::new(d.part_size, d.parallel_below),
        ranges: &mut ranges,
        parallel: None,
        rest: None,
    };
    // Decided before the first byte when the pace is not measured: the
    // ranges are on their way while the first answer streams in.
    body.decide();
    let mut delivered = copy_exact(path, &mut body, Some(first), writer)?;
    if body.parallel != Some(true) {
        let asked = body.rest.take();
        drop(body);
        let etag = Arc::clone(&ranges.etag);
        return stream_rest(e, path, key, rest, &etag, asked, writer, delivered);
    }
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

/// Whether the rest of a read to a writer is worth parallel ranges, told
/// by the pace of its first answer. Ranges ahead of the writer wait in
/// staging buffers, fetched and copied once more than a stream's bytes and
/// taken as fresh pages by a store's first large reads; they pay off when
/// one connection is slower than the caller can take bytes in. So the rest
/// goes parallel when the first answer's body arrives slower than
/// `download_parallel_below` bytes per second, and as one more stream when
/// faster. Only the time spent in reads of the body counts: a slow writer
/// does not make the network look slow, nor does a server slow to answer
/// (the one more request waits once for its answer, where ranges would
/// wait once each). Decided once `part` bytes have come, or as soon as the
/// rate can no longer reach the bar.
#[derive(Debug, Clone, Copy)]
struct Pace {
    waited: Duration,
    bytes: u64,
    part: u64,
    /// Bytes per second; 0: every read goes parallel, unmeasured.
    below: u64,
}

impl Pace {
    fn new(part: u64, below: u64) -> Pace {
        Pace {
            waited: Duration::ZERO,
            bytes: 0,
            part,
            below,
        }
    }

    /// `Some(true)`: parallel; `Some(false)`: one stream; `None`: not yet
    /// known.
    fn decide(&self) -> Option<bool> {
        if self.below == 0 {
            return Some(true);
        }
        // What the bar asks for in the time waited so far.
        let bar = self.below as f64 * self.waited.as_secs_f64();
        if self.bytes >= self.part {
            Some((self.bytes as f64) < bar)
        } else if self.part as f64 <= bar {
            // Slower for sure: had the whole part come now, it would still
            // fall short.
            Some(true)
        } else {
            None
        }
    }
}

/// The first answer's body (`len` bytes), timed until the pace is known.
/// On a slow one it starts the ranges of the rest; on a fast one it asks
/// for the rest once at most `part` bytes are left to read, so the wait
/// for that answer overlaps this one's last bytes (and a slow writer does
/// not keep the answer waiting on its connection for long).
struct Paced<'a, R> {
    inner: R,
    len: u64,
    read: u64,
    pace: Pace,
    ranges: &'a mut Ranges,
    parallel: Option<bool>,
    rest: Option<Ticket<Got>>,
}

impl<R> Paced<'_, R> {
    fn decide(&mut self) {
        if self.parallel.is_none() {
            self.parallel = self.pace.decide();
            if self.parallel == Some(true) {
                self.ranges.fill();
            }
        }
        if self.parallel == Some(false)
            && self.rest.is_none()
            && self.len - self.read.min(self.len) <= self.pace.part
        {
            self.rest = Some(self.ranges.ask_rest());
        }
    }
}

impl<R: Read> Read for Paced<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.parallel == Some(true) || self.rest.is_some() {
            return self.inner.read(buf);
        }
        let started = Instant::now();
        let n = self.inner.read(buf)?;
        if self.parallel.is_none() {
            self.pace.waited += started.elapsed();
            self.pace.bytes += n as u64;
        }
        self.read += n as u64;
        self.decide();
        Ok(n)
    }
}

/// The rest of a read to a writer as one stream of version `etag`, after
/// `delivered` bytes, its first answer perhaps `asked` for already: a
/// failed attempt is retried through the call's budget from the first byte
/// not yet written.
#[allow(clippy::too_many_arguments)]
fn stream_rest(
    e: &Engine,
    path: &str,
    key: &str,
    rest: Range<u64>,
    etag: &str,
    mut asked: Option<Ticket<Got>>,
    writer: &mut dyn Write,
    delivered: u64,
) -> Result<u64> {
    let mut writer = CountingWriter { inner: writer, count: 0 };
    let what = || format!("the rest of {path} from {}", rest.start);
    let result = retry::retrying(&e.settings.retry, &what, || {
        let at = rest.start + writer.count;
        if at == rest.end {
            return Ok(());
        }
        let got = match asked.take() {
            Some(ticket) => ticket.wait()?,
            None => range_of_version(e, path, key, at..rest.end, etag)?,
        };
        let mut body = got.resp.into_body().into_reader();
        copy_exact(path, &mut body, Some(rest.end - at), &mut writer).map(drop)
    });
    let delivered = delivered + writer.count;
    result.map_err(|e| changed(path, delivered, e))?;
    Ok(delivered)
}

/// GET of exactly `range` of version `etag`: any other answer (past the
/// end, another range, another version) is an error.
fn range_of_version(e: &Engine, path: &str, key: &str, range: Range<u64>, etag: &str) -> Result<Got> {
    let got = get(e, path, key, Some(ByteRange::Span(range.start, range.end - 1)), Some(etag))?
        .ok_or_else(|| {
            other(
                path,
                format!("the range at {} is past the end: the object shrank", range.start),
            )
        })?;
    let status = got.resp.status().as_u16();
    if status != 206 || got.start != range.start || got.end != Some(range.end) {
        return Err(other(
            path,
            format!("the server answered a range request with HTTP {status} and another range"),
        ));
    }
    check_version(path, Some(etag), got.etag.as_deref())?;
    Ok(got)
}

/// A range refused for its version means the object changed under the read.
pub(super) fn changed(path: &str, delivered: u64, e: Error) -> Error {
    match e {
        Error::PreconditionFailed { remote, .. } => Error::ChangedDuringRead {
            path: path.to_owned(),
            delivered,
            remote,
        },
        other => other,
    }
}

/// The ranges of one ordered download: those in flight, in order, and
/// where the next one starts. Dropping it stops and waits for every range
/// in flight.
struct Ranges {
    engine: Arc<Engine>,
    path: Arc<str>,
    key: Arc<str>,
    pool: Option<Arc<Pool>>,
    etag: Arc<str>,
    cancel: Arc<AtomicBool>,
    budget: Option<Arc<retry::Budget>>,
    next: u64,
    end: u64,
    part_size: u64,
    window: usize,
    in_flight: VecDeque<Ticket<Vec<u8>>>,
}

impl Ranges {
    /// Submits ranges until the window is full or none is left.
    fn fill(&mut self) {
        while self.in_flight.len() < self.window && self.next < self.end {
            let start = self.next;
            let len = self.part_size.min(self.end - start);
            self.next += len;
            let (e, path, key, etag, cancel, budget) = (
                Arc::clone(&self.engine),
                Arc::clone(&self.path),
                Arc::clone(&self.key),
                Arc::clone(&self.etag),
                Arc::clone(&self.cancel),
                self.budget.clone(),
            );
            let pool = self.pool();
            self.in_flight.push_back(pool.submit(move || {
                // The store's buffers of earlier ranges: fresh ones of
                // several MiB each would cost a page fault every 4 KiB.
                let buf = e.buffers.take(len as usize);
                // Every byte is overwritten (or the range fails): a recycled
                // buffer needs no clearing.
                let mut buf = super::upload::sized(buf, len as usize);
                retry::within(budget, || {
                    fetch_range(&e, &path, &key, start, &etag, &cancel, &mut buf)
                })?;
                Ok(buf)
            }));
        }
    }

    /// Asks for all that is left in one request, on the pool: its answer
    /// (headers read, body not yet) is the ticket's.
    fn ask_rest(&mut self) -> Ticket<Got> {
        let (e, path, key, etag, budget) = (
            Arc::clone(&self.engine),
            Arc::clone(&self.path),
            Arc::clone(&self.key),
            Arc::clone(&self.etag),
            self.budget.clone(),
        );
        let range = self.next..self.end;
        self.pool()
            .submit(move || retry::within(budget, || range_of_version(&e, &path, &key, range, &etag)))
    }

    /// The store's pool, taken on first use: a read that needs no range
    /// starts no thread.
    fn pool(&mut self) -> Arc<Pool> {
        match &self.pool {
            Some(pool) => Arc::clone(pool),
            None => {
                let pool = self.engine.pool();
                self.pool = Some(Arc::clone(&pool));
                pool
            }
        }
    }

    /// Keeps the buffer of a range written out for a later range.
    fn recycle(&self, buf: Vec<u8>) {
        self.engine.buffers.give(buf);
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

/// Fills `buf` with the bytes at `start` of version `etag` only, retrying
/// the whole range (request and body) through the call's budget.
fn fetch_range(
    e: &Engine,
    path: &str,
    key: &str,
    start: u64,
    etag: &str,
    cancel: &AtomicBool,
    buf: &mut [u8],
) -> Result<()> {
    let end = start + buf.len() as u64;
    let what = || format!("range at {start} of {path}");
    retry::retrying(&e.settings.retry, &what, || {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled {
                path: path.to_owned(),
            });
        }
        let got = range_of_version(e, path, key, start..end, etag)?;
        let mut body = got.resp.into_body().into_reader();
        read_body(path, &mut body, buf, Some(cancel))
    })
}

/// A resumed read whose offset the server found past the end: fine (0
/// bytes) when the object is still version `if_match` and exactly `offset`
/// bytes long, the earlier read having been cut after its last byte.
fn resume_at_end(
    e: &Engine,
    path: &str,
    key: &str,
    offset: u64,
    if_match: &str,
    seen_version: &mut Option<String>,
) -> Result<u64> {
    let resp = e
        .proto
        .head(&e.client, path, key, Some(if_match))?
        .ok_or_else(|| Error::not_found(path))?;
    let etag = header(&resp, "etag").map(str::to_owned);
    check_version(path, Some(if_match), etag.as_deref())?;
    let size = super::content_length(path, &resp)?;
    if size != offset {
        return Err(past_end(path, offset, Some(size)));
    }
    *seen_version = etag;
    Ok(0)
}

/// `read_range`: up to `buf.len()` bytes at `offset`, in one request.
pub(crate) fn read_range(
    e: &Arc<Engine>,
    path: &str,
    offset: u64,
    buf: &mut [u8],
) -> Result<usize> {
    let key = e.key(path)?;
    if buf.is_empty() {
        let size = e.size_of(path, &key)?;
        if offset > 0 && offset >= size {
            return Err(past_end(path, offset, Some(size)));
        }
        return Ok(0);
    }
    let last = offset.saturating_add(buf.len() as u64 - 1);
    let Some(got) = get(e, path, &key, Some(ByteRange::Span(offset, last)), None)? else {
        // An empty object has no byte 0, yet offset 0 reads nothing.
        if offset == 0 && e.size_of(path, &key)? == 0 {
            return Ok(0);
        }
        return Err(past_end(path, offset, None));
    };
    let mut body = got.resp.into_body().into_reader();
    if got.start == offset {
        let n = got
            .end
            .map(|end| end - got.start)
            .unwrap_or(buf.len() as u64);
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
        if got.end == Some(offset + n as u64) {
            read_body(path, &mut body, &mut buf[..n], None)?;
        } else {
            // A server that ignored the range sends more than fits.
            read_into(path, &mut body, &mut buf[..n], None)?;
        }
        return Ok(n);
    }
    // The server ignored the range: skip to the offset, take what fits.
    let available = got.total.map(|t| t.saturating_sub(offset));
    if available == Some(0) {
        return Err(past_end(path, offset, got.total));
    }
    io::copy(&mut (&mut body).take(offset), &mut io::sink())
        .map_err(|e| io_error(path, "read body", e))?;
    let n = available.map_or(buf.len(), |a| {
        usize::try_from(a).unwrap_or(usize::MAX).min(buf.len())
    });
    read_into(path, &mut body, &mut buf[..n], None)?;
    Ok(n)
}

/// Drops the first `skip` bytes written to it.
struct SkipWriter<'a, W: Write + ?Sized> {
    skip: u64,
    inner: &'a mut W,
    written: u64,
}

impl<W: Write + ?Sized> Write for SkipWriter<'_, W> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_too_large_to_hold_is_an_error_not_an_abort() {
        for len in [1u64 << 62, u64::MAX, 100_000_000_000_000_000] {
            let err = zeroed("k", len).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{len}");
            assert!(
                err.to_string().contains("more than this process can hold"),
                "{err}"
            );
        }
        assert_eq!(zeroed("k", 3).unwrap(), [0, 0, 0]);
    }

    #[test]
    fn the_pace_of_the_first_answer_decides_parallel_ranges() {
        const MIB: u64 = 1 << 20;
        let pace = |bytes: u64, ms: u64, below: u64| Pace {
            waited: Duration::from_millis(ms),
            bytes,
            part: 8 * MIB,
            below,
        };
        // 0: always parallel, before any byte.
        assert_eq!(pace(0, 0, 0).decide(), Some(true));
        // Not known before a part has come, unless it can no longer be fast.
        assert_eq!(pace(0, 0, 256 * MIB).decide(), None);
        assert_eq!(pace(4 * MIB, 20, 256 * MIB).decide(), None);
        // 8 MiB at 256 MiB/s takes 31.25 ms.
        assert_eq!(pace(4 * MIB, 32, 256 * MIB).decide(), Some(true));
        assert_eq!(pace(8 * MIB, 10, 256 * MIB).decide(), Some(false));
        assert_eq!(pace(8 * MIB, 31, 256 * MIB).decide(), Some(false));
        assert_eq!(pace(8 * MIB, 32, 256 * MIB).decide(), Some(true));
        assert_eq!(pace(16 * MIB, 40, 256 * MIB).decide(), Some(false));
        // 100 MiB/s, what one connection to a cloud store often gives.
        assert_eq!(pace(8 * MIB, 80, 256 * MIB).decide(), Some(true));
        // 1 byte per second: any network is faster.
        assert_eq!(pace(8 * MIB, 60_000, 1).decide(), Some(false));
    }

    #[test]
    fn reads_fill_exactly_and_a_short_body_is_a_network_error() {
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let mut buf = vec![0u8; 10_000];
        read_into("k", &mut &data[..], &mut buf[..], None).unwrap();
        assert_eq!(buf, data);
        let err = read_into("k", &mut &data[..10], &mut buf[..], None).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Network);
        assert!(err.to_string().contains("after 10 of 10000"), "{err}");
    }
}
