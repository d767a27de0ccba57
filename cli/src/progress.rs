//! The progress bar: one line on stderr, redrawn in place, only when stderr
//! is a terminal (and not under `-q`). A single transfer shows its name; a
//! recursive one shows a total over all files. Bytes, percentage, average
//! rate and time left when the total is known.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::fmt::{clock, human_bytes};

const TICK: Duration = Duration::from_millis(100);
const BAR_WIDTH: usize = 20;

/// Counters a transfer bumps; the drawing thread reads them.
#[derive(Default)]
pub struct Counters {
    pub bytes: AtomicU64,
    pub files: AtomicU64,
}

/// What the bar shows beside the counters.
struct Line {
    label: String,
    total_bytes: Option<u64>,
    total_files: Option<u64>,
}

/// A bar being drawn; `finish` draws the last state and ends the line.
pub struct Bar {
    counters: Arc<Counters>,
    shared: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Bar {
    /// Whether bars are drawn at all: stderr is a terminal and not `-q`.
    pub fn wanted(quiet: bool) -> bool {
        !quiet && std::io::stderr().is_terminal()
    }

    /// A bar for one file, `label` its name, `total` its size when known.
    pub fn file(enabled: bool, label: &str, total: Option<u64>) -> Bar {
        Bar::start(enabled, Line { label: label.to_owned(), total_bytes: total, total_files: None })
    }

    /// A bar over `files` files of `bytes` bytes in all.
    pub fn total(enabled: bool, files: u64, bytes: u64) -> Bar {
        Bar::start(
            enabled,
            Line { label: String::new(), total_bytes: Some(bytes), total_files: Some(files) },
        )
    }

    fn start(enabled: bool, line: Line) -> Bar {
        let counters = Arc::new(Counters::default());
        if !enabled {
            return Bar { counters, shared: None };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let c = Arc::clone(&counters);
        let handle = std::thread::spawn(move || {
            let t0 = Instant::now();
            let cols = columns();
            let line = Mutex::new(line);
            loop {
                let last = !matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout));
                let text = render(&line.lock().unwrap(), &c, t0.elapsed(), cols);
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{text}\x1b[K{}", if last { "\n" } else { "" });
                let _ = err.flush();
                if last {
                    break;
                }
            }
        });
        Bar { counters, shared: Some((stop, handle)) }
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Draws the final state and ends the line.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some((stop, handle)) = self.shared.take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The terminal's width from `COLUMNS`, else 80.
fn columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n: &usize| n >= 40)
        .unwrap_or(80)
}

fn render(line: &Line, c: &Counters, elapsed: Duration, cols: usize) -> String {
    let done = c.bytes.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done as f64 / secs;
    let mut right = match line.total_bytes {
        Some(total) => {
            let frac = if total == 0 { 1.0 } else { (done as f64 / total as f64).min(1.0) };
            let filled = (frac * BAR_WIDTH as f64).round() as usize;
            let eta = if done >= total {
                "0:00".to_owned()
            } else if rate >= 1.0 {
                clock(Duration::from_secs_f64((total - done) as f64 / rate))
            } else {
                "-:--".to_owned()
            };
            format!(
                "[{}{}] {:>3}% {} / {}  {}/s  ETA {eta}",
                "#".repeat(filled),
                ".".repeat(BAR_WIDTH - filled),
                (frac * 100.0) as u32,
                human_bytes(done),
                human_bytes(total),
                human_bytes(rate as u64),
            )
        }
        None => format!("{}  {}/s  {}", human_bytes(done), human_bytes(rate as u64), clock(elapsed)),
    };
    if let Some(files) = line.total_files {
        right = format!("{}/{files} files  {right}", c.files.load(Ordering::Relaxed));
    }
    // The label gets what is left of the line, cut from the front.
    let room = cols.saturating_sub(right.chars().count() + 3);
    let label: String = if line.label.chars().count() <= room {
        line.label.clone()
    } else if room > 3 {
        let skip = line.label.chars().count() - (room - 3);
        format!("...{}", line.label.chars().skip(skip).collect::<String>())
    } else {
        String::new()
    };
    if label.is_empty() {
        right
    } else {
        format!("{label}  {right}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_shows_bytes_rate_and_eta() {
        let c = Counters::default();
        c.bytes.store(512 * 1024, Ordering::Relaxed);
        let l = Line { label: "s3://b/k".into(), total_bytes: Some(1024 * 1024), total_files: None };
        let s = render(&l, &c, Duration::from_secs(1), 100);
        assert!(s.starts_with("s3://b/k  [##########..........]  50% 512.0 KiB / 1.0 MiB"), "{s}");
        assert!(s.contains("512.0 KiB/s") && s.ends_with("ETA 0:01"), "{s}");
        let l = Line { label: "x".repeat(200), total_bytes: None, total_files: None };
        let s = render(&l, &c, Duration::from_secs(1), 60);
        assert!(s.chars().count() <= 60 && s.starts_with("..."), "{s}");
    }
}
