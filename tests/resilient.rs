//! `ResilientBackend` over the real S3 servers (s3s-fs, which checks
//! signatures and ignores `If-Match`, and moto, which honours it), with the
//! fault-injecting proxy of `support/proxy.rs` between the wrapper and the
//! server. Run by `scripts/test`, which starts the servers.
//!
//! Every test builds a [`Rig`]: a fresh bucket, a proxy in front of the
//! server, a wrapped store that goes through the proxy, and a direct store
//! (no proxy, no wrapper) to set up objects and check what really landed.
#![cfg(feature = "server-tests")]

mod support;

use std::io::{self, Cursor};
use std::time::{Duration, Instant};

use blobio::{
    Backend, CircuitState, Error, ErrorKind, ResilientBackend, ResilientConfig, S3Backend, Timeouts,
};
use support::proxy::{Cut, Fault, Proxy, Rule, UnresponsiveListener};
use support::{pseudo_random, sha256_hex, S3Server};

const SERVERS: [S3Server; 2] = [S3Server::S3sFs, S3Server::Moto];
const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// Retries that don't slow the tests down, and a breaker that stays out of
/// the way unless a test is about it.
fn fast_retries() -> ResilientConfig {
    ResilientConfig {
        max_failures: 1_000,
        open_timeout: 500 * MS,
        half_open_max_requests: 3,
        max_retries: 3,
        retry_delay: 2 * MS,
        retry_max_delay: 20 * MS,
    }
}

/// Short enough that a black hole or a stall costs little; long enough for
/// a loaded two-core machine.
fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: 2 * SEC,
        request: SEC,
        stall: 500 * MS,
    }
}

fn patient_timeouts() -> Timeouts {
    Timeouts {
        connect: 5 * SEC,
        request: 10 * SEC,
        stall: 10 * SEC,
    }
}

struct Rig {
    server: S3Server,
    bucket: String,
    proxy: Proxy,
    /// Straight to the server: setup and checks.
    direct: S3Backend,
    /// Through the proxy, wrapped.
    store: ResilientBackend,
}

impl Rig {
    fn new(server: S3Server, tag: &str, cfg: ResilientConfig, timeouts: Timeouts) -> Rig {
        let bucket = server.new_bucket(tag);
        let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
        let direct = S3Backend::new(server.config(&bucket)).expect("direct store");
        let mut proxied = server.config(&bucket);
        proxied.endpoint = Some(proxy.url.clone());
        proxied.http.timeouts = timeouts;
        let inner = S3Backend::new(proxied).expect("proxied store");
        let store = ResilientBackend::new(Box::new(inner), cfg).expect("wrapper");
        Rig {
            server,
            bucket,
            proxy,
            direct,
            store,
        }
    }

    /// Requests the proxy has seen so far.
    fn requests(&self) -> usize {
        self.proxy.counters.total()
    }

    fn connections(&self) -> usize {
        self.proxy
            .counters
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Another direct store on the same bucket, to move into a hook.
    fn direct_clone(&self) -> S3Backend {
        S3Backend::new(self.server.config(&self.bucket)).expect("direct store")
    }
}

#[track_caller]
fn assert_same(what: &str, got: &[u8], expected: &[u8]) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    assert_eq!(sha256_hex(got), sha256_hex(expected), "{what}: digest");
}

#[track_caller]
fn assert_kind<T: std::fmt::Debug>(
    what: &str,
    result: blobio::Result<T>,
    kind: ErrorKind,
) -> Error {
    match result {
        Ok(v) => panic!("{what}: expected {kind}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{what}: expected {kind}, got {e}");
            e
        }
    }
}

// ---------------------------------------------------------------------------
// Every fault class x every operation class
// ---------------------------------------------------------------------------

/// The operations of the contract, grouped by the request that carries them.
#[derive(Debug, Clone, Copy)]
enum Op {
    Write,
    WriteReplayable,
    Read,
    ReadTo,
    ReadToAt,
    ReadRange,
    StatFile,
    Exists,
    Delete,
    List,
    ListObjects,
    ListDirectories,
    DeleteBatch,
}

const OPS: [Op; 13] = [
    Op::Write,
    Op::WriteReplayable,
    Op::Read,
    Op::ReadTo,
    Op::ReadToAt,
    Op::ReadRange,
    Op::StatFile,
    Op::Exists,
    Op::Delete,
    Op::List,
    Op::ListObjects,
    Op::ListDirectories,
    Op::DeleteBatch,
];

const OBJECT_LEN: usize = 64 * 1024 + 17;

