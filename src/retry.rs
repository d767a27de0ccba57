//! How any remote store retries: one [`RetryPolicy`], one
//! [`crate::Error::is_transient`], and one budget per call that every layer
//! draws on.
//!
//! A call (one `Backend` method) opens a budget of `max_retries` retries and
//! a deadline of `retry_timeout`. Whatever repeats work during that call
//! takes from the same budget: a request resent after a stale pooled
//! connection or a 503, a part or range fetched again on a worker thread,
//! the resilient wrapper's own attempts. So the attempts of one operation add
//! up to the policy instead of multiplying layer by layer.
//!
//! On one thread only the outermost retry loop repeats: when the resilient
//! wrapper loops around a store, the store's requests are attempted once
//! each and the wrapper (which also feeds its circuit breaker) decides. A
//! part or range job on a worker thread is the outermost loop there, and
//! draws on the budget of the call that submitted it.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// Default retries after the first attempt (the Go package's).
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default delay before the first retry.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(100);
/// Default cap on one pause.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5);
/// Default deadline for retrying one call.
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(180);
/// Most retries a policy may ask for.
pub const MAX_RETRIES_LIMIT: u32 = 100;

/// When and how often a failed request is attempted again.
///
/// Only transient failures ([`Error::is_transient`]: connect errors,
/// timeouts, a body cut short, 5xx, 429/503 throttling) are retried, and
/// only requests whose body can be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt, for the whole call (all its
    /// requests together). 0 disables retries. Default 3, at most 100.
    pub max_retries: u32,
    /// Pause before the first retry; it doubles with every further retry.
    /// Default 100 ms.
    pub base_delay: Duration,
    /// Cap on one pause, a server's `Retry-After` included. Default 5 s.
    pub max_delay: Duration,
    /// Draw each pause from the upper half of its exponential value, so
    /// that clients failing together do not come back in lockstep.
    /// Default true.
    pub jitter: bool,
    /// No retry starts (nor a pause runs) past this long after the call
    /// began: a call ends within this plus one request's timeouts.
    /// Default 180 s.
    pub retry_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            jitter: true,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// Checks the settings; `owner` names them in the message
    /// (`"S3"`, `"resilient"`).
    pub fn validate(&self, owner: &str) -> Result<()> {
        if self.max_retries > MAX_RETRIES_LIMIT {
            return Err(Error::invalid_argument(format!(
                "{owner} max_retries {} is above the limit of {MAX_RETRIES_LIMIT}",
                self.max_retries
            )));
        }
        if self.base_delay > self.max_delay {
            return Err(Error::invalid_argument(format!(
                "{owner} retry base delay {:?} exceeds the maximum delay {:?}",
                self.base_delay, self.max_delay
            )));
        }
        Ok(())
    }

    /// The pause before retry number `retry` (1 for the first) after
    /// `err`: what the server asked for (Retry-After) when it asked, else
    /// the backoff; capped at `max_delay` either way.
    pub(crate) fn delay(&self, retry: u32, err: &Error) -> Duration {
        match err.retry_after() {
            Some(asked) => asked.min(self.max_delay),
            None if self.jitter => backoff(retry, self.base_delay, self.max_delay),
            None => exponential(retry, self.base_delay, self.max_delay),
        }
    }
}

/// The retries left to one call, and its deadline. Shared (through an
/// `Arc`) by every thread working for the call.
#[derive(Debug)]
pub(crate) struct Budget {
    policy: RetryPolicy,
    /// The cancel token and progress meter of the call, for the jobs that
    /// work for it on other threads.
    context: crate::cancel::Context,
    left: AtomicU32,
    deadline: Option<Instant>,
}

impl Budget {
    pub(crate) fn new(policy: &RetryPolicy) -> Arc<Self> {
        Arc::new(Budget {
            policy: *policy,
            context: crate::cancel::Context::current(),
            left: AtomicU32::new(policy.max_retries),
            deadline: Instant::now().checked_add(policy.retry_timeout),
        })
    }

