//! The local store never leaves its base: a directory of the store swapped
//! for a symlink to a folder outside it, before a call and while calls run.
//!
//! The swap is the one a new user tried from C: write `a/x`, replace the
//! directory `a` with a symlink to `outside/`, then call every operation on
//! keys under `a/`. Each is refused with InvalidPath (or, for listings of a
//! wider prefix, skips the link), and nothing outside is created, read or
//! removed.

mod common;

use std::fmt::Debug;
use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use blobio::{Backend, ErrorKind, LocalBackend};
use common::TempDir;
use rustix::fs::{renameat_with, RenameFlags, CWD};

/// Names and contents of everything under `dir`, recursively.
fn snapshot(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Option<Vec<u8>>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let ft = fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_dir() {
                out.push((format!("{rel}/"), None));
                walk(root, &p, out);
            } else if ft.is_symlink() {
                let to = fs::read_link(&p).unwrap();
                out.push((format!("{rel} -> {}", to.display()), None));
            } else {
                out.push((rel, Some(fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[track_caller]
fn assert_invalid_path<T: Debug>(what: &str, result: blobio::Result<T>) {
    match result {
        Ok(v) => panic!("{what}: expected InvalidPath, got Ok({v:?})"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidPath, "{what}: {e:?} ({e})"),
    }
}

/// A store whose `a/x` was written, after which `a` became a symlink to
/// `<tmp>/outside`, a folder of files the store must never touch.
struct Swapped {
    dir: TempDir,
    store: LocalBackend,
}

impl Swapped {
    fn new(tag: &str) -> Swapped {
        let dir = TempDir::new(tag);
        let store = LocalBackend::new(dir.join("base")).unwrap();
        store.write("a/x", b"inside x").unwrap();
        let outside = dir.join("outside");
        fs::create_dir_all(outside.join("sub")).unwrap();
        fs::create_dir_all(outside.join("emptydir")).unwrap();
        fs::write(outside.join("secret"), b"outside secret").unwrap();
        fs::write(outside.join("x"), b"outside x").unwrap();
        // A staged partial to resume, if append_reader followed the link.
        fs::write(outside.join("x.part"), b"outside partial").unwrap();
        fs::write(outside.join("sub/y"), b"outside sub/y").unwrap();
        fs::remove_dir_all(dir.join("base/a")).unwrap();
        symlink(&outside, dir.join("base/a")).unwrap();
        Swapped { dir, store }
    }

    /// Runs `op`, then checks that nothing outside the base changed.
    #[track_caller]
    fn check(&self, op: impl FnOnce(&LocalBackend)) {
        let outside = self.dir.join("outside");
        let before = snapshot(&outside);
        op(&self.store);
        assert_eq!(
            snapshot(&outside),
            before,
            "the folder outside the base changed"
        );
        assert!(
            !self.dir.join("y").exists() && !self.dir.join("base/y").exists(),
            "something was created beside the store"
        );
    }
}

#[test]
fn write_under_a_swapped_directory_is_refused() {
    let s = Swapped::new("swap-write");
    s.check(|b| {
        for key in ["a/y", "a/x", "a/sub/y", "a/new/deeper/y"] {
            assert_invalid_path(&format!("write({key})"), b.write(key, b"evil"));
        }
    });
}

#[test]
fn write_reader_under_a_swapped_directory_is_refused() {
    let s = Swapped::new("swap-write-reader");
    s.check(|b| {
        for key in ["a/y", "a/x", "a/sub/y"] {
            let mut source = &b"evil"[..];
            assert_invalid_path(
                &format!("write_reader({key})"),
                b.write_reader(key, &mut source, Some(4)),
            );
            assert_eq!(source.len(), 4, "the source was read for a refused key");
        }
    });
}

#[test]
fn append_reader_under_a_swapped_directory_is_refused() {
    let s = Swapped::new("swap-append");
    s.check(|b| {
        let app = b.as_appending().unwrap();
        assert_invalid_path(
            "append_reader(a/x)",
            app.append_reader("a/x", &mut &b"!"[..], 1),
        );
    });
}

#[test]
fn reads_under_a_swapped_directory_are_refused() {
    let s = Swapped::new("swap-read");
    s.check(|b| {
        for key in ["a/secret", "a/x", "a/sub/y"] {
            assert_invalid_path(&format!("read({key})"), b.read(key));
            assert_invalid_path(&format!("read_to({key})"), b.read_to(key, &mut Vec::new()));
            assert_invalid_path(
                &format!("read_to_at({key})"),
                b.read_to_at(key, &mut Vec::new(), 1),
            );
            let mut buf = [0u8; 8];
            assert_invalid_path(
                &format!("read_range({key})"),
                b.read_range(key, 0, &mut buf),
            );
            assert_eq!(buf, [0u8; 8], "read_range copied outside bytes");
        }
    });
}

#[test]
fn stat_and_exists_under_a_swapped_directory_are_refused() {
    let s = Swapped::new("swap-stat");
    s.check(|b| {
        for key in ["a/secret", "a/missing", "a/x"] {
            assert_invalid_path(&format!("stat_file({key})"), b.stat_file(key));
            assert_invalid_path(&format!("exists({key})"), b.exists(key));
        }
    });
}

#[test]
fn listings_of_a_swapped_directory_are_refused_and_wider_ones_skip_it() {
    let s = Swapped::new("swap-list");
    s.check(|b| {
        let objects = b.as_object_lister().unwrap();
        let dirs = b.as_directory_lister().unwrap();
        for prefix in ["a/", "a/s", "a/sub/"] {
            assert_invalid_path(&format!("list({prefix})"), b.list(prefix));
            assert_invalid_path(
                &format!("list_objects({prefix})"),
                objects.list_objects(prefix),
            );
        }
        assert_invalid_path("list_directories(a)", dirs.list_directories("a"));
        assert_invalid_path("list_directories(a/sub/)", dirs.list_directories("a/sub/"));
        // From the base, the link is not an object nor a directory.
        for prefix in ["", "a"] {
            assert_eq!(
                b.list(prefix).unwrap(),
                Vec::<String>::new(),
                "list({prefix:?})"
            );
            assert!(objects.list_objects(prefix).unwrap().is_empty());
        }
        assert_eq!(dirs.list_directories("").unwrap(), Vec::<String>::new());
    });
}

#[test]
fn deletes_under_a_swapped_directory_are_refused() {
    let s = Swapped::new("swap-delete");
    s.check(|b| {
        for key in ["a/secret", "a/x", "a/sub/y", "a/missing"] {
            assert_invalid_path(&format!("delete({key})"), b.delete(key));
        }
        // The link itself is not an object either.
        assert_invalid_path("delete(a)", b.delete("a"));
    });
    assert!(s
        .dir
        .join("base/a")
        .symlink_metadata()
        .unwrap()
        .is_symlink());
}

#[test]
fn delete_batch_under_a_swapped_directory_fails_for_each_key() {
    let s = Swapped::new("swap-delete-batch");
    s.check(|b| {
        let err = b
            .as_batch_deleter()
            .unwrap()
            .delete_batch(&["a/secret", "a/x", "a/sub/y"])
            .unwrap_err();
        let blobio::Error::Batch { failures } = &err else {
            panic!("expected a batch error, got {err:?}");
        };
        assert_eq!(failures.len(), 3, "{err}");
        for f in failures {
            assert_eq!(
                f.error.kind(),
                ErrorKind::InvalidPath,
                "{}: {}",
                f.path,
                f.error
            );
        }
    });
}

#[test]
fn remove_directory_under_a_swapped_directory_is_refused() {
    let s = Swapped::new("swap-rmdir");
    s.check(|b| {
        let r = b.as_directory_remover().unwrap();
        assert_invalid_path(
            "remove_directory(a/emptydir)",
            r.remove_directory("a/emptydir"),
        );
        assert_invalid_path("remove_directory(a/sub/)", r.remove_directory("a/sub/"));
        // The link itself is not a directory of the store.
        assert_invalid_path("remove_directory(a)", r.remove_directory("a"));
    });
    assert!(s.dir.join("outside/emptydir").is_dir());
}

// ---------------------------------------------------------------------------
// A directory flipped between real and symlink while another thread writes
// ---------------------------------------------------------------------------

const KEYS: usize = 3000;

/// `outside/` holds a sentinel file for every key the writer uses, so a
/// write, read or delete that followed the link would show.
fn outside_with_sentinels(dir: &TempDir) -> std::path::PathBuf {
    let outside = dir.join("outside");
    fs::create_dir_all(&outside).unwrap();
    for i in (0..KEYS).step_by(7) {
        fs::write(outside.join(format!("k{i}")), format!("outside {i}")).unwrap();
    }
    outside
}

/// The writer's side: writes (both ways), reads and deletes keys under
/// `d/`; every answer is either success inside the base or InvalidPath.
/// Stops the flipper when dropped, so a failing writer fails the test
/// instead of leaving the flipper (and the scope waiting for it) running.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn write_keys(b: &LocalBackend, stop_flipping: &AtomicBool, flips: &AtomicUsize) -> usize {
    let _stop = StopOnDrop(stop_flipping);
    let started = Instant::now();
    let mut ok = 0;
    // Passes over the keys until the flipper has flipped often enough to
    // mean something, however the machine schedules the two threads.
    for pass in 0..20 {
        if pass > 0 && flips.load(Ordering::Relaxed) >= MIN_FLIPS {
            break;
        }
        ok += write_pass(b);
    }
    stop_flipping.store(true, Ordering::Relaxed);
    eprintln!("writer done in {:?}", started.elapsed());
    ok
}

/// The flips a run waits for.
const MIN_FLIPS: usize = 50;

fn write_pass(b: &LocalBackend) -> usize {
    let mut ok = 0;
    for i in 0..KEYS {
        let key = format!("d/k{i}");
        let body = format!("inside {i}");
        let result = if i % 3 == 0 {
            b.write_reader(&key, &mut body.as_bytes(), Some(body.len() as u64))
        } else {
            b.write(&key, body.as_bytes())
        };
        match result {
            Ok(()) => ok += 1,
            Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidPath, "write({key}): {e}"),
        }
        match b.read(&key) {
            Ok(data) => assert!(
                data == body.as_bytes() || data.starts_with(b"inside"),
                "read({key}) gave {:?}",
                String::from_utf8_lossy(&data)
            ),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::InvalidPath | ErrorKind::NotFound),
                "read({key}): {e}"
            ),
        }
        if i % 5 == 0 && i >= 10 {
            let old = format!("d/k{}", i - 10);
            if let Err(e) = b.delete(&old) {
                assert_eq!(e.kind(), ErrorKind::InvalidPath, "delete({old}): {e}");
            }
        }
        if i % 50 == 0 {
            match b.list("d/") {
                Ok(keys) => assert!(
                    keys.iter().all(|k| k == "d/first" || k.starts_with("d/k")),
                    "{keys:?}"
                ),
                Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidPath, "list: {e}"),
            }
        }
    }
    ok
}

