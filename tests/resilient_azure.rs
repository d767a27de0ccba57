//! `ResilientBackend` over Azure Blob Storage (Azurite, which verifies
//! Shared Key signatures and honours `If-Match`), with the fault-injecting
//! proxy of `support/proxy.rs` between the wrapper and the server: the
//! checks of `resilient_common/mod.rs` that tests/resilient.rs runs on S3,
//! the Azure version checks, and the conformance suite through the wrapper
//! over a proxy that throttles. Run by `scripts/test`, which starts Azurite.
#![cfg(feature = "server-tests")]

mod resilient_common;
mod support;

use blobio::{
    AzureBlobBackend, AzureBlobConfig, Backend, ErrorKind, ResilientBackend, ResilientConfig,
    Timeouts,
};
use resilient_common::*;
use support::azure::Azurite;
use support::proxy::{Fault, Proxy};

fn dialect() -> Dialect {
    Dialect {
        name: "Azurite",
        list_target: "comp=list",
        batch: ("POST", "comp=batch"),
        range_header: "x-ms-range",
        throttle: Fault::azure_server_busy,
        server_error: || Fault::azure_error(500, "InternalError"),
        denied: || Fault::azure_error(403, "AuthorizationFailure"),
        resends_on_dropped_connections: true,
        missing: || Fault::azure_error(404, "BlobNotFound"),
    }
}

/// `cfg` with its endpoint moved behind `proxy`.
fn through(proxy: &Proxy, mut cfg: AzureBlobConfig) -> AzureBlobConfig {
    cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    cfg
}

/// A fresh container, a proxy in front of Azurite, and a store through the
/// proxy wrapped with `cfg`.
fn rig(tag: &str, cfg: ResilientConfig, timeouts: Timeouts) -> Rig {
    let container = Azurite::Http.new_container(tag);
    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut proxied = through(&proxy, Azurite::Http.config(&container));
    proxied.http.timeouts = timeouts;
    let inner = AzureBlobBackend::new(proxied).expect("proxied store");
    let wrapped = ResilientBackend::new(Box::new(inner), cfg).expect("wrapper");
    let direct: DirectFactory = Box::new(move || {
        Box::new(AzureBlobBackend::new(Azurite::Http.config(&container)).expect("direct store"))
            as Box<dyn Backend>
    });
    Rig::new(dialect(), proxy, wrapped, direct)
}

#[test]
fn every_transient_fault_on_every_operation_is_retried_to_byte_exact_success() {
    every_transient_fault_on_every_operation_is_retried(&rig(
        "matrix",
        fast_retries(),
        short_timeouts(),
    ));
}

#[test]
fn final_answers_fail_with_their_kind_after_exactly_one_request() {
    let d = dialect();
    let cases: Vec<(&str, Fault, ErrorKind, &[Op])> = vec![
        ("403", (d.denied)(), ErrorKind::PermissionDenied, &OPS),
        (
            "404",
            (d.missing)(),
            ErrorKind::NotFound,
            &[Op::Read, Op::ReadTo, Op::ReadToAt, Op::ReadRange],
        ),
        (
            "412 ConditionNotMet",
            Fault::azure_error(412, "ConditionNotMet"),
            ErrorKind::PreconditionFailed,
            &[Op::Read, Op::ReadTo, Op::ReadToAt],
        ),
    ];
    final_answers_fail_with_their_kind_after_one_request(
        &rig("final", fast_retries(), short_timeouts()),
        &cases,
    );
}

#[test]
fn read_to_cut_at_40_80_and_99_percent_yields_exactly_the_object_once() {
    read_to_cut_anywhere_yields_exactly_the_object_once(&rig(
        "resume",
        fast_retries(),
        short_timeouts(),
    ));
}

#[test]
fn an_object_replaced_between_the_cut_and_the_resume_is_detected_not_spliced() {
    an_object_replaced_between_cut_and_resume_is_never_spliced(&|| {
        rig("replaced", fast_retries(), short_timeouts())
    });
}

#[test]
fn a_throttling_answer_with_retry_after_is_retried_after_that_long() {
    retry_after_is_honoured_before_the_next_attempt(&rig(
        "retry-after",
        retry_after_config(),
        short_timeouts(),
    ));
}

