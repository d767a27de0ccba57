//! The library against hostile servers and hostile files: answers that lie
//! about their length, listings that never end, 4xx answers whose detail
//! must survive, a 1 TiB sparse file in a local store, and (with the
//! `server-tests` feature, on s3s-fs, moto and Azurite) sources that give
//! more bytes than the size announced for them.
//!
//! The servers here are the scripted one of tests/support/hostile.rs, one
//! per test, on 127.0.0.1. Tests that could abort the process on a broken
//! engine (an allocation of 10^14 bytes aborts; it does not panic) run
//! their body in a child process of this test binary (see [`isolated`]), so
//! that an abort fails that test with the child's last words instead of
//! taking every other test of the binary down with it.

mod support;

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use blobio::{
    AzureBlobBackend, AzureBlobConfig, Backend, Error, ErrorKind, LocalBackend, S3Backend,
    S3Config, Timeouts,
};
use support::hostile::{
    scripted_error, HostileServer, Reply, DEV_ACCOUNT, EMPTY_PAGES_VALVE, ENDLESS_LIST_VALVE,
    lying_byte, HUGE_LENGTH, LYING_BODY_LEN, MAX_LENGTH, REQUEST_ID,
};

/// The well-known development key of Azurite's `devstoreaccount1`,
/// published in Microsoft's Azurite documentation (not a secret).
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Listing pages a client may fetch when every page repeats the previous
/// page's continuation token (or marker) before it must give up with an
/// error: the first page, the one that repeats its token, and one to spare.
const REPEATED_TOKEN_PAGE_BOUND: usize = 3;

/// Consecutive empty pages (no key, no prefix, yet truncated with a new
/// token) a client may follow before it stops. S3 may legitimately answer
/// a few empty truncated pages in a row; a thousand of them is a server
/// that leads the client on. The call must end (with an error or not)
/// within this many requests.
const EMPTY_PAGE_BOUND: usize = 1000;

/// The environment variable that tells a child process of this binary to
/// run the body of the named test (see [`isolated`]).
const CHILD_ENV: &str = "BLOBIO_HOSTILE_CHILD";

/// Runs `body` in a child process of this test binary (running only the
/// test `name`), and fails unless the child passed. An abort, a signal or
/// a panic in the child fails this test with the child's output.
fn isolated(name: &str, body: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .output()
        .expect("run the test in a child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let how = match (out.status.code(), out.status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(6)) => "SIGABRT (the process aborted)".to_owned(),
            (None, Some(sig)) => format!("signal {sig}"),
            (None, None) => "an unknown status".to_owned(),
        };
        panic!(
            "{name}, run in a child process, ended with {how}\n--- child stderr ---\n{}\n\
             --- child stdout ---\n{}",
            tail(&stderr),
            tail(&stdout)
        );
    }
    assert!(
        stdout.contains("1 passed"),
        "the child process did not run {name}:\n{stdout}"
    );
}

/// The last 4,000 characters of `text`.
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(4000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Short timeouts: a hang fails the test within seconds, not minutes.
fn quick_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        request: Duration::from_secs(10),
        stall: Duration::from_secs(10),
    }
}

/// An S3 store on `bucket` of the hostile server (path style, static keys).
fn s3_store(server: &HostileServer, bucket: &str) -> S3Backend {
    S3Backend::new(s3_config(server, bucket)).expect("S3 store on the hostile server")
}

/// The configuration of [`s3_store`].
fn s3_config(server: &HostileServer, bucket: &str) -> S3Config {
    let mut cfg = S3Config::new(bucket);
    cfg.endpoint = Some(server.url());
    cfg.region = Some("us-east-1".into());
    cfg.path_style = true;
    cfg.access_key = Some("hostile-access-key".into());
    cfg.secret_key = Some("hostile-secret-key".into());
    cfg.http.timeouts = quick_timeouts();
    cfg
}

