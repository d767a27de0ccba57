//! Moving bytes: `cat`, `cp`, `mv` and `put`. Between two stores the bytes
//! stream through a small bounded pipe: the source's `read_to` on one
//! thread, the destination's `write_reader` on this one, so memory stays
//! bounded whatever the size, and an object of unknown size (a pipe on
//! stdin) goes up in parts as it arrives.

use std::io::{self, BufWriter, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use blobio::{Backend, Error};

use crate::loc::{join, Loc};
use crate::progress::{Bar, Counters};
use crate::{delete_keys, list_objects, out_err, Failure, Flags, Stores, BROKEN_PIPE};

/// Chunks in flight between a source and a destination.
const PIPE_DEPTH: usize = 4;
/// How many failed files of a recursive copy are named one by one.
const MAX_REPORTED: usize = 10;

/// Counts bytes as they pass, for the progress bar.
struct Counting<'a, T> {
    inner: T,
    counters: &'a Counters,
}

impl<T: Read> Read for Counting<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A writer that remembers the first error it gave (to tell a closed
/// stdout from a failed download).
struct CountingWriter<'a, W> {
    inner: W,
    counters: &'a Counters,
    error: Option<io::ErrorKind>,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inner.write(buf) {
            Ok(n) => {
                self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                self.error.get_or_insert(e.kind());
                Err(e)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn folder_error(loc: &Loc, what: &str) -> Failure {
    Failure::usage(format!("{} is a folder: {what}", loc.shown()))
}

/// `cat URL`: the object to stdout.
pub fn cat(src: &Loc, flags: &Flags, stores: &mut Stores) -> Result<(), Failure> {
    if src.key.is_empty() || src.key.ends_with('/') {
        return Err(folder_error(src, "cat reads objects"));
    }
    let store = stores.get(src)?;
    let enabled = Bar::wanted(flags.quiet);
    // The size only for the bar: a request more.
    let total = if enabled { store.stat_file(&src.key).ok().flatten() } else { None };
    let bar = Bar::file(enabled, &src.shown(), total);
    let stdout = io::stdout();
    let mut w = CountingWriter {
        inner: BufWriter::with_capacity(256 * 1024, stdout.lock()),
        counters: bar.counters(),
        error: None,
    };
    let result = store.read_to(&src.key, &mut w);
    let flushed = w.flush();
    let error = w.error;
    drop(w);
    bar.finish();
    if error == Some(io::ErrorKind::BrokenPipe) {
        return Err(Failure { code: BROKEN_PIPE, message: String::new() });
    }
    result.map_err(|e| Failure::of(&src.shown(), &e))?;
    flushed.map_err(out_err)
}

/// `cp`, `mv` and `put`.
pub fn copy(src_arg: &str, dst_arg: &str, is_move: bool, flags: &Flags, stores: &mut Stores) -> Result<(), Failure> {
    if src_arg == "-" {
        if is_move || flags.recursive {
            return Err(Failure::usage("standard input can only be copied, as one object"));
        }
        let dst = Loc::parse(dst_arg).map_err(Failure::usage)?;
        if dst.key.is_empty() || dst.key.ends_with('/') {
            return Err(Failure::usage(format!("{dst_arg}: name the object to write standard input to")));
        }
        return put_stdin(&dst, flags, stores);
    }
    if dst_arg == "-" {
        if is_move || flags.recursive {
            return Err(Failure::usage("only one object can be copied to standard output"));
        }
        return cat(&Loc::parse(src_arg).map_err(Failure::usage)?, flags, stores);
    }
    let src = Loc::parse(src_arg).map_err(Failure::usage)?;
    let dst = Loc::parse(dst_arg).map_err(Failure::usage)?;
    let src_store = stores.get(&src)?;
    let dst_store = stores.get(&dst)?;
    if flags.recursive {
        let prefix = src.dir_prefix();
        let objects = list_objects(&*src_store, &prefix).map_err(|e| Failure::of(&src.shown(), &e))?;
        if !objects.is_empty() {
            let jobs: Vec<Job> = objects
                .into_iter()
                .map(|o| {
                    let dst_key = join(&dst.key, &o.path[prefix.len()..]);
                    Job { src_key: o.path, dst_key, size: o.size }
                })
                .collect();
            return copy_tree(&src, &src_store, &dst, &dst_store, jobs, is_move, flags);
        }
        // Nothing under it: perhaps it names one object.
        if src.key.is_empty() || src.key.ends_with('/') {
            return Err(Failure { code: 4, message: format!("{}: nothing to copy there", src.shown()) });
        }
    } else if src.key.is_empty() || src.key.ends_with('/') {
        return Err(folder_error(&src, "copy it with -r"));
    }
    let dst_key = if dst.dir { join(&dst.key, src.name()) } else { dst.key.clone() };
    if src.store == dst.store && src.key == dst_key {
        return Err(Failure::usage(format!("{} and {} are the same object", src.shown(), dst.show(&dst_key))));
    }
    let size = match src_store.stat_file(&src.key) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(Failure { code: 4, message: format!("{}: not found", src.shown()) }),
        Err(e) => return Err(Failure::of(&src.shown(), &e)),
    };
    let bar = Bar::file(Bar::wanted(flags.quiet), &src.shown(), Some(size));
    let result = transfer(&src, &*src_store, &src.key, &dst, &*dst_store, &dst_key, Some(size), bar.counters());
    bar.finish();
    result?;
    if is_move {
        src_store.delete(&src.key).map_err(|e| Failure::of(&src.shown(), &e))?;
    }
    Ok(())
}

/// `put - DST`: stdin, of a size nobody knows, to one object.
fn put_stdin(dst: &Loc, flags: &Flags, stores: &mut Stores) -> Result<(), Failure> {
    let store = stores.get(dst)?;
    let bar = Bar::file(Bar::wanted(flags.quiet), &dst.shown(), None);
    let stdin = io::stdin();
    let mut r = Counting { inner: stdin.lock(), counters: bar.counters() };
    let result = store.write_reader(&dst.key, &mut r, None);
    bar.finish();
    result.map_err(|e| Failure::of(&dst.shown(), &e))
}

struct Job {
    src_key: String,
    dst_key: String,
    size: u64,
}

fn copy_tree(
    src: &Loc,
    src_store: &Arc<dyn Backend>,
    dst: &Loc,
    dst_store: &Arc<dyn Backend>,
    jobs: Vec<Job>,
    is_move: bool,
    flags: &Flags,
) -> Result<(), Failure> {
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let bar = Bar::total(Bar::wanted(flags.quiet), jobs.len() as u64, total);
    let workers = flags.jobs.min(jobs.len());
    let queue = Mutex::new(jobs.into_iter());
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let done: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().next() else { break };
                let r = transfer(
                    src,
                    &**src_store,
                    &job.src_key,
                    dst,
                    &**dst_store,
                    &job.dst_key,
                    Some(job.size),
                    bar.counters(),
                );
                match r {
                    Ok(()) => {
                        bar.counters().files.fetch_add(1, Ordering::Relaxed);
                        done.lock().unwrap().push(job.src_key);
                    }
                    Err(f) => failures.lock().unwrap().push(f),
                }
            });
        }
    });
    bar.finish();
    let mut failures = failures.into_inner().unwrap();
    if is_move {
        // Only what arrived is deleted at the source.
        let done = done.into_inner().unwrap();
        if let Err(f) = delete_keys(&**src_store, src, &done) {
            failures.push(f);
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let n = failures.len();
    for f in failures.iter().skip(1).take(MAX_REPORTED - 1) {
        eprintln!("blobio: {}", f.message);
    }
    if n > MAX_REPORTED {
        eprintln!("blobio: ... and {} more failures", n - MAX_REPORTED);
    }
    let first = failures.swap_remove(0);
    Err(Failure { code: first.code, message: format!("{} ({n} failed)", first.message) })
}

enum Msg {
    Data(Vec<u8>),
    End,
}

struct PipeWriter {
    tx: SyncSender<Msg>,
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.tx
            .send(Msg::Data(buf.to_vec()))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the destination stopped reading"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct PipeReader<'a> {
    rx: Receiver<Msg>,
    chunk: Vec<u8>,
    pos: usize,
    counters: &'a Counters,
    /// The source went away without finishing: its error is the one to tell.
    source_failed: &'a AtomicBool,
}

impl Read for PipeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(Msg::Data(v)) => {
                    self.chunk = v;
                    self.pos = 0;
                }
                Ok(Msg::End) => return Ok(0),
                Err(_) => {
                    // Never an end of data: a short object must not be stored.
                    self.source_failed.store(true, Ordering::Relaxed);
                    return Err(io::Error::other("the source failed"));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        self.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One object from `src_store` to `dst_store`, failures named by URL.
#[allow(clippy::too_many_arguments)]
fn transfer(
    src: &Loc,
    src_store: &dyn Backend,
    src_key: &str,
    dst: &Loc,
    dst_store: &dyn Backend,
    dst_key: &str,
    size: Option<u64>,
    counters: &Counters,
) -> Result<(), Failure> {
    // Within one store the store copies (S3 CopyObject or UploadPartCopy,
    // Azure Copy Blob, a local copy_file_range): no byte passes through here.
    let same_store = std::ptr::eq(
        src_store as *const dyn Backend as *const (),
        dst_store as *const dyn Backend as *const (),
    );
    if same_store {
        match dst_store.copy(src_key, dst_key, &blobio::PutOptions::default()) {
            Ok(_) => {
                counters.bytes.fetch_add(size.unwrap_or(0), Ordering::Relaxed);
                return Ok(());
            }
            Err(e) if e.kind() != blobio::ErrorKind::Unsupported => {
                let at = if e.kind() == blobio::ErrorKind::NotFound { src.show(src_key) } else { dst.show(dst_key) };
                return Err(Failure::of(&at, &e));
            }
            Err(_) => {} // streamed below
        }
    }
    let (tx, rx) = sync_channel::<Msg>(PIPE_DEPTH);
    let source_failed = AtomicBool::new(false);
    let (read_result, write_result): (Result<u64, Error>, Result<(), Error>) = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut w = PipeWriter { tx };
            let r = src_store.read_to(src_key, &mut w);
            if r.is_ok() {
                let _ = w.tx.send(Msg::End);
            }
            r
        });
        let mut pipe = PipeReader { rx, chunk: Vec::new(), pos: 0, counters, source_failed: &source_failed };
        let w = dst_store.write_reader(dst_key, &mut pipe, size);
        drop(pipe); // a source still sending stops now
        let r = reader.join().unwrap_or_else(|_| {
            Err(Error::Other { path: src_key.to_owned(), message: "reader thread panicked".into(), remote: None, source: None })
        });
        (r, w)
    });
    match (read_result, write_result) {
        (Err(e), _) if source_failed.load(Ordering::Relaxed) => Err(Failure::of(&src.show(src_key), &e)),
        (_, Err(e)) => Err(Failure::of(&dst.show(dst_key), &e)),
        (Err(e), Ok(())) => Err(Failure::of(&src.show(src_key), &e)),
        (Ok(_), Ok(())) => Ok(()),
    }
}
