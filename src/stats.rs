//! Counters every store keeps: calls by operation (with their errors and
//! latency percentiles), requests by HTTP method and answer class, bytes
//! sent and received, retries, and errors by kind. Lock-free: each count is
//! an atomic add, each latency one add into a logarithmic histogram, so the
//! cost beside a call is a few nanoseconds.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{ErrorKind, Result};

/// Whether stores count (see [`set_stats_enabled`]).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the counters of every store in the process on (the default) or
/// off. Off, a call costs no clock reading and no atomic add; the counts
/// keep the values they had. For programs that never read the counters,
/// and for measuring what counting costs (`benches/stats_overhead.rs`).
pub fn set_stats_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether stores count (see [`set_stats_enabled`]).
pub fn stats_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The calls counted, by the `Backend` method's name.
const OPS: [&str; 20] = [
    "write", "write_reader", "put", "read", "read_to", "read_range", "read_ranges", "stat", "head",
    "exists", "delete", "delete_batch", "list", "list_objects", "list_directories", "copy", "rename",
    "append", "remove_directory", "presign",
];

/// HTTP methods counted (anything else counts as `other`).
const METHODS: [&str; 6] = ["GET", "PUT", "HEAD", "DELETE", "POST", "other"];

/// Answer classes: 2xx, 3xx, 4xx, 5xx, and no answer (network).
const CLASSES: [&str; 5] = ["2xx", "3xx", "4xx", "5xx", "network"];

/// Error kinds counted.
const KINDS: [ErrorKind; 16] = [
    ErrorKind::InvalidArgument,
    ErrorKind::InvalidPath,
    ErrorKind::NotFound,
    ErrorKind::AlreadyExists,
    ErrorKind::PermissionDenied,
    ErrorKind::Unsupported,
    ErrorKind::ResumeNotSupported,
    ErrorKind::CircuitOpen,
    ErrorKind::Timeout,
    ErrorKind::Network,
    ErrorKind::Server,
    ErrorKind::Io,
    ErrorKind::Cancelled,
    ErrorKind::PreconditionFailed,
    ErrorKind::ChecksumMismatch,
    ErrorKind::Other,
];

/// Latency buckets: bucket `i` holds durations below 2^(i/4) µs (four per
/// doubling, so a percentile is within 19% of the truth), up to ~18 min.
const BUCKETS: usize = 128;

#[derive(Default)]
struct Op {
    calls: AtomicU64,
    errors: AtomicU64,
    latency: Histogram,
}

struct Histogram([AtomicU64; BUCKETS]);

impl Default for Histogram {
    fn default() -> Self {
        Histogram(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

/// The bucket of `us` (at least 1): ceil(4 log2 us), from the bits of the
/// number as a float (its exponent, and its mantissa against the quarter
/// octaves 2^(1/4), 2^(1/2), 2^(3/4)) rather than a call of `log2`, which
/// cost a fifth of the counting.
fn bucket(us: u64) -> usize {
    const QUARTERS: [u64; 3] = [
        // (2^(j/4) - 1) * 2^52, for j = 1, 2, 3.
        0x0003_06FE_0A31_B715,
        0x0006_A09E_667F_3BCD,
        0x000A_E89F_995A_D3AD,
    ];
    let bits = (us as f64).to_bits();
    let octave = ((bits >> 52) & 0x7FF) as usize - 1023;
    let mantissa = bits & ((1 << 52) - 1);
    let quarter = if mantissa == 0 {
        0
    } else {
        1 + QUARTERS.iter().filter(|q| mantissa > **q).count()
    };
    (4 * octave + quarter).min(BUCKETS - 1)
}

impl Histogram {
    fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.0[bucket(us)].fetch_add(1, Ordering::Relaxed);
    }

    /// The upper bound of the bucket holding quantile `q`, in µs.
    fn quantile(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self.0.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(2f64.powf(i as f64 / 4.0).round() as u64);
            }
        }
        None
    }

