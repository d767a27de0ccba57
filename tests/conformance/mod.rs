//! The backend conformance suite: the `Backend` contract written once,
//! against `&dyn Backend`, and run unchanged on every store.
//!
//! A test file uses it like this:
//!
//! ```ignore
//! mod conformance;
//!
//! fn store() -> (impl AsRef<dyn blobio::Backend>, conformance::Options) {
//!     (Box::new(make_backend()) as Box<dyn blobio::Backend>, conformance::Options::default())
//! }
//!
//! // One #[test] per check, named after the check:
//! conformance_tests!(store);
//!
//! // Or everything in one test:
//! #[test]
//! fn conformance() {
//!     let (store, options) = store();
//!     conformance::run_all(store.as_ref(), &options);
//! }
//! ```
//!
//! Every check works under its own fresh key prefix
//! (`blobio-conformance/<check>/<pid>-<nanos>-<n>/`), never lists or deletes
//! outside it, and deletes what it wrote when it passes, so all checks may run
//! in parallel against one shared bucket or container. A failing check leaves
//! its objects behind for inspection.
//!
//! Checks panic (assert) on failure and name the key, the operation and what
//! was expected. Optional capabilities (`as_object_lister()`, ...) are
//! required: every blobio backend has them, so a missing one fails the check.
#![allow(dead_code)]

use std::fmt::Debug;
use std::io::{self, Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blobio::{Backend, Error, ErrorKind, PutMode, PutOptions};

/// What a store is documented to get wrong, so that its run can leave that
/// out instead of failing on a known server quirk. Defaults: everything on.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whether listings of keys containing `+` or `%` are checked. When false
    /// such keys are still written, read, stat'ed and deleted, but listing
    /// assertions leave them out. (s3s-fs 0.14 lists them wrongly: it claims
    /// URL encoding without encoding.)
    pub keys_with_plus_and_percent: bool,
    /// Whether keys containing the sub-delimiters `! $ & ' ( ) * , ; @ ~`
    /// are exercised (they are where SigV4 canonical-URI encoding and plain
    /// URL encoding disagree).
    pub keys_with_sub_delimiters: bool,
    /// Size of the "large" object of the round-trip checks. The default,
    /// 5 MiB + 4099 bytes, is just past S3's minimum part size; raise it to
    /// cover a backend's multipart threshold.
    pub large_object_size: usize,
    /// How far a listed `last_modified` may be from this machine's clock.
    pub max_clock_skew: Duration,
    /// Whether a key that is only a prefix ("directory") of other keys, or
    /// that lies below an object (`a/b` while `a` is one), can be asked
    /// about. s3s-fs 0.14 stores keys as files, so a HEAD, GET or DELETE of
    /// such a key hits a directory, or a path through a file, and fails
    /// with 500 InternalError.
    pub prefix_keys_are_addressable: bool,
    /// Whether the server honours conditional writes as S3 documents them.
    /// When false only a create of a key that holds an object (one small
    /// PutObject) is checked. s3s-fs 0.14 checks `If-None-Match: *` and then
    /// writes, so racing creates all win; it ignores `If-Match` on PUT; and
    /// it refuses a large conditional PUT before reading its body, closing
    /// the connection (the client sees a broken pipe, not the 412).
    pub conditional_writes: bool,
    /// Whether `If-Match` on the completion of an upload in parts is
    /// honoured. moto 5.2.5 ignores it (`If-None-Match: *` it honours).
    pub conditional_update_of_parts: bool,
    /// Whether `If-None-Match` / `If-Match` on a server-side copy (S3
    /// CopyObject) are honoured. moto 5.2.5 and s3s-fs 0.14 ignore both.
    pub conditional_copy: bool,
    /// The longest key, in bytes, that the server can hold (the services
    /// hold 1,024 bytes of object name, the store's prefix included).
    /// s3s-fs 0.14 keeps a sidecar file per object named
    /// `.bucket-<base64 bucket>.object-<base64 key>.internal.json`, one
    /// file name: past about 140 bytes of key (less with a long bucket
    /// name) every PutObject fails with 500 InternalError (ENAMETOOLONG).
    pub longest_key: usize,
    /// Whether one key can hold an object while other keys lie below it
    /// (`a` and `a/b`), as on S3 and Azure. False where keys are files:
    /// the local store (documented: a directory cannot be a file) and
    /// s3s-fs 0.14; there, a write that would need both fails and changes
    /// nothing. Only the model-based test (tests/model.rs) looks at it.
    pub objects_and_directories_share_names: bool,
    /// Whether a "directory" outlives the keys under it: once `a/b` was
    /// written, `a` stays a directory after `a/b` is deleted, so it can no
    /// longer hold an object or be asked about. s3s-fs 0.14 leaves the
    /// emptied directories on its disk (500 InternalError for `a` then).
    /// Only the model-based test looks at it.
    pub directories_outlive_their_keys: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keys_with_plus_and_percent: true,
            keys_with_sub_delimiters: true,
            large_object_size: 5 * 1024 * 1024 + 4099,
            max_clock_skew: Duration::from_secs(5 * 60),
            prefix_keys_are_addressable: true,
            conditional_writes: true,
            conditional_update_of_parts: true,
            conditional_copy: true,
            longest_key: 1024,
            objects_and_directories_share_names: true,
            directories_outlive_their_keys: false,
        }
    }
}

impl Options {
    /// What s3s-fs 0.14 gets wrong; every suite run on s3s-fs (the
    /// conformance suite, the model-based test) takes its quirks from here.
    pub fn s3s_fs() -> Options {
        Options {
            // Lists keys with `+` or `%` wrongly (TEST-SERVERS.md), and
            // answers 500 for a key that is a "directory" of others.
            keys_with_plus_and_percent: false,
            prefix_keys_are_addressable: false,
            // Checks If-None-Match before it writes (racing creates all
            // win), ignores If-Match, and refuses a large conditional PUT
            // before reading its body.
            conditional_writes: false,
            conditional_copy: false,
            // The sidecar file named after base64 of bucket and key must
            // fit in 255 bytes (with the test buckets' names of about 30).
            longest_key: 100,
            // Keys are files and directories under the bucket's directory.
            objects_and_directories_share_names: false,
            // A delete leaves the directories it empties.
            directories_outlive_their_keys: true,
            ..Default::default()
        }
    }

    /// What moto 5.2.5 gets wrong.
    pub fn moto() -> Options {
        Options {
            // Ignores If-Match on CompleteMultipartUpload, and both
            // conditions on CopyObject.
            conditional_update_of_parts: false,
            conditional_copy: false,
            ..Default::default()
        }
    }

    /// What the local store does differently from the object stores, as
    /// documented: a key is a file, so it cannot also be a directory.
    pub fn local() -> Options {
        Options {
            objects_and_directories_share_names: false,
            ..Default::default()
        }
    }

    /// What Azurite gets wrong: nothing the suites check.
    pub fn azurite() -> Options {
        Options::default()
    }
}

/// The signature of every check.
pub type Check = fn(&dyn Backend, &Options);

/// The one list of checks. Calls `$crate::$callback! { $args ; check, ... }`.
/// Internal: `CHECKS` and `conformance_tests!` are built from it, so they
/// cannot drift apart.
#[macro_export]
macro_rules! __for_each_conformance_check {
    ($callback:ident ! { $($args:tt)* }) => {
        $crate::$callback! { $($args)* ;
            write_then_read_round_trips_empty_small_and_large_objects,
            write_reader_with_known_size_round_trips,
            write_reader_with_unknown_size_round_trips,
            write_reader_from_a_failing_or_short_source_is_io_error_and_publishes_nothing,
            read_to_into_a_failing_destination_is_io_error,
            keys_with_special_characters_round_trip_and_list_exactly,
            overwrite_replaces_the_whole_object,
            leading_slash_of_a_key_is_ignored,
            list_matches_keys_by_plain_string_prefix,
            list_returns_full_keys_sorted_by_bytes,
            list_objects_reports_exact_sizes_and_recent_modification_times,
            read_to_at_streams_from_offset_and_refuses_offsets_at_or_past_the_end,
            read_range_fills_from_offset_and_refuses_offsets_at_or_past_the_end,
            delete_batch_skips_missing_keys_and_deletes_the_rest,
            delete_batch_reports_invalid_keys_and_deletes_the_rest,
            delete_batch_of_more_keys_than_one_request_holds_deletes_them_all,
            list_directories_names_immediate_children_sorted_with_or_without_slash,
            exists_and_stat_file_tell_missing_from_present,
            delete_removes_the_object_and_only_it,
            delete_of_a_missing_key_is_ok,
            reads_of_missing_keys_are_not_found,
            remove_directory_of_a_missing_directory_is_ok_and_never_deletes_objects,
            invalid_keys_are_invalid_path_on_every_operation_and_touch_nothing,
            concurrent_writes_and_reads_of_distinct_keys_do_not_interfere,
            create_of_one_key_by_eight_threads_has_exactly_one_winner,
            create_refuses_an_existing_object_and_leaves_it,
            update_with_a_stale_version_fails_and_leaves_the_object,
            update_of_one_version_by_eight_threads_has_exactly_one_winner,
            head_reports_size_version_time_content_type_and_metadata,
            a_content_type_given_wins_over_the_default_and_metadata_is_checked,
            copy_duplicates_bytes_content_type_and_metadata_under_the_put_modes,
            rename_moves_the_object_under_the_put_modes,
        }
    };
}

