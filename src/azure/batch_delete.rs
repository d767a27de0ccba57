//! `delete_batch` through the Blob Batch API: `POST
//! <container>?restype=container&comp=batch` with a `multipart/mixed` body of
//! up to 256 Delete Blob sub-requests, each authorised on its own, and a
//! `multipart/mixed` answer with one HTTP response per sub-request.
//!
//! The engine (`src/remote/batch.rs`) sends batches in parallel (at most
//! four, and at most `upload_concurrency`, at once). A missing blob (404 BlobNotFound) is not a
//! failure; every other per-item failure is reported by path. A server that
//! cannot run a batch at all (see [`batch_unavailable`]) gets that batch's
//! blobs deleted one by one.

use super::error::{meaning, root_label, DIALECT};
use super::request::Req;
use super::Azure;
use crate::error::{BatchFailure, Error, Result, ServiceDetail};
use crate::http::{header, read_small_body, RequestBody};
use crate::remote::answer::{error_for, name_root, Said};
use crate::remote::batch::each_failed;
use crate::remote::client::Client;
use crate::remote::{BatchDelete, Delete};
use crate::time::http_date;

/// Azure's limit of sub-requests per batch.
pub(crate) const MAX_BATCH: usize = 256;

/// Batch requests in flight at once (at most; also bounded by the upload
/// concurrency). A batch answers only when all its deletes are done, and a
/// single-threaded server (Azurite) serves parallel batches one after the
/// other: more at once only brings the last answer closer to the timeout.
const BATCH_CONCURRENCY: usize = 4;

/// Largest batch response accepted (256 small parts).
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// A boundary unlikely to occur in the body.
fn boundary() -> String {
    format!(
        "batch_{}{}",
        super::blocks::upload_id(),
        super::blocks::upload_id()
    )
}

