//! A small worker pool on crossbeam channels, for the parts, ranges and
//! batches a store moves in parallel.
//!
//! The pool starts no thread until the first job arrives, so a program that
//! never moves a large object never pays for it. Jobs that panic come back as
//! errors; dropping the pool (or calling [`Pool::shutdown`]) stops and joins
//! every worker.
//!
//! The workers belong to the process that started them. After `fork()` the
//! child has none of them (only the forking thread survives a fork): its
//! first job starts the child's own workers, and the parent's, inherited as
//! dead state, are never used, joined nor dropped (see [`crate::fork`]).

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};

use crate::error::{Error, Result};
use crate::fork::PerProcess;

type Job = Box<dyn FnOnce() + Send + 'static>;

/// What an idle worker runs, every so often while it returns true.
type IdleHook = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

/// A lazily started, fixed-size pool of worker threads.
pub(crate) struct Pool {
    size: usize,
    name: &'static str,
    idle: Option<(std::time::Duration, IdleHook)>,
    /// The workers of each process that used the pool: this one's, and
    /// leaked ones inherited from a parent.
    running: PerProcess<Running>,
}

struct Running {
    tx: Mutex<Option<Sender<Job>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// What a job hands back, its type erased: one channel type serves every
/// kind of job (a channel per result type would be compiled once each).
type Done = Result<Box<dyn Any + Send>>;

/// The pending result of a submitted job.
pub(crate) struct Ticket<T> {
    rx: Receiver<Done>,
    result: PhantomData<fn() -> T>,
}

impl<T: 'static> Ticket<T> {
    /// Blocks until the job has run and returns its result.
    pub(crate) fn wait(self) -> Result<T> {
        let gone = || Err(pool_error("worker pool shut down before the job ran"));
        // The caller collects its parts and ranges here: with a progress
        // callback, a due report is made on its thread while it waits.
        let done = if crate::cancel::metered() {
            loop {
                match self.rx.recv_timeout(crate::cancel::PROGRESS_EVERY) {
                    Ok(done) => break done,
                    Err(RecvTimeoutError::Timeout) => crate::cancel::tick(),
                    Err(RecvTimeoutError::Disconnected) => break gone(),
                }
            }
        } else {
            self.rx.recv().unwrap_or_else(|_| gone())
        };
        crate::cancel::tick();
        done?
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| pool_error("a worker job returned another type"))
    }
}

fn pool_error(message: &str) -> Error {
    Error::Other {
        path: String::new(),
        message: message.to_owned(),
        remote: None,
        source: None,
    }
}

/// A panic's payload as an error.
fn panicked(panic: Box<dyn Any + Send>) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    pool_error(&format!("a worker job panicked: {what}"))
}

/// A worker: runs jobs until the pool stops, and the idle hook when none
/// comes for a while.
fn work(rx: &Receiver<Job>, idle: Option<(std::time::Duration, IdleHook)>) {
    use crossbeam_channel::RecvTimeoutError;
    let mut hook_pending = false;
    loop {
        let job = match &idle {
            Some((every, hook)) if hook_pending => match rx.recv_timeout(*every) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    hook_pending = hook();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            },
            _ => match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        job();
        hook_pending = idle.is_some();
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size)
            .field("started_here", &self.running.get().is_some())
            .finish()
    }
}

impl Pool {
    /// A pool of `size` workers (at least one), not yet started.
    pub(crate) fn new(name: &'static str, size: usize) -> Self {
        Pool {
            size: size.max(1),
            name,
            idle: None,
            running: PerProcess::new(),
        }
    }

    /// Workers with no job for `every` run `hook`, again every `every`
    /// while it returns true (something is left to release), then wait
    /// for a job without waking.
    pub(crate) fn on_idle(mut self, every: std::time::Duration, hook: IdleHook) -> Self {
        self.idle = Some((every, hook));
        self
    }

    /// Whether this process has started its workers.
    #[cfg(test)]
    fn is_started(&self) -> bool {
        self.running.get().is_some()
    }

