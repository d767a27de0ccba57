//! The whole local backend driven by a byte string of operations.
//!
//! Each input gets a fresh temp directory holding the store's root
//! (`store/`, with a symlink `store/link` to `outside/`) and a directory
//! the store must never touch (`outside/sentinel`). The bytes decode into
//! at most [`MAX_OPS`] operations on a small key space of nasty keys; after
//! each one the answers are checked against each other (a write reads
//! back, a listing names objects that exist, a range is a slice of the
//! whole, an append publishes what was appended), and at the end `outside/` and the temp directory's top level
//! must be as they were.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::{AppendingBackend, Backend, BatchDeleter, DirectoryLister, DirectoryRemover, ObjectLister};
use crate::{LocalBackend, PutMode, PutOptions, ReadRange};

/// Operations decoded from one input at most (the fuzzer's inputs stay
/// small, and each operation is a few system calls).
const MAX_OPS: usize = 48;

/// The largest object an operation writes.
const MAX_DATA: usize = 2048;

/// The key space: ordinary keys, keys that are prefixes of others, a key
/// under an object (`.../c.parquet/d`), keys validation must refuse, keys
/// through the symlink, unicode, URL metacharacters, and long names.
fn keys() -> Vec<String> {
    vec![
        "a".into(),
        "a/b".into(),
        "a/b/c.parquet".into(),
        "a/b/c.parquet/d".into(),
        "dir/".into(),
        "../outside/sentinel".into(),
        "/lead/x".into(),
        "a//b".into(),
        "sp ace/ü ñ".into(),
        "%25=#?&~+".into(),
        "x\0y".into(),
        "link/sentinel".into(),
        "link/new".into(),
        ".".into(),
        format!("long/{}", "n".repeat(300)),
        (0..10).map(|i| format!("{i}{}", "s".repeat(98))).collect::<Vec<_>>().join("/"),
    ]
}

/// Listing prefixes, including ones that must be refused.
const PREFIXES: &[&str] = &["", "a", "a/", "a/b", "/", "../", "link/", "sp", "dir//", "long/"];

/// A cursor over the input; past its end every byte reads as 0.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn pick<'k, T>(&mut self, from: &'k [T]) -> &'k T {
        &from[usize::from(self.byte()) % from.len()]
    }

    /// Object content: a length and a fill pattern.
    fn data(&mut self) -> Vec<u8> {
        let len = (usize::from(self.byte()) * 8).min(MAX_DATA);
        let seed = self.byte();
        (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
    }
}

/// A temp directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read a scratch directory")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Runs the operations `data` encodes on a fresh local store.
pub fn local_ops(data: &[u8]) {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "blobio-fuzz-local-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let scratch = Scratch(dir);
    let outside = scratch.0.join("outside");
    std::fs::create_dir_all(&outside).expect("make the scratch directory");
    std::fs::write(outside.join("sentinel"), b"keep").expect("write the sentinel");
    let root = scratch.0.join("store");
    std::fs::create_dir(&root).expect("make the store root");
    std::os::unix::fs::symlink("../outside", root.join("link")).expect("make the symlink");

    let store = LocalBackend::with_durable(&root, false).expect("open the local store");
    let keys = keys();
    let mut input = Bytes(data);
    for _ in 0..MAX_OPS {
        if input.0.is_empty() {
            break;
        }
        step(&store, &keys, &mut input);
    }
    let _ = store.close();

    assert_eq!(names(&scratch.0), ["outside", "store"], "the store wrote beside its root");
    assert_eq!(names(&outside), ["sentinel"], "the store wrote through the symlink");
    assert_eq!(std::fs::read(outside.join("sentinel")).expect("read the sentinel"), b"keep");
}

