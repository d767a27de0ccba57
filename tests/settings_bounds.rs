//! Extreme settings are refused when a store is opened, with an
//! InvalidArgument whose message names the setting, instead of being
//! accepted and failing later (a 2^50-byte part buffer, 2^32 - 1 worker
//! threads). And an upload that cannot fit in the store's part (block)
//! limit is refused before its source is read.
//!
//! No server is needed: every store points at a closed port of 127.0.0.1,
//! and the bucket (container) check that a constructor makes only logs its
//! failure.

use std::io::{self, Read};
use std::net::TcpListener;
use std::time::Duration;

use blobio::{AzureBlobBackend, AzureBlobConfig, Backend, Error, ErrorKind, S3Backend, S3Config};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The cap on every concurrency setting (parts, blocks or ranges in flight,
/// and so worker threads): a value above it is refused when the store is
/// opened. 256 is what the engine is to enforce; align this constant with
/// the library's own when it exposes one.
const MAX_CONCURRENCY: usize = 256;

/// S3's bounds on a part: 5 MiB to 5 GiB, at most 10,000 parts an object.
const S3_MIN_PART: u64 = 5 * MIB;
const S3_MAX_PART: u64 = 5 * GIB;
const S3_MAX_PARTS: u64 = 10_000;

/// Azure's bounds on a staged block: at most 4,000 MiB, 50,000 blocks a blob.
const AZURE_MAX_BLOCK: u64 = 4000 * MIB;
const AZURE_MAX_BLOCKS: u64 = 50_000;

/// A port of 127.0.0.1 that nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().unwrap().port()
}

fn s3_config() -> S3Config {
    let mut cfg = S3Config::new("bounds");
    cfg.endpoint = Some(format!("http://127.0.0.1:{}", closed_port()));
    cfg.region = Some("us-east-1".into());
    cfg.path_style = true;
    cfg.access_key = Some("bounds-access-key".into());
    cfg.secret_key = Some("bounds-secret-key".into());
    cfg.http.timeouts.connect = Duration::from_secs(2);
    cfg
}

/// Azurite's published development account and key (not a secret).
fn azure_config() -> AzureBlobConfig {
    let mut cfg = AzureBlobConfig::with_shared_key(
        "devstoreaccount1",
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        "bounds",
    );
    cfg.endpoint = Some(format!("http://127.0.0.1:{}/devstoreaccount1", closed_port()));
    cfg.http.timeouts.connect = Duration::from_secs(2);
    cfg
}

/// Whether `message` names `setting` (`part_size`, or as words, `part size`).
fn names(message: &str, setting: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains(setting) || lower.contains(&setting.replace('_', " "))
}

/// `result` is an InvalidArgument naming `setting`; `what` describes the
/// value for the failure message.
fn refused<T: std::fmt::Debug>(result: Result<T, Error>, setting: &str, what: &str) {
    match result {
        Ok(store) => panic!("{what}: accepted ({store:?}); expected InvalidArgument naming {setting}"),
        Err(e) => {
            assert_eq!(
                e.kind(),
                ErrorKind::InvalidArgument,
                "{what}: expected InvalidArgument, got {e}"
            );
            assert!(names(&e.to_string(), setting), "{what}: the message does not name {setting}: {e}");
        }
    }
}

fn accepted<T>(result: Result<T, Error>, what: &str) {
    if let Err(e) = result {
        panic!("{what}: refused, but it is within the bounds: {e}");
    }
}

// --------------------------------------------------------------------- S3

#[test]
fn s3_part_size_of_2_pow_50_is_refused() {
    for size in [1u64 << 50, u64::MAX] {
        let mut cfg = s3_config();
        cfg.part_size = size;
        refused(S3Backend::new(cfg), "part_size", &format!("S3 part_size {size}"));
    }
}

#[test]
fn s3_part_size_bounds_are_5_mib_to_5_gib() {
    let mut cfg = s3_config();
    cfg.part_size = S3_MAX_PART + 1;
    refused(S3Backend::new(cfg), "part_size", "S3 part_size 5 GiB + 1");
    let mut cfg = s3_config();
    cfg.part_size = S3_MIN_PART - 1;
    refused(S3Backend::new(cfg), "part_size", "S3 part_size 5 MiB - 1");
    let mut cfg = s3_config();
    cfg.part_size = S3_MAX_PART;
    accepted(S3Backend::new(cfg), "S3 part_size 5 GiB");
    let mut cfg = s3_config();
    cfg.part_size = S3_MIN_PART;
    accepted(S3Backend::new(cfg), "S3 part_size 5 MiB");
}

#[test]
fn s3_upload_concurrency_of_u32_max_and_usize_max_is_refused() {
    for n in [u32::MAX as usize, usize::MAX] {
        let mut cfg = s3_config();
        cfg.upload_concurrency = n;
        refused(S3Backend::new(cfg), "upload_concurrency", &format!("S3 upload_concurrency {n}"));
    }
}

#[test]
fn s3_download_concurrency_of_u32_max_is_refused() {
    for n in [u32::MAX as usize, usize::MAX] {
        let mut cfg = s3_config();
        cfg.download_concurrency = n;
        refused(S3Backend::new(cfg), "download_concurrency", &format!("S3 download_concurrency {n}"));
    }
}

#[test]
fn s3_download_part_size_of_2_pow_50_is_refused() {
    for size in [1u64 << 50, u64::MAX] {
        let mut cfg = s3_config();
        cfg.download_part_size = size;
        refused(S3Backend::new(cfg), "download_part_size", &format!("S3 download_part_size {size}"));
    }
}