/// Internal: builds [`CHECKS`].
#[macro_export]
macro_rules! __conformance_table {
    ( ; $($check:ident),* $(,)?) => {
        /// Every check, with its name, in a stable order.
        pub const CHECKS: &[(&str, Check)] = &[ $( (stringify!($check), $check as Check) ),* ];
    };
}

__for_each_conformance_check!(__conformance_table! {});

/// Generates one `#[test]` per conformance check, named after it.
///
/// `$fixture` is a function (or closure) called once per test, returning
/// `(store, Options)` where `store: AsRef<dyn Backend>` owns whatever must
/// live for the test (a temp directory, a bucket guard).
#[macro_export]
macro_rules! conformance_tests {
    ($fixture:expr) => {
        $crate::__for_each_conformance_check!(__conformance_test_fns! { $fixture });
    };
}

/// Internal: the body of [`conformance_tests!`].
#[macro_export]
macro_rules! __conformance_test_fns {
    ($fixture:expr ; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let (store, options) = ($fixture)();
                let backend: &dyn ::blobio::Backend = ::std::convert::AsRef::as_ref(&store);
                $crate::conformance::$check(backend, &options);
            }
        )*
    };
}

/// Runs every check in order against `backend`, reporting each on stderr,
/// and panics at the end naming every check that failed.
pub fn run_all(backend: &dyn Backend, options: &Options) {
    let mut failed = Vec::new();
    for (name, check) in CHECKS {
        match panic::catch_unwind(AssertUnwindSafe(|| check(backend, options))) {
            Ok(()) => eprintln!("conformance {name} ... ok"),
            Err(_) => {
                eprintln!("conformance {name} ... FAILED");
                failed.push(*name);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} conformance checks failed on the {} backend: {failed:#?}",
        failed.len(),
        CHECKS.len(),
        backend.kind()
    );
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A fresh prefix, ending in `/`, that no other check (in this or another
/// process) uses.
pub fn unique_prefix(check: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "blobio-conformance/{check}/{}-{nanos}-{}/",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `len` deterministic pseudo-random bytes (SplitMix64 seeded by `seed`):
/// no two offsets of a large object look alike, so a misplaced chunk shows.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Asserts two byte strings are equal, reporting lengths and the first
/// differing offset instead of dumping megabytes.
#[track_caller]
pub fn assert_same_bytes(what: &str, actual: &[u8], expected: &[u8]) {
    if actual == expected {
        return;
    }
    let first = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    panic!(
        "{what}: got {} bytes, expected {}; first difference at offset {first} (got {:?}, expected {:?})",
        actual.len(),
        expected.len(),
        actual.get(first..(first + 8).min(actual.len())),
        expected.get(first..(first + 8).min(expected.len())),
    );
}

/// Asserts `result` failed with `kind`.
#[track_caller]
pub fn assert_kind<T: Debug>(what: &str, result: blobio::Result<T>, kind: ErrorKind) {
    match result {
        Ok(v) => panic!("{what}: expected a {kind} error, got Ok({v:?})"),
        Err(e) => assert_eq!(
            e.kind(),
            kind,
            "{what}: expected a {kind} error, got {e:?} ({e})"
        ),
    }
}

#[track_caller]
fn ok<T>(what: &str, result: blobio::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{what}: {e} ({e:?})"))
}

/// Reads `key` every way the contract offers and checks each gives `expected`.
#[track_caller]
pub fn assert_object(backend: &dyn Backend, key: &str, expected: &[u8]) {
    let len = expected.len() as u64;
    assert_same_bytes(
        &format!("read({key:?})"),
        &ok("read", backend.read(key)),
        expected,
    );

    let mut out = Vec::new();
    let n = ok("read_to", backend.read_to(key, &mut out));
    assert_eq!(n, len, "read_to({key:?}) returned count");
    assert_same_bytes(&format!("read_to({key:?})"), &out, expected);

    let mut out = Vec::new();
    let n = ok("read_to_at 0", backend.read_to_at(key, &mut out, 0));
    assert_eq!(n, len, "read_to_at({key:?}, 0) returned count");
    assert_same_bytes(&format!("read_to_at({key:?}, 0)"), &out, expected);

    let mut buf = vec![0xEEu8; expected.len()];
    let n = ok("read_range 0", backend.read_range(key, 0, &mut buf));
    assert_eq!(
        n,
        expected.len(),
        "read_range({key:?}, 0, {} bytes) count",
        expected.len()
    );
    assert_same_bytes(&format!("read_range({key:?}, 0)"), &buf, expected);

    assert_eq!(
        ok("stat_file", backend.stat_file(key)),
        Some(len),
        "stat_file({key:?})"
    );
    assert!(
        ok("exists", backend.exists(key)),
        "exists({key:?}) after writing it"
    );
}

/// Deletes everything under `prefix` (called when a check passed).
pub fn cleanup(backend: &dyn Backend, prefix: &str) {
    let keys = ok("cleanup list", backend.list(prefix));
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    match backend.as_batch_deleter() {
        Some(b) if !refs.is_empty() => ok("cleanup delete_batch", b.delete_batch(&refs)),
        _ => {
            for k in refs {
                ok("cleanup delete", backend.delete(k));
            }
        }
    }
}

fn strings(prefix: &str, names: &[&str]) -> Vec<String> {
    names.iter().map(|n| format!("{prefix}{n}")).collect()
}

/// A reader that hands out `data` in irregular chunk sizes (1 byte, odd
/// sizes, more than a part) and interrupts itself once, as a socket or pipe
/// may: a consumer must retry `Interrupted`.
pub struct ChunkyReader<'a> {
    data: &'a [u8],
    pos: usize,
    calls: usize,
    interrupted: bool,
}

impl<'a> ChunkyReader<'a> {
    /// Reads out `data`.
    pub fn new(data: &'a [u8]) -> Self {
        ChunkyReader {
            data,
            pos: 0,
            calls: 0,
            interrupted: false,
        }
    }
}

impl Read for ChunkyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        const SIZES: [usize; 6] = [1, 7, 4093, 65_537, 1_048_583, 13];
        if self.calls == 2 && !self.interrupted {
            self.interrupted = true;
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "interrupted on purpose",
            ));
        }
        let want = SIZES[self.calls % SIZES.len()];
        self.calls += 1;
        let n = want.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A reader that gives `data` and then fails with a non-retryable error.
pub struct FailingReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> FailingReader<'a> {
    /// Gives `data`, then errors.
    pub fn new(data: &'a [u8]) -> Self {
        FailingReader { data, pos: 0 }
    }
}

impl Read for FailingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.data.len() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "source failed on purpose",
            ));
        }
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A reader that counts how often it was asked for data (and has some).
pub struct CountingReader<'a> {
    /// How many `read` calls were made.
    pub calls: &'a AtomicUsize,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let n = buf.len().min(3);
        buf[..n].copy_from_slice(&b"abc"[..n]);
        Ok(n)
    }
}

/// A writer that accepts `room` bytes and then fails.
pub struct FailingWriter {
    /// Bytes accepted so far.
    pub accepted: Vec<u8>,
    room: usize,
}

impl FailingWriter {
    /// Accepts `room` bytes, then errors.
    pub fn new(room: usize) -> Self {
        FailingWriter {
            accepted: Vec::new(),
            room,
        }
    }
}

