//! S3 error answers: the XML body read into code, message and request id,
//! and what S3's codes mean. The mapping itself is the engine's
//! (`src/remote/answer.rs`).

use crate::remote::answer::{parser, Dialect, Meaning};
use crate::remote::client::AnswerParser;
use crate::xml::error_fields;

/// Parses `<Error><Code/><Message/><RequestId/></Error>`. Unknown or
/// malformed documents give empty fields.
pub(crate) fn parse_error_xml(xml: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    let [code, message, request_id] = error_fields(xml, ["Code", "Message", "RequestId"]);
    (code, message, request_id)
}

/// The error a 200 answer's body carries, if it is an `<Error>` document
/// (CompleteMultipartUpload, CopyObject and UploadPartCopy may answer 200
/// and fail later, while the body streams).
pub(super) fn error_in_body(path: &str, body: &[u8]) -> Option<crate::Error> {
    let (code, message, request_id) = parse_error_xml(body);
    let detail = crate::error::ServiceDetail {
        status: 200,
        code: Some(code?),
        message,
        request_id,
    };
    Some(crate::remote::answer::error_for(
        path,
        crate::remote::answer::Said {
            detail,
            retry_after: None,
        },
        meaning,
    ))
}

/// What S3's codes mean where the status does not say it.
pub(super) fn meaning(code: &str, _message: Option<&str>) -> Option<Meaning> {
    Some(match code {
        // The body does not have the checksum (or Content-MD5) sent.
        "BadDigest" | "XAmzContentChecksumMismatch" => Meaning::Checksum,
        "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" => Meaning::NotFound,
        "SignatureDoesNotMatch"
        | "AccessDenied"
        | "InvalidAccessKeyId"
        | "ExpiredToken"
        | "InvalidToken" => Meaning::Denied,
        // 409 when a concurrent conditional write to the key won the race.
        "PreconditionFailed" | "ConditionalRequestConflict" => Meaning::Precondition,
        "RequestTimeout" => Meaning::Timeout,
        "SlowDown" | "ServiceUnavailable" | "InternalError" => Meaning::Busy,
        _ => return None,
    })
}

/// What S3 means by a bodiless status (HEAD answers carry no XML).
fn default_code(status: u16) -> Option<&'static str> {
    match status {
        404 => Some("NotFound"),
        403 => Some("Forbidden"),
        412 => Some("PreconditionFailed"),
        416 => Some("InvalidRange"),
        _ => None,
    }
}

/// How S3 writes a failed answer.
static DIALECT: Dialect = Dialect {
    code_header: None,
    id_header: "x-amz-request-id",
    body: parse_error_xml,
    default_code,
    meaning,
    missing_root: "NoSuchBucket",
};

/// The parser of failed answers for the bucket `bucket`.
pub(crate) fn answer(bucket: &str) -> AnswerParser {
    parser(&DIALECT, format!("s3://{bucket} (bucket"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ServiceDetail;
    use crate::remote::answer::{error_for, Said};
    use crate::ErrorKind;

    #[test]
    fn error_xml_gives_code_message_and_request_id() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist &amp; never did.</Message>
<Key>a/b</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>"#;
        let (code, msg, id) = parse_error_xml(xml);
        assert_eq!(code.as_deref(), Some("NoSuchKey"));
        assert_eq!(
            msg.as_deref(),
            Some("The specified key does not exist & never did.")
        );
        assert_eq!(id.as_deref(), Some("4442587FB7D0A2F9"));
    }

    #[test]
    fn garbage_gives_no_fields() {
        assert_eq!(
            parse_error_xml(
                b"<CompleteMultipartUploadResult><Code>x</Code></CompleteMultipartUploadResult>"
            ),
            (None, None, None)
        );
        assert_eq!(parse_error_xml(b"<html>nope"), (None, None, None));
        assert_eq!(parse_error_xml(b""), (None, None, None));
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
        assert_eq!(kind(404, "NoSuchKey"), ErrorKind::NotFound);
        assert_eq!(kind(404, "NoSuchBucket"), ErrorKind::NotFound);
        assert_eq!(
            kind(403, "SignatureDoesNotMatch"),
            ErrorKind::PermissionDenied
        );
        assert_eq!(kind(403, "InvalidAccessKeyId"), ErrorKind::PermissionDenied);
        assert_eq!(
            kind(412, "PreconditionFailed"),
            ErrorKind::PreconditionFailed
        );
        assert_eq!(
            kind(409, "ConditionalRequestConflict"),
            ErrorKind::PreconditionFailed
        );
        assert_eq!(kind(503, "SlowDown"), ErrorKind::Server);
        assert_eq!(kind(500, "InternalError"), ErrorKind::Server);
        assert_eq!(kind(429, "TooManyRequests"), ErrorKind::Server);
        assert_eq!(kind(400, "RequestTimeout"), ErrorKind::Timeout);
        assert_eq!(kind(400, "EntityTooSmall"), ErrorKind::InvalidArgument);
        assert_eq!(kind(416, "InvalidRange"), ErrorKind::InvalidArgument);
    }
}
