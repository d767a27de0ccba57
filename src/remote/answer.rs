//! The one place a remote store's failed answer becomes an [`Error`]: the
//! protocol reads what the server said (status, provider code, message,
//! request id, Retry-After) and names what its codes mean; the HTTP status
//! decides the rest. Every error made here keeps the server's detail.

use super::client::AnswerParser;
use crate::error::{Error, ServiceDetail};
use crate::http::{header, read_small_body};

/// Longest error body read; error documents are small.
pub(crate) const MAX_ERROR_BODY: u64 = 64 * 1024;

/// What a provider's error code means, where it says more than the status
/// (S3's `RequestTimeout` comes with a 400; Azurite's full memory store
/// with a 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    NotFound,
    Denied,
    Precondition,
    Exists,
    Timeout,
    Busy,
    /// The store found the body damaged (its checksum does not match).
    Checksum,
}

/// What a protocol extracts from a failed answer.
pub(crate) struct Said {
    pub(crate) detail: ServiceDetail,
    pub(crate) retry_after: Option<String>,
}

/// What a failed answer's body says: the provider's code, its message and
/// the request id, each where the body has it.
pub(crate) type BodyFields = (Option<String>, Option<String>, Option<String>);

/// How one provider writes a failed answer.
pub(crate) struct Dialect {
    /// The header with the provider's code, where there is one (a HEAD
    /// answer has no body).
    pub(crate) code_header: Option<&'static str>,
    /// The header with the request id.
    pub(crate) id_header: &'static str,
    /// Code, message and request id from the body.
    pub(crate) body: fn(&[u8]) -> BodyFields,
    /// A code for a status that came without one.
    pub(crate) default_code: fn(u16) -> Option<&'static str>,
    /// What the provider's codes (and, where a code is too general, its
    /// messages) mean.
    pub(crate) meaning: fn(&str, Option<&str>) -> Option<Meaning>,
    /// The code of a missing bucket or container.
    pub(crate) missing_root: &'static str,
}

/// The parser of failed answers of one store: `root` names its bucket or
/// container in a NotFound that is about it (`s3://b (bucket`).
pub(crate) fn parser(dialect: &'static Dialect, root: String) -> AnswerParser {
    Box::new(move |path, resp| {
        let status = resp.status().as_u16();
        let header_code = dialect
            .code_header
            .and_then(|h| header(&resp, h))
            .map(str::to_owned);
        let header_id = header(&resp, dialect.id_header).map(str::to_owned);
        let retry_after = header(&resp, "retry-after").map(str::to_owned);
        let body = read_small_body(path, resp, MAX_ERROR_BODY).unwrap_or_default();
        let (code, message, request_id) = (dialect.body)(&body);
        let detail = ServiceDetail {
            status,
            code: header_code
                .or(code)
                .or_else(|| (dialect.default_code)(status).map(str::to_owned)),
            message,
            request_id: request_id.or(header_id),
        };
        let err = error_for(
            path,
            Said {
                detail,
                retry_after,
            },
            dialect.meaning,
        );
        name_root(dialect, &root, path, err)
    })
}

/// A NotFound about the bucket or container names it.
pub(crate) fn name_root(dialect: &Dialect, root: &str, path: &str, err: Error) -> Error {
    if err.provider_code() == Some(dialect.missing_root) {
        if let Error::NotFound { remote, .. } = err {
            return Error::NotFound {
                path: format!("{root}, for {path})"),
                remote,
            };
        }
    }
    err
}

