//! The parent: sets each server up, runs every (row, client) as a child,
//! checks what it did, cleans up, and hands the samples to the report.
//!
//! Environment (scripts/bench-peers sets all but the optional ones):
//! - BLOBIO_TEST_MOTO_ENDPOINT, BLOBIO_TEST_AZURITE_ENDPOINT / _ACCOUNT / _KEY,
//!   BLOBIO_TEST_PYTHON: the servers and the venv of scripts/servers.sh;
//! - BLOBIO_BENCH_DIR: a scratch folder (the local rows' store lives there);
//! - BLOBIO_BENCH_OUT: where bench-peers.json and bench-peers.md go;
//! - BLOBIO_BENCH_SCALE (optional, default 1): sizes times this, in (0, 1];
//! - BLOBIO_BENCH_SERVERS, BLOBIO_BENCH_ROWS (optional): comma-separated
//!   subsets, e.g. `moto,local` and `get_single,list`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::data::{on_threads, OrDie, Pattern};
use crate::measure;
use crate::report::{self, Sample};
use crate::spec::{keys, Sizes, Spec, SPEC_VAR};

/// Rows that only read: measured [`READ_RUNS`] times, the median kept.
const READ_ROWS: [&str; 4] = ["get_single", "get_parallel", "get_memory", "read_at"];
const READ_RUNS: usize = 5;

/// Rows in the order they run; each row's objects are there when it runs.
pub const ROWS: &[&str] = &[
    "put_single", "put_parallel", "get_single", "get_parallel", "get_memory",
    "read_at", "small_put", "small_get", "list", "delete",
];

/// Clients of each server, the ratio baseline (object_store) first.
fn clients(server: &str) -> &'static [&'static str] {
    match server {
        "moto" => &["object_store", "blobio", "boto3", "curl"],
        "azurite" => &["object_store", "blobio", "azure-sdk", "curl"],
        _ => &["object_store", "blobio", "stdfs"],
    }
}

