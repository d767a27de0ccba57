//! Values that belong to the process that made them, for state that must
//! not cross `fork()`: worker threads (a child has none of its parent's
//! threads) and pooled connections (a child that used its parent's sockets
//! would mix both processes' requests and answers on one stream).
//!
//! A [`PerProcess`] keeps one value per process in a chain: the value of the
//! process that first asked, then, after a fork, the child's own, and so on
//! down a line of forks. Each is tagged with the id of the process that made
//! it ([`std::process::id`], compared on every access: one `getpid` call).
//! A process only ever uses its own value. One inherited from another
//! process is never touched, nor dropped: it is leaked when the chain goes,
//! because dropping it could act on what is not this process's (join worker
//! threads that do not exist here, or write a TLS `close_notify` on a
//! socket the parent still uses).
//!
//! Reading the chain takes no lock: a process whose value exists finds it
//! with atomic loads. Each link is a [`OnceLock`], set once by the first
//! thread of a process that needs it; the value is built before that, so a
//! `fork()` can only catch a link mid-set during the moment the finished
//! value is moved in.

use std::sync::OnceLock;

/// One `T` per process, made on first use in each (see the module docs).
pub(crate) struct PerProcess<T> {
    head: OnceLock<Box<Link<T>>>,
}

struct Link<T> {
    pid: u32,
    /// `None` only while the link is dropped (see [`Drop for Link`]).
    value: Option<T>,
    /// The value of a process forked from `pid` (or from one of its
    /// descendants), once that process asked for one.
    next: OnceLock<Box<Link<T>>>,
}

impl<T> Drop for Link<T> {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            // Made by another process: not ours to drop.
            std::mem::forget(self.value.take());
        }
    }
}

impl<T> Default for PerProcess<T> {
    fn default() -> Self {
        PerProcess {
            head: OnceLock::new(),
        }
    }
}

impl<T> PerProcess<T> {
    /// Nothing made yet, in any process.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A chain whose first value, `value`, belongs to this process.
    pub(crate) fn with(value: T) -> Self {
        let this = Self::new();
        let _ = this.head.set(Link::boxed(value));
        this
    }

    /// This process's value, if it made one.
    pub(crate) fn get(&self) -> Option<&T> {
        let me = std::process::id();
        let mut slot = &self.head;
        loop {
            let link = slot.get()?;
            if link.pid == me {
                return link.value.as_ref();
            }
            slot = &link.next;
        }
    }

    /// This process's value, made with `make` if it has none yet. When two
    /// threads race to make it, one value is kept and the other is passed
    /// to `discard` (in the calling thread), so a value that owns threads
    /// can stop them.
    pub(crate) fn get_or_make(&self, make: impl FnOnce() -> T, discard: impl FnOnce(T)) -> &T {
        let me = std::process::id();
        let mut slot = &self.head;
        loop {
            let link = match slot.get() {
                Some(link) => link,
                None => {
                    // The first to ask in this process: build the value
                    // first, then publish it (see the module docs).
                    let link = Link::boxed(make());
                    match slot.set(link) {
                        Ok(()) => {}
                        Err(mut lost) => {
                            if let Some(value) = lost.value.take() {
                                discard(value);
                            }
                        }
                    }
                    // Either ours or the winner's, made in this process
                    // (a link another process made was there before us).
                    let link = slot.get().expect("the link was just set");
                    debug_assert_eq!(link.pid, me);
                    return link.value.as_ref().expect("a live link has its value");
                }
            };
            if link.pid == me {
                return link.value.as_ref().expect("a live link has its value");
            }
            slot = &link.next;
        }
    }

    /// How many processes made a value in this chain.
    #[cfg(test)]
    fn links(&self) -> usize {
        let mut n = 0;
        let mut slot = &self.head;
        while let Some(link) = slot.get() {
            n += 1;
            slot = &link.next;
        }
        n
    }
}

#[cfg(test)]
impl<T> PerProcess<T> {
    /// The chain as a child inherits it: `value` was made by another
    /// process (a pid that is not this one's).
    pub(crate) fn from_another_process(value: T) -> Self {
        let this = Self::new();
        let _ = this.head.set(Box::new(Link {
            pid: std::process::id().wrapping_add(1),
            value: Some(value),
            next: OnceLock::new(),
        }));
        this
    }
}

impl<T> Link<T> {
    fn boxed(value: T) -> Box<Self> {
        Box::new(Link {
            pid: std::process::id(),
            value: Some(value),
            next: OnceLock::new(),
        })
    }
}

