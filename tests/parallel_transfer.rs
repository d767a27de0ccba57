//! Parallel ranged downloads, parallel batch deletes and resends on closed
//! connections, on s3s-fs, moto and Azurite, each seen through the counting
//! proxy of `support::proxy`. Run by `scripts/test`, which starts the servers.
#![cfg(feature = "server-tests")]

mod support;

use std::io::Write;

use blobio::{AzureBlobBackend, Backend, Error, S3Backend};
use support::azure::Azurite;
use support::proxy::{Fault, Proxy, SeenRequest};
use support::{pseudo_random, sha256_hex, S3Server};

const MIB: usize = 1024 * 1024;
/// Large enough for 48 ranges of 1 MiB.
const BIG: usize = 48 * MIB;

/// `host:port` of an `http://host:port[/...]` URL.
fn host_port(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap();
    rest.split('/').next().unwrap().to_owned()
}

/// A store behind a proxy, reading more than 4 MiB in 1 MiB ranges, 4 at
/// once, every read to a writer in parallel ranges (these servers answer
/// faster than the default `download_parallel_below`).
fn s3_store(server: S3Server, tag: &str) -> (S3Backend, Proxy) {
    s3_store_paced(server, tag, 0)
}

fn azure_store(tag: &str) -> (AzureBlobBackend, Proxy) {
    azure_store_paced(tag, 0)
}

/// [`s3_store`] with reads to a writer going parallel below `below` bytes
/// per second (`None`: the default).
fn s3_store_paced(server: S3Server, tag: &str, below: impl Into<Option<u64>>) -> (S3Backend, Proxy) {
    let proxy = Proxy::start(&host_port(&server.endpoint()));
    let mut cfg = server.config(&server.new_bucket(tag));
    cfg.endpoint = Some(proxy.url.clone());
    cfg.download_threshold = 4 * MIB as u64;
    cfg.download_part_size = MIB as u64;
    cfg.download_concurrency = 4;
    if let Some(below) = below.into() {
        cfg.download_parallel_below = below;
    }
    (S3Backend::new(cfg).expect("S3 store"), proxy)
}

fn azure_store_paced(tag: &str, below: impl Into<Option<u64>>) -> (AzureBlobBackend, Proxy) {
    let proxy = Proxy::start(&Azurite::Http.host_port());
    let mut cfg = Azurite::Http.config(&Azurite::Http.new_container(tag));
    cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
    cfg.download_threshold = 4 * MIB as u64;
    cfg.download_part_size = MIB as u64;
    cfg.download_concurrency = 4;
    if let Some(below) = below.into() {
        cfg.download_parallel_below = below;
    }
    (AzureBlobBackend::new(cfg).expect("Azure store"), proxy)
}

/// GETs of `key` seen since `since`: (without a range, with a range).
fn gets(proxy: &Proxy, since: usize, key: &str) -> (Vec<SeenRequest>, Vec<SeenRequest>) {
    let seen: Vec<SeenRequest> = proxy.counters.seen()[since..]
        .iter()
        .filter(|r| r.method == "GET" && r.target.contains(key))
        .cloned()
        .collect();
    let ranged = |r: &SeenRequest| r.header("range").or(r.header("x-ms-range")).is_some();
    let (with, without): (Vec<_>, Vec<_>) = seen.into_iter().partition(ranged);
    (without, with)
}

/// A writer that hashes what it is given.
#[derive(Default)]
struct Hashing(Vec<u8>);

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether a server keeps connections open between answers: moto's server
/// (Werkzeug) answers every request with `Connection: close`.
#[derive(Clone, Copy, PartialEq)]
enum KeepAlive {
    Yes,
    No,
}

