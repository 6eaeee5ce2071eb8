//! HTTP/2 client for `--h2` (h2c with prior knowledge, or h2 over TLS negotiated with
//! ALPN for `https://` targets): one TCP connection carries
//! `--streams` concurrent streams, each driven by its own task like an HTTP/1.1
//! connection. The h2 crate runs on the worker's monoio runtime through monoio's poll-io
//! adapter; the connection future is a task of its own.
//!
//! All streams of a connection share one [`H2Conn`]; when the connection fails, the next
//! stream to send reconnects. Failures map to the same [`ErrorKind`]s as HTTP/1.1: an I/O
//! error or a reset stream → `reset`, GOAWAY → `closed`, a protocol error → `parse`.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;

use super::client::Response;
use super::recorder::{record_us, ErrorKind, Recorder};
use crate::sse::{SseParser, StreamTracker};
use crate::tls::client::Connector;
use crate::tls::stream::PollIo;

/// What every request of the run is made from (HTTP/1.1-only headers removed).
#[derive(Debug, Clone)]
pub struct H2Template {
    /// Method.
    pub method: http::Method,
    /// `http://authority/path`.
    pub uri: http::Uri,
    /// Regular headers.
    pub headers: http::HeaderMap,
    /// Bodies to rotate through (one empty body when none was given).
    pub bodies: Vec<Bytes>,
}

impl H2Template {
    /// Builds the template; `scheme` is `http` or `https`, `headers` are `Name: value`
    /// lines.
    pub fn new(
        method: &str,
        scheme: &str,
        authority: &str,
        path: &str,
        headers: &[String],
        bodies: Option<&[Vec<u8>]>,
    ) -> Result<Self, String> {
        let method = http::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let uri: http::Uri = format!("{scheme}://{authority}{path}")
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
        let mut map = http::HeaderMap::new();
        for h in headers {
            let Some((n, v)) = h.split_once(':') else {
                continue;
            };
            let name = n.trim().to_ascii_lowercase();
            // Connection-specific headers are not allowed in HTTP/2 (RFC 9113 §8.2.2).
            if matches!(
                name.as_str(),
                "host"
                    | "connection"
                    | "keep-alive"
                    | "transfer-encoding"
                    | "upgrade"
                    | "proxy-connection"
                    | "te"
            ) {
                continue;
            }
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = http::HeaderValue::from_str(v.trim()).map_err(|e| e.to_string())?;
            map.append(name, value);
        }
        let bodies = match bodies {
            Some(list) => list.iter().map(|b| Bytes::from(b.clone())).collect(),
            None => vec![Bytes::new()],
        };
        if bodies.iter().any(|b| !b.is_empty()) && !map.contains_key(http::header::CONTENT_TYPE) {
            map.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        }
        Ok(Self {
            method,
            uri,
            headers: map,
            bodies,
        })
    }

    /// Request `i` (bodies rotate).
    pub fn request(&self, i: usize) -> (http::Request<()>, Bytes) {
        let mut req = http::Request::new(());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        (req, self.bodies[i % self.bodies.len()].clone())
    }
}

/// One HTTP/2 connection shared by its streams.
#[derive(Default)]
pub struct H2Conn {
    send: RefCell<Option<SendRequest<Bytes>>>,
    connecting: Cell<bool>,
    generation: Cell<u64>,
}

fn classify(e: &h2::Error) -> ErrorKind {
    if e.is_go_away() {
        ErrorKind::Closed
    } else if e.is_io() || e.is_reset() {
        ErrorKind::Reset
    } else {
        ErrorKind::Parse
    }
}

impl H2Conn {
    /// A connection slot, not yet connected.
    pub fn new() -> Rc<Self> {
        Rc::new(Self::default())
    }

    /// Drops the connection so that the next stream reconnects.
    pub fn disconnect(&self) {
        self.send.borrow_mut().take();
    }

    async fn sender(
        self: &Rc<Self>,
        addr: SocketAddr,
        tls: Option<&Connector>,
        rec: &RefCell<Recorder>,
    ) -> Result<SendRequest<Bytes>, ErrorKind> {
        loop {
            if let Some(s) = self.send.borrow().as_ref() {
                return Ok(s.clone());
            }
            if !self.connecting.get() {
                break;
            }
            // Another stream is connecting; its outcome decides for us too.
            let gen = self.generation.get();
            while self.connecting.get() {
                monoio::time::sleep(Duration::from_millis(1)).await;
            }
            if self.send.borrow().is_none() && self.generation.get() != gen {
                return Err(ErrorKind::Connect);
            }
        }
        self.connecting.set(true);
        let result = self.connect(addr, tls, rec).await;
        self.connecting.set(false);
        self.generation.set(self.generation.get() + 1);
        result
    }