/// One operation, and the checks of its answer.
fn step(store: &LocalBackend, keys: &[String], input: &mut Bytes<'_>) {
    let op = input.byte() % 17;
    let key = input.pick(keys).as_str();
    match op {
        0 => {
            let data = input.data();
            if store.write(key, &data).is_ok() {
                assert_eq!(store.read(key).ok().as_deref(), Some(&data[..]), "{key:?} does not read back");
                assert_eq!(store.stat_file(key).ok(), Some(Some(data.len() as u64)));
            }
        }
        1 => {
            // Streamed, of unknown size or of a declared size that may lie.
            let data = input.data();
            let declared = match input.byte() % 3 {
                0 => None,
                1 => Some(data.len() as u64),
                n => Some((data.len() as u64 + u64::from(n)) / 2),
            };
            let mut reader = Cursor::new(data.clone());
            if store.write_reader(key, &mut reader, declared).is_ok() {
                assert!(!matches!(declared, Some(n) if n != data.len() as u64), "a lying size was accepted");
                assert_eq!(store.read(key).ok().as_deref(), Some(&data[..]));
            }
        }
        2 => {
            let data = input.data();
            let existed = store.exists(key).unwrap_or(false);
            let options = PutOptions { mode: PutMode::Create, ..Default::default() };
            if store.put(key, &data, &options).is_ok() {
                assert!(!existed, "Create replaced {key:?}");
                assert_eq!(store.read(key).ok().as_deref(), Some(&data[..]));
            }
        }
        3 => {
            if let Ok(bytes) = store.read(key) {
                assert!(store.exists(key).unwrap_or(false), "{key:?} reads but does not exist");
                let mut out = Vec::new();
                assert_eq!(store.read_to(key, &mut out).ok(), Some(bytes.len() as u64));
                assert_eq!(out, bytes);
            }
        }
        4 => {
            let offset = u64::from(input.byte()) * 16;
            let mut buf = vec![0u8; usize::from(input.byte()) * 4];
            if let Ok(n) = store.read_range(key, offset, &mut buf) {
                assert!(n <= buf.len());
                if let Ok(all) = store.read(key) {
                    let start = (offset as usize).min(all.len());
                    let end = (start + n).min(all.len());
                    assert_eq!(&buf[..n], &all[start..end], "a range is not a slice of {key:?}");
                }
            }
            let mut ranges = [ReadRange { offset, buf: &mut [0u8; 8], read: 0 }];
            let _ = store.read_ranges(key, &mut ranges);
        }
        5 => {
            let offset = u64::from(input.byte()) * 16;
            let mut out = Vec::new();
            if let Ok(n) = store.read_to_at(key, &mut out, offset) {
                assert_eq!(n, out.len() as u64);
                if let Ok(all) = store.read(key) {
                    assert_eq!(out, all[(offset as usize).min(all.len())..]);
                }
            }
        }
        6 => {
            if let Ok(Some(size)) = store.stat_file(key) {
                if let Ok(all) = store.read(key) {
                    assert_eq!(size, all.len() as u64);
                }
                if let Ok(meta) = store.head(key) {
                    assert_eq!(meta.size, size);
                }
            }
        }
        7 => {
            let _ = store.exists(key);
        }
        8 => {
            if store.delete(key).is_ok() {
                assert_eq!(store.exists(key).ok(), Some(false), "{key:?} survives its delete");
            }
        }
        9 => {
            let prefix = *input.pick(PREFIXES);
            if let Ok(listed) = store.list(prefix) {
                for k in &listed {
                    assert!(crate::paths::validate_key(k).is_ok(), "listed an invalid key {k:?}");
                    assert!(store.exists(k).unwrap_or(false), "listed {k:?}, which does not exist");
                }
            }
        }
        10 => {
            let prefix = *input.pick(PREFIXES);
            if let Ok(objects) = store.list_objects(prefix) {
                for o in &objects {
                    assert_eq!(store.stat_file(&o.path).ok().flatten(), Some(o.size), "{:?}", o.path);
                }
            }
        }
        11 => {
            let prefix = *input.pick(PREFIXES);
            let _ = store.list_directories(prefix);
        }
        12 => {
            let other = input.pick(keys).as_str();
            if store.delete_batch(&[key, other]).is_ok() {
                assert_eq!(store.exists(key).ok(), Some(false));
                assert_eq!(store.exists(other).ok(), Some(false));
            }
        }
        13 | 14 => {
            let to = input.pick(keys).as_str();
            let before = store.read(key).ok();
            let result = if op == 13 {
                store.copy(key, to, &PutOptions::default())
            } else {
                store.rename(key, to, &PutOptions::default())
            };
            if result.is_ok() {
                assert_eq!(store.read(to).ok(), before, "{key:?} -> {to:?} changed the content");
            }
        }
        15 => {
            // Resumes the staged partial an interrupted write_reader left
            // (its bytes are not known here): what is published ends with
            // the appended bytes.
            let data = input.data();
            let mut reader: Box<dyn Read> = Box::new(Cursor::new(data.clone()));
            if store.append_reader(key, &mut reader, data.len() as u64).is_ok() {
                let published = store.read(key).expect("an appended object reads");
                assert!(published.ends_with(&data), "append to {key:?}");
            }
        }
        _ => {
            let _ = store.remove_directory(key);
        }
    }
}
