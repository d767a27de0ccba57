//! Cancellation and progress (issue 17) on the local store, s3s-fs, moto
//! and Azurite, the remote ones behind the fault proxy of
//! `support::proxy`: a call blocked on a server that sends nothing ends
//! with Cancelled within 100 ms of the cancel; so do parallel downloads and
//! multipart uploads (which leave no upload behind); retry pauses wake;
//! progress counts go up to the total, and a callback that says stop
//! cancels. Run by `scripts/test`, which starts the servers.
#![cfg(feature = "server-tests")]

mod common;
mod support;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blobio::{
    with_progress, AzureBlobBackend, Backend, CancelToken, ErrorKind, LocalBackend,
    ResilientBackend, ResilientConfig, RetryPolicy, S3Backend,
};
use support::azure::Azurite;
use support::proxy::{Cut, Fault, Proxy, Rule};
use support::{pseudo_random, S3Server, StreamSource};

const MIB: u64 = 1024 * 1024;
/// The spec: a cancelled call returns within this of the cancel.
const WITHIN: Duration = Duration::from_millis(100);
/// When the cancel comes, after the call started.
const AFTER: Duration = Duration::from_millis(200);

/// The timed cancels run one at a time: on two cores, the other tests of
/// this file running beside one (a 30 MiB upload, a parallel download)
/// delayed its return past the bound in a loaded run, which says nothing
/// of the cancel.
static TIMED: Mutex<()> = Mutex::new(());

fn timed() -> std::sync::MutexGuard<'static, ()> {
    TIMED.lock().unwrap_or_else(|p| p.into_inner())
}

fn host_port(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap();
    rest.split('/').next().unwrap().to_owned()
}

/// Stores with small parts and ranges, behind a proxy.
enum Server {
    S3(S3Server),
    Azure,
}

struct Case {
    store: Box<dyn Backend>,
    proxy: Proxy,
    /// The bucket (S3) or container.
    bucket: String,
    server: Server,
}

fn case(server: Server, tag: &str) -> Case {
    match server {
        Server::S3(s) => {
            let bucket = s.new_bucket(tag);
            let proxy = Proxy::start(&host_port(&s.endpoint()));
            let mut cfg = s.config(&bucket);
            cfg.endpoint = Some(proxy.url.clone());
            cfg.part_size = 5 * MIB;
            cfg.multipart_threshold = 8 * MIB;
            cfg.upload_concurrency = 2;
            cfg.download_threshold = 4 * MIB;
            cfg.download_part_size = MIB;
            cfg.download_concurrency = 4;
            Case {
                store: Box::new(S3Backend::new(cfg).unwrap()),
                proxy,
                bucket,
                server,
            }
        }
        Server::Azure => {
            let container = Azurite::Http.new_container(tag);
            let proxy = Proxy::start(&Azurite::Http.host_port());
            let mut cfg = Azurite::Http.config(&container);
            cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
            cfg.block_size = MIB;
            cfg.single_put_threshold = 2 * MIB;
            cfg.upload_concurrency = 2;
            cfg.download_threshold = 4 * MIB;
            cfg.download_part_size = MIB;
            cfg.download_concurrency = 4;
            Case {
                store: Box::new(AzureBlobBackend::new(cfg).unwrap()),
                proxy,
                bucket: container,
                server,
            }
        }
    }
}

/// Runs `call` with a token that another thread cancels `AFTER` it
/// started; returns the error kind and how long after the cancel the call
/// returned.
fn cancelled_after<T: std::fmt::Debug>(
    call: impl FnOnce() -> blobio::Result<T>,
) -> (ErrorKind, Duration) {
    let _one_at_a_time = timed();
    let token = CancelToken::new();
    let cancelled_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let canceller = {
        let (token, at) = (token.clone(), Arc::clone(&cancelled_at));
        std::thread::spawn(move || {
            std::thread::sleep(AFTER);
            *at.lock().unwrap() = Some(Instant::now());
            token.cancel();
        })
    };
    let out = token.scope(call);
    let returned = Instant::now();
    canceller.join().unwrap();
    let at = cancelled_at.lock().unwrap().expect("cancelled");
    let err = out.expect_err("the call was cancelled, it cannot succeed");
    let late = returned.saturating_duration_since(at);
    eprintln!("cancelled: {} returned {late:?} after the cancel: {err}", err.kind());
    (err.kind(), late)
}