    fn reset(&self) {
        self.0.iter().for_each(|c| c.store(0, Ordering::Relaxed));
    }
}

/// A store's counters.
pub(crate) struct Stats {
    ops: [Op; OPS.len()],
    requests: [[AtomicU64; CLASSES.len()]; METHODS.len()],
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    retries: AtomicU64,
    errors: [AtomicU64; KINDS.len()],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            ops: std::array::from_fn(|_| Op::default()),
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            bytes_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stats { .. }")
    }
}

impl Stats {
    /// Runs the call `op` (one of [`OPS`]) and counts it, its latency and
    /// its error, if any.
    #[inline]
    pub(crate) fn call<T>(&self, op: &'static str, body: impl FnOnce() -> Result<T>) -> Result<T> {
        // Every store's every call is also where cancellation and
        // progress begin (what crate::cancel::call does, in line here:
        // one wrapper around each store method, not two).
        let start = stats_enabled().then(Instant::now);
        let out = match crate::cancel::CallScope::enter() {
            Ok(scope) => {
                let out = body();
                match scope.leave(out.as_ref().err()) {
                    Some(cancelled) => Err(cancelled),
                    None => out,
                }
            }
            Err(cancelled) => Err(cancelled),
        };
        if let Some(start) = start {
            self.record(op, start, out.as_ref().err().map(|e| e.kind()));
        }
        out
    }