/// An Azure store on `container` of the hostile server, from a connection
/// string naming it as the blob endpoint with Azurite's development key.
fn azure_store(server: &HostileServer, container: &str) -> AzureBlobBackend {
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={AZURITE_KEY};\
         BlobEndpoint={};",
        server.azure_endpoint()
    );
    let mut cfg = AzureBlobConfig::from_connection_string(cs, container);
    cfg.http.timeouts = quick_timeouts();
    AzureBlobBackend::new(cfg).expect("Azure store on the hostile server")
}

/// Every request the server saw went to `scenario` (nothing strayed to
/// another bucket, container or host path).
fn all_requests_name(server: &HostileServer, scenario: &str) {
    for r in server.requests() {
        assert!(
            r.path().split('/').any(|seg| seg == scenario),
            "a request outside {scenario}: {}\n{}",
            r.line(),
            server.describe()
        );
    }
}

// ---------------------------------------------------------------------------
// 1. A GET that announces 10^14 (or 2^63 - 1) bytes, sends 3 and closes

/// Which backend a test drives.
#[derive(Clone, Copy, Debug)]
enum Flavor {
    S3,
    Azure,
}

fn store_on(flavor: Flavor, server: &HostileServer, scenario: &str) -> Box<dyn Backend> {
    match flavor {
        Flavor::S3 => Box::new(s3_store(server, scenario)),
        Flavor::Azure => Box::new(azure_store(server, scenario)),
    }
}

/// `read` of an object whose GET announces `len` bytes and sends 3 must
/// fail (a truncated body is a Network error; an engine may instead refuse
/// up front to read that much into memory, an InvalidArgument), and never
/// abort the process trying to reserve `len` bytes.
fn lying_read(flavor: Flavor, scenario: &str, len: u64) {
    let server = HostileServer::scripted();
    let store = store_on(flavor, &server, scenario);
    let started = Instant::now();
    let result = store.read("obj");
    let err = match result {
        Ok(data) => panic!(
            "{flavor:?} read of an object announcing {len} bytes and sending {} succeeded \
             with {} bytes\n{}",
            LYING_BODY_LEN,
            data.len(),
            server.describe()
        ),
        Err(e) => e,
    };
    assert!(
        matches!(err.kind(), ErrorKind::Network | ErrorKind::InvalidArgument),
        "{flavor:?} read: expected a Network error (or InvalidArgument), got {:?}: {err}",
        err.kind()
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{flavor:?} read took {:?}",
        started.elapsed()
    );
    assert!(
        server.count(|r| r.method == "GET" && r.path().ends_with("/obj")) >= 1
            || err.kind() == ErrorKind::InvalidArgument,
        "no GET of the object was sent\n{}",
        server.describe()
    );
    all_requests_name(&server, scenario);
}

/// Bytes a `read_to` of a lying object may hand over before it fails: the
/// 3 the first answer sent, and those of the few resumed requests a
/// retrying engine may make (each sends 3 more). Every one of them must be
/// the object's byte at its place: a resumption never repeats or skips.
const LYING_READ_TO_BOUND: usize = 1024;

/// `read_to` into a `Vec` of the same object: a Network error, after the
/// 3 bytes the server sent (a few more if the engine resumed the cut
/// read), each of them in its place.
fn lying_read_to(flavor: Flavor, scenario: &str, len: u64) {
    let server = HostileServer::scripted();
    let store = store_on(flavor, &server, scenario);
    let mut sink: Vec<u8> = Vec::new();
    let err = match store.read_to("obj", &mut sink) {
        Ok(n) => panic!(
            "{flavor:?} read_to of an object announcing {len} bytes and sending 3 \
             succeeded with {n} bytes\n{}",
            server.describe()
        ),
        Err(e) => e,
    };
    assert_eq!(
        err.kind(),
        ErrorKind::Network,
        "{flavor:?} read_to: expected a Network error, got {err}"
    );
    let misplaced = sink
        .iter()
        .enumerate()
        .position(|(i, &b)| b != lying_byte(i as u64));
    assert!(
        sink.len() <= LYING_READ_TO_BOUND && misplaced.is_none(),
        "{flavor:?} read_to wrote {} bytes (at most {LYING_READ_TO_BOUND} expected), \
         the first out of place at {misplaced:?}: {:?}",
        sink.len(),
        String::from_utf8_lossy(&sink[..sink.len().min(64)])
    );
    if sink.len() as u64 != LYING_BODY_LEN {
        eprintln!("{flavor:?} read_to handed over {} bytes before failing", sink.len());
    }
    assert!(
        server.count(|r| r.method == "GET" && r.path().ends_with("/obj")) >= 1,
        "no GET of the object was sent\n{}",
        server.describe()
    );
    all_requests_name(&server, scenario);
}

