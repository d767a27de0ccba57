//! Checksums on the wire: every upload carries the checksum of its bytes
//! (option `checksum`), so a byte damaged on the way is refused by the
//! store and nothing is stored; every whole-object read is checked against
//! the checksum the store keeps, so a damaged byte is an error, never bytes
//! reported read. The fault proxy flips one bit of a body in flight, in
//! front of s3s-fs (it checks every x-amz-checksum-* and Content-MD5 it is
//! sent and returns the stored checksum), moto (keeps what it is sent) and
//! Azurite (checks Content-MD5, keeps a blob's MD5).

#![cfg(feature = "server-tests")]

mod support;

use blobio::{AzureBlobBackend, Backend, ChecksumAlgorithm, ErrorKind, RetryPolicy, S3Backend};
use support::azure::Azurite;
use support::proxy::{Fault, Proxy, Rule, SeenRequest};
use support::{pseudo_random, S3Server};

const MIB: usize = 1024 * 1024;

/// Every algorithm an S3 store sends.
const S3_ALGORITHMS: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32c,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha256,
    ChecksumAlgorithm::Md5,
    ChecksumAlgorithm::None,
];

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        base_delay: std::time::Duration::from_millis(1),
        ..RetryPolicy::default()
    }
}

fn s3_store(server: S3Server, tag: &str, checksum: ChecksumAlgorithm) -> (Proxy, S3Backend) {
    let bucket = server.new_bucket(tag);
    let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
    let mut cfg = server.config(&bucket);
    cfg.endpoint = Some(proxy.url.clone());
    cfg.part_size = 5 * MIB as u64;
    cfg.multipart_threshold = 5 * MIB as u64;
    cfg.checksum = checksum;
    cfg.retry = quick_retries();
    (proxy, S3Backend::new(cfg).unwrap())
}

fn azure_store(tag: &str, checksum: ChecksumAlgorithm) -> (Proxy, AzureBlobBackend) {
    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut cfg = Azurite::Http.config(&Azurite::Http.new_container(tag));
    cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    cfg.block_size = MIB as u64;
    cfg.single_put_threshold = MIB as u64;
    cfg.checksum = checksum;
    cfg.retry = quick_retries();
    (proxy, AzureBlobBackend::new(cfg).unwrap())
}

/// Small and multipart writes (from memory and streamed, of unknown size)
/// with every algorithm read back whole on s3s-fs and moto: the servers
/// take the headers, the parts' checksums in the completion, and the
/// algorithm on CreateMultipartUpload.
#[test]
fn every_algorithm_round_trips_on_s3s_fs_and_moto() {
    for server in [S3Server::S3sFs, S3Server::Moto] {
        for a in S3_ALGORITHMS {
            let (_proxy, store) = s3_store(server, &format!("ck-rt-{a}"), a);
            let small = pseudo_random(3000, 1);
            let big = pseudo_random(11 * MIB + 17, 2);
            store.write("small", &small).unwrap_or_else(|e| panic!("{server:?} {a}: {e}"));
            store.write("big", &big).unwrap_or_else(|e| panic!("{server:?} {a} parts: {e}"));
            store
                .write_reader("streamed", &mut &big[..], None)
                .unwrap_or_else(|e| panic!("{server:?} {a} streamed: {e}"));
            assert_eq!(store.read("small").unwrap(), small, "{server:?} {a}");
            assert_eq!(store.read("big").unwrap(), big, "{server:?} {a}");
            assert_eq!(store.read("streamed").unwrap(), big, "{server:?} {a}");
            let json = store.config_json();
            assert!(json.contains(&format!("\"checksum\":\"{a}\"")), "{json}");
        }
    }
}

