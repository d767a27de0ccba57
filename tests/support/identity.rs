//! A loopback HTTP server that speaks the identity protocols no real test
//! server here speaks: the ECS/EKS container credentials endpoint
//! (`GET <path>` with an `Authorization` token, JSON credentials) and, for
//! what moto's IMDS cannot show (a region other than us-east-1, request
//! counts, hangs), EC2 instance metadata IMDSv2 (`PUT /latest/api/token`,
//! then `GET /latest/meta-data/...` with `X-aws-ec2-metadata-token`).
//! For Azure it plays Microsoft Entra ID (the v2.0 token endpoint), the
//! instance metadata token endpoint and App Service's identity endpoint,
//! minting unsigned JWTs with the claims Azurite's `--oauth basic` checks
//! (`aud` storage, `iss` sts.windows.net, `nbf`/`exp`/`iat`).
//! It counts the requests it answered and can delay or never answer them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// What to answer.
pub struct Reply {
    pub status: u16,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Never answer (hold the connection until the server is dropped).
    pub hang: bool,
}

impl Reply {
    pub fn ok(body: impl Into<String>) -> Reply {
        Reply { status: 200, body: body.into(), delay: Duration::ZERO, hang: false }
    }
    pub fn status(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, body: body.into(), delay: Duration::ZERO, hang: false }
    }
    pub fn hang() -> Reply {
        Reply { status: 0, body: String::new(), delay: Duration::ZERO, hang: true }
    }
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Request, u64) -> Reply + Send + Sync;

/// The server; stops accepting when dropped.
pub struct Server {
    port: u16,
    count: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves every request with `handler(request, n)`, `n` counting from 1.
    pub fn start(handler: impl Fn(&Request, u64) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (c, s, st) = (Arc::clone(&count), Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, c, s, st) = (Arc::clone(&handler), Arc::clone(&c), Arc::clone(&s), Arc::clone(&st));
                std::thread::spawn(move || serve(conn, &*h, &c, &s, &st));
            }
        });
        Server { port, count, seen, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests answered (or being answered) so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(conn: TcpStream, handler: &Handler, count: &AtomicU64, seen: &Mutex<Vec<Request>>, stop: &AtomicBool) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let req = Request { method, path, headers, body };
    seen.lock().unwrap().push(req.clone());
    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
    let reply = handler(&req, n);
    if reply.hang {
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return;
    }
    std::thread::sleep(reply.delay);
    let reason = if reply.status < 300 { "OK" } else { "Error" };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        reply.status,
        reply.body.len(),
        reply.body
    );
}

/// RFC 3339 (UTC, whole seconds) of now plus `secs`.
pub fn rfc3339_in(secs: u64) -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + secs;
    let (days, rem) = (t / 86_400, t % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The JSON the container endpoint (and IMDS) answers.
pub fn credentials_json(key: &str, secret: &str, token: &str, life_secs: u64) -> String {
    format!(
        r#"{{"Code":"Success","AccessKeyId":"{key}","SecretAccessKey":"{secret}","Token":"{token}","Expiration":"{}"}}"#,
        rfc3339_in(life_secs)
    )
}

/// An IMDSv2 endpoint for an instance in `region` whose role `role` has
/// the credentials `creds` makes.
pub fn imds(region: &'static str, creds: impl Fn() -> String + Send + Sync + 'static) -> Server {
    Server::start(move |req, _| {
        let token_ok = req.headers.get("x-aws-ec2-metadata-token").map(String::as_str) == Some("imds-session-1");
        match (req.method.as_str(), req.path.as_str()) {
            ("PUT", "/latest/api/token") if req.headers.contains_key("x-aws-ec2-metadata-token-ttl-seconds") => {
                Reply::ok("imds-session-1")
            }
            ("PUT", _) => Reply::status(400, ""),
            _ if !token_ok => Reply::status(401, ""),
            ("GET", "/latest/meta-data/placement/region") => Reply::ok(region),
            ("GET", "/latest/meta-data/iam/security-credentials/") => Reply::ok("role-x\n"),
            ("GET", "/latest/meta-data/iam/security-credentials/role-x") => Reply::ok(creds()),
            _ => Reply::status(404, ""),
        }
    })
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The tenant the Azure tokens name.
pub const TENANT: &str = "dd0d0b8f-0000-4000-8000-000000000001";

/// An unsigned JWT (alg none) for Azure Storage, valid for `life_secs`,
/// that Azurite's `--oauth basic` accepts.
pub fn azure_jwt(life_secs: u64) -> String {
    use base64::Engine as _;
    let now = unix_now();
    let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(serde_json::json!({
            "aud": "https://storage.azure.com",
            "iss": format!("https://sts.windows.net/{TENANT}/"),
            "iat": now - 60, "nbf": now - 60, "exp": now + life_secs,
            "oid": "0b0b0b0b-0000-4000-8000-000000000002", "tid": TENANT,
            "sub": "0b0b0b0b-0000-4000-8000-000000000002",
        }))
    )
}

/// What Entra ID's v2.0 endpoint answers: `expires_in` a number.
pub fn aad_token_json(life_secs: u64) -> String {
    serde_json::json!({
        "token_type": "Bearer", "expires_in": life_secs, "ext_expires_in": life_secs,
        "access_token": azure_jwt(life_secs),
    })
    .to_string()
}

/// What IMDS and App Service answer: every field a string, `expires_on`
/// in unix seconds.
pub fn msi_token_json(life_secs: u64) -> String {
    let now = unix_now();
    serde_json::json!({
        "access_token": azure_jwt(life_secs), "expires_in": life_secs.to_string(),
        "expires_on": (now + life_secs).to_string(), "not_before": (now - 60).to_string(),
        "resource": "https://storage.azure.com/", "token_type": "Bearer",
    })
    .to_string()
}

/// An Entra ID / IMDS error body.
pub fn aad_error(code: &str, description: &str) -> String {
    serde_json::json!({"error": code, "error_description": description, "error_codes": [7000215],
        "trace_id": "0000-trace", "correlation_id": "0000-corr"})
    .to_string()
}

/// Name-value pairs of a form body or a query string, decoded.
pub fn form(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes()).into_owned().collect()
}