#[test]
fn s3_read_of_a_10_pow_14_content_length_fails_without_aborting() {
    isolated("s3_read_of_a_10_pow_14_content_length_fails_without_aborting", || {
        lying_read(Flavor::S3, "huge-length", HUGE_LENGTH)
    });
}

#[test]
fn s3_read_of_an_i64_max_content_length_fails_without_aborting() {
    isolated("s3_read_of_an_i64_max_content_length_fails_without_aborting", || {
        lying_read(Flavor::S3, "max-length", MAX_LENGTH)
    });
}

#[test]
fn azure_read_of_a_10_pow_14_content_length_fails_without_aborting() {
    isolated("azure_read_of_a_10_pow_14_content_length_fails_without_aborting", || {
        lying_read(Flavor::Azure, "huge-length", HUGE_LENGTH)
    });
}

#[test]
fn azure_read_of_an_i64_max_content_length_fails_without_aborting() {
    isolated("azure_read_of_an_i64_max_content_length_fails_without_aborting", || {
        lying_read(Flavor::Azure, "max-length", MAX_LENGTH)
    });
}

#[test]
fn s3_read_to_of_a_lying_content_length_fails_after_3_bytes() {
    isolated("s3_read_to_of_a_lying_content_length_fails_after_3_bytes", || {
        lying_read_to(Flavor::S3, "huge-length", HUGE_LENGTH);
        lying_read_to(Flavor::S3, "max-length", MAX_LENGTH);
    });
}

#[test]
fn azure_read_to_of_a_lying_content_length_fails_after_3_bytes() {
    isolated("azure_read_to_of_a_lying_content_length_fails_after_3_bytes", || {
        lying_read_to(Flavor::Azure, "huge-length", HUGE_LENGTH);
        lying_read_to(Flavor::Azure, "max-length", MAX_LENGTH);
    });
}

/// The scripted server answers a ranged GET with 206 and the Content-Range
/// of an object of 10^14 bytes (what an engine that starts a large read
/// with a ranged GET sees): a window read from it fails the same way.
#[test]
fn s3_and_azure_read_range_of_a_lying_object_fail_without_aborting() {
    isolated("s3_and_azure_read_range_of_a_lying_object_fail_without_aborting", || {
        for flavor in [Flavor::S3, Flavor::Azure] {
            let server = HostileServer::scripted();
            let store = store_on(flavor, &server, "huge-length");
            let mut buf = vec![0u8; 1024];
            let err = store
                .read_range("obj", 0, &mut buf)
                .expect_err("a window of 1,024 bytes of which 3 came");
            assert_eq!(err.kind(), ErrorKind::Network, "{flavor:?}: {err}");
            let ranged = server.count(|r| {
                r.method == "GET" && (r.header("range").is_some() || r.header("x-ms-range").is_some())
            });
            assert!(ranged >= 1, "{flavor:?}: no ranged GET\n{}", server.describe());
        }
    });
}

// ---------------------------------------------------------------------------
// 2. A 1 TiB sparse file in a local store

const TIB: u64 = 1 << 40;

/// A fresh directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(support::unique(&format!("blobio-hostile-{tag}")));
        fs::create_dir_all(&dir).expect("make a temp dir");
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A writer that takes `limit` bytes and then fails.
struct FailsAfter {
    taken: u64,
    limit: u64,
}

