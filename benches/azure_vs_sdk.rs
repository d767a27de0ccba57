//! blobio's Azure Blob client beside the official Python SDK
//! (azure-storage-blob) on the same Azurite, in memory, in the same run.
//!
//! Azurite (one Node.js thread) is slower than either client at most of
//! this, so wall throughput mostly measures the server; client CPU seconds
//! (user + sys of the client process alone, from getrusage / Python's
//! `time.process_time`) per GiB moved, or per 1,000 operations, is the
//! figure that shows the client. Both clients get the same settings: 8 MiB
//! blocks with 8 in flight for the upload, one stream for the download,
//! 8 threads for the small objects, and the Blob Batch API (256 blobs a
//! request) for the delete. After a warm-up round trip by each, the large
//! upload and download are measured for blobio and then for the SDK; the
//! small-object PUT, GET and delete round is run by blobio and then by the
//! SDK (a fresh Python process per operation, timing itself), so both meet
//! Azurite in the same state.
//!
//! Needs the test servers: `scripts/test --servers-only`, export what it
//! prints, then `cargo bench --features server-tests --bench azure_vs_sdk`.
//! A fresh Azurite gives steady figures: Azurite slows down as its
//! in-memory store fills up across runs.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{self, Read};
use std::time::Instant;

use blobio::{AzureBlobBackend, Backend};
use support::azure::Azurite;

const MIB: u64 = 1024 * 1024;
const BIG: u64 = 256 * MIB;
const SMALL_COUNT: usize = 2000;
const SMALL_SIZE: usize = 4096;
const THREADS: usize = 8;
const BLOCK: u64 = 8 * MIB;

struct Row {
    op: &'static str,
    client: &'static str,
    wall: f64,
    cpu: f64,
    bytes: u64,
    ops: usize,
}

fn measure(f: impl FnOnce()) -> (f64, f64) {
    let (c0, t0) = (support::process_cpu_seconds(), Instant::now());
    f();
    (t0.elapsed().as_secs_f64(), support::process_cpu_seconds() - c0)
}

/// `n` bytes of 7s, produced as cheaply as the Python side produces them.
struct Sevens(u64);

impl Read for Sevens {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = buf.len().min(self.0 as usize);
        buf[..k].fill(7);
        self.0 -= k as u64;
        Ok(k)
    }
}

/// The operations, in order; each is measured for blobio, then for the SDK.
const OPS: [(&str, &str); 5] = [
    ("upload", "256 MiB upload"),
    ("download", "256 MiB download"),
    ("small_put", "2000 x 4 KiB PUT, 8 threads"),
    ("small_get", "2000 x 4 KiB GET, 8 threads"),
    ("delete", "2000-blob batch delete"),
];

fn bytes_of(op: &str) -> u64 {
    match op {
        "upload" | "download" => BIG,
        "delete" => 0,
        _ => (SMALL_COUNT * SMALL_SIZE) as u64,
    }
}

fn ops_of(op: &str) -> usize {
    match op {
        "upload" | "download" => 1,
        _ => SMALL_COUNT,
    }
}

fn small_names() -> Vec<String> {
    (0..SMALL_COUNT).map(|i| format!("small/{i:05}")).collect()
}

/// Runs one operation with blobio; returns (wall, cpu).
fn blobio_op(store: &AzureBlobBackend, op: &str, size: u64) -> (f64, f64) {
    let payload = vec![7u8; SMALL_SIZE];
    let names = small_names();
    let parallel = |f: &(dyn Fn(&str) + Sync)| {
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let names = &names;
                s.spawn(move || {
                    for name in names.iter().skip(t).step_by(THREADS) {
                        f(name);
                    }
                });
            }
        })
    };
    measure(|| match op {
        "upload" => store
            .write_reader("big", &mut Sevens(size), Some(size))
            .unwrap(),
        "download" => assert_eq!(store.read_to("big", &mut io::sink()).unwrap(), size),
        "small_put" => parallel(&|n| store.write(n, &payload).unwrap()),
        "small_get" => parallel(&|n| assert_eq!(store.read(n).unwrap().len(), SMALL_SIZE)),
        "delete" => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            store
                .as_batch_deleter()
                .unwrap()
                .delete_batch(&refs)
                .unwrap();
            assert!(store.list("small/").unwrap().is_empty());
        }
        other => unreachable!("{other}"),
    })
}

const SDK_OP: &str = r#"
import sys, time, io, json
from concurrent.futures import ThreadPoolExecutor
from azure.storage.blob import BlobServiceClient
endpoint, account, key, container, op = sys.argv[1:6]
big, count, size, threads, block = (int(a) for a in sys.argv[6:11])
svc = BlobServiceClient(endpoint, credential={"account_name": account, "account_key": key},
                        max_block_size=block, max_single_put_size=32 * 1024 * 1024)