fn large_reads_are_parallel_ranges_and_byte_exact(store: &dyn Backend, proxy: &Proxy, keep_alive: KeepAlive) {
    let data = pseudo_random(BIG, 61);
    let want = sha256_hex(&data);
    store.write("big/object.bin", &data).unwrap();

    // read: one ranged GET of its first part (the 4 MiB threshold), whose
    // Content-Range gives the size, then 44 ranges of 1 MiB, each
    // conditional on the ETag the first answer carried; no GET without a
    // range (no connection dropped mid-body).
    let before = proxy.counters.total();
    let connections = || proxy.counters.connections.load(std::sync::atomic::Ordering::SeqCst);
    let connected = connections();
    let got = store.read("big/object.bin").unwrap();
    assert_eq!(got.len(), BIG);
    assert_eq!(sha256_hex(&got), want, "read is not byte-exact");
    drop(got);
    let (plain, ranged) = gets(proxy, before, "big/object.bin");
    assert!(plain.is_empty(), "{plain:?}");
    let range_of = |r: &SeenRequest| r.header("range").or(r.header("x-ms-range")).unwrap().to_owned();
    let (first, rest): (Vec<_>, Vec<_>) = ranged.iter().partition(|r| r.header("if-match").is_none());
    assert_eq!(first.len(), 1, "one unconditional first request: {first:?}");
    assert_eq!(range_of(first[0]), format!("bytes=0-{}", 4 * MIB - 1));
    assert_eq!(rest.len(), BIG / MIB - 4, "one range per MiB after the first part");
    assert!(
        rest.iter().all(|r| r.header("if-match").is_some_and(|v| !v.is_empty())),
        "every range carries If-Match"
    );
    let mut starts: Vec<u64> = rest
        .iter()
        .map(|r| range_of(r).trim_start_matches("bytes=").split('-').next().unwrap().parse().unwrap())
        .collect();
    starts.sort_unstable();
    let expected: Vec<u64> = (4..BIG / MIB).map(|i| (i * MIB) as u64).collect();
    assert_eq!(starts, expected, "ranges cover the object once");
    // Every range's body is read to its end, which gives its connection
    // back to the pool: the 45 requests need at most one connection per
    // range in flight and the first (a range left unfinished would close
    // its connection, and the next range open a new one).
    let opened = connections() - connected;
    if keep_alive == KeepAlive::Yes {
        assert!(opened <= 5, "{opened} connections for 45 requests, 4 in flight");
    }

    // read_to, with the version it read.
    let mut w = Hashing::default();
    let mut version = None;
    let connected = connections();
    assert_eq!(store.read_to_checked("big/object.bin", &mut w, &mut version).unwrap(), BIG as u64);
    assert_eq!(sha256_hex(&w.0), want, "read_to is not byte-exact");
    let opened = connections() - connected;
    if keep_alive == KeepAlive::Yes {
        assert!(opened <= 5, "read_to opened {opened} connections, 4 ranges in flight");
    }
    let version = version.expect("the ETag is reported");

    // read_to_at from the middle (not on a range boundary), plain and
    // conditional on the version just read.
    let offset = 20 * MIB + 12_345;
    let before = proxy.counters.total();
    let mut w = Hashing::default();
    assert_eq!(
        store.read_to_at("big/object.bin", &mut w, offset as u64).unwrap(),
        (BIG - offset) as u64
    );
    assert_eq!(sha256_hex(&w.0), sha256_hex(&data[offset..]), "read_to_at is not byte-exact");
    let (_, ranged) = gets(proxy, before, "big/object.bin");
    assert!(ranged.len() > 2, "read_to_at from the middle went parallel: {}", ranged.len());
    let mut w = Hashing::default();
    let mut seen = None;
    store
        .read_to_at_checked("big/object.bin", &mut w, offset as u64, Some(&version), &mut seen)
        .unwrap();
    assert_eq!(seen.as_deref(), Some(version.as_str()));
    assert_eq!(sha256_hex(&w.0), sha256_hex(&data[offset..]));

    // Small objects stay one request.
    store.write("small", b"tiny").unwrap();
    let before = proxy.counters.total();
    assert_eq!(store.read("small").unwrap(), b"tiny");
    assert_eq!(proxy.counters.total() - before, 1);
    // Azurite keeps blobs in a bounded memory store: leave room.
    store.delete("big/object.bin").unwrap();
}

/// The range a GET asked for, as (first byte, last byte).
fn asked_range(r: &SeenRequest) -> (u64, u64) {
    let v = r.header("range").or(r.header("x-ms-range")).expect("a ranged GET");
    let (a, b) = v.trim_start_matches("bytes=").split_once('-').unwrap();
    (a.parse().unwrap(), b.parse().unwrap())
}

