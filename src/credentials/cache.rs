//! The credentials of one store: fetched on first use, refreshed before
//! they expire, shared by every thread.
//!
//! - Temporary credentials are refreshed [`REFRESH_MARGIN`] (5 minutes)
//!   before they expire, or at half their remaining life when that is
//!   shorter (credentials that live 10 minutes are refreshed after 5).
//! - One refresh at a time: while one thread fetches, the others keep
//!   using the current credentials if they have not expired, else wait for
//!   that fetch (its answer, or its error, is theirs too).
//! - A failed refresh keeps the unexpired credentials (a warning is
//!   logged) and is tried again after a pause that doubles with every
//!   failure in a row, from [`FIRST_RETRY`] up to [`LAST_RETRY`] (never
//!   past the expiry of the credentials in hand). Without usable
//!   credentials, calls during that pause get the last error at once
//!   instead of asking the endpoint again: a store without an identity
//!   endpoint fails fast, and a failing endpoint is not hammered.
//! - After `fork()`, a refresh that was under way in the parent is not
//!   waited for by the child: the child fetches its own.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::{AwsCredentials, Expiring, Provider};
use crate::error::{Error, Result};

/// Refresh this long before the credentials expire (or at half their
/// remaining life, when that is shorter).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// The pause after a first failed fetch before the next attempt.
pub(crate) const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest pause between attempts after failures in a row.
pub(crate) const LAST_RETRY: Duration = Duration::from_secs(60);
/// Credentials that arrive already expired (a skewed clock) are used for
/// at least this long before the next fetch, so a clock that is off never
/// turns every request into a fetch.
const MIN_LIFE: Duration = Duration::from_secs(1);

/// The credentials of one store and where they come from: AWS
/// credentials, or an Azure bearer token.
pub(crate) struct Cached<C: Expiring = AwsCredentials> {
    provider: Option<Box<dyn Provider<C>>>,
    source: String,
    state: Mutex<State<C>>,
    changed: Condvar,
}

struct State<C> {
    current: Option<Arc<C>>,
    /// When `current` should be replaced; `None`: never.
    refresh_at: Option<SystemTime>,
    /// The process whose thread is fetching (a fetch of a parent process
    /// never ends in a forked child).
    refreshing: Option<u32>,
    failures: u32,
    /// No new fetch before this, after a failure.
    retry_after: Option<Instant>,
    /// What the last fetch failed with, handed to callers until the next.
    last_error: Option<Error>,
    fetches: u64,
}

impl<C> Default for State<C> {
    fn default() -> Self {
        State {
            current: None,
            refresh_at: None,
            refreshing: None,
            failures: 0,
            retry_after: None,
            last_error: None,
            fetches: 0,
        }
    }
}

impl<C: Expiring> std::fmt::Debug for Cached<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached").field("source", &self.source).finish_non_exhaustive()
    }
}

