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
//! their own thread as before. Name resolution, which ureq does before
//! any connector runs, is the one wait a cancel does not cut short (it is
//! bounded by the connect timeout).
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

use ureq::unversioned::resolver::DefaultResolver;

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
    let spawned = std::thread::Builder::new()
        .name("blobio-connect".into())
        .spawn(connect);
    if let Err(e) = spawned {
        log::warn!("cannot start a connect thread: {e}");
        return Err(ureq::Error::Io(io::Error::other(format!(
            "cannot start a connect thread: {e}"
        ))));
    }
    loop {
        match rx.recv_timeout(CONNECT_POLL) {
            Ok(made) => return made,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) if token.is_cancelled() => {
                return Err(cancelled_io())
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(ureq::Error::Io(io::Error::other("the connect thread ended")))
            }
        }
    }
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