#[test]
fn five_consecutive_503s_open_the_circuit_which_fails_fast_then_probes_close_it() {
    five_503s_open_the_circuit_which_fails_fast_then_probes_close_it(&rig(
        "breaker",
        breaker_config(),
        short_timeouts(),
    ));
}

#[test]
fn a_thousand_not_found_answers_leave_the_circuit_closed() {
    not_found_answers_leave_the_circuit_closed(
        &rig("misses", breaker_config(), short_timeouts()),
        1000,
    );
}

#[test]
fn sixteen_threads_over_a_flapping_backend_lose_no_write_and_the_stats_add_up() {
    sixteen_threads_over_a_flapping_backend_lose_no_write(&rig(
        "flap",
        flapping_config(),
        patient_timeouts(),
    ));
}

#[test]
fn checked_reads_report_the_etag_and_refuse_another_version() {
    let store = Azurite::Http.new_store("checked");
    store.write("k", b"0123456789").unwrap();
    let mut seen = None;
    store
        .read_to_checked("k", &mut Vec::new(), &mut seen)
        .unwrap();
    let etag = seen.clone().expect("an ETag");
    let mut rest = Vec::new();
    assert_eq!(
        store
            .read_to_at_checked("k", &mut rest, 10, Some(&etag), &mut seen)
            .unwrap(),
        0,
        "resumed just after the last byte"
    );
    assert_eq!(
        store
            .read_to_at_checked("k", &mut rest, 4, Some(&etag), &mut seen)
            .unwrap(),
        6
    );
    assert_eq!(rest, b"456789");
    for offset in [0, 4, 10, 11] {
        let mut none = Vec::new();
        assert_kind(
            &format!("offset {offset}, another ETag"),
            store.read_to_at_checked(
                "k",
                &mut none,
                offset,
                Some("\"0x8D000000000000\""),
                &mut None,
            ),
            ErrorKind::PreconditionFailed,
        );
        assert!(none.is_empty());
    }
}

#[path = "conformance/mod.rs"]
#[macro_use]
mod conformance;

/// A wrapped store and the proxy it goes through.
struct Wrapped {
    store: ResilientBackend,
    _proxy: Proxy,
}

impl AsRef<dyn Backend> for Wrapped {
    fn as_ref(&self) -> &(dyn Backend + 'static) {
        &self.store
    }
}

/// The conformance suite, unchanged, on a wrapped Azure store (small
/// blocks) behind a proxy that answers every third GET, HEAD and DELETE
/// with 503 ServerBusy: the wrapper hides the faults completely.
mod conformance_wrapped_azure_flapping {
    use super::*;

    fn store() -> (Wrapped, conformance::Options) {
        let container = Azurite::Http.new_container("wconf");
        let proxy = Proxy::start(&Azurite::Http.host_port());
        proxy.flap_methods(
            &["GET", "HEAD", "DELETE"],
            vec![None, None, Some(Fault::azure_server_busy())],
        );
        let mut cfg = through(&proxy, Azurite::Http.config(&container));
        cfg.block_size = 1024 * 1024;
        cfg.single_put_threshold = 2 * 1024 * 1024;
        let inner = AzureBlobBackend::new(cfg).unwrap();
        let retries = ResilientConfig {
            max_retries: 12,
            ..fast_retries()
        };
        let store = ResilientBackend::new(Box::new(inner), retries).unwrap();
        (
            Wrapped {
                store,
                _proxy: proxy,
            },
            conformance::Options::default(),
        )
    }

    conformance_tests!(store);
}

#[test]
fn an_unanswered_request_is_a_timeout_within_the_request_bound() {
    an_unanswered_request_times_out_within_the_request_bound(&rig(
        "blackhole",
        one_retry(),
        request_timeouts(),
    ));
}

#[test]
fn a_body_that_stalls_is_a_timeout_within_the_stall_bound_and_resumes() {
    a_stalled_body_times_out_within_the_stall_bound_and_resumes(&rig(
        "stall",
        one_retry(),
        stall_timeouts(),
    ));
}