/// Builds the multipart body of one batch of Delete Blob sub-requests.
pub(crate) fn batch_body(az: &Azure, boundary: &str, keys: &[&str]) -> Result<String> {
    let date = http_date(std::time::SystemTime::now());
    let sas = az.auth.sas();
    let mut body = String::with_capacity(keys.len() * 400);
    for (i, key) in keys.iter().enumerate() {
        let mut url_path = az.blob_path(key);
        let headers: [(&str, &str); 3] = [
            ("x-ms-date", &date),
            ("x-ms-delete-snapshots", "include"),
            ("content-length", "0"),
        ];
        let auth = az
            .auth
            .sub_request_authorization("DELETE", &url_path, &headers)?;
        if let Some(sas) = sas {
            url_path.push('?');
            url_path.push_str(sas);
        }
        body.push_str("--");
        body.push_str(boundary);
        body.push_str(
            "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n",
        );
        body.push_str(&format!("Content-ID: {i}\r\n\r\n"));
        body.push_str(&format!("DELETE {url_path} HTTP/1.1\r\n"));
        for (k, v) in headers {
            body.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(a) = auth {
            body.push_str(&format!("Authorization: {a}\r\n"));
        }
        body.push_str("\r\n");
    }
    body.push_str("--");
    body.push_str(boundary);
    body.push_str("--\r\n");
    Ok(body)
}

/// One batch request; returns the failures among `chunk` (key, path).
impl BatchDelete for Azure {
    fn batch_limits(&self) -> (usize, usize) {
        (MAX_BATCH, BATCH_CONCURRENCY)
    }

    /// One batch request; returns the failures among `chunk` (key, path).
    fn delete_chunk(&self, c: &Client, chunk: &[(String, String)]) -> Vec<BatchFailure> {
        delete_chunk(self, c, chunk)
    }
}

fn delete_chunk(az: &Azure, c: &Client, chunk: &[(String, String)]) -> Vec<BatchFailure> {
    let label = format!("batch of {} blobs", chunk.len());
    let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
    let result = (|| -> Result<Vec<SubResponse>> {
        let boundary = boundary();
        let body = batch_body(az, &boundary, &keys)?;
        let req = Req::new("POST", az.container_path.clone())
            .query("restype", "container")
            .query("comp", "batch")
            .header(
                "content-type",
                format!("multipart/mixed; boundary={boundary}"),
            );
        // A server that cannot run the batch gets its blobs one by one
        // rather than the same batch again.
        let resp = az.send_unless(
            c,
            &label,
            &req,
            RequestBody::Bytes(body.as_bytes()),
            &batch_unavailable,
        )?;
        let content_type = header(&resp, "content-type").unwrap_or("").to_owned();
        let body = read_small_body(&label, resp, MAX_RESPONSE_BYTES)?;
        let resp_boundary = boundary_of(&content_type)
            .ok_or_else(|| bad_response(&label, "no multipart boundary"))?;
        parse_batch_response(&body, &resp_boundary).map_err(|why| bad_response(&label, &why))
    })();
    let mut failures = Vec::new();
    let subs = match result {
        Ok(s) => s,
        Err(e) if batch_unavailable(&e) => {
            log::warn!(
                "Blob Batch request refused ({e}); deleting its {} blobs one by one",
                chunk.len()
            );
            for (key, path) in chunk {
                if let Err(error) = az.delete(c, path, key) {
                    failures.push(BatchFailure {
                        path: path.clone(),
                        error,
                    });
                }
            }
            return failures;
        }
        // The whole request failed: every blob in it failed the same way.
        Err(e) => return each_failed(chunk, &e, "batch delete"),
    };
    let mut answered = vec![false; chunk.len()];
    for (position, sub) in subs.into_iter().enumerate() {
        let index = sub.content_id.unwrap_or(position);
        let Some((_, path)) = chunk.get(index) else {
            continue;
        };
        answered[index] = true;
        if (200..300).contains(&sub.status) || sub.code.as_deref() == Some("BlobNotFound") {
            continue;
        }
        let (code, message) = super::error::parse_error_xml(&sub.body);
        let detail = ServiceDetail {
            status: sub.status,
            code: sub.code.or(code),
            message,
            request_id: sub.request_id,
        };
        let error = name_root(
            &DIALECT,
            &root_label(&az.container),
            path,
            error_for(
                path,
                Said {
                    detail,
                    retry_after: None,
                },
                meaning,
            ),
        );
        failures.push(BatchFailure {
            path: path.clone(),
            error,
        });
    }
    for (i, done) in answered.iter().enumerate() {
        if !done {
            let path = &chunk[i].1;
            failures.push(BatchFailure {
                path: path.clone(),
                error: Error::Other {
                    path: path.clone(),
                    message: "the batch response has no result for this blob".into(),
                    remote: None,
                    source: None,
                },
            });
        }
    }
    failures
}

/// Whether a failed batch request means the server cannot run this batch,
/// so its blobs are deleted one by one instead: a bare 500/501 without an
/// error code (what Azurite answers to a batch authorised by an account
/// SAS), or a code saying the feature is missing.
fn batch_unavailable(e: &Error) -> bool {
    matches!(
        (e.http_status(), e.provider_code()),
        (Some(500 | 501), None)
            | (
                _,
                Some("FeatureNotSupported" | "NotImplemented" | "UnsupportedHttpVerb")
            )
    )
}

fn bad_response(label: &str, why: &str) -> Error {
    Error::Other {
        path: label.to_owned(),
        message: format!("unreadable Blob Batch response: {why}"),
        remote: None,
        source: None,
    }
}

/// `boundary=...` of a multipart content type (quotes removed).
pub(crate) fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// One sub-response of a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SubResponse {
    pub(crate) content_id: Option<usize>,
    pub(crate) status: u16,
    pub(crate) code: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) body: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits `text` into header lines and what follows the blank line.
fn split_head(part: &[u8]) -> (&[u8], &[u8]) {
    let crlf = find(part, b"\r\n\r\n", 0).map(|i| (i, 4));
    let lf = find(part, b"\n\n", 0).map(|i| (i, 2));
    let cut = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match cut {
        Some((i, n)) => (&part[..i], &part[i + n..]),
        None => (part, &[]),
    }
}

fn header_lines(head: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    head.split(|b| *b == b'\n').filter_map(|line| {
        let line = String::from_utf8_lossy(line);
        let (k, v) = line.trim_end_matches('\r').split_once(':')?;
        Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
    })
}

