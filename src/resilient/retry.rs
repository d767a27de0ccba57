//! Which failures are worth another attempt, and how long to wait first.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

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
    if let Error::Batch { failures } = err {
        if failures
            .iter()
            .any(|f| classify(&f.error) == Class::Transient)
        {
            return Class::Transient;
        }
    }
    match err.kind() {
        ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Server => Class::Transient,
        ErrorKind::NotFound
        | ErrorKind::PermissionDenied
        | ErrorKind::AlreadyExists
        | ErrorKind::PreconditionFailed => Class::Answered,
        // CircuitOpen only comes from a nested wrapper, whose own breaker
        // already counted what happened.
        _ => Class::Neutral,
    }
}

/// The pause before retry number `retry` (1 for the first retry):
/// exponential from `base`, capped at `max`, with "equal jitter" — a
/// uniformly drawn point in the upper half `[d/2, d]` of the exponential
/// delay `d` — so that many clients failing together do not come back in
/// lockstep, yet every pause still grows with the attempt.
pub(crate) fn backoff(retry: u32, base: Duration, max: Duration) -> Duration {
    backoff_with(retry, base, max, random_u64())
}

/// [`backoff`] with the random draw given (for tests).
pub(crate) fn backoff_with(retry: u32, base: Duration, max: Duration, random: u64) -> Duration {
    let doublings = retry.saturating_sub(1);
    let base_nanos = base.as_nanos();
    let exp_nanos = if base_nanos == 0 {
        0
    } else if doublings >= base_nanos.leading_zeros() {
        u128::MAX
    } else {
        base_nanos << doublings
    };
    let nanos = u64::try_from(exp_nanos.min(max.as_nanos())).unwrap_or(u64::MAX);
    let half = nanos / 2;
    let spread = nanos - half;
    let extra = if spread == u64::MAX {
        random
    } else {
        random % (spread + 1)
    };
    Duration::from_nanos(half + extra)
}

/// A cheap, per-call different number: a counter, the time and the
/// process's random hash keys, hashed (no `rand` crate for one jitter).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_from_the_base_and_stays_in_the_upper_half() {
        let (base, max) = (100 * MS, 5_000 * MS);
        for retry in 1..=6u32 {
            let full = (base * 2u32.pow(retry - 1)).min(max);
            for random in [0, 1, 7, u64::MAX / 3, u64::MAX - 1, u64::MAX] {
                let d = backoff_with(retry, base, max, random);
                assert!(
                    d >= full / 2 && d <= full,
                    "retry {retry}: {d:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
            assert_eq!(
                backoff_with(retry, base, max, 0),
                full / 2,
                "retry {retry}: lowest draw"
            );
        }
    }

    #[test]
    fn backoff_never_exceeds_the_cap_even_after_many_retries() {
        let (base, max) = (100 * MS, 5_000 * MS);
        for retry in [7, 10, 31, 32, 63, 64, 1_000, u32::MAX] {
            for random in [0, 12_345, u64::MAX] {
                let d = backoff_with(retry, base, max, random);
                assert!(d >= max / 2 && d <= max, "retry {retry}: {d:?}");
            }
        }
        assert_eq!(backoff_with(3, Duration::ZERO, max, 99), Duration::ZERO);
        let huge = backoff_with(1, Duration::MAX, Duration::MAX, u64::MAX);
        assert!(huge >= Duration::from_nanos(u64::MAX / 2), "{huge:?}");
        // A tiny base keeps doubling until the cap, not just 31 times.
        let tiny = backoff_with(60, Duration::from_nanos(1), max, 0);
        assert_eq!(tiny, max / 2);
    }

    #[test]
    fn real_backoff_draws_vary_within_bounds() {
        let draws: Vec<Duration> = (0..64).map(|_| backoff(3, 100 * MS, 5_000 * MS)).collect();
        assert!(
            draws.iter().all(|d| *d >= 200 * MS && *d <= 400 * MS),
            "{draws:?}"
        );
        let first = draws[0];
        assert!(
            draws.iter().any(|d| *d != first),
            "jitter drew the same delay 64 times"
        );
    }

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
