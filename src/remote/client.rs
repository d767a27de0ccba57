//! How any remote store sends a request: signed afresh for every attempt,
//! retried through the call's [`crate::retry`] budget, and a non-2xx answer
//! turned into an [`Error`] by the protocol's parser.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{self, Read};

use crate::error::{Error, Result};
use crate::http::{read_small_body, RequestBody, Response, Transport};
use crate::retry::{self, RetryPolicy};
use crate::stats::Stats;

/// A header's name: static, but for user metadata (`x-amz-meta-<name>`).
pub(crate) type HeaderName = Cow<'static, str>;

/// One request, as a protocol builds it: method, full URL (with a presigned
/// query, for S3) and headers (with an `Authorization`, for Azure).
pub(crate) struct Request {
    pub(crate) method: &'static str,
    pub(crate) url: String,
    pub(crate) headers: Vec<(HeaderName, String)>,
}

/// Turns a non-2xx answer into an error about `path`.
pub(crate) type AnswerParser = Box<dyn Fn(&str, Response) -> Error + Send + Sync>;

/// The transport, the retry policy and the protocol's error parser of one
/// store.
pub(crate) struct Client {
    transport: Transport,
    policy: RetryPolicy,
    answer: AnswerParser,
    /// The store's counters (every request counts here).
    stats: std::sync::Arc<Stats>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A source that counts what it gave, so a failed request can tell whether
/// its body may be sent again (only when nothing was taken).
struct Counting<'a, 'b> {
    inner: &'a mut dyn Read,
    taken: &'b Cell<u64>,
}

impl Read for Counting<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.taken.set(self.taken.get() + n as u64);
        Ok(n)
    }
}

/// Counts every attempt after the first as a retry.
fn attempt(stats: &Stats, attempts: &Cell<u32>) {
    if attempts.get() > 0 {
        stats.retry();
    }
    attempts.set(attempts.get() + 1);
}

impl Client {
    /// The store's counters.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    pub(crate) fn new(transport: Transport, policy: RetryPolicy, answer: AnswerParser) -> Self {
        Client {
            transport,
            policy,
            answer,
            stats: std::sync::Arc::default(),
        }
    }

    /// Sends the request `build` makes (called for every attempt, so each
    /// is signed anew) and returns the 2xx answer. Transient failures are
    /// retried as the call's budget allows, as long as the body can be sent
    /// again: always for an empty or in-memory body, for a streamed one
    /// only while the source has given nothing. `path` names the object in
    /// errors and logs.
    pub(crate) fn send(
        &self,
        path: &str,
        build: &dyn Fn() -> Result<Request>,
        body: RequestBody<'_>,
    ) -> Result<Response> {
        self.send_unless(path, build, body, &|_| false)
    }

    /// [`Client::send`], where a failure for which `handled` says true is
    /// returned at once: the caller has a better answer to it than sending
    /// the same request again.
    pub(crate) fn send_unless(
        &self,
        path: &str,
        build: &dyn Fn() -> Result<Request>,
        body: RequestBody<'_>,
        handled: &dyn Fn(&Error) -> bool,
    ) -> Result<Response> {
        // Named by its path only: building the request again to name its
        // method would sign it (and could fetch credentials) for a log line.
        let what = || format!("request for {path}");
        match body {
            RequestBody::Reader(reader, len) => {
                let taken = Cell::new(0u64);
                let mut counting = Counting {
                    inner: reader,
                    taken: &taken,
                };
                let repeatable = |e: &Error| taken.get() == 0 && !handled(e);
                let attempts = Cell::new(0);
                retry::retrying_while(&self.policy, &what, &repeatable, || {
                    attempt(&self.stats, &attempts);
                    self.send_once(path, build, RequestBody::Reader(&mut counting, len))
                })
            }
            RequestBody::Bytes(b) => {
                let attempts = Cell::new(0);
                retry::retrying_while(&self.policy, &what, &|e| !handled(e), || {
                    attempt(&self.stats, &attempts);
                    self.send_once(path, build, RequestBody::Bytes(b))
                })
            }
            RequestBody::Empty => {
                let attempts = Cell::new(0);
                retry::retrying_while(&self.policy, &what, &|e| !handled(e), || {
                    attempt(&self.stats, &attempts);
                    self.send_once(path, build, RequestBody::Empty)
                })
            }
        }
    }

    /// [`Client::send`] of an in-memory body (or none) for an answer whose
    /// body says whether the request worked: each attempt reads the 2xx
    /// body (at most `limit` bytes) and `check` turns an error it carries
    /// into that error (S3 answers CompleteMultipartUpload and CopyObject
    /// with 200 before the work is done, and an `<Error>` in the body when
    /// it failed). Such an error is retried as a failed status would be:
    /// only when transient, within the call's budget.
    pub(crate) fn send_for_body(
        &self,
        path: &str,
        build: &dyn Fn() -> Result<Request>,
        body: &[u8],
        limit: u64,
        check: &dyn Fn(&[u8]) -> Option<Error>,
    ) -> Result<Vec<u8>> {
        let what = || format!("request for {path}");
        let attempts = Cell::new(0);
        retry::retrying_while(&self.policy, &what, &|_| true, || {
            attempt(&self.stats, &attempts);
            let sent = match body {
                [] => RequestBody::Empty,
                bytes => RequestBody::Bytes(bytes),
            };
            let resp = self.send_once(path, build, sent)?;
            let answer = read_small_body(path, resp, limit)?;
            match check(&answer) {
                Some(err) => Err(err),
                None => Ok(answer),
            }
        })
    }

    /// One attempt.
    pub(crate) fn send_once(
        &self,
        path: &str,
        build: &dyn Fn() -> Result<Request>,
        body: RequestBody<'_>,
    ) -> Result<Response> {
        let req = build()?;
        let headers: Vec<(&str, &str)> =
            req.headers.iter().map(|(k, v)| (&**k, v.as_str())).collect();
        let sent = match &body {
            RequestBody::Empty => 0,
            RequestBody::Bytes(b) => b.len() as u64,
            RequestBody::Reader(_, len) => *len,
        };
        let resp = match self.transport.send(path, req.method, &req.url, &headers, body) {
            Ok(resp) => resp,
            Err(e) => {
                self.stats.request(req.method, None, 0, 0);
                return Err(e);
            }
        };
        let received = crate::http::header(&resp, "content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        self.stats.request(req.method, Some(resp.status().as_u16()), sent, received);
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err((self.answer)(path, resp))
        }
    }
}
