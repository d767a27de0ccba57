//! CRC-32C (Castagnoli): the SSE4.2 instruction on three independent
//! streams where the CPU has it (about 8 bytes a cycle: the instruction's
//! latency is three cycles, its throughput one), else slicing-by-8 tables
//! built on first use (no table in the binary).
//!
//! Functions here update the raw register (no inversion); the caller
//! starts from `!0` and inverts the end.

use std::sync::OnceLock;

/// The reflected polynomial.
const POLY: u32 = 0x82F6_3B78;

/// Adds `data` to the register `crc`: in hardware where the CPU has it
/// (the one unsafe call, after the CPU check, is in `src/ffi/cpu.rs`, with
/// the crate's other unsafe code).
pub(super) fn update(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(crc) = crate::ffi::cpu::crc32c_sse42(crc, data) {
        return crc;
    }
    soft(crc, data)
}

/// One bit step: the register times x, modulo the polynomial.
const fn times_x(c: u32) -> u32 {
    if c & 1 != 0 {
        (c >> 1) ^ POLY
    } else {
        c >> 1
    }
}

/// x^(8n) modulo the polynomial: what `n` zero bytes do to a register.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const fn zeros(n: usize) -> u32 {
    let mut c: u32 = 1 << 31; // the polynomial 1, reflected
    let mut i = 0;
    while i < 8 * n {
        c = times_x(c);
        i += 1;
    }
    c
}

/// `a * b` modulo the polynomial (both reflected).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn multiply(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    let mut bit: u32 = 1 << 31;
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        bit >>= 1;
        b = times_x(b);
    }
    product
}

fn table() -> &'static [[u32; 256]; 8] {
    static TABLE: OnceLock<Box<[[u32; 256]; 8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([[0u32; 256]; 8]);
        for i in 0..256 {
            let mut c = i as u32;
            for _ in 0..8 {
                c = times_x(c);
            }
            t[0][i] = c;
        }
        for i in 0..256 {
            for k in 1..8 {
                let prev = t[k - 1][i];
                t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            }
        }
        t
    })
}

/// Slicing-by-8: eight table lookups a word.
pub(super) fn soft(mut crc: u32, data: &[u8]) -> u32 {
    let t = table();
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ crc;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        crc = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xFF) as usize]
            ^ t[2][((hi >> 8) & 0xFF) as usize]
            ^ t[1][((hi >> 16) & 0xFF) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in words.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u32::from(b)) & 0xFF) as usize];
    }
    crc
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod hw {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};

    /// Bytes of each of the three streams per round.
    const BLOCK: usize = 8 * 1024;
    /// What one and two blocks of zeros do to a register: a stream's CRC
    /// moved past the blocks after it.
    const SHIFT_1: u32 = super::zeros(BLOCK);
    const SHIFT_2: u32 = super::zeros(2 * BLOCK);

    fn word(w: &[u8]) -> u64 {
        u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
    }

    /// Three blocks at a time, as three independent CRCs (the first
    /// carrying the register, the others from zero), joined by linearity:
    /// crc(A B C) = crc(A)·x^(16·BLOCK) + crc(B)·x^(8·BLOCK) + crc(C).
    #[target_feature(enable = "sse4.2")]
    pub(crate) fn update(mut crc: u32, mut data: &[u8]) -> u32 {
        while data.len() >= 3 * BLOCK {
            let (a, rest) = data.split_at(BLOCK);
            let (b, rest) = rest.split_at(BLOCK);
            let (c, rest) = rest.split_at(BLOCK);
            let (mut x, mut y, mut z) = (u64::from(crc), 0u64, 0u64);
            for ((p, q), r) in a.chunks_exact(8).zip(b.chunks_exact(8)).zip(c.chunks_exact(8)) {
                x = _mm_crc32_u64(x, word(p));
                y = _mm_crc32_u64(y, word(q));
                z = _mm_crc32_u64(z, word(r));
            }
            crc = super::multiply(SHIFT_2, x as u32) ^ super::multiply(SHIFT_1, y as u32) ^ z as u32;
            data = rest;
        }
        let mut words = data.chunks_exact(8);
        let mut c = u64::from(crc);
        for w in &mut words {
            c = _mm_crc32_u64(c, word(w));
        }
        let mut crc = c as u32;
        for &b in words.remainder() {
            crc = _mm_crc32_u8(crc, b);
        }
        crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitwise(mut crc: u32, data: &[u8]) -> u32 {
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = times_x(crc);
            }
        }
        crc
    }

    #[test]
    fn every_path_agrees_with_the_bit_at_a_time_definition() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(0x9E37_79B9) >> 24) as u8).collect();
        for len in [0, 1, 7, 8, 9, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 5, 100_000] {
            let want = bitwise(!0, &data[..len]);
            assert_eq!(soft(!0, &data[..len]), want, "soft, {len} bytes");
            assert_eq!(update(!0, &data[..len]), want, "dispatched, {len} bytes");
        }
    }

    #[test]
    fn zeros_and_multiply_move_a_register_past_zero_bytes() {
        let r = 0xDEAD_BEEF;
        assert_eq!(multiply(zeros(100), r), bitwise(r, &[0u8; 100]));
    }
}
