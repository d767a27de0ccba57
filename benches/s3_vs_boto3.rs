//! blobio's S3 client beside boto3 on the same server in the same run.
//!
//! The servers here are slower than either client, so wall throughput mostly
//! measures the server; client CPU seconds per GiB (user + sys of the client
//! alone) is the figure that shows the client.
//!
//! Needs the test servers: `scripts/test --servers-only`, export what it
//! prints, then `cargo bench --features server-tests --bench s3_vs_boto3`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use blobio::{Backend, S3Backend};
use support::{S3Server, StreamSource};

const MIB: u64 = 1024 * 1024;
const BIG: u64 = 256 * MIB;
const SMALL_COUNT: usize = 2000;
const SMALL_SIZE: usize = 4096;
const THREADS: usize = 8;

struct Row {
    server: &'static str,
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

fn blobio_rows(server: S3Server, name: &'static str, rows: &mut Vec<Row>) {
    let bucket = server.new_bucket("bench");
    let store = S3Backend::new(server.config(&bucket)).unwrap();
    let (wall, cpu) = measure(|| {
        let mut src = StreamSource::new(BIG, 1, None);
        store.write_reader("big", &mut src, Some(BIG)).unwrap();
    });
    rows.push(Row { server: name, op: "256 MiB PUT", client: "blobio", wall, cpu, bytes: BIG, ops: 1 });
    let (wall, cpu) = measure(|| {
        let n = store.read_to("big", &mut std::io::sink()).unwrap();
        assert_eq!(n, BIG);
    });
    rows.push(Row { server: name, op: "256 MiB GET", client: "blobio", wall, cpu, bytes: BIG, ops: 1 });
    let payload = vec![7u8; SMALL_SIZE];
    let (wall, cpu) = measure(|| {
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (store, payload) = (&store, &payload);
                s.spawn(move || {
                    for i in (t..SMALL_COUNT).step_by(THREADS) {
                        store.write(&format!("small/{i:05}"), payload).unwrap();
                    }
                });
            }
        })
    });
    let small_bytes = (SMALL_COUNT * SMALL_SIZE) as u64;
    rows.push(Row { server: name, op: "2000 x 4 KiB PUT, 8 threads", client: "blobio", wall, cpu, bytes: small_bytes, ops: SMALL_COUNT });
    let (wall, cpu) = measure(|| {
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let store = &store;
                s.spawn(move || {
                    for i in (t..SMALL_COUNT).step_by(THREADS) {
                        assert_eq!(store.read(&format!("small/{i:05}")).unwrap().len(), SMALL_SIZE);
                    }
                });
            }
        })
    });
    rows.push(Row { server: name, op: "2000 x 4 KiB GET, 8 threads", client: "blobio", wall, cpu, bytes: small_bytes, ops: SMALL_COUNT });
}

const BOTO_BENCH: &str = r#"
import boto3, sys, time, io, json
from concurrent.futures import ThreadPoolExecutor
from boto3.s3.transfer import TransferConfig
endpoint, ak, sk, bucket = sys.argv[1:5]
big, count, size, threads = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
                  region_name="us-east-1", config=boto3.session.Config(max_pool_connections=32))
cfg = TransferConfig(multipart_threshold=100*1024*1024, multipart_chunksize=16*1024*1024, max_concurrency=5)
class Gen(io.RawIOBase):
    def __init__(self, n): self.n = n
    def readable(self): return True
    def readinto(self, b):
        k = min(len(b), self.n); b[:k] = b"\x07" * k; self.n -= k; return k
class Sink(io.RawIOBase):
    def writable(self): return True
    def write(self, b): return len(b)
out = {}
def run(name, f):
    c0, t0 = time.process_time(), time.perf_counter()
    f()
    out[name] = [time.perf_counter() - t0, time.process_time() - c0]
run("put", lambda: s3.upload_fileobj(io.BufferedReader(Gen(big), 1 << 20), bucket, "big", Config=cfg))
run("get", lambda: s3.download_fileobj(bucket, "big", Sink(), Config=cfg))
payload = b"\x07" * size
def puts():
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda i: s3.put_object(Bucket=bucket, Key="small/%05d" % i, Body=payload), range(count)))
def gets():
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda i: s3.get_object(Bucket=bucket, Key="small/%05d" % i)["Body"].read(), range(count)))
run("small_put", puts)
run("small_get", gets)
print(json.dumps(out))
"#;

fn boto_rows(server: S3Server, name: &'static str, rows: &mut Vec<Row>) {
    let bucket = server.new_bucket("benchboto");
    let (ak, sk) = server.keys();
    let out = support::python(
        BOTO_BENCH,
        &[
            &server.endpoint(),
            &ak,
            &sk,
            &bucket,
            &BIG.to_string(),
            &SMALL_COUNT.to_string(),
            &SMALL_SIZE.to_string(),
            &THREADS.to_string(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("boto3 bench output");
    let small_bytes = (SMALL_COUNT * SMALL_SIZE) as u64;
    for (key, op, bytes, ops) in [
        ("put", "256 MiB PUT", BIG, 1),
        ("get", "256 MiB GET", BIG, 1),
        ("small_put", "2000 x 4 KiB PUT, 8 threads", small_bytes, SMALL_COUNT),
        ("small_get", "2000 x 4 KiB GET, 8 threads", small_bytes, SMALL_COUNT),
    ] {
        rows.push(Row {
            server: name,
            op,
            client: "boto3",
            wall: v[key][0].as_f64().unwrap(),
            cpu: v[key][1].as_f64().unwrap(),
            bytes,
            ops,
        });
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut rows = Vec::new();
    for (server, name) in [(S3Server::Moto, "moto"), (S3Server::S3sFs, "s3s-fs")] {
        blobio_rows(server, name, &mut rows);
        boto_rows(server, name, &mut rows);
    }
    println!("| server | operation | client | wall s | MiB/s | ops/s | client CPU s/GiB | CPU/GiB vs boto3 |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let gib = r.bytes as f64 / (1u64 << 30) as f64;
        let cpu_gib = r.cpu / gib;
        let boto = rows
            .iter()
            .find(|b| b.client == "boto3" && b.server == r.server && b.op == r.op)
            .map(|b| b.cpu / (b.bytes as f64 / (1u64 << 30) as f64))
            .unwrap_or(f64::NAN);
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.2} | {:.2} |",
            r.server,
            r.op,
            r.client,
            r.wall,
            r.bytes as f64 / MIB as f64 / r.wall,
            r.ops as f64 / r.wall,
            cpu_gib,
            cpu_gib / boto
        );
    }
}