impl Write for FailsAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.taken >= self.limit {
            return Err(io::Error::other("the writer is full on purpose"));
        }
        let n = buf.len().min((self.limit - self.taken) as usize);
        self.taken += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn local_read_of_a_1_tib_sparse_file_is_a_clear_error_and_windows_still_work() {
    isolated(
        "local_read_of_a_1_tib_sparse_file_is_a_clear_error_and_windows_still_work",
        || {
            let dir = TempDir::new("sparse");
            let file = File::create(dir.path().join("big.bin")).expect("create the file");
            file.set_len(TIB).expect("a 1 TiB sparse file (set_len)");
            file.write_all_at(b"head-of-the-file", 0).unwrap();
            file.write_all_at(b"tail-of-the-file", TIB - 16).unwrap();
            drop(file);
            let store = LocalBackend::new(dir.path()).expect("local store");
            assert_eq!(store.stat_file("big.bin").unwrap(), Some(TIB));

            let started = Instant::now();
            let err = store
                .read("big.bin")
                .expect_err("reading 1 TiB into memory must fail, not abort or succeed");
            assert!(
                matches!(err.kind(), ErrorKind::InvalidArgument | ErrorKind::Io),
                "expected InvalidArgument or Io, got {:?}: {err}",
                err.kind()
            );
            let text = err.to_string();
            assert!(
                text.contains(&TIB.to_string()),
                "the error names the size ({TIB} bytes): {text}"
            );
            assert!(text.contains("big.bin"), "the error names the path: {text}");
            eprintln!("read of 1 TiB refused as it should be: {text}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the refusal took {:?} (was the file read?)",
                started.elapsed()
            );

            // Small windows of it still read.
            let mut buf = [0u8; 16];
            assert_eq!(store.read_range("big.bin", 0, &mut buf).unwrap(), 16);
            assert_eq!(&buf, b"head-of-the-file");
            assert_eq!(store.read_range("big.bin", TIB - 16, &mut buf).unwrap(), 16);
            assert_eq!(&buf, b"tail-of-the-file");
            let mut middle = vec![1u8; 4096];
            assert_eq!(store.read_range("big.bin", TIB / 2, &mut middle).unwrap(), 4096);
            assert!(middle.iter().all(|&b| b == 0));
            let mut last = Vec::new();
            assert_eq!(store.read_to_at("big.bin", &mut last, TIB - 16).unwrap(), 16);
            assert_eq!(last, b"tail-of-the-file");

            // Streaming the whole file holds no more than a buffer: a writer
            // that fails after 1 MiB ends it at once.
            let mut writer = FailsAfter {
                taken: 0,
                limit: 1 << 20,
            };
            let err = store
                .read_to("big.bin", &mut writer)
                .expect_err("the writer fails after 1 MiB");
            assert_eq!(err.kind(), ErrorKind::Io, "{err}");
            assert_eq!(writer.taken, 1 << 20);
        },
    );
}

// ---------------------------------------------------------------------------
// 3. Listings that never end

/// List requests the server saw.
fn list_requests(server: &HostileServer, azure: bool) -> usize {
    server.count(|r| {
        if azure {
            r.query_param("comp") == Some("list")
        } else {
            r.query_param("list-type") == Some("2")
        }
    })
}

/// A listing whose every page repeats the previous token (and key) is an
/// error within [`REPEATED_TOKEN_PAGE_BOUND`] requests.
fn repeating_token(flavor: Flavor) {
    let azure = matches!(flavor, Flavor::Azure);
    let server = HostileServer::scripted();
    let store = store_on(flavor, &server, "endless-list");
    let before = list_requests(&server, azure);
    let result = store.list("");
    let pages = list_requests(&server, azure) - before;
    match result {
        Ok(keys) => panic!(
            "{flavor:?} list(\"\") of a listing that repeats its continuation token \
             succeeded with {} keys after {pages} list requests (the server gave up after \
             {ENDLESS_LIST_VALVE}); expected an error within {REPEATED_TOKEN_PAGE_BOUND}",
            keys.len()
        ),
        Err(e) => {
            assert!(
                pages <= REPEATED_TOKEN_PAGE_BOUND,
                "{flavor:?}: an error ({e}), but after {pages} list requests; expected at \
                 most {REPEATED_TOKEN_PAGE_BOUND}"
            );
            assert_ne!(e.kind(), ErrorKind::NotFound, "{flavor:?}: {e}");
        }
    }
    // list_objects pages the same way.
    let lister = store.as_object_lister().expect("an object lister");
    let before = list_requests(&server, azure);
    let result = lister.list_objects("");
    let pages = list_requests(&server, azure) - before;
    assert!(
        result.is_err() && pages <= REPEATED_TOKEN_PAGE_BOUND,
        "{flavor:?} list_objects: {:?} after {pages} list requests; expected an error within \
         {REPEATED_TOKEN_PAGE_BOUND}",
        result.map(|v| v.len())
    );
}

