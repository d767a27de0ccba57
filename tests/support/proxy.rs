//! A fault-injecting TCP proxy on 127.0.0.1 in front of a real server.
//!
//! It parses the client's HTTP/1.1 requests (they always carry
//! Content-Length) and the server's responses (Content-Length, chunked, or
//! delimited by the end of the connection), so it can count requests and
//! inject faults at exact points:
//!
//! - answer by itself: 500, 503, 503 with S3's `SlowDown` or Azure's
//!   `ServerBusy`, or any status and body ([`Fault::Respond`]);
//! - reset the connection instead of answering ([`Fault::Reset`]);
//! - read the request and never answer ([`Fault::BlackHole`]);
//! - pass the response head and only the first bytes of its body, then
//!   close ([`Fault::Cut`]) or go silent ([`Fault::Stall`]);
//! - forward the request and answer with the server's status and headers
//!   but another body ([`Fault::Rewrite`]: S3's 200 with an `<Error>`);
//! - damage one byte of the request's body on its way to the server
//!   ([`Fault::FlipRequest`]) or of the answer's body on its way back
//!   ([`Fault::FlipResponse`]), framing untouched;
//! - refuse connections (listener closed, [`Proxy::refuse_connections`]) or
//!   accept and reset them ([`Proxy::reset_next_connections`]).
//!
//! Faults are programmed per request: a queue of [`Rule`]s, each matching a
//! method and/or a substring of the request target, used a number of times
//! ("fail the next 2 requests with 503 then pass", "cut the first GET at
//! 40%"); requests no rule matches follow an optional repeating cycle
//! ([`Proxy::flap`]), else pass. A rule can run a hook after its fault hit
//! and before the client sees the connection end (to replace an object
//! between a cut and the client's retry, deterministically).
//!
//! Used by the Rust tests (`mod support;`) and, standalone, by
//! `examples/fault_proxy.rs` for the C tests. Only std and libc.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

/// Where a body is cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cut {
    /// After this many body bytes.
    Bytes(u64),
    /// After this fraction (0.0 to 1.0) of the body's length.
    Fraction(f64),
}

impl Cut {
    /// Body bytes passed before the cut, for a body of `len` bytes. Always
    /// fewer than `len`, so a cut always truncates; an empty body is cut
    /// inside the response head (nothing of the response is sent).
    pub fn bytes_of(self, len: u64) -> Option<u64> {
        if len == 0 {
            return None;
        }
        let n = match self {
            Cut::Bytes(n) => n,
            Cut::Fraction(f) => (len as f64 * f.clamp(0.0, 1.0)).floor() as u64,
        };
        Some(n.min(len - 1))
    }
}

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answers by itself (the server never sees the request), then closes
    /// the connection.
    Respond {
        /// HTTP status.
        status: u16,
        /// Extra response headers.
        headers: Vec<(String, String)>,
        /// Response body.
        body: String,
    },
    /// Reads the request, then closes the connection with a TCP reset.
    Reset,
    /// Reads the request and never answers; the connection stays open
    /// until the client gives up (or the proxy is dropped).
    BlackHole,
    /// Forwards the request; passes the response head and the body up to
    /// the cut, then closes the connection.
    Cut(Cut),
    /// Forwards the request; passes the response head and the body up to
    /// the cut, then goes silent, holding the connection open.
    Stall(Cut),
    /// Forwards the request (the server does the work); answers with the
    /// server's status line and headers but `body` instead of its body
    /// (framed by a new Content-Length), then closes the connection.
    Rewrite {
        /// The body the client gets.
        body: String,
    },
    /// Forwards the request with one bit of its body's byte at this
    /// offset (the last byte, for a shorter body) flipped; the answer
    /// passes as it is.
    FlipRequest(usize),
    /// Forwards the request; the answer passes with one bit of its body's
    /// byte at this offset (the last byte, for a shorter body) flipped.
    FlipResponse(usize),
    /// Forwards the request; the answer's body passes at this many bytes
    /// per second at most (a slow network).
    Throttle(u64),
}

/// `body` with one bit of its byte at `at` (or its last) flipped.
fn flip(body: &mut [u8], at: usize) {
    if let Some(last) = body.len().checked_sub(1) {
        body[at.min(last)] ^= 0x04;
    }
}