    /// Takes retry number `retry` (1 for the first of this request) after
    /// `err` from the budget: the pause to make first, or `None` when `err`
    /// is not worth another attempt, no retry is left, or the pause would
    /// end past the deadline.
    pub(crate) fn take(&self, retry: u32, err: &Error) -> Option<Duration> {
        if !err.is_transient() {
            return None;
        }
        let delay = self.policy.delay(retry, err);
        if let Some(deadline) = self.deadline {
            if Instant::now() + delay >= deadline {
                return None;
            }
        }
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .ok()?;
        Some(delay)
    }
}

/// What the current thread is doing for a call.
#[derive(Default, Clone)]
struct Scope {
    budget: Option<Arc<Budget>>,
    /// A retry loop further out on this thread decides about retries.
    looping: bool,
}

thread_local! {
    static SCOPE: RefCell<Scope> = RefCell::new(Scope::default());
}

/// Restores the thread's previous scope when dropped.
pub(crate) struct ScopeGuard {
    previous: Option<Scope>,
}

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            SCOPE.with(|s| *s.borrow_mut() = previous);
        }
    }
}

fn replace_scope(scope: Scope) -> ScopeGuard {
    let previous = SCOPE.with(|s| std::mem::replace(&mut *s.borrow_mut(), scope));
    ScopeGuard {
        previous: Some(previous),
    }
}

/// Opens the budget of a call made with `policy`, unless this thread is
/// already inside a call (a wrapper's), whose budget is then shared.
pub(crate) fn enter_call(policy: &RetryPolicy) -> ScopeGuard {
    let current = SCOPE.with(|s| s.borrow().clone());
    if current.budget.is_some() {
        return ScopeGuard { previous: None };
    }
    replace_scope(Scope {
        budget: Some(Budget::new(policy)),
        looping: current.looping,
    })
}

/// The budget of the call this thread is working for, to hand to jobs
/// on other threads.
pub(crate) fn current_budget() -> Option<Arc<Budget>> {
    SCOPE.with(|s| s.borrow().budget.clone())
}

/// Runs `f` (a job on a worker thread) inside the call that `budget`
/// belongs to.
pub(crate) fn within<T>(budget: Option<Arc<Budget>>, f: impl FnOnce() -> T) -> T {
    let context = budget.as_ref().map(|b| b.context.clone());
    let _guard = replace_scope(Scope {
        budget,
        looping: false,
    });
    match context {
        Some(c) => c.enter(f),
        None => f(),
    }
}

/// Runs `op` until it succeeds, fails for good, or the call's budget says
/// stop; `what` names the work in logs. When a loop further out on this
/// thread decides about retries, `op` runs once.
pub(crate) fn retrying<T>(
    policy: &RetryPolicy,
    what: &dyn Fn() -> String,
    op: impl FnMut() -> Result<T>,
) -> Result<T> {
    retrying_while(policy, what, &|_| true, op)
}

/// [`retrying`], where a failed attempt is followed by another only while
/// `repeatable(error)` says the work can be done again (a streamed body not
/// yet touched; a failure its caller handles otherwise).
pub(crate) fn retrying_while<T>(
    policy: &RetryPolicy,
    what: &dyn Fn() -> String,
    repeatable: &dyn Fn(&Error) -> bool,
    mut op: impl FnMut() -> Result<T>,
) -> Result<T> {
    let outer = SCOPE.with(|s| s.borrow().clone());
    if outer.looping {
        return op();
    }
    let budget = outer.budget.clone().unwrap_or_else(|| Budget::new(policy));
    let _guard = replace_scope(Scope {
        budget: Some(Arc::clone(&budget)),
        looping: true,
    });
    let mut retry = 0;
    loop {
        match op() {
            Err(e) => {
                if !repeatable(&e) {
                    return Err(e);
                }
                retry += 1;
                match budget.take(retry, &e) {
                    Some(delay) => {
                        log::info!("retry {retry} of {} in {delay:?} after: {e}", what());
                        // A cancel wakes the pause and ends the call.
                        crate::cancel::sleep(e.path().unwrap_or(""), delay)?;
                    }
                    None => return Err(e),
                }
            }
            ok => return ok,
        }
    }
}

/// Marks this thread as inside a retry loop of the caller's (the resilient
/// wrapper's) for as long as the guard lives, with `budget` as the call's.
pub(crate) fn looping(budget: Arc<Budget>) -> ScopeGuard {
    replace_scope(Scope {
        budget: Some(budget),
        looping: true,
    })
}