/// The error for `path`, from what the server said and what its code
/// means (`meaning`, the protocol's table), else from the status.
pub(crate) fn error_for(
    path: &str,
    said: Said,
    meaning: fn(&str, Option<&str>) -> Option<Meaning>,
) -> Error {
    let Said {
        detail,
        retry_after,
    } = said;
    let path = path.to_owned();
    let status = detail.status;
    let by_code = detail
        .code
        .as_deref()
        .and_then(|code| meaning(code, detail.message.as_deref()));
    let by_status = match status {
        404 => Some(Meaning::NotFound),
        401 | 403 => Some(Meaning::Denied),
        412 => Some(Meaning::Precondition),
        409 => Some(Meaning::Exists),
        408 => Some(Meaning::Timeout),
        429 | 500..=599 => Some(Meaning::Busy),
        _ => None,
    };
    let remote = Some(Box::new(detail));
    let err = match by_code.or(by_status) {
        Some(Meaning::NotFound) => Error::NotFound { path, remote },
        Some(Meaning::Denied) => Error::PermissionDenied {
            path,
            remote,
            source: None,
        },
        Some(Meaning::Precondition) => Error::PreconditionFailed { path, remote },
        Some(Meaning::Exists) => Error::AlreadyExists { path, remote },
        Some(Meaning::Timeout) => Error::Timeout {
            message: "the server timed out".into(),
            path,
            remote,
            source: None,
        },
        Some(Meaning::Busy) => Error::Server { path, remote },
        Some(Meaning::Checksum) => Error::ChecksumMismatch {
            path,
            message: "the store refused the bytes it got".into(),
            remote,
        },
        None if matches!(status, 400 | 411 | 413 | 414 | 416) => Error::BadRequest { path, remote },
        None => Error::Other {
            message: "unexpected response".into(),
            path,
            remote,
            source: None,
        },
    };
    err.with_retry_after(retry_after.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn said(status: u16, code: &str) -> Said {
        Said {
            detail: ServiceDetail {
                status,
                code: Some(code.into()),
                message: Some("why".into()),
                request_id: Some("R1".into()),
            },
            retry_after: None,
        }
    }

    fn none(_: &str, _: Option<&str>) -> Option<Meaning> {
        None
    }

    #[test]
    fn four_hundreds_are_invalid_arguments_that_keep_status_code_and_request_id() {
        for status in [400, 411, 413, 414, 416] {
            let e = error_for("k", said(status, "KeyTooLongError"), none);
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{status}");
            assert_eq!(e.http_status(), Some(status));
            assert_eq!(e.provider_code(), Some("KeyTooLongError"));
            assert_eq!(e.request_id(), Some("R1"));
            assert!(e.to_string().contains("KeyTooLongError"), "{e}");
        }
    }

    #[test]
    fn a_server_timeout_keeps_status_code_and_request_id_and_is_retried() {
        let e = error_for("k", said(408, "RequestTimeout"), none);
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.is_transient());
        assert_eq!(e.http_status(), Some(408));
        assert_eq!(e.provider_code(), Some("RequestTimeout"));
        assert_eq!(e.request_id(), Some("R1"));
        let text = e.to_string();
        assert!(text.contains("the server timed out") && text.contains("RequestTimeout"), "{text}");
        // A code that means a timeout, on another status (Azure's 500).
        let timeout = |_: &str, _: Option<&str>| Some(Meaning::Timeout);
        let e = error_for("k", said(500, "OperationTimedOut"), timeout);
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!((e.http_status(), e.provider_code()), (Some(500), Some("OperationTimedOut")));
    }

    #[test]
    fn the_code_wins_over_the_status_and_the_status_decides_otherwise() {
        let timeout = |c: &str, _: Option<&str>| (c == "RequestTimeout").then_some(Meaning::Timeout);
        assert_eq!(
            error_for("k", said(400, "RequestTimeout"), timeout).kind(),
            ErrorKind::Timeout
        );
        assert_eq!(
            error_for("k", said(404, "X"), none).kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            error_for("k", said(403, "X"), none).kind(),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            error_for("k", said(412, "X"), none).kind(),
            ErrorKind::PreconditionFailed
        );
        assert_eq!(
            error_for("k", said(409, "X"), none).kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            error_for("k", said(503, "X"), none).kind(),
            ErrorKind::Server
        );
        assert_eq!(
            error_for("k", said(429, "X"), none).kind(),
            ErrorKind::Server
        );
        let other = error_for("k", said(302, "X"), none);
        assert_eq!(other.kind(), ErrorKind::Other);
        assert_eq!(other.http_status(), Some(302));
    }
}
