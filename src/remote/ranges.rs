//! How any remote store reads many ranges of one object at once
//! (`read_ranges`), as a Parquet reader asks for a footer and then a few
//! dozen column chunks.
//!
//! The plan, before any request:
//! - Ranges are taken in the order of their offsets. The bytes of a range
//!   that an earlier range also covers (overlapping ranges) are fetched
//!   once, for the earlier one, and copied when every request is done; what
//!   is left of each range (its *piece*) is disjoint from every other.
//! - Pieces go into requests in order: a piece joins the request before it
//!   when the gap between them is at most `coalesce_gap` and the request
//!   stays within `download_part_size`; a piece too long for one request is
//!   split at that size. So a request is never larger than a part, and no
//!   request holds only bytes nobody asked for.
//!
//! The first request (the lowest offset) goes alone: its answer gives the
//! object's size, against which every range is checked (one past the end
//! fails the call before any other request), and its ETag, which every
//! other request carries in `If-Match` and must come back with. Those run
//! on scoped threads, at most `download_concurrency` at once, while the
//! first answer's body is read on the caller's thread. Each answer's bytes
//! are read straight into the pieces' buffers (the callers' own), the gaps
//! between pieces read and dropped. A server that ignores Range sends the
//! whole object to the first request: every piece is filled from that one
//! stream.

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::download::{check_version, end_of_body, get, in_parallel, other, past_end, read_into};
use super::{ByteRange, Engine};
use crate::backend::ReadRange;
use crate::error::{Error, Result};
use crate::retry;

/// Bytes of the object that go to one caller's buffer.
struct Piece<'b> {
    at: u64,
    buf: &'b mut [u8],
}

/// One GET: bytes `start..end` of the object, and the pieces (in order)
/// that they fill.
struct Request<'b> {
    start: u64,
    end: u64,
    pieces: Vec<Piece<'b>>,
}

/// The first `len` bytes of range `to` are bytes of range `from` (which
/// starts at or before it): copied once the requests are done.
struct Copy {
    to: usize,
    from: usize,
    len: usize,
}