/// `d` and `d.swap` are exchanged atomically (renameat2 RENAME_EXCHANGE)
/// as fast as the flipper can: one is the real directory, the other a
/// symlink to `outside/`, and both names always exist.
#[test]
fn directory_atomically_exchanged_with_a_symlink_while_writing_stays_inside() {
    let dir = TempDir::new("flip-exchange");
    let outside = outside_with_sentinels(&dir);
    let base = dir.join("base");
    // Durability is beside the point here, and 3,000 syncs are slow.
    let b = LocalBackend::with_durable(&base, false).unwrap();
    b.write("d/first", b"inside").unwrap();
    symlink(&outside, base.join("d.swap")).unwrap();
    let before = snapshot(&outside);
    let stop = AtomicBool::new(false);
    let flips = AtomicUsize::new(0);
    let ok = std::thread::scope(|s| {
        s.spawn(|| {
            let (d, swap) = (base.join("d"), base.join("d.swap"));
            while !stop.load(Ordering::Relaxed) {
                // d may be missing a moment (a delete pruned it): retry.
                if renameat_with(CWD, &d, CWD, &swap, RenameFlags::EXCHANGE).is_ok() {
                    flips.fetch_add(1, Ordering::Relaxed);
                }
                // Leave the writer a core on a small machine.
                std::thread::sleep(Duration::from_micros(50));
            }
        });
        write_keys(&b, &stop, &flips)
    });
    assert_eq!(
        snapshot(&outside),
        before,
        "something outside appeared or disappeared"
    );
    assert!(
        flips.load(Ordering::Relaxed) >= MIN_FLIPS,
        "the flipper barely ran"
    );
    assert!(ok > 0, "no write ever got through");
    eprintln!(
        "{ok} writes of {KEYS} keys landed, {} flips",
        flips.load(Ordering::Relaxed)
    );
}

