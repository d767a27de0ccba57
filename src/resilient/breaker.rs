//! The circuit breaker: closed → open after `max_failures` consecutive
//! failures → half-open after `open_timeout` → closed after
//! `half_open_max_requests` successful probes (any failed probe reopens it).
//!
//! Every attempt asks for a [`Permit`] first and reports its outcome through
//! it. The state machine lives behind a mutex, but the common case — closed,
//! no failure pending — only reads one atomic word and bumps one counter, so
//! a healthy store pays next to nothing for the breaker.
//!
//! A permit remembers the *generation* (incremented at every state change)
//! it was granted in; an outcome from an older generation updates the
//! counters but never the state. So a slow call granted before the circuit
//! opened cannot, by failing late, push back the reopening time, and a slow
//! success cannot count as a probe of a half-open state it never was part of.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::retry::Class;

/// The state of a circuit breaker. The numbers are the C ABI's (and the Go
/// package's): 0 closed, 1 open, 2 half-open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CircuitState {
    /// Calls go through; consecutive failures are counted.
    Closed = 0,
    /// Calls fail at once with [`crate::ErrorKind::CircuitOpen`], touching no
    /// network, until the open timeout has passed.
    Open = 1,
    /// A limited number of probe calls go through; enough successes close
    /// the circuit, any failure opens it again.
    HalfOpen = 2,
}

impl CircuitState {
    /// `"closed"`, `"open"` or `"half_open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    fn from_code(code: u64) -> CircuitState {
        match code & 3 {
            0 => CircuitState::Closed,
            1 => CircuitState::Open,
            _ => CircuitState::HalfOpen,
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of a breaker's state and counters.
///
/// Every attempt the wrapper made on the backend ended as exactly one of
/// `successes`, `failures` or `neutral`, so once no call is in flight their
/// sum is the number of attempts, and `retries` of those were retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitStats {
    /// The state now.
    pub state: CircuitState,
    /// Failures since the last success (what opens a closed circuit).
    pub consecutive_failures: u32,
    /// Attempts the backend answered: successes, and final answers such as
    /// NotFound or PermissionDenied, which say the backend is healthy.
    pub successes: u64,
    /// Attempts that failed in a way that says the backend is unhealthy
    /// (network, timeout, 5xx, throttling).
    pub failures: u64,
    /// Attempts whose failure says nothing about the backend (the caller's
    /// writer or source failed, an invalid path, ...).
    pub neutral: u64,
    /// Calls refused with CircuitOpen without being attempted.
    pub rejected: u64,
    /// Attempts made as retries (including resumed reads).
    pub retries: u64,
    /// How many times the circuit opened.
    pub times_opened: u64,
    /// When the last failure happened.
    pub last_failure: Option<SystemTime>,
}

impl CircuitStats {
    /// The stats as a JSON object (times as Unix milliseconds, `null` when
    /// there was no failure).
    pub fn to_json(&self) -> String {
        let last_failure_ms = self.last_failure.map(|t| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        });
        serde_json::json!({
            "state": self.state.as_str(),
            "state_code": self.state as u8,
            "consecutive_failures": self.consecutive_failures,
            "successes": self.successes,
            "failures": self.failures,
            "neutral": self.neutral,
            "rejected": self.rejected,
            "retries": self.retries,
            "times_opened": self.times_opened,
            "last_failure_unix_ms": last_failure_ms,
        })
        .to_string()
    }
}

/// The breaker's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BreakerConfig {
    pub(crate) max_failures: u32,
    pub(crate) open_timeout: Duration,
    pub(crate) half_open_max_requests: u32,
}

/// What the mutex guards.
#[derive(Debug)]
struct Machine {
    state: CircuitState,
    generation: u64,
    opened_at: Option<Instant>,
    /// Probes granted in this half-open generation that have not reported.
    probes_in_flight: u32,
    /// Probes of this half-open generation that succeeded.
    probe_successes: u32,
    last_failure: Option<SystemTime>,
}

/// A circuit breaker shared by every thread using one wrapped store.
pub struct CircuitBreaker {
    cfg: BreakerConfig,
    machine: Mutex<Machine>,
    /// `generation << 2 | state`, readable without the lock.
    word: AtomicU64,
    /// Mirror of the consecutive failure count, written under the lock.
    consecutive: AtomicU32,
    successes: AtomicU64,
    failures: AtomicU64,
    neutral: AtomicU64,
    rejected: AtomicU64,
    retries: AtomicU64,
    times_opened: AtomicU64,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("state", &self.state())
            .field(
                "consecutive_failures",
                &self.consecutive.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

/// Leave to make one attempt. Report its outcome with [`Permit::finish`];
/// a permit dropped without a report (the attempt panicked) counts as
/// neutral, so a half-open probe slot is never lost.
#[must_use = "report the attempt's outcome with finish()"]
pub(crate) struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    probe: bool,
    done: bool,
}

impl Permit<'_> {
    /// Reports how the attempt ended: `None` for a success.
    #[inline]
    pub(crate) fn finish(mut self, failure: Option<Class>) {
        self.done = true;
        self.breaker
            .record(self.generation, self.probe, failure, None);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker
                .record(self.generation, self.probe, Some(Class::Neutral), None);
        }
    }
}

