//! A recording HTTP/1.1 upstream for byte-precise end-to-end tests: it counts the
//! connections it accepts, keeps every request it parsed, and answers by a script.
//! It is deliberately simple (one thread per connection) and strict about framing
//! (Content-Length or chunked), so a request that reaches it is one it fully parsed.
#![allow(clippy::disallowed_types)] // test fixture on plain threads

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it came chunked.
    pub body: Vec<u8>,
    pub chunked: bool,
    /// Which accepted connection (0-based) carried it.
    pub connection: usize,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Status, extra headers, body (sent with Content-Length).
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// Status and body sent chunked in the given pieces.
    Chunked(u16, Vec<Vec<u8>>),
    /// Sleep, then answer.
    Delay(Duration, Box<Reply>),
    /// Write these raw bytes and close.
    Raw(Vec<u8>),
    /// Close without answering.
    Close,
    /// 101 Switching Protocols, then echo every byte back until the peer closes.
    UpgradeEcho,
    /// A chunked body written piece by piece at a pace, watching for the peer leaving
    /// (an LLM provider's stream); its end is recorded in [`Upstream::stream_ends`].
    Paced(Paced),
}

/// A paced chunked answer: the head, then each piece as one chunk after its delay.
#[derive(Debug, Clone)]
pub struct Paced {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub pieces: Vec<(Duration, Vec<u8>)>,
    /// After the last piece: `true` ends the body (0-chunk), `false` closes the
    /// connection mid-body.
    pub finish: bool,
}

/// How a [`Reply::Paced`] answer ended, seen from the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Every piece and the 0-chunk were written.
    Complete,
    /// The script closed the connection mid-body (`finish: false`).
    Cut,
    /// The peer closed (or reset) the connection before the end.
    PeerGone,
}

/// One [`Reply::Paced`] answer's end.
#[derive(Debug, Clone, Copy)]
pub struct StreamEnd {
    pub connection: usize,
    /// Pieces written before the end.
    pub sent: usize,
    pub outcome: StreamOutcome,
    /// When the upstream saw the end (for `PeerGone`, within ~2 ms of the close).
    pub at: Instant,
}