impl Op {
    /// A rule for `fault` that hits this operation's request.
    fn rule(self, fault: Fault, prefix: &str) -> Rule {
        let object = format!("{prefix}obj");
        match self {
            Op::Write | Op::WriteReplayable => Rule::new(fault).method("PUT").target(&object),
            Op::Read | Op::ReadTo | Op::ReadToAt | Op::ReadRange => {
                Rule::new(fault).method("GET").target(&object)
            }
            Op::StatFile | Op::Exists => Rule::new(fault).method("HEAD").target(&object),
            Op::Delete => Rule::new(fault).method("DELETE").target(&object),
            Op::List | Op::ListObjects | Op::ListDirectories => {
                Rule::new(fault).method("GET").target("list-type=2")
            }
            Op::DeleteBatch => Rule::new(fault).method("POST").target("delete"),
        }
    }

    /// Writes what the operation needs, straight to the server.
    fn setup(self, rig: &Rig, prefix: &str, data: &[u8]) {
        match self {
            Op::Write | Op::WriteReplayable => {}
            Op::List | Op::ListObjects | Op::ListDirectories | Op::DeleteBatch => {
                for (i, k) in ["a/1", "b/2", "c"].iter().enumerate() {
                    rig.direct
                        .write(&format!("{prefix}{k}"), &data[..100 + i])
                        .unwrap();
                }
            }
            _ => rig.direct.write(&format!("{prefix}obj"), data).unwrap(),
        }
    }

    /// Runs the operation through the wrapper and checks, byte for byte,
    /// what it gave or what landed on the server.
    fn run(self, rig: &Rig, prefix: &str, data: &[u8]) -> blobio::Result<()> {
        let key = format!("{prefix}obj");
        let s = &rig.store;
        let what = format!("{self:?} on {:?}", rig.server);
        match self {
            Op::Write => {
                s.write(&key, data)?;
                assert_same(&what, &rig.direct.read(&key).unwrap(), data);
            }
            Op::WriteReplayable => {
                let mut src = Cursor::new(data.to_vec());
                s.write_reader_replayable(&key, &mut src, Some(data.len() as u64))?;
                assert_same(&what, &rig.direct.read(&key).unwrap(), data);
            }
            Op::Read => assert_same(&what, &s.read(&key)?, data),
            Op::ReadTo => {
                let mut out = Vec::new();
                let n = s.read_to(&key, &mut out)?;
                assert_eq!(n, data.len() as u64, "{what}: count");
                assert_same(&what, &out, data);
            }
            Op::ReadToAt => {
                let mut out = Vec::new();
                let n = s.read_to_at(&key, &mut out, 1000)?;
                assert_eq!(n, (data.len() - 1000) as u64, "{what}: count");
                assert_same(&what, &out, &data[1000..]);
            }
            Op::ReadRange => {
                let mut buf = vec![0u8; 5000];
                let n = s.read_range(&key, 333, &mut buf)?;
                assert_eq!(n, 5000, "{what}: count");
                assert_same(&what, &buf, &data[333..5333]);
            }
            Op::StatFile => assert_eq!(s.stat_file(&key)?, Some(data.len() as u64), "{what}"),
            Op::Exists => assert!(s.exists(&key)?, "{what}"),
            Op::Delete => {
                s.delete(&key)?;
                assert!(!rig.direct.exists(&key).unwrap(), "{what}: still there");
            }
            Op::List => {
                let expected: Vec<String> = ["a/1", "b/2", "c"]
                    .iter()
                    .map(|k| format!("{prefix}{k}"))
                    .collect();
                assert_eq!(s.list(prefix)?, expected, "{what}");
            }
            Op::ListObjects => {
                let objects = s.as_object_lister().unwrap().list_objects(prefix)?;
                let sizes: Vec<(String, u64)> =
                    objects.into_iter().map(|o| (o.path, o.size)).collect();
                let expected: Vec<(String, u64)> = ["a/1", "b/2", "c"]
                    .iter()
                    .enumerate()
                    .map(|(i, k)| (format!("{prefix}{k}"), 100 + i as u64))
                    .collect();
                assert_eq!(sizes, expected, "{what}");
            }
            Op::ListDirectories => {
                let dirs = s.as_directory_lister().unwrap().list_directories(prefix)?;
                assert_eq!(dirs, ["a", "b"], "{what}");
            }
            Op::DeleteBatch => {
                let keys: Vec<String> = ["a/1", "b/2", "c"]
                    .iter()
                    .map(|k| format!("{prefix}{k}"))
                    .collect();
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                s.as_batch_deleter().unwrap().delete_batch(&refs)?;
                assert!(
                    rig.direct.list(prefix).unwrap().is_empty(),
                    "{what}: keys left"
                );
            }
        }
        Ok(())
    }
}

