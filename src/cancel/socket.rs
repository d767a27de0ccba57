//! How a cancel wakes a call blocked on a socket.
//!
//! ureq's TCP connector makes the socket and hands ureq's agent a handle
//! that shuts it down (for `Agent::shutdown`, which would stop every call
//! of the store). [`CancellableTcp`] makes the same socket with ureq's own
//! connector, keeps that handle too, and wraps the transport: every read
//! and write on it registers the handle with the token of the call being
//! served on the current thread, for the time the read or write runs. A
//! cancel shuts the registered sockets down (`shutdown(2)`), which wakes a
//! blocked `read(2)` or `write(2)` at once; the connection then fails and
//! is never pooled again.
//!
//! `connect(2)` itself cannot be woken that way (there is no socket to
//! shut down yet): for a call with a token it runs on a short-lived thread
//! of its own while the call waits on it, looking at the token every 5 ms
//! (see [`connect_aside`]). A thread per new connection costs tens of
//! microseconds, against a TCP handshake; calls without a token connect on
//! their own thread as before. Name resolution, which ureq does before any
//! connector runs, cannot be woken either (`getaddrinfo`): for a call with
//! a token a host name is looked up aside the same way ([`CancellableResolver`];
//! an address needs no lookup and no thread).
//!
//! Why not short reads that look at the token between them: a server that
//! sends nothing would cost a wake-up every slice on every idle read, the
//! cancel would wait up to one slice, and the stall timeout would have to
//! be counted by hand across the slices. Shutting the socket down costs
//! nothing until a cancel and wakes the read within the scheduler's
//! latency. A pooled connection is registered by whichever call uses it,
//! when it uses it, so a cancel never touches a connection another call
//! is using.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, ShutdownHandle, TcpConnector,
    Transport,
};

use super::{current_token, is_cancelled};

/// ureq's TCP connector, with sockets a cancel can shut down.
#[derive(Debug, Default)]
pub(crate) struct CancellableTcp;

impl<In: Transport> Connector<In> for CancellableTcp {
    type Out = Either<In, Cancellable>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(chained) = chained {
            // A proxy's tunnel: its own socket was made (and wrapped) by
            // this connector already.
            return Ok(Some(Either::A(chained)));
        }
        let slot: Arc<Slot> = Arc::new(Mutex::new(None));
        let agent_register = Arc::clone(&details.register_shutdown);
        let keep = Arc::clone(&slot);
        let register_shutdown: Arc<Register> = Arc::new(move |handle: Weak<dyn ShutdownHandle>| {
            if let Ok(mut s) = keep.lock() {
                *s = Some(Weak::clone(&handle));
            }
            agent_register(handle)
        });
        let made = match current_token() {
            Some(token) => connect_aside(details, register_shutdown, &token)?,
            None => {
                let mine = ConnectionDetails {
                    uri: details.uri,
                    addrs: details.addrs.clone(),
                    config: details.config,
                    request_level: details.request_level,
                    resolver: details.resolver,
                    now: details.now,
                    timeout: details.timeout,
                    current_time: Arc::clone(&details.current_time),
                    run_connector: Arc::clone(&details.run_connector),
                    register_shutdown,
                };
                Connector::<()>::connect(&TcpConnector::default(), &mine, None)?
            }
        };
        let handle = slot.lock().ok().and_then(|mut s| s.take());
        Ok(match made {
            Some(Either::B(tcp)) => Some(Either::B(Cancellable {
                inner: Box::new(tcp),
                handle,
            })),
            Some(Either::A(())) | None => None,
        })
    }
}

type Slot = Mutex<Option<Weak<dyn ShutdownHandle>>>;
type Register = dyn Fn(Weak<dyn ShutdownHandle>) -> Result<(), ureq::Error> + Send + Sync;
type Made = Result<Option<<TcpConnector as Connector<()>>::Out>, ureq::Error>;

/// How often a call waiting for a connect made aside looks at its token.
const CONNECT_POLL: Duration = Duration::from_millis(5);

/// A connect for a call that has a token: `connect(2)` cannot be woken,
/// so it runs on a thread of its own while the call waits, looking at its
/// token every 5 ms. A cancel returns at once and leaves the thread to
/// finish (within the connect timeout) and drop what it made. (Without a
/// token the connect runs on the caller's thread, as ureq's would.)
fn connect_aside(
    details: &ConnectionDetails,
    register_shutdown: Arc<Register>,
    token: &super::CancelToken,
) -> Made {
    let (uri, addrs, config) = (details.uri.clone(), details.addrs.clone(), details.config.clone());
    let (request_level, now, timeout) = (details.request_level, details.now, details.timeout);
    let current_time = Arc::clone(&details.current_time);
    let run_connector = Arc::clone(&details.run_connector);
    let (tx, rx) = crossbeam_channel::bounded::<Made>(1);
    let connect = move || {
        // The TCP connector resolves nothing (the addresses are given).
        let resolver = DefaultResolver::default();
        let owned = ConnectionDetails {
            uri: &uri,
            addrs,
            config: &config,
            request_level,
            resolver: &resolver,
            now,
            timeout,
            current_time,
            run_connector,
            register_shutdown,
        };
        let _ = tx.send(Connector::<()>::connect(&TcpConnector::default(), &owned, None));
    };
    aside("connect", connect, rx, token)?
}

