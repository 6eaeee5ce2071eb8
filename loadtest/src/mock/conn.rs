//! One client connection: read request heads (httparse) and bodies (Content-Length or
//! chunked), answer in order, keep alive, and batch the answers to pipelined requests into
//! one write. Buffers come from the worker's pool and go back to it.
//!
//! With TLS on, the first bytes decide: a TLS handshake record starts the handshake
//! ([`crate::tls::server::accept`]), anything else is served as cleartext; after a TLS
//! connection ends the mock sends close_notify (not after a reset fault).
//!
//! Never panics on peer bytes: a bad head gets a 400, an oversized one 431, a bad body
//! 400, a body over `--max-body` (when the mock must read it) 413; each closes the
//! connection.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use monoio::net::TcpStream;

use super::route::{self, Head};
use super::send::{self, Plan};
use super::Worker;
use crate::h1::{ChunkedDecoder, Framing};
use crate::tls::stream::{Prefixed, Stream};

const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 100;

/// The connection's socket and buffers.
pub struct Io {
    /// The socket, cleartext or TLS.
    pub stream: Stream,
    /// A second handle on the same socket, for options monoio does not expose (SO_LINGER).
    pub raw: std::net::TcpStream,
    /// Received bytes; `pos` is where the unparsed part starts.
    pub inb: Vec<u8>,
    /// Start of unparsed input.
    pub pos: usize,
    /// Responses not yet written.
    pub out: Vec<u8>,
    /// SO_LINGER 0 is armed: closing sends RST (and no TLS close_notify).
    pub reset: bool,
}

impl Io {
    /// Reads more input. Returns 0 at end of stream.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.pos == self.inb.len() {
            self.inb.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.inb.capacity() - self.inb.len() < 4096 {
            self.inb.drain(..self.pos);
            self.pos = 0;
        }
        if self.inb.capacity() - self.inb.len() < 4096 {
            self.inb.reserve(16 * 1024);
        }
        self.stream.read_append(&mut self.inb).await
    }

    /// Writes everything in `out`.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.out);
        let (res, mut buf) = self.stream.write_all(buf).await;
        buf.clear();
        self.out = buf;
        res
    }

    /// Writes `bytes` now (after anything pending).
    pub async fn send(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        self.flush().await?;
        self.stream.write_all(bytes).await.0
    }

    fn unparsed(&self) -> &[u8] {
        &self.inb[self.pos..]
    }
}

/// Serves one accepted connection until it closes.
pub async fn serve(w: Rc<Worker>, stream: TcpStream, raw: std::net::TcpStream) {
    w.stats.connection_opened(w.index);
    let _ = stream.set_nodelay(true);
    let mut inb = w.take_buf();
    let stream = match &w.tls {
        None => Stream::Plain(stream),
        Some(acceptor) => match crate::tls::server::accept(acceptor, stream, &mut inb).await {
            Ok(a) => {
                if let Some(resumed) = a.resumed {
                    w.stats.tls_handshake(w.index, resumed);
                }
                a.stream
            }
            Err(_) => {
                w.put_buf(inb);
                w.stats.connection_closed(w.index);
                return;
            }
        },
    };
    let mut io = Io {
        stream,
        raw,
        inb,
        pos: 0,
        out: w.take_buf(),
        reset: false,
    };
    if let Ok(Next::H2) = drive(&w, &mut io).await {
        let Io {
            stream,
            inb,
            pos,
            out,
            ..
        } = io;
        let already = inb[pos..].to_vec();
        w.put_buf(inb);
        w.put_buf(out);
        let _ = match stream {
            Stream::Plain(tcp) => match tcp.try_into_poll_io() {
                Ok(poll) => super::h2::serve(&w, Prefixed::new(already, poll)).await,
                Err((e, _)) => Err(e),
            },
            Stream::Tls { io, .. } => super::h2::serve(&w, Prefixed::new(already, io)).await,
        };
    } else {
        if !io.reset && io.stream.is_tls() {
            // Bounded: a peer that stopped reading must not keep the task alive.
            let _ = monoio::time::timeout(Duration::from_secs(1), io.stream.close_notify()).await;
        }
        w.put_buf(std::mem::take(&mut io.inb));
        w.put_buf(std::mem::take(&mut io.out));
    }
    w.stats.connection_closed(w.index);
}

/// Why [`drive`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// The connection is finished.
    Done,
    /// The client sent the HTTP/2 preface: switch protocols.
    H2,
}