/// How a transient fault is injected.
enum Injection {
    /// A rule on the operation's request, hitting it `times` times.
    Request(Fault, usize),
    /// The next new connection is accepted and reset.
    RefuseConnection,
}

fn transient_faults() -> Vec<(&'static str, Injection)> {
    vec![
        (
            "500 InternalError twice",
            Injection::Request(Fault::s3_error(500, "InternalError"), 2),
        ),
        ("503", Injection::Request(Fault::status(503), 1)),
        (
            "503 SlowDown three times",
            Injection::Request(Fault::s3_slow_down(), 3),
        ),
        (
            "429",
            Injection::Request(Fault::s3_error(429, "TooManyRequests"), 1),
        ),
        ("connection reset", Injection::Request(Fault::Reset, 1)),
        (
            "connection refused (accepted and reset)",
            Injection::RefuseConnection,
        ),
        (
            "body cut at 40%",
            Injection::Request(Fault::Cut(Cut::Fraction(0.4)), 1),
        ),
        (
            "stalled body",
            Injection::Request(Fault::Stall(Cut::Fraction(0.5)), 1),
        ),
        (
            "no answer (black hole)",
            Injection::Request(Fault::BlackHole, 1),
        ),
    ]
}

#[test]
fn every_transient_fault_on_every_operation_is_retried_to_byte_exact_success() {
    for server in SERVERS {
        let rig = Rig::new(server, "matrix", fast_retries(), short_timeouts());
        let data = pseudo_random(OBJECT_LEN, 7);
        for (name, injection) in transient_faults() {
            for op in OPS {
                let prefix = format!(
                    "m/{}/{op:?}/",
                    name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
                );
                op.setup(&rig, &prefix, &data);
                let before = rig.requests();
                match &injection {
                    Injection::Request(fault, times) => rig
                        .proxy
                        .push(op.rule(fault.clone(), &prefix).times(*times)),
                    Injection::RefuseConnection => rig.proxy.reset_next_connections(1),
                }
                if let Err(e) = op.run(&rig, &prefix, &data) {
                    panic!("{op:?} on {server:?} with {name}: {e}");
                }
                assert_eq!(
                    rig.proxy.pending_rules(),
                    0,
                    "{op:?} on {server:?}: the {name} fault never hit"
                );
                assert_eq!(
                    rig.proxy.pending_connection_resets(),
                    0,
                    "{op:?} on {server:?}: no new connection"
                );
                if let Injection::Request(_, times) = &injection {
                    assert!(
                        rig.requests() - before > *times,
                        "{op:?} on {server:?} with {name}: no retry seen"
                    );
                }
            }
        }
        let stats = rig.store.stats();
        assert_eq!(stats.state, CircuitState::Closed);
        assert!(
            stats.retries >= (OPS.len() * transient_faults().len()) as u64,
            "{stats:?}"
        );
    }
}

#[test]
fn final_answers_fail_with_their_kind_after_exactly_one_request() {
    let cases: Vec<(&str, Fault, ErrorKind, &[Op])> = vec![
        (
            "403 AccessDenied",
            Fault::s3_error(403, "AccessDenied"),
            ErrorKind::PermissionDenied,
            &OPS,
        ),
        (
            "404 NoSuchKey",
            Fault::s3_error(404, "NoSuchKey"),
            ErrorKind::NotFound,
            &[
                Op::Read,
                Op::ReadTo,
                Op::ReadToAt,
                Op::ReadRange,
                Op::List,
                Op::ListObjects,
            ],
        ),
        (
            "400 InvalidRequest",
            Fault::s3_error(400, "InvalidRequest"),
            ErrorKind::InvalidArgument,
            &[
                Op::Write,
                Op::Read,
                Op::ReadTo,
                Op::StatFile,
                Op::Delete,
                Op::List,
            ],
        ),
        (
            "412 PreconditionFailed",
            Fault::s3_error(412, "PreconditionFailed"),
            ErrorKind::PreconditionFailed,
            &[Op::Write, Op::Read, Op::ReadTo, Op::ReadToAt],
        ),
    ];
    for server in SERVERS {
        let rig = Rig::new(server, "final", fast_retries(), short_timeouts());
        let data = pseudo_random(OBJECT_LEN, 8);
        for (name, fault, kind, ops) in &cases {
            for op in ops.iter().copied() {
                let prefix = format!("f/{}/{op:?}/", &name[..3]);
                op.setup(&rig, &prefix, &data);
                let before = rig.requests();
                rig.proxy.push(op.rule(fault.clone(), &prefix).times(5));
                let what = format!("{op:?} on {server:?} answered {name}");
                assert_kind(&what, op.run(&rig, &prefix, &data), *kind);
                assert_eq!(rig.requests() - before, 1, "{what}: retried");
                rig.proxy.clear_faults();
            }
        }
        let stats = rig.store.stats();
        assert_eq!(
            (stats.retries, stats.failures, stats.consecutive_failures),
            (0, 0, 0),
            "{stats:?}"
        );
    }
}

