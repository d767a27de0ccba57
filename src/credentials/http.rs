//! How every identity endpoint (STS, the container and instance metadata
//! endpoints, Microsoft Entra ID, App Service's identity endpoint) is
//! called: over its own transport with short timeouts, and
//! through the store's retry policy with a budget of its own.
//!
//! A credential fetch happens while a storage request is being signed,
//! inside that request's retry loop; the fetch runs in a fresh retry scope
//! (its attempts are bounded by its own policy, see [`identity_policy`]),
//! and the cache (see `cache.rs`) makes the storage request's own retries
//! get the fetch's outcome instead of fetching again, so attempts never
//! multiply.

use std::time::Duration;

use crate::error::{Error, Result, ServiceDetail};
use crate::http::{header, read_small_body, HttpConfig, RequestBody, Transport};
use crate::retry::{self, RetryPolicy};

/// Largest answer read from an identity endpoint.
const MAX_ANSWER: u64 = 256 * 1024;

/// Timeouts of one identity endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) connect: Duration,
    /// Sending the request and receiving the answer (and the longest
    /// silence while reading it).
    pub(crate) request: Duration,
    /// Most retries (the store's policy may ask for fewer).
    pub(crate) max_retries: u32,
    /// No retry starts this long after the first attempt.
    pub(crate) deadline: Duration,
}

/// STS: a regional AWS service.
pub(crate) const STS_LIMITS: Limits = Limits {
    connect: Duration::from_secs(5),
    request: Duration::from_secs(10),
    max_retries: 3,
    deadline: Duration::from_secs(30),
};

/// The container credentials endpoint, on the task's host.
pub(crate) const ECS_LIMITS: Limits = Limits {
    connect: Duration::from_secs(2),
    request: Duration::from_secs(5),
    max_retries: 3,
    deadline: Duration::from_secs(15),
};

/// IMDS: 1 s to connect, 1 s to answer, one retry: a machine that is not
/// on EC2 finds out within about 2 s, even where the address black-holes.
pub(crate) const IMDS_LIMITS: Limits = Limits {
    connect: Duration::from_secs(1),
    request: Duration::from_secs(1),
    max_retries: 1,
    deadline: Duration::from_secs(10),
};

/// Microsoft Entra ID's token endpoint: a regional service, as STS is.
pub(crate) const AAD_LIMITS: Limits = STS_LIMITS;

/// App Service's identity endpoint, on the app's own host.
pub(crate) const APP_SERVICE_LIMITS: Limits = ECS_LIMITS;

/// Azure's instance metadata token endpoint: 1 s to connect, so a machine
/// off Azure finds out at once, but up to 5 s for the answer (issuing a
/// token can take a few seconds); one retry.
pub(crate) const AZURE_IMDS_LIMITS: Limits = Limits {
    connect: Duration::from_secs(1),
    request: Duration::from_secs(5),
    max_retries: 1,
    deadline: Duration::from_secs(10),
};

/// The retry policy of an identity call: the store's, within `limits`.
pub(crate) fn identity_policy(store: &RetryPolicy, limits: &Limits) -> RetryPolicy {
    RetryPolicy {
        max_retries: store.max_retries.min(limits.max_retries),
        base_delay: store.base_delay.min(Duration::from_millis(500)),
        max_delay: store.max_delay.min(Duration::from_secs(2)),
        jitter: store.jitter,
        retry_timeout: store.retry_timeout.min(limits.deadline),
    }
}

/// One identity endpoint's transport and retry policy.
pub(crate) struct Endpoint {
    transport: Transport,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// A request to an identity endpoint.
pub(crate) struct Call<'a> {
    /// Names the call in errors and logs (never a secret).
    pub(crate) what: &'a str,
    pub(crate) method: &'a str,
    pub(crate) url: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: &'a [u8],
}

impl Endpoint {
    /// `http` is the store's (its CA bundle); its timeouts are bounded by
    /// `limits`.
    pub(crate) fn new(http: &HttpConfig, limits: &Limits, policy: &RetryPolicy) -> Result<Self> {
        let mut quick = http.clone();
        quick.timeouts.connect = quick.timeouts.connect.min(limits.connect);
        quick.timeouts.request = quick.timeouts.request.min(limits.request);
        quick.timeouts.stall = quick.timeouts.stall.min(limits.request);
        Ok(Endpoint {
            transport: Transport::new(&quick)?,
            policy: identity_policy(policy, limits),
        })
    }

    /// Sends `call` (again after transient failures, as the policy
    /// allows) and returns the body of its 2xx answer. A non-2xx answer is
    /// an error of `call.what` with what `detail` reads from the body: 401
    /// and 403 (and 400, how STS refuses a token) are
    /// [`Error::PermissionDenied`], 429 and 5xx [`Error::Server`]
    /// (retried), anything else (404 included: never
    /// [`Error::NotFound`], which a caller would take for a missing
    /// object) [`Error::Other`].
    pub(crate) fn call(
        &self,
        call: &Call<'_>,
        detail: &dyn Fn(u16, &[u8]) -> ServiceDetail,
    ) -> Result<Vec<u8>> {
        retry::within(None, || {
            retry::retrying(&self.policy, &|| call.what.to_owned(), || self.once(call, detail))
        })
    }

    fn once(&self, call: &Call<'_>, detail: &dyn Fn(u16, &[u8]) -> ServiceDetail) -> Result<Vec<u8>> {
        let body = if call.body.is_empty() && call.method == "GET" {
            RequestBody::Empty
        } else {
            RequestBody::Bytes(call.body)
        };
        let resp = self.transport.send(call.what, call.method, call.url, call.headers, body)?;
        let status = resp.status().as_u16();
        let retry_after = header(&resp, "retry-after").map(str::to_owned);
        let request_id = header(&resp, "x-amzn-requestid")
            .or_else(|| header(&resp, "x-amz-request-id"))
            .map(str::to_owned);
        let body = read_small_body(call.what, resp, MAX_ANSWER)?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let mut d = detail(status, &body);
        d.status = status;
        if d.request_id.is_none() {
            d.request_id = request_id;
        }
        let path = call.what.to_owned();
        let remote = Some(Box::new(d));
        Err(match status {
            400 | 401 | 403 => Error::PermissionDenied { path, remote, source: None },
            // Never NotFound: a caller would take it for a missing object.
            404 => Error::Other { path, message: "no such resource at the endpoint".into(), remote, source: None },
            429 | 500..=599 => Error::Server { path, remote }.with_retry_after(retry_after.as_deref()),
            _ => Error::Other {
                path,
                message: "unexpected answer".into(),
                remote,
                source: None,
            },
        })
    }
}

/// A JSON error body's `code`/`Code` and `message`/`Message`, if any.
pub(crate) fn json_detail(status: u16, body: &[u8]) -> ServiceDetail {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| json.get(*n).and_then(|v| v.as_str()).map(|s| truncate(s, 300)))
    };
    ServiceDetail {
        status,
        code: text(&["code", "Code", "error"]),
        message: text(&["message", "Message", "error_description"]),
        request_id: None,
    }
}

/// At most `max` characters of `s`, marked when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}
