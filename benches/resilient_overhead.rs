//! What `ResilientBackend` costs when nothing fails: the per-call time of
//! `exists` and of 4 KiB reads through the wrapper beside the same calls on
//! the bare store, printed as a table with the ratio (target: within 2%).
//!
//! `cargo bench --bench resilient_overhead` measures the local store (in the
//! system temp directory), where the calls are cheapest and the wrapper's
//! own cost shows most. With `BLOBIO_TEST_MOTO_ENDPOINT` set (the servers of
//! `scripts/test`), it also measures an S3 store on moto, where the network
//! round trip dwarfs it.
//!
//! Each figure is the median of many rounds; the bare and the wrapped store
//! alternate which goes first in each round, so drift (page cache, CPU
//! frequency) hits both alike. Local calls are timed in the calling
//! thread's CPU time (user + kernel: the syscalls count), so other load on
//! the machine does not blur a difference of a few percent; S3 calls, which
//! mostly wait on the network, in wall time.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use blobio::{Backend, LocalBackend, ResilientBackend, ResilientConfig, S3Backend, S3Config};
use common::TempDir;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Which clock times the calls.
#[derive(Clone, Copy)]
enum Clock {
    /// The calling thread's CPU time.
    ThreadCpu,
    /// Wall time.
    Wall,
}

impl Clock {
    fn nanos(self, since: Instant) -> f64 {
        match self {
            Clock::Wall => since.elapsed().as_nanos() as f64,
            Clock::ThreadCpu => thread_cpu_nanos(),
        }
    }
}

fn thread_cpu_nanos() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a valid out-pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// Median nanoseconds per call of `op` on `bare` and on `wrapped`.
fn race(
    clock: Clock,
    rounds: usize,
    calls: usize,
    bare: &dyn Backend,
    wrapped: &dyn Backend,
    op: &dyn Fn(&dyn Backend),
) -> (f64, f64) {
    let time = |b: &dyn Backend| {
        let wall = Instant::now();
        let start = clock.nanos(wall);
        for _ in 0..calls {
            op(b);
        }
        let end = clock.nanos(wall);
        match clock {
            Clock::Wall => end / calls as f64,
            Clock::ThreadCpu => (end - start) / calls as f64,
        }
    };
    // Warm up both (page cache, connection pools, branch predictors).
    time(bare);
    time(wrapped);
    let (mut tb, mut tw) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            tb.push(time(bare));
            tw.push(time(wrapped));
        } else {
            tw.push(time(wrapped));
            tb.push(time(bare));
        }
    }
    (median(tb), median(tw))
}

/// One timed call.
type Op = Box<dyn Fn(&dyn Backend)>;

struct Row {
    store: &'static str,
    operation: &'static str,
    bare: f64,
    wrapped: f64,
}

fn measure(
    store: &'static str,
    clock: Clock,
    bare: &dyn Backend,
    wrapped: &dyn Backend,
    rounds: usize,
    calls: usize,
) -> Vec<Row> {
    let data = vec![0x5Au8; 4096];
    bare.write("bench/4k.bin", &data)
        .expect("write the 4 KiB object");
    let ops: [(&'static str, Op); 5] = [
        (
            "exists",
            Box::new(|b| assert!(black_box(b.exists("bench/4k.bin").unwrap()))),
        ),
        (
            "exists (missing)",
            Box::new(|b| assert!(!black_box(b.exists("bench/none.bin").unwrap()))),
        ),
        (
            "read 4 KiB",
            Box::new(|b| assert_eq!(black_box(b.read("bench/4k.bin").unwrap()).len(), 4096)),
        ),
        (
            "read_to 4 KiB",
            Box::new(|b| {
                let mut out = Vec::with_capacity(4096);
                assert_eq!(
                    black_box(b.read_to("bench/4k.bin", &mut out).unwrap()),
                    4096
                );
            }),
        ),
        (
            "read_range 4 KiB",
            Box::new(|b| {
                let mut buf = [0u8; 4096];
                assert_eq!(
                    black_box(b.read_range("bench/4k.bin", 0, &mut buf).unwrap()),
                    4096
                );
            }),
        ),
    ];
    ops.iter()
        .map(|(name, op)| {
            let (b, w) = race(clock, rounds, calls, bare, wrapped, &**op);
            Row {
                store,
                operation: name,
                bare: b,
                wrapped: w,
            }
        })
        .collect()
}

fn print(rows: &[Row]) {
    println!("| store | operation | bare ns/call | wrapped ns/call | wrapped / bare |");
    println!("|---|---|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.3} |",
            r.store,
            r.operation,
            r.bare,
            r.wrapped,
            r.wrapped / r.bare
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, calls) = if quick { (5, 2_000) } else { (151, 5_000) };
    let dir = TempDir::new("resilient-bench");
    let bare = LocalBackend::new(dir.join("store")).unwrap();
    let wrapped = ResilientBackend::new(
        Box::new(LocalBackend::new(dir.join("store")).unwrap()),
        ResilientConfig::default(),
    )
    .unwrap();
    let mut rows = measure(
        "local (CPU time)",
        Clock::ThreadCpu,
        &bare,
        &wrapped,
        rounds,
        calls,
    );

    if let Ok(endpoint) = std::env::var("BLOBIO_TEST_MOTO_ENDPOINT") {
        // moto checks no signature: a plain PUT makes the bucket.
        let bucket = format!("resilient-bench-{}", std::process::id());
        ureq::put(&format!("{endpoint}/{bucket}"))
            .send_empty()
            .expect("create the moto bucket");
        let config = || {
            let mut cfg = S3Config::new(&bucket);
            cfg.endpoint = Some(endpoint.clone());
            cfg.region = Some("us-east-1".into());
            cfg.path_style = true;
            cfg.access_key = Some("bench".into());
            cfg.secret_key = Some("bench".into());
            cfg
        };
        let bare = S3Backend::new(config()).unwrap();
        let wrapped = ResilientBackend::new(
            Box::new(S3Backend::new(config()).unwrap()),
            ResilientConfig::default(),
        )
        .unwrap();
        let (rounds, calls) = if quick { (3, 20) } else { (9, 100) };
        rows.extend(measure(
            "s3 on moto (wall time)",
            Clock::Wall,
            &bare,
            &wrapped,
            rounds,
            calls,
        ));
    }

    print(&rows);
    let overhead = |op: &str| {
        rows.iter()
            .find(|r| r.store.starts_with("local") && r.operation == op)
            .map(|r| (r.wrapped / r.bare - 1.0) * 100.0)
            .unwrap_or(f64::NAN)
    };
    println!(
        "\nlocal overhead: exists {:+.1}%, read 4 KiB {:+.1}% (target: within 2%); \
         read_to 4 KiB {:+.1}% (it also records the object's version, to resume safely); \
         {rounds} rounds of {calls} calls, medians",
        overhead("exists"),
        overhead("read 4 KiB"),
        overhead("read_to 4 KiB"),
    );
}
