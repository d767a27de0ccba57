//! The fault-injection checks of `ResilientBackend`, written once against a
//! [`Rig`] (a wrapped store behind the fault proxy, and a direct store on the
//! same bucket or container) and run on every network backend:
//! tests/resilient.rs (S3 on s3s-fs and moto) and tests/resilient_azure.rs
//! (Azure on Azurite). What differs between the services — how a listing or
//! a batch request looks, which header carries a range, what throttling or
//! a refusal looks like — is a [`Dialect`].
#![allow(dead_code)]

use std::io::Cursor;
use std::time::{Duration, Instant};

use blobio::{
    Backend, CircuitState, Error, ErrorKind, ResilientBackend, ResilientConfig, Timeouts,
};

use crate::support::proxy::{Cut, Fault, Proxy, Rule};
use crate::support::{pseudo_random, sha256_hex};

pub const MS: Duration = Duration::from_millis(1);
pub const SEC: Duration = Duration::from_secs(1);

/// What a service's requests and answers look like.
pub struct Dialect {
    /// For messages: "s3s-fs", "moto", "Azurite".
    pub name: &'static str,
    /// A substring of every listing request's target.
    pub list_target: &'static str,
    /// Method and target substring of a batch delete request.
    pub batch: (&'static str, &'static str),
    /// The request header carrying a byte range.
    pub range_header: &'static str,
    /// The service's throttling answer (503 SlowDown, 503 ServerBusy).
    pub throttle: fn() -> Fault,
    /// The service's 500 InternalError, with its code.
    pub server_error: fn() -> Fault,
    /// The service's refusal (403).
    pub denied: fn() -> Fault,
    /// The service's "no such object" (404).
    pub missing: fn() -> Fault,
    /// Whether the backend itself sends a request again when its
    /// connection was closed or reset under it (Azure does, for a pooled
    /// connection the server closed): then one attempt of the wrapper may be
    /// several requests at the proxy.
    pub resends_on_dropped_connections: bool,
}

/// Opens a direct store (no proxy, no wrapper) on the rig's bucket or
/// container.
pub type DirectFactory = Box<dyn Fn() -> Box<dyn Backend> + Send + Sync>;

/// A wrapped store through a fault proxy, and a direct one beside it.
pub struct Rig {
    pub dialect: Dialect,
    pub proxy: Proxy,
    /// Straight to the server: setup and checks.
    pub direct: Box<dyn Backend>,
    /// Through the proxy, wrapped.
    pub store: ResilientBackend,
    make_direct: DirectFactory,
}

impl Rig {
    /// `make_direct` opens another direct store on the same bucket or
    /// container (to hand to a proxy hook).
    pub fn new(
        dialect: Dialect,
        proxy: Proxy,
        wrapped: ResilientBackend,
        make_direct: DirectFactory,
    ) -> Rig {
        Rig {
            dialect,
            proxy,
            direct: make_direct(),
            store: wrapped,
            make_direct,
        }
    }

    /// Requests the proxy has seen so far.
    pub fn requests(&self) -> usize {
        self.proxy.counters.total()
    }

    pub fn connections(&self) -> usize {
        self.proxy
            .counters
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Another direct store, to move into a hook.
    pub fn direct_clone(&self) -> Box<dyn Backend> {
        (self.make_direct)()
    }
}

/// Retries that don't slow the tests down, and a breaker that stays out of
/// the way unless a test is about it.
pub fn fast_retries() -> ResilientConfig {
    ResilientConfig {
        max_failures: 1_000,
        open_timeout: 500 * MS,
        half_open_max_requests: 3,
        max_retries: 3,
        retry_delay: 2 * MS,
        retry_max_delay: 20 * MS,
        ..ResilientConfig::default()
    }
}

/// Short enough that a black hole or a stall costs little; long enough for
/// a loaded two-core machine (a 500 ms stall timeout failed a retried
/// Azurite DELETE in a CI run at load average 9: every attempt's answer
/// came later than that).
pub fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: 2 * SEC,
        request: 2 * SEC,
        stall: 1500 * MS,
    }
}

pub fn patient_timeouts() -> Timeouts {
    Timeouts {
        connect: 5 * SEC,
        request: 10 * SEC,
        stall: 10 * SEC,
    }
}

/// The breaker of the Go package's defaults, with short times.
pub fn breaker_config() -> ResilientConfig {
    ResilientConfig {
        max_failures: 5,
        open_timeout: 600 * MS,
        half_open_max_requests: 3,
        max_retries: 4,
        retry_delay: MS,
        retry_max_delay: 5 * MS,
        ..ResilientConfig::default()
    }
}

