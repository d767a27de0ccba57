//! Per-call cost of the C ABI against the same Rust calls, on a local store:
//! `exists` and a 4 KiB `read_range`.
//!
//! ```text
//! cargo bench --bench ffi_overhead              # BLOBIO_BENCH_ITERS=N to change the count
//! make -C examples/c bench                      # the same calls from a C program
//! ```
//!
//! The C side is measured by calling the exported `extern "C"` functions
//! directly (they are not inlined across the crate boundary), so the
//! difference is exactly what the boundary adds: argument checks, UTF-8
//! validation of the path, `catch_unwind`, status mapping. Rounds alternate
//! Rust and C ABI and the median round is reported, which keeps file-system
//! caching and CPU frequency drift out of the ratio.

use std::ffi::{c_char, CStr};
use std::hint::black_box;
use std::time::Instant;

use blobio::ffi::{self, blobio_status};
use blobio::{Backend, LocalBackend};

const PATH: &str = "bench/object.bin";
const C_PATH: &CStr = c"bench/object.bin";
const OBJECT_LEN: usize = 64 * 1024;
const RANGE_LEN: usize = 4096;
const ROUNDS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Nanoseconds per call of `f` over `iters` calls.
fn per_call(iters: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    for i in 0..iters {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn main() {
    let iters: u64 = std::env::var("BLOBIO_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = std::env::temp_dir().join(format!("blobio-ffi-bench-{}", std::process::id()));

    // Rust API, through `dyn Backend` as every caller that picks a backend at
    // run time (and the C layer) holds it.
    let rust: Box<dyn Backend> = Box::new(LocalBackend::new(&dir).expect("open local store"));
    let data: Vec<u8> = (0..OBJECT_LEN).map(|i| (i * 31 % 251) as u8).collect();
    rust.write(PATH, &data).expect("write the bench object");

    // C ABI, on a second handle over the same directory.
    let c_dir = std::ffi::CString::new(dir.to_str().expect("UTF-8 temp dir")).unwrap();
    let mut store: *mut ffi::blobio_store = std::ptr::null_mut();
    // SAFETY: valid C string and out-pointer.
    let st = unsafe { ffi::blobio_local_new(c_dir.as_ptr(), &mut store) };
    assert_eq!(st, blobio_status::Ok);

    let max_offset = (OBJECT_LEN - RANGE_LEN) as u64;
    let offset = |i: u64| (i * 4096) % max_offset;
    let mut buf = vec![0u8; RANGE_LEN];

    let rust_exists = |_| {
        assert!(black_box(rust.exists(black_box(PATH)).unwrap()));
    };
    let c_exists = |_| {
        let mut out = false;
        let path: *const c_char = black_box(C_PATH.as_ptr());
        // SAFETY: live store, NUL-terminated path, valid out-pointer.
        let st = unsafe { ffi::blobio_exists(store, path, &mut out) };
        assert!(st == blobio_status::Ok && black_box(out));
    };

    let (mut r_exists, mut c_exists_ns, mut r_range, mut c_range) =
        (vec![], vec![], vec![], vec![]);
    // One warm-up round of each, not recorded.
    per_call(iters / 10, rust_exists);
    per_call(iters / 10, c_exists);
    for _ in 0..ROUNDS {
        r_exists.push(per_call(iters, rust_exists));
        c_exists_ns.push(per_call(iters, c_exists));
        r_range.push(per_call(iters, |i| {
            let n = rust
                .read_range(PATH, offset(i), black_box(&mut buf))
                .unwrap();
            assert_eq!(black_box(n), RANGE_LEN);
        }));
        c_range.push(per_call(iters, |i| {
            let mut n = 0usize;
            let path: *const c_char = black_box(C_PATH.as_ptr());
            // SAFETY: live store, NUL-terminated path, `buf` valid for RANGE_LEN bytes.
            let st = unsafe {
                ffi::blobio_read_range(store, path, offset(i), buf.as_mut_ptr(), RANGE_LEN, &mut n)
            };
            assert!(st == blobio_status::Ok && black_box(n) == RANGE_LEN);
        }));
    }
    // Both sides read the same bytes.
    let last = offset(iters - 1) as usize;
    assert_eq!(buf[..], data[last..last + RANGE_LEN]);

    println!("blobio C ABI overhead, local store, {iters} calls x {ROUNDS} rounds (median round)");
    println!(
        "{:<24} {:>14} {:>14} {:>8}",
        "operation", "Rust ns/call", "C ABI ns/call", "ratio"
    );
    for (name, r, c) in [
        ("exists", median(r_exists), median(c_exists_ns)),
        ("read_range (4 KiB)", median(r_range), median(c_range)),
    ] {
        let ratio = c / r;
        println!(
            "{name:<24} {r:>14.0} {c:>14.0} {ratio:>8.3}{}",
            if ratio <= 1.10 {
                ""
            } else {
                "  (over the 10% target)"
            }
        );
    }

    // SAFETY: the store is not used afterwards.
    unsafe { ffi::blobio_store_free(store) };
    drop(rust);
    let _ = std::fs::remove_dir_all(&dir);
}