/// [`crate::Backend::read_ranges`] on a remote store.
pub(crate) fn read_ranges(e: &Arc<Engine>, path: &str, ranges: &mut [ReadRange<'_>]) -> Result<()> {
    let key = e.key(path)?;
    ranges.iter_mut().for_each(|r| r.read = 0);
    let outcome = run(e, path, &key, ranges);
    if outcome.is_err() {
        ranges.iter_mut().for_each(|r| r.read = 0);
    }
    outcome
}

fn run(e: &Arc<Engine>, path: &str, key: &str, ranges: &mut [ReadRange<'_>]) -> Result<()> {
    // (offset, length) of every range: the buffers are lent to the requests.
    let spans: Vec<(u64, usize)> = ranges.iter().map(|r| (r.offset, r.buf.len())).collect();
    for &(offset, len) in &spans {
        if offset.checked_add(len as u64).is_none() {
            return Err(Error::invalid_argument(format!(
                "{path}: a range of {len} bytes at offset {offset} ends past 2^64"
            )));
        }
    }
    let mut order: Vec<usize> = (0..spans.len()).filter(|&i| spans[i].1 > 0).collect();
    if order.is_empty() {
        // Nothing to read; the offsets are still checked, as read_range does.
        if let Some(max) = spans.iter().map(|s| s.0).max().filter(|&m| m > 0) {
            let size = e.size_of(path, key)?;
            if max >= size {
                return Err(past_end(path, max, Some(size)));
            }
        }
        return Ok(());
    }
    order.sort_by_key(|&i| (spans[i].0, std::cmp::Reverse(spans[i].1)));

    // Which bytes each range fetches itself, and which it copies.
    let mut copies = Vec::new();
    let mut own: Vec<(usize, u64)> = Vec::with_capacity(order.len());
    let (mut reach, mut furthest) = (0u64, None);
    for &i in &order {
        let (offset, len) = spans[i];
        let end = offset + len as u64;
        let mut start = offset;
        if let Some(from) = furthest.filter(|_| reach > offset) {
            let len = reach.min(end) - offset;
            copies.push(Copy { to: i, from, len: len as usize });
            start += len;
        }
        if end > start {
            own.push((i, start));
        }
        if end > reach {
            (reach, furthest) = (end, Some(i));
        }
    }

    let d = e.settings.download;
    let part = d.part_size.max(1);
    let mut bufs: Vec<Option<&mut [u8]>> = ranges.iter_mut().map(|r| Some(&mut *r.buf)).collect();
    let mut requests: Vec<Request<'_>> = Vec::new();
    for &(i, start) in &own {
        let Some(buf) = bufs[i].take() else { continue };
        let mut rest = &mut buf[(start - spans[i].0) as usize..];
        let mut at = start;
        while !rest.is_empty() {
            let room = match requests.last() {
                Some(r) if at - r.end <= d.coalesce_gap && at < r.start + part => r.start + part - at,
                _ => 0,
            };
            let joins = room > 0;
            let n = if joins { room } else { part }.min(rest.len() as u64) as usize;
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
            rest = tail;
            let piece = Piece { at, buf: head };
            match requests.last_mut() {
                Some(r) if joins => {
                    r.end = at + n as u64;
                    r.pieces.push(piece);
                }
                _ => requests.push(Request {
                    start: at,
                    end: at + n as u64,
                    pieces: vec![piece],
                }),
            }
            at += n as u64;
        }
    }

    let total = fetch(e, path, key, requests, &spans)?;

    for c in &copies {
        let off = (spans[c.to].0 - spans[c.from].0) as usize;
        let (from, to) = pair(ranges, c.from, c.to);
        to.buf[..c.len].copy_from_slice(&from.buf[off..off + c.len]);
    }
    for (r, &(offset, len)) in ranges.iter_mut().zip(&spans) {
        r.read = match total {
            Some(t) => len.min(usize::try_from(t.saturating_sub(offset)).unwrap_or(usize::MAX)),
            None => len,
        };
    }
    Ok(())
}

/// Range `from` to read and range `to` to write (two different ranges).
fn pair<'s, 'a>(
    ranges: &'s mut [ReadRange<'a>],
    from: usize,
    to: usize,
) -> (&'s ReadRange<'a>, &'s mut ReadRange<'a>) {
    if from < to {
        let (low, high) = ranges.split_at_mut(to);
        (&low[from], &mut high[0])
    } else {
        let (low, high) = ranges.split_at_mut(from);
        (&high[0], &mut low[to])
    }
}

/// Sends the requests and fills their pieces; the object's size, when an
/// answer said it.
fn fetch(
    e: &Arc<Engine>,
    path: &str,
    key: &str,
    mut requests: Vec<Request<'_>>,
    spans: &[(u64, usize)],
) -> Result<Option<u64>> {
    let mut first = requests.remove(0);
    let asked = ByteRange::Span(first.start, first.end - 1);
    let Some(got) = get(e, path, key, Some(asked), None)? else {
        // The lowest range starts at or past the end.
        if first.start > 0 {
            return Err(past_end(path, first.start, None));
        }
        // An empty object: offset 0 reads nothing, any other is past its end.
        if e.size_of(path, key)? != 0 {
            return Err(Error::ChangedDuringRead {
                path: path.to_owned(),
                delivered: 0,
                remote: None,
            });
        }
        if let Some(max) = spans.iter().map(|s| s.0).max().filter(|&m| m > 0) {
            return Err(past_end(path, max, Some(0)));
        }
        return Ok(Some(0));
    };
    let ignored_range = got.resp.status().as_u16() != 206;
    let total = if ignored_range {
        got.total
    } else {
        got.total.or(got.end.filter(|&end| end < first.end))
    };
    if let Some(t) = total {
        if let Some(bad) = spans.iter().map(|s| s.0).filter(|&o| o > 0 && o >= t).min() {
            return Err(past_end(path, bad, Some(t)));
        }
        trim(&mut first, t);
        requests.iter_mut().for_each(|r| trim(r, t));
        requests.retain(|r| !r.pieces.is_empty());
    }

    if ignored_range {
        // The whole object, from byte 0: every piece comes from this stream.
        let mut pieces = first.pieces;
        pieces.extend(requests.into_iter().flat_map(|r| r.pieces));
        let body_end = got.end;
        let mut body = got.resp.into_body().into_reader();
        fill(path, &mut body, 0, body_end, &mut pieces, None)?;
        return Ok(total);
    }
    if got.end != Some(first.end) {
        return Err(other(
            path,
            format!(
                "asked for bytes {}-{}, the server sent {}-{}",
                first.start,
                first.end - 1,
                got.start,
                got.end.map_or(0, |end| end.saturating_sub(1))
            ),
        ));
    }
    let Some(etag) = got.etag.clone().filter(|_| !requests.is_empty()) else {
        if requests.is_empty() {
            let mut body = got.resp.into_body().into_reader();
            fill(path, &mut body, first.start, Some(first.end), &mut first.pieces, None)?;
            return Ok(total);
        }
        // Without an ETag the answers of two versions cannot be told apart:
        // everything comes from one request instead.
        drop(got);
        let end = requests.last().map_or(first.end, |r| r.end);
        let mut pieces = first.pieces;
        pieces.extend(requests.into_iter().flat_map(|r| r.pieces));
        let asked = ByteRange::Span(first.start, end - 1);
        let got = get(e, path, key, Some(asked), None)?.ok_or_else(|| past_end(path, first.start, None))?;
        if got.resp.status().as_u16() != 206 || got.start != first.start || got.end != Some(end) {
            return Err(other(path, "the server answered a range request with another range".into()));
        }
        let mut body = got.resp.into_body().into_reader();
        fill(path, &mut body, first.start, Some(end), &mut pieces, None)?;
        return Ok(total);
    };

    let mut body = got.resp.into_body().into_reader();
    in_parallel(
        path,
        e.settings.download.concurrency,
        requests,
        |r| r.start,
        |r, cancel| fetch_one(e, path, key, r, &etag, cancel),
        first.start,
        |cancel| match fill(path, &mut body, first.start, Some(first.end), &mut first.pieces, Some(cancel)) {
            // A body cut short is asked for again, of the same version.
            Err(err) if err.is_transient() => fetch_one(e, path, key, &mut first, &etag, cancel),
            other => other,
        },
    )?;
    Ok(total)
}

/// Drops what lies at or past `total` from a request.
fn trim(r: &mut Request<'_>, total: u64) {
    r.pieces.retain(|p| p.at < total);
    for p in &mut r.pieces {
        let keep = usize::try_from(total - p.at).unwrap_or(usize::MAX).min(p.buf.len());
        let buf = std::mem::take(&mut p.buf);
        p.buf = &mut buf[..keep];
    }
    r.end = r.end.min(total);
}

/// One request of version `etag`, retried through the policy; its pieces
/// are filled again from the start by each attempt.
fn fetch_one(
    e: &Engine,
    path: &str,
    key: &str,
    request: &mut Request<'_>,
    etag: &str,
    cancel: &AtomicBool,
) -> Result<()> {
    let (start, end) = (request.start, request.end);
    let what = || format!("range at {start} of {path}");
    retry::retrying(&e.settings.retry, &what, || {
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled {
                path: path.to_owned(),
            });
        }
        let got = get(e, path, key, Some(ByteRange::Span(start, end - 1)), Some(etag))?
            .ok_or_else(|| other(path, format!("the range at {start} is past the end: the object shrank")))?;
        let status = got.resp.status().as_u16();
        if status != 206 || got.start != start || got.end != Some(end) {
            return Err(other(
                path,
                format!("the server answered a range request with HTTP {status} and another range"),
            ));
        }
        check_version(path, Some(etag), got.etag.as_deref())?;
        let mut body = got.resp.into_body().into_reader();
        fill(path, &mut body, start, Some(end), &mut request.pieces, Some(cancel))
    })
}

/// Reads `body`, whose first byte is byte `pos` of the object, into the
/// pieces (in order, at or after `pos`), dropping the bytes between them.
/// A body known to end at `end`, where the last piece ends, is read to its
/// end: that checks the server sent no more, and gives the connection back
/// to the pool (a body left unfinished closes it).
fn fill(
    path: &str,
    body: &mut dyn Read,
    mut pos: u64,
    end: Option<u64>,
    pieces: &mut [Piece<'_>],
    cancel: Option<&AtomicBool>,
) -> Result<()> {
    let start = pos;
    for p in pieces {
        if p.at > pos {
            let gap = p.at - pos;
            let skipped = io::copy(&mut (&mut *body).take(gap), &mut io::sink())
                .map_err(|e| crate::http::io_error(path, "read body", e))?;
            if skipped != gap {
                return Err(Error::Network {
                    path: path.to_owned(),
                    message: format!("body ended {} bytes before offset {}", gap - skipped, p.at),
                    source: None,
                });
            }
        }
        read_into(path, body, p.buf, cancel)?;
        pos = p.at + p.buf.len() as u64;
    }
    if end == Some(pos) {
        end_of_body(path, body, pos - start)?;
    }
    Ok(())
}