/// The breaker of the flapping test: it may open, briefly.
pub fn flapping_config() -> ResilientConfig {
    ResilientConfig {
        max_failures: 5,
        open_timeout: 50 * MS,
        half_open_max_requests: 3,
        max_retries: 6,
        retry_delay: MS,
        retry_max_delay: 20 * MS,
        ..ResilientConfig::default()
    }
}

#[track_caller]
pub fn assert_same(what: &str, got: &[u8], expected: &[u8]) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    assert_eq!(sha256_hex(got), sha256_hex(expected), "{what}: digest");
}

#[track_caller]
pub fn assert_kind<T: std::fmt::Debug>(
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
// Operations
// ---------------------------------------------------------------------------

/// The operations of the contract, grouped by the request that carries them.
#[derive(Debug, Clone, Copy)]
pub enum Op {
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

pub const OPS: [Op; 13] = [
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

pub const OBJECT_LEN: usize = 64 * 1024 + 17;

impl Op {
    /// A rule for `fault` that hits this operation's request.
    pub fn rule(self, rig: &Rig, fault: Fault, prefix: &str) -> Rule {
        let object = format!("{prefix}obj");
        match self {
            Op::Write | Op::WriteReplayable => Rule::new(fault).method("PUT").target(&object),
            Op::Read | Op::ReadTo | Op::ReadToAt | Op::ReadRange => {
                Rule::new(fault).method("GET").target(&object)
            }
            Op::StatFile | Op::Exists => Rule::new(fault).method("HEAD").target(&object),
            Op::Delete => Rule::new(fault).method("DELETE").target(&object),
            Op::List | Op::ListObjects | Op::ListDirectories => Rule::new(fault)
                .method("GET")
                .target(rig.dialect.list_target),
            Op::DeleteBatch => Rule::new(fault)
                .method(rig.dialect.batch.0)
                .target(rig.dialect.batch.1),
        }
    }

    /// Writes what the operation needs, straight to the server.
    pub fn setup(self, rig: &Rig, prefix: &str, data: &[u8]) {
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
    pub fn run(self, rig: &Rig, prefix: &str, data: &[u8]) -> blobio::Result<()> {
        let key = format!("{prefix}obj");
        let s = &rig.store;
        let what = format!("{self:?} on {}", rig.dialect.name);
        let listed = || -> Vec<String> {
            ["a/1", "b/2", "c"]
                .iter()
                .map(|k| format!("{prefix}{k}"))
                .collect()
        };
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
            Op::List => assert_eq!(s.list(prefix)?, listed(), "{what}"),
            Op::ListObjects => {
                let objects = s.as_object_lister().unwrap().list_objects(prefix)?;
                let sizes: Vec<(String, u64)> =
                    objects.into_iter().map(|o| (o.path, o.size)).collect();
                let expected: Vec<(String, u64)> = listed()
                    .into_iter()
                    .enumerate()
                    .map(|(i, k)| (k, 100 + i as u64))
                    .collect();
                assert_eq!(sizes, expected, "{what}");
            }
            Op::ListDirectories => {
                let dirs = s.as_directory_lister().unwrap().list_directories(prefix)?;
                assert_eq!(dirs, ["a", "b"], "{what}");
            }
            Op::DeleteBatch => {
                let keys = listed();
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
pub enum Injection {
    /// A rule on the operation's request, hitting it `times` times.
    Request(Fault, usize),
    /// The next new connection is accepted and reset.
    RefuseConnection,
}

pub fn transient_faults(dialect: &Dialect) -> Vec<(&'static str, Injection)> {
    vec![
        ("500 twice", Injection::Request((dialect.server_error)(), 2)),
        ("503", Injection::Request(Fault::status(503), 1)),
        (
            "throttled three times",
            Injection::Request((dialect.throttle)(), 3),
        ),
        ("429", Injection::Request(Fault::status(429), 1)),
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

// ---------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------

/// Every transient fault class on every operation class: the wrapped call
/// succeeds with byte-exact content, after at least one retry.
pub fn every_transient_fault_on_every_operation_is_retried(rig: &Rig) {
    let name = rig.dialect.name;
    let data = pseudo_random(OBJECT_LEN, 7);
    let faults = transient_faults(&rig.dialect);
    for (fault_name, injection) in &faults {
        for op in OPS {
            let prefix = format!(
                "m/{}/{op:?}/",
                fault_name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
            );
            op.setup(rig, &prefix, &data);
            let before = rig.requests();
            match injection {
                Injection::Request(fault, times) => rig
                    .proxy
                    .push(op.rule(rig, fault.clone(), &prefix).times(*times)),
                Injection::RefuseConnection => rig.proxy.reset_next_connections(1),
            }
            if let Err(e) = op.run(rig, &prefix, &data) {
                panic!("{op:?} on {name} with {fault_name}: {e}");
            }
            assert_eq!(
                rig.proxy.pending_rules(),
                0,
                "{op:?} on {name}: the {fault_name} fault never hit"
            );
            assert_eq!(
                rig.proxy.pending_connection_resets(),
                0,
                "{op:?} on {name}: no new connection"
            );
            if let Injection::Request(_, times) = injection {
                assert!(
                    rig.requests() - before > *times,
                    "{op:?} on {name} with {fault_name}: no retry seen"
                );
            }
        }
    }
    let stats = rig.store.stats();
    assert_eq!(stats.state, CircuitState::Closed);
    assert!(
        stats.retries >= (OPS.len() * faults.len()) as u64,
        "{stats:?}"
    );
}

/// A final answer fails with its kind, after exactly one request, and
/// counts as no failure.
pub fn final_answers_fail_with_their_kind_after_one_request(
    rig: &Rig,
    cases: &[(&str, Fault, ErrorKind, &[Op])],
) {
    let data = pseudo_random(OBJECT_LEN, 8);
    for (case, fault, kind, ops) in cases {
        for op in ops.iter().copied() {
            let prefix = format!("f/{}/{op:?}/", &case[..3]);
            op.setup(rig, &prefix, &data);
            let before = rig.requests();
            rig.proxy
                .push(op.rule(rig, fault.clone(), &prefix).times(5));
            let what = format!("{op:?} on {} answered {case}", rig.dialect.name);
            assert_kind(&what, op.run(rig, &prefix, &data), *kind);
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

/// A GET cut at 40%, 80% and 99% yields exactly the object, once, through
/// `read_to`: the resume asks for the rest of the same version; and a
/// stalled `read_to_at` resumes from its own offset.
pub fn read_to_cut_anywhere_yields_exactly_the_object_once(rig: &Rig) {
    let name = rig.dialect.name;
    let range = rig.dialect.range_header;
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
        assert_eq!(n, data.len() as u64, "{name} cut at {fraction}: count");
        assert_same(&format!("{name} cut at {fraction}"), &out, &data);
        let gets: Vec<_> = rig.proxy.counters.seen()[mark..].to_vec();
        assert_eq!(gets.len(), 2, "{name} cut at {fraction}: {gets:#?}");
        let cut = (data.len() as f64 * fraction).floor() as u64;
        // The first GET asks for the object from byte 0 (a range of its
        // first part, or none); the resumed one from the cut on.
        let from = |r: &Option<&str>| r.map(|v| v.trim_start_matches("bytes=").split('-').next().unwrap_or("").to_owned());
        assert!(matches!(from(&gets[0].header(range)).as_deref(), None | Some("0")), "{name}: {:?}", gets[0]);
        assert_eq!(from(&gets[1].header(range)), Some(cut.to_string()), "{name}");
        assert!(
            gets[1]
                .header("if-match")
                .is_some_and(|v| v.starts_with('"') || v.starts_with("0x")),
            "{:?}",
            gets[1]
        );
    }
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
    let resumed_from = last.header(range).map(|v| v.trim_start_matches("bytes=").split('-').next().unwrap_or("").to_owned());
    assert_eq!(resumed_from.as_deref(), Some("1123456"), "{last:?}");
}

/// An object replaced (by a hook of the proxy) between the cut and the
/// resume: ChangedDuringRead naming the path, and the writer holds only the
/// old version's first bytes. `make` builds a fresh rig per case.
pub fn an_object_replaced_between_cut_and_resume_is_never_spliced(make: &dyn Fn() -> Rig) {
    for (case, new_len) in [("same size", 1_000_000), ("shorter than the cut", 100)] {
        let rig = make();
        let name = rig.dialect.name;
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
            &format!("{name}, replaced ({case})"),
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
            "{name}: {stats:?}"
        );
    }
}

/// Retries that honour a server's Retry-After of a second or two: the
/// backoff itself stays in milliseconds, so only the header can explain a
/// long pause.
pub fn retry_after_config() -> ResilientConfig {
    ResilientConfig {
        retry_max_delay: 5 * SEC,
        ..fast_retries()
    }
}

/// A throttling answer (the service's own 503, and a 429) that carries
/// `Retry-After: 1` is retried after at least that second, not after the
/// millisecond backoff, and the object arrives byte-exact. The rig's config is
/// [`retry_after_config`].
pub fn retry_after_is_honoured_before_the_next_attempt(rig: &Rig) {
    let name = rig.dialect.name;
    let data = pseudo_random(64 * 1024 + 7, 31);
    rig.direct.write("throttled.bin", &data).unwrap();
    let throttled = [
        ("throttle", (rig.dialect.throttle)()),
        ("429", Fault::status(429)),
    ];
    for (what, fault) in throttled {
        let before = rig.requests();
        rig.proxy.push(
            Rule::new(fault.clone().retry_after("1"))
                .method("GET")
                .target("throttled.bin"),
        );
        let started = Instant::now();
        let got = rig.store.read("throttled.bin").unwrap();
        let waited = started.elapsed();
        assert_same(&format!("{name} {what} with Retry-After"), &got, &data);
        assert_eq!(rig.requests() - before, 2, "{name} {what}: one retry");
        assert!(
            waited >= SEC,
            "{name} {what}: Retry-After: 1 was not honoured, retried after {waited:?}"
        );

        // The same answer without the header is retried too (after the
        // millisecond backoff).
        let before = rig.requests();
        rig.proxy.push(Rule::new(fault).method("GET").target("throttled.bin"));
        assert_same(
            &format!("{name} {what} without Retry-After"),
            &rig.store.read("throttled.bin").unwrap(),
            &data,
        );
        assert_eq!(rig.requests() - before, 2, "{name} {what}: one retry");
    }
}

/// Five consecutive 503s open the circuit; calls then fail fast with no
/// request or connection at the proxy; after the open timeout three probes
/// close it; a failing probe reopens it without a retry; reset closes it.
/// The rig's breaker is [`breaker_config`].
pub fn five_503s_open_the_circuit_which_fails_fast_then_probes_close_it(rig: &Rig) {
    let name = rig.dialect.name;
    rig.direct.write("k", b"v").unwrap();
    rig.proxy.fail_next(5, Fault::status(503));
    let before = rig.requests();
    let err = assert_kind(
        "read during five 503s",
        rig.store.read("k"),
        ErrorKind::Server,
    );
    assert_eq!(err.http_status(), Some(503));
    assert_eq!(rig.requests() - before, 5, "{name}");
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
        "{name}: an open circuit touched the network"
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
    assert_eq!(rig.requests() - requests, 3, "{name}: the probes");
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
    rig.proxy.push(Rule::new((rig.dialect.throttle)()));
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

/// `count` NotFound answers: each after one request, the circuit closed.
pub fn not_found_answers_leave_the_circuit_closed(rig: &Rig, count: usize) {
    let before = rig.requests();
    for i in 0..count {
        let key = format!("missing/{i}");
        assert_kind(&key, rig.store.read(&key), ErrorKind::NotFound);
    }
    assert_eq!(
        rig.requests() - before,
        count,
        "{}: NotFound was retried",
        rig.dialect.name
    );
    let stats = rig.store.stats();
    assert_eq!(stats.state, CircuitState::Closed);
    assert_eq!(
        (stats.consecutive_failures, stats.failures, stats.retries),
        (0, 0, 0)
    );
    assert_eq!(
        stats.successes, count as u64,
        "NotFound is a healthy answer"
    );
}

/// What one thread of the flapping test saw: the writes acknowledged (key,
/// bytes), the keys whose write failed, and the calls refused as open.
type ThreadOutcome = (Vec<(String, Vec<u8>)>, Vec<String>, usize);

fn flap_object(t: u64, i: u64) -> Vec<u8> {
    pseudo_random(20_000 + (t * 100 + i) as usize, t * 1000 + i)
}

/// 16 threads share the wrapped store while one request in four fails
/// (each fault class in turn): no panic, every acknowledged write reads
/// back exactly (and an unacknowledged one is absent or whole), and the
/// breaker's counters match what the proxy saw. The rig's breaker is
/// [`flapping_config`].
pub fn sixteen_threads_over_a_flapping_backend_lose_no_write(rig: &Rig) {
    let name = rig.dialect.name;
    let cfg = *rig.store.config();
    // At one fault in two, half-open probes, which are consecutive
    // requests, could never all succeed: the circuit would rightly stay open.
    let mut cycle = Vec::new();
    for fault in [
        Fault::status(503),
        (rig.dialect.throttle)(),
        Fault::Reset,
        Fault::cut_at(0.5),
        (rig.dialect.server_error)(),
    ] {
        cycle.extend([None, None, None, Some(fault)]);
    }
    rig.proxy.flap(cycle);
    let before = rig.proxy.counters.seen().len();
    let results: Vec<ThreadOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16u64)
            .map(|t| {
                s.spawn(move || {
                    let (mut acked, mut unacked, mut rejected) = (Vec::new(), Vec::new(), 0usize);
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
                        let data = flap_object(t, i);
                        // Like a real client, wait out an open circuit (a
                        // few times) instead of giving up at once.
                        let mut written = rig.store.write(&key, &data);
                        for _ in 0..20 {
                            match &written {
                                Err(e) if e.kind() == ErrorKind::CircuitOpen => {
                                    note(e);
                                    std::thread::sleep(10 * MS);
                                    written = rig.store.write(&key, &data);
                                }
                                _ => break,
                            }
                        }
                        match written {
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
                &format!("{name} acknowledged {key}"),
                &rig.direct.read(key).unwrap(),
                data,
            );
            acked_count += 1;
        }
        for key in unacked {
            // A write that failed for the caller may still have landed (its
            // answer was lost), but never in part.
            if let Ok(bytes) = rig.direct.read(key) {
                let (t, i) = key[1..].split_once("/obj").unwrap();
                assert_same(
                    key,
                    &bytes,
                    &flap_object(t.parse().unwrap(), i.parse().unwrap()),
                );
            }
        }
    }
    assert!(
        acked_count > 16 * 12 / 2,
        "{name}: only {acked_count} writes went through: {:?}",
        rig.store.stats()
    );

    let seen = rig.proxy.counters.seen();
    let seen = &seen[before..];
    let passed = seen.iter().filter(|r| r.fault == "pass").count() as u64;
    let faulted = seen.len() as u64 - passed;
    let stats = rig.store.stats();
    // Every attempt ends with one request: a passed request always ends
    // its attempt in a success, a faulted one in a failure, unless the
    // backend resent it on its own first.
    assert_eq!(
        stats.successes, passed,
        "{name}: every passed request is one success: {stats:?}"
    );
    if rig.dialect.resends_on_dropped_connections {
        assert!(
            stats.failures <= faulted,
            "{name}: more failures than faults: {stats:?}"
        );
    } else {
        assert_eq!(
            stats.failures, faulted,
            "{name}: every injected fault counted once: {stats:?}"
        );
    }
    assert_eq!(stats.neutral, 0, "{stats:?}");
    assert_eq!(stats.rejected, rejected as u64, "{stats:?}");
    if stats.state == CircuitState::Closed {
        assert!(stats.consecutive_failures < cfg.max_failures, "{stats:?}");
    }
}

// ---------------------------------------------------------------------------
// Request and stall timeouts
// ---------------------------------------------------------------------------

/// One retry, fast.
pub fn one_retry() -> ResilientConfig {
    ResilientConfig {
        max_retries: 1,
        ..fast_retries()
    }
}

/// A 400 ms request timeout; the others long.
pub fn request_timeouts() -> Timeouts {
    Timeouts {
        connect: 5 * SEC,
        request: 400 * MS,
        stall: 30 * SEC,
    }
}

/// A 300 ms stall timeout; the others long.
pub fn stall_timeouts() -> Timeouts {
    Timeouts {
        connect: 5 * SEC,
        request: 30 * SEC,
        stall: 300 * MS,
    }
}

/// With [`request_timeouts`] and [`one_retry`]: a GET that is never answered
/// twice is a Timeout after two bounds; once, and the retry reads it.
pub fn an_unanswered_request_times_out_within_the_request_bound(rig: &Rig) {
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
        "{}: two request timeouts of 400 ms took {took:?}: {err}",
        rig.dialect.name
    );

    rig.proxy.push(Rule::new(Fault::BlackHole).method("GET"));
    assert_eq!(rig.store.read("k").unwrap(), b"eventually");
}

/// With [`stall_timeouts`] and [`one_retry`]: a body that goes silent
/// halfway twice is a Timeout after two bounds; once, and `read_to` resumes
/// to the exact object.
pub fn a_stalled_body_times_out_within_the_stall_bound_and_resumes(rig: &Rig) {
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
        "{}: two stall timeouts of 300 ms took {took:?}: {err}",
        rig.dialect.name
    );

    rig.proxy
        .push(Rule::new(Fault::Stall(Cut::Fraction(0.5))).method("GET"));
    let mut out = Vec::new();
    assert_eq!(rig.store.read_to("k", &mut out).unwrap(), data.len() as u64);
    assert_same("read_to after a stall", &out, &data);
}
