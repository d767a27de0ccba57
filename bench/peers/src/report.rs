//! The markdown table and the JSON of one run.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::spec::Sizes;

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;

/// One (server, row, client) measurement.
pub struct Sample {
    pub server: &'static str,
    pub row: String,
    pub client: String,
    /// The operation's wall time (the child's own figure; curl: spawn to exit).
    pub wall: f64,
    /// User + system CPU of the whole child.
    pub cpu: f64,
    pub max_rss_kib: u64,
    pub bytes: u64,
    pub ops: u64,
}

impl Sample {
    /// Rows measured by keys handled rather than bytes moved.
    fn by_keys(&self) -> bool {
        matches!(self.row.as_str(), "list" | "delete")
    }

    fn by_ops(&self) -> bool {
        self.row.starts_with("small_") || self.by_keys()
    }

    /// ops/s or MiB/s.
    fn rate(&self) -> f64 {
        if self.by_ops() {
            self.ops as f64 / self.wall
        } else {
            self.bytes as f64 / MIB / self.wall
        }
    }

    /// CPU net of start-up, per GiB (or per 1,000 keys for list/delete).
    fn cpu_per_unit(&self, startup: f64) -> f64 {
        let net = (self.cpu - startup).max(0.0);
        if self.by_keys() {
            net * 1000.0 / (self.ops as f64 / 1000.0)
        } else {
            net / (self.bytes as f64 / GIB)
        }
    }

    fn rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }
}

fn size(b: u64) -> String {
    if b >= 1 << 30 && b % (1 << 30) == 0 {
        format!("{} GiB", b >> 30)
    } else {
        format!("{} MiB", b >> 20)
    }
}

fn label(row: &str, s: Sizes) -> String {
    let n = s.count;
    let kib = s.small / 1024;
    match row {
        "put_single" => format!("{} PUT, one stream", size(s.big)),
        "put_parallel" => format!("{} PUT, parallel", size(s.big)),
        "get_single" => format!("{} GET, one stream", size(s.big)),
        "get_parallel" => format!("{} GET, parallel", size(s.big)),
        "get_memory" => format!("{} GET into memory", size(s.big)),
        "read_at" => format!("{} read_to_at from {}", size(s.read_at), size(s.read_at_offset())),
        "small_put" => format!("{n} x {kib} KiB PUT, {} threads", s.threads),
        "small_get" => format!("{n} x {kib} KiB GET, {} threads", s.threads),
        "list" => format!("LIST {n} keys"),
        "delete" => format!("batch DELETE {n} keys"),
        "startup" => "start-up (no request)".into(),
        other => other.into(),
    }
}

fn client_name(id: &str) -> &str {
    match id {
        "stdfs" => "std::fs",
        "azure-sdk" => "azure-storage-blob",
        other => other,
    }
}

fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 && a.is_finite() => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// Prints the table and writes bench-peers.md and bench-peers.json to `out`.
pub fn write(samples: &[Sample], failures: &[String], sizes: Sizes, scale: f64, out: &Path) {
    let startup = |s: &Sample| {
        samples
            .iter()
            .find(|b| b.server == s.server && b.client == s.client && b.row == "startup")
            .map_or(0.0, |b| b.cpu)
    };
    let mut md = String::new();
    let static_size = std::env::var("BLOBIO_BENCH_STATIC_SIZE").unwrap_or_default();
    let _ = writeln!(
        md,
        "Sizes: {} object, {} read_to_at, {} small objects of {} KiB, {} threads \
         (BLOBIO_BENCH_SCALE={scale}).",
        size(sizes.big),
        size(sizes.read_at),
        sizes.count,
        sizes.small / 1024,
        sizes.threads
    );
    let _ = writeln!(
        md,
        "CPU is user + system of the client's process less its start-up row, per GiB moved \
         (list and delete: ms per 1,000 keys); the read rows (GET, read_to_at) show the run of \
         median CPU of 5 per client; RSS is its peak; ratios are to object_store \
         (rate: higher is better; CPU and RSS: lower is better).\n"
    );
    let mut json_rows = Vec::new();
    for server in ["moto", "azurite", "local"] {
        let rows: Vec<&Sample> = samples.iter().filter(|s| s.server == server).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(md, "**{server}**\n");
        let _ = writeln!(md, "| row | client | wall s | rate | CPU | peak RSS MiB | rate vs os | CPU vs os | RSS vs os |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
        for s in &rows {
            let base = rows.iter().find(|b| b.row == s.row && b.client == "object_store");
            let cpu = s.cpu_per_unit(startup(s));
            let (rate_unit, cpu_unit) = match (s.by_ops(), s.by_keys()) {
                (_, true) => ("keys/s", "ms/1k keys"),
                (true, _) => ("ops/s", "s/GiB"),
                _ => ("MiB/s", "s/GiB"),
            };
            let startup_row = s.row == "startup";
            let (rate, cpu_text) = if startup_row {
                ("-".to_owned(), format!("{:.3} s", s.cpu))
            } else {
                (format!("{:.0} {rate_unit}", s.rate()), format!("{cpu:.2} {cpu_unit}"))
            };
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {rate} | {cpu_text} | {:.0} | {} | {} | {} |",
                label(&s.row, sizes),
                client_name(&s.client),
                s.wall,
                s.rss_mib(),
                if startup_row { "-".into() } else { ratio(s.rate(), base.map(|b| b.rate())) },
                if startup_row {
                    ratio(s.cpu, base.map(|b| b.cpu))
                } else {
                    ratio(cpu, base.map(|b| b.cpu_per_unit(startup(b))))
                },
                ratio(s.rss_mib(), base.map(|b| b.rss_mib())),
            );
            json_rows.push(json!({
                "server": s.server, "row": s.row, "label": label(&s.row, sizes),
                "client": client_name(&s.client), "wall_s": s.wall, "bytes": s.bytes,
                "ops": s.ops, "cpu_s": s.cpu, "startup_cpu_s": startup(s),
                "max_rss_kib": s.max_rss_kib, "rate": s.rate(), "rate_unit": rate_unit,
                "cpu_net_per_unit": cpu, "cpu_unit": cpu_unit,
            }));
        }
        md.push('\n');
    }
    if !failures.is_empty() {
        let _ = writeln!(md, "Failed (not in the tables above):\n");
        for f in failures {
            let _ = writeln!(md, "- {f}");
        }
        md.push('\n');
    }
    if !static_size.is_empty() {
        let _ = writeln!(md, "{static_size}");
    }
    print!("{md}");
    std::fs::create_dir_all(out).expect("output folder");
    std::fs::write(out.join("bench-peers.md"), &md).expect("writing bench-peers.md");
    let doc = json!({
        "scale": scale, "sizes": sizes.to_json(), "static_size": static_size,
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        "rows": json_rows, "failures": failures,
    });
    let text = serde_json::to_string_pretty(&doc).unwrap();
    std::fs::write(out.join("bench-peers.json"), text).expect("writing bench-peers.json");
    eprintln!("[bench-peers] wrote {}", out.join("bench-peers.json").display());
}
