//! A TLS connection over a monoio TCP socket: rustls's sans-I/O session, driven with
//! owned-buffer socket reads and writes.
//!
//! - Reads: one socket read of ciphertext into the connection's own buffer, fed to rustls
//!   record by record (so its plaintext buffer stays under its limit); plaintext is copied
//!   straight from rustls into the caller's buffer. A read returns at most one record's
//!   plaintext; `Ok(0)` is a clean end (close_notify), an `UnexpectedEof` error a TCP
//!   close without one.
//! - Writes: the caller's bytes go into rustls, and the records it makes go out in one
//!   socket write before the call returns (nothing is left buffered, so no flush is
//!   needed between a response and the next read).
//! - Cancellation (a time-out or a `select!` dropping a read or write half way) never
//!   panics: a cancelled read leaves the buffer empty and the next read starts another
//!   (under io_uring the cancelled read may have taken bytes, which then fail the next
//!   record's authentication: the connection ends with an error, never with wrong
//!   bytes); after a cancelled write, which may have sent part of a record, every later
//!   write fails with `BrokenPipe`.
//! - A rustls error (a bad record, an alert) is sticky: every later read fails with it,
//!   and the alert rustls queued goes out with the next write or flush.
//! - [`TlsConn::readable`] waits for plaintext (or the end), not just socket readiness: it
//!   reads and processes records that carry no data (a key update, a warning alert), so a
//!   read after it does not wait.
//! - [`TlsConn::into_split`] gives read and write halves over the socket's halves and one
//!   shared session (a `RefCell` never borrowed across an await), for tunnels.
//!
//! Never here: buffering plaintext of our own, or any lock (the session is core-local).

use std::cell::RefCell;
use std::io::{self, BufRead, Write};
use std::rc::Rc;

use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, Splitable};
use monoio::net::tcp::{TcpOwnedReadHalf, TcpOwnedWriteHalf};
use monoio::net::TcpStream;
use monoio::BufResult;
use rustls::Connection;

use super::buf;

/// Ciphertext read from the socket at once: a full TLS record plus its header.
const READ_SIZE: usize = 16 * 1024 + 512;
/// A write buffer that grew past this (a write larger than a pooled read buffer's
/// records) is released afterwards, so an idle connection holds at most this much.
const KEEP_WRITE_BUF: usize = 32 * 1024;
/// The first byte of a TLS handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

/// Why a handshake failed.
#[derive(Debug)]
pub enum HandshakeError {
    /// The peer closed the connection before the handshake completed.
    Closed,
    /// The first bytes are not a TLS handshake record (plain HTTP to a TLS port, say).
    NotTls,
    Io(io::Error),
    /// rustls refused the handshake (the alert it sent, if any, has gone out).
    Tls(rustls::Error),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Closed => {
                f.write_str("peer closed the connection during the handshake")
            }
            HandshakeError::NotTls => f.write_str("peer did not start with a TLS handshake"),
            HandshakeError::Io(e) => write!(f, "{e}"),
            HandshakeError::Tls(e) => write!(f, "{e}"),
        }
    }
}

/// A TLS session over a TCP socket. See the module doc.
pub struct TlsConn {
    io: TcpStream,
    conn: Connection,
    /// Ciphertext from the socket; `rpos` is how much of it rustls has taken.
    rbuf: Vec<u8>,
    rpos: usize,
    /// Ciphertext for the socket (kept between writes to save an allocation).
    wbuf: Vec<u8>,
    /// A write is in flight, or was cancelled.
    writing: bool,
    /// The first rustls error; later reads repeat it.
    failed: Option<rustls::Error>,
}

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConn")
            .field("version", &self.conn.protocol_version())
            .field("handshaking", &self.conn.is_handshaking())
            .finish_non_exhaustive()
    }
}

impl TlsConn {
    pub fn new(io: TcpStream, conn: Connection) -> TlsConn {
        TlsConn {
            io,
            conn,
            rbuf: Vec::new(),
            rpos: 0,
            wbuf: Vec::new(),
            writing: false,
            failed: None,
        }
    }

    /// The rustls session: version, ALPN, SNI, peer certificates.
    pub fn session(&self) -> &Connection {
        &self.conn
    }

    /// The TCP socket underneath.
    pub fn socket(&self) -> &TcpStream {
        &self.io
    }

    /// Runs the handshake to its end; the caller bounds it in time. Records that came
    /// after the handshake's last message in the same read stay buffered for `read`.
    pub async fn handshake(&mut self) -> Result<(), HandshakeError> {
        let mut first = true;
        loop {
            self.flush().await.map_err(HandshakeError::Io)?;
            if !self.conn.is_handshaking() {
                return Ok(());
            }
            if !self.buffered() {
                let more = self.pull_socket().await.map_err(HandshakeError::Io)?;
                if !more {
                    return Err(HandshakeError::Closed);
                }
                let server = matches!(self.conn, Connection::Server(_));
                if first && server && self.rbuf.first() != Some(&HANDSHAKE_RECORD) {
                    return Err(HandshakeError::NotTls);
                }
                first = false;
            }
            if let Err(e) = self.feed() {
                // rustls queued an alert saying why: send it, best effort.
                let _ = self.flush().await;
                return Err(HandshakeError::Tls(e));
            }
        }
    }

