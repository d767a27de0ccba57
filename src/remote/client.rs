//! How any remote store sends a request: signed afresh for every attempt,
//! retried through the call's [`crate::retry`] budget, and a non-2xx answer
//! turned into an [`Error`] by the protocol's parser.

use std::cell::Cell;
use std::io::{self, Read};

use crate::error::{Error, Result};
use crate::http::{RequestBody, Response, Transport};
use crate::retry::{self, RetryPolicy};

/// One request, as a protocol builds it: method, full URL (with a presigned
/// query, for S3) and headers (with an `Authorization`, for Azure).
pub(crate) struct Request {
    pub(crate) method: &'static str,
    pub(crate) url: String,
    pub(crate) headers: Vec<(&'static str, String)>,
}

/// Turns a non-2xx answer into an error about `path`.
pub(crate) type AnswerParser = Box<dyn Fn(&str, Response) -> Error + Send + Sync>;

/// The transport, the retry policy and the protocol's error parser of one
/// store.
pub(crate) struct Client {
    transport: Transport,
    policy: RetryPolicy,
    answer: AnswerParser,
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

impl Client {
    pub(crate) fn new(transport: Transport, policy: RetryPolicy, answer: AnswerParser) -> Self {
        Client {
            transport,
            policy,
            answer,
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
                retry::retrying_while(&self.policy, &what, &repeatable, || {
                    self.send_once(path, build, RequestBody::Reader(&mut counting, len))
                })
            }
            RequestBody::Bytes(b) => {
                retry::retrying_while(&self.policy, &what, &|e| !handled(e), || {
                    self.send_once(path, build, RequestBody::Bytes(b))
                })
            }
            RequestBody::Empty => {
                retry::retrying_while(&self.policy, &what, &|e| !handled(e), || {
                    self.send_once(path, build, RequestBody::Empty)
                })
            }
        }
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
            req.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = self
            .transport
            .send(path, req.method, &req.url, &headers, body)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err((self.answer)(path, resp))
        }
    }
}