/// A listing of empty truncated pages, each with a new token, ends within
/// [`EMPTY_PAGE_BOUND`] requests (with an error or an empty list).
fn empty_pages(flavor: Flavor) {
    let azure = matches!(flavor, Flavor::Azure);
    let server = HostileServer::scripted();
    let store = store_on(flavor, &server, "empty-pages");
    let before = list_requests(&server, azure);
    let result = store.list("");
    let pages = list_requests(&server, azure) - before;
    assert!(
        pages <= EMPTY_PAGE_BOUND,
        "{flavor:?} list(\"\") followed {pages} empty pages with fresh tokens (the server \
         gave up after {EMPTY_PAGES_VALVE}) and ended with {:?}; expected it to stop within \
         {EMPTY_PAGE_BOUND}",
        result.map(|v| v.len()).map_err(|e| e.to_string())
    );
    if let Ok(keys) = result {
        assert!(keys.is_empty(), "{flavor:?}: keys out of empty pages: {keys:?}");
    }
}

#[test]
fn s3_list_with_a_repeating_continuation_token_is_an_error() {
    repeating_token(Flavor::S3);
}

#[test]
fn azure_list_with_a_repeating_next_marker_is_an_error() {
    repeating_token(Flavor::Azure);
}

#[test]
fn s3_list_of_endless_empty_pages_ends_within_a_bound() {
    empty_pages(Flavor::S3);
}

#[test]
fn azure_list_of_endless_empty_pages_ends_within_a_bound() {
    empty_pages(Flavor::Azure);
}

// ---------------------------------------------------------------------------
// 6. 4xx answers keep their detail

/// What is wrong with `err` as the error of a scripted `status` answer
/// (kind InvalidArgument, status, provider code, message, request id), or
/// `None` when all of it is right.
fn detail_problems(err: &Error, status: u16, azure: bool) -> Option<String> {
    let (code, message) = scripted_error(status, azure);
    let mut problems = Vec::new();
    if err.kind() != ErrorKind::InvalidArgument {
        problems.push(format!("kind {:?}, expected InvalidArgument", err.kind()));
    }
    if err.http_status() != Some(status) {
        problems.push(format!("http_status() {:?}, expected Some({status})", err.http_status()));
    }
    if err.provider_code() != Some(code) {
        problems.push(format!("provider_code() {:?}, expected Some({code:?})", err.provider_code()));
    }
    if err.request_id() != Some(REQUEST_ID) {
        problems.push(format!("request_id() {:?}, expected Some({REQUEST_ID:?})", err.request_id()));
    }
    let detail_message = err.service_detail().and_then(|d| d.message.as_deref());
    if detail_message != Some(message) {
        problems.push(format!("service message {detail_message:?}, expected {message:?}"));
    }
    if !err.to_string().contains(code) {
        problems.push("the message does not name the code".to_owned());
    }
    (!problems.is_empty()).then(|| format!("{}; error: {err}", problems.join(", ")))
}

