//! `read_ranges`: many ranges of one object in one call, byte-exact, on the
//! local store (here, always) and on s3s-fs, moto and Azurite (with the
//! `server-tests` feature, through the counting proxy): the requests sent
//! are the merged spans the documented rule gives, every one after the
//! first carries If-Match, and a replaced object is ChangedDuringRead.

mod common;
mod support;

use blobio::{Backend, ErrorKind, LocalBackend, ReadRange};
use support::pseudo_random;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// `n` random (offset, len) inside an object of `size` bytes (some ending
/// past it, some empty, some overlapping), from `seed`.
fn random_ranges(n: usize, size: usize, max_len: usize, seed: u64) -> Vec<(u64, usize)> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out: Vec<(u64, usize)> = (0..n)
        .map(|_| ((next() % size as u64), (next() % max_len as u64) as usize + 1))
        .collect();
    // One range ending past the object, one empty, one copy of another
    // (full overlap) and one half over another.
    out[0] = ((size - 100) as u64, 1000);
    out[1] = (12_345, 0);
    out[2] = out[3];
    out[4] = (out[5].0 + out[5].1 as u64 / 2, out[5].1);
    out
}

/// Reads `spans` of `path` through `read_ranges` and checks every range
/// against `data`: its bytes, and its count (short only at the end).
fn check_ranges(store: &dyn Backend, path: &str, data: &[u8], spans: &[(u64, usize)]) {
    let mut bufs: Vec<Vec<u8>> = spans.iter().map(|&(_, len)| vec![0xEE; len]).collect();
    let mut ranges: Vec<ReadRange<'_>> = spans
        .iter()
        .zip(bufs.iter_mut())
        .map(|(&(offset, _), buf)| ReadRange::new(offset, buf))
        .collect();
    store.read_ranges(path, &mut ranges).unwrap();
    let reads: Vec<usize> = ranges.iter().map(|r| r.read).collect();
    drop(ranges);
    for (i, (&(offset, len), buf)) in spans.iter().zip(&bufs).enumerate() {
        let start = offset as usize;
        let want = len.min(data.len() - start);
        assert_eq!(reads[i], want, "range {i} at {offset} of {len} bytes");
        assert!(buf[..want] == data[start..start + want], "range {i} at {offset} of {len} bytes differs");
    }
}

