//! CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5; S3's CRC64NVME
//! and Azure's CRC-64): slicing-by-8 tables built on first use.
//!
//! Functions here update the raw register; the caller starts from `!0` and
//! inverts the end.

use std::sync::OnceLock;

const POLY: u64 = 0x9A6C_9329_AC4B_C9B5;

fn table() -> &'static [[u64; 256]; 8] {
    static TABLE: OnceLock<Box<[[u64; 256]; 8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Box::new([[0u64; 256]; 8]);
        for i in 0..256 {
            let mut c = i as u64;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
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

/// Adds `data` to the register `crc`.
pub(super) fn update(mut crc: u64, data: &[u8]) -> u64 {
    let t = table();
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let v = crc ^ u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        crc = t[7][(v & 0xFF) as usize]
            ^ t[6][((v >> 8) & 0xFF) as usize]
            ^ t[5][((v >> 16) & 0xFF) as usize]
            ^ t[4][((v >> 24) & 0xFF) as usize]
            ^ t[3][((v >> 32) & 0xFF) as usize]
            ^ t[2][((v >> 40) & 0xFF) as usize]
            ^ t[1][((v >> 48) & 0xFF) as usize]
            ^ t[0][(v >> 56) as usize];
    }
    for &b in words.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u64::from(b)) & 0xFF) as usize];
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slicing_agrees_with_the_bit_at_a_time_definition() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(0x9E37_79B9) >> 24) as u8).collect();
        let mut want = !0u64;
        for &b in &data {
            want ^= u64::from(b);
            for _ in 0..8 {
                want = if want & 1 != 0 { (want >> 1) ^ POLY } else { want >> 1 };
            }
        }
        assert_eq!(update(!0, &data), want);
    }
}
