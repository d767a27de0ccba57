//! Authorising Azure Blob requests: Shared Key signed by hand, SAS tokens,
//! and a managed identity's bearer tokens (fetched from the instance
//! metadata endpoint and cached until shortly before they expire).
//!
//! Shared Key follows the Azure Storage REST reference ("Authorize with
//! Shared Key", version 2009-09-19 and later):
//!
//! ```text
//! VERB \n Content-Encoding \n Content-Language \n Content-Length \n
//! Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n
//! If-None-Match \n If-Unmodified-Since \n Range \n
//! CanonicalizedHeaders CanonicalizedResource
//! ```
//!
//! Content-Length is empty when zero; CanonicalizedHeaders are the `x-ms-*`
//! headers, lower-case, sorted, `name:value\n`; CanonicalizedResource is
//! `/<account><path as sent>` followed by `\nname:value` for each query
//! parameter (lower-case names, decoded values, sorted). A path-style
//! endpoint (Azurite's `/devstoreaccount1/...`) therefore names the account
//! twice. The signature is base64(HMAC-SHA256(decoded key, string-to-sign)).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

use super::config::Credential;
use crate::error::{Error, Result, ServiceDetail};
use crate::http::{header, read_small_body, HttpConfig, RequestBody, Transport};
use crate::time::http_date;

/// The one service version every request asks for (Azurite 3.35 accepts up
/// to 2025-11-05).
pub(crate) const API_VERSION: &str = "2025-11-05";

/// The audience of storage bearer tokens.
const STORAGE_RESOURCE: &str = "https://storage.azure.com/";

/// Refresh a token this long before it expires (or at half its life, for
/// short-lived ones).
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Longest wait for the token endpoint; it is local to the machine.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts at the token endpoint when it answers 429 or 5xx.
const TOKEN_ATTEMPTS: u32 = 3;

/// The headers of the Shared Key string-to-sign, in order, after the verb
/// and Content-Encoding/Language/Length.
const STANDARD_AFTER_LENGTH: [&str; 8] = [
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// Builds the Shared Key string-to-sign. `headers` are every header the
/// request carries (names in any case), `path` the URL path as sent
/// (percent-encoded), `query` the parameters with decoded values.
pub(crate) fn string_to_sign(
    method: &str,
    headers: &[(&str, &str)],
    content_length: u64,
    account: &str,
    path: &str,
    query: &[(&str, &str)],
) -> String {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    };
    let mut s = String::with_capacity(256);
    s.push_str(method);
    s.push('\n');
    s.push_str(get("content-encoding"));
    s.push('\n');
    s.push_str(get("content-language"));
    s.push('\n');
    if content_length > 0 {
        s.push_str(&content_length.to_string());
    }
    s.push('\n');
    for name in STANDARD_AFTER_LENGTH {
        s.push_str(get(name));
        s.push('\n');
    }
    let mut ms: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .filter(|(k, _)| k.starts_with("x-ms-"))
        .collect();
    ms.sort_by(|a, b| a.0.cmp(&b.0));
    for (k, v) in ms {
        s.push_str(&k);
        s.push(':');
        // Folded whitespace inside a value counts as one space.
        let mut first = true;
        for word in v.split_whitespace() {
            if !first {
                s.push(' ');
            }
            s.push_str(word);
            first = false;
        }
        s.push('\n');
    }
    s.push('/');
    s.push_str(account);
    s.push_str(if path.is_empty() { "/" } else { path });
    let mut params: Vec<(String, &str)> = query
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    params.sort();
    let mut i = 0;
    while i < params.len() {
        // A repeated name lists its values, sorted, comma-separated.
        let name = &params[i].0;
        let mut values = vec![params[i].1];
        let mut j = i + 1;
        while j < params.len() && params[j].0 == *name {
            values.push(params[j].1);
            j += 1;
        }
        s.push('\n');
        s.push_str(name);
        s.push(':');
        s.push_str(&values.join(","));
        i = j;
    }
    s
}

/// base64(HMAC-SHA256(key, string_to_sign)).
pub(crate) fn signature(key: &[u8], string_to_sign: &str) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// What authorising one request adds to it.
pub(crate) struct Authorization<'a> {
    /// Headers to send (`x-ms-date`, `x-ms-version`, `authorization`).
    pub(crate) headers: Vec<(&'static str, String)>,
    /// A SAS token to append to the query string.
    pub(crate) sas: Option<&'a str>,
}

/// A request's authority: the account and how it proves itself.
pub(crate) struct Auth {
    account: String,
    method: Method,
}

