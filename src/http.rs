//! The HTTP transport shared by the S3 and Azure backends: one ureq agent per
//! store per process (connection pooling, timeouts, TLS roots), and the
//! mapping of transport failures onto [`Error`].

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body, SendBody};

use crate::error::{Error, Result};
use crate::fork::PerProcess;

/// Timeouts of a network store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (DNS, TCP, TLS). Default 10 s.
    pub connect: Duration,
    /// Sending a request and receiving the response headers. Default 60 s.
    pub request: Duration,
    /// Longest silence while a body is sent or received (a stalled
    /// transfer). Default 30 s.
    pub stall: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
            stall: Duration::from_secs(30),
        }
    }
}

/// Transport settings common to the network backends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpConfig {
    /// Timeouts.
    pub timeouts: Timeouts,
    /// PEM file of CA certificates to trust instead of the system's CA
    /// store (as curl's `CURLOPT_CAINFO`), for private CAs and test servers.
    /// Without it, the system store is used: the PEM file `SSL_CERT_FILE`
    /// names, else the first of the usual distribution bundles
    /// ([`SYSTEM_CA_BUNDLES`]).
    pub ca_bundle: Option<PathBuf>,
}

impl HttpConfig {
    /// The settings as `config_json` members, under their option names.
    pub(crate) fn config_json(&self, out: &mut serde_json::Map<String, serde_json::Value>) {
        let ms = |d: Duration| serde_json::Value::from(d.as_millis() as u64);
        out.insert("connect_timeout_ms".into(), ms(self.timeouts.connect));
        out.insert("request_timeout_ms".into(), ms(self.timeouts.request));
        out.insert("stall_timeout_ms".into(), ms(self.timeouts.stall));
        if let Some(p) = &self.ca_bundle {
            out.insert("ca_bundle_path".into(), p.to_string_lossy().into_owned().into());
        }
    }

    /// The same settings with every timeout at most `bound` (for a quick
    /// check at open, or a token fetch).
    pub(crate) fn bounded(&self, bound: Duration) -> HttpConfig {
        let mut quick = self.clone();
        quick.timeouts.connect = quick.timeouts.connect.min(bound);
        quick.timeouts.request = quick.timeouts.request.min(bound);
        quick.timeouts.stall = quick.timeouts.stall.min(bound);
        quick
    }
}

/// Where the system's CA store is looked for when `SSL_CERT_FILE` is not
/// set, in this order (the first file that exists is used).
pub const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Arch, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // RHEL, CentOS
    "/etc/ssl/ca-bundle.pem",                            // openSUSE
    "/etc/ssl/cert.pem",                                 // Alpine, macOS, BSDs
];

/// The system's CA store, read once per process.
struct SystemRoots {
    certs: Arc<Vec<Certificate<'static>>>,
    /// Why there are none, when there are none.
    missing: Option<String>,
}

fn system_roots() -> &'static SystemRoots {
    static ROOTS: OnceLock<SystemRoots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let from_env = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty());
        let found = match &from_env {
            Some(file) => Some(PathBuf::from(file)),
            None => SYSTEM_CA_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file()),
        };
        let hint = "set ca_bundle_path (or BLOBIO_CA_BUNDLE) to a PEM file of trusted CAs";
        match found.map(|path| load_certs(&path)) {
            Some(Ok(certs)) => SystemRoots { certs: Arc::new(certs), missing: None },
            Some(Err(e)) => SystemRoots {
                certs: Arc::new(Vec::new()),
                missing: Some(format!("the system CA store is unusable ({e}); {hint}")),
            },
            None => SystemRoots {
                certs: Arc::new(Vec::new()),
                missing: Some(format!(
                    "no system CA store (SSL_CERT_FILE is not set and none of {} exists); {hint}",
                    SYSTEM_CA_BUNDLES.join(", ")
                )),
            },
        }
    })
}

/// One pooled HTTP client. Cheap to share between threads.
///
/// Its agent, and with it every pooled connection, belongs to the process
/// that made it. After `fork()` the child's first request builds the
/// child's own agent from the same configuration: a socket inherited from
/// the parent is never read, written, shut down nor closed by the child
/// (the parent's agent is leaked in the child, see [`crate::fork`]), so
/// the two processes never share a connection.
#[derive(Clone)]
pub(crate) struct Transport {
    agents: Arc<Agents>,
    /// Set when no CA is trusted: HTTPS requests fail at once, saying why.
    no_roots: Option<Arc<str>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Transport")
    }
}

/// The agent of each process that used a transport, and what makes one.
struct Agents {
    config: ureq::config::Config,
    per_process: PerProcess<Agent>,
}

impl Agents {
    /// This process's agent: a getpid and an atomic load, unless this is a
    /// forked child's first request.
    fn here(&self) -> &Agent {
        self.per_process
            .get_or_make(|| new_agent(&self.config), drop)
    }
}

