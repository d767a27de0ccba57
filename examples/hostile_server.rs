//! The test suite's hostile HTTP server (tests/support/hostile.rs), run on
//! its own for the C tests (examples/c/test_hostile.c).
//!
//! ```text
//! hostile_server <port file> [<log file>]
//! ```
//!
//! It serves the built-in scenarios (see `Scenarios` in
//! tests/support/hostile.rs: a bucket or container named `huge-length`,
//! `max-length`, `endless-list`, `empty-pages`, `status-400`, ...) on
//! 127.0.0.1 and an ephemeral port, which it writes to the port file
//! (atomically) once it listens. Every request is appended to the log file,
//! when given, as one line `METHOD TARGET`, before it is answered, so a test
//! can count what was sent.
//!
//! It exits when killed, or after an hour at most (a forgotten server must
//! not outlive a test run for long).

#[path = "../tests/support/hostile.rs"]
mod hostile;

use std::path::Path;
use std::time::Duration;

use hostile::{HostileServer, Scenarios};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !(2..=3).contains(&args.len()) {
        eprintln!("usage: {} <port file> [<log file>]", args[0]);
        std::process::exit(2);
    }
    let scenarios = Scenarios::default();
    let server = HostileServer::start_logged(
        move |req| scenarios.answer(req),
        args.get(2).map(Path::new),
    )
    .unwrap_or_else(|e| {
        eprintln!("hostile_server: cannot start: {e}");
        std::process::exit(1);
    });
    let tmp = format!("{}.tmp", args[1]);
    std::fs::write(&tmp, format!("{}\n", server.port())).expect("write the port file");
    std::fs::rename(&tmp, &args[1]).expect("publish the port file");
    std::thread::sleep(Duration::from_secs(3600));
    eprintln!("hostile_server: still running after an hour; exiting");
    std::process::exit(1);
}