/// Not atomic: the real `d` is renamed away inside the base, a symlink
/// takes its name, then is removed and the directory is put back (or, when
/// a writer made a new `d` meanwhile, that one is moved aside too). Writes
/// meet a missing `d` (they make it), a symlink, or the real directory.
#[test]
fn directory_replaced_by_a_symlink_and_back_while_writing_stays_inside() {
    let dir = TempDir::new("flip-replace");
    let outside = outside_with_sentinels(&dir);
    let base = dir.join("base");
    let b = LocalBackend::with_durable(&base, false).unwrap();
    b.write("d/first", b"inside").unwrap();
    fs::create_dir(base.join("stash")).unwrap();
    let before = snapshot(&outside);
    let stop = AtomicBool::new(false);
    let flips = AtomicUsize::new(0);
    let ok = std::thread::scope(|s| {
        s.spawn(|| {
            let d = base.join("d");
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let held = base.join(format!("stash/d{n}"));
                if fs::rename(&d, &held).is_err() {
                    let _ = fs::remove_file(&d);
                    continue;
                }
                if symlink(&outside, &d).is_ok() {
                    flips.fetch_add(1, Ordering::Relaxed);
                    std::thread::yield_now();
                    // Only ever remove the link, never what a writer made.
                    if fs::symlink_metadata(&d).is_ok_and(|m| m.is_symlink()) {
                        let _ = fs::remove_file(&d);
                    }
                }
                let _ = fs::rename(&held, &d);
                std::thread::sleep(Duration::from_micros(50));
            }
        });
        write_keys(&b, &stop, &flips)
    });
    assert_eq!(
        snapshot(&outside),
        before,
        "something outside appeared or disappeared"
    );
    assert!(
        flips.load(Ordering::Relaxed) >= MIN_FLIPS,
        "the flipper barely ran"
    );
    assert!(ok > 0, "no write ever got through");
    // Whatever landed is inside the base, readable through the files.
    let mut inside = 0;
    for entry in walkdir(&base) {
        let mut text = String::new();
        fs::File::open(&entry)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.starts_with("inside"), "{}: {text}", entry.display());
        inside += 1;
    }
    assert!(inside > 0);
    eprintln!(
        "{ok} writes of {KEYS} keys landed, {} flips",
        flips.load(Ordering::Relaxed)
    );
}

/// The regular files under `dir`, not following symlinks.
fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let ft = fs::symlink_metadata(&p).unwrap().file_type();
        if ft.is_dir() {
            out.extend(walkdir(&p));
        } else if ft.is_file() {
            out.push(p);
        }
    }
    out
}
