//! LocalBackend beside plain `std::fs`, doing the same work in one run.
//!
//! `cargo bench --bench local_throughput` prints a markdown table:
//! - write: `LocalBackend::write` vs temp file + `write_all` + `rename`;
//! - write_reader: `LocalBackend::write_reader` (a `&mut dyn Read`) vs temp
//!   file + `io::copy` from the same kind of reader + `rename`;
//!
//! each twice: a store opened with `durable = false` beside std without any
//! sync, and a durable store (the default) beside std with the same syncs
//! (`sync_data` of the file before the rename, `sync_all` of the directory
//! after), so the cost of durability and of the code around it show apart;
//! - read: `LocalBackend::read` vs `fs::read`;
//! - list: `LocalBackend::list("")` over 100 dirs x 1000 files vs a plain
//!   recursive `read_dir` collecting relative path strings;
//!
//! for 4 KiB, 1 MiB and 64 MiB objects. Each figure is the median of several
//! rounds; blobio and std alternate which goes first in each round so that
//! drift (page cache, writeback, other load) hits both alike. The ratio is
//! blobio throughput / std throughput: 1.00 is parity, the target is >= 0.90.
//!
//! Files live in the system temp directory. Durable rows use fewer objects
//! and rounds: each object costs the device's sync latency. Write rounds create fresh objects (the previous round's are deleted
//! untimed). On a disk file system, creating a file can cost far more than
//! the code around it (0.15-1 ms per create on the ext4 these figures were
//! taken on), which buries small-write differences in device noise; run with
//! `TMPDIR=/dev/shm` to compare the code paths and syscalls alone.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blobio::{Backend, LocalBackend};
use common::TempDir;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

struct Row {
    operation: &'static str,
    /// "durable", "not durable", or "" where durability does not apply.
    mode: &'static str,
    size: String,
    per_round: usize,
    unit: &'static str,
    blobio: f64,
    std: f64,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs `a` and `b` once untimed, then `rounds` times each, alternating
/// which goes first; `reset_a`/`reset_b` run untimed before every run.
/// Returns the median durations.
fn race(
    rounds: usize,
    mut reset_a: impl FnMut(),
    mut a: impl FnMut(),
    mut reset_b: impl FnMut(),
    mut b: impl FnMut(),
) -> (Duration, Duration) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    let time = |reset: &mut dyn FnMut(), f: &mut dyn FnMut(), into: Option<&mut Vec<Duration>>| {
        reset();
        let start = Instant::now();
        f();
        if let Some(into) = into {
            into.push(start.elapsed());
        }
    };
    time(&mut reset_a, &mut a, None);
    time(&mut reset_b, &mut b, None);
    for r in 0..rounds {
        if r % 2 == 0 {
            time(&mut reset_a, &mut a, Some(&mut ta));
            time(&mut reset_b, &mut b, Some(&mut tb));
        } else {
            time(&mut reset_b, &mut b, Some(&mut tb));
            time(&mut reset_a, &mut a, Some(&mut ta));
        }
    }
    (median(ta), median(tb))
}

fn nothing() {}