/// The operations a status is tried with: writes (PUT) and reads (GET).
fn check_statuses(flavor: Flavor, cases: &[(u16, &str)]) {
    let azure = matches!(flavor, Flavor::Azure);
    let mut failures = Vec::new();
    for &(status, op) in cases {
        let server = HostileServer::scripted();
        let scenario = format!("status-{status}");
        let store = store_on(flavor, &server, &scenario);
        let result = match op {
            "write" => store.write("some/key", b"hello").map(|_| ()),
            "read" => store.read("some/key").map(|_| ()),
            other => unreachable!("{other}"),
        };
        match result {
            Ok(()) => failures.push(format!("{status} on {op}: succeeded")),
            Err(e) => {
                if let Some(p) = detail_problems(&e, status, azure) {
                    failures.push(format!("{status} on {op}: {p}"));
                }
            }
        }
        let sent = server.count(|r| r.path().ends_with("/some/key"));
        if sent == 0 {
            failures.push(format!("{status} on {op}: nothing was sent\n{}", server.describe()));
        }
    }
    assert!(
        failures.is_empty(),
        "{flavor:?}: {} of {} cases lost detail:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
}

#[test]
fn s3_400_keeps_code_message_and_request_id() {
    check_statuses(Flavor::S3, &[(400, "write"), (400, "read")]);
}

/// 416 is tried on a write: to a ranged GET it is the engine's word for
/// "nothing there" (an empty object, an offset at the end), which it may
/// check with a HEAD (that has no body to keep); to a PUT nothing
/// interprets it, and its detail must come through as it is.
#[test]
fn s3_411_413_414_416_keep_their_detail() {
    check_statuses(
        Flavor::S3,
        &[(411, "write"), (413, "write"), (414, "read"), (416, "write")],
    );
}

#[test]
fn azure_400_keeps_code_message_and_request_id() {
    check_statuses(Flavor::Azure, &[(400, "write"), (400, "read")]);
}

#[test]
fn azure_411_413_414_416_keep_their_detail() {
    check_statuses(
        Flavor::Azure,
        &[(411, "write"), (413, "write"), (414, "read"), (416, "write")],
    );
}

// ---------------------------------------------------------------------------
// 4. A source that gives more than the size announced (real servers)

#[cfg(feature = "server-tests")]
mod longer_sources {
    use super::*;
    use std::io::Read;
    use support::azure::Azurite;
    use support::{pseudo_random, S3Server};

    /// A reader that counts what it gave.
    struct Counting<'a> {
        data: &'a [u8],
        given: usize,
    }

    impl Read for Counting<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.data.len() - self.given);
            buf[..n].copy_from_slice(&self.data[self.given..self.given + n]);
            self.given += n;
            Ok(n)
        }
    }

    /// What is wrong with `result` as the refusal of a longer source.
    fn not_io(result: blobio::Result<()>, what: &str) -> Option<String> {
        match result {
            Ok(()) => Some(format!("{what}: succeeded; the source gave more than announced")),
            Err(e) if e.kind() != ErrorKind::Io => Some(format!("{what}: {:?} error, expected Io: {e}", e.kind())),
            Err(_) => None,
        }
    }

    fn expect_io(result: blobio::Result<()>, what: &str) {
        if let Some(p) = not_io(result, what) {
            panic!("{p}");
        }
    }

    /// `write_reader` of a source longer than `size` fails with Io and
    /// stores nothing; an object already at the key keeps its bytes. Every
    /// case is tried; the failures are reported together.
    fn longer_source(store: &dyn Backend, label: &str) {
        let data = pseudo_random(100, 7);
        let mut problems: Vec<String> = Vec::new();
        let write = |key: &str, size: u64, what: &str| {
            let mut src = Counting { data: &data, given: 0 };
            not_io(store.write_reader(key, &mut src, Some(size)), what)
        };
        let stored = |key: &str| store.stat_file(key).expect("stat_file");

        let fresh = format!("longer/{label}/fresh");
        problems.extend(write(&fresh, 50, "100 bytes announced as 50"));
        if let Some(n) = stored(&fresh) {
            problems.push(format!("100 bytes announced as 50: {n} bytes were stored"));
        }
        if store.exists(&fresh).unwrap() {
            problems.push("100 bytes announced as 50: exists() is true".into());
        }

        let old = format!("longer/{label}/old");
        store.write(&old, b"the old bytes").unwrap();
        problems.extend(write(&old, 50, "over an existing object, 100 bytes announced as 50"));
        let now = store.read(&old).unwrap();
        if now != b"the old bytes" {
            problems.push(format!("the existing object now holds {} other bytes", now.len()));
        }

        let zero = format!("longer/{label}/zero");
        problems.extend(write(&zero, 0, "100 bytes announced as 0"));
        if let Some(n) = stored(&zero) {
            problems.push(format!("100 bytes announced as 0: an object of {n} bytes was stored"));
        }

        let one_more = format!("longer/{label}/one-more");
        problems.extend(write(&one_more, 99, "100 bytes announced as 99"));
        if let Some(n) = stored(&one_more) {
            problems.push(format!("100 bytes announced as 99: {n} bytes were stored"));
        }
        assert!(problems.is_empty(), "{label}:\n  {}", problems.join("\n  "));
    }

    #[test]
    fn s3s_fs_refuses_a_source_longer_than_its_size() {
        let store = S3Server::S3sFs.new_store("longer");
        longer_source(&store, "s3s");
    }

    #[test]
    fn moto_refuses_a_source_longer_than_its_size() {
        let store = S3Server::Moto.new_store("longer");
        longer_source(&store, "moto");
    }

    #[test]
    fn azurite_refuses_a_source_longer_than_its_size() {
        let store = Azurite::Http.new_store("longer");
        longer_source(&store, "azurite");
    }

    /// The same at the multipart (staged blocks) path: the announced size
    /// is the threshold, the source one part (block) and a byte longer.
    #[test]
    fn multipart_and_block_uploads_refuse_a_longer_source() {
        const MIB: u64 = 1 << 20;
        let mut cfg = S3Server::S3sFs.config(&S3Server::S3sFs.new_bucket("longer-mp"));
        cfg.multipart_threshold = 5 * MIB;
        cfg.part_size = 5 * MIB;
        let s3 = S3Backend::new(cfg).unwrap();
        let data = pseudo_random((10 * MIB + 1) as usize, 9);
        let mut src = Counting { data: &data, given: 0 };
        expect_io(s3.write_reader("mp", &mut src, Some(5 * MIB)), "s3s multipart");
        assert_eq!(s3.stat_file("mp").unwrap(), None, "s3s: a multipart object was stored");

        let container = Azurite::Http.new_container("longer-blocks");
        let mut cfg = Azurite::Http.config(&container);
        cfg.single_put_threshold = 64 * 1024;
        cfg.block_size = 64 * 1024;
        let az = AzureBlobBackend::new(cfg).unwrap();
        let data = pseudo_random(256 * 1024 + 1, 10);
        let mut src = Counting { data: &data, given: 0 };
        expect_io(az.write_reader("blocks", &mut src, Some(128 * 1024)), "azurite blocks");
        assert_eq!(az.stat_file("blocks").unwrap(), None, "azurite: a block blob was stored");
    }
}