/// Parses a `multipart/mixed` batch response.
pub(crate) fn parse_batch_response(
    body: &[u8],
    boundary: &str,
) -> std::result::Result<Vec<SubResponse>, String> {
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let mut pos =
        find(body, delim.as_bytes(), 0).ok_or("the boundary does not occur in the body")?;
    loop {
        let after = pos + delim.len();
        if body.get(after..after + 2) == Some(b"--") {
            break;
        }
        let next = find(body, delim.as_bytes(), after).ok_or("the last part is not closed")?;
        let part = &body[after..next];
        let part = part
            .strip_prefix(b"\r\n")
            .or_else(|| part.strip_prefix(b"\n"))
            .unwrap_or(part);
        let (mime_head, http) = split_head(part);
        let content_id = header_lines(mime_head)
            .find(|(k, _)| k == "content-id")
            .and_then(|(_, v)| v.parse().ok());
        let (http_head, rest) = split_head(http);
        let line_end = find(http_head, b"\n", 0).unwrap_or(http_head.len());
        let status_line = String::from_utf8_lossy(&http_head[..line_end]).into_owned();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {:?}", status_line.trim()))?;
        let (mut code, mut request_id, mut length) = (None, None, None);
        for (k, v) in header_lines(http_head.get(line_end..).unwrap_or_default()) {
            match k.as_str() {
                "x-ms-error-code" => code = Some(v),
                "x-ms-request-id" => request_id = Some(v),
                "content-length" => length = v.parse::<usize>().ok(),
                _ => {}
            }
        }
        let mut sub_body = rest.to_vec();
        if let Some(n) = length {
            sub_body.truncate(n);
        }
        out.push(SubResponse {
            content_id,
            status,
            code,
            request_id,
            body: sub_body,
        });
        pos = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESPONSE: &str = "--batchresponse_66925647\r\n\
Content-Type: application/http\r\n\
Content-ID: 0\r\n\
\r\n\
HTTP/1.1 202 Accepted\r\n\
x-ms-delete-type-permanent: true\r\n\
x-ms-request-id: 778fdc83-801e-0000-62ff-0334671e284f\r\n\
x-ms-version: 2018-11-09\r\n\
\r\n\
--batchresponse_66925647\r\n\
Content-Type: application/http\r\n\
Content-ID: 2\r\n\
\r\n\
HTTP/1.1 403 Server failed to authenticate the request.\r\n\
x-ms-error-code: AuthenticationFailed\r\n\
x-ms-request-id: 778fdc83-2\r\n\
Content-Length: 63\r\n\
Content-Type: application/xml\r\n\
\r\n\
<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code>\r\n\
--batchresponse_66925647\r\n\
Content-Type: application/http\r\n\
Content-ID: 1\r\n\
\r\n\
HTTP/1.1 404 The specified blob does not exist.\r\n\
x-ms-error-code: BlobNotFound\r\n\
\r\n\
--batchresponse_66925647--\r\n";

    #[test]
    fn batch_response_parts_carry_content_id_status_and_code() {
        let subs = parse_batch_response(RESPONSE.as_bytes(), "batchresponse_66925647").unwrap();
        assert_eq!(subs.len(), 3);
        assert_eq!(
            (subs[0].content_id, subs[0].status, subs[0].code.as_deref()),
            (Some(0), 202, None)
        );
        assert_eq!(
            subs[0].request_id.as_deref(),
            Some("778fdc83-801e-0000-62ff-0334671e284f")
        );
        assert_eq!((subs[1].content_id, subs[1].status), (Some(2), 403));
        assert_eq!(subs[1].code.as_deref(), Some("AuthenticationFailed"));
        assert!(subs[1].body.starts_with(b"<?xml"));
        assert_eq!(subs[1].body.len(), 63);
        assert_eq!(
            (subs[2].content_id, subs[2].status, subs[2].code.as_deref()),
            (Some(1), 404, Some("BlobNotFound"))
        );
    }

    #[test]
    fn boundary_is_read_from_the_content_type() {
        assert_eq!(
            boundary_of("multipart/mixed; boundary=batchresponse_1-2").as_deref(),
            Some("batchresponse_1-2")
        );
        assert_eq!(
            boundary_of("multipart/mixed; Boundary=\"q\"").as_deref(),
            Some("q")
        );
        assert_eq!(boundary_of("application/xml"), None);
    }

    #[test]
    fn truncated_responses_are_refused() {
        assert!(parse_batch_response(
            b"--b\r\nContent-ID: 0\r\n\r\nHTTP/1.1 202 Accepted\r\n\r\n",
            "b"
        )
        .is_err());
        assert!(parse_batch_response(b"nothing here", "b").is_err());
        assert!(parse_batch_response(b"--b\r\n\r\nnot http\r\n\r\n--b--", "b").is_err());
    }
}
