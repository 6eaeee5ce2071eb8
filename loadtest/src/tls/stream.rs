//! A connection's byte stream for the HTTP/1.1 code of both tools: a plain monoio socket
//! (owned-buffer I/O, io_uring where available) or a TLS stream (tokio-rustls over monoio's
//! poll-io socket), behind the same two calls: append what arrives to a `Vec`, write all of
//! a buffer.
//!
//! [`Prefixed`] replays bytes already read before handing a stream to another reader (the
//! mock's protocol sniffing: TLS or not, HTTP/1.1 or the HTTP/2 preface).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Poll-style I/O (tokio's traits): what tokio-rustls and h2 are written against.
pub trait PollIo: AsyncRead + AsyncWrite + Unpin {}

impl<T: AsyncRead + AsyncWrite + Unpin> PollIo for T {}

/// Plaintext is read into this scratch area and copied out (a `Vec`'s spare capacity is
/// uninitialised, and filling it in place would take unsafe code).
const SCRATCH: usize = 16 * 1024;

/// A plain or TLS byte stream.
pub enum Stream {
    /// Cleartext on the monoio socket.
    Plain(TcpStream),
    /// TLS: the handshake is done.
    Tls {
        /// The TLS stream (client or server side).
        io: Box<dyn PollIo>,
        /// Plaintext lands here first.
        scratch: Vec<u8>,
    },
}

impl Stream {
    /// Wraps a finished TLS stream.
    pub fn tls(io: Box<dyn PollIo>) -> Stream {
        Stream::Tls {
            io,
            scratch: Vec::new(),
        }
    }

    /// True for TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls { .. })
    }

    /// Reads into `buf`'s spare capacity (the caller reserves it) and returns the bytes
    /// added; 0 at end of stream. A TLS peer that closes without close_notify also reads
    /// as end of stream: every framing the tools use detects truncation by itself.
    pub async fn read_append(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => {
                let owned = std::mem::take(buf);
                let (len, cap) = (owned.len(), owned.capacity());
                let (res, slice) = s.read(owned.slice_mut(len..cap)).await;
                *buf = slice.into_inner();
                res
            }
            Stream::Tls { io, scratch } => {
                if scratch.is_empty() {
                    scratch.resize(SCRATCH, 0);
                }
                let want = (buf.capacity() - buf.len()).clamp(1, SCRATCH);
                let mut rb = ReadBuf::new(&mut scratch[..want]);
                let res = poll_fn(|cx| Pin::new(&mut *io).poll_read(cx, &mut rb)).await;
                match res {
                    Ok(()) => {
                        let got = rb.filled();
                        buf.extend_from_slice(got);
                        Ok(got.len())
                    }
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Writes all of `buf` and hands it back.
    pub async fn write_all<B>(&mut self, buf: B) -> (io::Result<()>, B)
    where
        B: IoBuf + AsRef<[u8]> + 'static,
    {
        match self {
            Stream::Plain(s) => {
                let (res, buf) = s.write_all(buf).await;
                (res.map(|_| ()), buf)
            }
            Stream::Tls { io, .. } => {
                let res = write_all_poll(&mut **io, buf.as_ref()).await;
                (res, buf)
            }
        }
    }

    /// TLS: sends close_notify and flushes (errors ignored). Plain: nothing.
    pub async fn close_notify(&mut self) {
        if let Stream::Tls { io, .. } = self {
            let _ = poll_fn(|cx| Pin::new(&mut **io).poll_shutdown(cx)).await;
        }
    }
}

/// Writes all of `data` to a poll-style stream, then flushes it.
pub async fn write_all_poll<T: AsyncWrite + Unpin + ?Sized>(
    io: &mut T,
    mut data: &[u8],
) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *io).poll_write(cx, data)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
    }
    poll_fn(|cx| Pin::new(&mut *io).poll_flush(cx)).await
}

/// A stream that first replays bytes already read from it.
pub struct Prefixed<T> {
    pre: Vec<u8>,
    pos: usize,
    inner: T,
}

impl<T> Prefixed<T> {
    /// `inner`, with `pre` read first.
    pub fn new(pre: Vec<u8>, inner: T) -> Self {
        Self { pre, pos: 0, inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.pre.len() {
            let n = (self.pre.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.pre[start..start + n]);
            self.pos += n;
            if self.pos == self.pre.len() {
                self.pre = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
