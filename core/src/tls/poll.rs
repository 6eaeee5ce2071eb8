//! A TLS session over a readiness-based socket, behind the poll traits (tokio's
//! `AsyncRead`/`AsyncWrite`, as monoio's `poll-io` re-exports them): HTTP/2 over TLS
//! with the same I/O as h2c on `http2.io = "readiness"` (see `h2/io.rs`).
//!
//! It takes over a session whose handshake our owned-buffer driver (`conn.rs`) already
//! ran ([`TlsConn::into_parts`](super::conn::TlsConn::into_parts)), with any ciphertext
//! that driver had read ahead. From then on rustls reads and writes the socket through
//! a small adapter that turns "would block" into `Poll::Pending`:
//! - reads: plaintext rustls has, else ciphertext from what was read ahead, else from
//!   the socket; a rustls error queues an alert, which goes out best effort;
//! - writes: plaintext into rustls (bounded by its buffer limit), then as many records
//!   as the socket takes; what it did not take goes out on the next write or flush;
//! - shutdown: close_notify, flushed, then the socket's sending side.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use monoio::io::poll_io::{AsyncRead, AsyncWrite, ReadBuf};
use monoio::net::tcp::stream_poll::TcpStreamPoll;
use rustls::Connection;

/// Plaintext rustls buffers for writes before `poll_write` waits (its default is 64 KiB).
const WRITE_BUFFER: usize = 64 * 1024;

pub struct TlsPoll {
    io: TcpStreamPoll,
    conn: Connection,
    /// Ciphertext read ahead by the handshake driver; `pos` is how much rustls took.
    ahead: Vec<u8>,
    pos: usize,
    /// The socket reached its end.
    eof: bool,
}

impl TlsPoll {
    pub fn new(io: TcpStreamPoll, mut conn: Connection, ahead: Vec<u8>) -> TlsPoll {
        conn.set_buffer_limit(Some(WRITE_BUFFER));
        TlsPoll {
            io,
            conn,
            ahead,
            pos: 0,
            eof: false,
        }
    }

    /// Writes records until rustls has none or the socket would block.
    fn poll_records(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut sock = Sync {
                io: &mut self.io,
                cx,
            };
            match self.conn.write_tls(&mut sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Feeds rustls one read of ciphertext. `Pending` when the socket has none.
    fn poll_ciphertext(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let n = if self.pos < self.ahead.len() {
            let mut rest = &self.ahead[self.pos..];
            let n = self.conn.read_tls(&mut rest)?;
            self.pos += n;
            if self.pos == self.ahead.len() {
                self.ahead = Vec::new();
                self.pos = 0;
            }
            n
        } else {
            let mut sock = Sync {
                io: &mut self.io,
                cx,
            };
            match self.conn.read_tls(&mut sock) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        };
        if n == 0 {
            self.eof = true;
        }
        if let Err(e) = self.conn.process_new_packets() {
            // The alert rustls queued says why; send it, best effort.
            let _ = self.poll_records(cx);
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TlsPoll {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match this.conn.reader().read(buf.initialize_unfilled()) {
                // 0: close_notify received, the clean end.
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            if this.eof {
                // The socket ended without close_notify: rustls said so above
                // (UnexpectedEof) unless it had nothing at all; end of stream then.
                return Poll::Ready(Ok(()));
            }
            match this.poll_ciphertext(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            // A key update (say) asks for an answer; a blocked socket can wait.
            if let Poll::Ready(Err(e)) = this.poll_records(cx) {
                return Poll::Ready(Err(e));
            }
        }
    }
}

impl TlsPoll {
    /// Hands plaintext to rustls with `write` (`len` bytes offered) and pushes the
    /// records out as far as the socket takes them.
    fn poll_plaintext(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        write: impl Fn(&mut rustls::Writer<'_>) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let n = write(&mut self.conn.writer())?;
            let flushed = self.poll_records(cx)?;
            if n > 0 || len == 0 {
                return Poll::Ready(Ok(n));
            }
            // rustls's buffer is full: wait for the socket to take records.
            if flushed.is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl AsyncWrite for TlsPoll {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_plaintext(cx, buf.len(), |w| w.write(buf))
    }

    /// h2 writes a DATA frame as its header and its payload: vectored, the two go into
    /// one TLS record and one send instead of two of each.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.get_mut()
            .poll_plaintext(cx, len, |w| w.write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_records(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.eof {
            this.conn.send_close_notify();
        }
        match this.poll_records(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_shutdown(cx),
            other => other,
        }
    }
}

/// The socket as `io::Read`/`io::Write` for rustls, within one poll: "not ready"
/// becomes `WouldBlock` (the waker is registered by the poll underneath).
struct Sync<'a, 'b> {
    io: &'a mut TcpStreamPoll,
    cx: &'a mut Context<'b>,
}

impl Read for Sync<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(out);
        match Pin::new(&mut *self.io).poll_read(self.cx, &mut buf) {
            Poll::Ready(Ok(())) => Ok(buf.filled().len()),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Sync<'_, '_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, data) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write_vectored(self.cx, bufs) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