fn pack(generation: u64, state: CircuitState) -> u64 {
    generation << 2 | state as u64
}

impl CircuitBreaker {
    pub(crate) fn new(cfg: BreakerConfig) -> Self {
        CircuitBreaker {
            cfg,
            machine: Mutex::new(Machine {
                state: CircuitState::Closed,
                generation: 0,
                opened_at: None,
                probes_in_flight: 0,
                probe_successes: 0,
                last_failure: None,
            }),
            word: AtomicU64::new(pack(0, CircuitState::Closed)),
            consecutive: AtomicU32::new(0),
            successes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            neutral: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            times_opened: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Machine> {
        // The machine is consistent after every statement that changes it,
        // so a panic elsewhere while holding the lock leaves nothing torn.
        self.machine.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves to `state` in a new generation (under the lock).
    fn set_state(&self, m: &mut Machine, state: CircuitState, now: Instant) {
        m.generation += 1;
        m.state = state;
        m.probes_in_flight = 0;
        m.probe_successes = 0;
        match state {
            CircuitState::Open => {
                m.opened_at = Some(now);
                self.times_opened.fetch_add(1, Ordering::Relaxed);
            }
            CircuitState::Closed => {
                m.opened_at = None;
                self.consecutive.store(0, Ordering::Relaxed);
            }
            CircuitState::HalfOpen => {}
        }
        self.word
            .store(pack(m.generation, state), Ordering::Release);
    }

    /// An open circuit whose timeout has passed becomes half-open.
    fn refresh(&self, m: &mut Machine, now: Instant) {
        if m.state == CircuitState::Open
            && m.opened_at
                .is_some_and(|at| now.saturating_duration_since(at) >= self.cfg.open_timeout)
        {
            self.set_state(m, CircuitState::HalfOpen, now);
        }
    }

    /// Leave for one attempt, or `None` when the circuit refuses it. `now`
    /// is only asked for when the circuit is not closed (reading the clock
    /// is a noticeable part of a fast call).
    #[inline]
    pub(crate) fn try_acquire(&self, now: Option<Instant>) -> Option<Permit<'_>> {
        let word = self.word.load(Ordering::Acquire);
        if CircuitState::from_code(word) == CircuitState::Closed {
            return Some(Permit {
                breaker: self,
                generation: word >> 2,
                probe: false,
                done: false,
            });
        }
        self.try_acquire_slow(now)
    }

    #[cold]
    fn try_acquire_slow(&self, now: Option<Instant>) -> Option<Permit<'_>> {
        let mut m = self.lock();
        self.refresh(&mut m, now.unwrap_or_else(Instant::now));
        let probe = match m.state {
            CircuitState::Closed => false,
            CircuitState::Open => return None,
            CircuitState::HalfOpen => {
                if m.probes_in_flight + m.probe_successes >= self.cfg.half_open_max_requests {
                    return None;
                }
                m.probes_in_flight += 1;
                true
            }
        };
        Some(Permit {
            breaker: self,
            generation: m.generation,
            probe,
            done: false,
        })
    }

    /// Counts a call refused because the circuit is open.
    pub(crate) fn note_rejected(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an attempt made as a retry.
    pub(crate) fn note_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an attempt's outcome and moves the state machine. `now` is
    /// the clock when known (tests); otherwise it is read if needed.
    #[inline]
    fn record(&self, generation: u64, probe: bool, failure: Option<Class>, now: Option<Instant>) {
        if let None | Some(Class::Answered) = failure {
            self.successes.fetch_add(1, Ordering::Relaxed);
            // The fast path: closed, nothing to reset.
            if !probe && self.consecutive.load(Ordering::Relaxed) == 0 {
                return;
            }
        }
        self.record_slow(generation, probe, failure, now)
    }

    #[cold]
    fn record_slow(
        &self,
        generation: u64,
        probe: bool,
        failure: Option<Class>,
        now: Option<Instant>,
    ) {
        match failure {
            None | Some(Class::Answered) => {
                let mut m = self.lock();
                if m.generation != generation {
                    return;
                }
                match m.state {
                    CircuitState::Closed => self.consecutive.store(0, Ordering::Relaxed),
                    CircuitState::HalfOpen if probe => {
                        m.probes_in_flight -= 1;
                        m.probe_successes += 1;
                        if m.probe_successes >= self.cfg.half_open_max_requests {
                            self.set_state(
                                &mut m,
                                CircuitState::Closed,
                                now.unwrap_or_else(Instant::now),
                            );
                            log::info!(
                                "circuit closed after {} successful probes",
                                self.cfg.half_open_max_requests
                            );
                        }
                    }
                    _ => {}
                }
            }
            Some(Class::Neutral) => {
                self.neutral.fetch_add(1, Ordering::Relaxed);
                if probe {
                    let mut m = self.lock();
                    if m.generation == generation && m.state == CircuitState::HalfOpen {
                        m.probes_in_flight -= 1;
                    }
                }
            }
            Some(Class::Transient) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let mut m = self.lock();
                m.last_failure = Some(SystemTime::now());
                if m.generation != generation {
                    return;
                }
                match m.state {
                    CircuitState::Closed => {
                        let n = self.consecutive.load(Ordering::Relaxed).saturating_add(1);
                        self.consecutive.store(n, Ordering::Relaxed);
                        if n >= self.cfg.max_failures {
                            self.set_state(
                                &mut m,
                                CircuitState::Open,
                                now.unwrap_or_else(Instant::now),
                            );
                            log::warn!(
                                "circuit opened after {n} consecutive failures; calls fail fast for {:?}",
                                self.cfg.open_timeout
                            );
                        }
                    }
                    CircuitState::HalfOpen => {
                        let n = self.consecutive.load(Ordering::Relaxed).saturating_add(1);
                        self.consecutive.store(n, Ordering::Relaxed);
                        self.set_state(
                            &mut m,
                            CircuitState::Open,
                            now.unwrap_or_else(Instant::now),
                        );
                        log::warn!(
                            "a half-open probe failed; circuit open again for {:?}",
                            self.cfg.open_timeout
                        );
                    }
                    CircuitState::Open => {}
                }
            }
        }
    }

    /// The state now (an open circuit whose timeout has passed reads as,
    /// and becomes, half-open).
    pub fn state(&self) -> CircuitState {
        self.state_at(Instant::now())
    }

    pub(crate) fn state_at(&self, now: Instant) -> CircuitState {
        let word = self.word.load(Ordering::Acquire);
        if CircuitState::from_code(word) == CircuitState::Closed {
            return CircuitState::Closed;
        }
        let mut m = self.lock();
        self.refresh(&mut m, now);
        m.state
    }

    /// Whether calls are being refused right now.
    pub fn is_open(&self) -> bool {
        self.state() == CircuitState::Open
    }

    /// A snapshot of the state and counters.
    pub fn stats(&self) -> CircuitStats {
        let mut m = self.lock();
        self.refresh(&mut m, Instant::now());
        CircuitStats {
            state: m.state,
            consecutive_failures: self.consecutive.load(Ordering::Relaxed),
            successes: self.successes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            neutral: self.neutral.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            times_opened: self.times_opened.load(Ordering::Relaxed),
            last_failure: m.last_failure,
        }
    }

    /// Closes the circuit and forgets the consecutive failures (the totals
    /// stay). Attempts in flight report into the old generation and change
    /// nothing.
    pub fn reset(&self) {
        let mut m = self.lock();
        self.set_state(&mut m, CircuitState::Closed, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            max_failures: 5,
            open_timeout: 100 * MS,
            half_open_max_requests: 3,
        })
    }

