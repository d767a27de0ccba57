//! A TCP proxy on 127.0.0.1 in front of a real server. It parses the
//! client's HTTP/1.1 requests (they always carry Content-Length) so it can
//! count requests by method, and it forwards everything else untouched.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// What the proxy has seen.
#[derive(Default)]
pub struct Counters {
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Request lines seen, e.g. "POST /bucket?delete".
    pub requests: Mutex<Vec<String>>,
}

impl Counters {
    /// Requests whose line starts with `method` and contains `needle`.
    pub fn count(&self, method: &str, needle: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with(&format!("{method} ")) && r.contains(needle))
            .count()
    }
}

/// A running proxy; stops accepting when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// What it has seen.
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl Proxy {
    /// Starts a proxy forwarding to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s, up) = (counters.clone(), stop.clone(), upstream.to_owned());
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                c.connections.fetch_add(1, Ordering::SeqCst);
                let (c, up) = (c.clone(), up.clone());
                thread::spawn(move || {
                    let _ = serve(client, &up, &c);
                });
            }
        });
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            counters,
            stop,
            port,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(client: TcpStream, upstream: &str, counters: &Counters) -> io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    let mut to_client = client.try_clone()?;
    let mut from_server = server.try_clone()?;
    let back = thread::spawn(move || {
        let _ = io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let mut reader = BufReader::new(client);
    let mut to_server = server;
    loop {
        // Request line and headers.
        let mut head = Vec::new();
        let mut content_length = 0u64;
        let mut first = true;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                let _ = to_server.shutdown(Shutdown::Write);
                let _ = back.join();
                return Ok(());
            }
            if first {
                counters
                    .requests
                    .lock()
                    .unwrap()
                    .push(line.trim_end().to_owned());
                first = false;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
            head.extend_from_slice(line.as_bytes());
            if line == "\r\n" {
                break;
            }
        }
        to_server.write_all(&head)?;
        io::copy(&mut (&mut reader).take(content_length), &mut to_server)?;
    }
}
