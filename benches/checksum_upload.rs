//! What a checksum costs an upload: client CPU per GiB written to s3s-fs
//! (which checks every checksum it is sent) with each `checksum` setting,
//! beside `none`. Target: CRC-32C within 10% of none.
//!
//! `cargo bench --features server-tests --bench checksum_upload` with the
//! servers of `scripts/test --servers-only` in the environment. Each
//! algorithm uploads the same 64 MiB objects in parts (8 MiB, 4 in
//! flight); rounds alternate the algorithms' order, and each figure is the
//! median over rounds of this process's user + system CPU time (getrusage:
//! the pool's threads count), so the server's own work and other load on
//! the machine do not blur it.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use blobio::{Backend, ChecksumAlgorithm, S3Backend};
use support::S3Server;

const MIB: usize = 1024 * 1024;
const OBJECT: usize = 64 * MIB;
const OBJECTS: usize = 4;
const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn store(bucket: &str, checksum: ChecksumAlgorithm) -> S3Backend {
    let mut cfg = S3Server::S3sFs.config(bucket);
    cfg.part_size = 8 * MIB as u64;
    cfg.multipart_threshold = 8 * MIB as u64;
    cfg.checksum = checksum;
    S3Backend::new(cfg).unwrap()
}

fn main() {
    let bucket = S3Server::S3sFs.new_bucket("bench-checksum");
    let algorithms = [
        ChecksumAlgorithm::None,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha256,
        ChecksumAlgorithm::Md5,
    ];
    let stores: Vec<S3Backend> = algorithms.iter().map(|a| store(&bucket, *a)).collect();
    let data: Vec<u8> = (0..OBJECT as u64).map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8).collect();
    let gib = (OBJECT * OBJECTS) as f64 / (1u64 << 30) as f64;
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); algorithms.len()];
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); algorithms.len()];
    for round in 0..ROUNDS {
        let mut order: Vec<usize> = (0..algorithms.len()).collect();
        order.rotate_left(round % algorithms.len());
        for i in order {
            let (c0, t0) = (support::process_cpu_seconds(), Instant::now());
            for n in 0..OBJECTS {
                stores[i].write(&format!("{}/{n}", algorithms[i]), &data).unwrap();
            }
            cpu[i].push((support::process_cpu_seconds() - c0) / gib);
            wall[i].push(t0.elapsed().as_secs_f64() / gib);
        }
    }
    let none = median(cpu[0].clone());
    println!("upload to s3s-fs, {OBJECTS} x {} MiB in 8 MiB parts, median of {ROUNDS} rounds", OBJECT / MIB);
    println!("| checksum | client CPU s/GiB | vs none | wall s/GiB |");
    println!("|---|---:|---:|---:|");
    for (i, a) in algorithms.iter().enumerate() {
        let c = median(cpu[i].clone());
        println!(
            "| {a} | {c:.3} | {:+.1}% | {:.2} |",
            (c / none - 1.0) * 100.0,
            median(wall[i].clone())
        );
    }
    for a in algorithms {
        for n in 0..OBJECTS {
            let _ = stores[0].delete(&format!("{a}/{n}"));
        }
    }
}