/// One bit flipped in a PutObject's body: s3s-fs refuses it (BadDigest)
/// and the write fails with ChecksumMismatch. `none` sends no checksum: the same damage is
/// stored (which is why it is not the default).
#[test]
fn a_damaged_upload_to_s3s_fs_is_refused() {
    for a in S3_ALGORITHMS {
        let (proxy, store) = s3_store(S3Server::S3sFs, &format!("ck-up-{a}"), a);
        proxy.push(Rule::new(Fault::FlipRequest(1234)).method("PUT").times(1));
        let small = pseudo_random(3000, 3);
        let result = store.write("small", &small);
        if a == ChecksumAlgorithm::None {
            result.unwrap();
            assert_ne!(store.read("small").unwrap(), small, "no checksum: damage is stored");
            continue;
        }
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{a}: {err}");
        assert_eq!(err.http_status(), Some(400), "{a}");
        // s3s-fs 0.14 keeps the damaged body though it answers BadDigest
        // (it checks after writing): a quirk of the server. blobio reports
        // the failure; what s3s-fs kept is the damaged bytes.
        if let Ok(kept) = store.read("small") {
            assert_ne!(kept, small, "{a}: s3s-fs kept the bytes it refused");
        }

        assert_eq!(proxy.pending_rules(), 0);
    }
}

/// Every part of an upload in parts carries the checksum of its own bytes
/// (checked here against independent bit-at-a-time and sha2
/// computations), and CreateMultipartUpload names the algorithm. s3s-fs
/// and moto do not check part checksums (their quirk), so the values are
/// checked at the proxy.
#[test]
fn every_part_carries_the_checksum_of_its_bytes() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let crc32c = |data: &[u8]| {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0x82F6_3B78 } else { c >> 1 };
            }
        }
        b64(&(!c).to_be_bytes())
    };
    let crc64 = |data: &[u8]| {
        let mut c = !0u64;
        for &b in data {
            c ^= u64::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0x9A6C_9329_AC4B_C9B5 } else { c >> 1 };
            }
        }
        b64(&(!c).to_be_bytes())
    };
    let sha = |data: &[u8]| {
        use sha2::Digest as _;
        b64(&sha2::Sha256::digest(data))
    };
    let big = pseudo_random(11 * MIB, 4);
    let parts: Vec<&[u8]> = big.chunks(5 * MIB).collect();
    type Want<'a> = (ChecksumAlgorithm, &'a str, &'a str, &'a dyn Fn(&[u8]) -> String);
    let cases: [Want<'_>; 3] = [
        (ChecksumAlgorithm::Crc32c, "x-amz-checksum-crc32c", "CRC32C", &crc32c),
        (ChecksumAlgorithm::Crc64Nvme, "x-amz-checksum-crc64nvme", "CRC64NVME", &crc64),
        (ChecksumAlgorithm::Sha256, "x-amz-checksum-sha256", "SHA256", &sha),
    ];
    for (a, header, name, want) in cases {
        let (proxy, store) = s3_store(S3Server::S3sFs, &format!("ck-parts-{a}"), a);
        store.write("big", &big).unwrap();
        let seen = proxy.counters.seen.lock().unwrap().clone();
        let create = seen.iter().find(|r| r.method == "POST" && r.target.contains("uploads")).unwrap();
        assert_eq!(create.header("x-amz-checksum-algorithm"), Some(name), "{a}");
        let sent: Vec<&SeenRequest> = seen.iter().filter(|r| r.target.contains("partNumber=")).collect();
        assert_eq!(sent.len(), parts.len(), "{a}");
        for r in sent {
            let n: usize = r.target.split("partNumber=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
            assert_eq!(r.header(header), Some(want(parts[n - 1]).as_str()), "{a} part {n}");
        }
        assert_eq!(store.read("big").unwrap(), big, "{a}");
    }
}