/// Pushes `rule` to `proxy` and runs `call` with a token that is
/// cancelled `AFTER` the rule's fault hit; as [`cancelled_after`].
fn cancelled_after_fault<T: std::fmt::Debug>(
    proxy: &Proxy,
    rule: Rule,
    call: impl FnOnce() -> blobio::Result<T>,
) -> (ErrorKind, Duration) {
    let _one_at_a_time = timed();
    let token = CancelToken::new();
    let cancelled_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (t, at) = (token.clone(), Arc::clone(&cancelled_at));
    proxy.push(rule.then(move || {
        std::thread::spawn(move || {
            std::thread::sleep(AFTER);
            *at.lock().unwrap() = Some(Instant::now());
            t.cancel();
        });
    }));
    let out = token.scope(call);
    let returned = Instant::now();
    let at = cancelled_at
        .lock()
        .unwrap()
        .expect("the fault hit and the call was cancelled");
    let err = out.expect_err("the call was cancelled, it cannot succeed");
    let late = returned.saturating_duration_since(at);
    eprintln!("cancelled: {} returned {late:?} after the cancel: {err}", err.kind());
    (err.kind(), late)
}

fn assert_cancelled_in_time((kind, late): (ErrorKind, Duration), what: &str) {
    assert_eq!(kind, ErrorKind::Cancelled, "{what}");
    assert!(late <= WITHIN, "{what}: returned {late:?} after the cancel");
}

// ---------------------------------------------------------------------------
// A server that sends nothing
// ---------------------------------------------------------------------------

