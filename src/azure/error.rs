//! Azure Blob error answers: `x-ms-error-code`, the XML body's code and
//! message, `x-ms-request-id`, and what Azure's codes mean. The mapping
//! itself is the engine's (`src/remote/answer.rs`).

use crate::remote::answer::{parser, Dialect, Meaning};
use crate::remote::client::AnswerParser;
use crate::xml::error_fields;

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

/// What Azure's codes mean where the status does not say it.
pub(super) fn meaning(code: &str, message: Option<&str>) -> Option<Meaning> {
    Some(match code {
        "Md5Mismatch" | "Crc64Mismatch" => Meaning::Checksum,
        // Azurite says a damaged body only in words.
        "InvalidOperation" if message.is_some_and(|m| m.contains("MD5 doesn't match")) => {
            Meaning::Checksum
        }
        "BlobNotFound" | "ContainerNotFound" | "ResourceNotFound" => Meaning::NotFound,
        "AuthenticationFailed"
        | "AuthorizationFailure"
        | "AuthorizationPermissionMismatch"
        | "AuthorizationResourceTypeMismatch"
        | "AuthorizationServiceMismatch"
        | "AuthorizationSourceIPMismatch"
        | "AuthorizationProtocolMismatch"
        | "InsufficientAccountPermissions" => Meaning::Denied,
        "ConditionNotMet" => Meaning::Precondition,
        // Azurite's in-memory store is full: a server condition, not a name
        // that exists.
        "MemoryExtentStoreAtSizeLimit" | "ServerBusy" | "InternalError" => Meaning::Busy,
        "OperationTimedOut" => Meaning::Timeout,
        _ => return None,
    })
}

/// How Azure writes a failed answer: the header code first (HEAD answers
/// have no body).
pub(super) static DIALECT: Dialect = Dialect {
    code_header: Some("x-ms-error-code"),
    id_header: "x-ms-request-id",
    body: body_fields,
    default_code: |_| None,
    meaning,
    missing_root: "ContainerNotFound",
};

fn body_fields(xml: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let (code, message) = parse_error_xml(xml);
    (code, message, None)
}

/// How a missing `container` is named in errors.
pub(super) fn root_label(container: &str) -> String {
    format!("azure://{container} (container")
}

/// The parser of failed answers for `container`.
pub(crate) fn answer(container: &str) -> AnswerParser {
    parser(&DIALECT, root_label(container))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceDetail;
    use crate::remote::answer::{error_for, Said};
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
        let detail = ServiceDetail {
            status,
            code: Some(code.into()),
            ..Default::default()
        };
        error_for(
            "k",
            Said {
                detail,
                retry_after: None,
            },
            meaning,
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
