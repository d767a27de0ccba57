//! `blobio_read_ranges`: many ranges of one object into the caller's
//! buffers, in one call.

use std::borrow::Cow;
use std::ffi::c_char;

use super::boundary::{arg_ref, arg_str, boundary, Failure};
use super::status::blobio_status;
use super::store::blobio_store;
use crate::backend::ReadRange;
use crate::error::Error;

/// One range of `blobio_read_ranges()`: `length` bytes wanted at `offset`
/// of the object, to be written at `data`; the call sets `read`.
///
/// This struct is frozen: its members, their order and its size never
/// change (what a later version adds comes as a new function), so arrays
/// of it compiled against any 0.x header stay valid.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct blobio_range {
    /// Offset in the object of the first byte wanted.
    pub offset: u64,
    /// Bytes wanted; 0 reads nothing (the offset is still checked).
    pub length: usize,
    /// Where the bytes go: `length` writable bytes, not overlapping any
    /// other range's. May be NULL when `length` is 0.
    pub data: *mut u8,
    /// Set by the call: bytes written at `data`, fewer than `length` only
    /// at the end of the object; 0 for every range when the call fails.
    pub read: usize,
}

// The frozen layout: offset, length, data, read.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<blobio_range>() == 32);

/// Reads `n` ranges of the object at `path` at once: `ranges[i].length`
/// bytes at `ranges[i].offset` into `ranges[i].data`, setting
/// `ranges[i].read`. Ranges may come in any order and overlap in the
/// object; their destinations must not overlap each other
/// (`BLOBIO_STATUS_INVALID_ARGUMENT`). Offsets follow `blobio_read_range()`:
/// one at or past the end of a non-empty object fails the call.
///
/// Remote stores merge ranges closer than the `coalesce_gap` option
/// (default 1 MiB) into one request, as long as it stays within
/// `download_part_size`; split longer ones; send the requests in parallel
/// (`download_concurrency` at once); and read one version of the object: one
/// replaced meanwhile fails with `BLOBIO_STATUS_CHANGED_DURING_READ`. The
/// bytes go straight into the destinations. `ranges` may be NULL when `n`
/// is 0. On failure every `read` is 0 and the destinations' contents are
/// unspecified.
#[no_mangle]
pub unsafe extern "C" fn blobio_read_ranges(
    store: *const blobio_store,
    path: *const c_char,
    ranges: *mut blobio_range,
    n: usize,
) -> blobio_status {
    boundary("blobio_read_ranges", || {
        // SAFETY: `store` is NULL, which `arg_ref` refuses, or a live `blobio_store` from one
        // of its constructors, not yet freed (the header: only blobio_store_free() may be the
        // last use, and a store may be shared by threads).
        let store = unsafe { arg_ref(store, "store") }?;
        // SAFETY: `path` is NULL, which `arg_str` refuses, or a NUL-terminated string the
        // caller keeps valid until this export returns (the header's string contract); the
        // `&str` does not outlive the call.
        let path = unsafe { arg_str(path, "path") }?;
        if n == 0 {
            return Ok(store.backend().read_ranges(path, &mut [])?);
        }
        if ranges.is_null() {
            return Err(Failure::NullArgument(Cow::Borrowed("ranges")));
        }
        // SAFETY: non-NULL and, as documented, `n` elements the call may
        // read and write; copied out so that no Rust reference aliases them
        // while the destinations are lent.
        let specs: Vec<blobio_range> = unsafe { std::slice::from_raw_parts(ranges, n) }.to_vec();
        // Written before anything can fail, so that a failure leaves 0.
        for i in 0..n {
            // SAFETY: element `i` of the array the caller handed over.
            unsafe { std::ptr::addr_of_mut!((*ranges.add(i)).read).write(0) };
        }
        check_destinations(&specs)?;
        let mut lent: Vec<ReadRange<'_>> = specs
            .iter()
            .map(|r| {
                let buf: &mut [u8] = if r.length == 0 {
                    &mut []
                } else {
                    // SAFETY: non-NULL (checked), valid for `length` bytes
                    // as documented, and disjoint from every other range's
                    // destination (checked).
                    unsafe { std::slice::from_raw_parts_mut(r.data, r.length) }
                };
                ReadRange::new(r.offset, buf)
            })
            .collect();
        store.backend().read_ranges(path, &mut lent)?;
        let reads: Vec<usize> = lent.iter().map(|r| r.read).collect();
        drop(lent);
        for (i, read) in reads.into_iter().enumerate() {
            // SAFETY: as above.
            unsafe { std::ptr::addr_of_mut!((*ranges.add(i)).read).write(read) };
        }
        Ok(())
    })
}

/// Every destination of a non-empty range is non-NULL, and no two overlap.
fn check_destinations(specs: &[blobio_range]) -> Result<(), Failure> {
    let mut spans: Vec<(usize, usize, usize)> = Vec::with_capacity(specs.len());
    for (i, r) in specs.iter().enumerate() {
        if r.length == 0 {
            continue;
        }
        if r.data.is_null() {
            return Err(Failure::NullArgument(Cow::Owned(format!("ranges[{i}].data"))));
        }
        let start = r.data as usize;
        let end = start.checked_add(r.length).ok_or_else(|| {
            Failure::from(Error::invalid_argument(format!(
                "ranges[{i}]: {} bytes at data do not fit in the address space",
                r.length
            )))
        })?;
        spans.push((start, end, i));
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(Failure::from(Error::invalid_argument(format!(
                "ranges[{}] and ranges[{}]: their destinations overlap",
                w[0].2, w[1].2
            ))));
        }
    }
    Ok(())
}