/// Rows a client cannot do on a server (shown as absent in the table).
fn supported(server: &str, client: &str, row: &str) -> bool {
    let parallel = row.ends_with("_parallel");
    match client {
        // A local file has no parallel transfer to compare.
        _ if server == "local" && parallel => false,
        // One HTTP stream a request: no multipart, no listing, no batches.
        "curl" => !matches!(row, "put_parallel" | "list" | "delete"),
        _ => true,
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/bench-peers"))
}

fn subset(name: &str, all: &[&'static str]) -> Vec<&'static str> {
    match std::env::var(name) {
        Ok(list) if !list.is_empty() => {
            let want: Vec<&str> = list.split(',').collect();
            for w in &want {
                assert!(all.contains(w), "{name}: unknown entry {w} (known: {all:?})");
            }
            all.iter().copied().filter(|a| want.contains(a)).collect()
        }
        _ => all.to_vec(),
    }
}

pub(crate) struct Server {
    pub name: &'static str,
    /// The JSON every spec of this server starts from.
    pub base: Value,
    /// The container SAS curl uses on Azurite.
    pub sas: Option<String>,
    /// Azurite's URL without the account, for object_store's emulator mode.
    emulator_url: Option<String>,
}

impl Server {
    fn spec(&self, client: &str, row: &str) -> Value {
        let mut v = self.base.clone();
        v["client"] = json!(client);
        v["row"] = json!(row);
        v
    }
}

pub(crate) struct Bench {
    pub sizes: Sizes,
    pub dir: PathBuf,
    python: String,
    peers_py: PathBuf,
    me: PathBuf,
    samples: Vec<Sample>,
    /// Rows a client failed: reported, then the run exits non-zero.
    failures: Vec<String>,
}

pub fn main() {
    let scale: f64 = std::env::var("BLOBIO_BENCH_SCALE")
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("BLOBIO_BENCH_SCALE is not a number"))
        .unwrap_or(1.0);
    let sizes = Sizes::scaled(scale);
    let dir = PathBuf::from(env("BLOBIO_BENCH_DIR"));
    let out = PathBuf::from(env("BLOBIO_BENCH_OUT"));
    let mut bench = Bench {
        sizes,
        python: env("BLOBIO_TEST_PYTHON"),
        peers_py: Path::new(env!("CARGO_MANIFEST_DIR")).join("peers.py"),
        me: std::env::current_exe().expect("own path"),
        dir,
        samples: Vec::new(),
        failures: Vec::new(),
    };
    eprintln!("[bench-peers] sizes: {sizes:?} (scale {scale})");
    let rows = subset("BLOBIO_BENCH_ROWS", ROWS);
    for name in subset("BLOBIO_BENCH_SERVERS", &["moto", "azurite", "local"]) {
        let server = bench.set_up(name);
        bench.run_server(&server, &rows);
    }
    report::write(&bench.samples, &bench.failures, sizes, scale, &out);
    if !bench.failures.is_empty() {
        eprintln!("[bench-peers] FAILED rows:\n  {}", bench.failures.join("\n  "));
        std::process::exit(1);
    }
}

impl Bench {
    fn set_up(&self, name: &'static str) -> Server {
        let bucket = format!("bench-{}", std::process::id());
        let mut base = self.sizes.to_json();
        base["server"] = json!(name);
        base["bucket"] = json!(bucket);
        let mut server = Server { name, base, sas: None, emulator_url: None };
        match name {
            "moto" => {
                server.base["endpoint"] = json!(env("BLOBIO_TEST_MOTO_ENDPOINT"));
                // moto checks no signature; these only have to be well formed.
                server.base["access_key"] = json!("bench-access-key");
                server.base["secret_key"] = json!("bench-secret-key");
                self.python_setup(&server);
            }
            "azurite" => {
                let endpoint = env("BLOBIO_TEST_AZURITE_ENDPOINT");
                let account = env("BLOBIO_TEST_AZURITE_ACCOUNT");
                let trimmed = endpoint.trim_end_matches('/');
                let root = trimmed
                    .strip_suffix(&format!("/{account}"))
                    .expect("the Azurite endpoint ends with its account");
                server.emulator_url = Some(root.to_owned());
                server.base["endpoint"] = json!(trimmed);
                server.base["account"] = json!(account);
                server.base["account_key"] = json!(env("BLOBIO_TEST_AZURITE_KEY"));
                server.sas = Some(self.python_setup(&server).trim().to_owned());
            }
            _ => {
                let root = self.dir.join("local-store");
                std::fs::create_dir_all(&root).expect("local store folder");
                server.base["root"] = json!(root.to_str().expect("UTF-8 path"));
            }
        }
        // The objects the GET, LIST rows read: written once, unmeasured.
        let store = self.store(&server);
        let big = self.sizes.big;
        store
            .write_reader(keys::FIXTURE, &mut Pattern::new(big), Some(big))
            .or_die("writing the large fixture");
        self.populate(&*store, keys::FIX_PREFIX);
        eprintln!("[bench-peers] {name}: fixtures written");
        server
    }

    /// Runs peers.py setup; returns what it printed.
    fn python_setup(&self, server: &Server) -> String {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.peers_py).arg("setup");
        cmd.env(SPEC_VAR, server.spec("setup", "setup").to_string());
        let what = format!("{} setup", server.name);
        measure::run(&what, &cmd, &self.dir).unwrap_or_else(|e| panic!("{e}")).stdout
    }

    fn store(&self, server: &Server) -> Box<dyn blobio::Backend> {
        crate::clients::blobio::store(&Spec(server.spec("setup", "setup")), false)
    }

    fn populate(&self, store: &dyn blobio::Backend, prefix: &str) {
        let payload = vec![crate::data::FILL; self.sizes.small];
        on_threads(self.sizes.count, self.sizes.threads, |i| {
            store.write(&keys::small(prefix, i), &payload).or_die("writing small objects");
            0
        });
    }

    fn run_server(&mut self, server: &Server, rows: &[&str]) {
        // Start-up is subtracted from every row's CPU: take the least of a
        // few runs, the cost without noise from the rest of the machine.
        for &client in clients(server.name) {
            let runs: Result<Vec<Sample>, String> =
                (0..3).map(|_| self.measure(server, client, "startup")).collect();
            match runs {
                Ok(runs) => {
                    let least = runs.into_iter().min_by(|a, b| a.cpu.total_cmp(&b.cpu));
                    self.samples.push(least.unwrap());
                }
                Err(e) => self.failures.push(e),
            }
        }
        for &row in rows {
            for &client in clients(server.name) {
                if !supported(server.name, client, row) {
                    continue;
                }
                // The bench's own stores are made fresh for each step, so no
                // pooled connection sits idle across a long row.
                if row == "delete" {
                    let (store, own) = (self.store(server), keys::small_prefix(client));
                    if store.list(&own).or_die("list").len() != self.sizes.count {
                        self.populate(&*store, &own);
                    }
                }
                // A read of a large object costs tens of ms of CPU, within
                // the noise of one run: the read rows (which change nothing)
                // run READ_RUNS times for every client, and the run of
                // median CPU is kept.
                let runs = if READ_ROWS.contains(&row) { READ_RUNS } else { 1 };
                let mut samples: Vec<Sample> =
                    (0..runs).filter_map(|_| self.measure_and_check(server, client, row)).collect();
                if samples.len() == runs {
                    samples.sort_by(|a, b| a.cpu.total_cmp(&b.cpu));
                    self.samples.push(samples.swap_remove(runs / 2));
                }
            }
            if matches!(row, "small_put" | "small_get") {
                self.second_pass(server, row);
            }
        }
        // Leave the servers as they were: the fixtures are large.
        let store = self.store(server);
        self.remove(&*store, store.list("").or_die("list everything"));
    }

    /// One measured run of `row` by `client`, checked and cleaned up after;
    /// `None` (and a failure recorded) when it failed.
    fn measure_and_check(&mut self, server: &Server, client: &str, row: &str) -> Option<Sample> {
        match self.measure(server, client, row) {
            Ok(sample) => {
                let wall = sample.wall;
                eprintln!("[bench-peers] {} {row} {client}: {wall:.2} s", server.name);
                self.check_and_clean(&*self.store(server), server.name, client, row);
                Some(sample)
            }
            Err(e) => {
                eprintln!("[bench-peers] {e}");
                self.failures.push(e);
                // Whatever the failed row left must not reach the next rows.
                let store = self.store(server);
                store.delete(&keys::put(client)).or_die("clean");
                let own = keys::small_prefix(client);
                self.remove(&*store, store.list(&own).or_die("list"));
                None
            }
        }
    }

    /// The small-object rows' ops/s are wall time against a server, and
    /// Azurite slows down as requests accumulate (on a fresh Azurite, 2,500
    /// PUTs took 3.4 s for whichever client went first and 4.7 s for the
    /// next, in either order): the baseline, always first, would be
    /// favoured. So blobio and object_store run the row once more, in the
    /// reverse order (A B ... B A), and each reports the mean of its two
    /// runs, which cancels a steady drift.
    fn second_pass(&mut self, server: &Server, row: &str) {
        for client in ["blobio", "object_store"] {
            let Some(i) = self
                .samples
                .iter()
                .position(|s| s.server == server.name && s.row == row && s.client == client)
            else {
                continue;
            };
            if row == "small_put" {
                // Again from nothing, as the first run was.
                let store = self.store(server);
                self.remove(&*store, store.list(&keys::small_prefix(client)).or_die("list"));
            }
            if let Some(again) = self.measure_and_check(server, client, row) {
                let first = &mut self.samples[i];
                first.wall = (first.wall + again.wall) / 2.0;
                first.cpu = (first.cpu + again.cpu) / 2.0;
                first.max_rss_kib = first.max_rss_kib.max(again.max_rss_kib);
            }
        }
    }

    /// Deletes `names` one request each, `threads` at once: the bench's own
    /// clean-up stays out of the batch APIs it measures (Azurite, loaded,
    /// resets connections in the middle of parallel Blob Batch requests).
    fn remove(&self, store: &dyn blobio::Backend, names: Vec<String>) {
        on_threads(names.len(), self.sizes.threads, |i| {
            store.delete(&names[i]).or_die("clean-up delete");
            0
        });
    }

    /// Checks on the store what the row did (a client that silently did
    /// nothing must not win), then removes what the next rows must not see.
    fn check_and_clean(&self, store: &dyn blobio::Backend, server: &str, client: &str, row: &str) {
        let own = keys::small_prefix(client);
        match row {
            "put_single" | "put_parallel" => {
                let key = keys::put(client);
                let size = store.stat_file(&key).or_die("stat");
                assert_eq!(size, Some(self.sizes.big), "{client} {row}: wrong object size");
                store.delete(&key).or_die("delete");
            }
            "small_put" => {
                let n = store.list(&own).or_die("list").len();
                assert_eq!(n, self.sizes.count, "{client} {row}: objects missing");
                if !supported(server, client, "delete") {
                    self.remove(store, (0..n).map(|i| keys::small(&own, i)).collect());
                }
            }
            "delete" => {
                let n = store.list(&own).or_die("list").len();
                assert_eq!(n, 0, "{client} {row}: {n} objects left");
            }
            _ => {}
        }
    }

    fn measure(&self, server: &Server, client: &str, row: &str) -> Result<Sample, String> {
        let what = format!("{} {row} {client}", server.name);
        let spec = server.spec(client, row);
        let (mut cmd, reports) = match client {
            "boto3" | "azure-sdk" => {
                let mut cmd = Command::new(&self.python);
                cmd.arg(&self.peers_py).arg("run");
                (cmd, true)
            }
            "curl" => (self.curl(server, row), false),
            _ => {
                let mut cmd = Command::new(&self.me);
                cmd.arg("child");
                if let Some(url) = &server.emulator_url {
                    cmd.env("AZURITE_BLOB_STORAGE_URL", url);
                }
                (cmd, true)
            }
        };
        cmd.env(SPEC_VAR, spec.to_string());
        let usage = measure::run(&what, &cmd, &self.dir)?;
        let (wall, bytes, ops) = if reports {
            let line = usage.stdout.lines().last().unwrap_or_default();
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("{what}: no report on stdout: {:?}", usage.stdout));
            (v["wall"].as_f64().unwrap(), v["bytes"].as_u64().unwrap(), v["ops"].as_u64().unwrap())
        } else {
            let (bytes, ops) = self.expected(row);
            (usage.wall, bytes, ops)
        };
        assert_eq!((bytes, ops), self.expected(row), "{what}: moved the wrong amount");
        Ok(Sample {
            server: server.name,
            row: row.to_owned(),
            client: client.to_owned(),
            wall,
            cpu: usage.cpu,
            max_rss_kib: usage.max_rss_kib,
            bytes,
            ops,
        })
    }

    /// (bytes, operations) a row must report.
    fn expected(&self, row: &str) -> (u64, u64) {
        let s = self.sizes;
        let n = s.count as u64;
        match row {
            "startup" => (0, 0),
            "put_single" | "put_parallel" | "get_single" | "get_parallel" | "get_memory" => {
                (s.big, 1)
            }
            "read_at" => (s.read_at, 1),
            "small_put" | "small_get" => (n * s.small as u64, n),
            _ => (0, n),
        }
    }
}
