//! Replays every fuzz corpus and every committed crash input through the
//! same entry functions the fuzz targets call (`blobio::fuzzing`), on
//! stable Rust and in seconds: a crash fixed once stays fixed, and a
//! parser change that breaks a property on a real server answer fails
//! here without running a fuzzer.
//!
//! Inputs: `fuzz/corpus/<target>/*` (seeds recorded from moto, s3s-fs and
//! Azurite by `fuzz/record.py`, hand-written seeds, and what fuzzing runs
//! kept) and `fuzz/regressions/<target>/*` (inputs that once crashed).

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir` (none when it does not exist), sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

/// Runs `f` on every input of `target`, naming the input that panicked.
fn replay(target: &str, f: fn(&[u8])) -> usize {
    let mut n = 0;
    for kind in ["corpus", "regressions"] {
        for path in files(&fuzz_dir().join(kind).join(target)) {
            let data = std::fs::read(&path).expect("read a corpus file");
            if std::panic::catch_unwind(|| f(&data)).is_err() {
                panic!("{target}: {} fails (replay it with `cargo +nightly fuzz run {target} {}`)", path.display(), path.display());
            }
            n += 1;
        }
    }
    n
}

#[test]
fn every_target_has_a_corpus_and_every_corpus_a_target() {
    for (name, _) in blobio::fuzzing::TARGETS {
        let seeds = files(&fuzz_dir().join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} is empty or missing");
    }
    for kind in ["corpus", "regressions"] {
        let Ok(dirs) = std::fs::read_dir(fuzz_dir().join(kind)) else {
            assert_eq!(kind, "regressions", "fuzz/{kind} is missing");
            continue;
        };
        for dir in dirs.flatten().filter(|d| d.path().is_dir()) {
            let name = dir.file_name().to_string_lossy().into_owned();
            assert!(
                blobio::fuzzing::TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz/{kind}/{name} belongs to no target"
            );
        }
    }
}

#[test]
fn every_fuzz_target_has_its_entry_function() {
    let dir = fuzz_dir().join("fuzz_targets");
    for (name, _) in blobio::fuzzing::TARGETS {
        let src = std::fs::read_to_string(dir.join(format!("{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz/fuzz_targets/{name}.rs: {e}"));
        assert!(src.contains(&format!("blobio::fuzzing::{name}(")), "{name}.rs calls another function");
    }
}

#[test]
fn corpora_replay_without_a_failure() {
    let mut total = 0;
    for (name, f) in blobio::fuzzing::TARGETS {
        total += replay(name, *f);
    }
    assert!(total > 0);
}
