//! Runs one child and takes what it cost from wait4: user + system CPU and
//! peak RSS of that process alone.
//!
//! The child is started through a small launcher (this binary, `launch`),
//! not straight from the parent: Linux carries the peak RSS of the address
//! space a process was spawned from into its own ru_maxrss (posix_spawn
//! shares the parent's memory until exec), so every child of the parent
//! would report at least the parent's peak. The launcher is small; its
//! start-up footprint is the floor the "start-up" rows show.

use std::io::{Read, Write};
use std::path::Path;
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

/// Runs `cmd` to completion through the launcher; an error (naming `what`)
/// unless it exits 0. The child's own stderr goes to ours.
pub fn run(what: &str, cmd: &Command, scratch: &Path) -> Result<Usage, String> {
    let result = scratch.join(format!("usage.{}", std::process::id()));
    let mut launcher = Command::new(std::env::current_exe().expect("own path"));
    launcher.arg("launch").arg(&result).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => launcher.env(k, v),
            None => launcher.env_remove(k),
        };
    }
    launcher.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = launcher.spawn().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    // Its stderr is passed on as it comes, and kept for the failure's reason.
    let mut errors = child.stderr.take().unwrap();
    let echo = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n @ 1..) = errors.read(&mut buf) {
            let _ = std::io::stderr().write_all(&buf[..n]);
            kept.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&kept).into_owned()
    });
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap_or_else(|e| panic!("{what}: reading its output: {e}"));
    let status = child.wait().expect("waiting for the launcher");
    let errors = echo.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{what}: {status}: {}", reason(&errors)));
    }
    let text = std::fs::read_to_string(&result).expect("the launcher's result");
    let _ = std::fs::remove_file(&result);
    let f: Vec<f64> = text.split_whitespace().map(|x| x.parse().unwrap()).collect();
    Ok(Usage { wall: f[0], cpu: f[1], max_rss_kib: f[2] as u64, stdout })
}

/// `launch RESULT PROGRAM ARGS...`: runs PROGRAM (stdio and environment
/// inherited), writes "wall cpu max_rss_kib" to RESULT, exits as it did.
pub fn launch(args: &[String]) -> ! {
    let (result, program, rest) = match args {
        [result, program, rest @ ..] => (result, program, rest),
        _ => panic!("usage: launch RESULT PROGRAM ARGS..."),
    };
    let t0 = Instant::now();
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child, which
    // `Child` has not reaped (its wait is never called).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = t0.elapsed().as_secs_f64();
    assert_eq!(rc, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = secs(usage.ru_utime) + secs(usage.ru_stime);
    std::fs::write(result, format!("{wall} {cpu} {}", usage.ru_maxrss)).expect("writing RESULT");
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    std::process::exit(code)
}

/// The line of a failed child's stderr that says why: a Rust panic's message
/// (the line after "panicked at"), else the last line (a Python exception).
fn reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let at = lines.iter().position(|l| l.contains("panicked at"));
    let line = match at {
        Some(i) if i + 1 < lines.len() => lines[i + 1],
        _ => lines.last().copied().unwrap_or("no message"),
    };
    line.chars().take(300).collect()
}