impl Fault {
    /// A bodiless answer with `status`.
    pub fn status(status: u16) -> Fault {
        Fault::Respond {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// An S3 error document with `status` and `code`.
    pub fn s3_error(status: u16, code: &str) -> Fault {
        Fault::Respond {
            status,
            headers: vec![("Content-Type".into(), "application/xml".into())],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>injected by the test proxy</Message>\
                 <RequestId>proxy-{status}</RequestId></Error>"
            ),
        }
    }

    /// The server's answer with its body replaced by an S3 error document
    /// with `code`: what S3 sends when CompleteMultipartUpload or
    /// CopyObject fail after their 200 went out.
    pub fn s3_error_in_body(code: &str) -> Fault {
        Fault::Rewrite {
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>rewritten by the test proxy</Message>\
                 <RequestId>proxy-rewrite</RequestId></Error>"
            ),
        }
    }

    /// S3's throttling answer: 503 SlowDown.
    pub fn s3_slow_down() -> Fault {
        Fault::s3_error(503, "SlowDown")
    }

    /// An Azure error: the code in `x-ms-error-code` and in the body.
    pub fn azure_error(status: u16, code: &str) -> Fault {
        Fault::Respond {
            status,
            headers: vec![
                ("Content-Type".into(), "application/xml".into()),
                ("x-ms-error-code".into(), code.into()),
                ("x-ms-request-id".into(), format!("proxy-{status}")),
            ],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
                 <Message>Injected by the test proxy.</Message></Error>"
            ),
        }
    }

    /// Azure's throttling answer: 503 ServerBusy.
    pub fn azure_server_busy() -> Fault {
        Fault::azure_error(503, "ServerBusy")
    }

    /// The same answer with a `Retry-After` header (seconds or an
    /// HTTP-date); other faults are returned as they are.
    pub fn retry_after(self, value: &str) -> Fault {
        match self {
            Fault::Respond {
                status,
                mut headers,
                body,
            } => {
                headers.push(("Retry-After".into(), value.into()));
                Fault::Respond {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }

    /// Cut the body after this fraction of it.
    pub fn cut_at(fraction: f64) -> Fault {
        Fault::Cut(Cut::Fraction(fraction))
    }

    fn label(&self) -> String {
        match self {
            Fault::Respond { status, .. } => format!("respond {status}"),
            Fault::Reset => "reset".into(),
            Fault::BlackHole => "black hole".into(),
            Fault::Cut(c) => format!("cut {c:?}"),
            Fault::Stall(c) => format!("stall {c:?}"),
            Fault::Rewrite { .. } => "rewrite body".into(),
            Fault::FlipRequest(at) => format!("flip request byte {at}"),
            Fault::FlipResponse(at) => format!("flip response byte {at}"),
            Fault::Throttle(rate) => format!("throttle {rate} B/s"),
        }
    }
}

/// A hook run once when its rule's fault hits.
pub type Hook = Box<dyn FnOnce() + Send>;

/// A programmed fault: which requests it hits, and how many times.
pub struct Rule {
    fault: Fault,
    method: Option<String>,
    target_contains: Option<String>,
    times: usize,
    hook: Option<Hook>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("fault", &self.fault)
            .field("method", &self.method)
            .field("target_contains", &self.target_contains)
            .field("times", &self.times)
            .finish()
    }
}

impl Rule {
    /// `fault` for the next request, whatever it is.
    pub fn new(fault: Fault) -> Rule {
        Rule {
            fault,
            method: None,
            target_contains: None,
            times: 1,
            hook: None,
        }
    }

    /// Only requests with this method (`GET`, `PUT`, ...).
    pub fn method(mut self, method: &str) -> Rule {
        self.method = Some(method.to_owned());
        self
    }

    /// Only requests whose target (path and query) contains `needle`.
    pub fn target(mut self, needle: &str) -> Rule {
        self.target_contains = Some(needle.to_owned());
        self
    }

    /// Hits this many matching requests (default 1).
    pub fn times(mut self, n: usize) -> Rule {
        self.times = n;
        self
    }

    /// Runs `hook` on the proxy's thread the first time the fault hits,
    /// after the faulty part of the response was sent and before the
    /// connection is closed (so before the client can retry).
    pub fn then(mut self, hook: impl FnOnce() + Send + 'static) -> Rule {
        self.hook = Some(Box::new(hook));
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        self.method.as_deref().map_or(true, |m| m == method)
            && self
                .target_contains
                .as_deref()
                .map_or(true, |n| target.contains(n))
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The fault applied, or `"pass"`.
    pub fault: String,
}

impl SeenRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the proxy has seen.
#[derive(Default)]
pub struct Counters {
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Request lines seen, e.g. "POST /bucket?delete HTTP/1.1".
    pub requests: Mutex<Vec<String>>,
    /// Every request with its headers and fault.
    pub seen: Mutex<Vec<SeenRequest>>,
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

    /// All requests seen.
    pub fn total(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The requests seen, in order.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// The state of the listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listen {
    /// Accepting.
    Open,
    /// Asked to close; the accept thread has not yet.
    Closing,
    /// Closed: connections are refused.
    Closed,
    /// Asked to reopen.
    Reopening,
}

/// The repeating fault cycle of requests no rule matches.
#[derive(Default)]
struct Flap {
    cycle: Vec<Option<Fault>>,
    next: usize,
    methods: Option<Vec<String>>,
}

struct Shared {
    upstream: String,
    port: u16,
    counters: Arc<Counters>,
    rules: Mutex<VecDeque<Rule>>,
    flap: Mutex<Flap>,
    reset_next: AtomicUsize,
    listen: Mutex<Listen>,
    listen_changed: Condvar,
    live: Mutex<Vec<(u64, TcpStream)>>,
    next_id: AtomicU64,
    stop: AtomicBool,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// What it has seen.
    pub counters: Arc<Counters>,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts a proxy forwarding to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            upstream: upstream.to_owned(),
            port,
            counters: counters.clone(),
            rules: Mutex::new(VecDeque::new()),
            flap: Mutex::new(Flap::default()),
            reset_next: AtomicUsize::new(0),
            listen: Mutex::new(Listen::Open),
            listen_changed: Condvar::new(),
            live: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        thread::spawn(move || accept_loop(listener, s));
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            counters,
            shared,
        }
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// `127.0.0.1:<port>`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.shared.port)
    }

    /// Queues a rule (rules are tried in the order queued).
    pub fn push(&self, rule: Rule) {
        self.shared.rules.lock().unwrap().push_back(rule);
    }

    /// `fault` for the next `n` requests, whatever they are.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.push(Rule::new(fault).times(n));
    }

    /// Rules not yet used up.
    pub fn pending_rules(&self) -> usize {
        self.shared.rules.lock().unwrap().len()
    }

    /// Forgets every queued rule and the flap cycle.
    pub fn clear_faults(&self) {
        self.shared.rules.lock().unwrap().clear();
        *self.shared.flap.lock().unwrap() = Flap::default();
    }

    /// Requests that no rule matches take the faults of `cycle` in turn
    /// (`None` passes), round and round: a flapping backend.
    pub fn flap(&self, cycle: Vec<Option<Fault>>) {
        *self.shared.flap.lock().unwrap() = Flap {
            cycle,
            next: 0,
            methods: None,
        };
    }

    /// Like [`Proxy::flap`], for requests with one of `methods` only.
    pub fn flap_methods(&self, methods: &[&str], cycle: Vec<Option<Fault>>) {
        *self.shared.flap.lock().unwrap() = Flap {
            cycle,
            next: 0,
            methods: Some(methods.iter().map(|m| (*m).to_owned()).collect()),
        };
    }

    /// Accepts and resets the next `n` connections (without reading
    /// anything). Live connections are dropped first, so the client's next
    /// request needs a new connection.
    pub fn reset_next_connections(&self, n: usize) {
        self.shared.reset_next.store(n, Ordering::SeqCst);
        self.drop_connections();
    }

    /// Connection resets armed by [`Proxy::reset_next_connections`] and
    /// not yet used.
    pub fn pending_connection_resets(&self) -> usize {
        self.shared.reset_next.load(Ordering::SeqCst)
    }

    /// Closes every live client connection.
    pub fn drop_connections(&self) {
        for (_, s) in self.shared.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// With `true`, closes the listening socket (new connections are
    /// refused: ECONNREFUSED) and drops live connections; with `false`,
    /// listens again on the same port. Returns once done.
    pub fn refuse_connections(&self, refuse: bool) {
        let sh = &self.shared;
        let mut state = sh.listen.lock().unwrap();
        if refuse {
            if *state != Listen::Open {
                return;
            }
            *state = Listen::Closing;
            drop(state);
            // Wake the accept loop so it sees the request.
            let _ = TcpStream::connect(("127.0.0.1", sh.port));
            let mut state = sh.listen.lock().unwrap();
            while *state != Listen::Closed {
                state = sh.listen_changed.wait(state).unwrap();
            }
            drop(state);
            self.drop_connections();
        } else {
            if *state != Listen::Closed {
                return;
            }
            *state = Listen::Reopening;
            sh.listen_changed.notify_all();
            while *state != Listen::Open {
                state = sh.listen_changed.wait(state).unwrap();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.listen_changed.notify_all();
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.shared.port));
        self.drop_connections();
    }
}

fn set_state(sh: &Shared, state: Listen) {
    *sh.listen.lock().unwrap() = state;
    sh.listen_changed.notify_all();
}

fn accept_loop(mut listener: TcpListener, sh: Arc<Shared>) {
    loop {
        for client in listener.incoming() {
            if sh.stop.load(Ordering::SeqCst) {
                return;
            }
            if *sh.listen.lock().unwrap() == Listen::Closing {
                break;
            }
            let Ok(client) = client else { continue };
            sh.counters.connections.fetch_add(1, Ordering::SeqCst);
            let resets = sh
                .reset_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            if resets.is_ok() {
                reset(client);
                continue;
            }
            let id = sh.next_id.fetch_add(1, Ordering::SeqCst);
            if let Ok(clone) = client.try_clone() {
                sh.live.lock().unwrap().push((id, clone));
            }
            let sh = sh.clone();
            thread::spawn(move || {
                let _ = serve(client, &sh);
                sh.live.lock().unwrap().retain(|(i, _)| *i != id);
            });
        }
        // Closing: drop the listener, wait to be reopened.
        drop(listener);
        set_state(&sh, Listen::Closed);
        let mut state = sh.listen.lock().unwrap();
        while *state == Listen::Closed && !sh.stop.load(Ordering::SeqCst) {
            state = sh.listen_changed.wait(state).unwrap();
        }
        drop(state);
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        listener = loop {
            match TcpListener::bind(("127.0.0.1", sh.port)) {
                Ok(l) => break l,
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        };
        set_state(&sh, Listen::Open);
    }
}

/// Closes `stream` with a TCP reset (SO_LINGER 0).
fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized linger struct.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// A request read from the client.
#[derive(Clone)]
struct Request {
    method: String,
    target: String,
    /// Request line and headers, as received.
    head: Vec<u8>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads a head (request or response): lines up to the blank line. `None`
/// at a clean end of the stream before any byte.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<(Vec<u8>, Vec<String>)>> {
    let mut head = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "head cut short",
            ));
        }
        head.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        if text.is_empty() {
            return Ok(Some((head, lines)));
        }
        lines.push(text);
    }
}

