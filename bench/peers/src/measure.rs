//! Runs one child and takes what it cost from wait4: user + system CPU and
//! peak RSS of that process (and anything it waited for) alone.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

/// What one child cost.
pub struct Usage {
    /// Spawn to exit, seconds.
    pub wall: f64,
    /// User + system CPU seconds.
    pub cpu: f64,
    /// Peak resident set, KiB.
    pub max_rss_kib: u64,
    /// Everything it printed on stdout.
    pub stdout: String,
}

/// Runs `cmd` to completion; panics, naming `what`, unless it exits 0.
pub fn run(what: &str, cmd: &mut Command) -> Usage {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let t0 = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap_or_else(|e| panic!("{what}: reading its output: {e}"));
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child, which
    // `Child` has not reaped (we never call its wait).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = t0.elapsed().as_secs_f64();
    assert_eq!(rc, pid, "{what}: wait4 failed: {}", std::io::Error::last_os_error());
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        panic!("{what}: failed (wait status {status:#x}); its stderr is above");
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        wall,
        cpu: secs(usage.ru_utime) + secs(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss as u64,
        stdout,
    }
}