    /// Reads plaintext into `buf` (from its `write_ptr`, as a socket read would).
    pub async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        loop {
            if let Some(e) = &self.failed {
                return (Err(tls_error(e)), buf);
            }
            match self.conn.reader().fill_buf() {
                Ok(plain) => {
                    // An empty chunk here is the clean end (close_notify received).
                    let n = buf::fill(&mut buf, plain);
                    self.conn.reader().consume(n);
                    return (Ok(n), buf);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return (Err(e), buf),
            }
            if !self.buffered() {
                match self.pull_socket().await {
                    Ok(_) => {}
                    Err(e) => return (Err(e), buf),
                }
            }
            if let Err(e) = self.feed() {
                let _ = self.flush().await;
                return (Err(tls_error(&e)), buf);
            }
            // A key update or the like asks for an answer.
            if let Err(e) = self.flush().await {
                return (Err(e), buf);
            }
        }
    }

    /// Completes when a read would not wait: plaintext is buffered, the peer closed, or
    /// the session failed. Records without data are read and processed on the way, so
    /// that what follows this is a read that returns at once.
    pub async fn readable(&mut self, relaxed: bool) -> io::Result<()> {
        loop {
            if self.failed.is_some() {
                return Ok(());
            }
            match self.conn.reader().fill_buf() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                _ => return Ok(()),
            }
            if !self.buffered() {
                self.io.readable(relaxed).await?;
                self.pull_socket().await?;
            }
            // A failure is kept for the read that follows.
            let _ = self.feed();
        }
    }

    /// Encrypts `buf` and writes the records; returns how much of `buf` was taken.
    pub async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let n = match self.conn.writer().write(buf::bytes(&buf)) {
            Ok(n) => n,
            Err(e) => return (Err(e), buf),
        };
        match self.flush().await {
            Ok(()) => (Ok(n), buf),
            Err(e) => (Err(e), buf),
        }
    }

    /// Sends close_notify, then shuts the socket's sending side.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush().await?;
        self.io.shutdown().await
    }

    /// Writes whatever records rustls has ready.
    pub async fn flush(&mut self) -> io::Result<()> {
        write_records(
            &mut self.conn,
            &mut self.io,
            &mut self.wbuf,
            &mut self.writing,
        )
        .await
    }

    /// The socket, the session and the ciphertext read but not yet given to rustls,
    /// for a driver of another kind (HTTP/2 over readiness, `tls/poll.rs`). `None`
    /// while a write is in flight or after one was cancelled, or after a failure.
    pub fn into_parts(self) -> Option<(TcpStream, Connection, Vec<u8>)> {
        if self.writing || self.failed.is_some() || !self.wbuf.is_empty() {
            return None;
        }
        let mut rest = self.rbuf;
        rest.drain(..self.rpos);
        Some((self.io, self.conn, rest))
    }

    /// Splits into halves that read and write concurrently (a tunnel).
    pub fn into_split(self) -> (TlsReadHalf, TlsWriteHalf) {
        let (r, w) = self.io.into_split();
        let shared = Rc::new(RefCell::new(Shared {
            conn: self.conn,
            failed: self.failed,
        }));
        (
            TlsReadHalf {
                io: r,
                shared: shared.clone(),
                rbuf: self.rbuf,
                rpos: self.rpos,
            },
            TlsWriteHalf {
                io: w,
                shared,
                wbuf: self.wbuf,
                writing: self.writing,
            },
        )
    }

    fn buffered(&self) -> bool {
        self.rpos < self.rbuf.len()
    }

    /// One socket read of ciphertext into the (empty) buffer; false at end of stream,
    /// which rustls is told about.
    async fn pull_socket(&mut self) -> io::Result<bool> {
        let more = read_socket(&mut self.io, &mut self.rbuf, &mut self.rpos).await?;
        if !more {
            // Marks the end for rustls: its reader then says whether it was clean.
            let _ = self.conn.read_tls(&mut io::empty());
        }
        Ok(more)
    }

    /// Gives rustls the buffered ciphertext, record by record, until plaintext appears
    /// or the buffer is used up.
    fn feed(&mut self) -> Result<(), rustls::Error> {
        let r = feed(&mut self.conn, &self.rbuf, &mut self.rpos);
        if let Err(e) = &r {
            self.failed.get_or_insert_with(|| e.clone());
        }
        r
    }
}

/// Reads once from the socket into `rbuf` (emptied first); false at end of stream.
async fn read_socket<R: AsyncReadRent>(
    io: &mut R,
    rbuf: &mut Vec<u8>,
    rpos: &mut usize,
) -> io::Result<bool> {
    // Taken out for the read: a cancelled read leaves an empty buffer behind.
    let mut b = std::mem::take(rbuf);
    b.clear();
    *rpos = 0;
    if b.capacity() < READ_SIZE {
        b.reserve(READ_SIZE);
    }
    let (res, b) = io.read(b).await;
    *rbuf = b;
    Ok(res? > 0)
}