fn parse_headers(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Request>> {
    let Some((head, lines)) = read_head(reader)? else {
        return Ok(None);
    };
    let mut parts = lines[0].split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let headers = parse_headers(&lines);
    let len: u64 = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = Vec::with_capacity(len as usize);
    reader.take(len).read_to_end(&mut body)?;
    if (body.len() as u64) < len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "request body cut short",
        ));
    }
    Ok(Some(Request {
        method,
        target,
        head,
        headers,
        body,
    }))
}

/// A response read from the server: its head and its body exactly as
/// framed on the wire (raw chunks for a chunked body).
struct Response {
    head: Vec<u8>,
    body: Vec<u8>,
    /// The connection cannot carry another response.
    close: bool,
}

fn read_response(reader: &mut impl BufRead, method: &str) -> io::Result<Option<Response>> {
    let Some((head, lines)) = read_head(reader)? else {
        return Ok(None);
    };
    let status: u16 = lines[0]
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = parse_headers(&lines);
    let mut close = header(&headers, "connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
        || lines[0].starts_with("HTTP/1.0");
    let mut body = Vec::new();
    let bodiless =
        method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
    if bodiless {
    } else if header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let mut line = Vec::new();
            reader.read_until(b'\n', &mut line)?;
            body.extend_from_slice(&line);
            let size_text = String::from_utf8_lossy(&line);
            let size =
                u64::from_str_radix(size_text.trim().split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    let mut t = Vec::new();
                    if reader.read_until(b'\n', &mut t)? == 0 {
                        break;
                    }
                    body.extend_from_slice(&t);
                    if t == b"\r\n" || t == b"\n" {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            reader.take(size + 2).read_to_end(&mut body)?;
            if (body.len() - start) as u64 != size + 2 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "chunk cut short",
                ));
            }
        }
    } else if let Some(len) = header(&headers, "content-length").and_then(|v| v.parse::<u64>().ok())
    {
        reader.take(len).read_to_end(&mut body)?;
        if (body.len() as u64) < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "response body cut short",
            ));
        }
    } else {
        reader.read_to_end(&mut body)?;
        close = true;
    }
    Ok(Some(Response { head, body, close }))
}