/// A read to a writer whose first answer comes faster than
/// `download_parallel_below` (1 byte per second here) gets the rest in one
/// more request, of the version the first answer named; `read` into memory
/// still goes parallel.
fn a_fast_first_answer_brings_the_rest_in_one_request(store: &dyn Backend, proxy: &Proxy) {
    let data = pseudo_random(BIG, 62);
    store.write("fast/object.bin", &data).unwrap();
    let mut etag = None;
    for offset in [0, 20 * MIB + 12_345] {
        let before = proxy.counters.total();
        let mut w = Hashing::default();
        let mut seen = None;
        let n = store
            .read_to_at_checked("fast/object.bin", &mut w, offset as u64, etag.as_deref(), &mut seen)
            .unwrap();
        assert_eq!(n, (BIG - offset) as u64);
        assert_eq!(sha256_hex(&w.0), sha256_hex(&data[offset..]), "not byte-exact from {offset}");
        let (plain, ranged) = gets(proxy, before, "fast/object.bin");
        assert!(plain.is_empty(), "{plain:?}");
        assert_eq!(ranged.len(), 2, "the first answer and the rest: {ranged:?}");
        let first_end = (offset + 4 * MIB) as u64;
        assert_eq!(asked_range(&ranged[0]), (offset as u64, first_end - 1));
        assert_eq!(asked_range(&ranged[1]), (first_end, BIG as u64 - 1));
        let version = seen.clone().expect("the version is reported");
        assert_eq!(ranged[1].header("if-match"), Some(version.as_str()), "the rest is of one version");
        etag = seen;
    }
    let before = proxy.counters.total();
    assert_eq!(sha256_hex(&store.read("fast/object.bin").unwrap()), sha256_hex(&data));
    let (_, ranged) = gets(proxy, before, "fast/object.bin");
    assert_eq!(ranged.len(), 1 + (BIG - 4 * MIB) / MIB, "read into memory is parallel");
    store.delete("fast/object.bin").unwrap();
}

#[test]
fn s3s_a_fast_first_answer_brings_the_rest_in_one_request() {
    let (store, proxy) = s3_store_paced(S3Server::S3sFs, "fast-s3s", 1);
    a_fast_first_answer_brings_the_rest_in_one_request(&store, &proxy);
}

#[test]
fn moto_a_fast_first_answer_brings_the_rest_in_one_request() {
    let (store, proxy) = s3_store_paced(S3Server::Moto, "fast-moto", 1);
    a_fast_first_answer_brings_the_rest_in_one_request(&store, &proxy);
}

#[test]
fn azurite_a_fast_first_answer_brings_the_rest_in_one_request() {
    let (store, proxy) = azure_store_paced("fast-az", 1);
    a_fast_first_answer_brings_the_rest_in_one_request(&store, &proxy);
}

/// The rest in one request is cut halfway: it is asked for again from the
/// first byte not yet written, of the same version, and the read is whole.
fn the_rest_cut_short_resumes_where_it_stopped(store: &dyn Backend, proxy: &Proxy) {
    let data = pseudo_random(12 * MIB, 63);
    store.write("fast/cut.bin", &data).unwrap();
    let before = proxy.counters.total();
    // The first GET passes, the second (the rest) is cut halfway.
    proxy.flap_methods(&["GET"], vec![None, Some(Fault::cut_at(0.5)), None, None]);
    let mut w = Hashing::default();
    let n = store.read_to("fast/cut.bin", &mut w);
    proxy.clear_faults();
    assert_eq!(n.unwrap(), data.len() as u64);
    assert!(w.0 == data, "the resumed read is not byte-exact");
    let (_, ranged) = gets(proxy, before, "fast/cut.bin");
    assert_eq!(ranged.len(), 3, "{ranged:?}");
    let rest = (4 * MIB) as u64..data.len() as u64;
    assert_eq!(asked_range(&ranged[1]), (rest.start, rest.end - 1));
    let cut = rest.start + (rest.end - rest.start) / 2;
    assert_eq!(asked_range(&ranged[2]), (cut, rest.end - 1), "resumed where the cut left it");
    assert_eq!(ranged[2].header("if-match"), ranged[1].header("if-match"));
    assert!(ranged[2].header("if-match").is_some_and(|v| !v.is_empty()));
    store.delete("fast/cut.bin").unwrap();
}