impl<T> std::fmt::Debug for PerProcess<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerProcess")
            .field("made_here", &self.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Counts its drops.
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn inherited<T>(value: T) -> PerProcess<T> {
        PerProcess::from_another_process(value)
    }

    #[test]
    fn a_value_is_made_once_per_process_and_dropped_with_the_chain() {
        let drops = Arc::new(AtomicUsize::new(0));
        let made = AtomicUsize::new(0);
        let chain = PerProcess::new();
        assert!(chain.get().is_none());
        for _ in 0..3 {
            chain.get_or_make(
                || {
                    made.fetch_add(1, Ordering::SeqCst);
                    Counted(drops.clone())
                },
                drop,
            );
        }
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert!(chain.get().is_some());
        assert_eq!(chain.links(), 1);
        drop(chain);
        assert_eq!(drops.load(Ordering::SeqCst), 1, "our own value is dropped");
    }

    #[test]
    fn another_process_value_is_neither_used_nor_dropped() {
        let theirs = Arc::new(AtomicUsize::new(0));
        let ours = Arc::new(AtomicUsize::new(0));
        let chain = inherited(Counted(theirs.clone()));
        assert!(chain.get().is_none(), "the inherited value is not this process's");
        let mine = chain.get_or_make(|| Counted(ours.clone()), drop);
        assert!(Arc::ptr_eq(&mine.0, &ours));
        assert!(Arc::ptr_eq(&chain.get().unwrap().0, &ours));
        assert_eq!(chain.links(), 2);
        drop(chain);
        assert_eq!(ours.load(Ordering::SeqCst), 1, "ours is dropped");
        assert_eq!(theirs.load(Ordering::SeqCst), 0, "theirs is leaked, never dropped");
    }

    #[test]
    fn a_chain_inherited_and_never_used_here_leaks_its_value() {
        let theirs = Arc::new(AtomicUsize::new(0));
        drop(inherited(Counted(theirs.clone())));
        assert_eq!(theirs.load(Ordering::SeqCst), 0);
        assert_eq!(Arc::strong_count(&theirs), 2, "the leaked value still holds its Arc");
    }

    #[test]
    fn with_makes_the_value_of_this_process() {
        let chain = PerProcess::with(5);
        assert_eq!(chain.get(), Some(&5));
        assert_eq!(*chain.get_or_make(|| 6, drop), 5);
    }

    #[test]
    fn racing_threads_keep_one_value_and_discard_the_others() {
        let chain = Arc::new(PerProcess::new());
        let made = Arc::new(AtomicUsize::new(0));
        let discarded = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let (chain, made, discarded, barrier) =
                    (chain.clone(), made.clone(), discarded.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    *chain.get_or_make(
                        || {
                            made.fetch_add(1, Ordering::SeqCst);
                            i
                        },
                        |_| {
                            discarded.fetch_add(1, Ordering::SeqCst);
                        },
                    )
                })
            })
            .collect();
        let seen: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert!(seen.iter().all(|v| *v == seen[0]), "every thread sees one value: {seen:?}");
        assert_eq!(
            made.load(Ordering::SeqCst) - discarded.load(Ordering::SeqCst),
            1,
            "all made but one were discarded"
        );
        assert_eq!(chain.links(), 1);
    }

    /// A loopback HTTP/1.1 server that answers every request `200 ok` on
    /// kept-alive connections; returns its URL and the count of accepted
    /// connections.
    fn counting_server() -> (String, Arc<AtomicUsize>) {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/k", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut out = conn.try_clone().unwrap();
                    let mut lines = BufReader::new(conn);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match lines.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => {
                                let reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                                if out.write_all(reply.as_bytes()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    #[test]
    fn a_transport_in_a_child_never_uses_a_connection_of_its_parent() {
        use crate::http::{read_small_body, HttpConfig, RequestBody, Transport};
        let (url, accepted) = counting_server();
        let get = |t: &Transport| {
            let resp = t.send("k", "GET", &url, &[], RequestBody::Empty).unwrap();
            assert_eq!(read_small_body("k", resp, 16).unwrap(), b"ok");
        };
        let parent = Transport::new(&HttpConfig::default()).unwrap();
        get(&parent);
        get(&parent);
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "the parent reuses its connection");

        // The child inherits the parent's agent with that idle connection.
        let child = parent.as_inherited_by_a_child();
        get(&child);
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "the child dials its own");
        get(&child.clone());
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "and then reuses it, in every clone");
        drop(child);
        get(&parent);
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "the parent's connection is intact");
    }
}