/// A connection to the upstream server.
struct Upstream {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Upstream {
    fn connect(addr: &str) -> io::Result<Upstream> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Upstream {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn exchange(&mut self, req: &Request) -> io::Result<Option<Response>> {
        self.writer.write_all(&req.head)?;
        self.writer.write_all(&req.body)?;
        self.writer.flush()?;
        read_response(&mut self.reader, &req.method)
    }
}

/// Forwards `req`, on the kept connection when there is one (reconnecting
/// once if the server had closed it).
fn forward(upstream: &mut Option<Upstream>, addr: &str, req: &Request) -> io::Result<Response> {
    if let Some(up) = upstream.as_mut() {
        if let Ok(Some(resp)) = up.exchange(req) {
            return Ok(resp);
        }
    }
    let mut up = Upstream::connect(addr)?;
    let resp = up.exchange(req)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "server closed without answering",
        )
    })?;
    *upstream = Some(up);
    Ok(resp)
}

/// Picks the fault for a request and records it.
fn pick(sh: &Shared, req: &Request, line: &str) -> (Option<Fault>, Option<Hook>) {
    let (fault, hook) = {
        let mut rules = sh.rules.lock().unwrap();
        match rules
            .iter()
            .position(|r| r.matches(&req.method, &req.target))
        {
            Some(i) => {
                let rule = &mut rules[i];
                let picked = (Some(rule.fault.clone()), rule.hook.take());
                rule.times -= 1;
                if rule.times == 0 {
                    rules.remove(i);
                }
                picked
            }
            None => {
                let mut flap = sh.flap.lock().unwrap();
                let applies = flap
                    .methods
                    .as_ref()
                    .map_or(true, |ms| ms.contains(&req.method));
                if flap.cycle.is_empty() || !applies {
                    (None, None)
                } else {
                    let f = flap.cycle[flap.next % flap.cycle.len()].clone();
                    flap.next += 1;
                    (f, None)
                }
            }
        }
    };
    sh.counters.requests.lock().unwrap().push(line.to_owned());
    sh.counters.seen.lock().unwrap().push(SeenRequest {
        method: req.method.clone(),
        target: req.target.clone(),
        headers: req.headers.clone(),
        fault: fault
            .as_ref()
            .map_or_else(|| "pass".to_owned(), Fault::label),
    });
    (fault, hook)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        412 => "Precondition Failed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected",
    }
}