fn human(bytes: usize) -> String {
    if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

/// Makes a std write durable the way a durable store does: the file's
/// bytes before the rename, the directory's entry after it.
fn std_publish(dir: &Path, tmp: &Path, f: File, name: &str, sync: bool) -> io::Result<()> {
    if sync {
        f.sync_data()?;
    }
    drop(f);
    fs::rename(tmp, dir.join(name))?;
    if sync {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Temp file + write_all + rename: what an atomic write costs with std.
fn std_write(dir: &Path, name: &str, data: &[u8], sync: bool) -> io::Result<()> {
    let tmp = dir.join(format!(".tmp-{name}"));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    std_publish(dir, &tmp, f, name, sync)
}

/// Temp file + io::copy from a reader + rename.
fn std_write_reader(dir: &Path, name: &str, reader: &mut dyn Read, sync: bool) -> io::Result<()> {
    let tmp = dir.join(format!(".tmp-{name}"));
    let mut f = File::create(&tmp)?;
    io::copy(reader, &mut f)?;
    std_publish(dir, &tmp, f, name, sync)
}

fn bench_object_size(
    root: &Path,
    b: &LocalBackend,
    size: usize,
    count: usize,
    rounds: usize,
    rows: &mut Vec<Row>,
) {
    let durable = b.is_durable();
    let mode = if durable { "durable" } else { "not durable" };
    let data: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 7)) as u8)
        .collect();
    let tag = human(size).replace(' ', "");
    let std_dir = root.join(format!("std-{mode}/{tag}").replace(' ', "-"));
    fs::create_dir_all(&std_dir).unwrap();
    let keys: Vec<String> = (0..count)
        .map(|i| format!("blobio/{tag}/obj{i:05}"))
        .collect();
    let names: Vec<String> = (0..count).map(|i| format!("obj{i:05}")).collect();
    let bytes = (size * count) as f64;
    let mbps = |d: Duration| bytes / d.as_secs_f64() / 1e6;

    // Writes create fresh objects: the previous round's are deleted untimed
    // (replacing an existing file by rename makes ext4 start writeback of
    // the new one, which would bury the code path under device time).
    let clear_blobio = || keys.iter().for_each(|k| b.delete(k).unwrap());
    let clear_std = || {
        names
            .iter()
            .for_each(|n| match fs::remove_file(std_dir.join(n)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => panic!("{e}"),
            })
    };
    let (tb, ts) = race(
        rounds,
        clear_blobio,
        || keys.iter().for_each(|k| b.write(k, &data).unwrap()),
        clear_std,
        || {
            names
                .iter()
                .for_each(|n| std_write(&std_dir, n, &data, durable).unwrap())
        },
    );
    rows.push(Row {
        operation: "write",
        mode,
        size: human(size),
        per_round: count,
        unit: "MB/s",
        blobio: mbps(tb),
        std: mbps(ts),
    });

    let (tb, ts) = race(
        rounds,
        clear_blobio,
        || {
            keys.iter().for_each(|k| {
                let mut r: &[u8] = &data;
                b.write_reader(k, &mut r as &mut dyn Read, Some(size as u64))
                    .unwrap()
            })
        },
        clear_std,
        || {
            names.iter().for_each(|n| {
                let mut r: &[u8] = &data;
                std_write_reader(&std_dir, n, &mut r as &mut dyn Read, durable).unwrap()
            })
        },
    );
    rows.push(Row {
        operation: "write_reader",
        mode,
        size: human(size),
        per_round: count,
        unit: "MB/s",
        blobio: mbps(tb),
        std: mbps(ts),
    });

    // Reads do not depend on how the objects were written: once.
    if durable {
        assert_eq!(b.read(&keys[0]).unwrap(), data);
        return;
    }
    let (tb, ts) = race(
        rounds,
        nothing,
        || {
            keys.iter().for_each(|k| {
                black_box(b.read(k).unwrap());
            })
        },
        nothing,
        || {
            names.iter().for_each(|n| {
                black_box(fs::read(std_dir.join(n)).unwrap());
            })
        },
    );
    rows.push(Row {
        operation: "read",
        mode: "",
        size: human(size),
        per_round: count,
        unit: "MB/s",
        blobio: mbps(tb),
        std: mbps(ts),
    });

    // Sanity: both sides really stored the bytes.
    assert_eq!(b.read(&keys[0]).unwrap(), data);
    assert_eq!(fs::read(std_dir.join(&names[0])).unwrap(), data);
}

fn std_walk(dir: &Path, rel: &mut String, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name = name.to_str().unwrap();
        let len = rel.len();
        rel.push_str(name);
        if entry.file_type().unwrap().is_dir() {
            rel.push('/');
            std_walk(&entry.path(), rel, out);
        } else {
            out.push(rel.clone());
        }
        rel.truncate(len);
    }
}