    /// The counting of [`Stats::call`], once in the binary however many
    /// calls it wraps.
    #[inline(never)]
    fn record(&self, op: &'static str, start: Instant, error: Option<ErrorKind>) {
        let Some(o) = OPS.iter().position(|n| *n == op).map(|i| &self.ops[i]) else { return };
        o.calls.fetch_add(1, Ordering::Relaxed);
        o.latency.record(start.elapsed());
        if let Some(kind) = error {
            o.errors.fetch_add(1, Ordering::Relaxed);
            let k = KINDS.iter().position(|k| *k == kind).unwrap_or(KINDS.len() - 1);
            self.errors[k].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One request sent: its method, its answer's status (`None`: no
    /// answer), the body bytes sent, and those the answer announced.
    pub(crate) fn request(&self, method: &str, status: Option<u16>, sent: u64, received: u64) {
        if !stats_enabled() {
            return;
        }
        let m = METHODS.iter().position(|n| *n == method).unwrap_or(METHODS.len() - 1);
        let c = match status {
            Some(s @ 200..=599) => usize::from(s / 100 - 2),
            Some(_) | None => CLASSES.len() - 1,
        };
        self.requests[m][c].fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(sent, Ordering::Relaxed);
        self.bytes_received.fetch_add(received, Ordering::Relaxed);
    }

    /// A request sent again.
    pub(crate) fn retry(&self) {
        if !stats_enabled() {
            return;
        }
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Every counter back to 0.
    pub(crate) fn reset(&self) {
        for o in &self.ops {
            o.calls.store(0, Ordering::Relaxed);
            o.errors.store(0, Ordering::Relaxed);
            o.latency.reset();
        }
        self.requests.iter().flatten().for_each(|c| c.store(0, Ordering::Relaxed));
        self.errors.iter().for_each(|c| c.store(0, Ordering::Relaxed));
        for c in [&self.bytes_sent, &self.bytes_received, &self.retries] {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The counters as JSON: `{"calls":{"read":{"count":..,"errors":..,
    /// "p50_us":..,"p90_us":..,"p99_us":..},..},"requests":{"GET":{"2xx":..},..},
    /// "requests_total":..,"bytes_sent":..,"bytes_received":..,"retries":..,
    /// "errors":{"not_found":..}}`; operations, methods, classes and kinds
    /// that never happened are left out.
    pub(crate) fn to_json(&self) -> String {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut s = String::from("{\"calls\":{");
        let mut first = true;
        for (name, o) in OPS.iter().zip(&self.ops) {
            let n = load(&o.calls);
            if n == 0 {
                continue;
            }
            let q = |p| o.latency.quantile(p).unwrap_or(0);
            let _ = write!(
                s,
                "{}\"{name}\":{{\"count\":{n},\"errors\":{},\"p50_us\":{},\"p90_us\":{},\"p99_us\":{}}}",
                if first { "" } else { "," },
                load(&o.errors),
                q(0.5),
                q(0.9),
                q(0.99)
            );
            first = false;
        }
        s.push_str("},\"requests\":{");
        let mut total = 0;
        let mut first = true;
        for (method, row) in METHODS.iter().zip(&self.requests) {
            let counts: Vec<u64> = row.iter().map(load).collect();
            if counts.iter().all(|&c| c == 0) {
                continue;
            }
            let _ = write!(s, "{}\"{method}\":{{", if first { "" } else { "," });
            first = false;
            let mut inner = true;
            for (class, c) in CLASSES.iter().zip(counts) {
                if c > 0 {
                    total += c;
                    let _ = write!(s, "{}\"{class}\":{c}", if inner { "" } else { "," });
                    inner = false;
                }
            }
            s.push('}');
        }
        let _ = write!(
            s,
            "}},\"requests_total\":{total},\"bytes_sent\":{},\"bytes_received\":{},\"retries\":{},\"errors\":{{",
            load(&self.bytes_sent),
            load(&self.bytes_received),
            load(&self.retries)
        );
        let mut first = true;
        for (kind, c) in KINDS.iter().zip(&self.errors) {
            let c = load(c);
            if c > 0 {
                let _ = write!(s, "{}\"{}\":{c}", if first { "" } else { "," }, kind_name(*kind));
                first = false;
            }
        }
        s.push_str("}}");
        s
    }
}

/// The snake_case name of an error kind, as `blobio_status_str` spells it.
fn kind_name(k: ErrorKind) -> String {
    let debug = format!("{k:?}");
    let mut out = String::with_capacity(debug.len() + 4);
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ceil_of_four_log2() {
        for us in (1..5000u64).chain([65_536, 1 << 40, u64::MAX]) {
            let want = (((us as f64).log2() * 4.0).ceil() as usize).min(BUCKETS - 1);
            assert_eq!(bucket(us), want, "{us} us");
        }
    }
    use crate::Error;

    #[test]
    fn counts_latencies_and_json() {
        let s = Stats::default();
        for i in 0..100u64 {
            let _ = s.call("read", || {
                std::thread::sleep(Duration::from_micros(if i < 90 { 10 } else { 5000 }));
                if i == 0 {
                    Err::<(), _>(Error::NotFound { path: "x".into(), remote: None })
                } else {
                    Ok(())
                }
            });
        }
        s.request("GET", Some(200), 0, 10);
        s.request("GET", Some(404), 0, 0);
        s.request("PUT", None, 5, 0);
        s.retry();
        let j: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(j["calls"]["read"]["count"], 100);
        assert_eq!(j["calls"]["read"]["errors"], 1);
        let (p50, p99) = (j["calls"]["read"]["p50_us"].as_u64().unwrap(), j["calls"]["read"]["p99_us"].as_u64().unwrap());
        assert!(p50 < 2000 && p99 >= 4000, "{p50} {p99}");
        assert_eq!(j["requests"]["GET"]["2xx"], 1);
        assert_eq!(j["requests"]["GET"]["4xx"], 1);
        assert_eq!(j["requests"]["PUT"]["network"], 1);
        assert_eq!(j["requests_total"], 3);
        assert_eq!((j["bytes_sent"].as_u64(), j["bytes_received"].as_u64(), j["retries"].as_u64()), (Some(5), Some(10), Some(1)));
        assert_eq!(j["errors"]["not_found"], 1);
        s.reset();
        let j: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(j["requests_total"], 0);
        assert!(j["calls"].as_object().unwrap().is_empty());
    }
}