/// The object replaced while the first answer streams: the rest, asked for
/// in one request of the first answer's version, fails as ChangedDuringRead
/// (s3s-fs ignores If-Match: the ETag comparison catches it).
#[test]
fn s3s_replaced_object_fails_the_rest_in_one_request() {
    let (store, _proxy) = s3_store_paced(S3Server::S3sFs, "replaced-fast-s3s", 1);
    a_replaced_object_fails_with_changed_during_read(&store);
}

#[test]
fn azurite_replaced_object_fails_the_rest_in_one_request() {
    let (store, _proxy) = azure_store_paced("replaced-fast-az", 1);
    a_replaced_object_fails_with_changed_during_read(&store);
}

#[test]
fn s3s_the_rest_cut_short_resumes_where_it_stopped() {
    let (store, proxy) = s3_store_paced(S3Server::S3sFs, "cut-s3s", 1);
    the_rest_cut_short_resumes_where_it_stopped(&store, &proxy);
}

#[test]
fn azurite_the_rest_cut_short_resumes_where_it_stopped() {
    let (store, proxy) = azure_store_paced("cut-az", 1);
    the_rest_cut_short_resumes_where_it_stopped(&store, &proxy);
}

/// With the default `download_parallel_below` (256 MiB/s), a first answer
/// at 8 MiB/s (the proxy throttles it) sends the rest as parallel ranges.
fn a_slow_first_answer_sends_the_rest_in_parallel_ranges(store: &dyn Backend, proxy: &Proxy) {
    let data = pseudo_random(12 * MIB, 64);
    store.write("slow/object.bin", &data).unwrap();
    let before = proxy.counters.total();
    proxy.push(support::proxy::Rule::new(Fault::Throttle(8 * MIB as u64)).method("GET").times(1));
    let mut w = Hashing::default();
    assert_eq!(store.read_to("slow/object.bin", &mut w).unwrap(), data.len() as u64);
    assert!(w.0 == data, "not byte-exact");
    assert_eq!(proxy.pending_rules(), 0, "the first answer was throttled");
    let (_, ranged) = gets(proxy, before, "slow/object.bin");
    assert_eq!(ranged.len(), 1 + 8, "the first answer and eight 1 MiB ranges: {ranged:?}");
    let mut starts: Vec<u64> = ranged[1..].iter().map(|r| asked_range(r).0).collect();
    starts.sort_unstable();
    assert_eq!(starts, (4..12).map(|i| (i * MIB) as u64).collect::<Vec<_>>());
    assert!(ranged[1..].iter().all(|r| r.header("if-match").is_some_and(|v| !v.is_empty())));
    store.delete("slow/object.bin").unwrap();
}

#[test]
fn s3s_a_slow_first_answer_sends_the_rest_in_parallel_ranges() {
    let (store, proxy) = s3_store_paced(S3Server::S3sFs, "slow-s3s", None);
    a_slow_first_answer_sends_the_rest_in_parallel_ranges(&store, &proxy);
}

#[test]
fn azurite_a_slow_first_answer_sends_the_rest_in_parallel_ranges() {
    let (store, proxy) = azure_store_paced("slow-az", None);
    a_slow_first_answer_sends_the_rest_in_parallel_ranges(&store, &proxy);
}

/// A writer taking about 6 MiB/s.
#[derive(Default)]
struct Slow(Vec<u8>);

impl Write for Slow {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        std::thread::sleep(std::time::Duration::from_secs_f64(buf.len() as f64 / (6 * MIB) as f64));
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Only the time waiting on the network counts: a writer slower than
/// `download_parallel_below` (8 MiB/s here) on a fast network still gets
/// the rest as one stream.
#[test]
fn a_slow_writer_does_not_make_the_network_look_slow() {
    let (store, proxy) = azure_store_paced("slow-writer", 8 * MIB as u64);
    let data = pseudo_random(8 * MIB, 65);
    store.write("slow/writer.bin", &data).unwrap();
    let before = proxy.counters.total();
    let mut w = Slow::default();
    assert_eq!(store.read_to("slow/writer.bin", &mut w).unwrap(), data.len() as u64);
    assert!(w.0 == data, "not byte-exact");
    let (_, ranged) = gets(&proxy, before, "slow/writer.bin");
    assert_eq!(ranged.len(), 2, "the first answer and the rest: {ranged:?}");
    store.delete("slow/writer.bin").unwrap();
}

/// A writer that replaces the object (same size, other bytes) on its first
/// write, then keeps what it is given.
struct Replacing<'a> {
    store: &'a dyn Backend,
    replacement: &'a [u8],
    replaced: bool,
    got: Vec<u8>,
}