fn bench_list(rows: &mut Vec<Row>, rounds: usize) {
    const DIRS: usize = 100;
    const FILES: usize = 1000;
    let tmp = TempDir::new("bench-list");
    let base: PathBuf = tmp.join("tree");
    let start = Instant::now();
    for d in 0..DIRS {
        let dir = base.join(format!("db{d:03}/cpu"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..FILES {
            File::create(dir.join(format!("part-{f:05}.parquet"))).unwrap();
        }
    }
    eprintln!("created {} files in {:.1?}", DIRS * FILES, start.elapsed());
    let b = LocalBackend::new(&base).unwrap();
    let (tb, ts) = race(
        rounds,
        nothing,
        || {
            let keys = b.list("").unwrap();
            assert_eq!(keys.len(), DIRS * FILES);
            black_box(keys);
        },
        nothing,
        || {
            let mut out = Vec::new();
            std_walk(&base, &mut String::new(), &mut out);
            assert_eq!(out.len(), DIRS * FILES);
            black_box(out);
        },
    );
    let files = (DIRS * FILES) as f64;
    rows.push(Row {
        operation: "list",
        mode: "",
        size: format!("{DIRS} dirs x {FILES}"),
        per_round: 1,
        unit: "files/s",
        blobio: files / tb.as_secs_f64(),
        std: files / ts.as_secs_f64(),
    });
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument picks rows by name.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let wanted = |what: &str| filter.as_deref().map_or(true, |f| what.contains(f));
    let started = Instant::now();
    let mut rows = Vec::new();
    {
        let tmp = TempDir::new("bench-objects");
        let fast = LocalBackend::with_durable(tmp.join("store"), false).unwrap();
        let durable = LocalBackend::new(tmp.join("durable-store")).unwrap();
        for (size, count, rounds) in [(4 * KIB, 1000, 15), (MIB, 100, 15), (64 * MIB, 2, 11)] {
            if wanted(&human(size)) || wanted("write") || wanted("read") {
                bench_object_size(tmp.path(), &fast, size, count, rounds, &mut rows);
            }
        }
        // Each durable object waits for the device: fewer of them.
        for (size, count, rounds) in [(4 * KIB, 100, 7), (MIB, 20, 7), (64 * MIB, 2, 5)] {
            if wanted("durable") || wanted(&human(size)) || wanted("write") {
                bench_object_size(tmp.path(), &durable, size, count, rounds, &mut rows);
            }
        }
    }
    if wanted("list") {
        bench_list(&mut rows, 15);
    }

    println!();
    println!(
        "| operation | durability | size | per round | blobio | std::fs (synced when durable) | ratio (blobio/std) | within 10% |"
    );
    println!("|---|---|---|---:|---:|---:|---:|:---:|");
    for r in &rows {
        let ratio = r.blobio / r.std;
        let (b, s) = if r.unit == "MB/s" {
            (
                format!("{:.0} {}", r.blobio, r.unit),
                format!("{:.0} {}", r.std, r.unit),
            )
        } else {
            (
                format!("{:.2} M {}", r.blobio / 1e6, r.unit),
                format!("{:.2} M {}", r.std / 1e6, r.unit),
            )
        };
        let per_round = if r.per_round == 1 {
            "1 listing".to_owned()
        } else {
            format!("{} objects", r.per_round)
        };
        let ok = if ratio >= 0.90 { "yes" } else { "**no**" };
        println!(
            "| {} | {} | {} | {per_round} | {b} | {s} | {ratio:.2} | {ok} |",
            r.operation, r.mode, r.size
        );
    }
    println!();
    println!(
        "(median of the rounds; ratio = blobio throughput / std throughput; total {:.1?})",
        started.elapsed()
    );
}