#[test]
fn a_plain_write_reader_is_attempted_once_and_a_replayable_one_is_retried() {
    for server in SERVERS {
        let rig = Rig::new(server, "wreader", fast_retries(), short_timeouts());
        let data = pseudo_random(200_000, 9);
        rig.proxy
            .push(Rule::new(Fault::s3_slow_down()).method("PUT"));
        let before = rig.requests();
        let mut once = &data[..];
        assert_kind(
            "plain write_reader",
            rig.store
                .write_reader("w", &mut once, Some(data.len() as u64)),
            ErrorKind::Server,
        );
        assert_eq!(
            rig.requests() - before,
            1,
            "{server:?}: a consumed stream was retried"
        );
        assert!(!rig.direct.exists("w").unwrap());

        rig.proxy
            .push(Rule::new(Fault::Cut(Cut::Bytes(0))).method("PUT").times(2));
        let mut opened = 0;
        rig.store
            .write_reader_with(
                "w",
                &mut || {
                    opened += 1;
                    Ok(Box::new(Cursor::new(data.clone())) as Box<dyn io::Read>)
                },
                Some(data.len() as u64),
            )
            .unwrap();
        assert_eq!(opened, 3, "{server:?}: one fresh source per attempt");
        assert_same("write_reader_with", &rig.direct.read("w").unwrap(), &data);
    }
}

// ---------------------------------------------------------------------------
// Resumed reads
// ---------------------------------------------------------------------------

#[test]
fn read_to_cut_at_40_80_and_99_percent_yields_exactly_the_object_once() {
    for server in SERVERS {
        let rig = Rig::new(server, "resume", fast_retries(), short_timeouts());
        let data = pseudo_random(3 * 1024 * 1024 + 4099, 10);
        rig.direct.write("big.bin", &data).unwrap();
        for fraction in [0.4, 0.8, 0.99] {
            let mark = rig.proxy.counters.seen().len();
            rig.proxy.push(
                Rule::new(Fault::cut_at(fraction))
                    .method("GET")
                    .target("big.bin"),
            );
            let mut out = Vec::new();
            let n = rig.store.read_to("big.bin", &mut out).unwrap();
            assert_eq!(n, data.len() as u64, "{server:?} cut at {fraction}: count");
            assert_same(&format!("{server:?} cut at {fraction}"), &out, &data);
            let gets: Vec<_> = rig.proxy.counters.seen()[mark..].to_vec();
            assert_eq!(gets.len(), 2, "{server:?} cut at {fraction}: {gets:#?}");
            let cut = (data.len() as f64 * fraction).floor() as u64;
            assert_eq!(gets[0].header("range"), None);
            assert_eq!(
                gets[1].header("range"),
                Some(format!("bytes={cut}-").as_str()),
                "{server:?}"
            );
            assert!(
                gets[1]
                    .header("if-match")
                    .is_some_and(|v| v.starts_with('"')),
                "{:?}",
                gets[1]
            );
        }
        // read_to_at resumes from its own offset.
        rig.proxy.push(
            Rule::new(Fault::Stall(Cut::Bytes(1_000_000)))
                .method("GET")
                .target("big.bin"),
        );
        let mut out = Vec::new();
        let n = rig.store.read_to_at("big.bin", &mut out, 123_456).unwrap();
        assert_eq!(n, (data.len() - 123_456) as u64);
        assert_same("read_to_at after a stall", &out, &data[123_456..]);
        let last = rig.proxy.counters.seen().pop().unwrap();
        assert_eq!(last.header("range"), Some("bytes=1123456-"));
    }
}