impl<C: Expiring> Cached<C> {
    /// Credentials that `provider` fetches when needed; `source` names it
    /// (`web_identity`, `profile:dev`, ...).
    pub(crate) fn new(provider: Box<dyn Provider<C>>, source: impl Into<String>) -> Self {
        Cached {
            provider: Some(provider),
            source: source.into(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    /// Credentials known now that never expire (explicit keys, the
    /// environment, a profile's static keys).
    pub(crate) fn fixed(creds: C, source: impl Into<String>) -> Self {
        Cached {
            provider: None,
            source: source.into(),
            state: Mutex::new(State {
                current: Some(Arc::new(creds)),
                ..State::default()
            }),
            changed: Condvar::new(),
        }
    }

    /// Which provider supplies the credentials.
    #[cfg(test)]
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// How many fetches were started (tests).
    #[cfg(test)]
    pub(crate) fn fetches(&self) -> u64 {
        self.lock().fetches
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The credentials to sign a request with now.
    pub(crate) fn get(&self) -> Result<Arc<C>> {
        let mut st = self.lock();
        loop {
            let now = SystemTime::now();
            if let Some(c) = &st.current {
                if st.refresh_at.map_or(true, |at| now < at) {
                    return Ok(Arc::clone(c));
                }
            }
            let Some(provider) = &self.provider else {
                // Fixed credentials have no refresh time: not reached.
                return st.current.clone().ok_or_else(|| Error::invalid_argument(format!("no {}", C::WHAT)));
            };
            let usable = st
                .current
                .as_ref()
                .filter(|c| c.expires().map_or(true, |e| now < e))
                .cloned();
            let me = std::process::id();
            if st.refreshing == Some(me) {
                if let Some(c) = usable {
                    return Ok(c);
                }
                st = self
                    .changed
                    .wait_timeout(st, Duration::from_secs(1))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
                continue;
            }
            if st.retry_after.is_some_and(|at| Instant::now() < at) {
                if let Some(c) = usable {
                    return Ok(c);
                }
                if let Some(e) = &st.last_error {
                    return Err(replay(e));
                }
            }
            st.refreshing = Some(me);
            st.fetches += 1;
            drop(st);
            let fetched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| provider.fetch()))
                .unwrap_or_else(|_| {
                    Err(Error::Other {
                        path: format!("{} from {}", C::WHAT, self.source),
                        message: "the credential provider panicked".into(),
                        remote: None,
                        source: None,
                    })
                });
            st = self.lock();
            st.refreshing = None;
            self.changed.notify_all();
            let now = SystemTime::now();
            return match fetched {
                Ok(creds) => {
                    st.refresh_at = creds.expires().map(|e| refresh_time(now, e));
                    if creds.expires().is_some_and(|e| e <= now) {
                        log::warn!(
                            "{} from {} arrived already expired (is the clock right?)",
                            C::WHAT,
                            self.source
                        );
                    }
                    let creds = Arc::new(creds);
                    st.current = Some(Arc::clone(&creds));
                    st.failures = 0;
                    st.retry_after = None;
                    st.last_error = None;
                    Ok(creds)
                }
                Err(e) => {
                    st.failures = st.failures.saturating_add(1);
                    let mut pause = FIRST_RETRY
                        .saturating_mul(1u32 << (st.failures - 1).min(16))
                        .min(LAST_RETRY);
                    if let Some(left) = usable
                        .as_ref()
                        .and_then(|c| c.expires())
                        .and_then(|e| e.duration_since(now).ok())
                    {
                        pause = pause.min(left);
                    }
                    st.retry_after = Some(Instant::now() + pause);
                    st.last_error = Some(replay(&e));
                    match usable {
                        Some(c) => {
                            log::warn!(
                                "refreshing {} from {} failed, using the current ones \
                                 until they expire (next try in {pause:?}): {e}",
                                C::WHAT,
                                self.source
                            );
                            Ok(c)
                        }
                        None => Err(e),
                    }
                }
            };
        }
    }
}

/// When credentials fetched at `now` that expire at `expires` are
/// replaced: [`REFRESH_MARGIN`] before, or at half the remaining life when
/// that is earlier; never sooner than [`MIN_LIFE`] from now.
pub(crate) fn refresh_time(now: SystemTime, expires: SystemTime) -> SystemTime {
    let life = expires.duration_since(now).unwrap_or(Duration::ZERO);
    let early = REFRESH_MARGIN.min(life / 2);
    (expires - early).max(now + MIN_LIFE)
}

/// A copy of `e` for another caller (errors are not `Clone`): the same
/// kind, path, message and service detail; a cause becomes its text.
pub(crate) fn replay(e: &Error) -> Error {
    let text = |s: &Option<crate::error::BoxError>| -> Option<crate::error::BoxError> {
        s.as_ref().map(|s| s.to_string().into())
    };
    match e {
        Error::InvalidArgument { message } => Error::InvalidArgument { message: message.clone() },
        Error::PermissionDenied { path, remote, source } => Error::PermissionDenied {
            path: path.clone(),
            remote: remote.clone(),
            source: text(source),
        },
        Error::NotFound { path, remote } => Error::NotFound { path: path.clone(), remote: remote.clone() },
        Error::BadRequest { path, remote } => Error::BadRequest { path: path.clone(), remote: remote.clone() },
        Error::Timeout { path, message, remote, source } => Error::Timeout {
            path: path.clone(),
            message: message.clone(),
            remote: remote.clone(),
            source: text(source),
        },
        Error::Network { path, message, source } => Error::Network {
            path: path.clone(),
            message: message.clone(),
            source: text(source),
        },
        Error::Server { path, remote } => Error::Server { path: path.clone(), remote: remote.clone() },
        Error::ServerBusy { path, remote, retry_after } => Error::ServerBusy {
            path: path.clone(),
            remote: remote.clone(),
            retry_after: *retry_after,
        },
        Error::Io { path, operation, source } => Error::Io {
            path: path.clone(),
            operation,
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        Error::Other { path, message, remote, source } => Error::Other {
            path: path.clone(),
            message: message.clone(),
            remote: remote.clone(),
            source: text(source),
        },
        other => Error::Other {
            path: other.path().unwrap_or("credentials").to_owned(),
            message: other.to_string(),
            remote: other.service_detail().cloned().map(Box::new),
            source: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn creds(n: u32, life: Option<Duration>) -> AwsCredentials {
        AwsCredentials {
            key_id: format!("AK{n}"),
            secret: format!("secret-{n}"),
            token: Some(format!("token-{n}")),
            expires: life.map(|l| SystemTime::now() + l),
        }
    }

    #[test]
    fn refresh_is_five_minutes_early_or_at_half_life() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let hour = Duration::from_secs(3600);
        assert_eq!(refresh_time(now, now + hour), now + hour - REFRESH_MARGIN);
        let four = Duration::from_secs(4);
        assert_eq!(refresh_time(now, now + four), now + Duration::from_secs(2));
        assert_eq!(refresh_time(now, now + Duration::from_secs(600)), now + Duration::from_secs(300));
        assert_eq!(refresh_time(now, now - hour), now + MIN_LIFE, "already expired");
    }

    #[test]
    fn fixed_credentials_are_handed_out_forever() {
        let c = Cached::fixed(creds(1, None), "env");
        assert_eq!(c.get().unwrap().key_id, "AK1");
        assert_eq!(c.source(), "env");
        assert!(!format!("{:?}", c.get().unwrap()).contains("secret-1"));
        assert!(!format!("{:?}", c.get().unwrap()).contains("token-1"));
    }

    #[test]
    fn eight_threads_waiting_for_expired_credentials_share_one_fetch() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let cache = Arc::new(Cached::new(
            Box::new(move || {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                std::thread::sleep(Duration::from_millis(200));
                // The first set is already stale; later ones last an hour.
                let life = if n == 1 { Duration::from_millis(1100) } else { Duration::from_secs(3600) };
                Ok(creds(n, Some(life)))
            }),
            "test",
        ));
        assert_eq!(cache.get().unwrap().key_id, "AK1");
        std::thread::sleep(Duration::from_millis(1200));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (cache, barrier) = (Arc::clone(&cache), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    cache.get().unwrap().key_id.clone()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), "AK2");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(cache.fetches(), 2);
    }

    #[test]
    fn a_failed_refresh_keeps_unexpired_credentials_and_tries_again_later() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let cache = Cached::new(
            Box::new(move || {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                match n {
                    // Refresh due after 1 s (the minimum), valid for 1.5 s.
                    1 => Ok(creds(1, Some(Duration::from_millis(1500)))),
                    2 => Err(Error::Server { path: "sts".into(), remote: None }),
                    _ => Ok(creds(n, Some(Duration::from_secs(3600)))),
                }
            }),
            "test",
        );
        assert_eq!(cache.get().unwrap().key_id, "AK1");
        std::thread::sleep(Duration::from_millis(1050));
        // The refresh fails: the old credentials still serve, and no new
        // fetch happens during the pause.
        assert_eq!(cache.get().unwrap().key_id, "AK1");
        assert_eq!(cache.get().unwrap().key_id, "AK1");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Past the pause (capped by the expiry, 0.45 s away): fetched again.
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(cache.get().unwrap().key_id, "AK3");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn without_usable_credentials_a_failure_is_replayed_until_the_pause_ends() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let cache: Cached = Cached::new(
            Box::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Err(Error::PermissionDenied {
                    path: "AWS credentials from ecs".into(),
                    remote: None,
                    source: Some("refused".into()),
                })
            }),
            "ecs",
        );
        let e1 = cache.get().unwrap_err();
        let e2 = cache.get().unwrap_err();
        assert_eq!(e2.kind(), crate::ErrorKind::PermissionDenied);
        assert_eq!(e1.to_string(), e2.to_string());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        std::thread::sleep(FIRST_RETRY + Duration::from_millis(50));
        let _ = cache.get().unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