    /// The workers of this process, started with its first job. Two threads
    /// that start them at once both spawn; the loser's are stopped again.
    fn start(&self) -> &Running {
        self.running.get_or_make(|| self.spawn(), |lost| lost.stop())
    }

    fn spawn(&self) -> Running {
        // A short queue: callers bound what they have in flight anyway,
        // and a full queue pushes back instead of buffering.
        let (tx, rx) = bounded::<Job>(self.size * 2);
        let workers = (0..self.size)
            .filter_map(|i| {
                let rx = rx.clone();
                let idle = self.idle.clone();
                std::thread::Builder::new()
                    .name(format!("{}-{i}", self.name))
                    .spawn(move || work(&rx, idle))
                    .map_err(|e| log::error!("cannot start a blobio worker thread: {e}"))
                    .ok()
            })
            .collect();
        Running {
            tx: Mutex::new(Some(tx)),
            workers: Mutex::new(workers),
        }
    }

    /// Runs `job` on a worker. A panic in the job becomes an error.
    pub(crate) fn submit<T, F>(&self, job: F) -> Ticket<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let (done_tx, done_rx) = bounded::<Done>(1);
        // The job works for the submitting thread's call: its cancel
        // token and progress meter go along.
        let context = crate::cancel::Context::current();
        let wrapped: Job = Box::new(move || {
            let result = match catch_unwind(AssertUnwindSafe(|| context.enter(job))) {
                Ok(r) => r.map(|v| Box::new(v) as Box<dyn Any + Send>),
                Err(panic) => Err(panicked(panic)),
            };
            let _ = done_tx.send(result);
        });
        self.dispatch(wrapped);
        Ticket {
            rx: done_rx,
            result: PhantomData,
        }
    }

    /// Hands a job to a worker (or runs it here when none can take it).
    fn dispatch(&self, wrapped: Job) {
        let running = self.start();
        let tx = running.tx.lock().ok().and_then(|g| g.clone());
        match tx {
            Some(tx) if !running.workers.lock().map(|w| w.is_empty()).unwrap_or(true) => {
                if let Err(e) = tx.send(wrapped) {
                    // Shut down meanwhile: run the job here rather than lose it.
                    (e.into_inner())();
                }
            }
            // No worker could be started, or the pool was shut down: run
            // inline so callers still make progress.
            _ => wrapped(),
        }
    }

    /// Stops accepting jobs, lets queued ones finish, and joins every worker
    /// of this process. Workers of a parent process (in a forked child) are
    /// not there to join: they are left alone.
    pub(crate) fn shutdown(&self) {
        if let Some(running) = self.running.get() {
            running.stop();
        }
    }
}

