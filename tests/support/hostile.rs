//! A small hostile HTTP/1.1 server on 127.0.0.1 for the tests: it answers
//! every request from a script instead of from storage, so a test can send
//! the library answers that no real server would (a `Content-Length` that
//! lies, a listing that never ends, a 4xx with a provider error document).
//!
//! - [`HostileServer::start`] serves any handler, a function from the
//!   [`Request`] to the [`Reply`];
//! - [`HostileServer::scripted`] serves the built-in scenarios of
//!   [`Scenarios`], chosen by the bucket (S3, path style) or container
//!   (Azure, `/devstoreaccount1/<container>`) the request names, so that one
//!   server covers every case (the C tests run it as
//!   `examples/hostile_server.rs`).
//!
//! Every request is logged (method, target, headers, body length) before it
//! is answered; [`HostileServer::requests`] returns the log and, when the
//! server was given a log file, each request is also appended to it as one
//! line `METHOD TARGET`.
//!
//! Connections are kept alive (each on a thread of its own) until the client
//! closes them, a reply asks to close, or 30 s pass without a request. Only
//! std.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How long an idle kept-alive connection is kept.
const IDLE: Duration = Duration::from_secs(30);
/// Longest request head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Request body bytes kept in the log (the rest is read and counted).
const KEEP_BODY: usize = 64 * 1024;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The request target: path and query, as sent.
    pub target: String,
    /// Header names in lower case, values as sent.
    pub headers: Vec<(String, String)>,
    /// Bytes of the request body.
    pub body_len: u64,
    /// The first [`KEEP_BODY`] bytes of the body.
    pub body: Vec<u8>,
}

impl Request {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query string (without `?`), empty when there is none.
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// The raw (still percent-encoded) value of query parameter `name`:
    /// `Some("")` for a parameter without a value.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query().split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `METHOD TARGET`, the line of the log file.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Headers (Content-Length is added from `content_length` or the body).
    pub headers: Vec<(String, String)>,
    /// Body bytes sent (none to a HEAD).
    pub body: Vec<u8>,
    /// The Content-Length announced; `None`: the body's length.
    pub content_length: Option<u64>,
    /// Close the connection once the reply is written.
    pub close: bool,
}

impl Reply {
    /// An empty reply with `status`.
    pub fn new(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            content_length: None,
            close: false,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets an XML body (and its content type).
    pub fn xml(self, xml: impl Into<String>) -> Self {
        self.header("Content-Type", "application/xml")
            .body(xml.into().into_bytes())
    }

    /// Announces `len` bytes whatever the body holds, and closes the
    /// connection after the body: a lying Content-Length followed by the
    /// end of the connection.
    pub fn lying_length(mut self, len: u64) -> Self {
        self.content_length = Some(len);
        self.close = true;
        self
    }

    /// Closes the connection after this reply.
    pub fn close(mut self) -> Self {
        self.close = true;
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

struct Shared {
    handler: Box<Handler>,
    log: Mutex<Vec<Request>>,
    log_file: Option<Mutex<File>>,
    stop: AtomicBool,
}

/// The server; stops accepting when dropped (connections in progress end
/// on their own).
pub struct HostileServer {
    port: u16,
    shared: Arc<Shared>,
}

impl HostileServer {
    /// Serves `handler` on an ephemeral port of 127.0.0.1.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_logged(handler, None).expect("start the hostile server")
    }

    /// Serves the built-in [`Scenarios`].
    pub fn scripted() -> Self {
        let scenarios = Scenarios::default();
        Self::start(move |req| scenarios.answer(req))
    }

    /// Like [`HostileServer::start`], also appending `METHOD TARGET` lines
    /// to `log_file` (created or truncated), one per request, flushed before
    /// the request is answered.
    pub fn start_logged(
        handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
        log_file: Option<&Path>,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let log_file = match log_file {
            Some(p) => Some(Mutex::new(File::create(p)?)),
            None => None,
        };
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            log: Mutex::new(Vec::new()),
            log_file,
            stop: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name("hostile-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if accept_shared.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let conn_shared = Arc::clone(&accept_shared);
                    let _ = thread::Builder::new()
                        .name("hostile-conn".into())
                        .spawn(move || serve(conn, &conn_shared));
                }
            })?;
        Ok(HostileServer { port, shared })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Azurite-style path endpoint, `http://127.0.0.1:<port>/devstoreaccount1`.
    pub fn azure_endpoint(&self) -> String {
        format!("{}/{}", self.url(), DEV_ACCOUNT)
    }

    /// Every request so far, in the order they arrived.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.log.lock().unwrap().clone()
    }

