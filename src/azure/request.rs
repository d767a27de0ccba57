//! An Azure request: its percent-encoded URL, and its authorisation (a
//! Shared Key signature, a SAS in the query, or a bearer token), made for
//! every attempt.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::Azure;
use crate::http::PATH_SET;
use crate::error::Result;
use crate::http::{RequestBody, Response};
use crate::remote::client::{Client, HeaderName, Request};

/// What stays unescaped in a query value: unreserved characters only.
pub(crate) const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One request before authorisation.
pub(crate) struct Req {
    pub(crate) method: &'static str,
    /// Percent-encoded URL path.
    pub(crate) path: String,
    /// Query parameters, values not yet encoded.
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) headers: Vec<(HeaderName, String)>,
}

impl Req {
    pub(crate) fn new(method: &'static str, path: String) -> Self {
        Req {
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub(crate) fn header(mut self, name: impl Into<HeaderName>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

fn body_len(body: &RequestBody<'_>) -> u64 {
    match body {
        RequestBody::Empty => 0,
        RequestBody::Bytes(b) => b.len() as u64,
        RequestBody::Reader(_, n) => *n,
    }
}

impl Azure {
    /// The URL path of a full key.
    pub(crate) fn blob_path(&self, key: &str) -> String {
        let mut p = String::with_capacity(self.container_path.len() + key.len() + 8);
        p.push_str(&self.container_path);
        p.push('/');
        p.extend(utf8_percent_encode(key, PATH_SET));
        p
    }

    /// `req`, authorised now for a body of `content_length` bytes.
    fn authorised(&self, req: &Req, content_length: u64) -> Result<Request> {
        let query: Vec<(&str, &str)> = req.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let headers: Vec<(&str, &str)> =
            req.headers.iter().map(|(k, v)| (&**k, v.as_str())).collect();
        let authz = self.auth.authorize(
            req.method,
            &req.path,
            &query,
            &headers,
            content_length,
        )?;
        let mut url = String::with_capacity(self.origin.len() + req.path.len() + 64);
        url.push_str(&self.origin);
        url.push_str(&req.path);
        let mut sep = '?';
        for (k, v) in &query {
            url.push(sep);
            url.push_str(k);
            url.push('=');
            url.extend(utf8_percent_encode(v, QUERY_SET));
            sep = '&';
        }
        if let Some(sas) = authz.sas {
            url.push(sep);
            url.push_str(sas);
        }
        let mut all = req.headers.clone();
        all.extend(authz.headers.into_iter().map(|(k, v)| (k.into(), v)));
        Ok(Request {
            method: req.method,
            url,
            headers: all,
        })
    }

    /// Sends `req` through the engine's client: authorised afresh for every
    /// attempt, a 2xx answer or the error it means.
    pub(crate) fn send(
        &self,
        c: &Client,
        path: &str,
        req: &Req,
        body: RequestBody<'_>,
    ) -> Result<Response> {
        self.send_unless(c, path, req, body, &|_| false)
    }

    /// [`Azure::send`], not retrying the failures `handled` says the caller
    /// answers otherwise.
    pub(crate) fn send_unless(
        &self,
        c: &Client,
        path: &str,
        req: &Req,
        body: RequestBody<'_>,
        handled: &dyn Fn(&crate::Error) -> bool,
    ) -> Result<Response> {
        let len = body_len(&body);
        c.send_unless(path, &|| self.authorised(req, len), body, handled)
    }
}