#[test]
fn an_object_replaced_between_the_cut_and_the_resume_is_detected_not_spliced() {
    for server in SERVERS {
        for (case, new_len) in [("same size", 1_000_000), ("shorter than the cut", 100)] {
            let rig = Rig::new(server, "replaced", fast_retries(), short_timeouts());
            let old = pseudo_random(1_000_000, 11);
            let new = pseudo_random(new_len, 12);
            rig.direct.write("obj", &old).unwrap();
            let replacer = rig.direct_clone();
            let replacement = new.clone();
            rig.proxy.push(
                Rule::new(Fault::cut_at(0.4))
                    .method("GET")
                    .target("obj")
                    .then(move || replacer.write("obj", &replacement).expect("replace")),
            );
            let mut out = Vec::new();
            let err = assert_kind(
                &format!("{server:?}, replaced ({case})"),
                rig.store.read_to("obj", &mut out),
                ErrorKind::PreconditionFailed,
            );
            assert!(
                matches!(
                    err,
                    Error::ChangedDuringRead {
                        delivered: 400_000,
                        ..
                    }
                ),
                "{err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains("obj") && message.contains("changed during the download"),
                "{message}"
            );
            assert_same("what the writer got", &out, &old[..400_000]);
            assert_same("the new version", &rig.direct.read("obj").unwrap(), &new);
            let stats = rig.store.stats();
            assert_eq!(
                (stats.retries, stats.consecutive_failures),
                (1, 0),
                "{server:?}: {stats:?}"
            );
        }
    }
}

#[test]
fn checked_reads_report_the_etag_and_refuse_another_version() {
    for server in SERVERS {
        let store = server.new_store("checked");
        store.write("k", b"0123456789").unwrap();
        let mut seen = None;
        let mut out = Vec::new();
        store.read_to_checked("k", &mut out, &mut seen).unwrap();
        let etag = seen.clone().expect("an ETag");
        assert!(etag.starts_with('"'), "{etag}");
        // Resuming at the very end of the same version: nothing left.
        let mut rest = Vec::new();
        assert_eq!(
            store
                .read_to_at_checked("k", &mut rest, 10, Some(&etag), &mut seen)
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .read_to_at_checked("k", &mut rest, 4, Some(&etag), &mut seen)
                .unwrap(),
            6
        );
        assert_eq!(rest, b"456789");
        // Past the end without a version is still an error.
        assert_kind(
            "offset 10 unchecked",
            store.read_to_at_checked("k", &mut rest, 10, None, &mut None),
            ErrorKind::InvalidArgument,
        );
        // A different version: refused before any byte, wherever the offset.
        for offset in [0, 4, 10, 11] {
            let mut none = Vec::new();
            assert_kind(
                &format!("{server:?} offset {offset}, wrong ETag"),
                store.read_to_at_checked("k", &mut none, offset, Some("\"not-it\""), &mut None),
                ErrorKind::PreconditionFailed,
            );
            assert!(none.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------

fn wrapped_at(
    server: S3Server,
    bucket: &str,
    endpoint: &str,
    timeouts: Timeouts,
    retries: u32,
) -> ResilientBackend {
    let mut cfg = server.config(bucket);
    cfg.endpoint = Some(endpoint.to_owned());
    cfg.http.timeouts = timeouts;
    let inner = S3Backend::new(cfg).unwrap();
    ResilientBackend::new(
        Box::new(inner),
        ResilientConfig {
            max_retries: retries,
            ..fast_retries()
        },
    )
    .unwrap()
}

#[test]
fn a_connect_that_hangs_is_a_timeout_within_the_connect_bound() {
    let stuck = UnresponsiveListener::start();
    let timeouts = Timeouts {
        connect: 300 * MS,
        request: 30 * SEC,
        stall: 30 * SEC,
    };
    let store = wrapped_at(S3Server::Moto, "never-reached", &stuck.url, timeouts, 1);
    let started = Instant::now();
    let err = assert_kind(
        "read through a full accept queue",
        store.read("k"),
        ErrorKind::Timeout,
    );
    let took = started.elapsed();
    assert!(
        took >= 550 * MS && took < 3 * SEC,
        "two connect timeouts of 300 ms took {took:?}: {err}"
    );
    assert_eq!(store.stats().failures, 2);
}

#[test]
fn refused_connections_are_a_network_error_and_are_retried_until_the_listener_is_back() {
    let rig = Rig::new(S3Server::Moto, "refused", fast_retries(), short_timeouts());
    rig.direct.write("k", b"still here").unwrap();
    rig.proxy.refuse_connections(true);
    let err = assert_kind(
        "read with the listener closed",
        rig.store.read("k"),
        ErrorKind::Network,
    );
    assert!(err.to_string().contains("k"), "{err}");
    assert_eq!(rig.store.stats().failures, 4, "1 attempt + 3 retries");

    let slow = ResilientBackend::new(
        Box::new({
            let mut cfg = S3Server::Moto.config(&rig.bucket);
            cfg.endpoint = Some(rig.proxy.url.clone());
            S3Backend::new(cfg).unwrap()
        }),
        ResilientConfig {
            max_retries: 6,
            retry_delay: 100 * MS,
            retry_max_delay: 400 * MS,
            ..fast_retries()
        },
    )
    .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(250 * MS);
            rig.proxy.refuse_connections(false);
        });
        assert_eq!(slow.read("k").unwrap(), b"still here");
    });
    assert!(slow.stats().retries >= 1);
}

