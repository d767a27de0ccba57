//! S3 error responses: the XML body parsed into code, message and request
//! id, and the status/code mapped onto blobio's error kinds.

use crate::error::{Error, ServiceDetail};
use crate::http::{header, read_small_body, Response};
use crate::xml::error_fields;

/// Longest error body read; S3 error documents are small.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Parses `<Error><Code/><Message/><RequestId/></Error>`. Unknown or
/// malformed documents give empty fields.
pub(crate) fn parse_error_xml(xml: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let [code, message, request_id] = error_fields(xml, ["Code", "Message", "RequestId"]);
    (code, message, request_id)
}

/// Turns a non-success response into an error about `path`.
pub(crate) fn response_error(path: &str, resp: Response) -> Error {
    let status = resp.status().as_u16();
    let header_request_id = header(&resp, "x-amz-request-id").map(str::to_owned);
    let retry_after = header(&resp, "retry-after").map(str::to_owned);
    let body = read_small_body(path, resp, MAX_ERROR_BODY).unwrap_or_default();
    let (code, message, request_id) = parse_error_xml(&body);
    let detail = ServiceDetail {
        status,
        code: code.or_else(|| default_code(status).map(str::to_owned)),
        message,
        request_id: request_id.or(header_request_id),
    };
    classify(path, detail).with_retry_after(retry_after.as_deref())
}

/// What S3 means by a bodiless status (HEAD responses carry no XML).
fn default_code(status: u16) -> Option<&'static str> {
    match status {
        404 => Some("NotFound"),
        403 => Some("Forbidden"),
        412 => Some("PreconditionFailed"),
        416 => Some("InvalidRange"),
        _ => None,
    }
}

/// Maps status and code onto an error kind.
pub(crate) fn classify(path: &str, detail: ServiceDetail) -> Error {
    let path = path.to_owned();
    let remote = Some(Box::new(detail));
    let d = remote.as_deref().unwrap();
    let code = d.code.as_deref().unwrap_or("");
    match (d.status, code) {
        (_, "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload") | (404, _) => {
            Error::NotFound { path, remote }
        }
        (_, "SignatureDoesNotMatch" | "AccessDenied" | "InvalidAccessKeyId" | "ExpiredToken"
            | "InvalidToken")
        | (401 | 403, _) => Error::PermissionDenied {
            path,
            remote,
            source: None,
        },
        (412, _) | (_, "PreconditionFailed") => Error::PreconditionFailed { path, remote },
        (409, _) => Error::AlreadyExists { path, remote },
        (_, "RequestTimeout") => Error::Timeout {
            message: format!("the server timed out waiting for the request ({})", d),
            path,
            source: None,
        },
        (_, "SlowDown" | "ServiceUnavailable" | "InternalError") | (429 | 500..=599, _) => {
            Error::Server { path, remote }
        }
        (400 | 411 | 416, _) => Error::InvalidArgument {
            message: format!("{path}: {}", d),
        },
        _ => Error::Other {
            message: "unexpected response".into(),
            path,
            remote,
            source: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn error_xml_gives_code_message_and_request_id() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist &amp; never did.</Message>
<Key>a/b</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>"#;
        let (code, msg, id) = parse_error_xml(xml);
        assert_eq!(code.as_deref(), Some("NoSuchKey"));
        assert_eq!(msg.as_deref(), Some("The specified key does not exist & never did."));
        assert_eq!(id.as_deref(), Some("4442587FB7D0A2F9"));
    }

    #[test]
    fn garbage_gives_no_fields() {
        assert_eq!(
            parse_error_xml(b"<CompleteMultipartUploadResult><Code>x</Code></CompleteMultipartUploadResult>"),
            (None, None, None)
        );
        assert_eq!(parse_error_xml(b"<html>nope"), (None, None, None));
        assert_eq!(parse_error_xml(b""), (None, None, None));
    }

    fn kind(status: u16, code: &str) -> ErrorKind {
        classify(
            "k",
            ServiceDetail {
                status,
                code: Some(code.into()),
                ..Default::default()
            },
        )
        .kind()
    }

    #[test]
    fn statuses_and_codes_map_to_kinds() {
        assert_eq!(kind(404, "NoSuchKey"), ErrorKind::NotFound);
        assert_eq!(kind(404, "NoSuchBucket"), ErrorKind::NotFound);
        assert_eq!(kind(403, "SignatureDoesNotMatch"), ErrorKind::PermissionDenied);
        assert_eq!(kind(403, "InvalidAccessKeyId"), ErrorKind::PermissionDenied);
        assert_eq!(kind(412, "PreconditionFailed"), ErrorKind::PreconditionFailed);
        assert_eq!(kind(503, "SlowDown"), ErrorKind::Server);
        assert_eq!(kind(500, "InternalError"), ErrorKind::Server);
        assert_eq!(kind(429, "TooManyRequests"), ErrorKind::Server);
        assert_eq!(kind(400, "RequestTimeout"), ErrorKind::Timeout);
        assert_eq!(kind(400, "EntityTooSmall"), ErrorKind::InvalidArgument);
        assert_eq!(kind(416, "InvalidRange"), ErrorKind::InvalidArgument);
    }
}
