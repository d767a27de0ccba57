//! The local backend against real temp directories: the whole conformance
//! suite (one test per check), then what only a local directory has —
//! atomic renames under concurrency, crash-safe staging, containment,
//! permissions, and the local helpers.

mod common;
mod conformance;

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blobio::{get_local_base_path, get_storage_path, Backend, ErrorKind, LocalBackend};
use common::TempDir;
use conformance::{
    assert_kind, assert_object, assert_same_bytes, pseudo_random_bytes, FailingReader, Options,
};

/// A local backend and the temp directory it lives in.
struct LocalStore {
    backend: LocalBackend,
    _dir: TempDir,
}

impl AsRef<dyn Backend> for LocalStore {
    fn as_ref(&self) -> &(dyn Backend + 'static) {
        &self.backend
    }
}

fn local_store() -> (LocalStore, Options) {
    let dir = TempDir::new("local-conformance");
    let backend = LocalBackend::new(dir.join("store")).expect("open local backend");
    (LocalStore { backend, _dir: dir }, Options::local())
}

/// A backend in `<tmp>/base`, with `<tmp>` free for things outside the base.
fn store_in(dir: &TempDir) -> LocalBackend {
    LocalBackend::new(dir.join("base")).expect("open local backend")
}

conformance_tests!(local_store);

#[test]
fn all_conformance_checks_pass_in_parallel_on_one_shared_store() {
    let (store, options) = local_store();
    let backend = store.as_ref();
    let failed: Vec<&str> = std::thread::scope(|s| {
        let handles: Vec<_> = conformance::CHECKS
            .iter()
            .map(|&(name, check)| {
                let options = &options;
                (name, s.spawn(move || check(backend, options)))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, h)| h.join().is_err().then_some(name))
            .collect()
    });
    assert!(
        failed.is_empty(),
        "checks failed when sharing one store: {failed:?}"
    );
    // Every check cleaned up after itself: only empty directories remain.
    assert_eq!(backend.list("").unwrap(), Vec::<String>::new());
}

