//! Checksums of object bodies: computed on upload so the store can refuse
//! bytes damaged on the way, and checked on download against the one the
//! store keeps, so damaged bytes are never reported as read.
//!
//! Which header carries which algorithm is the protocol's business
//! (`src/s3/put.rs`, `src/azure/put.rs`); this module only computes.

pub(crate) mod crc32c;
mod crc64;

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use sha2::Digest as _;

use crate::error::{Error, Result};

/// The checksum a remote store sends with every upload (option
/// `checksum`).
///
/// | value | S3 | Azure |
/// |---|---|---|
/// | `crc32c` (default) | `x-amz-checksum-crc32c` | nothing (Azure has no CRC32C) |
/// | `crc64nvme` | `x-amz-checksum-crc64nvme` | `x-ms-content-crc64` |
/// | `sha256` | `x-amz-checksum-sha256` | nothing (Azure has no SHA-256) |
/// | `md5` | `Content-MD5` | `Content-MD5`, and the blob's MD5 |
/// | `none` | nothing | nothing |
///
/// `none` is for S3-compatible stores that refuse these headers (B2, R2).
/// Reads check the checksum a store returns for the whole object
/// whatever this says (but `none`, which also stops asking for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChecksumAlgorithm {
    /// CRC-32C (Castagnoli), in hardware where the CPU has it.
    #[default]
    Crc32c,
    /// CRC-64/NVME (the polynomial Azure's CRC-64 uses too).
    Crc64Nvme,
    /// SHA-256.
    Sha256,
    /// MD5.
    Md5,
    /// No checksum is sent or asked for.
    None,
}

impl ChecksumAlgorithm {
    /// The option value: `crc32c`, `crc64nvme`, `sha256`, `md5`, `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32c => "crc32c",
            ChecksumAlgorithm::Crc64Nvme => "crc64nvme",
            ChecksumAlgorithm::Sha256 => "sha256",
            ChecksumAlgorithm::Md5 => "md5",
            ChecksumAlgorithm::None => "none",
        }
    }

    /// A hasher for this algorithm; `None` for [`ChecksumAlgorithm::None`].
    pub(crate) fn hasher(self) -> Option<Hasher> {
        Some(match self {
            ChecksumAlgorithm::Crc32c => Hasher::Crc32c(0xFFFF_FFFF),
            ChecksumAlgorithm::Crc64Nvme => Hasher::Crc64(u64::MAX),
            ChecksumAlgorithm::Sha256 => Hasher::Sha256(Box::default()),
            ChecksumAlgorithm::Md5 => Hasher::Md5(Box::default()),
            ChecksumAlgorithm::None => return None,
        })
    }

    /// The checksum of `data`; `None` for [`ChecksumAlgorithm::None`].
    pub(crate) fn digest(self, data: &[u8]) -> Option<Checksum> {
        let mut h = self.hasher()?;
        h.update(data);
        Some(h.finish())
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChecksumAlgorithm {
    type Err = Error;

    /// Reads an option value, in any case (`CRC32C` as S3 spells it too).
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "crc32c" => ChecksumAlgorithm::Crc32c,
            "crc64nvme" => ChecksumAlgorithm::Crc64Nvme,
            "sha256" => ChecksumAlgorithm::Sha256,
            "md5" => ChecksumAlgorithm::Md5,
            "none" => ChecksumAlgorithm::None,
            _ => {
                return Err(Error::invalid_argument(format!(
                    "checksum {s:?} is not one of crc32c, crc64nvme, sha256, md5, none"
                )))
            }
        })
    }
}

/// A checksum being computed.
#[derive(Clone)]
pub(crate) enum Hasher {
    Crc32c(u32),
    Crc64(u64),
    Sha256(Box<sha2::Sha256>),
    Md5(Box<md5::Md5>),
}

impl Hasher {
    /// Adds `data`.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Crc32c(s) => *s = crc32c::update(*s, data),
            Hasher::Crc64(s) => *s = crc64::update(*s, data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Md5(h) => md5::Digest::update(&mut **h, data),
        }
    }

    /// The checksum of everything added.
    pub(crate) fn finish(self) -> Checksum {
        match self {
            Hasher::Crc32c(s) => Checksum::Crc32c(!s),
            Hasher::Crc64(s) => Checksum::Crc64Nvme(!s),
            Hasher::Sha256(h) => Checksum::Sha256(h.finalize().into()),
            Hasher::Md5(h) => Checksum::Md5(md5::Digest::finalize(*h).into()),
        }
    }
}

/// A finished checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checksum {
    Crc32c(u32),
    Crc64Nvme(u64),
    Sha256([u8; 32]),
    Md5([u8; 16]),
}

