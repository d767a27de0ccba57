//! Large uploads resend a failed part or block on their own, without
//! replaying the source, and give up cleanly when the failure is final.
//!
//! The fault proxy sits in front of s3s-fs, moto and Azurite and answers one
//! part (or block) PUT with an error. The source is a plain `Read` that
//! cannot be rewound, so a correct result proves that the part was resent
//! from its own buffer: the resilient wrapper around the store must not have
//! retried the whole upload (its retry count stays 0).

#![cfg(feature = "server-tests")]

mod support;

use blobio::{AzureBlobBackend, Backend, ErrorKind, ResilientBackend, ResilientConfig, S3Backend};
use support::azure::Azurite;
use support::proxy::{Fault, Proxy, Rule};
use support::{digest_via_read_to, python, S3Server, StreamSource};

const MIB: u64 = 1024 * 1024;

/// 16 MiB in 5 MiB parts: parts 1 to 4, so "partNumber=2" names one part.
const S3_LEN: u64 = 16 * MIB;
const S3_PARTS: usize = 4;

struct S3Case {
    proxy: Proxy,
    bucket: String,
    server: S3Server,
    store: ResilientBackend,
}

fn s3_case(server: S3Server, tag: &str) -> S3Case {
    let bucket = server.new_bucket(tag);
    let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
    let mut cfg = server.config(&bucket);
    cfg.endpoint = Some(proxy.url.clone());
    cfg.part_size = 5 * MIB;
    cfg.multipart_threshold = 8 * MIB;
    cfg.upload_concurrency = 2;
    let inner = S3Backend::new(cfg).unwrap();
    let store = ResilientBackend::new(Box::new(inner), ResilientConfig::default()).unwrap();
    S3Case {
        proxy,
        bucket,
        server,
        store,
    }
}

/// How many multipart uploads are still open in `bucket` (boto3; moto only,
/// s3s-fs does not implement ListMultipartUploads).
fn open_uploads(server: S3Server, bucket: &str) -> usize {
    let (ak, sk) = server.keys();
    python(
        r#"
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[3],
                  aws_secret_access_key=sys.argv[4], region_name="us-east-1")
print(len(s3.list_multipart_uploads(Bucket=sys.argv[2]).get("Uploads", [])))
"#,
        &[&server.endpoint(), bucket, &ak, &sk],
    )
    .trim()
    .parse()
    .unwrap()
}

fn part_503_is_resent_alone(server: S3Server) {
    let case = s3_case(server, "partretry");
    case.proxy.push(
        Rule::new(Fault::s3_slow_down())
            .method("PUT")
            .target("partNumber=2")
            .times(1),
    );
    let mut src = StreamSource::new(S3_LEN, 41, None);
    case.store
        .write_reader("big/part503.bin", &mut src, None)
        .unwrap();

    assert_eq!(case.proxy.pending_rules(), 0, "the fault was never hit");
    assert_eq!(
        digest_via_read_to(&case.store, "big/part503.bin"),
        (S3_LEN, src.digest())
    );
    assert_eq!(
        case.proxy.counters.count("PUT", "partNumber=2"),
        2,
        "part 2 sent twice"
    );
    assert_eq!(
        case.proxy.counters.count("PUT", "partNumber="),
        S3_PARTS + 1,
        "only the failed part was resent"
    );
    assert_eq!(
        case.store.stats().retries,
        0,
        "the wrapper did not replay the upload"
    );
    assert_eq!(
        case.proxy.counters.count("POST", "uploadId="),
        1,
        "completed once"
    );
    assert_eq!(
        case.proxy.counters.count("DELETE", "uploadId="),
        0,
        "not aborted"
    );
    if case.server == S3Server::Moto {
        assert_eq!(open_uploads(case.server, &case.bucket), 0);
    }
}

#[test]
fn s3_part_answered_503_is_resent_alone_on_s3s() {
    part_503_is_resent_alone(S3Server::S3sFs);
}

#[test]
fn s3_part_answered_503_is_resent_alone_on_moto() {
    part_503_is_resent_alone(S3Server::Moto);
}