fn stalled_get_is_cancelled(server: Server) {
    let c = case(server, "cstall");
    let data = pseudo_random(256 * 1024, 7);
    c.store.write("stall/a.bin", &data).unwrap();

    // Half the body, then silence (the stall timeout is 30 s).
    c.proxy
        .push(Rule::new(Fault::Stall(Cut::Fraction(0.5))).method("GET").times(1));
    let r = cancelled_after(|| c.store.read("stall/a.bin"));
    assert_cancelled_in_time(r, "read of a stalled body");

    // No answer at all.
    c.proxy.push(Rule::new(Fault::BlackHole).method("GET").times(1));
    let mut sink = Vec::new();
    let r = cancelled_after(|| c.store.read_to("stall/a.bin", &mut sink));
    assert_cancelled_in_time(r, "read_to with no answer");

    c.proxy.push(Rule::new(Fault::BlackHole).method("HEAD").times(1));
    let r = cancelled_after(|| c.store.stat_file("stall/a.bin"));
    assert_cancelled_in_time(r, "stat with no answer");

    // The store is not poisoned: the next call, without the token, works.
    assert_eq!(c.store.read("stall/a.bin").unwrap(), data);
    // A cancelled token fails every later call at once, without a request.
    let token = CancelToken::new();
    token.cancel();
    let before = c.proxy.counters.total();
    let err = token.scope(|| c.store.delete("stall/a.bin")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    let err = token.scope(|| c.store.list("stall/")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(c.proxy.counters.total(), before, "no request was sent");
    assert!(c.store.exists("stall/a.bin").unwrap());
}

#[test]
fn stalled_get_is_cancelled_s3s_fs() {
    stalled_get_is_cancelled(Server::S3(S3Server::S3sFs));
}

#[test]
fn stalled_get_is_cancelled_moto() {
    stalled_get_is_cancelled(Server::S3(S3Server::Moto));
}

#[test]
fn stalled_get_is_cancelled_azurite() {
    stalled_get_is_cancelled(Server::Azure);
}

/// Behind the resilient wrapper: the cancel is not retried, and the
/// circuit does not count it as a failure.
#[test]
fn a_resilient_store_is_cancelled_without_a_retry_s3s_fs() {
    let c = case(Server::S3(S3Server::S3sFs), "cresil");
    let store = ResilientBackend::new(c.store, ResilientConfig::default()).unwrap();
    store.write("r/a.bin", b"resilient").unwrap();
    c.proxy
        .push(Rule::new(Fault::Stall(Cut::Fraction(0.5))).method("GET").times(10));
    let r = cancelled_after(|| store.read("r/a.bin"));
    assert_cancelled_in_time(r, "resilient read of a stalled body");
    assert_eq!(c.proxy.counters.count("GET", "r/a.bin"), 1, "no retry after the cancel");
    assert_eq!(store.stats().consecutive_failures, 0, "a cancel is no failure of the store");
    c.proxy.clear_faults();
    assert_eq!(store.read("r/a.bin").unwrap(), b"resilient");
}

/// A connect that never completes (a listener whose accept queue is
/// full drops the SYNs; the connect timeout is 1 s).
#[test]
fn a_hanging_connect_is_cancelled() {
    let stuck = support::proxy::UnresponsiveListener::start();
    let s = S3Server::Moto;
    let mut cfg = s.config("never-reached");
    cfg.endpoint = Some(stuck.url.clone());
    // Well above when the cancel comes; the bucket check at open waits
    // for it too.
    cfg.http.timeouts.connect = Duration::from_secs(1);
    let store = S3Backend::new(cfg).unwrap();
    let r = cancelled_after(|| store.read("k"));
    assert_cancelled_in_time(r, "read through a full accept queue");
    let r = cancelled_after(|| store.stat_file("k"));
    assert_cancelled_in_time(r, "stat through a full accept queue");
    drop(stuck);
}

/// A host name (not an address) is looked up aside for a call with a
/// token: the calls of a store named by `localhost` work, in a cancel
/// scope and out of one.
#[test]
fn a_host_name_is_looked_up_and_its_calls_work_in_a_cancel_scope() {
    let s = S3Server::S3sFs;
    let mut cfg = s.config(&s.new_bucket("cname"));
    cfg.endpoint = Some(s.endpoint().replace("127.0.0.1", "localhost"));
    assert!(cfg.endpoint.as_deref().unwrap().contains("://localhost:"));
    let store = S3Backend::new(cfg).unwrap();
    let token = CancelToken::new();
    token.scope(|| store.write("n/a.bin", b"by name")).unwrap();
    assert_eq!(token.scope(|| store.read("n/a.bin")).unwrap(), b"by name");
    assert_eq!(store.read("n/a.bin").unwrap(), b"by name");
    store.delete("n/a.bin").unwrap();
}

// ---------------------------------------------------------------------------
// Parallel downloads
// ---------------------------------------------------------------------------

fn parallel_download_is_cancelled(server: Server) {
    let c = case(server, "cpar");
    let data = pseudo_random(16 * MIB as usize, 8);
    c.store.write("par/big.bin", &data).unwrap();

    // Every GET stalls after a tenth of its body: the caller's first part
    // and the ranges on the worker threads are all stuck.
    c.proxy
        .push(Rule::new(Fault::Stall(Cut::Fraction(0.1))).method("GET").times(1000));
    let r = cancelled_after(|| c.store.read("par/big.bin"));
    assert_cancelled_in_time(r, "read in place, ranges on scoped threads");
    let stalled = c.proxy.counters.count("GET", "par/big.bin");
    assert!(stalled > 1, "ranges were in flight ({stalled} GETs)");

    let mut sink = Vec::new();
    let r = cancelled_after(|| c.store.read_to("par/big.bin", &mut sink));
    assert_cancelled_in_time(r, "read_to, ranges on the pool");
    c.proxy.clear_faults();
    assert_eq!(c.store.read("par/big.bin").unwrap(), data);
}

#[test]
fn parallel_download_is_cancelled_s3s_fs() {
    parallel_download_is_cancelled(Server::S3(S3Server::S3sFs));
}

#[test]
fn parallel_download_is_cancelled_moto() {
    parallel_download_is_cancelled(Server::S3(S3Server::Moto));
}

#[test]
fn parallel_download_is_cancelled_azurite() {
    parallel_download_is_cancelled(Server::Azure);
}

// ---------------------------------------------------------------------------
// Multipart uploads
// ---------------------------------------------------------------------------


fn multipart_upload_is_cancelled_and_aborted(server: Server) {
    let c = case(server, "cmpu");
    let part = match c.server {
        Server::S3(_) => "partNumber=2",
        Server::Azure => "comp=block&",
    };
    // The second part is read and never answered; the cancel comes
    // `AFTER` the proxy got it (the upload was started, a part is in).
    let rule = Rule::new(Fault::BlackHole).method("PUT").target(part).times(1);
    let r = cancelled_after_fault(&c.proxy, rule, || {
        let mut src = StreamSource::new(30 * MIB, 9, None);
        c.store.write_reader("mpu/never.bin", &mut src, None)
    });
    assert_cancelled_in_time(r, "multipart upload");
    c.proxy.clear_faults();
    assert!(!c.store.exists("mpu/never.bin").unwrap(), "no object");
    match c.server {
        Server::S3(s) => {
            assert_eq!(
                c.proxy.counters.count("POST", "uploadId="),
                0,
                "never completed"
            );
            assert_eq!(c.proxy.counters.count("DELETE", "uploadId="), 1, "aborted");
            if s == S3Server::Moto {
                assert_eq!(s.open_uploads(&c.bucket), 0, "no orphaned upload");
            }
        }
        Server::Azure => {
            // Uncommitted blocks are no object; the service drops them.
            assert_eq!(c.proxy.counters.count("PUT", "comp=blocklist"), 0, "never committed");
        }
    }
}

/// A server that answers neither the part nor the abort: the call still
/// ends, after the abort's grace of 1 s.
#[test]
fn an_unanswered_abort_does_not_hold_a_cancelled_upload_s3s_fs() {
    let c = case(Server::S3(S3Server::S3sFs), "cmpuhole");
    c.proxy
        .push(Rule::new(Fault::BlackHole).method("DELETE").target("uploadId=").times(1));
    let rule = Rule::new(Fault::BlackHole).method("PUT").target("partNumber=2").times(1);
    let (kind, late) = cancelled_after_fault(&c.proxy, rule, || {
        let mut src = StreamSource::new(30 * MIB, 15, None);
        c.store.write_reader("mpu/hole.bin", &mut src, None)
    });
    assert_eq!(kind, ErrorKind::Cancelled);
    assert!(late < Duration::from_millis(1500), "returned {late:?} after the cancel");
    assert_eq!(c.proxy.counters.count("DELETE", "uploadId="), 1, "the abort was sent");
}

#[test]
fn multipart_upload_is_cancelled_and_aborted_s3s_fs() {
    multipart_upload_is_cancelled_and_aborted(Server::S3(S3Server::S3sFs));
}

#[test]
fn multipart_upload_is_cancelled_and_aborted_moto() {
    multipart_upload_is_cancelled_and_aborted(Server::S3(S3Server::Moto));
}

#[test]
fn multipart_upload_is_cancelled_and_aborted_azurite() {
    multipart_upload_is_cancelled_and_aborted(Server::Azure);
}

// ---------------------------------------------------------------------------
// Retry pauses
// ---------------------------------------------------------------------------

#[test]
fn a_retry_pause_wakes_on_cancel_moto() {
    let s = S3Server::Moto;
    let bucket = s.new_bucket("cpause");
    let proxy = Proxy::start(&host_port(&s.endpoint()));
    let mut cfg = s.config(&bucket);
    cfg.endpoint = Some(proxy.url.clone());
    cfg.retry = RetryPolicy {
        max_retries: 5,
        base_delay: Duration::from_secs(5),
        max_delay: Duration::from_secs(5),
        jitter: false,
        ..RetryPolicy::default()
    };
    let store = S3Backend::new(cfg).unwrap();
    proxy.push(Rule::new(Fault::status(503)).times(100));
    let r = cancelled_after(|| store.read("k"));
    assert_cancelled_in_time(r, "a 503, then a 5 s pause");
    assert_eq!(proxy.counters.count("GET", "/k"), 1, "no retry after the cancel");
}

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------

/// The (done, total) a callback was given.
type Calls = Rc<RefCell<Vec<(u64, Option<u64>)>>>;

fn recording(stop_after: Option<usize>) -> (Calls, impl FnMut(u64, Option<u64>) -> bool) {
    let calls: Calls = Rc::default();
    let c = Rc::clone(&calls);
    (calls, move |done, total| {
        c.borrow_mut().push((done, total));
        stop_after.map_or(true, |n| c.borrow().len() < n)
    })
}

/// Counts never go down nor past the total, the last call is
/// `(total, total)`, and the calls were spaced by 100 ms or 1 MiB over
/// the `took` of the transfer.
fn check_progress(calls: &[(u64, Option<u64>)], total: u64, took: Duration, what: &str) {
    assert!(!calls.is_empty(), "{what}: {calls:?}");
    assert_eq!(*calls.last().unwrap(), (total, Some(total)), "{what}");
    for w in calls.windows(2) {
        assert!(w[0].0 <= w[1].0, "{what}: counts go down: {calls:?}");
    }
    for (done, t) in calls {
        if let Some(t) = t {
            assert_eq!(*t, total, "{what}: {calls:?}");
        }
        assert!(*done <= total, "{what}: {calls:?}");
    }
    // Rate limit: a call needs 1 MiB or 100 ms since the one before; plus
    // the final one.
    let most = total / MIB + took.as_millis() as u64 / 100 + 2;
    assert!(
        calls.len() as u64 <= most,
        "{what}: {} calls for {total} bytes in {took:?}",
        calls.len()
    );
}

/// A source that takes its time: 64 KiB every 5 ms.
struct Slow(StreamSource);

impl Read for Slow {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(5));
        self.0.read(buf)
    }
}

