//! The test suite's fault-injecting proxy (tests/support/proxy.rs), run on
//! its own for the C tests (examples/c/test_resilient.c), which drive it
//! over a control socket.
//!
//! ```text
//! fault_proxy <upstream host:port> <port file>
//! ```
//!
//! Once listening it writes `<proxy port> <control port>` to the port file
//! (atomically) and serves, on 127.0.0.1:<control port>, one command a line,
//! each answered with one line (`ok`, the counts, or `error: ...`):
//!
//! ```text
//! fail N STATUS [SECS]     the next N requests get STATUS (no body) from the proxy,
//!                          with `Retry-After: SECS` when SECS is given
//! slowdown N [SECS]        the next N requests get 503 SlowDown (S3 XML), likewise
//! reset N                  the next N requests get their connection reset
//! cut N PERCENT [METHOD]   the next N requests (with METHOD) get their
//!                          response body cut after PERCENT % of it
//! stall N PERCENT [METHOD] likewise, but the connection goes silent there
//!                          instead of closing
//! clear                    forget every queued fault
//! count                    "<requests> <connections>" seen so far
//! quit                     exit
//! ```
//!
//! It exits on `quit`, when killed, or after an hour at most (a forgotten
//! proxy must not outlive a test run for long).

#[path = "../tests/support/proxy.rs"]
mod proxy;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use proxy::{Cut, Fault, Proxy, Rule};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: {} <upstream host:port> <port file>", args[0]);
        std::process::exit(2);
    }
    let proxy = Proxy::start(&args[1]);
    let control = TcpListener::bind("127.0.0.1:0").expect("bind the control socket");
    let control_port = control.local_addr().unwrap().port();
    let tmp = format!("{}.tmp", args[2]);
    std::fs::write(&tmp, format!("{} {control_port}\n", proxy.port()))
        .expect("write the port file");
    std::fs::rename(&tmp, &args[2]).expect("publish the port file");

    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(3600));
        eprintln!("fault_proxy: still running after an hour; exiting");
        std::process::exit(1);
    });

    for conn in control.incoming() {
        let Ok(conn) = conn else { continue };
        if serve(conn, &proxy) {
            return;
        }
    }
}

/// Serves one control connection; true when told to quit.
fn serve(conn: TcpStream, proxy: &Proxy) -> bool {
    let mut out = match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return false,
    };
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { return false };
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"quit") {
            let _ = writeln!(out, "ok");
            return true;
        }
        let reply = match command(&words, proxy) {
            Ok(reply) => reply,
            Err(e) => format!("error: {e}"),
        };
        if writeln!(out, "{reply}").is_err() {
            return false;
        }
    }
    false
}

fn number<T: std::str::FromStr>(words: &[&str], i: usize, what: &str) -> Result<T, String> {
    words
        .get(i)
        .ok_or_else(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("{what} {:?} is not a number", words[i]))
}

/// `fault` with the `Retry-After` seconds of word `i`, when there is one.
fn with_retry_after(fault: Fault, words: &[&str], i: usize) -> Result<Fault, String> {
    if words.len() <= i {
        return Ok(fault);
    }
    let secs: u64 = number(words, i, "retry-after seconds")?;
    Ok(fault.retry_after(&secs.to_string()))
}

fn command(words: &[&str], proxy: &Proxy) -> Result<String, String> {
    match words.first().copied() {
        Some("fail") => {
            let n = number(words, 1, "count")?;
            let fault = Fault::status(number(words, 2, "status")?);
            proxy.fail_next(n, with_retry_after(fault, words, 3)?);
        }
        Some("slowdown") => {
            let n = number(words, 1, "count")?;
            proxy.fail_next(n, with_retry_after(Fault::s3_slow_down(), words, 2)?);
        }
        Some("reset") => proxy.fail_next(number(words, 1, "count")?, Fault::Reset),
        Some(verb @ ("cut" | "stall")) => {
            let n = number(words, 1, "count")?;
            let percent: f64 = number(words, 2, "percent")?;
            let at = Cut::Fraction(percent / 100.0);
            let fault = if verb == "cut" { Fault::Cut(at) } else { Fault::Stall(at) };
            let mut rule = Rule::new(fault).times(n);
            if let Some(method) = words.get(3) {
                rule = rule.method(method);
            }
            proxy.push(rule);
        }
        Some("clear") => proxy.clear_faults(),
        Some("count") => {
            return Ok(format!(
                "{} {}",
                proxy.counters.total(),
                proxy.counters.connections.load(Ordering::SeqCst)
            ))
        }
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("empty command".into()),
    }
    Ok("ok".into())
}
