//! Azure Blob error responses: `x-ms-error-code`, the XML body's code and
//! message, `x-ms-request-id`, and the mapping onto blobio's error kinds.

use crate::error::{Error, ServiceDetail};
use crate::http::{header, read_small_body, Response};
use crate::xml::error_fields;

/// Longest error body read; Azure error documents are small.
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Parses `<Error><Code/><Message/></Error>`. Unknown or malformed
/// documents give empty fields. `AuthenticationErrorDetail` (which quotes
/// the signature the server computed) is deliberately not read.
pub(crate) fn parse_error_xml(xml: &[u8]) -> (Option<String>, Option<String>) {
    let [code, message] = error_fields(xml, ["Code", "Message"]);
    (code, message.as_deref().map(first_line))
}

/// Azure messages end in `\nRequestId:...\nTime:...`; the request id is
/// kept separately, so only the first line is the message.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_owned()
}

/// Turns a non-success response into an error about `path`.
pub(crate) fn response_error(path: &str, resp: Response) -> Error {
    let retry_after = header(&resp, "retry-after").map(str::to_owned);
    let detail = service_detail(path, resp);
    classify(path, detail).with_retry_after(retry_after.as_deref())
}

/// What the server said: header code first (HEAD responses have no body).
pub(crate) fn service_detail(path: &str, resp: Response) -> ServiceDetail {
    let status = resp.status().as_u16();
    let header_code = header(&resp, "x-ms-error-code").map(str::to_owned);
    let request_id = header(&resp, "x-ms-request-id").map(str::to_owned);
    let body = read_small_body(path, resp, MAX_ERROR_BODY).unwrap_or_default();
    let (code, message) = parse_error_xml(&body);
    ServiceDetail {
        status,
        code: header_code.or(code),
        message,
        request_id,
    }
}

/// Maps status and code onto an error kind.
pub(crate) fn classify(path: &str, detail: ServiceDetail) -> Error {
    let path = path.to_owned();
    let status = detail.status;
    let code = detail.code.clone().unwrap_or_default();
    let remote = Some(Box::new(detail));
    match (status, code.as_str()) {
        (_, "BlobNotFound" | "ContainerNotFound" | "ResourceNotFound") | (404, _) => {
            Error::NotFound { path, remote }
        }
        (
            _,
            "AuthenticationFailed"
            | "AuthorizationFailure"
            | "AuthorizationPermissionMismatch"
            | "AuthorizationResourceTypeMismatch"
            | "AuthorizationServiceMismatch"
            | "AuthorizationSourceIPMismatch"
            | "AuthorizationProtocolMismatch"
            | "InsufficientAccountPermissions",
        )
        | (401 | 403, _) => Error::PermissionDenied {
            path,
            remote,
            source: None,
        },
        (412, _) | (_, "ConditionNotMet") => Error::PreconditionFailed { path, remote },
        // Azurite's in-memory store is full: a server condition, not a name
        // that exists.
        (_, "MemoryExtentStoreAtSizeLimit") => Error::Server { path, remote },
        (409, _) => Error::AlreadyExists { path, remote },
        (_, "OperationTimedOut") => Error::Timeout {
            message: format!(
                "the server timed out ({})",
                remote.as_deref().map(|d| d.to_string()).unwrap_or_default()
            ),
            path,
            source: None,
        },
        (_, "ServerBusy" | "InternalError") | (429 | 500..=599, _) => {
            Error::Server { path, remote }
        }
        (400 | 411 | 413 | 414 | 416, _) => Error::InvalidArgument {
            message: format!(
                "{path}: {}",
                remote.as_deref().map(|d| d.to_string()).unwrap_or_default()
            ),
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
    fn error_xml_with_bom_gives_code_and_first_line_of_message() {
        let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code>\
<Message>Server failed to authenticate the request &amp; more.\nRequestId:ab-12\nTime:2024-01-01T00:00:00.0000000Z</Message>\
<AuthenticationErrorDetail>The MAC signature found in the HTTP request 'c2lnbmF0dXJl' is not the same</AuthenticationErrorDetail></Error>";
        let (code, msg) = parse_error_xml(xml.as_bytes());
        assert_eq!(code.as_deref(), Some("AuthenticationFailed"));
        assert_eq!(
            msg.as_deref(),
            Some("Server failed to authenticate the request & more.")
        );
    }

    #[test]
    fn garbage_gives_no_fields() {
        assert_eq!(parse_error_xml(b""), (None, None));
        assert_eq!(parse_error_xml(b"<html>oops"), (None, None));
        assert_eq!(
            parse_error_xml(b"<EnumerationResults><Code>x</Code></EnumerationResults>"),
            (None, None)
        );
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
        assert_eq!(kind(404, "BlobNotFound"), ErrorKind::NotFound);
        assert_eq!(kind(404, "ContainerNotFound"), ErrorKind::NotFound);
        assert_eq!(
            kind(403, "AuthenticationFailed"),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            kind(403, "AuthorizationFailure"),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            kind(403, "AuthorizationPermissionMismatch"),
            ErrorKind::PermissionDenied
        );
        assert_eq!(kind(409, "BlobAlreadyExists"), ErrorKind::AlreadyExists);
        assert_eq!(kind(409, "MemoryExtentStoreAtSizeLimit"), ErrorKind::Server);
        assert_eq!(kind(412, "ConditionNotMet"), ErrorKind::PreconditionFailed);
        assert_eq!(kind(503, "ServerBusy"), ErrorKind::Server);
        assert_eq!(kind(500, "InternalError"), ErrorKind::Server);
        assert_eq!(kind(429, ""), ErrorKind::Server);
        assert_eq!(kind(500, "OperationTimedOut"), ErrorKind::Timeout);
        assert_eq!(kind(400, "InvalidBlockList"), ErrorKind::InvalidArgument);
        assert_eq!(kind(416, "InvalidRange"), ErrorKind::InvalidArgument);
        assert_eq!(kind(418, "Teapot"), ErrorKind::Other);
    }
}