/// One bit flipped in a GET's body: the read checks the checksum s3s-fs
/// keeps and fails with ChecksumMismatch, for `read` and `read_to` alike;
/// the same read undamaged succeeds.
#[test]
fn a_damaged_download_from_s3s_fs_is_an_error() {
    for a in [ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme, ChecksumAlgorithm::Sha256] {
        let (proxy, store) = s3_store(S3Server::S3sFs, &format!("ck-down-{a}"), a);
        let data = pseudo_random(200_000, 5);
        store.write("obj", &data).unwrap();
        proxy.push(Rule::new(Fault::FlipResponse(777)).method("GET").times(1));
        let err = store.read("obj").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{a}: {err}");
        proxy.push(Rule::new(Fault::FlipResponse(150_000)).method("GET").times(1));
        let mut out = Vec::new();
        let err = store.read_to("obj", &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{a} read_to: {err}");
        assert_eq!(store.read("obj").unwrap(), data, "{a}: undamaged");
        assert_eq!(proxy.pending_rules(), 0);
    }
}

/// moto keeps the checksum blobio sends (with `x-amz-sdk-checksum-algorithm`)
/// but returns it only for a GET without a range (its quirk). A store that
/// reads in one stream (`download_threshold` at its maximum: no range)
/// gets it, and a damaged body is caught.
#[test]
fn a_damaged_download_from_moto_in_one_stream_is_an_error() {
    let server = S3Server::Moto;
    let bucket = server.new_bucket("ck-moto-down");
    let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
    let mut cfg = server.config(&bucket);
    cfg.endpoint = Some(proxy.url.clone());
    cfg.download_threshold = u64::MAX;
    cfg.retry = quick_retries();
    let store = S3Backend::new(cfg).unwrap();
    let data = pseudo_random(100_000, 6);
    store.write("obj", &data).unwrap();
    proxy.push(Rule::new(Fault::FlipResponse(99)).method("GET").times(1));
    let err = store.read("obj").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{err}");
    assert_eq!(store.read("obj").unwrap(), data);
}

/// Azure: `md5` sends Content-MD5 on Put Blob and every Put Block; Azurite
/// refuses a damaged body, the write is ChecksumMismatch, nothing is
/// stored. Other algorithms (Azure has no header for them) send nothing.
#[test]
fn a_damaged_upload_to_azurite_with_md5_is_refused() {
    let (proxy, store) = azure_store("ck-az-up", ChecksumAlgorithm::Md5);
    proxy.push(Rule::new(Fault::FlipRequest(100)).method("PUT").times(1));
    let small = pseudo_random(3000, 7);
    let err = store.write("small", &small).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{err}");
    assert!(!store.exists("small").unwrap());
    proxy.push(Rule::new(Fault::FlipRequest(100)).method("PUT").target("comp=block&").times(1));
    let big = pseudo_random(3 * MIB + 5, 8);
    let err = store.write("big", &big).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "block: {err}");
    assert!(!store.exists("big").unwrap());
    store.write("big", &big).unwrap();
    assert_eq!(store.read("big").unwrap(), big);
    assert_eq!(proxy.pending_rules(), 0);
}

/// Azure reads check the MD5 the blob has: the one Put Blob computes for
/// any small blob, and the one `md5` gives a blob uploaded in blocks.
#[test]
fn a_damaged_download_from_azurite_is_an_error() {
    for a in [ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Md5] {
        let (proxy, store) = azure_store(&format!("ck-az-down-{a}"), a);
        let small = pseudo_random(5000, 9);
        store.write("small", &small).unwrap();
        proxy.push(Rule::new(Fault::FlipResponse(10)).method("GET").times(1));
        let err = store.read("small").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "{a}: {err}");
        assert_eq!(store.read("small").unwrap(), small);
    }
    let (proxy, store) = azure_store("ck-az-down-blocks", ChecksumAlgorithm::Md5);
    let big = pseudo_random(3 * MIB + 5, 10);
    store.write("big", &big).unwrap();
    proxy.push(Rule::new(Fault::FlipResponse(2 * MIB)).method("GET").times(1));
    let mut out = Vec::new();
    let err = store.read_to("big", &mut out).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChecksumMismatch, "blocks: {err}");
    assert_eq!(store.read("big").unwrap(), big);
    assert_eq!(proxy.pending_rules(), 0);
}

/// The option string reaches the store, refuses what it does not know, and
/// `config_json` says which one is in force.
#[test]
fn the_checksum_option_is_read_from_the_open_string() {
    let server = S3Server::S3sFs;
    let bucket = server.new_bucket("ck-opt");
    let (ak, sk) = server.keys();
    let options = |checksum: &str| {
        let mut o = blobio::Options::new();
        for (k, v) in [
            ("endpoint", server.endpoint()),
            ("access_key_id", ak.clone()),
            ("secret_access_key", sk.clone()),
            ("region", "us-east-1".to_owned()),
            ("checksum", checksum.to_owned()),
        ] {
            o.set(k, &v).unwrap();
        }
        o
    };
    let url = format!("s3://{bucket}");
    let store = blobio::open(&url, &options("SHA256")).unwrap();
    assert!(store.config_json().contains("\"checksum\":\"sha256\""), "{}", store.config_json());
    let err = blobio::open(&url, &options("crc33")).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("crc33"), "{err}");
}