/// An agent whose sockets a cancel can shut down: ureq's connectors with
/// the TCP one wrapped (see `crate::cancel::socket`). No SOCKS proxy: the
/// ureq features here never had it.
fn new_agent(config: &ureq::config::Config) -> Agent {
    use ureq::unversioned::transport::{ConnectProxyConnector, Connector, RustlsConnector};
    let connector = ()
        .chain(ConnectProxyConnector::default())
        .chain(crate::cancel::socket::CancellableTcp)
        .chain(RustlsConnector::default());
    Agent::with_parts(config.clone(), connector, crate::cancel::socket::CancellableResolver)
}

/// A response with its status and headers; the body is read by the caller.
pub(crate) type Response = ureq::http::Response<Body>;

impl Transport {
    /// Builds the agent once; every request of the store reuses it (in a
    /// forked child, the child's own agent, built on its first request).
    pub(crate) fn new(cfg: &HttpConfig) -> Result<Self> {
        let mut no_roots = None;
        let roots = match &cfg.ca_bundle {
            Some(path) => Arc::new(load_certs(path)?),
            None => {
                let system = system_roots();
                no_roots = system.missing.as_deref().map(Arc::from);
                Arc::clone(&system.certs)
            }
        };
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::Specific(roots))
            .unversioned_rustls_crypto_provider(crate::tls::provider());
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            // Objects are bytes: never ask for, nor inflate, compressed bodies.
            .accept_encoding("identity")
            .user_agent(concat!("blobio/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(cfg.timeouts.connect))
            .timeout_send_request(Some(cfg.timeouts.request))
            .timeout_recv_response(Some(cfg.timeouts.request))
            .timeout_per_read(Some(cfg.timeouts.stall))
            .timeout_per_write(Some(cfg.timeouts.stall))
            .max_idle_connections(64)
            .max_idle_connections_per_host(32)
            .tls_config(tls.build())
            .build();
        Ok(Transport {
            agents: Arc::new(Agents {
                per_process: PerProcess::with(new_agent(&config)),
                config,
            }),
            no_roots,
        })
    }

    /// This transport as a forked child inherits it: its agent made by
    /// another process (the one of this transport, pooled connections and
    /// all).
    #[cfg(test)]
    pub(crate) fn as_inherited_by_a_child(&self) -> Transport {
        Transport {
            agents: Arc::new(Agents {
                config: self.agents.config.clone(),
                per_process: PerProcess::from_another_process(self.agents.here().clone()),
            }),
            no_roots: self.no_roots.clone(),
        }
    }

    /// Sends one request, once: retries are the caller's (see
    /// [`crate::retry`]). `path` names the object in errors.
    pub(crate) fn send(
        &self,
        path: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: RequestBody<'_>,
    ) -> Result<Response> {
        crate::cancel::check(path)?;
        if let Some(why) = &self.no_roots {
            if url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
                return Err(Error::Network {
                    path: path.to_owned(),
                    message: format!("TLS: {why}"),
                    source: None,
                });
            }
        }
        // ureq frames a bodiless POST or PUT as chunked, which S3 refuses
        // (411 MissingContentLength) and some proxies cannot forward: send
        // an explicit `Content-Length: 0` instead.
        let body = match body {
            RequestBody::Empty if matches!(method, "POST" | "PUT" | "PATCH") => {
                RequestBody::Bytes(&[])
            }
            other => other,
        };
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        self.run(path, builder, body)
    }

    fn run(
        &self,
        path: &str,
        builder: ureq::http::request::Builder,
        body: RequestBody<'_>,
    ) -> Result<Response> {
        let bad = |e: ureq::http::Error| Error::invalid_argument(format!("{path}: bad request: {e}"));
        let agent = self.agents.here();
        // With a progress callback, request bodies are counted as ureq
        // takes them (a part or a whole object).
        let metered = crate::cancel::metered();
        let result = match body {
            RequestBody::Empty => agent.run(builder.body(()).map_err(bad)?),
            RequestBody::Bytes(b) if metered => {
                let builder = builder.header("content-length", b.len().to_string());
                let mut src = b;
                let mut counted = crate::cancel::Counted::new(path, &mut src);
                agent.run(builder.body(SendBody::from_reader(&mut counted)).map_err(bad)?)
            }
            RequestBody::Reader(r, len) if metered => {
                let builder = builder.header("content-length", len.to_string());
                let mut counted = crate::cancel::Counted::new(path, r);
                agent.run(builder.body(SendBody::from_reader(&mut counted)).map_err(bad)?)
            }
            RequestBody::Bytes(b) => {
                let builder = builder.header("content-length", b.len().to_string());
                agent.run(builder.body(b).map_err(bad)?)
            }
            RequestBody::Reader(r, len) => {
                let builder = builder.header("content-length", len.to_string());
                agent.run(builder.body(SendBody::from_reader(r)).map_err(bad)?)
            }
        };
        result.map_err(|e| transport_error(path, e))
    }
}