    /// How many requests so far satisfy `pred`.
    pub fn count(&self, pred: impl Fn(&Request) -> bool) -> usize {
        self.shared.log.lock().unwrap().iter().filter(|r| pred(r)).count()
    }

    /// The log as `METHOD TARGET` lines, for failure messages.
    pub fn describe(&self) -> String {
        let log = self.shared.log.lock().unwrap();
        let mut out = format!("{} requests:", log.len());
        for r in log.iter().take(20) {
            out.push_str("\n  ");
            out.push_str(&r.line());
        }
        if log.len() > 20 {
            out.push_str(&format!("\n  ... and {} more", log.len() - 20));
        }
        out
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Serves the requests of one connection until it closes.
fn serve(conn: TcpStream, shared: &Shared) {
    let _ = conn.set_read_timeout(Some(IDLE));
    let _ = conn.set_nodelay(true);
    let Ok(mut out) = conn.try_clone() else { return };
    let mut input = BufReader::new(conn);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let req = match read_request(&mut input) {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return,
        };
        let client_closes = req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if let Some(file) = &shared.log_file {
            let mut f = file.lock().unwrap();
            let _ = writeln!(f, "{}", req.line());
            let _ = f.flush();
        }
        shared.log.lock().unwrap().push(req.clone());
        let reply = (shared.handler)(&req);
        if write_reply(&mut out, &req, &reply).is_err() {
            return;
        }
        if reply.close || client_closes {
            let _ = out.flush();
            let _ = out.shutdown(Shutdown::Write);
            // Lets the client read to the end before the socket goes.
            let mut sink = [0u8; 1024];
            let _ = input.get_mut().set_read_timeout(Some(Duration::from_secs(2)));
            while matches!(input.read(&mut sink), Ok(n) if n > 0) {}
            return;
        }
    }
}

/// Reads one request (head and body); `None` at a clean end of the
/// connection.
fn read_request(input: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = input.read_until(b'\n', &mut line)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "request head cut"))
            };
        }
        // Blank lines before a request line are tolerated (RFC 9112 2.2).
        if head.is_empty() && (line == b"\r\n" || line == b"\n") {
            continue;
        }
        let end = line == b"\r\n" || line == b"\n";
        head.extend_from_slice(&line);
        if end {
            break;
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut req = Request {
        method,
        target,
        headers,
        body_len: 0,
        body: Vec::new(),
    };
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        read_chunked(input, &mut req)?;
    } else if let Some(len) = req.header("content-length").and_then(|v| v.parse::<u64>().ok()) {
        if req.header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            let out = input.get_mut();
            out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        read_body(input, &mut req, len)?;
    }
    Ok(Some(req))
}

/// Reads `len` body bytes, keeping the first ones.
fn read_body(input: &mut BufReader<TcpStream>, req: &mut Request, len: u64) -> io::Result<()> {
    let mut left = len;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = buf.len().min(left.min(usize::MAX as u64) as usize);
        let n = input.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "request body cut"));
        }
        let keep = n.min(KEEP_BODY.saturating_sub(req.body.len()));
        req.body.extend_from_slice(&buf[..keep]);
        req.body_len += n as u64;
        left -= n as u64;
    }
    Ok(())
}