impl Write for Replacing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.replaced {
            self.replaced = true;
            self.store
                .write("big/replaced.bin", self.replacement)
                .map_err(std::io::Error::other)?;
        }
        self.got.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn a_replaced_object_fails_with_changed_during_read(store: &dyn Backend) {
    let original = pseudo_random(BIG, 62);
    let replacement = pseudo_random(BIG, 63);
    store.write("big/replaced.bin", &original).unwrap();
    let mut w = Replacing {
        store,
        replacement: &replacement,
        replaced: false,
        got: Vec::new(),
    };
    let err = store.read_to("big/replaced.bin", &mut w).unwrap_err();
    let Error::ChangedDuringRead { delivered, .. } = err else {
        panic!("expected ChangedDuringRead, got {err:?}");
    };
    assert!(w.replaced);
    assert_eq!(delivered, w.got.len() as u64);
    assert!(w.got.len() < BIG, "the whole object was delivered");
    assert!(
        w.got[..] == original[..w.got.len()],
        "the bytes delivered are not a prefix of the original"
    );
    // The replacement is whole and readable.
    assert_eq!(sha256_hex(&store.read("big/replaced.bin").unwrap()), sha256_hex(&replacement));
    store.delete("big/replaced.bin").unwrap();
}

#[test]
fn s3s_large_reads_are_parallel_ranges_and_byte_exact() {
    let (store, proxy) = s3_store(S3Server::S3sFs, "par-s3s");
    large_reads_are_parallel_ranges_and_byte_exact(&store, &proxy, KeepAlive::Yes);
}

#[test]
fn moto_large_reads_are_parallel_ranges_and_byte_exact() {
    let (store, proxy) = s3_store(S3Server::Moto, "par-moto");
    large_reads_are_parallel_ranges_and_byte_exact(&store, &proxy, KeepAlive::No);
}

#[test]
fn azurite_large_reads_are_parallel_ranges_and_byte_exact() {
    let (store, proxy) = azure_store("par-az");
    large_reads_are_parallel_ranges_and_byte_exact(&store, &proxy, KeepAlive::Yes);
}

/// s3s-fs ignores If-Match: only the ETag comparison catches it.
#[test]
fn s3s_replaced_object_fails_with_changed_during_read() {
    let (store, _proxy) = s3_store(S3Server::S3sFs, "chg-s3s");
    a_replaced_object_fails_with_changed_during_read(&store);
}

#[test]
fn moto_replaced_object_fails_with_changed_during_read() {
    let (store, _proxy) = s3_store(S3Server::Moto, "chg-moto");
    a_replaced_object_fails_with_changed_during_read(&store);
}

#[test]
fn azurite_replaced_object_fails_with_changed_during_read() {
    let (store, _proxy) = azure_store("chg-az");
    a_replaced_object_fails_with_changed_during_read(&store);
}

/// A range that fails for good stops the download: the writer has exactly
/// the bytes before the first failed range, and the error is that range's.
#[test]
fn a_failed_range_stops_the_download_before_its_bytes() {
    let (store, proxy) = s3_store(S3Server::Moto, "fail-range");
    let data = pseudo_random(8 * MIB, 64);
    store.write("obj", &data).unwrap();
    // Every fourth GET is refused: which range that hits depends on the
    // order the ranges arrive in, so the proxy's record says which one.
    let before = proxy.counters.total();
    proxy.flap_methods(
        &["GET"],
        vec![None, None, None, Some(Fault::s3_error(403, "AccessDenied"))],
    );
    let mut w = Hashing::default();
    let err = store.read_to("obj", &mut w).unwrap_err();
    proxy.clear_faults();
    assert_eq!(err.kind(), blobio::ErrorKind::PermissionDenied, "{err}");
    let first_failed = proxy.counters.seen()[before..]
        .iter()
        .filter(|r| r.fault != "pass")
        .map(|r| {
            let v = r.header("range").expect("only ranges are refused");
            v.trim_start_matches("bytes=").split('-').next().unwrap().parse::<usize>().unwrap()
        })
        .min()
        .expect("a range was refused");
    assert_eq!(w.0.len(), first_failed, "bytes before the failed range, and no more");
    assert!(w.0[..] == data[..first_failed]);
}

