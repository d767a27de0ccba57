//! DeleteObjects: up to 1,000 keys per request, per-key failures reported.
//! The engine (`src/remote/batch.rs`) cuts the keys into chunks and runs
//! them in parallel.

use base64::Engine as _;
use md5::{Digest, Md5};
use rusty_s3::Method;

use super::error::meaning;
use super::sign::request;
use super::S3;
use crate::error::{BatchFailure, Error, ServiceDetail};
use crate::http::{read_small_body, RequestBody};
use crate::remote::answer::{error_for, Said};
use crate::remote::batch::each_failed;
use crate::remote::client::Client;
use crate::remote::BatchDelete;
use crate::xml::{escape, walk};

/// S3's limit of keys per DeleteObjects request.
const CHUNK: usize = 1000;

/// Whether XML 1.0 can carry every character of `key`.
fn xml_safe(key: &str) -> bool {
    key.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r')
            || ('\u{20}'..='\u{D7FF}').contains(&c)
            || ('\u{E000}'..='\u{FFFD}').contains(&c)
            || c >= '\u{10000}'
    })
}

impl BatchDelete for S3 {
    fn batch_limits(&self) -> (usize, usize) {
        (CHUNK, usize::MAX)
    }

    fn batchable(&self, key: &str) -> bool {
        xml_safe(key)
    }

    /// One DeleteObjects request of `(key, path)` pairs; returns the paths
    /// that failed.
    fn delete_chunk(&self, c: &Client, chunk: &[(String, String)]) -> Vec<BatchFailure> {
        let s3 = self;
        let mut failures = Vec::new();
        let body = delete_body(chunk.iter().map(|(k, _)| k.as_str()));
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(body.as_bytes()));
        let label = format!("batch of {} keys", chunk.len());
        let build = || {
            let url = s3.sign_request(Method::Post, None, &[("delete", "")], &[])?;
            let headers = vec![
                ("content-md5", md5.clone()),
                ("content-type", "application/xml".to_owned()),
            ];
            Ok(request("POST", url, headers))
        };
        let result = c
            .send(&label, &build, RequestBody::Bytes(body.as_bytes()))
            .and_then(|resp| read_small_body(&label, resp, 16 * 1024 * 1024));
        let body = match result {
            Ok(b) => b,
            // The whole request failed: every key in it failed the same way.
            Err(e) => return each_failed(chunk, &e, "DeleteObjects"),
        };
        let parsed = match parse_errors(&body) {
            Ok(p) => p,
            Err(why) => {
                let e = Error::Other {
                    path: label,
                    message: format!("unreadable DeleteObjects response: {why}"),
                    remote: None,
                    source: None,
                };
                return each_failed(chunk, &e, "DeleteObjects");
            }
        };
        for err in parsed {
            if err.code == "NoSuchKey" {
                continue;
            }
            let path = chunk
                .iter()
                .find(|(k, _)| *k == err.key)
                .map(|(_, p)| p.clone())
                .unwrap_or(err.key);
            let detail = ServiceDetail {
                status: 200,
                code: Some(err.code),
                message: Some(err.message),
                request_id: None,
            };
            let error = error_for(
                &path,
                Said {
                    detail,
                    retry_after: None,
                },
                meaning,
            );
            failures.push(BatchFailure { path, error });
        }
        failures
    }
}

/// The quiet Delete document for `keys`: only failures come back.
fn delete_body<'k>(keys: impl Iterator<Item = &'k str>) -> String {
    let mut body = String::from("<Delete><Quiet>true</Quiet>");
    for key in keys {
        body.push_str("<Object><Key>");
        body.push_str(&escape(key));
        body.push_str("</Key></Object>");
    }
    body.push_str("</Delete>");
    body
}

/// One per-key failure of a DeleteObjects answer.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct KeyError {
    pub(crate) key: String,
    pub(crate) code: String,
    pub(crate) message: String,
}

/// The Error entries of a `DeleteResult` (Deleted entries are skipped).
pub(crate) fn parse_errors(xml: &[u8]) -> std::result::Result<Vec<KeyError>, String> {
    let mut errors = Vec::new();
    let mut current = KeyError::default();
    walk(xml, "DeleteResult", &mut |path, text| {
        match path {
            [_, "Error", "Key"] => current.key = text.to_owned(),
            [_, "Error", "Code"] => current.code = text.trim().to_owned(),
            [_, "Error", "Message"] => current.message = text.to_owned(),
            [_, "Error"] => errors.push(std::mem::take(&mut current)),
            _ => {}
        }
        Ok(())
    })?;
    Ok(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_document_escapes_keys_and_asks_for_quiet() {
        let body = delete_body(["a&b", "c\nd<e>"].into_iter());
        assert_eq!(
            body,
            "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>\
<Object><Key>c&#10;d&lt;e&gt;</Key></Object></Delete>"
        );
    }

    #[test]
    fn only_error_entries_are_failures() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Deleted><Key>gone</Key></Deleted>
<Error><Key>p/a&amp;b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>
<Error><Key>p/c</Key><Code>NoSuchKey</Code><Message>missing</Message></Error>
</DeleteResult>"#;
        let errors = parse_errors(xml).unwrap();
        assert_eq!(
            errors,
            [
                KeyError {
                    key: "p/a&b".into(),
                    code: "AccessDenied".into(),
                    message: "Access Denied".into()
                },
                KeyError {
                    key: "p/c".into(),
                    code: "NoSuchKey".into(),
                    message: "missing".into()
                },
            ]
        );
        assert_eq!(parse_errors(b"<DeleteResult/>").unwrap(), []);
        assert!(parse_errors(b"<DeleteResult><Error><Key>a</Key>").is_err());
    }
}
