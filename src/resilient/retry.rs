//! What a failed attempt says about the backend, for the circuit breaker.
//! Whether it is retried is [`Error::is_transient`]'s to say, and how long
//! to wait [`crate::RetryPolicy`]'s.

use crate::error::{Error, ErrorKind};

/// What an attempt's failure says about the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// The backend is (maybe briefly) unhealthy: connection refused or
    /// reset, a timeout, a body that ended early, 5xx, 429, SlowDown,
    /// ServerBusy. Another attempt may succeed; the breaker counts it.
    Transient,
    /// The backend answered, and the answer is final: NotFound,
    /// PermissionDenied, AlreadyExists, PreconditionFailed. Never retried;
    /// for the breaker it is a healthy response (a burst of cache misses
    /// must not open the circuit).
    Answered,
    /// Says nothing about the backend: the caller's writer or source failed
    /// (Io), an invalid path or argument refused before any request, an
    /// unsupported operation, an unexpected response. Never retried, and
    /// neither a success nor a failure for the breaker.
    Neutral,
}

/// Classifies a failed attempt. A batch in which any path failed
/// transiently is transient as a whole: repeating a batch delete is
/// harmless, and it is the only way to retry those paths.
pub(crate) fn classify(err: &Error) -> Class {
    if err.is_transient() {
        return Class::Transient;
    }
    match err.kind() {
        ErrorKind::NotFound
        | ErrorKind::PermissionDenied
        | ErrorKind::AlreadyExists
        | ErrorKind::PreconditionFailed => Class::Answered,
        // CircuitOpen only comes from a nested wrapper, whose own breaker
        // already counted what happened.
        _ => Class::Neutral,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_kinds_are_retried_and_client_errors_count_as_answers() {
        let server = Error::Server {
            path: "p".into(),
            remote: None,
        };
        let network = Error::Network {
            path: "p".into(),
            message: "reset".into(),
            source: None,
        };
        let timeout = Error::Timeout {
            path: "p".into(),
            message: "stall".into(),
            remote: None,
            source: None,
        };
        for e in [&server, &network, &timeout] {
            assert_eq!(classify(e), Class::Transient, "{e}");
        }
        let denied = Error::PermissionDenied {
            path: "p".into(),
            remote: None,
            source: None,
        };
        let changed = Error::ChangedDuringRead {
            path: "p".into(),
            delivered: 3,
            remote: None,
        };
        for e in [&Error::not_found("p"), &denied, &changed] {
            assert_eq!(classify(e), Class::Answered, "{e}");
        }
        let io = Error::Io {
            path: "p".into(),
            operation: "write to destination",
            source: std::io::Error::other("disk full"),
        };
        let open = Error::CircuitOpen { path: "p".into() };
        for e in [
            &io,
            &Error::invalid_path("../x", "escapes"),
            &Error::invalid_argument("offset"),
            &open,
        ] {
            assert_eq!(classify(e), Class::Neutral, "{e}");
        }
        let batch = |errors: Vec<Error>| Error::Batch {
            failures: errors
                .into_iter()
                .map(|error| crate::error::BatchFailure {
                    path: "k".into(),
                    error,
                })
                .collect(),
        };
        let mixed = batch(vec![
            Error::invalid_path("../x", "escapes"),
            Error::Server {
                path: "b".into(),
                remote: None,
            },
        ]);
        assert_eq!(classify(&mixed), Class::Transient);
        assert_eq!(
            classify(&batch(vec![Error::not_found("a")])),
            Class::Answered
        );
    }
}
