//! A connection's byte stream, plain TCP or TLS, behind monoio's owned-buffer traits
//! (`AsyncReadRent`, `AsyncWriteRent`), so that the HTTP/1.1 loop, the proxy, body
//! copies, tunnels and the LLM relay are written once for both. Client connections and
//! pooled upstream connections both hold a [`Stream`]; which side of TLS it speaks is
//! the session's business.
//!
//! The match per call is the whole cost for plain connections: no box, no virtual call.

use std::io;

use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut, IoVecWrapper, IoVecWrapperMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, Splitable};
use monoio::net::tcp::{TcpOwnedReadHalf, TcpOwnedWriteHalf};
use monoio::net::TcpStream;
use monoio::BufResult;

use super::conn::{TlsConn, TlsReadHalf, TlsWriteHalf};

/// A plain or TLS connection.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    /// Boxed: a rustls session is a few hundred bytes and most connections are plain.
    Tls(Box<TlsConn>),
    /// One HTTP/2 request stream, seen as HTTP/1.1 bytes (`h2/bridge.rs`).
    H2(crate::h2::H2Stream),
    /// A plain socket taken out for a while ([`Stream::detach_plain`]) by a task that
    /// uses its two halves at once (the LLM relay watches the read side while it writes)
    /// and puts it back. Meanwhile reads see end of stream and writes fail.
    Detached,
}

impl Stream {
    /// The client's bytes are encrypted (for an HTTP/2 stream: its connection's).
    pub fn is_tls(&self) -> bool {
        match self {
            Stream::Plain(_) | Stream::Detached => false,
            Stream::Tls(_) => true,
            Stream::H2(s) => s.is_tls(),
        }
    }

    /// The TLS session, for a TLS connection.
    pub fn tls(&self) -> Option<&TlsConn> {
        match self {
            Stream::Tls(t) => Some(t),
            Stream::Plain(_) | Stream::H2(_) | Stream::Detached => None,
        }
    }

    /// Takes a plain connection's socket out, leaving [`Stream::Detached`] until the
    /// caller puts a `Stream::Plain` back. `None`, and nothing changed, for TLS and
    /// HTTP/2.
    pub fn detach_plain(&mut self) -> Option<TcpStream> {
        match std::mem::replace(self, Stream::Detached) {
            Stream::Plain(tcp) => Some(tcp),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Completes when a read would not wait. For TLS that means plaintext (or the end),
    /// not just a readable socket: see [`TlsConn::readable`].
    pub async fn readable(&mut self, relaxed: bool) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.readable(relaxed).await,
            Stream::Tls(t) => t.readable(relaxed).await,
            Stream::H2(s) => s.readable().await,
            // A read returns at once (end of stream).
            Stream::Detached => Ok(()),
        }
    }

    /// Splits into halves that read and write concurrently (a tunnel). An HTTP/2
    /// stream does not split (HTTP/2 has no upgrade): it comes back as it was.
    pub fn into_split(self) -> Result<(ReadHalf, WriteHalf), Stream> {
        match self {
            Stream::Plain(s) => {
                let (r, w) = s.into_split();
                Ok((ReadHalf::Plain(r), WriteHalf::Plain(w)))
            }
            Stream::Tls(t) => {
                let (r, w) = t.into_split();
                Ok((ReadHalf::Tls(Box::new(r)), WriteHalf::Tls(Box::new(w))))
            }
            other @ (Stream::H2(_) | Stream::Detached) => Err(other),
        }
    }
}

impl AsyncReadRent for Stream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(t) => t.read(buf).await,
            Stream::H2(s) => s.read(buf).await,
            Stream::Detached => (Ok(0), buf),
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        if let Stream::Plain(s) = self {
            return s.readv(buf).await;
        }
        // Into the first buffer only: a read may always return less.
        match IoVecWrapperMut::new(buf) {
            Ok(first) => {
                let (res, first) = self.read(first).await;
                (res, first.into_inner())
            }
            Err(buf) => (Ok(0), buf),
        }
    }
}

impl AsyncWriteRent for Stream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.write(buf).await,
            Stream::Tls(t) => t.write(buf).await,
            Stream::H2(s) => s.write(buf).await,
            Stream::Detached => (Err(io::ErrorKind::NotConnected.into()), buf),
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        if let Stream::Plain(s) = self {
            return s.writev(buf).await;
        }
        // The first buffer only: a write may always take less.
        match IoVecWrapper::new(buf) {
            Ok(first) => {
                let (res, first) = self.write(first).await;
                (res, first.into_inner())
            }
            Err(buf) => (Ok(0), buf),
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush().await,
            Stream::Tls(t) => t.flush().await,
            // Every write is handed to h2 before it returns; h2 flushes.
            Stream::H2(_) | Stream::Detached => Ok(()),
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(t) => t.shutdown().await,
            // The stream ends when the request is done (`H2Stream::finish`).
            Stream::H2(_) | Stream::Detached => Ok(()),
        }
    }
}

/// The reading half of a split [`Stream`].
pub enum ReadHalf {
    Plain(TcpOwnedReadHalf),
    Tls(Box<TlsReadHalf>),
}

impl AsyncReadRent for ReadHalf {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            ReadHalf::Plain(s) => s.read(buf).await,
            ReadHalf::Tls(t) => t.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match IoVecWrapperMut::new(buf) {
            Ok(first) => {
                let (res, first) = self.read(first).await;
                (res, first.into_inner())
            }
            Err(buf) => (Ok(0), buf),
        }
    }
}

/// The writing half of a split [`Stream`].
pub enum WriteHalf {
    Plain(TcpOwnedWriteHalf),
    Tls(Box<TlsWriteHalf>),
}

impl AsyncWriteRent for WriteHalf {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            WriteHalf::Plain(s) => s.write(buf).await,
            WriteHalf::Tls(t) => t.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match IoVecWrapper::new(buf) {
            Ok(first) => {
                let (res, first) = self.write(first).await;
                (res, first.into_inner())
            }
            Err(buf) => (Ok(0), buf),
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(s) => s.flush().await,
            // Every TLS write goes out before it returns.
            WriteHalf::Tls(_) => Ok(()),
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(s) => s.shutdown().await,
            WriteHalf::Tls(t) => t.shutdown().await,
        }
    }
}