/// Reads a chunked request body.
fn read_chunked(input: &mut BufReader<TcpStream>, req: &mut Request) -> io::Result<()> {
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "chunked body cut"));
        }
        let size = line.trim().split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers up to the blank line.
            loop {
                let mut t = String::new();
                if input.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(());
                }
            }
        }
        read_body(input, req, size)?;
        let mut crlf = String::new();
        input.read_line(&mut crlf)?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

fn write_reply(out: &mut TcpStream, req: &Request, reply: &Reply) -> io::Result<()> {
    let len = reply.content_length.unwrap_or(reply.body.len() as u64);
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {len}\r\n"));
    if reply.close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if req.method != "HEAD" {
        out.write_all(&reply.body)?;
    }
    out.flush()
}

// ---------------------------------------------------------------------------
// The built-in scenarios

/// The account of Azurite-style path endpoints.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";

/// `Content-Length` of the `huge-length` scenario: 10^14 bytes.
pub const HUGE_LENGTH: u64 = 100_000_000_000_000;
/// `Content-Length` of the `max-length` scenario: 2^63 - 1 bytes.
pub const MAX_LENGTH: u64 = i64::MAX as u64;
/// Body bytes sent before the connection closes in those scenarios.
pub const LYING_BODY_LEN: u64 = 3;

/// The byte at `offset` of a lying object: `a` to `z` over and over, so
/// that the bytes a reader got can be checked for their place (a resumed
/// read that repeats or skips bytes shows).
pub fn lying_byte(offset: u64) -> u8 {
    b'a' + (offset % 26) as u8
}

/// The [`LYING_BODY_LEN`] bytes a lying object sends from `start`.
pub fn lying_body(start: u64) -> Vec<u8> {
    (start..start + LYING_BODY_LEN).map(lying_byte).collect()
}
/// Pages the `endless-list` scenario serves before it gives up and ends
/// the listing (so that a client that never stops does not hang the test).
pub const ENDLESS_LIST_VALVE: u64 = 50;
/// Pages the `empty-pages` scenario serves before it ends the listing.
pub const EMPTY_PAGES_VALVE: u64 = 1500;
/// The request id every scripted error carries.
pub const REQUEST_ID: &str = "REQ123";

/// The scenarios, by bucket or container name. For every scenario, a
/// request on the bucket or container itself that is not a listing (S3's
/// HeadBucket, Azure's `GET ?restype=container`) answers 200, so a store
/// opens cleanly; what follows is about the other requests.
///
/// | name | answer |
/// |---|---|
/// | `huge-length` | HEAD of an object: 200, `Content-Length: 10^14`; GET: 200 (206 with `Content-Range` to a range) announcing 10^14 bytes (or the range's length), 3 bytes of body ([`lying_body`] from the range's start), then close |
/// | `max-length` | the same with 2^63 - 1 |
/// | `endless-list` | every ListObjectsV2 / List Blobs page: one key `k`, truncated, the same continuation token (marker) each time; page [`ENDLESS_LIST_VALVE`] of a listing ends it |
/// | `empty-pages` | every page: no key, no prefix, truncated, a new token each time; page [`EMPTY_PAGES_VALVE`] ends it |
/// | `status-NNN` (400, 411, 413, 414, 416) | every object request: status NNN with the provider's error (S3: XML `Code`, `Message`, `RequestId` and `x-amz-request-id`; Azure: `x-ms-error-code`, `x-ms-request-id` and XML `Code`, `Message`), request id [`REQUEST_ID`] |
/// | anything else | objects: 404 (`NoSuchKey` / `BlobNotFound`); listings: one empty final page |
///
/// A request is Azure's when its path starts with `/devstoreaccount1/`.
#[derive(Default)]
pub struct Scenarios {
    /// Pages served by the listing in progress, per flavour and scenario
    /// (a request without a token or marker starts a new listing).
    pages: Mutex<HashMap<String, u64>>,
}