// ---------------------------------------------------------------------------
// 7. A server that ignores Range: every GET answers 200 with the whole object

/// The object of the range-ignoring server: 3 MiB + 7 bytes, a byte per
/// offset that tells where it came from.
const WHOLE_LEN: u64 = 3 * 1024 * 1024 + 7;

fn whole_object() -> Vec<u8> {
    (0..WHOLE_LEN).map(|i| (i % 251) as u8).collect()
}

/// Answers the bucket or container check, HEAD and GET of any object with
/// the whole object and its ETag, whatever Range was asked for.
fn range_ignoring_server() -> HostileServer {
    let data = whole_object();
    HostileServer::start(move |req| {
        if !req.path().ends_with("/obj") {
            return Reply::new(200); // the bucket or container check
        }
        match req.method.as_str() {
            "HEAD" => Reply::new(200)
                .header("etag", "\"v1\"")
                .header("content-length", WHOLE_LEN.to_string()),
            "GET" => Reply::new(200).header("etag", "\"v1\"").body(data.clone()),
            _ => Reply::new(405),
        }
    })
}

fn reads_from_a_server_that_ignores_ranges(flavor: Flavor) {
    let server = range_ignoring_server();
    let data = whole_object();
    let store = store_on(flavor, &server, "ignores-ranges");
    // Small download settings would go parallel; the 200 answer says the
    // server ignored the range, so the one answer is read as it is.
    assert!(store.read("obj").unwrap() == data, "{flavor:?}: read");
    let mut out = Vec::new();
    let offset = 1_234_567u64;
    assert_eq!(store.read_to_at("obj", &mut out, offset).unwrap(), WHOLE_LEN - offset);
    assert!(out == data[offset as usize..], "{flavor:?}: read_to_at skips to its offset");
    let mut buf = vec![0u8; 1000];
    assert_eq!(store.read_range("obj", offset, &mut buf).unwrap(), 1000);
    assert!(buf == data[offset as usize..offset as usize + 1000], "{flavor:?}: read_range");
    let mut tail = vec![0u8; 100];
    assert_eq!(store.read_range("obj", WHOLE_LEN - 10, &mut tail).unwrap(), 10);
    assert!(tail[..10] == data[data.len() - 10..]);
    let err = store.read_range("obj", WHOLE_LEN, &mut tail).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{flavor:?}: past the end: {err}");

    // read_ranges: every range (unordered, overlapping, one short at the
    // end) from the one whole-object answer.
    let spans = [(2_000_000u64, 5000usize), (10, 100), (50, 100), (WHOLE_LEN - 3, 50), (1_500_000, 700_000)];
    let mut bufs: Vec<Vec<u8>> = spans.iter().map(|&(_, l)| vec![0; l]).collect();
    let mut ranges: Vec<blobio::ReadRange<'_>> =
        spans.iter().zip(bufs.iter_mut()).map(|(&(o, _), b)| blobio::ReadRange::new(o, b)).collect();
    store.read_ranges("obj", &mut ranges).unwrap();
    let reads: Vec<usize> = ranges.iter().map(|r| r.read).collect();
    drop(ranges);
    for ((&(o, l), buf), n) in spans.iter().zip(&bufs).zip(reads) {
        let want = l.min((WHOLE_LEN - o) as usize);
        assert_eq!(n, want, "{flavor:?}: read_ranges at {o}");
        assert!(buf[..want] == data[o as usize..o as usize + want], "{flavor:?}: read_ranges at {o}");
    }
}

