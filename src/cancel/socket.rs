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

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, ShutdownHandle, TcpConnector,
    Transport,
};

use super::{current_token, is_cancelled};

/// ureq's TCP connector, with sockets a cancel can shut down.
#[derive(Debug, Default)]
pub(crate) struct CancellableTcp(TcpConnector);

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
        type Slot = Mutex<Option<Weak<dyn ShutdownHandle>>>;
        let slot: Arc<Slot> = Arc::new(Mutex::new(None));
        let agent_register = Arc::clone(&details.register_shutdown);
        let keep = Arc::clone(&slot);
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
            register_shutdown: Arc::new(move |handle: Weak<dyn ShutdownHandle>| {
                if let Ok(mut s) = keep.lock() {
                    *s = Some(Weak::clone(&handle));
                }
                agent_register(handle)
            }),
        };
        let made = Connector::<()>::connect(&self.0, &mine, None)?;
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