impl Request {
    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// The query's parameters.
    pub fn query(&self) -> HashMap<String, String> {
        form(self.path.split_once('?').map_or("", |(_, q)| q))
    }

    /// The body as a form.
    pub fn form(&self) -> HashMap<String, String> {
        form(&String::from_utf8_lossy(&self.body))
    }
}

/// Entra ID for one tenant: a client-credentials POST to
/// `/{TENANT}/oauth2/v2.0/token` whose form `accept` approves gets a token
/// living `life(n)` seconds (n counts requests from 1); anything else an
/// `invalid_client` error.
pub fn aad(
    accept: impl Fn(&HashMap<String, String>, u64) -> bool + Send + Sync + 'static,
    life: impl Fn(u64) -> u64 + Send + Sync + 'static,
) -> Server {
    Server::start(move |req, n| {
        let f = req.form();
        let well_formed = req.method == "POST"
            && req.route() == format!("/{TENANT}/oauth2/v2.0/token")
            && req.headers.get("content-type").map(String::as_str) == Some("application/x-www-form-urlencoded")
            && f.get("grant_type").map(String::as_str) == Some("client_credentials")
            && f.get("scope").map(String::as_str) == Some("https://storage.azure.com/.default");
        if !well_formed {
            return Reply::status(400, aad_error("invalid_request", "AADSTS900144: malformed request"));
        }
        if !accept(&f, n) {
            return Reply::status(401, aad_error("invalid_client", "AADSTS7000215: Invalid client secret provided."));
        }
        Reply::ok(aad_token_json(life(n)))
    })
}

/// A managed identity endpoint: IMDS (`header` None: `Metadata: true`,
/// api-version 2018-02-01) or App Service (`X-IDENTITY-HEADER: header`,
/// 2019-08-01). `id` is the user-assigned identity's query parameter and
/// value it requires, if any.
pub fn msi(
    header: Option<&'static str>,
    id: Option<(&'static str, &'static str)>,
    life: impl Fn(u64) -> u64 + Send + Sync + 'static,
    delay: Duration,
) -> Server {
    Server::start(move |req, n| {
        let q = req.query();
        let (route, version, proof) = match header {
            Some(h) => ("/msi/token", "2019-08-01", req.headers.get("x-identity-header").map(String::as_str) == Some(h)),
            None => ("/metadata/identity/oauth2/token", "2018-02-01", req.headers.get("metadata").map(String::as_str) == Some("true")),
        };
        if !proof {
            return Reply::status(400, aad_error("invalid_request", "Required metadata header not specified"));
        }
        let id_ok = match id {
            Some((k, v)) => q.get(k).map(String::as_str) == Some(v),
            None => !["client_id", "object_id", "msi_res_id", "principal_id", "mi_res_id"].iter().any(|k| q.contains_key(*k)),
        };
        let ok = req.method == "GET"
            && req.route() == route
            && q.get("api-version").map(String::as_str) == Some(version)
            && q.get("resource").map(String::as_str) == Some("https://storage.azure.com/");
        if !ok {
            return Reply::status(400, aad_error("invalid_request", &format!("unexpected request {}", req.path)));
        }
        if !id_ok {
            return Reply::status(400, aad_error("invalid_request", "Identity not found"));
        }
        Reply::ok(msi_token_json(life(n))).after(delay)
    })
}
