//! Connection deadlines: a client must send a request's head within the header timeout,
//! and a connection with no request in progress is closed after the idle timeout. Without
//! them, connections that send nothing or half a request stay open for ever, each holding a
//! socket and a task (slowloris).
//!
//! Every connection has a [`Watch`], told by its socket ([`Watched`]) when bytes come in or
//! go out and by its service ([`Connection`]) when a request starts and when its response
//! is ready. Its deadline is:
//!
//! - **awaiting a head** (from the connection's start, or from the first byte after an idle
//!   spell): that moment plus `--header-timeout`, however the bytes trickle in;
//! - **busy** (a request in progress): none here — the guard's request timeout applies;
//! - **idle** (after a response, while nothing comes in): the last byte read or written plus
//!   `--idle-timeout` (the end of a response being sent moves it).
//!
//! When the deadline passes while hyper waits to read (for a head, or for the next request),
//! the read fails with `TimedOut` and hyper closes the connection without an answer (there
//! is no request to answer).

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{sleep_until, Instant, Sleep};
use tower::Service;

use crate::config::ServeArgs;

/// The two deadlines of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// From a head's first byte (or the connection's start) to its end.
    pub header: Duration,
    /// Between requests, and between writes of a response.
    pub idle: Duration,
}

impl Timeouts {
    pub fn of(config: &ServeArgs) -> Timeouts {
        Timeouts {
            header: Duration::from_secs(config.header_timeout.max(1)),
            idle: Duration::from_secs(config.idle_timeout.max(1)),
        }
    }
}

/// What a connection is doing, for its deadline.
struct State {
    /// Requests in progress (one at a time in HTTP/1.1).
    busy: usize,
    /// When the head being awaited began (the connection's start, or its first byte).
    head_since: Option<Instant>,
    /// The last byte read or written.
    active_at: Instant,
    /// The socket's reader, parked on a read, to wake when the deadline changes.
    reader: Option<Waker>,
}

/// The deadline keeper of one connection, shared by its socket and its service.
pub struct Watch {
    timeouts: Timeouts,
    state: Mutex<State>,
}

impl Watch {
    fn new(timeouts: Timeouts) -> Watch {
        let now = Instant::now();
        Watch {
            timeouts,
            state: Mutex::new(State {
                busy: 0,
                head_since: Some(now),
                active_at: now,
                reader: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the connection is to be closed, if nothing changes; `None` while busy.
    fn deadline(&self) -> Option<Instant> {
        let s = self.state();
        if s.busy > 0 {
            None
        } else if let Some(since) = s.head_since {
            Some(since + self.timeouts.header)
        } else {
            Some(s.active_at + self.timeouts.idle)
        }
    }

    /// Bytes came in: outside a request, a head has begun.
    fn read(&self) {
        let mut s = self.state();
        let now = Instant::now();
        s.active_at = now;
        if s.busy == 0 && s.head_since.is_none() {
            s.head_since = Some(now);
        }
    }

    fn wrote(&self) {
        self.state().active_at = Instant::now();
    }

    /// A head was read whole: a request is in progress.
    fn begin(&self) {
        let mut s = self.state();
        s.busy += 1;
        s.head_since = None;
    }

    /// A response is ready: when none is in progress, the connection is idle.
    fn end(&self) {
        let reader = {
            let mut s = self.state();
            s.busy = s.busy.saturating_sub(1);
            if s.busy > 0 {
                return;
            }
            s.active_at = Instant::now();
            s.head_since = None;
            s.reader.take()
        };
        if let Some(w) = reader {
            w.wake();
        }
    }

    fn park_reader(&self, waker: &Waker) {
        let mut s = self.state();
        if !s.reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            s.reader = Some(waker.clone());
        }
    }
}

/// A request in progress on a connection; its end when dropped (answered, or abandoned).
struct Busy(Arc<Watch>);

impl Busy {
    fn new(watch: &Arc<Watch>) -> Busy {
        watch.begin();
        Busy(watch.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A TCP connection whose reads fail once its [`Watch`]'s deadline has passed.
pub struct Watched {
    tcp: TcpStream,
    watch: Arc<Watch>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.tcp).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.watch.read();
                }
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
        this.watch.park_reader(cx.waker());
        loop {
            let Some(deadline) = this.watch.deadline() else {
                return Poll::Pending;
            };
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // The timer went off: the connection is over unless its deadline moved since.
            if this.watch.deadline() == Some(deadline) {
                tracing::debug!("connection closed: no request head or idle too long");
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection deadline passed",
                )));
            }
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.watch.wrote();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.watch.wrote();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// The listener `serve` runs on: TCP without Nagle's delay (a response is one write, and a
/// client waiting on a small tile should not wait for the ACK of the previous one), each
/// connection watched.
pub struct Listener {
    tcp: TcpListener,
    timeouts: Timeouts,
}

impl Listener {
    pub fn new(tcp: TcpListener, timeouts: Timeouts) -> Listener {
        Listener { tcp, timeouts }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Watched;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Watched, SocketAddr) {
        loop {
            match self.tcp.accept().await {
                Ok((tcp, peer)) => {
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!(error = %e, "TCP_NODELAY not set");
                    }
                    let watched = Watched {
                        tcp,
                        watch: Arc::new(Watch::new(self.timeouts)),
                        timer: None,
                    };
                    return (watched, peer);
                }
                // The peer gave up before the accept: nothing to do.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                // Out of file descriptors, most likely: wait for some to be closed.
                Err(e) => {
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Makes each connection's service: `service` with the peer's address (as `ConnectInfo`,
/// which keys the per-client limits) and the connection's watch.
#[derive(Clone)]
pub struct PerConnection<S> {
    service: S,
}

impl<S> PerConnection<S> {
    pub fn new(service: S) -> PerConnection<S> {
        PerConnection { service }
    }
}

impl<'a, S: Clone> Service<IncomingStream<'a, Listener>> for PerConnection<S> {
    type Response = Connection<S>;
    type Error = Infallible;
    type Future = Ready<Result<Connection<S>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'a, Listener>) -> Self::Future {
        ready(Ok(Connection {
            service: self.service.clone(),
            peer: *stream.remote_addr(),
            watch: stream.io().watch.clone(),
        }))
    }
}

/// The service of one connection (see [`PerConnection`]).
#[derive(Clone)]
pub struct Connection<S> {
    service: S,
    peer: SocketAddr,
    watch: Arc<Watch>,
}

impl<S> Service<Request> for Connection<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let busy = Busy::new(&self.watch);
        let answer = self.service.call(req);
        Box::pin(async move {
            let response = answer.await;
            drop(busy);
            response
        })
    }
}
