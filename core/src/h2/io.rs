//! The byte stream under an HTTP/2 connection: the poll-based `AsyncRead`/`AsyncWrite`
//! that the h2 crate drives, over a monoio socket, with the frame guard in its read path.
//!
//! Two ways to get poll-based I/O from monoio (`http2.io` picks; the choice and its
//! measurement are in bench/RESULTS.md, "HTTP/2 (h2load) vs nginx": the same speed,
//! since with many streams per connection either way makes only a few I/O operations
//! per hundred requests, and readiness holds ~38 KiB less per connection):
//! - `readiness`: monoio's `poll-io` feature turns the TCP socket into a readiness-based
//!   one (`TcpStreamPoll`): h2's reads and writes are plain non-blocking syscalls into
//!   h2's own buffers, woken by the driver's poller (epoll, or io_uring's poll). Over
//!   TLS, rustls runs over that socket the same way (`tls/poll.rs`), after our own
//!   driver ran the handshake.
//! - `completion`: monoio-compat's `StreamWrapper` runs owned-buffer reads and writes
//!   (io_uring operations) behind the poll traits, copying through its own buffers. It
//!   works over any [`Stream`] (over TLS, our own driver `tls/conn.rs` decrypts).
//!
//! On a client connection every byte read passes the [`FrameScanner`] before h2 sees
//! it. When a budget trips, reads stop (h2 sees nothing more from the client) and the
//! connection task is woken to send GOAWAY and close (see `server.rs`). Upstream
//! connections (`client.rs`) have no scanner: the gateway chose to talk to that peer,
//! and h2's own limits (header list size, frame size, windows) bound what it can send.

use std::cell::Cell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use monoio::io::poll_io::{AsyncRead, AsyncWrite, ReadBuf};
use monoio::net::tcp::stream_poll::TcpStreamPoll;
use monoio_compat::StreamWrapper;
use tollgate_proto::h2::{FrameScanner, Stop};

use crate::tls::poll::TlsPoll;
use crate::tls::Stream;

/// How monoio's completion I/O is made poll-based for h2.
pub enum Transport {
    Readiness(TcpStreamPoll),
    /// TLS over the readiness-based socket (`tls/poll.rs`).
    TlsReadiness(Box<TlsPoll>),
    Completion(StreamWrapper<Stream>),
}

impl Transport {
    /// The transport `io` asks for over `stream`. Readiness over TLS hands the session
    /// our own driver handshook to rustls (`tls/poll.rs`); it fails when the session is
    /// not idle or the socket cannot be polled. `buffer_size`: completion's buffers.
    pub fn new(
        stream: Stream,
        io: crate::config::Http2Io,
        buffer_size: usize,
    ) -> io::Result<Transport> {
        use crate::config::Http2Io::Readiness;
        use monoio::io::IntoPollIo;
        Ok(match (stream, io) {
            (Stream::Plain(tcp), Readiness) => Transport::Readiness(tcp.into_poll_io()?),
            (Stream::Tls(t), Readiness) => {
                let (tcp, session, ahead) = t
                    .into_parts()
                    .ok_or_else(|| io::Error::other("the TLS session is not idle"))?;
                Transport::TlsReadiness(Box::new(TlsPoll::new(tcp.into_poll_io()?, session, ahead)))
            }
            (s, _) => Transport::Completion(StreamWrapper::new_with_buffer_size(
                s,
                buffer_size,
                buffer_size,
            )),
        })
    }
}

/// Dispatches a poll method over the transports.
macro_rules! each {
    ($t:expr, $s:ident => $e:expr) => {
        match $t {
            Transport::Readiness($s) => $e,
            Transport::TlsReadiness($s) => $e,
            Transport::Completion($s) => $e,
        }
    };
}

/// The length of a flood-counting window.
const WINDOW: Duration = Duration::from_secs(1);

/// A stop of the frame guard (a flood, or a violation), seen by the connection task.
#[derive(Default)]
pub struct GuardState {
    pub tripped: Cell<Option<Stop>>,
}

/// See the module doc.
pub struct H2Io {
    transport: Transport,
    /// Bytes read before we knew the connection speaks HTTP/2 (the h2c preface sniff),
    /// handed to h2 first.
    prefix: Bytes,
    /// `None` on an upstream connection.
    scanner: Option<FrameScanner>,
    window_end: Instant,
    guard: Rc<GuardState>,
}

impl H2Io {
    pub fn new(
        transport: Transport,
        prefix: Bytes,
        scanner: FrameScanner,
        guard: Rc<GuardState>,
    ) -> H2Io {
        H2Io {
            transport,
            prefix,
            scanner: Some(scanner),
            window_end: Instant::now() + WINDOW,
            guard,
        }
    }

    /// The byte stream of a connection to an upstream: no frame guard.
    pub fn upstream(transport: Transport) -> H2Io {
        H2Io {
            transport,
            prefix: Bytes::new(),
            scanner: None,
            window_end: Instant::now() + WINDOW,
            guard: Rc::default(),
        }
    }

    /// Counts the bytes just read; false when a budget tripped or a frame header broke
    /// a rule.
    fn scan(&mut self, bytes: &[u8]) -> bool {
        let Some(scanner) = &mut self.scanner else {
            return true;
        };
        let now = Instant::now();
        if now >= self.window_end {
            scanner.next_window();
            self.window_end = now + WINDOW;
        }
        match scanner.scan(bytes) {
            Ok(()) => true,
            Err(t) => {
                self.guard.tripped.set(Some(t));
                false
            }
        }
    }
}

impl AsyncRead for H2Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.guard.tripped.get().is_some() {
            // Nothing more reaches h2; the connection task sends GOAWAY and closes.
            return Poll::Pending;
        }
        let before = buf.filled().len();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
        } else {
            let res = each!(&mut this.transport, s => Pin::new(s).poll_read(cx, buf));
            match res {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        if this.scan(&buf.filled()[before..]) {
            Poll::Ready(Ok(()))
        } else {
            // Wake the connection task (this poll runs in it) so that it sees the trip.
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl AsyncWrite for H2Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each!(&mut self.get_mut().transport, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each!(&mut self.get_mut().transport, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        each!(&self.transport, s => s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(&mut self.get_mut().transport, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(&mut self.get_mut().transport, s => Pin::new(s).poll_shutdown(cx))
    }
}