#[test]
fn an_unanswered_request_is_a_timeout_within_the_request_bound() {
    let timeouts = Timeouts {
        connect: 5 * SEC,
        request: 400 * MS,
        stall: 30 * SEC,
    };
    let rig = Rig::new(
        S3Server::S3sFs,
        "blackhole",
        ResilientConfig {
            max_retries: 1,
            ..fast_retries()
        },
        timeouts,
    );
    rig.direct.write("k", b"eventually").unwrap();
    rig.proxy
        .push(Rule::new(Fault::BlackHole).method("GET").times(2));
    let started = Instant::now();
    let err = assert_kind(
        "read, never answered",
        rig.store.read("k"),
        ErrorKind::Timeout,
    );
    let took = started.elapsed();
    assert!(
        took >= 750 * MS && took < 4 * SEC,
        "two request timeouts of 400 ms took {took:?}: {err}"
    );

    rig.proxy.push(Rule::new(Fault::BlackHole).method("GET"));
    assert_eq!(rig.store.read("k").unwrap(), b"eventually");
}

#[test]
fn a_body_that_stalls_is_a_timeout_within_the_stall_bound_and_resumes() {
    let timeouts = Timeouts {
        connect: 5 * SEC,
        request: 30 * SEC,
        stall: 300 * MS,
    };
    let rig = Rig::new(
        S3Server::Moto,
        "stall",
        ResilientConfig {
            max_retries: 1,
            ..fast_retries()
        },
        timeouts,
    );
    let data = pseudo_random(2 * 1024 * 1024, 13);
    rig.direct.write("k", &data).unwrap();
    rig.proxy.push(
        Rule::new(Fault::Stall(Cut::Fraction(0.5)))
            .method("GET")
            .times(2),
    );
    let started = Instant::now();
    let err = assert_kind("read, body stalls", rig.store.read("k"), ErrorKind::Timeout);
    let took = started.elapsed();
    assert!(
        took >= 550 * MS && took < 5 * SEC,
        "two stall timeouts of 300 ms took {took:?}: {err}"
    );

    rig.proxy
        .push(Rule::new(Fault::Stall(Cut::Fraction(0.5))).method("GET"));
    let mut out = Vec::new();
    assert_eq!(rig.store.read_to("k", &mut out).unwrap(), data.len() as u64);
    assert_same("read_to after a stall", &out, &data);
}

// ---------------------------------------------------------------------------
// Circuit breaker
// ---------------------------------------------------------------------------

fn breaker_config() -> ResilientConfig {
    ResilientConfig {
        max_failures: 5,
        open_timeout: 600 * MS,
        half_open_max_requests: 3,
        max_retries: 4,
        retry_delay: MS,
        retry_max_delay: 5 * MS,
    }
}