/// Holds a connection open without answering until the client closes it
/// or the proxy stops.
fn hold(client: &TcpStream, sh: &Shared) {
    let _ = client.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 4096];
    let mut reader = client;
    while !sh.stop.load(Ordering::SeqCst) {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

fn serve(client: TcpStream, sh: &Shared) -> io::Result<()> {
    client.set_nodelay(true)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let mut upstream: Option<Upstream> = None;
    loop {
        let Some(req) = read_request(&mut reader)? else {
            return Ok(());
        };
        let line = String::from_utf8_lossy(&req.head)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        let (fault, hook) = pick(sh, &req, &line);
        let run_hook = |hook: Option<Hook>| {
            if let Some(h) = hook {
                h();
            }
        };
        match fault {
            None => {
                let resp = forward(&mut upstream, &sh.upstream, &req)?;
                if !relay(&mut to_client, &resp)? {
                    return Ok(());
                }
            }
            Some(Fault::Respond {
                status,
                headers,
                body,
            }) => {
                let mut head = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    reason(status),
                    body.len()
                );
                for (k, v) in &headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                return answer_and_close(to_client, &head, &body, || run_hook(hook));
            }
            Some(Fault::Rewrite { body }) => {
                let resp = forward(&mut upstream, &sh.upstream, &req)?;
                let text = String::from_utf8_lossy(&resp.head);
                let mut head = String::new();
                for line in text.split("\r\n").filter(|l| !l.is_empty()) {
                    let name = line.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
                    if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                        head.push_str(line);
                        head.push_str("\r\n");
                    }
                }
                head.push_str(&format!(
                    "Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                ));
                return answer_and_close(to_client, &head, &body, || run_hook(hook));
            }
            Some(Fault::FlipRequest(at)) => {
                let mut damaged = req.clone();
                flip(&mut damaged.body, at);
                let resp = forward(&mut upstream, &sh.upstream, &damaged)?;
                let open = relay(&mut to_client, &resp)?;
                run_hook(hook);
                if !open {
                    return Ok(());
                }
            }
            Some(Fault::FlipResponse(at)) => {
                let mut resp = forward(&mut upstream, &sh.upstream, &req)?;
                flip(&mut resp.body, at);
                let open = relay(&mut to_client, &resp)?;
                run_hook(hook);
                if !open {
                    return Ok(());
                }
            }
            Some(Fault::Throttle(rate)) => {
                let resp = forward(&mut upstream, &sh.upstream, &req)?;
                to_client.write_all(&resp.head)?;
                let started = std::time::Instant::now();
                let mut sent = 0usize;
                for chunk in resp.body.chunks(16 * 1024) {
                    to_client.write_all(chunk)?;
                    to_client.flush()?;
                    sent += chunk.len();
                    let due = Duration::from_secs_f64(sent as f64 / rate.max(1) as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        thread::sleep(wait);
                    }
                }
                if resp.close {
                    let _ = to_client.shutdown(Shutdown::Both);
                }
                run_hook(hook);
                if resp.close {
                    return Ok(());
                }
            }
            Some(Fault::Reset) => {
                run_hook(hook);
                reset(to_client);
                return Ok(());
            }
            Some(Fault::BlackHole) => {
                run_hook(hook);
                hold(&to_client, sh);
                return Ok(());
            }
            Some(Fault::Cut(cut)) | Some(Fault::Stall(cut)) => {
                let stall = matches!(fault, Some(Fault::Stall(_)));
                let resp = forward(&mut upstream, &sh.upstream, &req)?;
                if let Some(n) = cut.bytes_of(resp.body.len() as u64) {
                    to_client.write_all(&resp.head)?;
                    to_client.write_all(&resp.body[..n as usize])?;
                    to_client.flush()?;
                }
                run_hook(hook);
                if stall {
                    hold(&to_client, sh);
                } else {
                    let _ = to_client.shutdown(Shutdown::Both);
                }
                return Ok(());
            }
        }
    }
}

/// Passes the server's answer to the client; whether the connection can
/// carry another request (else it is shut down).
fn relay(to_client: &mut TcpStream, resp: &Response) -> io::Result<bool> {
    to_client.write_all(&resp.head)?;
    to_client.write_all(&resp.body)?;
    to_client.flush()?;
    if resp.close {
        let _ = to_client.shutdown(Shutdown::Both);
    }
    Ok(!resp.close)
}

/// Sends an answer made by the proxy, runs the rule's hook, and closes.
fn answer_and_close(
    mut to_client: TcpStream,
    head: &str,
    body: &str,
    hook: impl FnOnce(),
) -> io::Result<()> {
    to_client.write_all(head.as_bytes())?;
    to_client.write_all(body.as_bytes())?;
    to_client.flush()?;
    hook();
    let _ = to_client.shutdown(Shutdown::Both);
    Ok(())
}

/// A listener whose accept queue is full, so a connection attempt hangs
/// until the client's connect timeout (Linux drops SYNs to a full queue).
/// Keep the returned value alive while it is used.
pub struct UnresponsiveListener {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl UnresponsiveListener {
    /// Binds one and fills its queue.
    pub fn start() -> UnresponsiveListener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        // SAFETY: a listening socket; listen() again only changes its backlog.
        let rc = unsafe { libc::listen(listener.as_raw_fd(), 0) };
        assert_eq!(rc, 0, "listen(0)");
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        // A backlog of 0 holds one connection; fill it (and then some: the
        // extra attempts time out quickly and are dropped).
        for _ in 0..2 {
            if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                fillers.push(s);
            }
        }
        assert!(!fillers.is_empty(), "could not fill the accept queue");
        UnresponsiveListener {
            url: format!("http://{addr}"),
            _listener: listener,
            _fillers: fillers,
        }
    }
}