fn feed(conn: &mut Connection, rbuf: &[u8], rpos: &mut usize) -> Result<(), rustls::Error> {
    while *rpos < rbuf.len() {
        let mut rest = &rbuf[*rpos..];
        match conn.read_tls(&mut rest) {
            // close_notify came: nothing more is read.
            Ok(0) => {
                *rpos = rbuf.len();
                break;
            }
            Ok(n) => *rpos += n,
            // Its plaintext buffer is full: the reader drains it first.
            Err(_) if has_plaintext(conn) => break,
            // Its record buffer is full without a complete record: not TLS we can take.
            Err(e) => return Err(rustls::Error::General(e.to_string())),
        }
        let state = conn.process_new_packets()?;
        if state.plaintext_bytes_to_read() > 0 {
            break;
        }
    }
    Ok(())
}

/// Writes what rustls has ready in one socket write. `writing` stays set when the write
/// is cancelled, and then every later write fails: part of a record may have gone out.
async fn write_records<W: AsyncWriteRent>(
    conn: &mut Connection,
    io: &mut W,
    wbuf: &mut Vec<u8>,
    writing: &mut bool,
) -> io::Result<()> {
    if !conn.wants_write() {
        return Ok(());
    }
    if *writing {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "an earlier TLS write was cancelled half way",
        ));
    }
    let mut out = std::mem::take(wbuf);
    out.clear();
    while conn.wants_write() {
        conn.write_tls(&mut out)?;
    }
    *writing = true;
    let (res, mut out) = io.write_all(out).await;
    *writing = false;
    if out.capacity() <= KEEP_WRITE_BUF {
        out.clear();
        *wbuf = out;
    }
    res.map(|_| ())
}

fn has_plaintext(conn: &mut Connection) -> bool {
    conn.reader().fill_buf().is_ok_and(|p| !p.is_empty())
}

fn tls_error(e: &rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.clone())
}

/// The session both halves of a split connection use; borrowed only between awaits.
struct Shared {
    conn: Connection,
    failed: Option<rustls::Error>,
}

/// The reading half of a split [`TlsConn`].
pub struct TlsReadHalf {
    io: TcpOwnedReadHalf,
    shared: Rc<RefCell<Shared>>,
    rbuf: Vec<u8>,
    rpos: usize,
}

impl TlsReadHalf {
    pub async fn read<T: IoBufMut>(&mut self, mut buf: T) -> BufResult<usize, T> {
        loop {
            {
                let mut s = self.shared.borrow_mut();
                if let Some(e) = &s.failed {
                    return (Err(tls_error(e)), buf);
                }
                match s.conn.reader().fill_buf() {
                    Ok(plain) => {
                        let n = buf::fill(&mut buf, plain);
                        s.conn.reader().consume(n);
                        return (Ok(n), buf);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return (Err(e), buf),
                }
            }
            if self.rpos >= self.rbuf.len() {
                match read_socket(&mut self.io, &mut self.rbuf, &mut self.rpos).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = self.shared.borrow_mut().conn.read_tls(&mut io::empty());
                    }
                    Err(e) => return (Err(e), buf),
                }
            }
            let mut s = self.shared.borrow_mut();
            if let Err(e) = feed(&mut s.conn, &self.rbuf, &mut self.rpos) {
                // The alert rustls queued goes out with the write half's next write.
                s.failed.get_or_insert_with(|| e.clone());
            }
        }
    }
}

/// The writing half of a split [`TlsConn`].
pub struct TlsWriteHalf {
    io: TcpOwnedWriteHalf,
    shared: Rc<RefCell<Shared>>,
    wbuf: Vec<u8>,
    writing: bool,
}

impl TlsWriteHalf {
    pub async fn write<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        let mut out = std::mem::take(&mut self.wbuf);
        out.clear();
        let n = {
            let mut s = self.shared.borrow_mut();
            let n = match s.conn.writer().write(buf::bytes(&buf)) {
                Ok(n) => n,
                Err(e) => return (Err(e), buf),
            };
            while s.conn.wants_write() {
                if let Err(e) = s.conn.write_tls(&mut out) {
                    return (Err(e), buf);
                }
            }
            n
        };
        if self.writing {
            let e = io::Error::new(
                io::ErrorKind::BrokenPipe,
                "an earlier TLS write was cancelled half way",
            );
            return (Err(e), buf);
        }
        self.writing = true;
        let (res, mut out) = self.io.write_all(out).await;
        self.writing = false;
        if out.capacity() <= KEEP_WRITE_BUF {
            out.clear();
            self.wbuf = out;
        }
        match res {
            Ok(_) => (Ok(n), buf),
            Err(e) => (Err(e), buf),
        }
    }

    /// Sends close_notify and shuts the socket's sending side.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.shared.borrow_mut().conn.send_close_notify();
        let (res, _) = self.write(Vec::new()).await;
        res?;
        self.io.shutdown().await
    }
}