#[test]
fn s3_part_refused_for_good_fails_the_upload_and_aborts_it() {
    let case = s3_case(S3Server::Moto, "partdenied");
    case.store.write("big/keep.bin", b"old version").unwrap();
    case.proxy.push(
        Rule::new(Fault::s3_error(403, "AccessDenied"))
            .method("PUT")
            .target("partNumber=3")
            .times(1),
    );
    let mut src = StreamSource::new(S3_LEN, 42, None);
    let err = case
        .store
        .write_reader("big/keep.bin", &mut src, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(
        case.proxy.counters.count("PUT", "partNumber=3"),
        1,
        "a 403 is not resent"
    );
    assert_eq!(
        case.proxy.counters.count("POST", "uploadId="),
        0,
        "never completed"
    );
    assert_eq!(
        case.proxy.counters.count("DELETE", "uploadId="),
        1,
        "aborted"
    );
    assert_eq!(open_uploads(S3Server::Moto, &case.bucket), 0);
    assert_eq!(case.store.read("big/keep.bin").unwrap(), b"old version");
    assert_eq!(case.store.stats().retries, 0);
}

#[test]
fn s3_part_failing_every_time_gives_up_with_a_server_error_and_aborts() {
    let case = s3_case(S3Server::S3sFs, "partdown");
    case.proxy.push(
        Rule::new(Fault::status(500))
            .method("PUT")
            .target("partNumber=1")
            .times(1000),
    );
    let mut src = StreamSource::new(S3_LEN, 43, None);
    let err = case
        .store
        .write_reader("big/never.bin", &mut src, None)
        .unwrap_err();
    case.proxy.clear_faults();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    let sends = case.proxy.counters.count("PUT", "partNumber=1");
    assert!(
        sends > 1,
        "a 500 is resent before giving up ({sends} sends)"
    );
    assert!(sends < 10, "part resends are bounded ({sends} sends)");
    assert_eq!(
        case.proxy.counters.count("POST", "uploadId="),
        0,
        "never completed"
    );
    // s3s-fs has no ListMultipartUploads: the abort is seen at the proxy.
    assert_eq!(
        case.proxy.counters.count("DELETE", "uploadId="),
        1,
        "aborted"
    );
    assert!(!case.store.exists("big/never.bin").unwrap());
}

// ---------------------------------------------------------------------------
// Azure blocks
// ---------------------------------------------------------------------------

/// 6 MiB + 5 bytes in 1 MiB blocks: 7 Put Block requests when nothing fails.
const AZ_LEN: u64 = 6 * MIB + 5;
const AZ_BLOCKS: usize = 7;

fn azure_case(tag: &str) -> (Proxy, ResilientBackend) {
    let container = Azurite::Http.new_container(tag);
    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut cfg = Azurite::Http.config(&container);
    cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    cfg.block_size = MIB;
    cfg.single_put_threshold = 2 * MIB;
    cfg.upload_concurrency = 2;
    let inner = AzureBlobBackend::new(cfg).unwrap();
    let store = ResilientBackend::new(Box::new(inner), ResilientConfig::default()).unwrap();
    (proxy, store)
}

#[test]
fn azure_block_answered_server_busy_is_resent_alone() {
    let (proxy, store) = azure_case("blockretry");
    proxy.push(
        Rule::new(Fault::azure_server_busy())
            .method("PUT")
            .target("comp=block&")
            .times(1),
    );
    let mut src = StreamSource::new(AZ_LEN, 44, None);
    store.write_reader("big/busy.bin", &mut src, None).unwrap();

    assert_eq!(proxy.pending_rules(), 0, "the fault was never hit");
    assert_eq!(
        digest_via_read_to(&store, "big/busy.bin"),
        (AZ_LEN, src.digest())
    );
    assert_eq!(
        proxy.counters.count("PUT", "comp=block&"),
        AZ_BLOCKS + 1,
        "only the failed block was resent"
    );
    assert_eq!(proxy.counters.count("PUT", "comp=blocklist"), 1);
    assert_eq!(
        store.stats().retries,
        0,
        "the wrapper did not replay the upload"
    );
}

#[test]
fn azure_block_refused_for_good_fails_and_commits_nothing() {
    let (proxy, store) = azure_case("blockdenied");
    store.write("big/keep.bin", b"old version").unwrap();
    proxy.push(
        Rule::new(Fault::azure_error(403, "AuthorizationFailure"))
            .method("PUT")
            .target("comp=block&")
            .times(1),
    );
    let mut src = StreamSource::new(AZ_LEN, 45, None);
    let err = store
        .write_reader("big/keep.bin", &mut src, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(
        proxy.counters.count("PUT", "comp=blocklist"),
        0,
        "nothing committed"
    );
    assert_eq!(store.read("big/keep.bin").unwrap(), b"old version");
    assert_eq!(store.stats().retries, 0);
}