/// Whether a retry loop further out on this thread decides about retries.
pub(crate) fn inside_loop() -> bool {
    SCOPE.with(|s| s.borrow().looping)
}

/// The pause before retry number `retry` (1 for the first retry):
/// exponential from `base`, capped at `max`, with "equal jitter" — a
/// uniformly drawn point in the upper half `[d/2, d]` of the exponential
/// delay `d` — so that many clients failing together do not come back in
/// lockstep, yet every pause still grows with the attempt.
pub(crate) fn backoff(retry: u32, base: Duration, max: Duration) -> Duration {
    backoff_with(retry, base, max, random_u64())
}

/// The exponential delay without jitter.
fn exponential(retry: u32, base: Duration, max: Duration) -> Duration {
    let doublings = retry.saturating_sub(1);
    let base_nanos = base.as_nanos();
    let exp_nanos = if base_nanos == 0 {
        0
    } else if doublings >= base_nanos.leading_zeros() {
        u128::MAX
    } else {
        base_nanos << doublings
    };
    Duration::from_nanos(u64::try_from(exp_nanos.min(max.as_nanos())).unwrap_or(u64::MAX))
}

/// [`backoff`] with the random draw given (for tests).
pub(crate) fn backoff_with(retry: u32, base: Duration, max: Duration, random: u64) -> Duration {
    let nanos = u64::try_from(exponential(retry, base, max).as_nanos()).unwrap_or(u64::MAX);
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
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn server_error() -> Error {
        Error::Server {
            path: "p".into(),
            remote: None,
        }
    }

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
            assert_eq!(exponential(retry, base, max), full);
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
        assert_eq!(backoff_with(60, Duration::from_nanos(1), max, 0), max / 2);
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

    fn quick(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base_delay: MS,
            max_delay: MS,
            jitter: false,
            retry_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_call_attempts_at_most_max_retries_plus_one_times_in_all() {
        let policy = quick(3);
        let _call = enter_call(&policy);
        let mut attempts = 0;
        let err = retrying(&policy, &|| "op".into(), || -> Result<()> {
            attempts += 1;
            Err(server_error())
        })
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Server);
        assert_eq!(attempts, 4);
        // The budget is spent: a second loop in the same call gets one try.
        let mut again = 0;
        let _ = retrying(&policy, &|| "op".into(), || -> Result<()> {
            again += 1;
            Err(server_error())
        });
        assert_eq!(again, 1);
    }

    #[test]
    fn loops_nested_on_one_thread_attempt_once_each_and_jobs_share_the_budget() {
        let policy = quick(2);
        let _call = enter_call(&policy);
        let mut inner = 0;
        let mut outer = 0;
        let _ = retrying(&policy, &|| "outer".into(), || -> Result<()> {
            outer += 1;
            retrying(&policy, &|| "inner".into(), || -> Result<()> {
                inner += 1;
                Err(server_error())
            })
        });
        assert_eq!((outer, inner), (3, 3), "only the outer loop repeats");

        let _other = replace_scope(Scope::default());
        let _call = enter_call(&policy);
        let budget = current_budget();
        let worker = std::thread::spawn(move || {
            within(budget, || {
                let mut n = 0;
                let _ = retrying(&quick(9), &|| "part".into(), || -> Result<()> {
                    n += 1;
                    Err(server_error())
                });
                n
            })
        });
        assert_eq!(
            worker.join().unwrap(),
            3,
            "the job drew on the call's budget of 2"
        );
    }

    #[test]
    fn final_answers_and_the_deadline_stop_retries() {
        let policy = quick(5);
        let mut n = 0;
        let _ = retrying(&policy, &|| "op".into(), || -> Result<()> {
            n += 1;
            Err(Error::not_found("k"))
        });
        assert_eq!(n, 1, "NotFound is never retried");
        let late = RetryPolicy {
            retry_timeout: Duration::ZERO,
            ..policy
        };
        let mut n = 0;
        let _ = retrying(&late, &|| "op".into(), || -> Result<()> {
            n += 1;
            Err(server_error())
        });
        assert_eq!(n, 1, "past the deadline nothing is retried");
    }
}