/// The body of a request.
pub(crate) enum RequestBody<'a> {
    /// No body.
    Empty,
    /// An in-memory body.
    Bytes(&'a [u8]),
    /// A streamed body of exactly this many bytes.
    Reader(&'a mut dyn Read, u64),
}

/// The certificates of a PEM file.
fn load_certs(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let shown = path.to_string_lossy();
    // A CA bundle that cannot be read is a configuration mistake, named as
    // such (not a missing object).
    let pem = std::fs::read(path)
        .map_err(|e| Error::invalid_argument(format!("CA bundle {shown} cannot be read: {e}")))?;
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c.to_owned()),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::invalid_argument(format!(
                    "CA bundle {shown}: not valid PEM: {e}"
                )))
            }
        }
    }
    if certs.is_empty() {
        return Err(Error::invalid_argument(format!(
            "CA bundle {shown}: no certificates found"
        )));
    }
    Ok(certs)
}

/// Maps a ureq failure onto blobio's error kinds.
pub(crate) fn transport_error(path: &str, e: ureq::Error) -> Error {
    // A cancel shuts the call's sockets down: what ureq then says
    // (connection aborted, reset, closed) is the cancel.
    if crate::cancel::is_cancelled() {
        return crate::cancel::cancelled(path);
    }
    let message = e.to_string();
    match e {
        ureq::Error::Timeout(which) => Error::Timeout {
            path: path.to_owned(),
            message: format!("{which:?} timeout expired"),
            remote: None,
            source: Some(Box::new(ureq::Error::Timeout(which))),
        },
        ureq::Error::Io(io) => io_error(path, "request", io),
        ureq::Error::Tls(msg) => Error::Network {
            path: path.to_owned(),
            message: format!("TLS: {msg}"),
            source: None,
        },
        other @ (ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Protocol(_)) => Error::Network {
            path: path.to_owned(),
            message,
            source: Some(Box::new(other)),
        },
        other => Error::Other {
            path: path.to_owned(),
            message,
            remote: None,
            source: Some(Box::new(other)),
        },
    }
}

/// Maps an I/O error on the connection (while sending or reading a body).
pub(crate) fn io_error(path: &str, what: &str, io: io::Error) -> Error {
    if crate::cancel::is_cancelled() {
        return crate::cancel::cancelled(path);
    }
    // ureq reports its own failures inside io::Error while a body streams.
    let io = match io.downcast::<ureq::Error>() {
        Ok(ureq_err) => return transport_error(path, ureq_err),
        Err(io) => io,
    };
    let message = if io.kind() == io::ErrorKind::UnexpectedEof {
        format!("{what}: connection closed before the body was complete")
    } else if matches!(io.kind(), io::ErrorKind::InvalidData | io::ErrorKind::Other)
        && io.to_string().contains("certificate")
    {
        format!("{what}: TLS: {io}")
    } else {
        format!("{what}: {io}")
    };
    if io.kind() == io::ErrorKind::TimedOut || io.kind() == io::ErrorKind::WouldBlock {
        return Error::Timeout {
            path: path.to_owned(),
            message,
            remote: None,
            source: Some(Box::new(io)),
        };
    }
    Error::Network {
        path: path.to_owned(),
        message,
        source: Some(Box::new(io)),
    }
}

/// What stays unescaped in a URL path (and in S3's `x-amz-copy-source`):
/// RFC 3986 unreserved characters and `/`. Everything else (`+`, `%`,
/// space, sub-delimiters, non-ASCII) is percent-encoded, as the SDKs do.
pub(crate) const PATH_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// A response header as text.
pub(crate) fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Reads a (small) response body completely, for XML documents and errors.
pub(crate) fn read_small_body(path: &str, resp: Response, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| io_error(path, "read response", e))?;
    Ok(out)
}

/// A writer that counts what it passed on, so a failed read knows where to
/// resume.
pub(crate) struct CountingWriter<'a> {
    pub(crate) inner: &'a mut dyn Write,
    pub(crate) count: u64,
}

impl Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `reader` (a response body) into `writer` until it ends, and
/// fails unless that was after exactly `expected` bytes when given.
pub(crate) fn copy_exact(
    path: &str,
    reader: &mut dyn Read,
    expected: Option<u64>,
    writer: &mut dyn Write,
) -> Result<u64> {
    const LEN: usize = 256 * 1024;
    let mut storage = vec![0u8; LEN + 64];
    // The body is copied in from ureq's buffer with `rep movsb` (glibc's
    // copy for blocks of this size), which on some CPUs runs at half speed
    // or worse into a destination that is not cache-line aligned: on the
    // AMD EPYC here, a one-stream GET from moto cost 0.6 s/GiB of CPU
    // unaligned and 0.4 aligned.
    let start = storage.as_ptr().align_offset(64);
    let buf = &mut storage[start..start + LEN];
    let mut total = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(path, "read body", e)),
        };
        writer.write_all(&buf[..n]).map_err(|e| Error::Io {
            path: path.to_owned(),
            operation: "write to destination",
            source: e,
        })?;
        total += n as u64;
        crate::cancel::advance(path, n as u64)?;
    }
    if let Some(expected) = expected {
        if total != expected {
            return Err(Error::Network {
                path: path.to_owned(),
                message: format!("body ended after {total} of {expected} bytes"),
                source: None,
            });
        }
    }
    Ok(total)
}