#[test]
fn run_all_passes_on_a_local_store() {
    let (store, options) = local_store();
    conformance::run_all(store.as_ref(), &options);
    assert_eq!(store.backend.list("").unwrap(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------
// Atomicity
// ---------------------------------------------------------------------------

const VERSION_LEN: usize = 1 << 20;

/// Version `v` of the hot object: 1 MiB of the byte `v`, so any mix of two
/// versions or a truncated one shows.
fn version(v: u8) -> Vec<u8> {
    vec![v; VERSION_LEN]
}

fn assert_whole_version(data: &[u8]) -> u8 {
    assert_eq!(
        data.len(),
        VERSION_LEN,
        "a reader saw a truncated or overlong object"
    );
    let v = data[0];
    if let Some(at) = data.iter().position(|&b| b != v) {
        panic!(
            "a reader saw a torn object: version {v} up to offset {at}, then byte {}",
            data[at]
        );
    }
    v
}

#[test]
fn concurrent_overwrites_are_seen_whole_by_concurrent_readers() {
    const WRITERS: u8 = 8;
    const ROUNDS: u8 = 25;
    let dir = TempDir::new("atomic");
    let b = store_in(&dir);
    let key = "hot/object.bin";
    b.write(key, &version(0)).unwrap();
    let done = AtomicBool::new(false);
    let reads = AtomicU64::new(0);
    let mut seen = [false; 256];
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = [false; 256];
                    let mut buf = vec![0u8; VERSION_LEN];
                    while !done.load(Ordering::Relaxed) {
                        seen[assert_whole_version(&b.read(key).unwrap()) as usize] = true;
                        let mut out = Vec::with_capacity(VERSION_LEN);
                        b.read_to(key, &mut out).unwrap();
                        seen[assert_whole_version(&out) as usize] = true;
                        assert_eq!(b.read_range(key, 0, &mut buf).unwrap(), VERSION_LEN);
                        seen[assert_whole_version(&buf) as usize] = true;
                        reads.fetch_add(3, Ordering::Relaxed);
                    }
                    seen
                })
            })
            .collect();
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let b = &b;
                s.spawn(move || {
                    for r in 0..ROUNDS {
                        // Versions 1..=200, distinct per writer and round.
                        let v = 1 + w * ROUNDS + r;
                        let data = version(v);
                        if r % 2 == 0 {
                            b.write(key, &data).unwrap();
                        } else {
                            b.write_reader(key, &mut &data[..], Some(VERSION_LEN as u64))
                                .unwrap();
                        }
                    }
                })
            })
            .collect();
        // Stop the readers whatever happened to the writers, or a failed
        // writer would leave them spinning forever.
        let writer_results: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        done.store(true, Ordering::Relaxed);
        let reader_results: Vec<_> = readers.into_iter().map(|r| r.join()).collect();
        for r in writer_results {
            if let Err(panic) = r {
                std::panic::resume_unwind(panic);
            }
        }
        for r in reader_results {
            match r {
                Ok(theirs) => {
                    for (i, s) in theirs.iter().enumerate() {
                        seen[i] |= *s;
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    assert!(reads.load(Ordering::Relaxed) > 0, "the readers never read");
    let last = assert_whole_version(&b.read(key).unwrap());
    assert!(
        (1..=WRITERS * ROUNDS).contains(&last),
        "final version {last} was never written"
    );
    assert_eq!(
        b.list("").unwrap(),
        vec![key.to_owned()],
        "temp or staging files became visible"
    );
    let leftovers: Vec<_> = fs::read_dir(dir.join("base/hot"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "object.bin")
        .collect();
    assert!(
        leftovers.is_empty(),
        "successful writes left files behind: {leftovers:?}"
    );
}

// ---------------------------------------------------------------------------
// Crash safety: a writer process killed mid-stream
// ---------------------------------------------------------------------------

const KILL_ENV: &str = "BLOBIO_TEST_KILLED_WRITER_BASE";
const KILL_KEY: &str = "stream/killed.bin";
const KILL_TOTAL: usize = 6 * 1024 * 1024 + 333;
const KILL_AT: usize = 3 * 1024 * 1024 + 12_345;

/// Gives `data` in 100 KiB chunks, then blocks forever, like a stalled
/// network source.
struct StallingReader {
    data: Vec<u8>,
    pos: usize,
}

impl Read for StallingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.data.len() {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        let n = buf.len().min(100 * 1024).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The child process of `writer_killed_mid_stream_leaves_a_part_that_append_reader_completes`.
/// Ignored so it never runs on its own; the parent runs it with `--ignored`.
#[test]
#[ignore = "helper process, run by writer_killed_mid_stream_leaves_a_part_that_append_reader_completes"]
fn killed_writer_child_process() {
    let Some(base) = std::env::var_os(KILL_ENV) else {
        return;
    };
    let b = LocalBackend::new(PathBuf::from(base)).unwrap();
    let data = pseudo_random_bytes(KILL_TOTAL, 42);
    let mut reader = StallingReader {
        data: data[..KILL_AT].to_vec(),
        pos: 0,
    };
    let result = b.write_reader(KILL_KEY, &mut reader, Some(KILL_TOTAL as u64));
    panic!("the stalled write_reader returned: {result:?}");
}

#[test]
fn writer_killed_mid_stream_leaves_a_part_that_append_reader_completes() {
    let dir = TempDir::new("killed");
    let base = dir.join("base");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killed_writer_child_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL_ENV, &base)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the writer process");
    let part = base.join("stream/killed.bin.part");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let len = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if len == KILL_AT as u64 {
            break;
        }
        assert!(
            len <= KILL_AT as u64,
            ".part grew past what the source gave: {len}"
        );
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("writer process exited early ({status}) with .part at {len} bytes:\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            ".part stuck at {len} of {KILL_AT} bytes"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL the writer");
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc_sigkill()),
        "the writer was not killed by SIGKILL: {status}"
    );

    let data = pseudo_random_bytes(KILL_TOTAL, 42);
    assert!(
        !base.join(KILL_KEY).exists(),
        "a killed stream published its object"
    );
    assert_same_bytes(
        ".part after the kill",
        &fs::read(&part).unwrap(),
        &data[..KILL_AT],
    );

    let b = LocalBackend::new(&base).unwrap();
    assert!(!b.exists(KILL_KEY).unwrap());
    assert_kind(
        "read of a killed stream",
        b.read(KILL_KEY),
        ErrorKind::NotFound,
    );
    assert_eq!(
        b.stat_file(KILL_KEY).unwrap(),
        Some(KILL_AT as u64),
        "stat_file falls back to the .part"
    );
    assert_eq!(
        b.list("").unwrap(),
        Vec::<String>::new(),
        "a .part was listed"
    );

    let app = b.as_appending().expect("local backend appends");
    let rest = &data[KILL_AT..];
    app.append_reader(KILL_KEY, &mut &rest[..], rest.len() as u64)
        .unwrap();
    assert_object(&b, KILL_KEY, &data);
    assert!(!part.exists(), "the .part survived a completed append");
    assert_eq!(b.list("").unwrap(), vec![KILL_KEY.to_owned()]);
}

/// SIGKILL's number, which `Child::kill` sends on Unix.
fn libc_sigkill() -> i32 {
    9
}

// ---------------------------------------------------------------------------
// Containment
// ---------------------------------------------------------------------------

/// Names and contents of everything under `dir`, recursively, for before /
/// after comparisons.
fn snapshot(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Option<Vec<u8>>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let ft = fs::symlink_metadata(&p).unwrap().file_type();
            if ft.is_dir() {
                out.push((format!("{rel}/"), None));
                walk(root, &p, out);
            } else if ft.is_symlink() {
                out.push((
                    format!("{rel} -> {}", fs::read_link(&p).unwrap().display()),
                    None,
                ));
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

/// Every path operation on `key` is InvalidPath.
#[track_caller]
fn assert_refused_everywhere(b: &LocalBackend, key: &str) {
    let what = |op: &str| format!("{op}({key:?})");
    assert_kind(
        &what("write"),
        b.write(key, b"evil"),
        ErrorKind::InvalidPath,
    );
    assert_kind(
        &what("write_reader"),
        b.write_reader(key, &mut &b"evil"[..], Some(4)),
        ErrorKind::InvalidPath,
    );
    assert_kind(&what("read"), b.read(key), ErrorKind::InvalidPath);
    assert_kind(
        &what("read_to"),
        b.read_to(key, &mut Vec::new()),
        ErrorKind::InvalidPath,
    );
    assert_kind(
        &what("read_to_at"),
        b.read_to_at(key, &mut Vec::new(), 0),
        ErrorKind::InvalidPath,
    );
    assert_kind(
        &what("read_range"),
        b.read_range(key, 0, &mut [0u8; 4]),
        ErrorKind::InvalidPath,
    );
    assert_kind(&what("stat_file"), b.stat_file(key), ErrorKind::InvalidPath);
    assert_kind(&what("exists"), b.exists(key), ErrorKind::InvalidPath);
    assert_kind(&what("delete"), b.delete(key), ErrorKind::InvalidPath);
    assert_kind(
        &what("delete_batch"),
        b.as_batch_deleter().unwrap().delete_batch(&[key]),
        ErrorKind::InvalidPath,
    );
    assert_kind(
        &what("append_reader"),
        b.as_appending()
            .unwrap()
            .append_reader(key, &mut &b"evil"[..], 4),
        ErrorKind::InvalidPath,
    );
}

#[test]
fn traversal_keys_are_refused_and_nothing_outside_the_base_changes() {
    let dir = TempDir::new("traversal");
    let b = store_in(&dir);
    fs::create_dir(dir.join("outside")).unwrap();
    fs::write(dir.join("outside/x"), b"outside x").unwrap();
    fs::write(dir.join("x"), b"sibling x").unwrap();
    let before = snapshot(dir.path());
    for key in [
        "../x",
        "a/../../x",
        "../outside/x",
        "/../x",
        "a/../b",
        "..",
        "../base/y",
    ] {
        assert_refused_everywhere(&b, key);
        assert_kind(
            &format!("list({key:?})"),
            b.list(key),
            ErrorKind::InvalidPath,
        );
        assert_kind(
            &format!("remove_directory({key:?})"),
            b.as_directory_remover().unwrap().remove_directory(key),
            ErrorKind::InvalidPath,
        );
    }
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a refused key changed the file system"
    );
}

#[test]
fn symlinked_directory_leading_outside_is_refused_and_nothing_outside_changes() {
    let dir = TempDir::new("symlink-dir");
    let b = store_in(&dir);
    fs::create_dir(dir.join("outside")).unwrap();
    fs::write(dir.join("outside/secret"), b"secret").unwrap();
    fs::create_dir(dir.join("outside/sub")).unwrap();
    symlink(dir.join("outside"), dir.join("base/link")).unwrap();
    let before = snapshot(dir.path());
    for key in [
        "link/secret",
        "link/new",
        "link/sub/new",
        "link/newdir/deeper/new",
    ] {
        assert_refused_everywhere(&b, key);
    }
    for prefix in ["link/", "link/s", "link/sub/"] {
        assert_kind(
            &format!("list({prefix:?})"),
            b.list(prefix),
            ErrorKind::InvalidPath,
        );
        assert_kind(
            &format!("list_objects({prefix:?})"),
            b.as_object_lister().unwrap().list_objects(prefix),
            ErrorKind::InvalidPath,
        );
    }
    assert_kind(
        "list_directories(link)",
        b.as_directory_lister().unwrap().list_directories("link"),
        ErrorKind::InvalidPath,
    );
    // The root listing does not follow the link out either.
    assert_eq!(b.list("").unwrap(), Vec::<String>::new());
    assert_eq!(
        b.as_directory_lister()
            .unwrap()
            .list_directories("")
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a refused key changed the file system"
    );
}

#[test]
fn symlinked_file_leading_outside_is_refused_and_nothing_outside_changes() {
    let dir = TempDir::new("symlink-file");
    let b = store_in(&dir);
    fs::create_dir(dir.join("outside")).unwrap();
    fs::write(dir.join("outside/secret"), b"secret").unwrap();
    fs::create_dir(dir.join("base/d")).unwrap();
    symlink(dir.join("outside/secret"), dir.join("base/evil")).unwrap();
    symlink(dir.join("outside/secret"), dir.join("base/d/evil")).unwrap();
    let before = snapshot(dir.path());
    for key in ["evil", "d/evil"] {
        assert_refused_everywhere(&b, key);
    }
    assert_eq!(
        b.list("").unwrap(),
        Vec::<String>::new(),
        "a link leading outside was listed"
    );
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a refused key changed the file system"
    );
}

/// The store never follows a symlink, not even one that stays inside the
/// base: a link is refused like one leading out (the target of a link can
/// change between the check and the use, so "inside" cannot be trusted),
/// and listings skip links.
#[test]
fn symlinks_inside_the_base_are_refused_too_and_never_listed() {
    let dir = TempDir::new("symlink-inside");
    let b = store_in(&dir);
    b.write("real/data.bin", b"real data").unwrap();
    symlink(dir.join("base/real/data.bin"), dir.join("base/alias.bin")).unwrap();
    symlink(dir.join("base/real"), dir.join("base/alias-dir")).unwrap();
    symlink("real", dir.join("base/relative-dir")).unwrap();
    for key in ["alias.bin", "alias-dir/data.bin", "relative-dir/data.bin"] {
        assert_kind(&format!("read({key})"), b.read(key), ErrorKind::InvalidPath);
        assert_kind(
            &format!("exists({key})"),
            b.exists(key),
            ErrorKind::InvalidPath,
        );
    }
    assert_eq!(b.list("").unwrap(), ["real/data.bin"]);
    assert_kind(
        "list(alias-dir/)",
        b.list("alias-dir/"),
        ErrorKind::InvalidPath,
    );
    assert_object(&b, "real/data.bin", b"real data");
}

// ---------------------------------------------------------------------------
// Listing order
// ---------------------------------------------------------------------------

/// Keys whose names share long prefixes and differ in bytes around `/`
/// (`-` `.` `/` `0` `B` `a` `~` `é`), in nested directories: the local walk
/// sorts per directory, which must equal sorting the whole keys by bytes.
#[test]
fn list_is_byte_sorted_across_directories_and_long_shared_names() {
    let dir = TempDir::new("order");
    let b = store_in(&dir);
    let pieces = [
        "long-shared-name",
        "-",
        ".",
        "0",
        "B",
        "a",
        "~",
        "é",
        "x.parquet",
        "long-shared-name-",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut keys: Vec<String> = Vec::new();
    while keys.len() < 400 {
        let depth = 1 + next(3);
        let parts: Vec<String> = (0..depth)
            .map(|_| {
                (0..1 + next(3))
                    .map(|_| pieces[next(pieces.len())])
                    .collect::<String>()
            })
            .collect();
        if parts.iter().any(|p| p.starts_with('.')) {
            continue;
        }
        let key = parts.join("/");
        // A local directory cannot also be an object: skip keys that would
        // make one of the other keys' directories a file, or the reverse.
        let clashes = keys.iter().any(|k| {
            k == &key || k.starts_with(&format!("{key}/")) || key.starts_with(&format!("{k}/"))
        });
        if !clashes {
            b.write(&key, key.as_bytes()).unwrap();
            keys.push(key);
        }
    }
    keys.sort();
    assert_eq!(b.list("").unwrap(), keys);
    let infos = b.as_object_lister().unwrap().list_objects("").unwrap();
    assert_eq!(
        infos.iter().map(|i| i.path.clone()).collect::<Vec<_>>(),
        keys
    );
    for prefix in [
        "long-shared-name",
        "long-shared-name-",
        "long-shared-name/",
        "a",
        "é",
        "~",
    ] {
        let want: Vec<String> = keys
            .iter()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        assert_eq!(b.list(prefix).unwrap(), want, "list({prefix:?})");
    }
}

// ---------------------------------------------------------------------------
// Permissions, and directories removed behind the store
// ---------------------------------------------------------------------------

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn created_base_subdirectories_and_objects_are_private() {
    let dir = TempDir::new("modes");
    let base = dir.join("new/base");
    let b = LocalBackend::new(&base).unwrap();
    assert_eq!(mode(&dir.join("new")), 0o700, "created parent of the base");
    assert_eq!(mode(&base), 0o700, "created base");
    b.write("a/b/obj", b"x").unwrap();
    b.write_reader("a/c/streamed", &mut &b"y"[..], None)
        .unwrap();
    assert_eq!(mode(&base.join("a")), 0o700);
    assert_eq!(mode(&base.join("a/b")), 0o700);
    assert_eq!(mode(&base.join("a/c")), 0o700);
    assert_eq!(
        mode(&base.join("a/b/obj")),
        0o600,
        "object written with write"
    );
    assert_eq!(
        mode(&base.join("a/c/streamed")),
        0o600,
        "object written with write_reader"
    );
}

#[test]
fn write_recreates_parent_directories_deleted_behind_its_back() {
    let dir = TempDir::new("recreate");
    let b = store_in(&dir);
    b.write("d/x", b"x").unwrap();
    b.write("d1/d2/x", b"x").unwrap();
    fs::remove_dir_all(dir.join("base/d")).unwrap();
    fs::remove_dir_all(dir.join("base/d1")).unwrap();
    b.write("d/y", b"y").unwrap();
    assert_object(&b, "d/y", b"y");
    b.write_reader("d1/d2/z", &mut &b"z"[..], Some(1)).unwrap();
    assert_object(&b, "d1/d2/z", b"z");
    assert_eq!(mode(&dir.join("base/d1/d2")), 0o700);
    // And after the whole base went away.
    fs::remove_dir_all(dir.join("base")).unwrap();
    b.write("d/again", b"again").unwrap();
    assert_object(&b, "d/again", b"again");
    assert_eq!(b.list("").unwrap(), ["d/again"]);
}

#[test]
fn writing_under_an_object_used_as_a_directory_is_an_io_error_and_keeps_it() {
    let dir = TempDir::new("file-as-dir");
    let b = store_in(&dir);
    b.write("f", b"an object").unwrap();
    // Listing and stat first, so a wrongly cached "directory" would show.
    assert_eq!(b.list("f/").unwrap(), Vec::<String>::new());
    assert_eq!(b.stat_file("f/x").unwrap(), None);
    let err = b.write("f/x", b"x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert_kind(
        "write_reader under an object",
        b.write_reader("f/g/x", &mut &b"x"[..], None),
        ErrorKind::Io,
    );
    assert_object(&b, "f", b"an object");
}

// ---------------------------------------------------------------------------
// Staged partials
// ---------------------------------------------------------------------------

#[test]
fn failed_write_reader_keeps_the_old_object_and_the_part() {
    let dir = TempDir::new("failed-stream");
    let b = store_in(&dir);
    b.write("obj", b"old version").unwrap();
    let data = pseudo_random_bytes(2 * 1024 * 1024, 7);
    let half = 1024 * 1024 + 5;
    let err = b
        .write_reader(
            "obj",
            &mut FailingReader::new(&data[..half]),
            Some(data.len() as u64),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    assert!(
        err.to_string().contains("read source"),
        "the error names the source: {err}"
    );
    assert_object(&b, "obj", b"old version");
    assert_same_bytes(
        ".part",
        &fs::read(dir.join("base/obj.part")).unwrap(),
        &data[..half],
    );
    assert_eq!(b.list("").unwrap(), ["obj"]);

    let rest = &data[half..];
    b.as_appending()
        .unwrap()
        .append_reader("obj", &mut &rest[..], rest.len() as u64)
        .unwrap();
    assert_object(&b, "obj", &data);
    assert!(!dir.join("base/obj.part").exists());
}

/// Hidden names are keys like any other (S3 and Azure list `cfg/.env`);
/// only the store's own staging and temp files are left out of listings,
/// and only `list_directories` skips hidden names.
#[test]
fn hidden_names_are_listed_but_part_and_temp_files_are_not() {
    let dir = TempDir::new("hidden");
    let b = store_in(&dir);
    b.write("d/visible", b"v").unwrap();
    b.write("cfg/.env", b"SECRET=1").unwrap();
    let base = dir.join("base");
    fs::write(base.join(".hidden"), b"h").unwrap();
    fs::create_dir_all(base.join(".hdir/sub")).unwrap();
    fs::write(base.join(".hdir/sub/x"), b"x").unwrap();
    fs::write(base.join("d/.blobio-0123456789abcdef.tmp"), b"t").unwrap();
    let _ = b.write_reader("d/partial", &mut FailingReader::new(b"some"), None);
    assert!(base.join("d/partial.part").exists());

    let all = [".hdir/sub/x", ".hidden", "cfg/.env", "d/visible"];
    assert_eq!(b.list("").unwrap(), all);
    assert_eq!(b.list("cfg/").unwrap(), ["cfg/.env"]);
    assert_eq!(b.list("d/").unwrap(), ["d/visible"]);
    assert_eq!(b.list("d/p").unwrap(), Vec::<String>::new());
    assert_eq!(b.list("cfg/.e").unwrap(), ["cfg/.env"]);
    let infos = b.as_object_lister().unwrap().list_objects("").unwrap();
    assert_eq!(
        infos.iter().map(|i| i.path.as_str()).collect::<Vec<_>>(),
        all
    );
    assert_eq!(infos[2].size, 8);
    assert_object(&b, "cfg/.env", b"SECRET=1");
    assert_eq!(
        b.as_directory_lister()
            .unwrap()
            .list_directories("")
            .unwrap(),
        ["cfg", "d"]
    );
}

#[test]
fn stat_file_and_read_to_at_fall_back_to_the_part_but_plain_reads_do_not() {
    let dir = TempDir::new("part-fallback");
    let b = store_in(&dir);
    let data = pseudo_random_bytes(10_000, 9);
    let _ = b.write_reader("obj", &mut FailingReader::new(&data), Some(20_000));
    assert_eq!(b.stat_file("obj").unwrap(), Some(10_000));
    assert!(!b.exists("obj").unwrap(), "exists does not count a partial");
    let mut out = Vec::new();
    assert_eq!(b.read_to_at("obj", &mut out, 0).unwrap(), 10_000);
    assert_same_bytes("read_to_at(0) of the partial", &out, &data);
    let mut out = Vec::new();
    assert_eq!(b.read_to_at("obj", &mut out, 9_000).unwrap(), 1_000);
    assert_same_bytes("read_to_at(9000) of the partial", &out, &data[9_000..]);
    assert_kind(
        "read_to_at past the partial",
        b.read_to_at("obj", &mut Vec::new(), 10_000),
        ErrorKind::InvalidArgument,
    );
    assert_kind("read", b.read("obj"), ErrorKind::NotFound);
    assert_kind(
        "read_to",
        b.read_to("obj", &mut Vec::new()),
        ErrorKind::NotFound,
    );
    assert_kind(
        "read_range",
        b.read_range("obj", 0, &mut [0u8; 8]),
        ErrorKind::NotFound,
    );
}

#[test]
fn append_reader_without_a_part_is_not_found_naming_the_partial() {
    let dir = TempDir::new("append-missing");
    let b = store_in(&dir);
    b.write("obj", b"complete").unwrap();
    let app = b.as_appending().unwrap();
    for key in ["obj", "missing", "no/such/dir/obj"] {
        let err = app.append_reader(key, &mut &b"more"[..], 4).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{key}: {err:?}");
        assert!(
            err.to_string().contains("no staged partial"),
            "{key}: unclear message: {err}"
        );
    }
    assert_object(&b, "obj", b"complete");
    assert!(
        !dir.join("base/missing").exists() && !dir.join("base/no").exists(),
        "append_reader created something"
    );
}

#[test]
fn append_reader_with_a_short_source_keeps_the_longer_part_unpublished() {
    let dir = TempDir::new("append-short");
    let b = store_in(&dir);
    let _ = b.write_reader("obj", &mut FailingReader::new(b"hello "), Some(11));
    let app = b.as_appending().unwrap();
    assert_kind(
        "short append",
        app.append_reader("obj", &mut &b"wo"[..], 5),
        ErrorKind::Io,
    );
    assert!(!b.exists("obj").unwrap());
    assert_eq!(fs::read(dir.join("base/obj.part")).unwrap(), b"hello wo");
    app.append_reader("obj", &mut &b"rld"[..], 3).unwrap();
    assert_object(&b, "obj", b"hello world");
}

/// The staging suffix is reserved in every component, so a key's directory
/// can never be another key's staging file: `ip.part/y` is refused, and
/// `ip` streams, reads and deletes as usual (so does a missing `iq`).
#[test]
fn staging_names_are_reserved_in_every_component() {
    let dir = TempDir::new("reserved");
    let b = store_in(&dir);
    for key in [
        "x.part",
        "d/x.part",
        "ip.part/y",
        "a/ip.part/b/y",
        ".blobio-0123456789abcdef.tmp",
        "d/.blobio-x.tmp/y",
    ] {
        assert_kind(
            &format!("write {key}"),
            b.write(key, b"x"),
            ErrorKind::InvalidPath,
        );
        assert_kind(&format!("read {key}"), b.read(key), ErrorKind::InvalidPath);
        assert_kind(
            &format!("delete {key}"),
            b.delete(key),
            ErrorKind::InvalidPath,
        );
    }
    assert_kind("list ip.part/", b.list("ip.part/"), ErrorKind::InvalidPath);
    // A reserved name as the partial last piece of a prefix is fine.
    b.write("x.parts", b"fine").unwrap();
    assert_eq!(b.list("x.part").unwrap(), ["x.parts"]);
    assert_object(&b, "x.parts", b"fine");
    // The key beside what would have been its staging directory.
    b.write_reader("ip", &mut &b"streamed"[..], Some(8))
        .unwrap();
    assert_object(&b, "ip", b"streamed");
    b.delete("ip").unwrap();
    b.delete("iq").unwrap();
    assert!(!b.exists("ip").unwrap());
    assert!(b.get_full_path("ip.part/y").is_err());
}

/// A name of 256 or more bytes cannot be a file name: the key is refused
/// as InvalidPath with a message, never an I/O error. 255 bytes is fine,
/// streamed too (its staging name is shortened to fit).
#[test]
fn components_longer_than_255_bytes_are_invalid_paths() {
    let dir = TempDir::new("long-names");
    let b = store_in(&dir);
    let longest = "n".repeat(255);
    let too_long = "n".repeat(256);
    b.write(&longest, b"255").unwrap();
    assert_object(&b, &longest, b"255");
    let key = format!("d/{longest}");
    let data = pseudo_random_bytes(100_000, 3);
    let _ = b.write_reader(&key, &mut FailingReader::new(&data[..50_000]), None);
    assert_eq!(
        b.stat_file(&key).unwrap(),
        Some(50_000),
        "the long name's partial"
    );
    let rest = &data[50_000..];
    b.as_appending()
        .unwrap()
        .append_reader(&key, &mut &rest[..], rest.len() as u64)
        .unwrap();
    assert_object(&b, &key, &data);
    assert_eq!(b.list("d/").unwrap(), vec![key.clone()]);
    for key in [
        too_long.clone(),
        format!("{too_long}/x"),
        format!("d/{too_long}"),
    ] {
        let err = b.write(&key, b"x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidPath, "{err:?}");
        assert!(
            err.to_string().contains("255 bytes"),
            "unclear message: {err}"
        );
        assert_kind("read of a long name", b.read(&key), ErrorKind::InvalidPath);
        assert_kind(
            "stat of a long name",
            b.stat_file(&key),
            ErrorKind::InvalidPath,
        );
        assert_kind(
            "write_reader of a long name",
            b.write_reader(&key, &mut &b"x"[..], Some(1)),
            ErrorKind::InvalidPath,
        );
    }
}

// ---------------------------------------------------------------------------
// Directories
// ---------------------------------------------------------------------------

#[test]
fn remove_directory_removes_only_empty_directories() {
    let dir = TempDir::new("rmdir");
    let b = store_in(&dir);
    let r = b.as_directory_remover().unwrap();
    b.write("full/obj", b"x").unwrap();
    fs::create_dir_all(dir.join("base/empty/inner")).unwrap();

    let err = r.remove_directory("full").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err:?}");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_object(&b, "full/obj", b"x");
    assert!(
        r.remove_directory("empty").is_err(),
        "a directory holding a directory is not empty"
    );

    r.remove_directory("empty/inner/").unwrap();
    assert!(!dir.join("base/empty/inner").exists());
    r.remove_directory("empty").unwrap();
    assert!(!dir.join("base/empty").exists());
    r.remove_directory("empty").unwrap();
    r.remove_directory("never/was").unwrap();
    // Writing into a removed directory recreates it.
    b.write("empty/inner/obj", b"back").unwrap();
    assert_object(&b, "empty/inner/obj", b"back");
}

/// On S3 and Azure a key that is only a prefix of others holds no object:
/// deleting it is OK and changes nothing. Same here.
#[test]
fn delete_of_a_directory_key_is_ok_and_keeps_its_objects() {
    let dir = TempDir::new("delete-dir");
    let b = store_in(&dir);
    b.write("d/obj", b"x").unwrap();
    b.delete("d").unwrap();
    b.as_batch_deleter().unwrap().delete_batch(&["d"]).unwrap();
    assert_object(&b, "d/obj", b"x");
    assert_eq!(b.list("").unwrap(), ["d/obj"]);
}

/// Deleting the last key of a directory removes the directories it leaves
/// empty, up to the base: nothing is left to list as a directory, and the
/// name can hold an object again.
#[test]
fn delete_removes_the_directories_it_empties_up_to_the_base() {
    let dir = TempDir::new("delete-prunes");
    let b = store_in(&dir);
    let lister = b.as_directory_lister().unwrap();
    b.write("e/x", b"x").unwrap();
    b.write("p/q/r/s", b"s").unwrap();
    b.write("p/keep", b"k").unwrap();
    b.delete("e/x").unwrap();
    assert!(
        !dir.join("base/e").exists(),
        "the emptied directory e stayed"
    );
    b.write("e", b"now an object").unwrap();
    assert_object(&b, "e", b"now an object");
    b.delete("p/q/r/s").unwrap();
    assert!(!dir.join("base/p/q").exists(), "p/q/r and p/q stayed");
    assert!(dir.join("base/p").is_dir(), "p still holds p/keep");
    assert_eq!(lister.list_directories("").unwrap(), ["p"]);
    assert_eq!(lister.list_directories("p").unwrap(), Vec::<String>::new());
    b.delete("p/keep").unwrap();
    assert!(
        dir.join("base").is_dir(),
        "the base itself is never removed"
    );
    assert_eq!(lister.list_directories("").unwrap(), Vec::<String>::new());
    assert_eq!(b.list("").unwrap(), ["e"]);
    // A partial's deletion prunes too.
    let _ = b.write_reader("s/t/u", &mut FailingReader::new(b"part"), None);
    b.delete("s/t/u").unwrap();
    assert!(!dir.join("base/s").exists(), "deleting a partial left s/t");
    // An empty directory in the way of a write (left by something else)
    // holds no key and is replaced.
    fs::create_dir_all(dir.join("base/stray")).unwrap();
    b.write("stray", b"object").unwrap();
    assert_object(&b, "stray", b"object");
}

/// A stream onto a key that is a directory of other keys arrives whole and
/// is refused (a local directory cannot also be an object): it leaves no
/// partial, so when the keys under it go, its directory goes too and the
/// name can hold an object, as on S3. (Found by tests/model.rs: the kept
/// `a/b.part` held `a` as a directory after `a/b/c` was deleted, and
/// `write("a")` failed with "rename into place: Is a directory".)
#[test]
fn a_stream_refused_because_its_key_is_a_directory_leaves_no_partial() {
    let dir = TempDir::new("stream-onto-dir");
    let b = store_in(&dir);
    b.write("a/b/c", b"c").unwrap();
    let err = b
        .write_reader("a/b", &mut io::Cursor::new(b"streamed".to_vec()), None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(b.stat_file("a/b").unwrap(), None, "a partial of a/b stayed");
    assert!(!dir.join("base/a/b.part").exists(), "a/b.part stayed");
    assert_object(&b, "a/b/c", b"c");
    b.delete("a/b/c").unwrap();
    assert!(!dir.join("base/a").exists(), "the emptied directory a stayed");
    b.write("a", b"now an object").unwrap();
    assert_object(&b, "a", b"now an object");
    assert_eq!(b.list("").unwrap(), ["a"]);
}

// ---------------------------------------------------------------------------
// Configuration and helpers
// ---------------------------------------------------------------------------

#[test]
fn config_json_is_exactly_the_absolute_base_path() {
    let dir = TempDir::new("config");
    let base = dir.join("base");
    let b = LocalBackend::new(&base).unwrap();
    assert!(base.is_absolute());
    assert_eq!(
        b.config_json(),
        format!("{{\"base_path\":\"{}\",\"durable\":true}}", base.display())
    );
    let scratch = LocalBackend::with_durable(&base, false).unwrap();
    assert!(!scratch.is_durable() && b.is_durable());
    assert_eq!(
        scratch.config_json(),
        format!("{{\"base_path\":\"{}\",\"durable\":false}}", base.display())
    );
    assert_eq!(b.kind(), "local");

    // Characters JSON must escape come out escaped.
    let odd = dir.join("quote\"back\\slash ünï");
    let b = LocalBackend::new(&odd).unwrap();
    let escaped = odd
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    assert_eq!(
        b.config_json(),
        format!("{{\"base_path\":\"{escaped}\",\"durable\":true}}")
    );
}

#[test]
fn relative_base_paths_are_made_absolute() {
    let dir = TempDir::new("relative");
    // A relative path to the temp dir from the current directory.
    let cwd = std::env::current_dir().unwrap();
    let ups = cwd.components().count() - 1;
    let rel: PathBuf = std::iter::repeat("..")
        .take(ups)
        .collect::<PathBuf>()
        .join(dir.path().strip_prefix("/").unwrap())
        .join("rel");
    let b = LocalBackend::new(&rel).unwrap();
    assert!(
        b.get_base_path().is_absolute(),
        "{}",
        b.get_base_path().display()
    );
    b.write("k", b"v").unwrap();
    assert_eq!(fs::read(dir.join("rel/k")).unwrap(), b"v");
}

#[test]
fn storage_path_helpers_point_into_the_base_directory() {
    let dir = TempDir::new("helpers");
    let base = dir.join("base");
    let b = LocalBackend::new(&base).unwrap();
    let shown = base.display().to_string();
    assert_eq!(b.get_base_path(), base);
    assert_eq!(b.local_base_path(), Some(base.as_path()));
    assert_eq!(b.storage_root(), format!("{shown}/"));
    assert_eq!(get_local_base_path(&b, "compaction", "./fallback"), shown);
    assert_eq!(
        get_storage_path(&b, "db", "cpu").unwrap(),
        format!("{shown}/db/cpu/**/*.parquet")
    );
    for (db, m) in [("a/b", "cpu"), ("db", ".."), ("", "cpu"), ("db", "c*")] {
        assert_kind(
            &format!("get_storage_path({db:?}, {m:?})"),
            get_storage_path(&b, db, m),
            ErrorKind::InvalidArgument,
        );
    }
    assert_eq!(
        b.get_full_path("db/cpu/x.parquet").unwrap(),
        base.join("db/cpu/x.parquet")
    );
    assert_kind(
        "get_full_path(../x)",
        b.get_full_path("../x"),
        ErrorKind::InvalidPath,
    );
}

// ---------------------------------------------------------------------------
// Stale temp files and emptied directories
// ---------------------------------------------------------------------------

/// A file at `path` last modified `age` ago.
fn aged_file(path: &Path, age: Duration) -> fs::File {
    let f = fs::File::create(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - age).unwrap();
    f
}

/// Temp files of killed writes are removed when the store opens (the base
/// directory) or first writes into their directory; young ones, ones a
/// live writer holds (its flock), look-alikes and staged partials stay.
#[test]
fn stale_temp_files_are_swept_at_open_and_on_the_next_write_there() {
    let dir = TempDir::new("stale");
    let base = dir.join("base");
    fs::create_dir_all(base.join("d")).unwrap();
    let old = Duration::from_secs(2 * 3600);
    let young = Duration::from_secs(60);
    drop(aged_file(&base.join(".blobio-00000000000000aa.tmp"), old));
    drop(aged_file(&base.join(".blobio-00000000000000bb.tmp"), young));
    let held = aged_file(&base.join(".blobio-00000000000000cc.tmp"), old);
    rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
    drop(aged_file(&base.join(".blobio-not-ours.tmp"), old));
    drop(aged_file(&base.join("obj.part"), old));
    drop(aged_file(&base.join("d/.blobio-00000000000000dd.tmp"), old));

    let b = LocalBackend::new(&base).unwrap();
    assert!(!base.join(".blobio-00000000000000aa.tmp").exists(), "a stale temp stayed");
    for kept in [
        ".blobio-00000000000000bb.tmp",
        ".blobio-00000000000000cc.tmp",
        ".blobio-not-ours.tmp",
        "obj.part",
        "d/.blobio-00000000000000dd.tmp",
    ] {
        assert!(base.join(kept).exists(), "{kept} was removed");
    }
    b.write("d/y", b"y").unwrap();
    assert!(
        !base.join("d/.blobio-00000000000000dd.tmp").exists(),
        "the next write into d did not sweep it"
    );
    drop(held);
    assert_eq!(b.stat_file("obj").unwrap(), Some(0), "the partial is still resumable");
}

/// A delete that empties a directory removes it while other threads write
/// into it: their writes never fail for it (they make the directory again)
/// and every object they wrote is there.
#[test]
fn pruning_emptied_directories_races_safely_with_writes_into_them() {
    const ROUNDS: usize = 1500;
    let dir = TempDir::new("prune-race");
    let b = LocalBackend::with_durable(dir.join("base"), false).unwrap();
    std::thread::scope(|s| {
        for t in 0..3 {
            let b = &b;
            s.spawn(move || {
                for i in 0..ROUNDS {
                    let key = format!("race/deep/t{t}-{i}");
                    let body = format!("{t}/{i}");
                    if i % 2 == 0 {
                        b.write(&key, body.as_bytes())
                    } else {
                        b.write_reader(&key, &mut body.as_bytes(), None)
                    }
                    .unwrap_or_else(|e| panic!("write {key}: {e}"));
                    assert_eq!(b.read(&key).unwrap(), body.as_bytes(), "{key}");
                    if i % 10 != 0 {
                        b.delete(&key).unwrap();
                        assert!(!b.exists(&key).unwrap());
                    }
                }
            });
        }
    });
    let kept = b.list("").unwrap();
    assert_eq!(kept.len(), 3 * ROUNDS / 10, "objects were lost or left");
    for key in &kept {
        b.delete(key).unwrap();
    }
    assert!(!dir.join("base/race").exists(), "emptied directories stayed");
}

/// A source that never ends: every read fills the buffer with `b'x'`.
struct Endless;

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        buf.fill(b'x');
        Ok(buf.len())
    }
}

/// A source with more bytes than announced fails once the announced bytes
/// are in, and writes nothing more: neither write_reader nor append_reader
/// fills the disk from an endless source, and the partial an append found
/// is left as it was, so a retry appends the same bytes once.
#[test]
fn sources_longer_than_announced_fail_and_write_nothing_more() {
    let dir = TempDir::new("longer-source");
    let store = LocalBackend::new(dir.path()).unwrap();
    let err = store.write_reader("endless", &mut Endless, Some(1000)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("more than the 1000 bytes announced"), "{err}");
    assert!(!store.exists("endless").unwrap());

    // A partial of 5 bytes (a short source), then an endless append.
    let err = store.write_reader("resumed", &mut &b"hello"[..], Some(10)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(store.stat_file("resumed").unwrap(), Some(5), "the partial is kept");
    let app = store.as_appending().unwrap();
    let err = app.append_reader("resumed", &mut Endless, 5).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert_eq!(store.stat_file("resumed").unwrap(), Some(5), "the partial is as it was");
    app.append_reader("resumed", &mut &b"world"[..], 5).unwrap();
    assert_eq!(store.read("resumed").unwrap(), b"helloworld");
}