cc = svc.get_container_client(container)
class Gen(io.RawIOBase):
    def __init__(self, n): self.n = n
    def readable(self): return True
    def readinto(self, b):
        k = min(len(b), self.n); b[:k] = b"\x07" * k; self.n -= k; return k
class Sink(io.RawIOBase):
    def writable(self): return True
    def write(self, b): return len(b)
payload = b"\x07" * size
names = ["small/%05d" % i for i in range(count)]
def upload():
    cc.upload_blob("big", io.BufferedReader(Gen(big), 1 << 20), length=big, overwrite=True,
                   max_concurrency=threads)
def download():
    assert cc.download_blob("big").readinto(Sink()) == big
def small_put():
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda n: cc.upload_blob(n, payload, overwrite=True), names))
def small_get():
    with ThreadPoolExecutor(threads) as ex:
        assert all(len(b) == size for b in ex.map(lambda n: cc.download_blob(n).readall(), names))
def delete():
    for i in range(0, len(names), 256):   # the SDK's limit per batch
        cc.delete_blobs(*names[i:i + 256])
    assert not list(cc.list_blobs(name_starts_with="small/"))
f = globals()[op]
c0, t0 = time.process_time(), time.perf_counter()
f()
print(json.dumps([time.perf_counter() - t0, time.process_time() - c0]))
"#;

/// Runs one operation with the Python SDK (in a fresh interpreter, which
/// times itself); returns (wall, cpu).
fn sdk_op(container: &str, op: &str, size: u64) -> (f64, f64) {
    let out = support::python(
        SDK_OP,
        &[
            &Azurite::Http.endpoint(),
            &Azurite::account(),
            &Azurite::key(),
            container,
            op,
            &size.to_string(),
            &SMALL_COUNT.to_string(),
            &SMALL_SIZE.to_string(),
            &THREADS.to_string(),
            &BLOCK.to_string(),
        ],
    );
    let v: Vec<f64> = serde_json::from_str(out.trim()).expect("SDK bench output");
    (v[0], v[1])
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let ours = Azurite::Http.new_container("bench-blobio");
    let theirs = Azurite::Http.new_container("bench-sdk");
    let mut cfg = Azurite::Http.config(&ours);
    cfg.block_size = BLOCK;
    cfg.upload_concurrency = THREADS;
    let store = AzureBlobBackend::new(cfg).unwrap();
    // Warm up Azurite (its JIT) and both clients with a smaller round trip.
    blobio_op(&store, "upload", 64 * MIB);
    blobio_op(&store, "download", 64 * MIB);
    sdk_op(&theirs, "upload", 64 * MIB);
    sdk_op(&theirs, "download", 64 * MIB);
    let mut rows = Vec::new();
    // The large object alternately; the small-object rounds one client at a
    // time, so each batch delete meets the same number of blobs in Azurite
    // (whose batch delete slows down with the blobs it holds).
    let (big_ops, small_ops) = OPS.split_at(2);
    let mut run = |client: &'static str, (op, label): (&str, &'static str)| {
        let (wall, cpu) = match client {
            "blobio" => blobio_op(&store, op, BIG),
            _ => sdk_op(&theirs, op, BIG),
        };
        rows.push(Row {
            op: label,
            client,
            wall,
            cpu,
            bytes: bytes_of(op),
            ops: ops_of(op),
        });
    };
    for &op in big_ops {
        run("blobio", op);
        run("python sdk", op);
    }
    for client in ["blobio", "python sdk"] {
        for &op in small_ops {
            run(client, op);
        }
    }
    rows.sort_by_key(|r| OPS.iter().position(|(_, l)| *l == r.op));
    store.delete("big").unwrap();
    println!(
        "| operation | client | wall s | MiB/s | ops/s | client CPU s | CPU s/GiB or ms/1k ops \
         | speed vs SDK | CPU vs SDK |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    // CPU per GiB where bytes move, per 1,000 operations for the delete.
    let cpu_unit = |r: &Row| {
        if r.bytes > 0 {
            r.cpu / (r.bytes as f64 / (1u64 << 30) as f64)
        } else {
            r.cpu * 1000.0 / (r.ops as f64 / 1000.0)
        }
    };
    for r in &rows {
        let sdk = rows
            .iter()
            .find(|b| b.client == "python sdk" && b.op == r.op)
            .expect("an SDK row for every operation");
        let mib_s = if r.bytes > 0 {
            format!("{:.0}", r.bytes as f64 / MIB as f64 / r.wall)
        } else {
            "-".into()
        };
        println!(
            "| {} | {} | {:.2} | {} | {:.0} | {:.3} | {:.3} | {:.2}x | {:.2}x |",
            r.op,
            r.client,
            r.wall,
            mib_s,
            r.ops as f64 / r.wall,
            r.cpu,
            cpu_unit(r),
            sdk.wall / r.wall,
            cpu_unit(r) / cpu_unit(sdk),
        );
    }
}