    async fn connect(
        self: &Rc<Self>,
        addr: SocketAddr,
        tls: Option<&Connector>,
        rec: &RefCell<Recorder>,
    ) -> Result<SendRequest<Bytes>, ErrorKind> {
        let tcp = monoio::net::TcpStream::connect(addr)
            .await
            .map_err(|_| ErrorKind::Connect)?;
        let _ = tcp.set_nodelay(true);
        match tls {
            None => {
                let io = tcp.try_into_poll_io().map_err(|_| ErrorKind::Connect)?;
                self.start(io, true, rec).await
            }
            Some(c) => {
                // The TCP connection counts even when its handshake fails (as HTTP/1.1).
                rec.borrow_mut().connections += 1;
                let io = super::tls::handshake(c, tcp, rec).await?;
                self.start(io, false, rec).await
            }
        }
    }

    /// The HTTP/2 handshake on a connected stream (`count`: count the connection once it
    /// succeeds); spawns the connection's driver task.
    async fn start<T: PollIo + 'static>(
        self: &Rc<Self>,
        io: T,
        count: bool,
        rec: &RefCell<Recorder>,
    ) -> Result<SendRequest<Bytes>, ErrorKind> {
        let (send, conn) = h2::client::Builder::new()
            .initial_window_size(1 << 20)
            .initial_connection_window_size(1 << 24)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|_| ErrorKind::Connect)?;
        if count {
            rec.borrow_mut().connections += 1;
        }
        let me = self.clone();
        monoio::spawn(async move {
            let _ = conn.await;
            me.disconnect();
        });
        *self.send.borrow_mut() = Some(send.clone());
        Ok(send)
    }

    /// Sends request `i` of `tpl` and reads the whole response.
    pub async fn exchange(
        self: &Rc<Self>,
        addr: SocketAddr,
        tls: Option<&Connector>,
        tpl: &H2Template,
        i: usize,
        t0: Instant,
        rec: &RefCell<Recorder>,
    ) -> Result<Response, ErrorKind> {
        let send = self.sender(addr, tls, rec).await?;
        let mut send = send.ready().await.map_err(|e| classify(&e))?;
        let (req, body) = tpl.request(i);
        let (resp, mut stream) = send
            .send_request(req, body.is_empty())
            .map_err(|e| classify(&e))?;
        if !body.is_empty() {
            stream.send_data(body, true).map_err(|e| classify(&e))?;
        }
        let resp = resp.await.map_err(|e| classify(&e))?;
        let ttfb = t0.elapsed();
        let status = resp.status().as_u16();
        let is_sse = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let mut sse = is_sse.then(|| (SseParser::default(), StreamTracker::new()));
        let mut body = resp.into_body();
        let mut body_bytes = 0u64;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| classify(&e))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            body_bytes += chunk.len() as u64;
            if let Some((parser, tracker)) = sse.as_mut() {
                let at = t0.elapsed();
                parser.feed(&chunk, |ev| {
                    if let Some(gap) = tracker.on_event(&ev, at) {
                        record_us(&mut rec.borrow_mut().sse.itl, gap);
                    }
                });
            }
        }
        Ok(Response {
            status,
            ttfb,
            body_bytes,
            stream: sse.map(|(_, t)| t.figures),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_drops_connection_headers() {
        let t = H2Template::new(
            "POST",
            "https",
            "127.0.0.1:8080",
            "/v1?x=1",
            &[
                "Connection: close".into(),
                "X-A: b".into(),
                "Host: h".into(),
            ],
            Some(&[b"{}".to_vec()]),
        )
        .unwrap();
        let (req, body) = t.request(3);
        assert_eq!(req.uri().path_and_query().unwrap().as_str(), "/v1?x=1");
        assert_eq!(req.uri().scheme_str(), Some("https"));
        assert_eq!(req.headers().len(), 2);
        assert_eq!(req.headers()["x-a"], "b");
        assert_eq!(body, Bytes::from_static(b"{}"));
    }
}
