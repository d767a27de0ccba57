//! `ResilientBackend` over the real S3 servers (s3s-fs, which checks
//! signatures and ignores `If-Match`, and moto, which honours it), with the
//! fault-injecting proxy of `support/proxy.rs` between the wrapper and the
//! server. Run by `scripts/test`, which starts the servers.
//!
//! The checks shared with Azure live in `resilient_common/mod.rs`; each
//! runs here on both servers, on a fresh bucket with its own proxy. Then
//! what is particular to S3 or to one kind of fault: ETag-checked reads,
//! consumed and replayable uploads, each timeout, refused connections, and
//! the conformance suite through the wrapper.
#![cfg(feature = "server-tests")]

mod resilient_common;
mod support;

use std::io::{self, Cursor};
use std::time::Instant;

use blobio::{Backend, ErrorKind, ResilientBackend, ResilientConfig, S3Backend, Timeouts};
use resilient_common::*;
use support::proxy::{Cut, Fault, Proxy, Rule, UnresponsiveListener};
use support::{pseudo_random, S3Server};

const SERVERS: [S3Server; 2] = [S3Server::S3sFs, S3Server::Moto];

fn dialect(server: S3Server) -> Dialect {
    Dialect {
        name: match server {
            S3Server::S3sFs => "s3s-fs",
            S3Server::Moto => "moto",
        },
        list_target: "list-type=2",
        batch: ("POST", "delete"),
        range_header: "range",
        throttle: Fault::s3_slow_down,
        server_error: || Fault::s3_error(500, "InternalError"),
        denied: || Fault::s3_error(403, "AccessDenied"),
        // The transport resends an idempotent request whose pooled
        // connection was found closed (src/http.rs), on S3 as on Azure.
        resends_on_dropped_connections: true,
        missing: || Fault::s3_error(404, "NoSuchKey"),
    }
}

/// A fresh bucket on `server`, a proxy in front of it, and a store through
/// the proxy wrapped with `cfg`; returns the rig and the bucket name.
fn rig_with_bucket(
    server: S3Server,
    tag: &str,
    cfg: ResilientConfig,
    timeouts: Timeouts,
) -> (Rig, String) {
    let bucket = server.new_bucket(tag);
    let proxy = Proxy::start(server.endpoint().trim_start_matches("http://"));
    let mut proxied = server.config(&bucket);
    proxied.endpoint = Some(proxy.url.clone());
    proxied.http.timeouts = timeouts;
    let inner = S3Backend::new(proxied).expect("proxied store");
    let wrapped = ResilientBackend::new(Box::new(inner), cfg).expect("wrapper");
    let b = bucket.clone();
    let direct: DirectFactory = Box::new(move || {
        Box::new(S3Backend::new(server.config(&b)).expect("direct store")) as Box<dyn Backend>
    });
    (Rig::new(dialect(server), proxy, wrapped, direct), bucket)
}

fn rig(server: S3Server, tag: &str, cfg: ResilientConfig, timeouts: Timeouts) -> Rig {
    rig_with_bucket(server, tag, cfg, timeouts).0
}

// ---------------------------------------------------------------------------
// The shared checks, on both servers
// ---------------------------------------------------------------------------

#[test]
fn every_transient_fault_on_every_operation_is_retried_to_byte_exact_success() {
    for server in SERVERS {
        every_transient_fault_on_every_operation_is_retried(&rig(
            server,
            "matrix",
            fast_retries(),
            short_timeouts(),
        ));
    }
}

#[test]
fn final_answers_fail_with_their_kind_after_exactly_one_request() {
    let reads: &[Op] = &[
        Op::Read,
        Op::ReadTo,
        Op::ReadToAt,
        Op::ReadRange,
        Op::List,
        Op::ListObjects,
    ];
    for server in SERVERS {
        let d = dialect(server);
        let cases: Vec<(&str, Fault, ErrorKind, &[Op])> = vec![
            ("403", (d.denied)(), ErrorKind::PermissionDenied, &OPS),
            ("404", (d.missing)(), ErrorKind::NotFound, reads),
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
        final_answers_fail_with_their_kind_after_one_request(
            &rig(server, "final", fast_retries(), short_timeouts()),
            &cases,
        );
    }
}

#[test]
fn read_to_cut_at_40_80_and_99_percent_yields_exactly_the_object_once() {
    for server in SERVERS {
        read_to_cut_anywhere_yields_exactly_the_object_once(&rig(
            server,
            "resume",
            fast_retries(),
            short_timeouts(),
        ));
    }
}

#[test]
fn an_object_replaced_between_the_cut_and_the_resume_is_detected_not_spliced() {
    for server in SERVERS {
        an_object_replaced_between_cut_and_resume_is_never_spliced(&|| {
            rig(server, "replaced", fast_retries(), short_timeouts())
        });
    }
}

#[test]
fn a_throttling_answer_with_retry_after_is_retried_after_that_long() {
    for server in SERVERS {
        retry_after_is_honoured_before_the_next_attempt(&rig(
            server,
            "retry-after",
            retry_after_config(),
            short_timeouts(),
        ));
    }
}

#[test]
fn five_consecutive_503s_open_the_circuit_which_fails_fast_then_probes_close_it() {
    for server in SERVERS {
        five_503s_open_the_circuit_which_fails_fast_then_probes_close_it(&rig(
            server,
            "breaker",
            breaker_config(),
            short_timeouts(),
        ));
    }
}

#[test]
fn a_thousand_not_found_answers_leave_the_circuit_closed() {
    for server in SERVERS {
        not_found_answers_leave_the_circuit_closed(
            &rig(server, "misses", breaker_config(), short_timeouts()),
            1000,
        );
    }
}

#[test]
fn sixteen_threads_over_a_flapping_backend_lose_no_write_and_the_stats_add_up() {
    for server in SERVERS {
        sixteen_threads_over_a_flapping_backend_lose_no_write(&rig(
            server,
            "flap",
            flapping_config(),
            patient_timeouts(),
        ));
    }
}

// ---------------------------------------------------------------------------
// S3 in particular
// ---------------------------------------------------------------------------

#[test]
fn a_plain_write_reader_is_attempted_once_and_a_replayable_one_is_retried() {
    for server in SERVERS {
        let rig = rig(server, "wreader", fast_retries(), short_timeouts());
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
    let (rig, bucket) =
        rig_with_bucket(S3Server::Moto, "refused", fast_retries(), short_timeouts());
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
            let mut cfg = S3Server::Moto.config(&bucket);
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
    an_unanswered_request_times_out_within_the_request_bound(&rig(
        S3Server::S3sFs,
        "blackhole",
        one_retry(),
        request_timeouts(),
    ));
}

#[test]
fn a_body_that_stalls_is_a_timeout_within_the_stall_bound_and_resumes() {
    a_stalled_body_times_out_within_the_stall_bound_and_resumes(&rig(
        S3Server::Moto,
        "stall",
        one_retry(),
        stall_timeouts(),
    ));
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
        let options = conformance::Options::s3s_fs();
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
        // Concurrent checks can land several attempts of one call on the
        // faulty third of the cycle: plenty of retries.
        let retries = ResilientConfig {
            max_retries: 12,
            ..fast_retries()
        };
        let store = ResilientBackend::new(Box::new(inner), retries).unwrap();
        (
            Wrapped {
                store,
                _proxy: Some(proxy),
            },
            conformance::Options::moto(),
        )
    }

    conformance_tests!(store);
}
