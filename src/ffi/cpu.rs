//! The crate's one use of a CPU feature found at run time: CRC-32C in
//! SSE4.2 (`src/checksum/crc32c.rs`). A `#[target_feature]` function can
//! only be called from code without the feature through `unsafe`, and
//! unsafe code lives in `src/ffi/` alone.

/// `data` added to the CRC-32C register `crc` by the SSE4.2 instruction,
/// or `None` when this CPU does not have it.
#[cfg(target_arch = "x86_64")]
pub(crate) fn crc32c_sse42(crc: u32, data: &[u8]) -> Option<u32> {
    if !std::arch::is_x86_feature_detected!("sse4.2") {
        return None;
    }
    // SAFETY: the function needs only SSE4.2, which the CPU was just found
    // to have; it reads nothing but the slice it is given.
    Some(unsafe { crate::checksum::crc32c::hw::update(crc, data) })
}
