//! Access to the real test servers that `scripts/test` starts.
//!
//! Server tests are compiled only with the `server-tests` feature. When the
//! feature is on and a server's variables are missing, the test fails with a
//! message saying how to start the servers: it never skips silently.
#![allow(dead_code)]

pub mod azure;
pub mod hostile;
pub mod proxy;

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blobio::{S3Backend, S3Config};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

/// User + system CPU seconds of this process so far (getrusage): what the
/// benchmarks count as a client's CPU.
#[allow(unsafe_code)]
pub fn process_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// The variable telling a child process of a test binary which test body
/// to run (see [`run_child`]).
const CHILD_ENV: &str = "BLOBIO_TEST_CHILD";

/// Whether this process is the child [`run_child`] started for test `name`.
pub fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}

/// Runs the test `name` again in a child process of this test binary,
/// with `remove` taken from its environment and `set` added (later pairs
/// win); the test's body sees [`is_child`]. Fails unless the child passed.
/// Tests run in parallel threads: environment variables are set here, in
/// the child, never in this process.
pub fn run_child(name: &str, remove: &[&str], set: &[(&str, String)]) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"]).env(CHILD_ENV, name);
    for var in remove {
        cmd.env_remove(var);
    }
    for (k, v) in set {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} in a child process: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A required environment variable set by `scripts/test`.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: server tests need the servers that scripts/test starts \
             (run `scripts/test`, or `scripts/test --servers-only` and export what it prints)"
        )
    })
}

/// A name unique to this process and call, usable as a bucket or prefix.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{tag}-{}-{}-{nanos:x}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
    .to_ascii_lowercase()
}

/// Which S3 server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Server {
    /// s3s-fs: checks SigV4 signatures.
    S3sFs,
    /// moto: wide S3 semantics, no signature checks.
    Moto,
}

impl S3Server {
    /// The server's endpoint URL.
    pub fn endpoint(self) -> String {
        match self {
            S3Server::S3sFs => env("BLOBIO_TEST_S3S_ENDPOINT"),
            S3Server::Moto => env("BLOBIO_TEST_MOTO_ENDPOINT"),
        }
    }

    /// (access key, secret key).
    pub fn keys(self) -> (String, String) {
        match self {
            S3Server::S3sFs => (
                env("BLOBIO_TEST_S3S_ACCESS_KEY"),
                env("BLOBIO_TEST_S3S_SECRET_KEY"),
            ),
            S3Server::Moto => ("moto-access".into(), "moto-secret".into()),
        }
    }

    /// A configuration for `bucket` on this server.
    pub fn config(self, bucket: &str) -> S3Config {
        let (ak, sk) = self.keys();
        let mut cfg = S3Config::new(bucket);
        cfg.endpoint = Some(self.endpoint());
        cfg.region = Some("us-east-1".into());
        cfg.path_style = true;
        cfg.access_key = Some(ak);
        cfg.secret_key = Some(sk);
        cfg
    }

    /// Creates a fresh bucket and returns its name.
    pub fn new_bucket(self, tag: &str) -> String {
        let name = unique(tag);
        let (ak, sk) = self.keys();
        let bucket = Bucket::new(
            self.endpoint().parse().unwrap(),
            UrlStyle::Path,
            name.clone(),
            "us-east-1",
        )
        .unwrap();
        let creds = Credentials::new(ak, sk);
        let url = bucket.create_bucket(&creds).sign(Duration::from_secs(60));
        let resp = ureq::put(url.as_str())
            .config()
            .http_status_as_error(false)
            .build()
            .send_empty()
            .expect("create bucket");
        assert!(
            resp.status().is_success(),
            "create bucket {name}: HTTP {}",
            resp.status()
        );
        name
    }

    /// A store on a fresh bucket.
    /// How many multipart uploads are still open in `bucket` (boto3;
    /// moto only: s3s-fs does not implement ListMultipartUploads).
    pub fn open_uploads(self, bucket: &str) -> usize {
        let (ak, sk) = self.keys();
        python(
            r#"
import boto3, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[3],
                  aws_secret_access_key=sys.argv[4], region_name="us-east-1")
print(len(s3.list_multipart_uploads(Bucket=sys.argv[2]).get("Uploads", [])))
"#,
            &[&self.endpoint(), bucket, &ak, &sk],
        )
        .trim()
        .parse()
        .unwrap()
    }

    pub fn new_store(self, tag: &str) -> S3Backend {
        S3Backend::new(self.config(&self.new_bucket(tag))).expect("S3 store")
    }
}

/// Runs a Python snippet with the test venv's interpreter (boto3, the Azure
/// SDK); returns its stdout, failing the test on a non-zero exit.
pub fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new(env("BLOBIO_TEST_PYTHON"))
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Deterministic pseudo-random bytes (xorshift), different per seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A reader of pseudo-random bytes that never holds the whole stream, with
/// an optional failure after `fail_after` bytes. It hashes what it gives.
pub struct StreamSource {
    remaining: u64,
    given: u64,
    fail_after: Option<u64>,
    seed: u64,
    hasher: sha2::Sha256,
}

impl StreamSource {
    /// `len` bytes, failing after `fail_after` when set.
    pub fn new(len: u64, seed: u64, fail_after: Option<u64>) -> Self {
        use sha2::Digest;
        StreamSource {
            remaining: len,
            given: 0,
            fail_after,
            seed,
            hasher: sha2::Sha256::new(),
        }
    }

    /// Hex SHA-256 of everything given so far.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        self.hasher
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl std::io::Read for StreamSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        if let Some(limit) = self.fail_after {
            if self.given >= limit {
                return Err(std::io::Error::other("source failed on purpose"));
            }
        }
        let mut n = buf.len().min(self.remaining as usize).min(64 * 1024);
        if let Some(limit) = self.fail_after {
            n = n.min((limit - self.given) as usize);
        }
        if n == 0 {
            return Ok(0);
        }
        // Each 8-byte word depends on its offset, so the stream is the same
        // however it is chunked.
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let pos = self.given + i as u64;
            let word = (pos / 8).wrapping_add(self.seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            *b = (word >> ((pos % 8) * 8)) as u8;
        }
        self.hasher.update(&buf[..n]);
        self.given += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Hex SHA-256 of a whole object streamed through `read_to`.
pub fn digest_via_read_to(store: &dyn blobio::Backend, path: &str) -> (u64, String) {
    struct HashWriter(sha2::Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            use sha2::Digest;
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    use sha2::Digest;
    let mut w = HashWriter(sha2::Sha256::new());
    let n = store.read_to(path, &mut w).expect("read_to");
    (n, w.0.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