    fn attempt(b: &CircuitBreaker, now: Instant, failure: Option<Class>) -> bool {
        match b.try_acquire(Some(now)) {
            Some(p) => {
                b.record(p.generation, p.probe, failure, Some(now));
                std::mem::forget(p);
                true
            }
            None => false,
        }
    }

    #[test]
    fn five_consecutive_failures_open_it_and_a_success_in_between_resets_the_count() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..4 {
            assert!(attempt(&b, t, Some(Class::Transient)));
        }
        assert!(attempt(&b, t, None));
        assert_eq!(b.stats().consecutive_failures, 0);
        for _ in 0..4 {
            assert!(attempt(&b, t, Some(Class::Transient)));
        }
        assert_eq!(b.state_at(t), CircuitState::Closed);
        assert!(attempt(&b, t, Some(Class::Transient)));
        assert_eq!(b.state_at(t), CircuitState::Open);
        assert!(
            !attempt(&b, t + 99 * MS, None),
            "open refuses before the timeout"
        );
        let s = b.stats();
        assert_eq!((s.failures, s.successes, s.times_opened), (9, 1, 1));
    }

    #[test]
    fn answers_and_neutral_outcomes_never_open_it() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..1000 {
            assert!(attempt(&b, t, Some(Class::Answered)));
            assert!(attempt(&b, t, Some(Class::Neutral)));
        }
        for _ in 0..4 {
            assert!(attempt(&b, t, Some(Class::Transient)));
        }
        // A NotFound is a healthy answer: it resets the count.
        assert!(attempt(&b, t, Some(Class::Answered)));
        assert!(attempt(&b, t, Some(Class::Transient)));
        let s = b.stats();
        assert_eq!(s.state, CircuitState::Closed);
        assert_eq!(s.consecutive_failures, 1);
        assert_eq!((s.successes, s.neutral, s.failures), (1001, 1000, 5));
    }

    #[test]
    fn half_open_lets_three_probes_through_and_three_successes_close_it() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..5 {
            attempt(&b, t, Some(Class::Transient));
        }
        let later = t + 100 * MS;
        assert_eq!(b.state_at(later), CircuitState::HalfOpen);
        let probes: Vec<Permit> = (0..3)
            .map(|_| b.try_acquire(Some(later)).expect("probe"))
            .collect();
        assert!(
            b.try_acquire(Some(later)).is_none(),
            "a fourth concurrent probe is refused"
        );
        for (i, p) in probes.into_iter().enumerate() {
            assert_eq!(
                b.state_at(later),
                CircuitState::HalfOpen,
                "after {i} successes"
            );
            b.record(p.generation, p.probe, None, Some(later));
            std::mem::forget(p);
        }
        assert_eq!(b.state_at(later), CircuitState::Closed);
        assert_eq!(b.stats().consecutive_failures, 0);
    }

    #[test]
    fn a_failed_probe_reopens_it_for_a_full_timeout() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..5 {
            attempt(&b, t, Some(Class::Transient));
        }
        let t1 = t + 150 * MS;
        assert!(attempt(&b, t1, None));
        assert!(attempt(&b, t1, Some(Class::Transient)));
        assert_eq!(b.state_at(t1), CircuitState::Open);
        assert!(!attempt(&b, t1 + 99 * MS, None));
        assert_eq!(b.state_at(t1 + 100 * MS), CircuitState::HalfOpen);
        assert_eq!(b.stats().times_opened, 2);
    }

    #[test]
    fn a_neutral_probe_frees_its_slot_without_counting_as_a_success() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..5 {
            attempt(&b, t, Some(Class::Transient));
        }
        let later = t + 100 * MS;
        for _ in 0..10 {
            assert!(attempt(&b, later, Some(Class::Neutral)));
        }
        assert_eq!(b.state_at(later), CircuitState::HalfOpen);
        // A dropped permit (the attempt panicked) frees its slot too.
        for _ in 0..5 {
            drop(b.try_acquire(Some(later)).expect("probe"));
        }
        for _ in 0..3 {
            assert!(attempt(&b, later, None));
        }
        assert_eq!(b.state_at(later), CircuitState::Closed);
    }

    #[test]
    fn late_outcomes_of_an_older_generation_do_not_move_the_state() {
        let b = breaker();
        let t = Instant::now();
        let slow = b.try_acquire(Some(t)).expect("closed");
        for _ in 0..5 {
            attempt(&b, t, Some(Class::Transient));
        }
        // Opened at t; the slow call fails long after: the circuit must
        // still half-open at t + timeout, not later.
        b.record(
            slow.generation,
            slow.probe,
            Some(Class::Transient),
            Some(t + 90 * MS),
        );
        std::mem::forget(slow);
        assert_eq!(b.state_at(t + 100 * MS), CircuitState::HalfOpen);
        let s = b.stats();
        assert_eq!((s.failures, s.times_opened), (6, 1));
    }

    #[test]
    fn reset_closes_it_and_clears_the_consecutive_count() {
        let b = breaker();
        let t = Instant::now();
        for _ in 0..5 {
            attempt(&b, t, Some(Class::Transient));
        }
        assert!(b.is_open());
        b.reset();
        assert_eq!(b.state(), CircuitState::Closed);
        let s = b.stats();
        assert_eq!((s.consecutive_failures, s.failures), (0, 5));
        assert!(s.last_failure.is_some());
        assert!(
            s.to_json().contains("\"state\":\"closed\""),
            "{}",
            s.to_json()
        );
    }

    #[test]
    fn concurrent_outcomes_add_up() {
        let b = breaker();
        std::thread::scope(|s| {
            for i in 0..8 {
                let b = &b;
                s.spawn(move || {
                    for j in 0..2_000 {
                        if let Some(p) = b.try_acquire(None) {
                            let outcome = match (i + j) % 4 {
                                0 => Some(Class::Transient),
                                1 => Some(Class::Neutral),
                                _ => None,
                            };
                            p.finish(outcome);
                        } else {
                            b.note_rejected();
                        }
                    }
                });
            }
        });
        let s = b.stats();
        assert_eq!(
            s.successes + s.failures + s.neutral + s.rejected,
            16_000,
            "{s:?}"
        );
    }
}
