//! What the counters of every store cost (issue 17: within 2% of the
//! uncounted per-call cost): `exists`, 4 KiB `read` and `read_range` with
//! counting on and off (`blobio::set_stats_enabled`), printed as a table
//! with the ratio.
//!
//! `cargo bench --bench stats_overhead` measures the local store (in the
//! system temp directory), where calls are cheapest and counting shows
//! most, in the calling thread's CPU time (user + kernel), so other load on
//! the machine does not blur a difference of a few percent. With
//! `BLOBIO_TEST_MOTO_ENDPOINT` set (the servers of `scripts/test`) it also
//! measures an S3 store on moto, in wall time. Each figure is the median
//! of many rounds; counted and uncounted rounds alternate which goes first.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use blobio::{set_stats_enabled, Backend, LocalBackend, S3Backend, S3Config};
use common::TempDir;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn thread_cpu_nanos() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a valid out-pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// Median ns per call of `op` with counting off and on.
fn race(cpu: bool, rounds: usize, calls: usize, store: &dyn Backend, op: &dyn Fn(&dyn Backend)) -> (f64, f64) {
    let time = |counted: bool| {
        set_stats_enabled(counted);
        let (wall, start) = (Instant::now(), thread_cpu_nanos());
        for _ in 0..calls {
            op(store);
        }
        let ns = if cpu { thread_cpu_nanos() - start } else { wall.elapsed().as_nanos() as f64 };
        ns / calls as f64
    };
    time(false);
    time(true);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            off.push(time(false));
            on.push(time(true));
        } else {
            on.push(time(true));
            off.push(time(false));
        }
    }
    set_stats_enabled(true);
    (median(off), median(on))
}

type Op = Box<dyn Fn(&dyn Backend)>;

fn measure(label: &str, cpu: bool, store: &dyn Backend, rounds: usize, calls: usize) -> Vec<(String, &'static str, f64, f64)> {
    store.write("bench/4k.bin", &[0x5Au8; 4096]).expect("write the 4 KiB object");
    let ops: [(&'static str, Op); 3] = [
        ("exists", Box::new(|b| assert!(black_box(b.exists("bench/4k.bin").unwrap())))),
        ("read 4 KiB", Box::new(|b| assert_eq!(black_box(b.read("bench/4k.bin").unwrap()).len(), 4096))),
        (
            "read_range 4 KiB",
            Box::new(|b| {
                let mut buf = [0u8; 4096];
                assert_eq!(black_box(b.read_range("bench/4k.bin", 0, &mut buf).unwrap()), 4096);
            }),
        ),
    ];
    ops.iter()
        .map(|(name, op)| {
            let (off, on) = race(cpu, rounds, calls, store, &**op);
            (label.to_owned(), *name, off, on)
        })
        .collect()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, calls) = if quick { (5, 2_000) } else { (151, 5_000) };
    let dir = TempDir::new("stats-bench");
    let local = LocalBackend::new(dir.join("store")).unwrap();
    let mut rows = measure("local (CPU time)", true, &local, rounds, calls);
    if let Ok(endpoint) = std::env::var("BLOBIO_TEST_MOTO_ENDPOINT") {
        // moto checks no signature: a plain PUT makes the bucket.
        let bucket = format!("stats-bench-{}", std::process::id());
        ureq::put(&format!("{endpoint}/{bucket}")).send_empty().expect("create the moto bucket");
        let mut cfg = S3Config::new(&bucket);
        cfg.endpoint = Some(endpoint);
        cfg.region = Some("us-east-1".into());
        cfg.path_style = true;
        cfg.access_key = Some("bench".into());
        cfg.secret_key = Some("bench".into());
        let s3 = S3Backend::new(cfg).unwrap();
        let (rounds, calls) = if quick { (3, 20) } else { (15, 100) };
        rows.extend(measure("s3 on moto (wall time)", false, &s3, rounds, calls));
    }
    println!("| store | operation | uncounted ns/call | counted ns/call | counted / uncounted |");
    println!("|---|---|---:|---:|---:|");
    for (store, op, off, on) in &rows {
        println!("| {store} | {op} | {off:.0} | {on:.0} | {:.3} |", on / off);
    }
    println!("\n{rounds} rounds of {calls} calls (local), medians; target: within 2%");
}