fn batch_delete_sends_chunks_in_parallel(server: S3Server) {
    let (store, proxy) = s3_store(server, "batch");
    let keys: Vec<String> = (0..2500).map(|i| format!("del/{i:05}")).collect();
    std::thread::scope(|s| {
        for part in keys.chunks(2500 / 8 + 1) {
            let store = &store;
            s.spawn(move || {
                for k in part {
                    store.write(k, k.as_bytes()).unwrap();
                }
            });
        }
    });
    assert_eq!(store.list("del/").unwrap().len(), 2500);
    let before = proxy.counters.count("POST", "delete");
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    store.as_batch_deleter().unwrap().delete_batch(&refs).unwrap();
    assert_eq!(proxy.counters.count("POST", "delete") - before, 3, "1,000 keys per request");
    assert!(store.list("del/").unwrap().is_empty());
}

#[test]
fn s3s_batch_delete_of_2500_keys_is_three_requests() {
    batch_delete_sends_chunks_in_parallel(S3Server::S3sFs);
}

#[test]
fn moto_batch_delete_of_2500_keys_is_three_requests() {
    batch_delete_sends_chunks_in_parallel(S3Server::Moto);
}

/// Connections reset by the server are reconnected and the request sent
/// again, on S3 as on Azure (a pooled connection past the server's
/// keep-alive is closed just as it is reused).
#[test]
fn s3_requests_on_reset_connections_are_sent_again() {
    let (store, proxy) = s3_store(S3Server::S3sFs, "stale");
    proxy.reset_next_connections(2);
    store.write("k", b"value").unwrap();
    assert_eq!(proxy.pending_connection_resets(), 0);
    proxy.reset_next_connections(2);
    assert_eq!(store.read("k").unwrap(), b"value");
    assert_eq!(proxy.pending_connection_resets(), 0);
    proxy.reset_next_connections(2);
    store.as_batch_deleter().unwrap().delete_batch(&["k"]).unwrap();
    assert_eq!(proxy.pending_connection_resets(), 0);
    assert!(!store.exists("k").unwrap());
}

#[test]
fn download_settings_are_checked_and_shown_in_config_json() {
    let server = S3Server::Moto;
    let mut cfg = server.config("never-created");
    cfg.download_part_size = 0;
    let err = S3Backend::new(cfg.clone()).unwrap_err();
    assert_eq!(err.kind(), blobio::ErrorKind::InvalidArgument, "{err}");
    cfg.download_part_size = 2 * MIB as u64;
    cfg.download_concurrency = 0;
    assert_eq!(S3Backend::new(cfg.clone()).unwrap_err().kind(), blobio::ErrorKind::InvalidArgument);
    cfg.download_concurrency = 6;
    let json: serde_json::Value = serde_json::from_str(&S3Backend::new(cfg).unwrap().config_json()).unwrap();
    assert_eq!(json["download_part_size"], 2 * MIB as u64);
    assert_eq!(json["download_concurrency"], 6);
    assert_eq!(json["download_threshold"], blobio::s3::DEFAULT_DOWNLOAD_THRESHOLD);

    let mut cfg = Azurite::Http.config("never-created");
    cfg.download_concurrency = 0;
    let err = AzureBlobBackend::new(cfg.clone()).unwrap_err();
    assert_eq!(err.kind(), blobio::ErrorKind::InvalidArgument, "{err}");
    cfg.download_concurrency = 1;
    cfg.download_part_size = 0;
    assert_eq!(AzureBlobBackend::new(cfg.clone()).unwrap_err().kind(), blobio::ErrorKind::InvalidArgument);
    cfg.download_part_size = 3;
    let json: serde_json::Value = serde_json::from_str(&AzureBlobBackend::new(cfg).unwrap().config_json()).unwrap();
    assert_eq!(json["download_part_size"], 3);
    assert_eq!(json["download_concurrency"], 1);
}