impl Checksum {
    pub(crate) fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            Checksum::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            Checksum::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            Checksum::Sha256(_) => ChecksumAlgorithm::Sha256,
            Checksum::Md5(_) => ChecksumAlgorithm::Md5,
        }
    }

    /// Base64 of the big-endian bytes, as S3 and `Content-MD5` carry it.
    pub(crate) fn base64(&self) -> String {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        match self {
            Checksum::Crc32c(v) => b64(&v.to_be_bytes()),
            Checksum::Crc64Nvme(v) => b64(&v.to_be_bytes()),
            Checksum::Sha256(d) => b64(d),
            Checksum::Md5(d) => b64(d),
        }
    }

    /// Base64 of the CRC-64's little-endian bytes, as Azure's
    /// `x-ms-content-crc64` carries it (its SDKs write the integer in the
    /// machine's order, little-endian on every platform they ship for).
    pub(crate) fn base64_le(&self) -> String {
        match self {
            Checksum::Crc64Nvme(v) => base64::engine::general_purpose::STANDARD.encode(v.to_le_bytes()),
            other => other.base64(),
        }
    }

    /// Reads what a store says the checksum is (`base64` form).
    pub(crate) fn parse(algorithm: ChecksumAlgorithm, value: &str) -> Option<Checksum> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        Some(match algorithm {
            ChecksumAlgorithm::Crc32c => Checksum::Crc32c(u32::from_be_bytes(bytes.try_into().ok()?)),
            ChecksumAlgorithm::Crc64Nvme => Checksum::Crc64Nvme(u64::from_be_bytes(bytes.try_into().ok()?)),
            ChecksumAlgorithm::Sha256 => Checksum::Sha256(bytes.try_into().ok()?),
            ChecksumAlgorithm::Md5 => Checksum::Md5(bytes.try_into().ok()?),
            ChecksumAlgorithm::None => return None,
        })
    }
}

/// Checks bytes as they stream past against the checksum the store gave.
pub(crate) struct Verifier {
    hasher: Hasher,
    expected: Checksum,
}

impl Verifier {
    pub(crate) fn new(expected: Checksum) -> Option<Verifier> {
        Some(Verifier {
            hasher: expected.algorithm().hasher()?,
            expected,
        })
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.hasher.update(data);
    }

    /// Fails with [`Error::ChecksumMismatch`] unless the bytes seen have
    /// the expected checksum.
    pub(crate) fn check(self, path: &str) -> Result<()> {
        let got = self.hasher.finish();
        if got == self.expected {
            return Ok(());
        }
        Err(Error::ChecksumMismatch {
            path: path.to_owned(),
            message: format!(
                "the body read has {} {}, the store says {}",
                got.algorithm(),
                got.base64(),
                self.expected.base64()
            ),
            remote: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_gives_its_published_check_value() {
        // The "123456789" check values of the CRC catalogue, RFC 1321 and
        // FIPS 180-2.
        let d = |a: ChecksumAlgorithm| a.digest(b"123456789").unwrap();
        assert_eq!(d(ChecksumAlgorithm::Crc32c), Checksum::Crc32c(0xE306_9283));
        assert_eq!(d(ChecksumAlgorithm::Crc64Nvme), Checksum::Crc64Nvme(0xAE8B_1486_0A79_9888));
        assert_eq!(
            ChecksumAlgorithm::Md5.digest(b"abc").unwrap().base64(),
            "kAFQmDzST7DWlj99KOF/cg=="
        );
        assert_eq!(
            ChecksumAlgorithm::Sha256.digest(b"abc").unwrap().base64(),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert!(ChecksumAlgorithm::None.digest(b"abc").is_none());
    }

    #[test]
    fn values_round_trip_through_their_header_form() {
        for a in [
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha256,
            ChecksumAlgorithm::Md5,
        ] {
            let sum = a.digest(b"some bytes").unwrap();
            assert_eq!(Checksum::parse(a, &sum.base64()), Some(sum), "{a}");
            assert_eq!(a.as_str().parse::<ChecksumAlgorithm>().unwrap(), a);
        }
        assert_eq!(Checksum::parse(ChecksumAlgorithm::Crc32c, "AAAA"), None, "3 bytes");
        assert_eq!(Checksum::parse(ChecksumAlgorithm::Md5, "not base64!"), None);
        assert!("crc32".parse::<ChecksumAlgorithm>().is_err());
        assert_eq!("CRC32C".parse::<ChecksumAlgorithm>().unwrap(), ChecksumAlgorithm::Crc32c);
    }

    #[test]
    fn a_stream_in_pieces_has_the_checksum_of_the_whole() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for a in [
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
            ChecksumAlgorithm::Sha256,
            ChecksumAlgorithm::Md5,
        ] {
            let whole = a.digest(&data).unwrap();
            for cut in [1usize, 7, 63, 64, 4095, 24_577, 100_000] {
                let mut h = a.hasher().unwrap();
                for chunk in data.chunks(cut) {
                    h.update(chunk);
                }
                assert_eq!(h.finish(), whole, "{a} in pieces of {cut}");
            }
        }
    }

    #[test]
    fn a_verifier_refuses_one_flipped_bit() {
        let data = vec![7u8; 5000];
        let sum = ChecksumAlgorithm::Crc32c.digest(&data).unwrap();
        let mut ok = Verifier::new(sum).unwrap();
        ok.update(&data);
        ok.check("p").unwrap();
        let mut bad = data.clone();
        bad[4321] ^= 0x10;
        let mut v = Verifier::new(sum).unwrap();
        v.update(&bad);
        let err = v.check("p").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::ChecksumMismatch);
        assert!(err.to_string().contains("crc32c"), "{err}");
    }
}