/// Runs `work` (which sends its result on the channel of `rx`) on a thread
/// named `blobio-{what}` and waits for it, looking at `token` every 5 ms: a
/// cancel returns at once, and the thread finishes on its own.
fn aside<T>(
    what: &str,
    work: impl FnOnce() + Send + 'static,
    rx: crossbeam_channel::Receiver<T>,
    token: &super::CancelToken,
) -> Result<T, ureq::Error> {
    let spawned = std::thread::Builder::new()
        .name(format!("blobio-{what}"))
        .spawn(work);
    if let Err(e) = spawned {
        log::warn!("cannot start a {what} thread: {e}");
        return Err(ureq::Error::Io(io::Error::other(format!(
            "cannot start a {what} thread: {e}"
        ))));
    }
    loop {
        match rx.recv_timeout(CONNECT_POLL) {
            Ok(made) => return Ok(made),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if token.is_cancelled() => {
                return Err(cancelled_io())
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(ureq::Error::Io(io::Error::other(format!("the {what} thread ended"))))
            }
        }
    }
}

/// ureq's resolver, with lookups a cancel does not wait for: for a call
/// that has a token, a host name is looked up on a thread of its own while
/// the call waits, looking at the token every 5 ms (a cancel returns at
/// once and leaves the thread to finish within the connect timeout). An IP
/// address, and any call without a token, goes to ureq's resolver on the
/// caller's thread.
#[derive(Debug, Default)]
pub(crate) struct CancellableResolver;

impl Resolver for CancellableResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let token = match current_token() {
            Some(token) if !names_an_address(uri) => token,
            _ => return DefaultResolver::default().resolve(uri, config, timeout),
        };
        let (uri, config) = (uri.clone(), config.clone());
        resolve_aside(&token, move || DefaultResolver::default().resolve(&uri, &config, timeout))
    }
}

/// Whether `uri`'s host is an IP address (in brackets for IPv6).
fn names_an_address(uri: &Uri) -> bool {
    uri.host().is_some_and(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok()
    })
}

type Resolved = Result<ResolvedSocketAddrs, ureq::Error>;

/// `lookup` on a thread of its own, while the call waits on `token`.
fn resolve_aside(
    token: &super::CancelToken,
    lookup: impl FnOnce() -> Resolved + Send + 'static,
) -> Resolved {
    let (tx, rx) = crossbeam_channel::bounded::<Resolved>(1);
    aside("resolve", move || drop(tx.send(lookup())), rx, token)?
}

/// A TCP transport whose blocked reads and writes a cancel wakes.
pub(crate) struct Cancellable {
    inner: Box<dyn Transport>,
    handle: Option<Weak<dyn ShutdownHandle>>,
}

impl fmt::Debug for Cancellable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancellable").field("inner", &self.inner).finish()
    }
}

fn cancelled_io() -> ureq::Error {
    ureq::Error::Io(io::Error::new(io::ErrorKind::ConnectionAborted, "cancelled"))
}

impl Cancellable {
    /// Runs one read or write with the socket registered with the current
    /// call's token.
    fn guarded<T>(
        &mut self,
        op: impl FnOnce(&mut dyn Transport) -> Result<T, ureq::Error>,
    ) -> Result<T, ureq::Error> {
        let token = current_token();
        let registered = match (&token, &self.handle) {
            (Some(t), Some(h)) => Some(t.register(h)),
            _ => None,
        };
        if is_cancelled() {
            return Err(cancelled_io());
        }
        let out = op(&mut *self.inner);
        // Unregistered before the flag is read (see `Inner::cancel`).
        drop(registered);
        if is_cancelled() {
            // Woken by the shutdown: whatever the socket said (an error,
            // or an end of stream), the call was cancelled.
            return Err(cancelled_io());
        }
        out
    }
}

impl Transport for Cancellable {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.guarded(|t| t.transmit_output(amount, timeout))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.guarded(|t| t.await_input(timeout))
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_lookup_that_hangs_is_left_at_the_cancel() {
        let token = crate::CancelToken::new();
        let canceller = token.clone();
        let (release, hold) = crossbeam_channel::bounded::<()>(0);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            canceller.cancel();
        });
        let started = Instant::now();
        let got = resolve_aside(&token, move || {
            // A resolver that answers only when the test lets it.
            let _ = hold.recv_timeout(Duration::from_secs(10));
            Err(ureq::Error::HostNotFound)
        });
        let took = started.elapsed();
        assert!(matches!(got, Err(ureq::Error::Io(ref e)) if e.kind() == io::ErrorKind::ConnectionAborted), "{got:?}");
        assert!(took < Duration::from_millis(150), "left after {took:?}");
        drop(release);
    }

    #[test]
    fn a_lookup_that_answers_is_its_answer() {
        let token = crate::CancelToken::new();
        let got = resolve_aside(&token, || Err(ureq::Error::HostNotFound));
        assert!(matches!(got, Err(ureq::Error::HostNotFound)), "{got:?}");
        let mut addrs = DefaultResolver::default().empty();
        addrs.push("127.0.0.1:9".parse().unwrap());
        let want = addrs.clone();
        let got = resolve_aside(&token, move || Ok(addrs)).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn addresses_need_no_lookup() {
        for (url, address) in [
            ("http://127.0.0.1:9000/b", true),
            ("https://[::1]:443/", true),
            ("https://s3.us-east-1.amazonaws.com/", false),
            ("http://localhost:10000/devstoreaccount1", false),
        ] {
            let uri: Uri = url.parse().unwrap();
            assert_eq!(names_an_address(&uri), address, "{url}");
        }
    }
}