/// The error code and message of `status` for S3 and for Azure.
pub fn scripted_error(status: u16, azure: bool) -> (&'static str, &'static str) {
    match (status, azure) {
        (400, false) => ("KeyTooLongError", "Your key is too long"),
        (400, true) => (
            "InvalidHeaderValue",
            "The value for one of the HTTP headers is not in the correct format.",
        ),
        (411, false) => ("MissingContentLength", "You must provide the Content-Length HTTP header."),
        (411, true) => ("MissingContentLengthHeader", "Content-Length header is required."),
        (413, false) => ("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"),
        (413, true) => ("RequestBodyTooLarge", "The request body is too large."),
        // Neither documents a code of its own for 414: a plausible one.
        (414, false) => ("RequestURITooLong", "The request URI is too long"),
        (414, true) => ("RequestUriTooLong", "The request URI is too long."),
        (416, false) => ("InvalidRange", "The requested range is not satisfiable"),
        (416, true) => ("InvalidRange", "The range specified is invalid for the current size of the resource."),
        _ => ("Unexpected", "unexpected"),
    }
}

impl Scenarios {
    /// The answer to `req`.
    pub fn answer(&self, req: &Request) -> Reply {
        let (azure, rest) = match req.path().strip_prefix(&format!("/{DEV_ACCOUNT}")) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => (true, rest),
            _ => (false, req.path()),
        };
        let rest = rest.trim_start_matches('/');
        let (scenario, key) = rest.split_once('/').unwrap_or((rest, ""));
        let listing = if azure {
            req.query_param("comp") == Some("list")
        } else {
            req.query_param("list-type") == Some("2")
        };
        if listing {
            return self.list_page(req, azure, scenario);
        }
        if key.is_empty() {
            // HeadBucket, Get Container Properties, Create Container...
            return ok(azure);
        }
        if let Some(status) = scenario.strip_prefix("status-").and_then(|s| s.parse().ok()) {
            return error_reply(status, azure);
        }
        match scenario {
            "huge-length" => lying_object(req, azure, HUGE_LENGTH),
            "max-length" => lying_object(req, azure, MAX_LENGTH),
            _ => not_found(azure),
        }
    }

    fn list_page(&self, req: &Request, azure: bool, scenario: &str) -> Reply {
        let token_param = if azure { "marker" } else { "continuation-token" };
        let page = {
            let mut pages = self.pages.lock().unwrap();
            let n = pages
                .entry(format!("{azure}/{scenario}"))
                .or_insert(0);
            if req.query_param(token_param).is_none() {
                *n = 0;
            }
            *n += 1;
            *n
        };
        let (keys, next): (&[&str], Option<String>) = match scenario {
            "endless-list" if page < ENDLESS_LIST_VALVE => (&["k"], Some("same-token".into())),
            "endless-list" => (&["k"], None),
            "empty-pages" if page < EMPTY_PAGES_VALVE => (&[], Some(format!("token-{page}"))),
            _ => (&[], None),
        };
        if azure {
            azure_page(keys, next.as_deref())
        } else {
            s3_page(scenario, keys, next.as_deref())
        }
    }
}

fn ok(azure: bool) -> Reply {
    let r = Reply::new(200);
    if azure {
        r.header("x-ms-request-id", REQUEST_ID)
            .header("x-ms-version", "2021-08-06")
    } else {
        r.header("x-amz-request-id", REQUEST_ID)
    }
}

fn not_found(azure: bool) -> Reply {
    if azure {
        Reply::new(404)
            .header("x-ms-error-code", "BlobNotFound")
            .header("x-ms-request-id", REQUEST_ID)
            .xml(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>\
                 <Message>The specified blob does not exist.</Message></Error>",
            )
    } else {
        Reply::new(404).header("x-amz-request-id", REQUEST_ID).xml(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message>\
             <RequestId>REQ123</RequestId></Error>",
        )
    }
}