/// Refused ranges: an offset past the end, or one ending past 2^64; no
/// range counts as read.
fn check_refusals(store: &dyn Backend, path: &str, size: u64) {
    let mut a = vec![0u8; 10];
    let mut b = vec![0u8; 10];
    let mut ranges = [ReadRange::new(0, &mut a), ReadRange::new(size, &mut b)];
    let err = store.read_ranges(path, &mut ranges).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(ranges.iter().all(|r| r.read == 0), "{ranges:?}");

    let mut c = vec![0u8; 10];
    let mut ranges = [ReadRange::new(u64::MAX - 3, &mut c)];
    let err = store.read_ranges(path, &mut ranges).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");

    // Nothing asked: fine, and offsets are still checked.
    store.read_ranges(path, &mut []).unwrap();
    let mut empty: [u8; 0] = [];
    let mut ranges = [ReadRange::new(size + 5, &mut empty)];
    assert_eq!(store.read_ranges(path, &mut ranges).unwrap_err().kind(), ErrorKind::InvalidArgument);

    let mut d = vec![0u8; 4];
    let mut ranges = [ReadRange::new(0, &mut d)];
    let err = store.read_ranges("never/written", &mut ranges).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

/// An empty object reads nothing at offset 0; any other offset is past its end.
fn check_empty_object(store: &dyn Backend) {
    store.write("empty.bin", b"").unwrap();
    let mut a = vec![0u8; 8];
    let mut ranges = [ReadRange::new(0, &mut a)];
    store.read_ranges("empty.bin", &mut ranges).unwrap();
    assert_eq!(ranges[0].read, 0);
    let mut b = vec![0u8; 8];
    let mut ranges = [ReadRange::new(1, &mut b)];
    assert_eq!(store.read_ranges("empty.bin", &mut ranges).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn local_reads_random_ranges_byte_exact() {
    let dir = common::TempDir::new("read-ranges");
    let store = LocalBackend::new(dir.path()).unwrap();
    let data = pseudo_random(8 * MIB + 17, 71);
    store.write("obj.bin", &data).unwrap();
    for seed in [1, 2, 3] {
        check_ranges(&store, "obj.bin", &data, &random_ranges(100, data.len(), 256 * KIB, seed));
    }
    check_refusals(&store, "obj.bin", data.len() as u64);
    check_empty_object(&store);
}

#[cfg(feature = "server-tests")]
mod servers {
    use super::*;
    use blobio::{AzureBlobBackend, Error, S3Backend};
    use support::azure::Azurite;
    use support::proxy::{Cut, Fault, Proxy, Rule, SeenRequest};
    use support::S3Server;

    const SIZE: usize = 64 * MIB;
    const PART: u64 = MIB as u64;
    const GAP: u64 = 64 * KIB as u64;

    fn host_port(url: &str) -> String {
        url.split("://").nth(1).unwrap().split('/').next().unwrap().to_owned()
    }

    fn s3_store(server: S3Server, tag: &str) -> (S3Backend, Proxy, S3Backend) {
        let proxy = Proxy::start(&host_port(&server.endpoint()));
        let direct = server.config(&server.new_bucket(tag));
        let mut cfg = direct.clone();
        cfg.endpoint = Some(proxy.url.clone());
        cfg.download_part_size = PART;
        cfg.coalesce_gap = GAP;
        cfg.download_concurrency = 4;
        (S3Backend::new(cfg).unwrap(), proxy, S3Backend::new(direct).unwrap())
    }

    fn azure_store(tag: &str) -> (AzureBlobBackend, Proxy, AzureBlobBackend) {
        let proxy = Proxy::start(&Azurite::Http.host_port());
        let direct = Azurite::Http.config(&Azurite::Http.new_container(tag));
        let mut cfg = direct.clone();
        cfg.endpoint = Some(format!("{}/{}", proxy.url, Azurite::account()));
        cfg.download_part_size = PART;
        cfg.coalesce_gap = GAP;
        cfg.download_concurrency = 4;
        (AzureBlobBackend::new(cfg).unwrap(), proxy, AzureBlobBackend::new(direct).unwrap())
    }

    /// The requests the documented rule gives, computed on its own: the
    /// union of the wanted bytes (clipped to the object), packed in order
    /// into requests that join across gaps of at most `gap` bytes and
    /// never exceed `part` bytes.
    fn expected_requests(spans: &[(u64, usize)], size: u64, gap: u64, part: u64) -> Vec<(u64, u64)> {
        let mut wanted: Vec<(u64, u64)> = spans
            .iter()
            .map(|&(o, l)| (o, (o + l as u64).min(size)))
            .filter(|(a, b)| a < b)
            .collect();
        wanted.sort_unstable();
        let mut union: Vec<(u64, u64)> = Vec::new();
        for (a, b) in wanted {
            match union.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => union.push((a, b)),
            }
        }
        let mut requests: Vec<(u64, u64)> = Vec::new();
        for (mut a, b) in union {
            while a < b {
                match requests.last_mut() {
                    Some(r) if a - r.1 <= gap && a < r.0 + part => {
                        r.1 = b.min(r.0 + part);
                        a = r.1;
                    }
                    _ => {
                        requests.push((a, b.min(a + part)));
                        a = b.min(a + part);
                    }
                }
            }
        }
        requests
    }

    fn range_of(r: &SeenRequest) -> (u64, u64) {
        let v = r.header("range").or(r.header("x-ms-range")).expect("a ranged GET");
        let (a, b) = v.trim_start_matches("bytes=").split_once('-').unwrap();
        (a.parse().unwrap(), b.parse::<u64>().unwrap() + 1)
    }

    /// `keeps_connections`: false for moto, whose server (Werkzeug) closes
    /// every connection after its answer.
    fn random_ranges_are_the_merged_spans(store: &dyn Backend, proxy: &Proxy, keeps_connections: bool) {
        let data = pseudo_random(SIZE, 72);
        store.write("big/ranges.bin", &data).unwrap();
        let connections = || proxy.counters.connections.load(std::sync::atomic::Ordering::SeqCst);
        for seed in [11, 12] {
            let spans = random_ranges(100, SIZE, 64 * KIB, seed);
            let before = proxy.counters.total();
            let connected = connections();
            check_ranges(store, "big/ranges.bin", &data, &spans);
            // Each body is read to its end, so its connection goes back to
            // the pool: one per request in flight (4) and the first, at most.
            let opened = connections() - connected;
            assert!(!keeps_connections || opened <= 5, "{opened} connections opened (seed {seed})");
            let seen: Vec<SeenRequest> =
                proxy.counters.seen()[before..].iter().filter(|r| r.method == "GET").cloned().collect();
            let mut sent: Vec<(u64, u64)> = seen.iter().map(range_of).collect();
            sent.sort_unstable();
            let want = expected_requests(&spans, SIZE as u64, GAP, PART);
            assert_eq!(sent, want, "the requests are not the merged spans (seed {seed})");
            // The lowest first, alone and unconditional; all others If-Match.
            assert!(seen[0].header("if-match").is_none());
            assert_eq!(range_of(&seen[0]), want[0]);
            assert!(
                seen[1..].iter().all(|r| r.header("if-match").is_some_and(|v| !v.is_empty())),
                "every request after the first carries If-Match"
            );
        }
        // A layout whose count is known by hand: ten 1 KiB ranges 10 KiB
        // apart (one request), 2.5 MiB at 8 MiB (three), two ranges 100
        // KiB apart (two), two overlapping (one), one past the end (one).
        let m = MIB as u64;
        let mut spans: Vec<(u64, usize)> = (0..10).map(|i| (i * 10 * KIB as u64, KIB)).collect();
        spans.push((8 * m, 5 * MIB / 2));
        spans.extend([(20 * m, 10), (20 * m + 100 * KIB as u64, 10)]);
        spans.extend([(30 * m, 100 * KIB), (30 * m + 50 * KIB as u64, 100 * KIB)]);
        spans.push((SIZE as u64 - 10, 1000));
        let before = proxy.counters.total();
        check_ranges(store, "big/ranges.bin", &data, &spans);
        assert_eq!(proxy.counters.count("GET", "big/ranges.bin") - count_before(proxy, before), 8);
        check_refusals(store, "big/ranges.bin", SIZE as u64);
        check_empty_object(store);
        store.delete("big/ranges.bin").unwrap();
    }

    fn count_before(proxy: &Proxy, before: usize) -> usize {
        proxy.counters.seen()[..before]
            .iter()
            .filter(|r| r.method == "GET" && r.target.contains("big/ranges.bin"))
            .count()
    }

    /// The object is replaced right after the first answer's body was cut
    /// short: the first request is asked for again with If-Match, which
    /// the new version fails.
    fn a_replaced_object_fails(store: &dyn Backend, proxy: &Proxy, direct: Box<dyn Backend>) {
        let data = pseudo_random(4 * MIB, 73);
        store.write("big/replaced.bin", &data).unwrap();
        let replacement = pseudo_random(4 * MIB, 74);
        proxy.push(
            Rule::new(Fault::Cut(Cut::Fraction(0.5))).method("GET").target("big/replaced.bin").then(move || {
                direct.write("big/replaced.bin", &replacement).unwrap();
            }),
        );
        let spans = [(0u64, 100), (2 * MIB as u64, 100), (3 * MIB as u64 + 7, 1000)];
        let mut bufs: Vec<Vec<u8>> = spans.iter().map(|&(_, l)| vec![0; l]).collect();
        let mut ranges: Vec<ReadRange<'_>> =
            spans.iter().zip(bufs.iter_mut()).map(|(&(o, _), b)| ReadRange::new(o, b)).collect();
        let err = store.read_ranges("big/replaced.bin", &mut ranges).unwrap_err();
        assert!(matches!(err, Error::ChangedDuringRead { .. }), "expected ChangedDuringRead, got {err:?}");
        assert!(ranges.iter().all(|r| r.read == 0));
        assert_eq!(proxy.pending_rules(), 0, "the cut was applied");
    }

    #[test]
    fn s3s_read_ranges() {
        let (store, proxy, direct) = s3_store(S3Server::S3sFs, "rr-s3s");
        random_ranges_are_the_merged_spans(&store, &proxy, true);
        a_replaced_object_fails(&store, &proxy, Box::new(direct));
    }

    #[test]
    fn moto_read_ranges() {
        let (store, proxy, direct) = s3_store(S3Server::Moto, "rr-moto");
        random_ranges_are_the_merged_spans(&store, &proxy, false);
        a_replaced_object_fails(&store, &proxy, Box::new(direct));
    }

    #[test]
    fn azurite_read_ranges() {
        let (store, proxy, direct) = azure_store("rr-az");
        random_ranges_are_the_merged_spans(&store, &proxy, true);
        a_replaced_object_fails(&store, &proxy, Box::new(direct));
    }
}
