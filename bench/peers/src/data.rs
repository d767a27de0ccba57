//! The bytes every client sends and where every client's bytes go.

use std::io::{self, Read, Write};

/// The byte every uploaded object is made of.
pub const FILL: u8 = b'b';

/// A reader of `left` bytes of [`FILL`], filled on demand as a client's own
/// generator would (no file, no copy of a prepared buffer).
pub struct Pattern {
    left: u64,
}

impl Pattern {
    pub fn new(size: u64) -> Pattern {
        Pattern { left: size }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        buf[..n].fill(FILL);
        self.left -= n as u64;
        Ok(n)
    }
}

/// A writer that keeps only the count of what it was given.
#[derive(Default)]
pub struct Counter(pub u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `f(i)` for every i in 0..count on `threads` threads (i = t, t +
/// threads, ...); returns the sum of what the calls returned.
pub fn on_threads(count: usize, threads: usize, f: impl Fn(usize) -> u64 + Sync) -> u64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || (t..count).step_by(threads).map(f).sum::<u64>())
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("worker panicked")).sum()
    })
}

/// Unwraps a blobio result, panicking with the error's one-line Display
/// (its Debug lists every failed path of a batch: thousands of lines).
pub trait OrDie<T> {
    fn or_die(self, what: &str) -> T;
}

impl<T> OrDie<T> for blobio::Result<T> {
    fn or_die(self, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}