enum Method {
    SharedKey(Vec<u8>),
    Sas(String),
    Bearer(TokenCache),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("account", &self.account)
            .field("method", &self.method())
            .finish()
    }
}

impl Auth {
    /// `http` configures the token endpoint's transport (its CA bundle and
    /// shorter timeouts).
    pub(crate) fn new(account: &str, credential: Credential, http: &HttpConfig) -> Result<Self> {
        let method = match credential {
            Credential::SharedKey(k) => Method::SharedKey(k),
            Credential::Sas(s) => Method::Sas(s),
            Credential::ManagedIdentity {
                endpoint,
                client_id,
            } => {
                let mut quick = http.clone();
                quick.timeouts.connect = quick.timeouts.connect.min(TOKEN_TIMEOUT);
                quick.timeouts.request = quick.timeouts.request.min(TOKEN_TIMEOUT);
                quick.timeouts.stall = quick.timeouts.stall.min(TOKEN_TIMEOUT);
                Method::Bearer(TokenCache {
                    endpoint,
                    client_id,
                    transport: Transport::new(&quick)?,
                    cached: Mutex::new(None),
                })
            }
        };
        Ok(Auth {
            account: account.to_owned(),
            method,
        })
    }

    /// The headers (and SAS) authorising `method path?query` with `headers`
    /// and a body of `content_length` bytes, sent now. `path` names the
    /// object in errors (a token fetch can fail).
    pub(crate) fn authorize(
        &self,
        err_path: &str,
        method: &str,
        url_path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        content_length: u64,
    ) -> Result<Authorization<'_>> {
        let date = http_date(SystemTime::now());
        let mut out: Vec<(&'static str, String)> = vec![("x-ms-version", API_VERSION.to_owned())];
        let mut sas = None;
        match &self.method {
            Method::SharedKey(key) => {
                let mut all: Vec<(&str, &str)> = headers.to_vec();
                all.push(("x-ms-date", &date));
                all.push(("x-ms-version", API_VERSION));
                let sts =
                    string_to_sign(method, &all, content_length, &self.account, url_path, query);
                let sig = signature(key, &sts);
                out.push(("authorization", format!("SharedKey {}:{sig}", self.account)));
            }
            Method::Sas(token) => sas = Some(token.as_str()),
            Method::Bearer(cache) => {
                out.push((
                    "authorization",
                    format!("Bearer {}", cache.token(err_path)?),
                ));
            }
        }
        out.push(("x-ms-date", date));
        Ok(Authorization { headers: out, sas })
    }

    /// The `Authorization` header of one Blob Batch sub-request (each is
    /// authorised on its own), or `None` when a SAS in its URL does it.
    pub(crate) fn sub_request_authorization(
        &self,
        err_path: &str,
        method: &str,
        url_path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Option<String>> {
        Ok(match &self.method {
            Method::SharedKey(key) => {
                let sts = string_to_sign(method, headers, 0, &self.account, url_path, &[]);
                Some(format!(
                    "SharedKey {}:{}",
                    self.account,
                    signature(key, &sts)
                ))
            }
            Method::Sas(_) => None,
            Method::Bearer(cache) => Some(format!("Bearer {}", cache.token(err_path)?)),
        })
    }

    /// How requests are authorised: `shared_key`, `sas` or
    /// `managed_identity`.
    pub(crate) fn method(&self) -> &'static str {
        match &self.method {
            Method::SharedKey(_) => "shared_key",
            Method::Sas(_) => "sas",
            Method::Bearer(_) => "managed_identity",
        }
    }

    /// The account key, when requests are signed with it.
    pub(crate) fn shared_key(&self) -> Option<&[u8]> {
        match &self.method {
            Method::SharedKey(k) => Some(k),
            _ => None,
        }
    }

    /// The SAS token, when that is the method.
    pub(crate) fn sas(&self) -> Option<&str> {
        match &self.method {
            Method::Sas(s) => Some(s),
            _ => None,
        }
    }
}

/// A managed identity's bearer token, fetched on first use and again
/// shortly before it expires. Concurrent callers share one fetch.
struct TokenCache {
    endpoint: String,
    client_id: Option<String>,
    transport: Transport,
    cached: Mutex<Option<Token>>,
}

struct Token {
    value: String,
    refresh_at: SystemTime,
    expires_at: SystemTime,
}

