//! The peer benchmark of issue 6: blobio beside object_store (on tokio), the
//! Python SDKs (boto3 on moto, azure-storage-blob on Azurite), curl and plain
//! std::fs, every row on the same server in the same run.
//!
//! `scripts/bench-peers` starts the servers and runs `blobio-bench-peers`
//! (the orchestrator). The orchestrator runs each (client, row) as a child
//! process, this binary again (`child`) for the Rust clients, peers.py for
//! the Python ones and curl itself, and takes the child's CPU time and peak
//! RSS from wait4: what the client alone cost.

mod clients {
    pub mod blobio;
    pub mod object_store;
    pub mod stdfs;
}
mod curl;
mod data;
mod measure;
mod orchestrate;
mod ranges;
mod report;
mod spec;

use std::time::Instant;

/// Wall time of a row's operation alone, reported on the child's stdout.
pub struct Timer(Instant);

impl Timer {
    pub fn start() -> Timer {
        Timer(Instant::now())
    }

    pub fn report(self, (bytes, ops): (u64, u64)) {
        spec::report(self.0.elapsed().as_secs_f64(), bytes, ops);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("child") => {
            let spec = spec::Spec::from_env();
            match spec.client() {
                "blobio" => clients::blobio::run(&spec),
                "object_store" => clients::object_store::run(&spec),
                "stdfs" => clients::stdfs::run(&spec),
                other => panic!("no Rust client {other}"),
            }
        }
        Some("launch") => measure::launch(&args[1..]),
        Some("ranges") => ranges::main(),
        Some("ranges-child") => ranges::child(&args[1]),
        None => orchestrate::main(),
        Some(other) => {
            eprintln!("usage: blobio-bench-peers [child | launch RESULT PROGRAM ARGS... | ranges]   (unknown argument {other})");
            std::process::exit(2);
        }
    }
}
