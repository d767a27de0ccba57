//! What one child is asked to do: the row, the client, the server and the
//! sizes, as one JSON object in the `BENCH_SPEC` environment variable (not on
//! the command line, so the test keys do not show in `ps`). peers.py reads
//! the same object.

use serde_json::{json, Value};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// The environment variable a child finds its [`Spec`] in.
pub const SPEC_VAR: &str = "BENCH_SPEC";

/// Sizes of every row, scaled by `BLOBIO_BENCH_SCALE` (default 1: the sizes
/// issue 6 names).
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// The large object (1 GiB).
    pub big: u64,
    /// Bytes read by `read_to_at`, from `big - read_at` to the end (256 MiB).
    pub read_at: u64,
    /// Small objects, and keys listed and deleted (10,000).
    pub count: usize,
    /// Size of one small object (4 KiB, not scaled).
    pub small: usize,
    /// Threads (or requests in flight) of the small-object rows (8).
    pub threads: usize,
}

impl Sizes {
    pub fn scaled(scale: f64) -> Sizes {
        assert!(scale > 0.0 && scale <= 1.0, "BLOBIO_BENCH_SCALE must be in (0, 1]");
        // Whole MiB, at least 64 MiB, so multipart uploads still have parts.
        let big = ((GIB as f64 * scale / MIB as f64).round() as u64).max(64) * MIB;
        Sizes {
            big,
            read_at: big / 4,
            count: ((10_000.0 * scale).round() as usize).max(100),
            small: 4096,
            threads: 8,
        }
    }

    pub fn read_at_offset(&self) -> u64 {
        self.big - self.read_at
    }

    pub fn to_json(self) -> Value {
        json!({
            "big": self.big, "read_at": self.read_at, "count": self.count,
            "small": self.small, "threads": self.threads,
        })
    }
}

/// Where a row's objects live. Every client uses the same names.
pub mod keys {
    /// The large object every GET row reads (written once, unmeasured).
    pub const FIXTURE: &str = "big/fixture";
    /// The small objects the small GET and LIST rows read.
    pub const FIX_PREFIX: &str = "fix/";

    /// Where `client` writes its large object.
    pub fn put(client: &str) -> String {
        format!("put/{client}")
    }

    /// Where `client` writes its small objects (and later deletes them).
    pub fn small_prefix(client: &str) -> String {
        format!("sm/{client}/")
    }

    /// The i-th small object under `prefix`.
    pub fn small(prefix: &str, i: usize) -> String {
        format!("{prefix}{i:05}")
    }
}

/// One child's task, as parsed from [`SPEC_VAR`].
pub struct Spec(pub Value);

impl Spec {
    pub fn from_env() -> Spec {
        let text = std::env::var(SPEC_VAR).unwrap_or_else(|_| panic!("{SPEC_VAR} is not set"));
        Spec(serde_json::from_str(&text).expect("BENCH_SPEC is not JSON"))
    }

    pub fn str(&self, name: &str) -> &str {
        self.0[name]
            .as_str()
            .unwrap_or_else(|| panic!("spec field {name} missing"))
    }

    pub fn u64(&self, name: &str) -> u64 {
        self.0[name]
            .as_u64()
            .unwrap_or_else(|| panic!("spec field {name} missing"))
    }

    pub fn usize(&self, name: &str) -> usize {
        self.u64(name) as usize
    }

    pub fn row(&self) -> &str {
        self.str("row")
    }

    pub fn server(&self) -> &str {
        self.str("server")
    }

    pub fn client(&self) -> &str {
        self.str("client")
    }

    pub fn sizes(&self) -> Sizes {
        Sizes {
            big: self.u64("big"),
            read_at: self.u64("read_at"),
            count: self.usize("count"),
            small: self.usize("small"),
            threads: self.usize("threads"),
        }
    }

    /// Names of this client's small objects.
    pub fn own_small_keys(&self) -> Vec<String> {
        let prefix = keys::small_prefix(self.client());
        (0..self.usize("count")).map(|i| keys::small(&prefix, i)).collect()
    }

    /// Names of the shared small objects.
    pub fn fixture_small_keys(&self) -> Vec<String> {
        (0..self.usize("count")).map(|i| keys::small(keys::FIX_PREFIX, i)).collect()
    }
}

/// What a child prints on its last line: the wall time of the operation
/// alone (start-up excluded) and how much it moved, checked by the parent.
pub fn report(wall: f64, bytes: u64, ops: u64) {
    println!("{}", json!({ "wall": wall, "bytes": bytes, "ops": ops }));
}