impl Running {
    /// Closes the queue and joins every worker.
    fn stop(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        let workers = self
            .workers
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        let me = std::thread::current().id();
        for w in workers {
            // A pool dropped by its own worker cannot join that worker.
            if w.thread().id() != me {
                let _ = w.join();
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[path = "../tests/support/threads.rs"]
mod threads;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_thread_starts_before_the_first_job() {
        let pool = Pool::new("t", 3);
        assert!(!pool.is_started());
        assert_eq!(pool.submit(|| Ok(41 + 1)).wait().unwrap(), 42);
        assert!(pool.is_started());
    }

    #[test]
    fn a_panicking_job_becomes_an_error_and_the_pool_survives() {
        let pool = Pool::new("t", 1);
        let err = pool
            .submit::<(), _>(|| panic!("boom"))
            .wait()
            .unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        assert_eq!(pool.submit(|| Ok("still works")).wait().unwrap(), "still works");
    }

    // Names are unique per test: tests run as threads of one process.
    use super::threads::{settled_threads_named, threads_named};

    #[test]
    fn threads_start_with_the_first_job_and_are_gone_after_drop() {
        let pool = Pool::new("tdrop", 3);
        assert_eq!(threads_named("tdrop-"), 0, "no thread before a job");
        assert_eq!(pool.submit(|| Ok(1)).wait().unwrap(), 1);
        assert_eq!(settled_threads_named("tdrop-", 3), 3);
        drop(pool);
        assert_eq!(settled_threads_named("tdrop-", 0), 0, "every worker joined on drop");
    }

    #[test]
    fn shutdown_joins_every_worker() {
        let pool = Pool::new("t", 4);
        let tickets: Vec<_> = (0..16).map(|i| pool.submit(move || Ok(i * 2))).collect();
        let sum: i32 = tickets.into_iter().map(|t| t.wait().unwrap()).sum();
        assert_eq!(sum, (0..16).map(|i| i * 2).sum::<i32>());
        pool.shutdown();
        let running = pool.running.get().unwrap();
        assert!(running.workers.lock().unwrap().is_empty());
        // After shutdown jobs still run (inline) instead of being lost.
        assert_eq!(pool.submit(|| Ok(7)).wait().unwrap(), 7);
    }

    /// Runs `f` on a thread and fails if it has not returned within 10 s
    /// (a pool that joins a worker which never ends hangs).
    fn within_10s(what: &str, f: impl FnOnce() + Send + 'static) {
        let (done_tx, done_rx) = bounded(1);
        std::thread::spawn(move || {
            f();
            let _ = done_tx.send(());
        });
        done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{what} hung"));
    }

    /// A pool as a forked child sees it: started by its parent, whose
    /// workers are not in the child. Stood in for here by a worker that
    /// never takes a job nor ends (joining it would hang) and a queue that
    /// nobody reads.
    #[test]
    fn a_pool_started_by_another_process_starts_its_own_workers_and_never_joins_the_old() {
        let (release_tx, release_rx) = bounded::<()>(0);
        let stuck = std::thread::Builder::new()
            .name("tinherited".into())
            .spawn(move || {
                let _ = release_rx.recv();
            })
            .unwrap();
        // A new thread names itself shortly after it starts.
        assert_eq!(settled_threads_named("tinherited", 1), 1);
        let (old_tx, old_rx) = bounded::<Job>(4);
        let pool = Pool {
            size: 2,
            name: "tchild",
            idle: None,
            running: PerProcess::from_another_process(Running {
                tx: Mutex::new(Some(old_tx)),
                workers: Mutex::new(vec![stuck]),
            }),
        };
        assert!(!pool.is_started(), "the inherited workers are not this process's");
        within_10s("a job on an inherited pool", move || {
            assert_eq!(pool.submit(|| Ok(3)).wait().unwrap(), 3);
            assert!(pool.is_started());
            assert_eq!(settled_threads_named("tchild-", 2), 2, "the child's own workers");
            assert!(old_rx.is_empty(), "no job went to the inherited queue");
            pool.shutdown();
            assert_eq!(settled_threads_named("tchild-", 0), 0, "its own workers are joined");
            drop(pool);
        });
        // Never joined: still there until released (its handle is leaked).
        assert_eq!(threads_named("tinherited"), 1);
        release_tx.send(()).unwrap();
        assert_eq!(settled_threads_named("tinherited", 0), 0);
    }

    #[test]
    fn dropping_a_pool_started_only_by_another_process_joins_nothing() {
        let (release_tx, release_rx) = bounded::<()>(0);
        let stuck = std::thread::Builder::new()
            .name("tunused".into())
            .spawn(move || {
                let _ = release_rx.recv();
            })
            .unwrap();
        let (old_tx, _old_rx) = bounded::<Job>(1);
        let pool = Pool {
            size: 1,
            name: "tu-child",
            idle: None,
            running: PerProcess::from_another_process(Running {
                tx: Mutex::new(Some(old_tx)),
                workers: Mutex::new(vec![stuck]),
            }),
        };
        within_10s("dropping an inherited pool", move || drop(pool));
        release_tx.send(()).unwrap();
        assert_eq!(settled_threads_named("tunused", 0), 0);
    }
}
