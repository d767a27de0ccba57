//! `ResilientBackend` around the local backend, in real temp directories:
//! the whole conformance suite through the wrapper, the local backend's
//! version checks that resumed reads rely on, and the local semantics the
//! wrapper must not change. (Faults against real servers are in
//! tests/resilient.rs.)

mod common;
mod conformance;

use std::fs;

use blobio::{
    Backend, CircuitState, Error, ErrorKind, LocalBackend, ResilientBackend, ResilientConfig,
};
use common::TempDir;
use conformance::{assert_kind, assert_same_bytes, pseudo_random_bytes, FailingReader, Options};

struct Wrapped {
    store: ResilientBackend,
    _dir: TempDir,
}

impl AsRef<dyn Backend> for Wrapped {
    fn as_ref(&self) -> &(dyn Backend + 'static) {
        &self.store
    }
}

fn wrapped_local() -> (Wrapped, Options) {
    let dir = TempDir::new("resilient-local");
    let inner = LocalBackend::new(dir.join("store")).expect("open local backend");
    let store = ResilientBackend::new(Box::new(inner), ResilientConfig::default()).expect("wrap");
    (Wrapped { store, _dir: dir }, Options::default())
}

conformance_tests!(wrapped_local);

#[test]
fn the_wrapper_keeps_the_local_kind_root_and_every_capability() {
    let (w, _) = wrapped_local();
    let s = &w.store;
    assert_eq!(s.kind(), "local");
    assert_eq!(s.local_base_path(), s.inner().local_base_path());
    assert_eq!(s.storage_root(), s.inner().storage_root());
    assert!(s.as_batch_deleter().is_some());
    assert!(s.as_directory_lister().is_some());
    assert!(s.as_object_lister().is_some());
    assert!(s.as_directory_remover().is_some());
    assert!(s.as_appending().is_some());
    let json: serde_json::Value = serde_json::from_str(&s.config_json()).unwrap();
    assert!(json["base_path"].is_string(), "{json}");
    assert_eq!(json["resilient"]["max_failures"], 5);
    assert_eq!(json["resilient"]["open_timeout_ms"], 30_000);
}

#[test]
fn local_failures_are_final_and_never_open_the_circuit() {
    let (w, _) = wrapped_local();
    let s = &w.store;
    for i in 0..50 {
        assert_kind(
            "read missing",
            s.read(&format!("missing/{i}")),
            ErrorKind::NotFound,
        );
        assert_kind("invalid path", s.read("../escape"), ErrorKind::InvalidPath);
        let mut src = FailingReader::new(b"partial");
        assert_kind(
            "failing source",
            s.write_reader("k", &mut src, None),
            ErrorKind::Io,
        );
    }
    let stats = s.stats();
    assert_eq!(stats.state, CircuitState::Closed);
    assert_eq!(
        (stats.failures, stats.retries, stats.consecutive_failures),
        (0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.successes, 50, "NotFound answers");
    assert_eq!(stats.neutral, 100, "the caller's own mistakes");
}

#[test]
fn read_to_at_still_falls_back_to_the_staged_partial_and_read_to_does_not() {
    let (w, _) = wrapped_local();
    let s = &w.store;
    let data = pseudo_random_bytes(10_000, 3);
    let mut src = FailingReader::new(&data);
    assert_kind(
        "interrupted stream",
        s.write_reader("obj", &mut src, None),
        ErrorKind::Io,
    );
    let mut out = Vec::new();
    assert_kind(
        "read_to of a partial",
        s.read_to("obj", &mut out),
        ErrorKind::NotFound,
    );
    let mut out = Vec::new();
    let n = s
        .read_to_at("obj", &mut out, 0)
        .expect("read_to_at(0) reads the partial");
    assert_eq!(n as usize, out.len());
    assert_same_bytes("read_to_at(0) of the partial", &out, &data[..out.len()]);
}

#[test]
fn local_checked_reads_name_the_version_and_refuse_a_replaced_file() {
    let dir = TempDir::new("local-checked");
    let b = LocalBackend::new(dir.path()).unwrap();
    let data = pseudo_random_bytes(5_000, 4);
    b.write("k", &data).unwrap();
    let (mut seen, mut out) = (None, Vec::new());
    assert_eq!(b.read_to_checked("k", &mut out, &mut seen).unwrap(), 5_000);
    let v = seen.clone().expect("a version");
    assert!(v.starts_with("1388-"), "size 5000 in hex first: {v}");

    // The same version resumes, including exactly at its end.
    let mut rest = Vec::new();
    assert_eq!(
        b.read_to_at_checked("k", &mut rest, 4_000, Some(&v), &mut seen)
            .unwrap(),
        1_000
    );
    assert_same_bytes("resumed", &rest, &data[4_000..]);
    assert_eq!(
        b.read_to_at_checked("k", &mut rest, 5_000, Some(&v), &mut seen)
            .unwrap(),
        0
    );
    assert_kind(
        "offset 5000 unchecked",
        b.read_to_at_checked("k", &mut rest, 5_000, None, &mut None),
        ErrorKind::InvalidArgument,
    );

    // Same size, same bytes even: a new write is a new version.
    b.write("k", &data).unwrap();
    let mut none = Vec::new();
    let err = b
        .read_to_at_checked("k", &mut none, 4_000, Some(&v), &mut seen)
        .unwrap_err();
    assert!(matches!(err, Error::PreconditionFailed { .. }), "{err:?}");
    assert!(none.is_empty());

    // A file modified in place (not through blobio) changes version too.
    let mut fresh = None;
    b.read_to_checked("k", &mut Vec::new(), &mut fresh).unwrap();
    let fresh = fresh.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(dir.join("k"), pseudo_random_bytes(5_000, 5)).unwrap();
    assert_kind(
        "modified in place",
        b.read_to_at_checked("k", &mut none, 10, Some(&fresh), &mut None),
        ErrorKind::PreconditionFailed,
    );
}