#[test]
fn five_consecutive_503s_open_the_circuit_which_fails_fast_then_probes_close_it() {
    for server in SERVERS {
        let rig = Rig::new(server, "breaker", breaker_config(), short_timeouts());
        rig.direct.write("k", b"v").unwrap();
        rig.proxy.fail_next(5, Fault::status(503));
        let before = rig.requests();
        let err = assert_kind(
            "read during five 503s",
            rig.store.read("k"),
            ErrorKind::Server,
        );
        assert_eq!(err.http_status(), Some(503));
        assert_eq!(rig.requests() - before, 5, "{server:?}");
        assert_eq!(rig.store.state(), CircuitState::Open);
        assert!(rig.store.is_open());

        // Open: every call fails at once and touches no network.
        let (requests, connections) = (rig.requests(), rig.connections());
        let started = Instant::now();
        assert_kind(
            "exists while open",
            rig.store.exists("k"),
            ErrorKind::CircuitOpen,
        );
        assert_kind(
            "write while open",
            rig.store.write("k", b"x"),
            ErrorKind::CircuitOpen,
        );
        assert_kind(
            "list while open",
            rig.store.list(""),
            ErrorKind::CircuitOpen,
        );
        let err = assert_kind(
            "read_to while open",
            rig.store.read_to("k", &mut Vec::new()),
            ErrorKind::CircuitOpen,
        );
        assert!(err.to_string().contains("circuit breaker is open"), "{err}");
        assert!(
            started.elapsed() < 100 * MS,
            "open calls took {:?}",
            started.elapsed()
        );
        assert_eq!(
            (rig.requests(), rig.connections()),
            (requests, connections),
            "{server:?}: an open circuit touched the network"
        );
        assert_eq!(rig.store.stats().rejected, 4);

        // After the timeout: half-open; three successful probes close it.
        std::thread::sleep(650 * MS);
        assert_eq!(rig.store.state(), CircuitState::HalfOpen);
        for i in 0..3 {
            assert_eq!(
                rig.store.state(),
                CircuitState::HalfOpen,
                "before probe {i}"
            );
            assert!(rig.store.exists("k").unwrap());
        }
        assert_eq!(rig.store.state(), CircuitState::Closed);
        assert_eq!(rig.requests() - requests, 3, "{server:?}: the probes");
        let stats = rig.store.stats();
        assert_eq!(
            (
                stats.failures,
                stats.times_opened,
                stats.consecutive_failures
            ),
            (5, 1, 0),
            "{stats:?}"
        );
        assert!(stats.last_failure.is_some());
        assert!(stats.to_json().contains("\"state\":\"closed\""));

        // A failed probe opens it again at once, without a retry.
        rig.proxy.fail_next(5, Fault::status(503));
        let _ = rig.store.read("k");
        assert_eq!(rig.store.state(), CircuitState::Open);
        std::thread::sleep(650 * MS);
        rig.proxy.clear_faults();
        rig.proxy.push(Rule::new(Fault::s3_slow_down()));
        let before = rig.requests();
        assert_kind("a failing probe", rig.store.read("k"), ErrorKind::Server);
        assert_eq!(
            rig.requests() - before,
            1,
            "a probe that failed was retried"
        );
        assert_eq!(rig.store.state(), CircuitState::Open);
        rig.store.reset();
        assert_eq!(rig.store.state(), CircuitState::Closed);
        assert_eq!(rig.store.read("k").unwrap(), b"v");
    }
}

#[test]
fn a_thousand_not_found_answers_leave_the_circuit_closed() {
    for server in SERVERS {
        let rig = Rig::new(server, "misses", breaker_config(), short_timeouts());
        let before = rig.requests();
        for i in 0..1000 {
            let key = format!("missing/{i}");
            assert_kind(&key, rig.store.read(&key), ErrorKind::NotFound);
        }
        assert_eq!(
            rig.requests() - before,
            1000,
            "{server:?}: NotFound was retried"
        );
        let stats = rig.store.stats();
        assert_eq!(stats.state, CircuitState::Closed);
        assert_eq!(
            (stats.consecutive_failures, stats.failures, stats.retries),
            (0, 0, 0)
        );
        assert_eq!(stats.successes, 1000, "NotFound is a healthy answer");
    }
}

/// What one thread of the flapping test saw: the writes acknowledged (key,
/// bytes), the keys whose write failed, and the calls refused as open.
type ThreadOutcome = (Vec<(String, Vec<u8>)>, Vec<String>, usize);

