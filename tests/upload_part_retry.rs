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

use std::time::{Duration, Instant};

use blobio::{
    AzureBlobBackend, Backend, ErrorKind, ResilientBackend, ResilientConfig, RetryPolicy, S3Backend,
    Timeouts,
};
use support::azure::Azurite;
use support::proxy::{Fault, Proxy, Rule};
use support::{digest_via_read_to, S3Server, StreamSource};

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
        assert_eq!(case.server.open_uploads(&case.bucket), 0);
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
    assert_eq!(S3Server::Moto.open_uploads(&case.bucket), 0);
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

// ---------------------------------------------------------------------------
// One retry budget for every layer
// ---------------------------------------------------------------------------

const MS: Duration = Duration::from_millis(1);

/// Quick retries: `n` of them, a short pause each.
fn quick_policy(n: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries: n,
        base_delay: 2 * MS,
        max_delay: 10 * MS,
        jitter: true,
        retry_timeout: Duration::from_secs(60),
    }
}

/// The wrapper's retries, as quick.
fn quick_wrapper(n: u32) -> ResilientConfig {
    ResilientConfig {
        max_failures: 1_000,
        max_retries: n,
        retry_delay: 2 * MS,
        retry_max_delay: 10 * MS,
        ..ResilientConfig::default()
    }
}

/// An S3 store (s3s-fs) behind the proxy with its own retry policy.
fn s3_store_with(tag: &str, policy: RetryPolicy) -> (Proxy, S3Backend) {
    s3_store_timed(tag, policy, Timeouts::default())
}

fn s3_store_timed(tag: &str, policy: RetryPolicy, timeouts: Timeouts) -> (Proxy, S3Backend) {
    let server = S3Server::S3sFs;
    let bucket = server.new_bucket(tag);
    let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
    let mut cfg = server.config(&bucket);
    cfg.endpoint = Some(proxy.url.clone());
    cfg.part_size = 5 * MIB;
    cfg.multipart_threshold = 8 * MIB;
    cfg.upload_concurrency = 2;
    cfg.retry = policy;
    cfg.http.timeouts = timeouts;
    (proxy, S3Backend::new(cfg).unwrap())
}

fn azure_store_with(tag: &str, policy: RetryPolicy) -> (Proxy, AzureBlobBackend) {
    let container = Azurite::Http.new_container(tag);
    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut cfg = Azurite::Http.config(&container);
    cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    cfg.block_size = MIB;
    cfg.single_put_threshold = 2 * MIB;
    // One block in flight: the first keeps failing, and no other block
    // (whose id the proxy could not tell apart) is sent meanwhile.
    cfg.upload_concurrency = 1;
    cfg.retry = policy;
    (proxy, AzureBlobBackend::new(cfg).unwrap())
}

/// Makes a store named after the test, with a retry policy, behind a fault
/// proxy that it returns too.
type MakeProxiedStore = dyn Fn(&str, RetryPolicy) -> (Proxy, Box<dyn Backend>);

/// A part that fails every time is attempted the policy's `max_retries + 1`
/// times in all: alone, and with the resilient wrapper around the store
/// (whose budget the store then shares, so the attempts of the part and of
/// the wrapper add up instead of multiplying). `part` names the failing
/// part's requests at the proxy.
fn a_failing_part_is_attempted_max_retries_plus_one_times(
    make: &MakeProxiedStore,
    part: &str,
    len: u64,
) {
    // The store alone, its own policy: 2 retries.
    let (proxy, store) = make("budget-alone", quick_policy(2));
    proxy.push(Rule::new(Fault::status(500)).method("PUT").target(part).times(1000));
    let data = support::pseudo_random(len as usize, 46);
    let err = store.write("big/alone.bin", &data).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_eq!(proxy.counters.count("PUT", part), 3, "1 attempt + 2 retries");
    proxy.clear_faults();
    assert!(!store.exists("big/alone.bin").unwrap());

    // Wrapped: the wrapper's policy (3 retries) is the call's budget,
    // whatever the store's own says (7); write() is one the wrapper could
    // replay, yet the spent budget leaves it nothing.
    let (proxy, store) = make("budget-wrapped", quick_policy(7));
    let store = ResilientBackend::new(store, quick_wrapper(3)).unwrap();
    proxy.push(Rule::new(Fault::status(500)).method("PUT").target(part).times(1000));
    let err = store.write("big/wrapped.bin", &data).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_eq!(proxy.counters.count("PUT", part), 4, "1 attempt + the call's 3 retries, in all");
    assert_eq!(store.stats().retries, 0, "the wrapper found the budget spent");
    proxy.clear_faults();
    assert!(!store.exists("big/wrapped.bin").unwrap());

    // The same through a streamed source the wrapper cannot replay.
    let before = proxy.counters.count("PUT", part);
    proxy.push(Rule::new(Fault::status(500)).method("PUT").target(part).times(1000));
    let mut src = StreamSource::new(len, 47, None);
    let err = store.write_reader("big/streamed.bin", &mut src, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_eq!(proxy.counters.count("PUT", part) - before, 4);
}

#[test]
fn s3_a_failing_part_is_attempted_max_retries_plus_one_times_in_all() {
    a_failing_part_is_attempted_max_retries_plus_one_times(
        &|tag, policy| {
            let (proxy, store) = s3_store_with(tag, policy);
            (proxy, Box::new(store))
        },
        "partNumber=2",
        S3_LEN,
    );
}

#[test]
fn azure_a_failing_block_is_attempted_max_retries_plus_one_times_in_all() {
    a_failing_part_is_attempted_max_retries_plus_one_times(
        &|tag, policy| {
            let (proxy, store) = azure_store_with(tag, policy);
            (proxy, Box::new(store))
        },
        "comp=block&",
        AZ_LEN,
    );
}

/// With retries to spare, the deadline ends the call: within
/// `retry_timeout` plus one request's timeouts, after fewer attempts than
/// the policy allows.
#[test]
fn retries_stop_at_the_retry_timeout() {
    let policy = RetryPolicy {
        max_retries: 100,
        base_delay: 100 * MS,
        max_delay: 100 * MS,
        jitter: false,
        retry_timeout: 700 * MS,
    };
    let request_timeout = Duration::from_secs(3);
    let timeouts = Timeouts {
        connect: request_timeout,
        request: request_timeout,
        stall: request_timeout,
    };
    let (proxy, store) = s3_store_timed("deadline", policy, timeouts);
    // The wrapper's policy is the call's budget: the same pauses.
    let store = ResilientBackend::new(Box::new(store), ResilientConfig {
        retry_delay: policy.base_delay,
        retry_max_delay: policy.max_delay,
        retry_timeout: policy.retry_timeout,
        ..quick_wrapper(100)
    })
    .unwrap();
    proxy.push(Rule::new(Fault::status(503)).method("PUT").target("partNumber=1").times(1000));
    let data = support::pseudo_random(S3_LEN as usize, 48);
    let started = Instant::now();
    let err = store.write("big/deadline.bin", &data).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    let sends = proxy.counters.count("PUT", "partNumber=1");
    // Pauses of 50-100 ms (jitter in the upper half) within 700 ms.
    assert!((3..=16).contains(&sends), "{sends} attempts in {took:?}");
    assert!(took < policy.retry_timeout + request_timeout, "the deadline held: {took:?}");
    assert!(took >= (sends as u32 - 1) * policy.base_delay / 2, "{sends} attempts paused {took:?}");
}