async fn drive(w: &Rc<Worker>, io: &mut Io) -> io::Result<Next> {
    let mut first = true;
    loop {
        if first {
            let u = io.unparsed();
            let n = u.len().min(super::h2::PREFACE.len());
            if n > 0 && u[..n] == super::h2::PREFACE[..n] {
                if n == super::h2::PREFACE.len() {
                    return Ok(Next::H2);
                }
                if io.fill().await? == 0 {
                    return Ok(Next::Done);
                }
                continue;
            }
        }
        // None: the head is incomplete; Some(Err): it is malformed.
        let parsed: Option<Result<Head, ()>> = {
            let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut hs);
            match req.parse(io.unparsed()) {
                Ok(httparse::Status::Complete(n)) => {
                    Some(Ok(route::read_head(w, &req, &io.inb[io.pos..io.pos + n])))
                }
                Ok(httparse::Status::Partial) => None,
                Err(_) => Some(Err(())),
            }
        };
        let mut head = match parsed {
            None => {
                if io.unparsed().len() > MAX_HEAD {
                    return fail(io, 431).await.map(|_| Next::Done);
                }
                io.flush().await?;
                if io.fill().await? == 0 {
                    return Ok(Next::Done);
                }
                continue;
            }
            Some(Err(())) => return fail(io, 400).await.map(|_| Next::Done),
            Some(Ok(h)) => h,
        };
        io.pos += head.len;
        if head.is_control() {
            if first {
                w.stats.uncount_connection(w.index);
            }
        } else {
            w.stats.request(w.index);
        }
        first = false;
        let Some(framing) = head.framing else {
            return fail(io, 400).await.map(|_| Next::Done);
        };
        let keep = head.wants_body();
        let body =
            match read_body(io, framing, keep, w.cfg.max_body, head.ctl.expect_continue).await? {
                BodyRead::Ok(b) => b,
                BodyRead::Bad => return fail(io, 400).await.map(|_| Next::Done),
                BodyRead::TooLarge => return fail(io, 413).await.map(|_| Next::Done),
                BodyRead::Eof => return Ok(Next::Done),
            };
        if head.record {
            if let Some(e) = &head.echo {
                head.log_seq = w.log.push(w.index, e.to_value(&body));
            }
        }
        let plan = route::respond(w, &head, &body, &mut io.out);
        match plan {
            Plan::Sent { close: false } => {}
            Plan::Sent { close: true } => {
                io.flush().await?;
                return Ok(Next::Done);
            }
            other => {
                if send::execute(w, io, other).await? == send::After::Close {
                    return Ok(Next::Done);
                }
            }
        }
    }
}

async fn fail(io: &mut Io, status: u16) -> io::Result<()> {
    let shape = super::plain::Shape {
        status,
        headers: &[],
        content_type: Some("text/plain"),
        chunked: false,
        close: true,
        head_only: false,
    };
    let body = format!("tollgate-mock: {}\n", super::plain::reason(status));
    super::plain::write_response(&mut io.out, &shape, body.as_bytes());
    io.flush().await
}

enum BodyRead {
    Ok(Vec<u8>),
    Bad,
    TooLarge,
    Eof,
}

/// Consumes the request body; keeps it only when `keep` (echo, LLM).
async fn read_body(
    io: &mut Io,
    framing: Framing,
    keep: bool,
    max: usize,
    expect_continue: bool,
) -> io::Result<BodyRead> {
    let mut body = Vec::new();
    let mut continued = false;
    match framing {
        Framing::None | Framing::UntilClose => {}
        Framing::Length(n) => {
            if keep && n > max as u64 {
                return Ok(BodyRead::TooLarge);
            }
            let mut left = n;
            loop {
                let take = (io.unparsed().len() as u64).min(left) as usize;
                if keep {
                    body.extend_from_slice(&io.inb[io.pos..io.pos + take]);
                }
                io.pos += take;
                left -= take as u64;
                if left == 0 {
                    break;
                }
                if expect_continue && !continued {
                    continued = true;
                    io.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    io.flush().await?;
                }
                if io.fill().await? == 0 {
                    return Ok(BodyRead::Eof);
                }
            }
        }
        Framing::Chunked => {
            let mut dec = ChunkedDecoder::new();
            loop {
                let mut over = false;
                let res = dec.feed(&io.inb[io.pos..], |d| {
                    if keep {
                        if body.len() + d.len() > max {
                            over = true;
                        } else {
                            body.extend_from_slice(d);
                        }
                    }
                });
                match res {
                    Ok(n) => io.pos += n,
                    Err(_) => return Ok(BodyRead::Bad),
                }
                if over {
                    return Ok(BodyRead::TooLarge);
                }
                if dec.is_done() {
                    break;
                }
                if expect_continue && !continued {
                    continued = true;
                    io.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                    io.flush().await?;
                }
                if io.fill().await? == 0 {
                    return Ok(BodyRead::Eof);
                }
            }
        }
    }
    Ok(BodyRead::Ok(body))
}