#[test]
fn sixteen_threads_over_a_flapping_backend_lose_no_write_and_the_stats_add_up() {
    let cfg = ResilientConfig {
        max_failures: 5,
        open_timeout: 50 * MS,
        half_open_max_requests: 3,
        max_retries: 6,
        retry_delay: MS,
        retry_max_delay: 20 * MS,
    };
    for server in SERVERS {
        let rig = Rig::new(server, "flap", cfg, patient_timeouts());
        // One request in four fails, each fault class in turn. (At one in
        // two, half-open probes, which are consecutive requests, could never
        // all succeed: the circuit would rightly stay open.)
        let mut cycle = Vec::new();
        for fault in [
            Fault::status(503),
            Fault::s3_slow_down(),
            Fault::Reset,
            Fault::cut_at(0.5),
            Fault::s3_error(500, "InternalError"),
        ] {
            cycle.extend([None, None, None, Some(fault)]);
        }
        rig.proxy.flap(cycle);
        let before = rig.proxy.counters.seen().len();
        let results: Vec<ThreadOutcome> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16u64)
                .map(|t| {
                    let rig = &rig;
                    s.spawn(move || {
                        let (mut acked, mut unacked, mut rejected) =
                            (Vec::new(), Vec::new(), 0usize);
                        let mut note = |e: &Error| {
                            assert!(
                                matches!(
                                    e.kind(),
                                    ErrorKind::Server | ErrorKind::Network | ErrorKind::CircuitOpen
                                ),
                                "thread {t}: unexpected {e}"
                            );
                            if e.kind() == ErrorKind::CircuitOpen {
                                rejected += 1;
                            }
                        };
                        for i in 0..12u64 {
                            let key = format!("t{t}/obj{i}");
                            let data = pseudo_random(20_000 + (t * 100 + i) as usize, t * 1000 + i);
                            match rig.store.write(&key, &data) {
                                Ok(()) => {
                                    let mut out = Vec::new();
                                    match rig.store.read_to(&key, &mut out) {
                                        Ok(n) => {
                                            assert_eq!(n as usize, data.len());
                                            assert_same(&key, &out, &data);
                                        }
                                        Err(e) => note(&e),
                                    }
                                    if let Err(e) = rig.store.exists(&key) {
                                        note(&e);
                                    }
                                    acked.push((key, data));
                                }
                                Err(e) => {
                                    note(&e);
                                    unacked.push(key);
                                }
                            }
                        }
                        (acked, unacked, rejected)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        rig.proxy.clear_faults();

        let mut acked_count = 0;
        let mut rejected = 0;
        for (acked, unacked, r) in &results {
            rejected += r;
            for (key, data) in acked {
                assert_same(
                    &format!("{server:?} acknowledged {key}"),
                    &rig.direct.read(key).unwrap(),
                    data,
                );
                acked_count += 1;
            }
            for key in unacked {
                // A write that failed for the caller may still have landed
                // (its answer was lost), but never in part.
                if let Ok(bytes) = rig.direct.read(key) {
                    let (t, i) = key[1..].split_once("/obj").unwrap();
                    let (t, i): (u64, u64) = (t.parse().unwrap(), i.parse().unwrap());
                    assert_same(
                        key,
                        &bytes,
                        &pseudo_random(20_000 + (t * 100 + i) as usize, t * 1000 + i),
                    );
                }
            }
        }
        assert!(
            acked_count > 16 * 12 / 2,
            "{server:?}: only {acked_count} writes went through: {:?}",
            rig.store.stats()
        );

        let seen = rig.proxy.counters.seen();
        let seen = &seen[before..];
        let faulted = seen.iter().filter(|r| r.fault != "pass").count() as u64;
        let stats = rig.store.stats();
        assert_eq!(
            stats.successes + stats.failures + stats.neutral,
            seen.len() as u64,
            "{server:?}: {stats:?}"
        );
        assert_eq!(
            stats.failures, faulted,
            "{server:?}: every injected fault counted once: {stats:?}"
        );
        assert_eq!(stats.neutral, 0, "{stats:?}");
        assert_eq!(stats.rejected, rejected as u64, "{stats:?}");
        if stats.state == CircuitState::Closed {
            assert!(stats.consecutive_failures < cfg.max_failures, "{stats:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// The conformance suite through the wrapper
// ---------------------------------------------------------------------------

#[path = "conformance/mod.rs"]
#[macro_use]
mod conformance;

/// A wrapped store (and the proxy it goes through, if any).
struct Wrapped {
    store: ResilientBackend,
    /// Kept alive as long as the store.
    _proxy: Option<Proxy>,
}

impl AsRef<dyn Backend> for Wrapped {
    fn as_ref(&self) -> &(dyn Backend + 'static) {
        &self.store
    }
}

/// The conformance suite, unchanged, on a wrapped s3s-fs store.
mod conformance_wrapped_s3s {
    use super::*;

    fn store() -> (Wrapped, conformance::Options) {
        let options = conformance::Options {
            keys_with_plus_and_percent: false,
            prefix_keys_are_addressable: false,
            ..Default::default()
        };
        let inner = S3Server::S3sFs.new_store("wconf");
        let store = ResilientBackend::new(Box::new(inner), fast_retries()).unwrap();
        (
            Wrapped {
                store,
                _proxy: None,
            },
            options,
        )
    }

    conformance_tests!(store);
}

/// The conformance suite, unchanged, on a wrapped moto store behind a
/// proxy that answers every third GET, HEAD and DELETE with 503 SlowDown:
/// the wrapper hides the faults completely. (Uploads are left alone: a
/// plain `write_reader` is, by design, attempted once.)
mod conformance_wrapped_moto_flapping {
    use super::*;

    fn store() -> (Wrapped, conformance::Options) {
        let server = S3Server::Moto;
        let bucket = server.new_bucket("wconf");
        let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
        proxy.flap_methods(
            &["GET", "HEAD", "DELETE"],
            vec![None, None, Some(Fault::s3_slow_down())],
        );
        let mut cfg = server.config(&bucket);
        cfg.endpoint = Some(proxy.url.clone());
        cfg.prefix = "tenant/data".into();
        let inner = S3Backend::new(cfg).unwrap();
        let store = ResilientBackend::new(Box::new(inner), fast_retries()).unwrap();
        (
            Wrapped {
                store,
                _proxy: Some(proxy),
            },
            conformance::Options::default(),
        )
    }

    conformance_tests!(store);
}