type Script = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct Upstream {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    streams: Arc<Mutex<Vec<StreamEnd>>>,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    /// Starts an upstream on a free loopback port that answers with `script`.
    pub fn start(script: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let (c, r, e, s) = (
            connections.clone(),
            requests.clone(),
            streams.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let id = c.fetch_add(1, Ordering::SeqCst);
                        let (r, e, script, s) = (r.clone(), e.clone(), script.clone(), s.clone());
                        std::thread::spawn(move || {
                            let logs = Logs {
                                requests: &r,
                                streams: &e,
                            };
                            serve(stream, id, logs, &*script, &s)
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Upstream {
            addr,
            connections,
            requests,
            streams,
            stop,
        }
    }

    /// An upstream answering every request `200` with body `ok <path>`.
    pub fn ok() -> Upstream {
        Upstream::start(|r| Reply::Full(200, vec![], format!("ok {}", r.target).into_bytes()))
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The ends of the [`Reply::Paced`] answers so far, in order.
    pub fn stream_ends(&self) -> Vec<StreamEnd> {
        self.streams.lock().unwrap().clone()
    }

    /// The first paced stream's end, polled every 5 ms; panics if none ended `within`.
    pub fn first_stream_end(&self, within: std::time::Duration) -> StreamEnd {
        let t0 = std::time::Instant::now();
        loop {
            if let Some(e) = self.streams.lock().unwrap().first().copied() {
                return e;
            }
            assert!(t0.elapsed() < within, "no stream ended within {within:?}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

#[derive(Clone, Copy)]
struct Logs<'a> {
    requests: &'a Mutex<Vec<Recorded>>,
    streams: &'a Mutex<Vec<StreamEnd>>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut s: TcpStream, id: usize, logs: Logs<'_>, script: &Script, stop: &AtomicBool) {
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let req = loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            match parse_request(&buf) {
                Parsed::Complete(mut req, used) => {
                    buf.drain(..used);
                    req.connection = id;
                    break req;
                }
                Parsed::Invalid => return,
                Parsed::Partial => {}
            }
            let mut tmp = [0u8; 16 * 1024];
            match s.read(&mut tmp) {
                Ok(0) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        };
        logs.requests.lock().unwrap().push(req.clone());
        let reply = script(&req);
        if !answer(&mut s, reply, &req, &mut buf, logs) {
            return;
        }
    }
}

fn answer(
    s: &mut TcpStream,
    reply: Reply,
    req: &Recorded,
    pending: &mut Vec<u8>,
    logs: Logs<'_>,
) -> bool {
    match reply {
        Reply::Full(status, headers, body) => {
            let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
            for (n, v) in headers {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let mut bytes = out.into_bytes();
            if req.method != "HEAD" {
                bytes.extend_from_slice(&body);
            }
            s.write_all(&bytes).is_ok()
        }
        Reply::Chunked(status, pieces) => {
            let mut out =
                format!("HTTP/1.1 {status} X\r\ntransfer-encoding: chunked\r\n\r\n").into_bytes();
            for p in pieces {
                out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
                out.extend_from_slice(&p);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            s.write_all(&out).is_ok()
        }
        Reply::Delay(d, inner) => {
            std::thread::sleep(d);
            answer(s, *inner, req, pending, logs)
        }
        Reply::Raw(bytes) => {
            let _ = s.write_all(&bytes);
            false
        }
        Reply::Close => false,
        Reply::UpgradeEcho => {
            let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n");
            if !pending.is_empty() && s.write_all(pending).is_err() {
                return false;
            }
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut tmp = [0u8; 4096];
            loop {
                match s.read(&mut tmp) {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => {
                        if s.write_all(&tmp[..n]).is_err() {
                            return false;
                        }
                    }
                }
            }
        }
        Reply::Paced(p) => {
            let (outcome, sent) = paced(s, &p);
            logs.streams.lock().unwrap().push(StreamEnd {
                connection: req.connection,
                sent,
                outcome,
                at: Instant::now(),
            });
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            outcome == StreamOutcome::Complete
        }
    }
}

/// Writes a [`Paced`] answer; returns how it ended and the pieces written.
fn paced(s: &mut TcpStream, p: &Paced) -> (StreamOutcome, usize) {
    let mut head = format!("HTTP/1.1 {} X\r\ntransfer-encoding: chunked\r\n", p.status);
    for (n, v) in &p.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    if s.write_all(head.as_bytes()).is_err() {
        return (StreamOutcome::PeerGone, 0);
    }
    for (i, (delay, piece)) in p.pieces.iter().enumerate() {
        if peer_left_within(s, *delay) {
            return (StreamOutcome::PeerGone, i);
        }
        let mut out = format!("{:x}\r\n", piece.len()).into_bytes();
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
        if s.write_all(&out).is_err() {
            return (StreamOutcome::PeerGone, i);
        }
    }
    if !p.finish {
        return (StreamOutcome::Cut, p.pieces.len());
    }
    if s.write_all(b"0\r\n\r\n").is_err() {
        return (StreamOutcome::PeerGone, p.pieces.len());
    }
    (StreamOutcome::Complete, p.pieces.len())
}

/// Waits `wait`, peeking at the socket every ~2 ms; true as soon as the peer closed or
/// reset it.
fn peer_left_within(s: &TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut b = [0u8; 1];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let _ = s.set_read_timeout(Some(left.min(Duration::from_millis(2))));
        match s.peek(&mut b) {
            Ok(0) => return true,
            // The peer sent bytes (a pipelined request): it is still there.
            Ok(_) => std::thread::sleep(left.min(Duration::from_millis(2))),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
}

enum Parsed {
    Complete(Recorded, usize),
    Partial,
    Invalid,
}

fn parse_request(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Invalid,
    };
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut rec = Recorded {
        method: req.method.unwrap_or("").to_string(),
        target: req.path.unwrap_or("").to_string(),
        headers: headers.clone(),
        body: Vec::new(),
        chunked: false,
        connection: 0,
    };
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        rec.chunked = true;
        let mut i = head_len;
        loop {
            let Some(eol) = find(&buf[i..], b"\r\n") else {
                return Parsed::Partial;
            };
            let line = std::str::from_utf8(&buf[i..i + eol]).unwrap_or("");
            let size_txt = line.split(';').next().unwrap_or("");
            let Ok(size) = usize::from_str_radix(size_txt, 16) else {
                return Parsed::Invalid;
            };
            i += eol + 2;
            if size == 0 {
                // Trailers until an empty line.
                loop {
                    let Some(eol) = find(&buf[i..], b"\r\n") else {
                        return Parsed::Partial;
                    };
                    i += eol + 2;
                    if eol == 0 {
                        return Parsed::Complete(rec, i);
                    }
                }
            }
            if buf.len() < i + size + 2 {
                return Parsed::Partial;
            }
            rec.body.extend_from_slice(&buf[i..i + size]);
            if &buf[i + size..i + size + 2] != b"\r\n" {
                return Parsed::Invalid;
            }
            i += size + 2;
        }
    }
    let len: usize = match get("content-length").map(|v| v.trim().parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return Parsed::Invalid,
    };
    if buf.len() < head_len + len {
        return Parsed::Partial;
    }
    rec.body = buf[head_len..head_len + len].to_vec();
    Parsed::Complete(rec, head_len + len)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