impl TokenCache {
    fn token(&self, err_path: &str) -> Result<String> {
        let mut guard = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        let now = SystemTime::now();
        if let Some(t) = guard.as_ref() {
            if now < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        match self.fetch(err_path) {
            Ok(t) => {
                let value = t.value.clone();
                *guard = Some(t);
                Ok(value)
            }
            // A refresh that fails while the old token still works is only
            // a warning: the next request tries again.
            Err(e) => match guard.as_ref() {
                Some(t) if now < t.expires_at => {
                    log::warn!(
                        "managed identity token refresh failed, using the current token: {e}"
                    );
                    Ok(t.value.clone())
                }
                _ => Err(e),
            },
        }
    }

    fn url(&self) -> String {
        use percent_encoding::utf8_percent_encode;
        let sep = if self.endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let mut url = format!(
            "{}{sep}api-version=2018-02-01&resource={}",
            self.endpoint,
            utf8_percent_encode(STORAGE_RESOURCE, super::request::QUERY_SET)
        );
        if let Some(id) = &self.client_id {
            url.push_str("&client_id=");
            url.extend(utf8_percent_encode(id, super::request::QUERY_SET));
        }
        url
    }

    fn fetch(&self, err_path: &str) -> Result<Token> {
        let url = self.url();
        let mut attempt = 0;
        let (status, body) = loop {
            attempt += 1;
            let resp = self
                .transport
                .send(
                    err_path,
                    "GET",
                    &url,
                    &[("metadata", "true")],
                    RequestBody::Empty,
                )
                .map_err(|e| self.context(e))?;
            let status = resp.status().as_u16();
            let retry_after = header(&resp, "retry-after").and_then(|v| v.parse::<u64>().ok());
            let body = read_small_body(err_path, resp, 64 * 1024)?;
            if (status == 429 || status >= 500) && attempt < TOKEN_ATTEMPTS {
                let wait = retry_after
                    .map(Duration::from_secs)
                    .unwrap_or(Duration::from_millis(200 << attempt));
                std::thread::sleep(wait.min(Duration::from_secs(5)));
                continue;
            }
            break (status, body);
        };
        let json: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        if !(200..300).contains(&status) {
            let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let detail = ServiceDetail {
                status,
                code: text("error"),
                message: Some(format!(
                    "managed identity token endpoint {}: {}",
                    self.endpoint,
                    text("error_description").unwrap_or_else(|| "request refused".into())
                )),
                request_id: None,
            };
            let remote = Some(Box::new(detail));
            return Err(if status == 429 || status >= 500 {
                Error::Server {
                    path: err_path.to_owned(),
                    remote,
                }
            } else {
                Error::PermissionDenied {
                    path: err_path.to_owned(),
                    remote,
                    source: None,
                }
            });
        }
        parse_token(&json, SystemTime::now()).ok_or_else(|| Error::Other {
            path: err_path.to_owned(),
            message: format!(
                "managed identity token endpoint {}: the response has no access_token",
                self.endpoint
            ),
            remote: None,
            source: None,
        })
    }

    fn context(&self, e: Error) -> Error {
        match e {
            Error::Network {
                path,
                message,
                source,
            } => Error::Network {
                path,
                message: format!(
                    "managed identity token endpoint {}: {message}",
                    self.endpoint
                ),
                source,
            },
            Error::Timeout {
                path,
                message,
                source,
            } => Error::Timeout {
                path,
                message: format!(
                    "managed identity token endpoint {}: {message}",
                    self.endpoint
                ),
                source,
            },
            other => other,
        }
    }
}

/// Reads an IMDS token response: `access_token`, and `expires_on` (unix
/// seconds) or `expires_in` (seconds), each a string or a number.
fn parse_token(json: &serde_json::Value, now: SystemTime) -> Option<Token> {
    let value = json.get("access_token")?.as_str()?.to_owned();
    if value.is_empty() {
        return None;
    }
    let number = |k: &str| -> Option<u64> {
        let v = json.get(k)?;
        v.as_u64().or_else(|| v.as_str()?.trim().parse().ok())
    };
    let expires_at = number("expires_on")
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .or_else(|| number("expires_in").map(|s| now + Duration::from_secs(s)))
        // No expiry given: use it briefly, then ask again.
        .unwrap_or(now + Duration::from_secs(60));
    let life = expires_at.duration_since(now).unwrap_or_default();
    let refresh_at = expires_at - REFRESH_MARGIN.min(life / 2);
    Some(Token {
        value,
        refresh_at,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Azurite development key (public, from Microsoft's documentation).
    const DEV_KEY: &str = super::super::config::DEV_KEY;

    fn dev_key() -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(DEV_KEY)
            .unwrap()
    }

    // The expected strings and signatures below were computed independently
    // with azure-storage-blob 12.31.1's SharedKeyCredentialPolicy
    // (`_get_headers`, `_get_canonicalized_resource`,
    // `_get_canonicalized_resource_query`, `sign_string`) for the same
    // requests at the same fixed date.

    #[test]
    fn put_blob_on_a_path_style_endpoint_names_the_account_twice() {
        let headers = [
            ("content-type", "application/vnd.apache.parquet"),
            ("x-ms-blob-type", "BlockBlob"),
            ("x-ms-date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("x-ms-version", "2025-11-05"),
        ];
        let sts = string_to_sign(
            "PUT",
            &headers,
            11,
            "devstoreaccount1",
            "/devstoreaccount1/data/db/cpu/a%20b%2Bc.parquet",
            &[],
        );
        assert_eq!(
            sts,
            "PUT\n\n\n11\n\napplication/vnd.apache.parquet\n\n\n\n\n\n\n\
             x-ms-blob-type:BlockBlob\nx-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\nx-ms-version:2025-11-05\n\
             /devstoreaccount1/devstoreaccount1/data/db/cpu/a%20b%2Bc.parquet"
        );
        assert_eq!(signature(&dev_key(), &sts), PUT_BLOB_SIGNATURE);
    }

    #[test]
    fn list_with_query_sorts_parameters_and_leaves_zero_length_empty() {
        let headers = [
            ("x-ms-version", "2025-11-05"),
            ("x-ms-date", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ];
        let sts = string_to_sign(
            "GET",
            &headers,
            0,
            "myaccount",
            "/mycontainer",
            &[
                ("restype", "container"),
                ("comp", "list"),
                ("prefix", "db/cpu 1/"),
                ("maxresults", "5000"),
                ("marker", "2!88!MDAw"),
            ],
        );
        assert_eq!(
            sts,
            "GET\n\n\n\n\n\n\n\n\n\n\n\n\
             x-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\nx-ms-version:2025-11-05\n\
             /myaccount/mycontainer\ncomp:list\nmarker:2!88!MDAw\nmaxresults:5000\nprefix:db/cpu 1/\nrestype:container"
        );
        assert_eq!(signature(&dev_key(), &sts), LIST_SIGNATURE);
    }

    #[test]
    fn ranged_get_signs_the_range_and_every_standard_header_in_order() {
        let headers = [
            ("If-Match", "\"0x8DB\""),
            ("x-ms-range", "bytes=10-19"),
            ("Range", "bytes=10-19"),
            ("X-MS-Date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ("x-ms-version", "2025-11-05"),
            ("x-ms-client-request-id", "  a   b  "),
        ];
        let sts = string_to_sign("GET", &headers, 0, "acct", "/c/k", &[]);
        assert_eq!(
            sts,
            "GET\n\n\n\n\n\n\n\n\"0x8DB\"\n\n\nbytes=10-19\n\
             x-ms-client-request-id:a b\nx-ms-date:Tue, 14 Nov 2023 22:13:20 GMT\n\
             x-ms-range:bytes=10-19\nx-ms-version:2025-11-05\n/acct/c/k"
        );
    }

    const PUT_BLOB_SIGNATURE: &str = "XeSwyGxcasDvhjmWE0s6Eke2wPUJolNf+l+lN9/kK1c=";
    const LIST_SIGNATURE: &str = "rOW+5x1yIyn46LNNvP8LOsynwZ6JcWfB15HZLXvZOuI=";

    #[test]
    fn token_expiry_from_expires_on_or_expires_in() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let json = serde_json::json!({
            "access_token": "tok", "expires_on": "1003600", "expires_in": "3599",
            "token_type": "Bearer", "resource": "https://storage.azure.com/"
        });
        let t = parse_token(&json, now).unwrap();
        assert_eq!(t.value, "tok");
        assert_eq!(t.expires_at, UNIX_EPOCH + Duration::from_secs(1_003_600));
        assert_eq!(t.refresh_at, UNIX_EPOCH + Duration::from_secs(1_003_300));
        // Short-lived: refreshed at half its life.
        let json = serde_json::json!({"access_token": "t", "expires_in": 120});
        let t = parse_token(&json, now).unwrap();
        assert_eq!(t.refresh_at, now + Duration::from_secs(60));
        assert!(parse_token(&serde_json::json!({"error": "x"}), now).is_none());
    }

    #[test]
    fn debug_of_auth_shows_no_key() {
        let auth = Auth::new(
            "acct",
            Credential::SharedKey(b"SECRETKEY".to_vec()),
            &HttpConfig::default(),
        )
        .unwrap();
        let text = format!("{auth:?}");
        assert!(
            !text.contains("SECRET") && !text.contains("83, 69"),
            "{text}"
        );
    }
}