/// The scripted error of `status` (see [`scripted_error`]).
pub fn error_reply(status: u16, azure: bool) -> Reply {
    let (code, message) = scripted_error(status, azure);
    if azure {
        Reply::new(status)
            .header("x-ms-error-code", code)
            .header("x-ms-request-id", REQUEST_ID)
            .xml(format!(
                "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code>\
                 <Message>{message}\nRequestId:{REQUEST_ID}\nTime:2024-01-01T00:00:00.0000000Z</Message></Error>"
            ))
    } else {
        Reply::new(status)
            .header("x-amz-request-id", REQUEST_ID)
            .xml(format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                 <Message>{message}</Message><RequestId>{REQUEST_ID}</RequestId></Error>"
            ))
    }
}

/// `bytes=a-b` or `bytes=a-` against an object of `size` bytes.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end: u64 = if b.trim().is_empty() {
        size.checked_sub(1)?
    } else {
        b.trim().parse::<u64>().ok()?.min(size.checked_sub(1)?)
    };
    (start <= end).then_some((start, end))
}

/// An object of `size` bytes that only ever gives [`LYING_BODY_LEN`]
/// bytes of [`lying_body`] from where a request starts.
fn lying_object(req: &Request, azure: bool, size: u64) -> Reply {
    let base = ok(azure)
        .header("ETag", "\"hostile-etag\"")
        .header("Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
        .header("Content-Type", "application/octet-stream");
    let base = if azure {
        base.header("x-ms-blob-type", "BlockBlob")
    } else {
        base
    };
    let range = req.header("x-ms-range").or_else(|| req.header("range"));
    match (req.method.as_str(), range) {
        ("HEAD", _) => Reply {
            content_length: Some(size),
            ..base
        },
        ("GET", Some(r)) => match parse_range(r, size) {
            Some((start, end)) => Reply { status: 206, ..base }
                .header("Content-Range", format!("bytes {start}-{end}/{size}"))
                .body(lying_body(start))
                .lying_length(end - start + 1),
            None => error_reply(416, azure).header("Content-Range", format!("bytes */{size}")),
        },
        ("GET", None) => base.body(lying_body(0)).lying_length(size),
        _ => error_reply(400, azure),
    }
}

fn s3_page(bucket: &str, keys: &[&str], next: Option<&str>) -> Reply {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Name>{bucket}</Name><Prefix></Prefix><KeyCount>{}</KeyCount><MaxKeys>1000</MaxKeys>\
         <IsTruncated>{}</IsTruncated>",
        keys.len(),
        next.is_some()
    );
    if let Some(t) = next {
        xml.push_str(&format!("<NextContinuationToken>{t}</NextContinuationToken>"));
    }
    for k in keys {
        xml.push_str(&format!(
            "<Contents><Key>{k}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>\
             <ETag>&quot;e&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
        ));
    }
    xml.push_str("</ListBucketResult>");
    Reply::new(200).header("x-amz-request-id", REQUEST_ID).xml(xml)
}

fn azure_page(keys: &[&str], next: Option<&str>) -> Reply {
    let mut xml = String::from(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <EnumerationResults ServiceEndpoint=\"http://127.0.0.1/devstoreaccount1\" ContainerName=\"c\">\
         <MaxResults>5000</MaxResults><Blobs>",
    );
    for k in keys {
        xml.push_str(&format!(
            "<Blob><Name>{k}</Name><Properties><Last-Modified>Mon, 01 Jan 2024 00:00:00 GMT</Last-Modified>\
             <Etag>0x1</Etag><Content-Length>1</Content-Length><BlobType>BlockBlob</BlobType></Properties></Blob>"
        ));
    }
    xml.push_str("</Blobs>");
    match next {
        Some(m) => xml.push_str(&format!("<NextMarker>{m}</NextMarker>")),
        None => xml.push_str("<NextMarker />"),
    }
    xml.push_str("</EnumerationResults>");
    Reply::new(200)
        .header("x-ms-request-id", REQUEST_ID)
        .header("x-ms-version", "2021-08-06")
        .xml(xml)
}