#[test]
fn s3_reads_from_a_server_that_ignores_ranges_are_byte_exact() {
    reads_from_a_server_that_ignores_ranges(Flavor::S3);
}

#[test]
fn azure_reads_from_a_server_that_ignores_ranges_are_byte_exact() {
    reads_from_a_server_that_ignores_ranges(Flavor::Azure);
}

// ---------------------------------------------------------------------------
// 7. A server that times out says so, and is asked again

/// A 408 is a Timeout (sent again, as every timeout is) that keeps what the
/// server said: status, code and request id, through the retries.
#[test]
fn a_408_is_a_timeout_that_keeps_its_detail_and_is_retried() {
    let server = HostileServer::start(|_req: &support::hostile::Request| {
        Reply::new(408).header("x-amz-request-id", REQUEST_ID).xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>RequestTimeout</Code>\
             <Message>Your socket connection to the server was not read from or written to \
             within the timeout period.</Message><RequestId>{REQUEST_ID}</RequestId></Error>"
        ))
    });
    let mut cfg = s3_config(&server, "timeouts");
    cfg.retry.max_retries = 2;
    cfg.retry.base_delay = Duration::from_millis(1);
    cfg.retry.max_delay = Duration::from_millis(5);
    let store = S3Backend::new(cfg).unwrap();
    let err = store.write("some/key", b"hello").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.http_status(), Some(408), "{err}");
    assert_eq!(err.provider_code(), Some("RequestTimeout"), "{err}");
    assert_eq!(err.request_id(), Some(REQUEST_ID), "{err}");
    assert!(err.to_string().contains("RequestTimeout"), "{err}");
    assert_eq!(server.count(|r| r.path().ends_with("/some/key")), 3, "{}", server.describe());
}
