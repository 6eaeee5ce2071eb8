//! One HTTP/1.1 client connection (cleartext, or TLS when a [`Connector`] is given): send a preformatted request, read the response head
//! (httparse) and body (Content-Length, chunked or until close), and, for
//! `text/event-stream` bodies, run the SSE parser and stream tracker as bytes arrive.
//!
//! Failures are classified ([`ErrorKind`]); a failed connection is dropped, never reused.
//! Never panics on peer bytes.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::net::TcpStream;

use super::recorder::{record_us, ErrorKind, Recorder};
use crate::h1::{self, ChunkedDecoder, Framing};
use crate::sse::{SseParser, StreamFigures, StreamTracker};
use crate::tls::client::Connector;
use crate::tls::stream::Stream;

const MAX_HEAD: usize = 64 * 1024;

/// What a completed exchange looked like.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Time from `t0` to the complete head.
    pub ttfb: Duration,
    /// Body bytes (after de-chunking).
    pub body_bytes: u64,
    /// Event-stream figures when the body was `text/event-stream`.
    pub stream: Option<StreamFigures>,
}

/// A client connection (connected lazily), with its own TLS connector (and so its own
/// session cache) when the target is `https://`.
#[derive(Default)]
pub struct Client {
    tls: Option<Connector>,
    stream: Option<Stream>,
    buf: Vec<u8>,
    pos: usize,
}

fn classify(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionAborted => ErrorKind::Reset,
        io::ErrorKind::UnexpectedEof => ErrorKind::Closed,
        _ => ErrorKind::Reset,
    }
}

impl Client {
    /// A client that speaks TLS through `tls` when given.
    pub fn new(tls: Option<Connector>) -> Client {
        Client {
            tls,
            ..Client::default()
        }
    }

    /// True when a connection is open.
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// Drops the connection (after an error or `Connection: close`).
    pub fn disconnect(&mut self) {
        self.stream = None;
        self.buf.clear();
        self.pos = 0;
    }

    /// Opens the connection if needed (and runs the TLS handshake for a TLS client).
    /// Counts a new connection in `rec`, and the handshake.
    pub async fn ensure_connected(
        &mut self,
        addr: SocketAddr,
        rec: &RefCell<Recorder>,
    ) -> Result<(), ErrorKind> {
        if self.stream.is_some() {
            return Ok(());
        }
        let s = TcpStream::connect(addr)
            .await
            .map_err(|_| ErrorKind::Connect)?;
        let _ = s.set_nodelay(true);
        rec.borrow_mut().connections += 1;
        let s = match &self.tls {
            None => Stream::Plain(s),
            Some(c) => Stream::tls(Box::new(super::tls::handshake(c, s, rec).await?)),
        };
        self.stream = Some(s);
        self.buf.clear();
        self.pos = 0;
        if self.buf.capacity() == 0 {
            self.buf.reserve(16 * 1024);
        }
        Ok(())
    }

    async fn fill(&mut self) -> Result<usize, ErrorKind> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(ErrorKind::Closed);
        };
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        stream
            .read_append(&mut self.buf)
            .await
            .map_err(|e| classify(&e))
    }

    /// Sends `req` and reads the whole response. `t0` is the origin for TTFB and stream
    /// timings. Inter-token gaps go straight into `rec`.
    pub async fn exchange(
        &mut self,
        req: bytes::Bytes,
        head_request: bool,
        t0: Instant,
        rec: &RefCell<Recorder>,
    ) -> Result<Response, ErrorKind> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(ErrorKind::Closed);
        };
        let (res, _) = stream.write_all(req).await;
        res.map_err(|e| classify(&e))?;
        // Read heads, skipping interim 1xx responses (but not 101).
        let (status, framing, is_sse, keep_alive) = loop {
            let parsed = {
                let mut hs = [httparse::EMPTY_HEADER; 64];
                let mut r = httparse::Response::new(&mut hs);
                match r.parse(&self.buf[self.pos..]) {
                    Ok(httparse::Status::Complete(n)) => {
                        let status = r.code.unwrap_or(0);
                        let framing = h1::response_framing(head_request, status, r.headers)
                            .map_err(|_| ErrorKind::Parse)?;
                        let is_sse = h1::header(r.headers, "content-type")
                            .is_some_and(|v| v.trim_ascii().starts_with(b"text/event-stream"));
                        let keep_alive = !h1::header_has_token(r.headers, "connection", "close")
                            && (r.version == Some(1)
                                || h1::header_has_token(r.headers, "connection", "keep-alive"));
                        Some((n, status, framing, is_sse, keep_alive))
                    }
                    Ok(httparse::Status::Partial) => None,
                    Err(_) => return Err(ErrorKind::Parse),
                }
            };
            match parsed {
                Some((n, status, framing, is_sse, keep_alive)) => {
                    self.pos += n;
                    if (100..200).contains(&status) && status != 101 {
                        continue;
                    }
                    break (
                        status,
                        framing,
                        is_sse,
                        keep_alive && framing != Framing::UntilClose,
                    );
                }
                None => {
                    if self.buf.len() - self.pos > MAX_HEAD {
                        return Err(ErrorKind::Parse);
                    }
                    if self.fill().await? == 0 {
                        return Err(ErrorKind::Closed);
                    }
                }
            }
        };
        let ttfb = t0.elapsed();
        let mut sse = is_sse.then(|| (SseParser::default(), StreamTracker::new()));
        let mut body_bytes = 0u64;
        let mut on_data = |data: &[u8]| {
            body_bytes += data.len() as u64;
            if let Some((parser, tracker)) = sse.as_mut() {
                let at = t0.elapsed();
                parser.feed(data, |ev| {
                    if let Some(gap) = tracker.on_event(&ev, at) {
                        record_us(&mut rec.borrow_mut().sse.itl, gap);
                    }
                });
            }
        };
        match framing {
            Framing::None => {}
            Framing::Length(mut left) => loop {
                let take = ((self.buf.len() - self.pos) as u64).min(left) as usize;
                on_data(&self.buf[self.pos..self.pos + take]);
                self.pos += take;
                left -= take as u64;
                if left == 0 {
                    break;
                }
                if self.fill().await? == 0 {
                    return Err(ErrorKind::Closed);
                }
            },
            Framing::Chunked => {
                let mut dec = ChunkedDecoder::new();
                loop {
                    let n = dec
                        .feed(&self.buf[self.pos..], &mut on_data)
                        .map_err(|_| ErrorKind::Parse)?;
                    self.pos += n;
                    if dec.is_done() {
                        break;
                    }
                    if self.fill().await? == 0 {
                        return Err(ErrorKind::Closed);
                    }
                }
            }
            Framing::UntilClose => loop {
                on_data(&self.buf[self.pos..]);
                self.pos = self.buf.len();
                if self.fill().await? == 0 {
                    break;
                }
            },
        }
        if !keep_alive || status == 101 {
            self.disconnect();
        }
        Ok(Response {
            status,
            ttfb,
            body_bytes,
            stream: sse.map(|(_, t)| t.figures),
        })
    }
}