impl Write for FailingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.accepted.len() >= self.room {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "destination failed on purpose",
            ));
        }
        let n = buf.len().min(self.room - self.accepted.len());
        self.accepted.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn sizes(options: &Options) -> [(&'static str, usize); 3] {
    [
        ("empty", 0),
        ("small", 13),
        ("large", options.large_object_size),
    ]
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

/// Writes empty, small and multi-MiB objects under a fresh prefix with
/// `write` (seeded from `seed`), checks every read of each, and that the
/// listing holds exactly them.
fn round_trip_each_size(
    b: &dyn Backend,
    o: &Options,
    label: &str,
    seed: u64,
    write: &dyn Fn(&str, &[u8]) -> blobio::Result<()>,
) {
    let p = unique_prefix(label);
    for (i, (name, len)) in sizes(o).into_iter().enumerate() {
        let key = format!("{p}{name}.bin");
        let data = pseudo_random_bytes(len, seed + i as u64);
        ok(label, write(&key, &data));
        assert_object(b, &key, &data);
    }
    assert_eq!(
        ok("list", b.list(&p)),
        strings(&p, &["empty.bin", "large.bin", "small.bin"])
    );
    cleanup(b, &p);
}

/// `write` then every read of empty, small and multi-MiB objects gives the
/// exact bytes back.
pub fn write_then_read_round_trips_empty_small_and_large_objects(b: &dyn Backend, o: &Options) {
    round_trip_each_size(b, o, "write_round_trip", 100, &|key, data| b.write(key, data));
}

/// `write_reader` with the exact size announced round-trips empty, small and
/// multi-MiB objects fed in irregular chunks.
pub fn write_reader_with_known_size_round_trips(b: &dyn Backend, o: &Options) {
    round_trip_each_size(b, o, "write_reader_known_size", 200, &|key, data| {
        b.write_reader(key, &mut ChunkyReader::new(data), Some(data.len() as u64))
    });
}

/// `write_reader` without a size round-trips empty, small and multi-MiB
/// objects fed in irregular chunks.
pub fn write_reader_with_unknown_size_round_trips(b: &dyn Backend, o: &Options) {
    round_trip_each_size(b, o, "write_reader_unknown_size", 300, &|key, data| {
        b.write_reader(key, &mut ChunkyReader::new(data), None)
    });
}

/// A source that fails (after more than a part's worth of bytes, with the
/// size announced or not) or ends before the announced size makes
/// `write_reader` fail with `Io` and publish nothing: over an existing key
/// the old object stays whole, a new key never appears, and no other key
/// does either.
pub fn write_reader_from_a_failing_or_short_source_is_io_error_and_publishes_nothing(
    b: &dyn Backend,
    o: &Options,
) {
    let p = unique_prefix("write_reader_bad_source");
    let key = format!("{p}obj");
    let old = b"the old version".to_vec();
    ok("write", b.write(&key, &old));
    let large = pseudo_random_bytes(o.large_object_size, 400);
    let short = pseudo_random_bytes(1000, 500);
    // Which source each case reads: the large one that fails after all
    // its bytes, or the short one.
    let cases = [
        ("a source failing after a part's worth, size unknown", true, None),
        (
            "a source failing after a part's worth, size announced",
            true,
            Some(o.large_object_size as u64 + 100),
        ),
        ("1000 bytes announced as 1010", false, Some(1010)),
    ];
    let source = |failing: bool| -> Box<dyn Read + '_> {
        if failing {
            Box::new(FailingReader::new(&large))
        } else {
            Box::new(&short[..])
        }
    };
    for (i, (what, failing, size)) in cases.into_iter().enumerate() {
        let fresh = format!("{p}fresh{i}");
        for target in [&key, &fresh] {
            assert_kind(
                &format!("write_reader to {target} from {what}"),
                b.write_reader(target, &mut source(failing), size),
                ErrorKind::Io,
            );
        }
        assert_object(b, &key, &old);
        assert!(
            !ok("exists", b.exists(&fresh)),
            "write_reader from {what} published {fresh:?}"
        );
        assert_kind(
            &format!("read of {fresh} after write_reader from {what}"),
            b.read(&fresh),
            ErrorKind::NotFound,
        );
    }
    assert_eq!(ok("list", b.list(&p)), vec![key.clone()]);
    cleanup(b, &p);
}

/// A destination that fails makes `read_to` fail with `Io` (not NotFound,
/// not a silent short count).
pub fn read_to_into_a_failing_destination_is_io_error(b: &dyn Backend, _o: &Options) {
    let p = unique_prefix("read_to_failing_destination");
    let key = format!("{p}obj");
    let data = pseudo_random_bytes(300_000, 600);
    ok("write", b.write(&key, &data));
    let mut dest = FailingWriter::new(100_000);
    assert_kind(
        "read_to into a failing writer",
        b.read_to(&key, &mut dest),
        ErrorKind::Io,
    );
    assert_same_bytes(
        "bytes accepted before the failure",
        &dest.accepted,
        &data[..100_000],
    );
    let mut dest = FailingWriter::new(10);
    assert_kind(
        "read_to_at into a failing writer",
        b.read_to_at(&key, &mut dest, 7),
        ErrorKind::Io,
    );
    assert_same_bytes(
        "bytes accepted before the failure",
        &dest.accepted,
        &data[7..17],
    );
    cleanup(b, &p);
}

/// Keys with spaces, unicode, `=`, dots (`a..b.parquet`), `+`, `%` and URL
/// sub-delimiters are stored, read, listed and deleted under exactly the
/// key given.
pub fn keys_with_special_characters_round_trip_and_list_exactly(b: &dyn Backend, o: &Options) {
    let p = unique_prefix("special_keys");
    let mut plain = vec![
        "plain/with space.txt",
        "plain/  two  spaces ",
        "plain/naïve ünïcödé ✓.bin",
        "plain/日本語/キー.parquet",
        "plain/emoji 🦀.txt",
        "plain/db=arc/date=2024-01-01/part-0.parquet",
        "plain/a..b.parquet",
        "plain/dots.../x",
        "plain/x.y.z",
        "plain/-dash_under~tilde",
    ];
    if o.keys_with_sub_delimiters {
        plain.push("plain/sub!$&'()*,;@delims");
    }
    let plus_percent = [
        "pct/a+b.txt",
        "pct/100%.txt",
        "pct/%2F not a slash",
        "pct/c++ %20 +%+",
    ];

    let mut all: Vec<String> = Vec::new();
    for (i, name) in plain.iter().chain(plus_percent.iter()).enumerate() {
        let key = format!("{p}{name}");
        let data = format!("content of {name} #{i}").into_bytes();
        if i % 2 == 0 {
            ok(&format!("write {key:?}"), b.write(&key, &data));
        } else {
            ok(
                &format!("write_reader {key:?}"),
                b.write_reader(&key, &mut &data[..], None),
            );
        }
        assert_object(b, &key, &data);
        all.push(key);
    }

    let mut plain_keys: Vec<String> = strings(&p, &plain);
    plain_keys.sort();
    let lister = b
        .as_object_lister()
        .expect("backend must implement ObjectLister");
    if o.keys_with_plus_and_percent {
        let mut expected = all.clone();
        expected.sort();
        assert_eq!(ok("list", b.list(&p)), expected, "list of special keys");
        let listed: Vec<String> = ok("list_objects", lister.list_objects(&p))
            .into_iter()
            .map(|i| i.path)
            .collect();
        assert_eq!(listed, expected, "list_objects of special keys");
        assert_eq!(
            ok("list", b.list(&format!("{p}pct/a+"))),
            vec![format!("{p}pct/a+b.txt")]
        );
        assert_eq!(
            ok("list", b.list(&format!("{p}pct/1"))),
            vec![format!("{p}pct/100%.txt")]
        );
    } else {
        assert_eq!(
            ok("list", b.list(&format!("{p}plain/"))),
            plain_keys,
            "list of special keys"
        );
    }
    assert_eq!(
        ok("list", b.list(&format!("{p}plain/日本語/"))),
        vec![format!("{p}plain/日本語/キー.parquet")],
        "a unicode prefix"
    );
    assert_eq!(
        ok("list", b.list(&format!("{p}plain/a."))),
        vec![format!("{p}plain/a..b.parquet")],
        "a prefix ending in a dot"
    );

    for key in &all {
        ok(&format!("delete {key:?}"), b.delete(key));
        assert!(!ok("exists", b.exists(key)), "{key:?} exists after delete");
    }
    assert_eq!(
        ok("list", b.list(&format!("{p}plain/"))),
        Vec::<String>::new()
    );
    cleanup(b, &p);
}

/// Overwriting replaces the object completely: a shorter version leaves no
/// tail of the longer one, through `write` and `write_reader` alike.
pub fn overwrite_replaces_the_whole_object(b: &dyn Backend, o: &Options) {
    let p = unique_prefix("overwrite");
    let key = format!("{p}obj");
    let big = pseudo_random_bytes(o.large_object_size, 700);
    let small = b"small version".to_vec();
    let medium = pseudo_random_bytes(70_001, 701);
    let lister = b
        .as_object_lister()
        .expect("backend must implement ObjectLister");

    ok("write big", b.write(&key, &big));
    assert_object(b, &key, &big);
    ok("write small over big", b.write(&key, &small));
    assert_object(b, &key, &small);
    let infos = ok("list_objects", lister.list_objects(&p));
    assert_eq!(infos.len(), 1, "{infos:?}");
    assert_eq!(
        infos[0].size,
        small.len() as u64,
        "listed size after overwrite"
    );

    ok(
        "write_reader medium",
        b.write_reader(&key, &mut ChunkyReader::new(&medium), None),
    );
    assert_object(b, &key, &medium);
    ok(
        "write_reader small",
        b.write_reader(&key, &mut &small[..], Some(small.len() as u64)),
    );
    assert_object(b, &key, &small);
    ok("write empty", b.write(&key, b""));
    assert_object(b, &key, b"");
    assert_eq!(ok("list", b.list(&p)), vec![key.clone()]);
    cleanup(b, &p);
}

/// A leading `/` is ignored: `/k` and `k` are the same object, and lists
/// return keys without it.
pub fn leading_slash_of_a_key_is_ignored(b: &dyn Backend, _o: &Options) {
    let p = unique_prefix("leading_slash");
    let key = format!("{p}obj");
    ok("write /key", b.write(&format!("/{key}"), b"slashed"));
    assert_object(b, &key, b"slashed");
    assert_object(b, &format!("//{key}"), b"slashed");
    assert_eq!(ok("list", b.list(&format!("/{p}"))), vec![key.clone()]);
    ok("delete /key", b.delete(&format!("/{key}")));
    assert!(!ok("exists", b.exists(&key)));
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Listing
// ---------------------------------------------------------------------------

/// `list(prefix)` is a plain string prefix over whole keys, recursive:
/// `db/cp` matches `db/cp`, `db/cpu/x` and `db/cpx`, not `db/c/w` or `db/d`.
pub fn list_matches_keys_by_plain_string_prefix(b: &dyn Backend, _o: &Options) {
    let p = unique_prefix("list_prefix");
    let names = [
        "db/cpu/x",
        "db/cpu/y/z",
        "db/cpx",
        "db/c/w",
        "db/cp",
        "dbx",
        "db/d",
    ];
    for n in names {
        ok("write", b.write(&format!("{p}{n}"), n.as_bytes()));
    }
    let list = |prefix: &str| {
        ok(
            &format!("list({prefix:?})"),
            b.list(&format!("{p}{prefix}")),
        )
    };
    assert_eq!(
        list("db/cp"),
        strings(&p, &["db/cp", "db/cpu/x", "db/cpu/y/z", "db/cpx"])
    );
    assert_eq!(list("db/cpu"), strings(&p, &["db/cpu/x", "db/cpu/y/z"]));
    assert_eq!(list("db/c/"), strings(&p, &["db/c/w"]));
    assert_eq!(
        list("db/"),
        strings(
            &p,
            &[
                "db/c/w",
                "db/cp",
                "db/cpu/x",
                "db/cpu/y/z",
                "db/cpx",
                "db/d"
            ]
        )
    );
    assert_eq!(
        list("db"),
        strings(
            &p,
            &[
                "db/c/w",
                "db/cp",
                "db/cpu/x",
                "db/cpu/y/z",
                "db/cpx",
                "db/d",
                "dbx"
            ]
        )
    );
    assert_eq!(list(""), list("db"), "the check's whole prefix");
    assert_eq!(
        list("db/cpu/y/z"),
        strings(&p, &["db/cpu/y/z"]),
        "a prefix equal to a key"
    );
    assert_eq!(
        list("db/cpu/x/"),
        Vec::<String>::new(),
        "a key used as a directory"
    );
    assert_eq!(list("db/e"), Vec::<String>::new(), "an unused prefix");
    assert_eq!(
        list("nothing/here/"),
        Vec::<String>::new(),
        "an unused directory"
    );
    cleanup(b, &p);
}

/// `list` returns whole keys (relative to the store root, never to the
/// prefix), sorted by their UTF-8 bytes as S3 does: `a.b` < `a/b` < `aB`.
pub fn list_returns_full_keys_sorted_by_bytes(b: &dyn Backend, _o: &Options) {
    let p = unique_prefix("list_sorted");
    let written = ["z", "a/b", "é", "aB", "A", "a.b", "a~", "a-b", "a/a/a", "0"];
    for n in written {
        ok("write", b.write(&format!("{p}{n}"), b"x"));
    }
    let expected = strings(
        &p,
        &["0", "A", "a-b", "a.b", "a/a/a", "a/b", "aB", "a~", "z", "é"],
    );
    assert_eq!(ok("list", b.list(&p)), expected);
    let lister = b
        .as_object_lister()
        .expect("backend must implement ObjectLister");
    let listed: Vec<String> = ok("list_objects", lister.list_objects(&p))
        .into_iter()
        .map(|i| i.path)
        .collect();
    assert_eq!(listed, expected, "list_objects order");
    cleanup(b, &p);
}

/// `list_objects` gives each key with its exact size and a modification time
/// within the allowed clock skew of now, in the order of `list`.
pub fn list_objects_reports_exact_sizes_and_recent_modification_times(
    b: &dyn Backend,
    o: &Options,
) {
    let p = unique_prefix("list_objects");
    let lister = b
        .as_object_lister()
        .expect("backend must implement ObjectLister");
    let objects = [
        ("a/empty", 0usize),
        ("a/one", 1),
        ("b", 1000),
        ("c/d/e", 70_001),
    ];
    let before = SystemTime::now();
    for (i, (n, len)) in objects.iter().enumerate() {
        ok(
            "write",
            b.write(
                &format!("{p}{n}"),
                &pseudo_random_bytes(*len, 800 + i as u64),
            ),
        );
    }
    let after = SystemTime::now();
    let infos = ok("list_objects", lister.list_objects(&p));
    let got: Vec<(String, u64)> = infos.iter().map(|i| (i.path.clone(), i.size)).collect();
    let want: Vec<(String, u64)> = objects
        .iter()
        .map(|(n, l)| (format!("{p}{n}"), *l as u64))
        .collect();
    assert_eq!(got, want, "paths and sizes");
    for info in &infos {
        let lm = info.last_modified;
        assert!(
            lm >= before - o.max_clock_skew && lm <= after + o.max_clock_skew,
            "{}: last_modified {lm:?} is not within {:?} of the write ({before:?}..{after:?})",
            info.path,
            o.max_clock_skew
        );
    }
    let sub = ok("list_objects", lister.list_objects(&format!("{p}a/")));
    assert_eq!(
        sub.iter().map(|i| i.path.as_str()).collect::<Vec<_>>(),
        [format!("{p}a/empty"), format!("{p}a/one")]
    );
    assert_eq!(
        ok("list_objects", lister.list_objects(&format!("{p}zz"))),
        vec![]
    );
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Offsets
// ---------------------------------------------------------------------------

/// `read_to_at` streams from the offset to the end: 0 is everything, the
/// last byte is one byte, an offset at or past the end is `InvalidArgument`
/// (except 0 on an empty object, which reads nothing).
pub fn read_to_at_streams_from_offset_and_refuses_offsets_at_or_past_the_end(
    b: &dyn Backend,
    _o: &Options,
) {
    let p = unique_prefix("read_to_at");
    let key = format!("{p}obj");
    let empty = format!("{p}empty");
    let data = pseudo_random_bytes(100_003, 900);
    let len = data.len() as u64;
    ok("write", b.write(&key, &data));
    ok("write", b.write(&empty, b""));

    for offset in [0u64, 1, 50_001, len - 1] {
        let mut out = Vec::new();
        let n = ok(
            &format!("read_to_at {offset}"),
            b.read_to_at(&key, &mut out, offset),
        );
        assert_eq!(n, len - offset, "read_to_at({offset}) count");
        assert_same_bytes(
            &format!("read_to_at({offset})"),
            &out,
            &data[offset as usize..],
        );
    }
    for offset in [len, len + 1, len + 1_000_000, u64::MAX] {
        let mut out = Vec::new();
        assert_kind(
            &format!("read_to_at({offset}) of a {len}-byte object"),
            b.read_to_at(&key, &mut out, offset),
            ErrorKind::InvalidArgument,
        );
        assert!(
            out.is_empty(),
            "read_to_at({offset}) wrote {} bytes before failing",
            out.len()
        );
    }

    let mut out = Vec::new();
    assert_eq!(
        ok("read_to_at 0 of empty", b.read_to_at(&empty, &mut out, 0)),
        0
    );
    assert!(out.is_empty());
    assert_kind(
        "read_to_at(1) of an empty object",
        b.read_to_at(&empty, &mut out, 1),
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        "read_to_at of a missing key",
        b.read_to_at(&format!("{p}missing"), &mut out, 0),
        ErrorKind::NotFound,
    );
    assert_kind(
        "read_to_at(5) of a missing key",
        b.read_to_at(&format!("{p}missing"), &mut out, 5),
        ErrorKind::NotFound,
    );
    assert!(out.is_empty());
    cleanup(b, &p);
}

/// `read_range` fills the buffer from the offset and returns the count,
/// short only at the end of the object, leaving the rest of the buffer
/// alone; an offset at or past the end is `InvalidArgument`.
pub fn read_range_fills_from_offset_and_refuses_offsets_at_or_past_the_end(
    b: &dyn Backend,
    _o: &Options,
) {
    let p = unique_prefix("read_range");
    let key = format!("{p}obj");
    let empty = format!("{p}empty");
    let data = pseudo_random_bytes(100_003, 1000);
    let len = data.len();
    ok("write", b.write(&key, &data));
    ok("write", b.write(&empty, b""));

    // (offset, buffer size, expected count)
    let cases = [
        (0usize, len, len),
        (0, 10, 10),
        (0, len + 50, len),
        (50_001, 1000, 1000),
        (50_001, 1, 1),
        (len - 1, 1, 1),
        (len - 1, 10, 1),
        (len - 100, 4096, 100),
        (7, 0, 0),
    ];
    for (offset, size, want) in cases {
        let mut buf = vec![0xEEu8; size];
        let n = ok(
            &format!("read_range({offset}, {size})"),
            b.read_range(&key, offset as u64, &mut buf),
        );
        assert_eq!(n, want, "read_range({offset}, {size}) count");
        assert_same_bytes(
            &format!("read_range({offset}, {size})"),
            &buf[..n],
            &data[offset..offset + n],
        );
        assert!(
            buf[n..].iter().all(|&x| x == 0xEE),
            "read_range({offset}, {size}) wrote past its count"
        );
    }
    for offset in [len as u64, len as u64 + 1, u64::MAX] {
        let mut buf = vec![0xEEu8; 16];
        assert_kind(
            &format!("read_range({offset}) of a {len}-byte object"),
            b.read_range(&key, offset, &mut buf),
            ErrorKind::InvalidArgument,
        );
        assert!(
            buf.iter().all(|&x| x == 0xEE),
            "a refused read_range wrote into the buffer"
        );
    }

    let mut buf = vec![0xEEu8; 16];
    assert_eq!(
        ok("read_range 0 of empty", b.read_range(&empty, 0, &mut buf)),
        0
    );
    assert!(buf.iter().all(|&x| x == 0xEE));
    assert_kind(
        "read_range(1) of an empty object",
        b.read_range(&empty, 1, &mut buf),
        ErrorKind::InvalidArgument,
    );
    assert_kind(
        "read_range of a missing key",
        b.read_range(&format!("{p}missing"), 0, &mut buf),
        ErrorKind::NotFound,
    );
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Deletes
// ---------------------------------------------------------------------------

/// `delete_batch` deletes every present key; missing keys (also under
/// missing directories) are not failures.
pub fn delete_batch_skips_missing_keys_and_deletes_the_rest(b: &dyn Backend, _o: &Options) {
    let p = unique_prefix("delete_batch");
    let batch = b
        .as_batch_deleter()
        .expect("backend must implement BatchDeleter");
    for n in ["a", "b", "c", "d/e"] {
        ok("write", b.write(&format!("{p}{n}"), n.as_bytes()));
    }
    let targets = strings(&p, &["a", "missing", "c", "no/such/dir/x", "d/e", "a"]);
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    ok("delete_batch with missing keys", batch.delete_batch(&refs));
    assert_eq!(ok("list", b.list(&p)), strings(&p, &["b"]));
    assert_object(b, &format!("{p}b"), b"b");
    ok("empty delete_batch", batch.delete_batch(&[]));
    ok(
        "delete_batch of only missing keys",
        batch.delete_batch(&refs),
    );
    assert_eq!(ok("list", b.list(&p)), strings(&p, &["b"]));
    cleanup(b, &p);
}

/// An invalid key in a batch is reported as an `InvalidPath` failure naming
/// it, and every valid key of the batch is still deleted.
pub fn delete_batch_reports_invalid_keys_and_deletes_the_rest(b: &dyn Backend, _o: &Options) {
    let p = unique_prefix("delete_batch_invalid");
    let batch = b
        .as_batch_deleter()
        .expect("backend must implement BatchDeleter");
    ok("write", b.write(&format!("{p}a"), b"a"));
    ok("write", b.write(&format!("{p}b"), b"b"));
    let bad = format!("{p}x/../b");
    let a = format!("{p}a");
    let err = batch
        .delete_batch(&[a.as_str(), bad.as_str()])
        .expect_err("a batch with an invalid key must fail");
    assert_eq!(err.kind(), ErrorKind::InvalidPath, "{err:?}");
    if let Error::Batch { failures } = &err {
        assert_eq!(
            failures.len(),
            1,
            "only the invalid key fails: {failures:?}"
        );
        assert_eq!(failures[0].path, bad);
        assert_eq!(failures[0].error.kind(), ErrorKind::InvalidPath);
    }
    assert!(
        !ok("exists", b.exists(&a)),
        "the valid key of the batch was not deleted"
    );
    assert_object(b, &format!("{p}b"), b"b");
    cleanup(b, &p);
}

/// A batch larger than one request of any store (S3: 1000, Azure: 256)
/// deletes every key.
pub fn delete_batch_of_more_keys_than_one_request_holds_deletes_them_all(
    b: &dyn Backend,
    _o: &Options,
) {
    const N: usize = 1100;
    let p = unique_prefix("delete_batch_large");
    let batch = b
        .as_batch_deleter()
        .expect("backend must implement BatchDeleter");
    let keys: Vec<String> = (0..N).map(|i| format!("{p}k{i:05}")).collect();
    std::thread::scope(|s| {
        for chunk in keys.chunks(N / 4 + 1) {
            s.spawn(move || {
                for k in chunk {
                    ok("write", b.write(k, k.as_bytes()));
                }
            });
        }
    });
    ok("write", b.write(&format!("{p}keep"), b"keep"));
    assert_eq!(ok("list", b.list(&p)).len(), N + 1);
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    ok("delete_batch of 1100 keys", batch.delete_batch(&refs));
    assert_eq!(ok("list", b.list(&p)), strings(&p, &["keep"]));
    cleanup(b, &p);
}

/// `delete` removes exactly the named object: it no longer exists, reads as
/// NotFound, is not listed, and its neighbours are untouched.
pub fn delete_removes_the_object_and_only_it(b: &dyn Backend, _o: &Options) {
    // (No key is both an object and a "directory" of others: a local
    // directory cannot hold a file and a directory of the same name.)
    let p = unique_prefix("delete");
    for n in ["obj", "obj2", "ob", "obj-dir/child"] {
        ok("write", b.write(&format!("{p}{n}"), n.as_bytes()));
    }
    let key = format!("{p}obj");
    ok("delete", b.delete(&key));
    assert!(!ok("exists", b.exists(&key)));
    assert_eq!(ok("stat_file", b.stat_file(&key)), None);
    assert_kind("read after delete", b.read(&key), ErrorKind::NotFound);
    assert_eq!(
        ok("list", b.list(&p)),
        strings(&p, &["ob", "obj-dir/child", "obj2"])
    );
    for n in ["ob", "obj2", "obj-dir/child"] {
        assert_object(b, &format!("{p}{n}"), n.as_bytes());
    }
    ok("second delete", b.delete(&key));
    cleanup(b, &p);
}

/// Deleting a key that does not exist (also under a missing directory)
/// succeeds and creates nothing.
pub fn delete_of_a_missing_key_is_ok(b: &dyn Backend, _o: &Options) {
    let p = unique_prefix("delete_missing");
    ok("delete missing", b.delete(&format!("{p}missing")));
    ok(
        "delete under a missing dir",
        b.delete(&format!("{p}no/such/dir/missing")),
    );
    assert_eq!(ok("list", b.list(&p)), Vec::<String>::new());
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Directories, existence, missing keys
// ---------------------------------------------------------------------------

/// `list_directories` names the immediate child directories (no slashes,
/// sorted) and gives the same answer for `p` and `p/`, so a directory tree
/// and a flat key space agree: `p/d1/x`, `p/d2/y`, `p/f` give `[d1, d2]`.
pub fn list_directories_names_immediate_children_sorted_with_or_without_slash(
    b: &dyn Backend,
    _o: &Options,
) {
    let p = unique_prefix("list_directories");
    let lister = b
        .as_directory_lister()
        .expect("backend must implement DirectoryLister");
    for n in ["d2/y", "d1/x", "d2/z/w", "f", "d10/a.b/c", "d1.txt"] {
        ok("write", b.write(&format!("{p}{n}"), b"x"));
    }
    let dirs = |prefix: &str| {
        ok(
            &format!("list_directories({prefix:?})"),
            lister.list_directories(&format!("{p}{prefix}")),
        )
    };
    let base = p.trim_end_matches('/');
    let without_slash = ok(
        "list_directories without slash",
        lister.list_directories(base),
    );
    assert_eq!(dirs(""), ["d1", "d10", "d2"], "children of {p:?}");
    assert_eq!(
        without_slash,
        ["d1", "d10", "d2"],
        "children of {base:?} (no trailing slash)"
    );
    assert_eq!(dirs("d2/"), ["z"]);
    assert_eq!(dirs("d2"), ["z"]);
    assert_eq!(dirs("d10"), ["a.b"]);
    assert_eq!(
        dirs("d1/"),
        Vec::<String>::new(),
        "a directory with only objects"
    );
    assert_eq!(
        dirs("d"),
        Vec::<String>::new(),
        "a partial name is not a directory"
    );
    assert_eq!(
        dirs("f"),
        Vec::<String>::new(),
        "an object is not a directory"
    );
    assert_eq!(
        dirs("missing/"),
        Vec::<String>::new(),
        "a missing directory"
    );
    cleanup(b, &p);
}

/// `exists`/`stat_file` say false/None for missing keys, keys under missing
/// directories and keys that are only a prefix of other keys; true/Some(size)
/// for objects, including empty ones.
pub fn exists_and_stat_file_tell_missing_from_present(b: &dyn Backend, o: &Options) {
    let p = unique_prefix("exists_stat");
    ok("write", b.write(&format!("{p}small"), b"thirteen byte"));
    ok("write", b.write(&format!("{p}empty"), b""));
    ok("write", b.write(&format!("{p}dir/child"), b"c"));
    for missing in ["missing", "no/such/dir/x", "dir", "di", "smal", "small/x"] {
        if missing == "dir" && !o.prefix_keys_are_addressable {
            continue;
        }
        let key = format!("{p}{missing}");
        assert!(!ok("exists", b.exists(&key)), "exists({key:?})");
        assert_eq!(
            ok("stat_file", b.stat_file(&key)),
            None,
            "stat_file({key:?})"
        );
    }
    assert!(ok("exists", b.exists(&format!("{p}small"))));
    assert_eq!(ok("stat_file", b.stat_file(&format!("{p}small"))), Some(13));
    assert!(
        ok("exists", b.exists(&format!("{p}empty"))),
        "an empty object exists"
    );
    assert_eq!(ok("stat_file", b.stat_file(&format!("{p}empty"))), Some(0));
    assert_eq!(
        ok("stat_file", b.stat_file(&format!("{p}dir/child"))),
        Some(1)
    );
    cleanup(b, &p);
}

/// Every read of a missing key is NotFound and writes nothing: a plain
/// missing key, one under a missing directory, and a key that is only a
/// prefix ("directory") of other keys.
pub fn reads_of_missing_keys_are_not_found(b: &dyn Backend, o: &Options) {
    let p = unique_prefix("read_missing");
    ok("write", b.write(&format!("{p}dir/child"), b"child"));
    let prefix_key = if o.prefix_keys_are_addressable {
        "dir"
    } else {
        "missing"
    };
    for missing in ["missing", "no/such/dir/x", prefix_key] {
        let key = format!("{p}{missing}");
        assert_kind(&format!("read({key:?})"), b.read(&key), ErrorKind::NotFound);
        let mut out = Vec::new();
        assert_kind(
            &format!("read_to({key:?})"),
            b.read_to(&key, &mut out),
            ErrorKind::NotFound,
        );
        assert_kind(
            &format!("read_to_at({key:?})"),
            b.read_to_at(&key, &mut out, 0),
            ErrorKind::NotFound,
        );
        assert!(
            out.is_empty(),
            "a failed read of {key:?} wrote {} bytes",
            out.len()
        );
        let mut buf = [0u8; 8];
        assert_kind(
            &format!("read_range({key:?})"),
            b.read_range(&key, 0, &mut buf),
            ErrorKind::NotFound,
        );
    }
    cleanup(b, &p);
}

/// `remove_directory` of a missing directory (with or without trailing `/`)
/// is Ok; on a directory that holds objects it may fail (local) or do
/// nothing (object stores), but never deletes an object.
pub fn remove_directory_of_a_missing_directory_is_ok_and_never_deletes_objects(
    b: &dyn Backend,
    _o: &Options,
) {
    let p = unique_prefix("remove_directory");
    let remover = b
        .as_directory_remover()
        .expect("backend must implement DirectoryRemover");
    ok("write", b.write(&format!("{p}full/obj"), b"obj"));
    ok(
        "remove missing",
        remover.remove_directory(&format!("{p}missing")),
    );
    ok(
        "remove missing/",
        remover.remove_directory(&format!("{p}missing/")),
    );
    ok(
        "remove missing nested",
        remover.remove_directory(&format!("{p}no/such/dir")),
    );
    let _ = remover.remove_directory(&format!("{p}full"));
    let _ = remover.remove_directory(&format!("{p}full/"));
    assert_object(b, &format!("{p}full/obj"), b"obj");
    assert_eq!(ok("list", b.list(&p)), strings(&p, &["full/obj"]));
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Invalid keys
// ---------------------------------------------------------------------------

/// Keys with `..` or `.` components, NUL bytes, `//`, a trailing `/`, or
/// nothing at all are `InvalidPath` on every operation, before anything is
/// read from a source or written anywhere: objects at the keys they would
/// normalise to are untouched.
pub fn invalid_keys_are_invalid_path_on_every_operation_and_touch_nothing(
    b: &dyn Backend,
    _o: &Options,
) {
    let p = unique_prefix("invalid_keys");
    // What each prefixed invalid key would mean if normalised, holding
    // sentinels that must survive.
    let sentinels = ["x", "b", "c", "d/e", "f", "a/b"];
    for s in sentinels {
        ok(
            "write sentinel",
            b.write(&format!("{p}{s}"), format!("sentinel {s}").as_bytes()),
        );
    }
    // Invalid as keys and as prefixes.
    let bad_everywhere: Vec<String> = vec![
        "../x".into(),
        "a/../b".into(),
        "a\0b".into(),
        "..".into(),
        "./c".into(),
        "a//b".into(),
        format!("{p}sub/../x"),
        format!("{p}a/../b"),
        format!(
            "{p}../{}",
            p.trim_end_matches('/').rsplit('/').next().unwrap()
        ),
        format!("{p}./c"),
        format!("{p}d//e"),
        format!("{p}a\0b"),
        format!("{p}a/b\0"),
    ];
    // Invalid as object keys only (legal as listing prefixes).
    let bad_keys_only: Vec<String> = vec![
        "".into(),
        "/".into(),
        "//".into(),
        "a/".into(),
        format!("{p}f/"),
        format!("{p}a/"),
        // Longer than 1,024 bytes (S3's limit for an object's name, within
        // Azure's 1,024 characters), in components every file system holds.
        format!("{p}{}", vec!["k".repeat(200); 6].join("/")),
    ];

    for key in bad_everywhere.iter().chain(bad_keys_only.iter()) {
        let k = key.as_str();
        let what = |op: &str| format!("{op}({k:?})");
        assert_kind(&what("write"), b.write(k, b"evil"), ErrorKind::InvalidPath);
        let calls = AtomicUsize::new(0);
        assert_kind(
            &what("write_reader"),
            b.write_reader(k, &mut CountingReader { calls: &calls }, Some(3)),
            ErrorKind::InvalidPath,
        );
        assert_kind(
            &what("write_reader (unknown size)"),
            b.write_reader(k, &mut CountingReader { calls: &calls }, None),
            ErrorKind::InvalidPath,
        );
        assert_eq!(
            calls.load(Ordering::Relaxed),
            0,
            "{}: the source was read",
            what("write_reader")
        );
        assert_kind(&what("read"), b.read(k), ErrorKind::InvalidPath);
        let mut out = Vec::new();
        assert_kind(
            &what("read_to"),
            b.read_to(k, &mut out),
            ErrorKind::InvalidPath,
        );
        assert_kind(
            &what("read_to_at"),
            b.read_to_at(k, &mut out, 0),
            ErrorKind::InvalidPath,
        );
        assert!(out.is_empty());
        let mut buf = [0u8; 4];
        assert_kind(
            &what("read_range"),
            b.read_range(k, 0, &mut buf),
            ErrorKind::InvalidPath,
        );
        assert_kind(&what("stat_file"), b.stat_file(k), ErrorKind::InvalidPath);
        assert_kind(&what("exists"), b.exists(k), ErrorKind::InvalidPath);
        assert_kind(&what("delete"), b.delete(k), ErrorKind::InvalidPath);
        let batch = b
            .as_batch_deleter()
            .expect("backend must implement BatchDeleter");
        assert_kind(
            &what("delete_batch"),
            batch.delete_batch(&[k]),
            ErrorKind::InvalidPath,
        );
        if let Some(app) = b.as_appending() {
            let calls = AtomicUsize::new(0);
            assert_kind(
                &what("append_reader"),
                app.append_reader(k, &mut CountingReader { calls: &calls }, 3),
                ErrorKind::InvalidPath,
            );
            assert_eq!(
                calls.load(Ordering::Relaxed),
                0,
                "{}: the source was read",
                what("append_reader")
            );
        }
    }
    let remover = b
        .as_directory_remover()
        .expect("backend must implement DirectoryRemover");
    for k in bad_everywhere.iter().map(String::as_str).chain(["", "/"]) {
        assert_kind(
            &format!("remove_directory({k:?})"),
            remover.remove_directory(k),
            ErrorKind::InvalidPath,
        );
    }
    let olister = b
        .as_object_lister()
        .expect("backend must implement ObjectLister");
    let dlister = b
        .as_directory_lister()
        .expect("backend must implement DirectoryLister");
    for k in &bad_everywhere {
        assert_kind(&format!("list({k:?})"), b.list(k), ErrorKind::InvalidPath);
        assert_kind(
            &format!("list_objects({k:?})"),
            olister.list_objects(k),
            ErrorKind::InvalidPath,
        );
        assert_kind(
            &format!("list_directories({k:?})"),
            dlister.list_directories(k),
            ErrorKind::InvalidPath,
        );
    }

    for s in sentinels {
        assert_object(b, &format!("{p}{s}"), format!("sentinel {s}").as_bytes());
    }
    let mut expected = strings(&p, &sentinels);
    expected.sort();
    assert_eq!(
        ok("list", b.list(&p)),
        expected,
        "invalid keys created or removed objects"
    );
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

/// Eight threads sharing the backend write, read back and overwrite their
/// own keys; every read gives that thread's latest bytes.
pub fn concurrent_writes_and_reads_of_distinct_keys_do_not_interfere(
    b: &dyn Backend,
    _o: &Options,
) {
    const THREADS: u64 = 8;
    const KEYS: u64 = 10;
    let p = unique_prefix("concurrent_distinct");
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let p = &p;
            s.spawn(move || {
                for round in 0..2u64 {
                    for k in 0..KEYS {
                        let key = format!("{p}t{t}/k{k}");
                        let data = pseudo_random_bytes(
                            (1000 + t * 997 + k * 4099 + round * 13) as usize,
                            t * 1000 + k * 10 + round,
                        );
                        if k % 2 == 0 {
                            ok("write", b.write(&key, &data));
                        } else {
                            ok(
                                "write_reader",
                                b.write_reader(&key, &mut &data[..], Some(data.len() as u64)),
                            );
                        }
                        assert_same_bytes(
                            &format!("read back {key:?}"),
                            &ok("read", b.read(&key)),
                            &data,
                        );
                    }
                }
            });
        }
    });
    let listed = ok("list", b.list(&p));
    assert_eq!(listed.len() as u64, THREADS * KEYS, "{listed:?}");
    for t in 0..THREADS {
        for k in 0..KEYS {
            let data = pseudo_random_bytes(
                (1000 + t * 997 + k * 4099 + 13) as usize,
                t * 1000 + k * 10 + 1,
            );
            assert_object(b, &format!("{p}t{t}/k{k}"), &data);
        }
    }
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Conditional writes
// ---------------------------------------------------------------------------

fn create() -> PutOptions {
    PutOptions::with_mode(PutMode::Create)
}

fn update(version: &str) -> PutOptions {
    PutOptions::with_mode(PutMode::Update(version.to_owned()))
}

/// The version a successful put reported (every backend reports one).
#[track_caller]
fn version_of(what: &str, result: blobio::Result<blobio::PutResult>) -> String {
    let put = ok(what, result);
    put.version
        .unwrap_or_else(|| panic!("{what}: the put reported no version"))
}

/// Eight threads put `key` at once with `options`, each the bytes
/// `"<who> <n>"`: exactly one is Ok, the others fail with `losers`, and the
/// object holds the winner's bytes.
fn race_of_eight(b: &dyn Backend, key: &str, who: &str, options: &PutOptions, losers: ErrorKind) {
    let barrier = std::sync::Barrier::new(8);
    let results: Vec<(usize, blobio::Result<blobio::PutResult>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8usize)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    let data = format!("{who} {t}").into_bytes();
                    barrier.wait();
                    (t, b.put(key, &data, options))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one {who} wins: {results:?}");
    for (t, r) in &results {
        if let Err(e) = r {
            assert_eq!(e.kind(), losers, "{who} {t}: {e:?}");
        }
    }
    assert_object(b, key, format!("{who} {}", winners[0]).as_bytes());
}

/// Eight threads create one key at once, each with bytes of its own: one
/// is Ok, seven are AlreadyExists, and the object holds the winner's bytes.
pub fn create_of_one_key_by_eight_threads_has_exactly_one_winner(b: &dyn Backend, o: &Options) {
    if !o.conditional_writes {
        return;
    }
    let p = unique_prefix("create_race");
    let key = format!("{p}manifest");
    race_of_eight(b, &key, "writer", &create(), ErrorKind::AlreadyExists);
    cleanup(b, &p);
}

/// A create of a key that holds an object is AlreadyExists from `put` and
/// `put_reader` (small, and large: an upload in parts, conditional at its
/// completion), and the object stays as it was; a create of a free key
/// works either way and reports the version an update then takes.
pub fn create_refuses_an_existing_object_and_leaves_it(b: &dyn Backend, o: &Options) {
    let p = unique_prefix("create_existing");
    let key = format!("{p}obj");
    let large = pseudo_random_bytes(o.large_object_size, 900);
    let first = version_of("create", b.put(&key, b"first", &create()));
    assert_kind("create again", b.put(&key, b"second", &create()), ErrorKind::AlreadyExists);
    if !o.conditional_writes {
        assert_object(b, &key, b"first");
        cleanup(b, &p);
        return;
    }
    assert_kind(
        "put_reader create, small",
        b.put_reader(&key, &mut &b"third"[..], Some(5), &create()),
        ErrorKind::AlreadyExists,
    );
    assert_kind(
        "put_reader create, large, unknown size",
        b.put_reader(&key, &mut ChunkyReader::new(&large), None, &create()),
        ErrorKind::AlreadyExists,
    );
    assert_object(b, &key, b"first");
    let big_key = format!("{p}big");
    let big = version_of(
        "put_reader create of a free key, large",
        b.put_reader(&big_key, &mut ChunkyReader::new(&large), None, &create()),
    );
    assert_object(b, &big_key, &large);
    assert_kind(
        "create over the large object",
        b.put(&big_key, b"x", &create()),
        ErrorKind::AlreadyExists,
    );
    ok("update with the create's version", b.put(&key, b"updated", &update(&first)));
    ok("update with the large create's version", b.put(&big_key, b"small", &update(&big)));
    assert_object(b, &key, b"updated");
    assert_object(b, &big_key, b"small");
    assert_eq!(ok("list", b.list(&p)), vec![big_key.clone(), key.clone()]);
    cleanup(b, &p);
}

/// An update with the version of the object works and reports a new
/// version; one with an older version, or of a key that is gone, is
/// PreconditionFailed and leaves the object (or its absence) as it was.
pub fn update_with_a_stale_version_fails_and_leaves_the_object(b: &dyn Backend, o: &Options) {
    if !o.conditional_writes {
        return;
    }
    let p = unique_prefix("update_stale");
    let key = format!("{p}pointer");
    let large = pseudo_random_bytes(o.large_object_size, 901);
    let v1 = version_of("plain put", b.put(&key, b"one", &PutOptions::default()));
    let v2 = version_of("update v1", b.put(&key, b"two", &update(&v1)));
    assert_ne!(v1, v2, "an update reports a new version");
    assert_kind("stale update", b.put(&key, b"three", &update(&v1)), ErrorKind::PreconditionFailed);
    if o.conditional_update_of_parts {
        assert_kind(
            "stale put_reader update, large",
            b.put_reader(&key, &mut ChunkyReader::new(&large), None, &update(&v1)),
            ErrorKind::PreconditionFailed,
        );
    }
    assert_kind(
        "stale put_reader update, small",
        b.put_reader(&key, &mut &b"four"[..], Some(4), &update(&v1)),
        ErrorKind::PreconditionFailed,
    );
    assert_object(b, &key, b"two");
    let v3 = version_of(
        "put_reader update v2, large",
        b.put_reader(&key, &mut ChunkyReader::new(&large), None, &update(&v2)),
    );
    assert_object(b, &key, &large);
    ok("update v3", b.put(&key, b"five", &update(&v3)));
    assert_object(b, &key, b"five");
    let gone = format!("{p}gone");
    assert_kind("update of a missing key", b.put(&gone, b"x", &update(&v1)), ErrorKind::PreconditionFailed);
    assert!(!ok("exists", b.exists(&gone)), "a failed update made {gone:?}");
    assert_eq!(ok("list", b.list(&p)), vec![key.clone()]);
    cleanup(b, &p);
}

/// Eight threads update one key from the same version at once: one is Ok,
/// seven are PreconditionFailed, and the object holds the winner's bytes.
pub fn update_of_one_version_by_eight_threads_has_exactly_one_winner(b: &dyn Backend, o: &Options) {
    if !o.conditional_writes {
        return;
    }
    let p = unique_prefix("update_race");
    let key = format!("{p}pointer");
    let base = version_of("plain put", b.put(&key, b"base", &PutOptions::default()));
    race_of_eight(b, &key, "updater", &update(&base), ErrorKind::PreconditionFailed);
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Head, content type and metadata
// ---------------------------------------------------------------------------

fn with_attributes(content_type: Option<&str>, metadata: &[(&str, &str)]) -> PutOptions {
    PutOptions {
        content_type: content_type.map(str::to_owned),
        metadata: metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..PutOptions::default()
    }
}

#[track_caller]
fn assert_recent(what: &str, t: Option<SystemTime>, o: &Options) {
    let t = t.unwrap_or_else(|| panic!("{what}: no last-modified"));
    let now = SystemTime::now();
    let skew = match now.duration_since(t) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    assert!(skew <= o.max_clock_skew, "{what}: last-modified {t:?} is {skew:?} from now");
}

/// `head` reports what `put` and `put_reader` (small, and in parts) wrote:
/// size, the version the put returned, a recent modification time, the
/// content type and the metadata (sorted by name); an overwrite without
/// metadata has none; a missing key is NotFound.
pub fn head_reports_size_version_time_content_type_and_metadata(b: &dyn Backend, o: &Options) {
    let p = unique_prefix("head");
    let key = format!("{p}table.csv");
    let opts = with_attributes(Some("text/csv"), &[("rows", "42"), ("owner", "arc team")]);
    let version = version_of("put", b.put(&key, b"a,b\n1,2\n", &opts));
    let head = ok("head", b.head(&key));
    assert_eq!(head.size, 8, "{head:?}");
    assert_eq!(head.version.as_deref(), Some(version.as_str()), "{head:?}");
    assert_recent("head", head.last_modified, o);
    assert_eq!(head.content_type.as_deref(), Some("text/csv"), "{head:?}");
    let want = vec![
        ("owner".to_owned(), "arc team".to_owned()),
        ("rows".to_owned(), "42".to_owned()),
    ];
    assert_eq!(head.metadata, want, "{head:?}");
    assert_eq!(head.metadata_value("rows"), Some("42"));

    let large = pseudo_random_bytes(o.large_object_size, 902);
    let big_key = format!("{p}big.bin");
    let big = version_of(
        "put_reader in parts",
        b.put_reader(&big_key, &mut ChunkyReader::new(&large), None, &opts),
    );
    let head = ok("head of the large object", b.head(&big_key));
    assert_eq!(head.size, large.len() as u64);
    assert_eq!(head.version.as_deref(), Some(big.as_str()), "{head:?}");
    assert_eq!(head.content_type.as_deref(), Some("text/csv"), "{head:?}");
    assert_eq!(head.metadata, want, "{head:?}");

    ok("plain overwrite", b.write(&key, b"plain"));
    let head = ok("head after a plain overwrite", b.head(&key));
    assert_eq!(head.size, 5);
    assert!(head.metadata.is_empty(), "an overwrite replaces the metadata: {head:?}");
    assert_ne!(head.version.as_deref(), Some(version.as_str()));
    assert_kind("head of a missing key", b.head(&format!("{p}missing")), ErrorKind::NotFound);
    assert_kind("head of an invalid key", b.head(&format!("{p}a/../b")), ErrorKind::InvalidPath);
    cleanup(b, &p);
}

/// A `.parquet` key defaults to the Parquet type, and a content type
/// given wins over that default; metadata names and values that not every
/// store keeps alike are InvalidArgument and write nothing.
pub fn a_content_type_given_wins_over_the_default_and_metadata_is_checked(
    b: &dyn Backend,
    _o: &Options,
) {
    let p = unique_prefix("content_type");
    let parquet = format!("{p}part-0.parquet");
    ok("plain write", b.write(&parquet, b"PAR1"));
    assert_eq!(
        ok("head", b.head(&parquet)).content_type.as_deref(),
        Some("application/vnd.apache.parquet")
    );
    ok("put with a type", b.put(&parquet, b"PAR1", &with_attributes(Some("application/x-test"), &[])));
    assert_eq!(
        ok("head", b.head(&parquet)).content_type.as_deref(),
        Some("application/x-test")
    );
    let bad = format!("{p}bad");
    for (name, value) in [("Upper", "v"), ("with-dash", "v"), ("9lives", "v"), ("", "v"), ("ok", " padded"), ("ok", "tab\there"), ("ok", "caf\u{e9}")] {
        assert_kind(
            &format!("metadata {name:?}={value:?}"),
            b.put(&bad, b"x", &with_attributes(None, &[(name, value)])),
            ErrorKind::InvalidArgument,
        );
    }
    assert_kind(
        "an empty content type",
        b.put(&bad, b"x", &with_attributes(Some(""), &[])),
        ErrorKind::InvalidArgument,
    );
    assert!(!ok("exists", b.exists(&bad)), "a refused put wrote {bad:?}");
    cleanup(b, &p);
}

// ---------------------------------------------------------------------------
// Copy and rename
// ---------------------------------------------------------------------------

/// `copy` makes a second object with the same bytes, content type and
/// metadata (small and large), reports its version (what head says), and
/// leaves the source; with `Create` onto an object it is AlreadyExists and
/// with a stale `Update` PreconditionFailed, changing nothing; a missing
/// source is NotFound; a copy onto itself or with attributes is refused.
pub fn copy_duplicates_bytes_content_type_and_metadata_under_the_put_modes(
    b: &dyn Backend,
    o: &Options,
) {
    let p = unique_prefix("copy");
    let (src, dst) = (format!("{p}src.csv"), format!("{p}dir/dst.csv"));
    let opts = with_attributes(Some("text/csv"), &[("rows", "42")]);
    ok("put source", b.put(&src, b"a,b\n", &opts));
    let v = version_of("copy", b.copy(&src, &dst, &PutOptions::default()));
    assert_object(b, &dst, b"a,b\n");
    assert_object(b, &src, b"a,b\n");
    let head = ok("head of the copy", b.head(&dst));
    assert_eq!(head.version.as_deref(), Some(v.as_str()), "{head:?}");
    assert_eq!(head.content_type.as_deref(), Some("text/csv"), "{head:?}");
    assert_eq!(head.metadata_value("rows"), Some("42"), "{head:?}");

    let large = pseudo_random_bytes(o.large_object_size, 903);
    let big = format!("{p}big.bin");
    ok("put large", b.put(&big, &large, &opts));
    if o.conditional_writes && o.conditional_copy {
        assert_kind("copy create onto an object", b.copy(&big, &dst, &create()), ErrorKind::AlreadyExists);
        assert_kind(
            "copy with a stale update",
            b.copy(&big, &dst, &update(&format!("{v}-stale"))),
            ErrorKind::PreconditionFailed,
        );
        assert_object(b, &dst, b"a,b\n");
    }
    let v2 = version_of("copy update", b.copy(&big, &dst, &update(&v)));
    assert_object(b, &dst, &large);
    assert_eq!(ok("head", b.head(&dst)).metadata_value("rows"), Some("42"));
    let fresh = format!("{p}fresh.bin");
    ok("copy create of a free key", b.copy(&big, &fresh, &create()));
    assert_object(b, &fresh, &large);
    assert_ne!(v, v2);

    assert_kind("copy of a missing key", b.copy(&format!("{p}missing"), &format!("{p}x"), &PutOptions::default()), ErrorKind::NotFound);
    assert_kind("copy onto itself", b.copy(&src, &src, &PutOptions::default()), ErrorKind::InvalidArgument);
    assert_kind("copy with attributes", b.copy(&src, &format!("{p}y"), &opts), ErrorKind::InvalidArgument);
    assert_kind("copy to an invalid key", b.copy(&src, &format!("{p}../y"), &PutOptions::default()), ErrorKind::InvalidPath);
    let mut keys = vec![big.clone(), dst.clone(), fresh.clone(), src.clone()];
    keys.sort();
    assert_eq!(ok("list", b.list(&p)), keys);
    cleanup(b, &p);
}

/// `rename` moves the object (bytes, content type, metadata): the source
/// is gone, the target holds it; `Create` onto an object and a stale
/// `Update` are refused and move nothing; a missing source is NotFound.
pub fn rename_moves_the_object_under_the_put_modes(b: &dyn Backend, o: &Options) {
    let p = unique_prefix("rename");
    let (a, c) = (format!("{p}d1/a"), format!("{p}d2/c"));
    let opts = with_attributes(Some("text/plain"), &[("tag", "x")]);
    ok("put a", b.put(&a, b"alpha", &opts));
    let v = version_of("rename", b.rename(&a, &c, &PutOptions::default()));
    assert!(!ok("exists", b.exists(&a)), "the source stays after a rename");
    assert_object(b, &c, b"alpha");
    let head = ok("head", b.head(&c));
    assert_eq!(head.version.as_deref(), Some(v.as_str()));
    assert_eq!(head.content_type.as_deref(), Some("text/plain"));
    assert_eq!(head.metadata_value("tag"), Some("x"));

    let other = format!("{p}other");
    ok("put other", b.write(&other, b"other"));
    if o.conditional_writes && o.conditional_copy {
        assert_kind("rename create onto an object", b.rename(&other, &c, &create()), ErrorKind::AlreadyExists);
        assert_kind("rename with a stale update", b.rename(&other, &c, &update(&format!("{v}-stale"))), ErrorKind::PreconditionFailed);
        assert_object(b, &other, b"other");
        assert_object(b, &c, b"alpha");
    }
    ok("rename update", b.rename(&other, &c, &update(&v)));
    assert_object(b, &c, b"other");
    assert!(!ok("exists", b.exists(&other)));
    assert_kind("rename of a missing key", b.rename(&a, &format!("{p}z"), &PutOptions::default()), ErrorKind::NotFound);
    assert_eq!(ok("list", b.list(&p)), vec![c.clone()]);
    if let Some(d) = b.as_directory_lister() {
        assert_eq!(ok("list_directories", d.list_directories(&p)), vec!["d2".to_owned()]);
    }
    cleanup(b, &p);
}