#[test]
fn s3_concurrency_cap_is_256_inclusive() {
    let mut cfg = s3_config();
    cfg.upload_concurrency = MAX_CONCURRENCY;
    cfg.download_concurrency = MAX_CONCURRENCY;
    accepted(S3Backend::new(cfg), "S3 concurrency 256");
    let mut cfg = s3_config();
    cfg.upload_concurrency = MAX_CONCURRENCY + 1;
    refused(S3Backend::new(cfg), "upload_concurrency", "S3 upload_concurrency 257");
    let mut cfg = s3_config();
    cfg.download_concurrency = MAX_CONCURRENCY + 1;
    refused(S3Backend::new(cfg), "download_concurrency", "S3 download_concurrency 257");
}

/// A source of zeros that counts what was asked of it.
struct Zeros {
    left: u64,
    given: u64,
}

impl Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        buf[..n].fill(0);
        self.left -= n as u64;
        self.given += n as u64;
        Ok(n)
    }
}

/// An upload of `size` bytes is refused with InvalidArgument before a
/// byte of its source is read (and so before any request).
fn too_many_parts(store: &dyn Backend, size: u64, unit: &str) {
    let mut src = Zeros { left: size, given: 0 };
    match store.write_reader("too/big", &mut src, Some(size)) {
        Ok(()) => panic!("an upload of {size} bytes succeeded"),
        Err(e) => {
            assert_eq!(
                e.kind(),
                ErrorKind::InvalidArgument,
                "{} upload of {size} bytes: expected InvalidArgument (more {unit}s than allowed), \
                 got {e} after reading {} bytes of the source",
                store.kind(),
                src.given
            );
            assert!(e.to_string().contains(unit), "the message names the {unit}s: {e}");
            assert_eq!(src.given, 0, "the source was read before the refusal: {e}");
        }
    }
}

#[test]
fn s3_upload_beyond_10000_parts_is_refused_before_reading() {
    let cfg = s3_config();
    let part = cfg.part_size;
    let store = S3Backend::new(cfg).unwrap();
    too_many_parts(&store, S3_MAX_PARTS * part + 1, "part");
}

// ------------------------------------------------------------------ Azure

#[test]
fn azure_block_size_beyond_the_maximum_is_refused() {
    for size in [AZURE_MAX_BLOCK + 1, 1u64 << 50, u64::MAX] {
        let mut cfg = azure_config();
        cfg.block_size = size;
        refused(AzureBlobBackend::new(cfg), "block_size", &format!("Azure block_size {size}"));
    }
    let mut cfg = azure_config();
    cfg.block_size = AZURE_MAX_BLOCK;
    accepted(AzureBlobBackend::new(cfg), "Azure block_size 4000 MiB");
}

#[test]
fn azure_upload_concurrency_of_u32_max_and_usize_max_is_refused() {
    for n in [u32::MAX as usize, usize::MAX] {
        let mut cfg = azure_config();
        cfg.upload_concurrency = n;
        refused(AzureBlobBackend::new(cfg), "upload_concurrency", &format!("Azure upload_concurrency {n}"));
    }
}

#[test]
fn azure_download_concurrency_of_u32_max_is_refused() {
    for n in [u32::MAX as usize, usize::MAX] {
        let mut cfg = azure_config();
        cfg.download_concurrency = n;
        refused(
            AzureBlobBackend::new(cfg),
            "download_concurrency",
            &format!("Azure download_concurrency {n}"),
        );
    }
}

#[test]
fn azure_download_part_size_of_2_pow_50_is_refused() {
    for size in [1u64 << 50, u64::MAX] {
        let mut cfg = azure_config();
        cfg.download_part_size = size;
        refused(
            AzureBlobBackend::new(cfg),
            "download_part_size",
            &format!("Azure download_part_size {size}"),
        );
    }
}

#[test]
fn azure_concurrency_cap_is_256_inclusive() {
    let mut cfg = azure_config();
    cfg.upload_concurrency = MAX_CONCURRENCY;
    cfg.download_concurrency = MAX_CONCURRENCY;
    accepted(AzureBlobBackend::new(cfg), "Azure concurrency 256");
    let mut cfg = azure_config();
    cfg.upload_concurrency = MAX_CONCURRENCY + 1;
    refused(AzureBlobBackend::new(cfg), "upload_concurrency", "Azure upload_concurrency 257");
    let mut cfg = azure_config();
    cfg.download_concurrency = MAX_CONCURRENCY + 1;
    refused(AzureBlobBackend::new(cfg), "download_concurrency", "Azure download_concurrency 257");
}

#[test]
fn azure_upload_beyond_50000_blocks_is_refused_before_reading() {
    let cfg = azure_config();
    let block = cfg.block_size;
    let store = AzureBlobBackend::new(cfg).unwrap();
    too_many_parts(&store, AZURE_MAX_BLOCKS * block + 1, "block");
}

#[test]
fn control_characters_in_names_and_endpoints_are_refused_not_stripped() {
    let mut cfg = s3_config();
    cfg.endpoint = Some(format!("http://127.0.0.1:{}\r\nX-Injected: 1", closed_port()));
    refused(S3Backend::new(cfg), "endpoint", "an endpoint with CR/LF");
    let mut cfg = s3_config();
    cfg.prefix = "tenant\n".into();
    refused(S3Backend::new(cfg), "prefix", "a prefix with a newline");
    let mut cfg = azure_config();
    cfg.account_name = Some("devstore\naccount1".into());
    refused(AzureBlobBackend::new(cfg), "account_name", "an account name with a newline");
}
