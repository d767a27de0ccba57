//! Plain std::fs on the local backend's directory: the floor of what a
//! careful program pays for the same files.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::data::{on_threads, Counter, Pattern, FILL};
use crate::spec::{keys, Spec};

const CHUNK: usize = 1024 * 1024;

fn copy_out(file: &mut File) -> u64 {
    let mut buf = vec![0u8; CHUNK];
    let mut sink = Counter::default();
    loop {
        let n = file.read(&mut buf).expect("std::fs read");
        if n == 0 {
            return sink.0;
        }
        sink.write_all(&buf[..n]).unwrap();
    }
}

fn write_file(path: &Path, data: &[u8]) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("std::fs create_dir_all");
    }
    fs::write(path, data).expect("std::fs write");
}

/// Runs the spec's row and reports it.
pub fn run(spec: &Spec) {
    let sizes = spec.sizes();
    let root = PathBuf::from(spec.str("root"));
    let at = |key: &str| root.join(key);
    let timed = crate::Timer::start();
    let moved = match spec.row() {
        "startup" => (0, 0),
        "put_single" => {
            let path = at(&keys::put(spec.client()));
            fs::create_dir_all(path.parent().unwrap()).expect("std::fs create_dir_all");
            let mut file = File::create(&path).expect("std::fs create");
            let mut buf = vec![0u8; CHUNK];
            let mut src = Pattern::new(sizes.big);
            loop {
                let n = src.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                file.write_all(&buf[..n]).expect("std::fs write");
            }
            (sizes.big, 1)
        }
        "get_single" => (copy_out(&mut File::open(at(keys::FIXTURE)).expect("open")), 1),
        "get_memory" => (fs::read(at(keys::FIXTURE)).expect("std::fs read").len() as u64, 1),
        "read_at" => {
            let mut file = File::open(at(keys::FIXTURE)).expect("std::fs open");
            file.seek(SeekFrom::Start(sizes.read_at_offset())).unwrap();
            (copy_out(&mut file), 1)
        }
        "small_put" => {
            let names = spec.own_small_keys();
            let payload = vec![FILL; sizes.small];
            let bytes = on_threads(names.len(), sizes.threads, |i| {
                write_file(&at(&names[i]), &payload);
                payload.len() as u64
            });
            (bytes, names.len() as u64)
        }
        "small_get" => {
            let names = spec.fixture_small_keys();
            let bytes = on_threads(names.len(), sizes.threads, |i| {
                fs::read(at(&names[i])).expect("std::fs read").len() as u64
            });
            (bytes, names.len() as u64)
        }
        "list" => {
            let mut names: Vec<String> = fs::read_dir(at(keys::FIX_PREFIX))
                .expect("std::fs read_dir")
                .map(|e| e.expect("std::fs dir entry").file_name().into_string().unwrap())
                .collect();
            names.sort();
            (0, names.len() as u64)
        }
        "delete" => {
            let names = spec.own_small_keys();
            for name in &names {
                fs::remove_file(at(name)).expect("std::fs remove_file");
            }
            (0, names.len() as u64)
        }
        other => panic!("std::fs: no row {other}"),
    };
    timed.report(moved);
}
