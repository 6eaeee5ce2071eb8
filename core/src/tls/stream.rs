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
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The TLS session, for a TLS connection.
    pub fn tls(&self) -> Option<&TlsConn> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(t) => Some(t),
        }
    }

    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.socket(),
        }
    }

    /// Completes when a read would not wait. For TLS that means plaintext (or the end),
    /// not just a readable socket: see [`TlsConn::readable`].
    pub async fn readable(&mut self, relaxed: bool) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.readable(relaxed).await,
            Stream::Tls(t) => t.readable(relaxed).await,
        }
    }

    /// Splits into halves that read and write concurrently (a tunnel).
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Stream::Plain(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Plain(r), WriteHalf::Plain(w))
            }
            Stream::Tls(t) => {
                let (r, w) = t.into_split();
                (ReadHalf::Tls(Box::new(r)), WriteHalf::Tls(Box::new(w)))
            }
        }
    }
}

impl AsyncReadRent for Stream {
    async fn read<T: IoBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(t) => t.read(buf).await,
        }
    }

    async fn readv<T: IoVecBufMut>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.readv(buf).await,
            // Into the first buffer only: a read may always return less.
            Stream::Tls(t) => match IoVecWrapperMut::new(buf) {
                Ok(first) => {
                    let (res, first) = t.read(first).await;
                    (res, first.into_inner())
                }
                Err(buf) => (Ok(0), buf),
            },
        }
    }
}

impl AsyncWriteRent for Stream {
    async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.write(buf).await,
            Stream::Tls(t) => t.write(buf).await,
        }
    }

    async fn writev<T: IoVecBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Plain(s) => s.writev(buf).await,
            // The first buffer only: a write may always take less.
            Stream::Tls(t) => match IoVecWrapper::new(buf) {
                Ok(first) => {
                    let (res, first) = t.write(first).await;
                    (res, first.into_inner())
                }
                Err(buf) => (Ok(0), buf),
            },
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush().await,
            Stream::Tls(t) => t.flush().await,
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(t) => t.shutdown().await,
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
