//! Vectored range reads beside object_store's `get_ranges` (issue 17): 100
//! ranges of 64 KiB of one 256 MiB object on Azurite, the way a Parquet
//! reader asks for column chunks. Each client runs as a child of its own
//! (CPU from wait4, as the peer rows), reads the same ranges `ROUNDS`
//! times after one unmeasured warm-up call, and checks every byte; the
//! counting proxy of the Rust tests, in front of Azurite, counts the
//! requests each client's calls sent.
//!
//!   blobio-bench-peers ranges       (scripts/bench-peers ranges starts Azurite)
//!
//! Both merge ranges closer than 1 MiB (blobio's `coalesce_gap`,
//! object_store's `OBJECT_STORE_COALESCE_DEFAULT`) and run the requests in
//! parallel.

use std::ops::Range;
use std::process::Command;
use std::time::Instant;

use blobio::{AzureBlobBackend, AzureBlobConfig, Backend, ReadRange};


#[path = "../../../tests/support/proxy.rs"]
mod proxy;

const MIB: u64 = 1024 * 1024;
const OBJECT: u64 = 256 * MIB;
const RANGES: usize = 100;
const RANGE: u64 = 64 * 1024;
const ROUNDS: usize = 20;
const KEY: &str = "ranges/fixture";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/bench-peers ranges"))
}

/// The fixture's byte at `offset`: cheap to compute, differs along the object.
fn byte_at(offset: u64) -> u8 {
    (offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as u8 ^ (offset >> 16) as u8
}

/// The ranges every client reads: sorted, spread over the object (SplitMix64).
fn ranges() -> Vec<Range<u64>> {
    let mut state = 0x5EED_u64;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut starts: Vec<u64> = (0..RANGES).map(|_| next() % (OBJECT - RANGE)).collect();
    starts.sort_unstable();
    starts.into_iter().map(|s| s..s + RANGE).collect()
}

fn check(what: &str, range: &Range<u64>, got: &[u8]) {
    assert_eq!(got.len() as u64, range.end - range.start, "{what}: length of {range:?}");
    for (i, b) in got.iter().enumerate() {
        assert_eq!(*b, byte_at(range.start + i as u64), "{what}: byte {} of {range:?}", i);
    }
}

fn blobio_store(endpoint: &str) -> AzureBlobBackend {
    let mut cfg = AzureBlobConfig::with_shared_key(env("BLOBIO_TEST_AZURITE_ACCOUNT"), env("BLOBIO_TEST_AZURITE_KEY"), env("BENCH_CONTAINER"));
    cfg.endpoint = Some(endpoint.to_owned());
    AzureBlobBackend::new(cfg).expect("blobio Azure store")
}

/// The parent: fixture, proxy, one child per client, the table.
pub fn main() {
    let endpoint = env("BLOBIO_TEST_AZURITE_ENDPOINT");
    let container = format!("bench-ranges-{}", std::process::id());
    std::env::set_var("BENCH_CONTAINER", &container);
    let direct = blobio_store(&endpoint);
    direct.create_container().expect("create container");
    let data: Vec<u8> = (0..OBJECT).map(byte_at).collect();
    direct.write(KEY, &data).expect("write the fixture");
    drop(data);

    let host = endpoint.split("://").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let account = env("BLOBIO_TEST_AZURITE_ACCOUNT");
    println!("{RANGES} ranges of {} KiB over a {} MiB blob on Azurite, {ROUNDS} calls after one warm-up\n", RANGE / 1024, OBJECT / MIB);
    println!("| client | requests per call | client CPU ms per call | wall ms per call |");
    println!("|---|---:|---:|---:|");
    for client in ["object_store", "blobio"] {
        let proxy = proxy::Proxy::start(&host);
        let mut cmd = Command::new(std::env::current_exe().expect("own path"));
        cmd.arg("ranges-child").arg(client);
        cmd.env("BENCH_ENDPOINT", format!("{}/{account}", proxy.url));
        cmd.env("AZURITE_BLOB_STORAGE_URL", &proxy.url);
        let out = cmd.output().expect("start the child");
        assert!(out.status.success(), "{client}: {}", String::from_utf8_lossy(&out.stderr));
        let gets = proxy.counters.count("GET", "ranges/fixture");
        let text = String::from_utf8_lossy(&out.stdout);
        let f: Vec<f64> = text.split_whitespace().map(|x| x.parse().expect("the child's figures")).collect();
        println!(
            "| {client} | {:.1} | {:.2} | {:.1} |",
            gets as f64 / (ROUNDS + 2) as f64,
            f[1],
            f[0],
        );
    }
    let _ = direct.delete(KEY);
}

/// A child: one warm-up call and one last call, checked byte by byte, and
/// `ROUNDS` measured between them; prints the wall and the CPU (user +
/// system of the whole process: tokio's threads count) ms per measured
/// call.
pub fn child(client: &str) {
    let endpoint = env("BENCH_ENDPOINT");
    let want = ranges();
    let wall = match client {
        "blobio" => {
            let store = blobio_store(&endpoint);
            let mut bufs: Vec<Vec<u8>> = want.iter().map(|r| vec![0u8; (r.end - r.start) as usize]).collect();
            let mut call = |checked: bool| {
                let mut asks: Vec<ReadRange<'_>> = want
                    .iter()
                    .zip(bufs.iter_mut())
                    .map(|(r, b)| ReadRange::new(r.start, b))
                    .collect();
                store.read_ranges(KEY, &mut asks).expect("blobio read_ranges");
                for (a, r) in asks.iter().zip(&want) {
                    assert_eq!(a.read as u64, r.end - r.start, "blobio: short range");
                }
                drop(asks);
                if checked {
                    for (b, r) in bufs.iter().zip(&want) {
                        check("blobio", r, b);
                    }
                }
            };
            call(true);
            let t = Timed::start();
            for _ in 0..ROUNDS {
                call(false);
            }
            let t = t.stop();
            call(true);
            t
        }
        "object_store" => {
            use object_store::azure::MicrosoftAzureBuilder;
            use object_store::path::Path;
            use object_store::ObjectStore;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
            runtime.block_on(async {
                let store = MicrosoftAzureBuilder::new()
                    .with_use_emulator(true)
                    .with_account(env("BLOBIO_TEST_AZURITE_ACCOUNT"))
                    .with_access_key(env("BLOBIO_TEST_AZURITE_KEY"))
                    .with_container_name(env("BENCH_CONTAINER"))
                    .build()
                    .expect("object_store Azure");
                let path = Path::from(KEY);
                let call = |checked: bool| {
                    let (store, path, want) = (&store, &path, &want);
                    async move {
                        let got = store.get_ranges(path, want).await.expect("object_store get_ranges");
                        if checked {
                            for (b, r) in got.iter().zip(want) {
                                check("object_store", r, b);
                            }
                        }
                    }
                };
                call(true).await;
                let t = Timed::start();
                for _ in 0..ROUNDS {
                    call(false).await;
                }
                let t = t.stop();
                call(true).await;
                t
            })
        }
        other => panic!("ranges: no client {other}"),
    };
    let per = |x: f64| x * 1000.0 / ROUNDS as f64;
    println!("{:.3} {:.3}", per(wall.0), per(wall.1));
}

/// Wall and process CPU seconds of the measured calls.
struct Timed(Instant, f64);

impl Timed {
    fn start() -> Timed {
        Timed(Instant::now(), cpu_seconds())
    }

    fn stop(self) -> (f64, f64) {
        (self.0.elapsed().as_secs_f64(), cpu_seconds() - self.1)
    }
}

fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}