fn progress_goes_to_the_total_and_a_stop_cancels(store: &dyn Backend, proxy: Option<&Proxy>) {
    let len = 24 * MIB;
    let (calls, cb) = recording(None);
    let t = Instant::now();
    with_progress(cb, || {
        let mut src = StreamSource::new(len, 10, None);
        store.write_reader("prog/a.bin", &mut src, Some(len))
    })
    .unwrap();
    check_progress(&calls.borrow(), len, t.elapsed(), "write_reader of a known size");

    let (calls, cb) = recording(None);
    let t = Instant::now();
    with_progress(cb, || {
        let mut src = Slow(StreamSource::new(12 * MIB, 11, None));
        store.write_reader("prog/b.bin", &mut src, None)
    })
    .unwrap();
    let seen = calls.borrow();
    check_progress(&seen, 12 * MIB, t.elapsed(), "write_reader of an unknown size");
    assert_eq!(seen[0].1, None, "no total while the source has not ended: {seen:?}");
    drop(seen);

    let (calls, cb) = recording(None);
    let mut out = Vec::new();
    let t = Instant::now();
    let n = with_progress(cb, || store.read_to("prog/a.bin", &mut out)).unwrap();
    assert_eq!(n, len);
    check_progress(&calls.borrow(), len, t.elapsed(), "read_to");
    assert!(calls.borrow().len() >= 3, "calls on the way: {:?}", calls.borrow());
    let mut src = StreamSource::new(len, 10, None);
    let mut want = Vec::new();
    src.read_to_end(&mut want).unwrap();
    assert!(out == want, "read_to is byte-exact");

    let (calls, cb) = recording(None);
    let t = Instant::now();
    let got = with_progress(cb, || store.read("prog/a.bin")).unwrap();
    assert!(got == want);
    check_progress(&calls.borrow(), len, t.elapsed(), "read (parallel ranges)");

    if let Some(p) = proxy {
        // The first answer comes at once, the ranges at 4 MiB/s each: the
        // caller waits over a second for the range threads of a read into
        // memory, and tells the callback on the way.
        let mut cycle = vec![None];
        cycle.extend(std::iter::repeat(Some(Fault::Throttle(4 * MIB))).take(40));
        p.flap_methods(&["GET"], cycle);
        let (calls, cb) = recording(None);
        let t = Instant::now();
        let got = with_progress(cb, || store.read("prog/a.bin"));
        p.clear_faults();
        assert!(got.unwrap() == want);
        let seen = calls.borrow();
        check_progress(&seen, len, t.elapsed(), "read with slow ranges");
        let waiting = seen.iter().filter(|(done, _)| *done > 4 * MIB && *done < len).count();
        assert!(waiting >= 3, "calls while the ranges came in: {seen:?}");
    }

    // A callback that says stop on its second call cancels the call.
    let (calls, cb) = recording(Some(2));
    let mut sink = std::io::sink();
    let err = with_progress(cb, || store.read_to("prog/a.bin", &mut sink)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert_eq!(calls.borrow().len(), 2, "no call after the stop");

    let before = proxy.map(|p| p.counters.count("DELETE", "uploadId="));
    let (_, cb) = recording(Some(1));
    let err = with_progress(cb, || {
        let mut src = StreamSource::new(len, 12, None);
        store.write_reader("prog/stopped.bin", &mut src, None)
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(!store.exists("prog/stopped.bin").unwrap());
    if let (Some(p), Some(before), "s3") = (proxy, before, store.kind()) {
        assert_eq!(p.counters.count("DELETE", "uploadId="), before + 1, "aborted");
    }
    // The thread's callback is gone after with_progress: nothing recorded.
    let (calls, _) = recording(None);
    store.read("prog/b.bin").unwrap();
    assert!(calls.borrow().is_empty());
}

#[test]
fn progress_local() {
    let dir = common::TempDir::new("cancel-progress");
    let store = LocalBackend::new(dir.path()).unwrap();
    progress_goes_to_the_total_and_a_stop_cancels(&store, None);
}

#[test]
fn progress_s3s_fs() {
    let c = case(Server::S3(S3Server::S3sFs), "cprog");
    progress_goes_to_the_total_and_a_stop_cancels(&*c.store, Some(&c.proxy));
}

#[test]
fn progress_moto() {
    let c = case(Server::S3(S3Server::Moto), "cprog");
    progress_goes_to_the_total_and_a_stop_cancels(&*c.store, Some(&c.proxy));
    assert_eq!(S3Server::Moto.open_uploads(&c.bucket), 0, "no orphaned upload");
}

#[test]
fn progress_azurite() {
    let c = case(Server::Azure, "cprog");
    progress_goes_to_the_total_and_a_stop_cancels(&*c.store, Some(&c.proxy));
}

// ---------------------------------------------------------------------------
// The local store
// ---------------------------------------------------------------------------

/// A writer that takes its time: 5 ms a chunk.
struct SlowSink;

impl Write for SlowSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(Duration::from_millis(5));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn local_transfers_are_cancelled_between_chunks() {
    let dir = common::TempDir::new("cancel-local");
    let store = LocalBackend::new(dir.path()).unwrap();
    let r = cancelled_after(|| {
        let mut src = Slow(StreamSource::new(64 * MIB, 13, None));
        store.write_reader("l/a.bin", &mut src, None)
    });
    assert_cancelled_in_time(r, "local write_reader");
    assert!(!store.exists("l/a.bin").unwrap());

    store.write("l/b.bin", &pseudo_random(64 * MIB as usize, 14)).unwrap();
    let r = cancelled_after(|| store.read_to("l/b.bin", &mut SlowSink));
    assert_cancelled_in_time(r, "local read_to");
}
