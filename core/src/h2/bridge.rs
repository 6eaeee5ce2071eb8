//! One HTTP/2 request stream as a [`Stream`] of HTTP/1.1 bytes, so that it runs
//! through the same request path as an HTTP/1.1 request (chain, proxy, local answers,
//! LLM routes, limits, logs) with the protocol translated at this edge only.
//!
//! - The request head becomes an HTTP/1.1 head ([`synthesize`]), parsed by the same
//!   parser as a client's: `:authority` is `Host`, cookies are joined (RFC 9113 §8.2.3),
//!   and a body of unknown length is framed as chunked, its trailers as chunk trailers.
//!   A header value the h1 parser would refuse is refused here too (400), so nothing
//!   smuggles through the downgrade.
//! - Reads return that body as HTTP/1.1 bytes: DATA frames as they come (flow-control
//!   credit goes back to the client as soon as a frame is taken, so a stream buffers at
//!   most one frame here plus its window in h2).
//! - Writes take the HTTP/1.1 response the request path writes (its head, then the body
//!   in the framing the head announced) and send HEADERS, DATA and trailers: the head
//!   is parsed back (connection-specific fields dropped, RFC 9113 §8.2.2), a chunked
//!   body is de-chunked, 1xx heads go out as informational responses. A write waits for
//!   the client's flow-control window (at most `http2.send_timeout`), so a response
//!   never buffers more than `http2.max_send_buffer` ahead of the client.
//!
//! The price of the translation is a head serialised and parsed once more per request
//! and response (bench/RESULTS.md, "HTTP/2"); what it buys is one request path.
//!
//! The stream's state is shared (`Rc<RefCell>`, never borrowed across an await) between
//! the request path that reads and writes it and the stream task that watches for the
//! client resetting it.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use monoio::buf::{IoBuf, IoBufMut};
use monoio::BufResult;

use super::convert::{field, Dechunk};
use crate::tls::buf;

/// How the request body reaches the HTTP/1.1 side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// END_STREAM came with the headers.
    None,
    /// A `content-length` was sent; h2 checks the DATA against it.
    Length,
    /// Unknown length: framed as chunked.
    Chunked,
}

/// Most header fields in a response head we translate (the proxy's parser already
/// bounds what an upstream sends).
const MAX_RESPONSE_HEADERS: usize = 256;
/// Largest response head accepted from the request path before it is an error.
const MAX_RESPONSE_HEAD: usize = 256 * 1024;

/// Writes the HTTP/1.1 form of an HTTP/2 request head into `out` and says how its body
/// is framed. `end_stream`: the request has no body.
pub fn synthesize(parts: &http::request::Parts, end_stream: bool, out: &mut BytesMut) -> BodyMode {
    let target = match parts.uri.path_and_query() {
        Some(pq) => pq.as_str(),
        None => match parts.uri.authority() {
            // CONNECT's authority-form (refused later with 405, as over HTTP/1.1).
            Some(a) if parts.method == http::Method::CONNECT => a.as_str(),
            _ => "/",
        },
    };
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let authority = parts.uri.authority();
    if let Some(a) = authority {
        field(out, b"host", a.as_str().as_bytes());
    }
    let mut cookies = 0usize;
    let mut length = false;
    for (name, value) in &parts.headers {
        match name.as_str() {
            // :authority wins over Host (RFC 9113 §8.3.1).
            "host" if authority.is_some() => continue,
            "cookie" => {
                cookies += 1;
                continue;
            }
            // Only `te: trailers` is allowed in HTTP/2. It is kept (TE is hop-by-hop in
            // HTTP/1.1, so an HTTP/1.1 upstream never sees it, but an HTTP/2 upstream
            // gets it back: gRPC servers ask for it); 100-continue is moot (the body is
            // read anyway).
            "te" if value.as_bytes().eq_ignore_ascii_case(b"trailers") => {}
            "te" | "expect" => continue,
            "content-length" => length = true,
            _ => {}
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if cookies > 0 {
        out.extend_from_slice(b"cookie: ");
        for (i, v) in parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.extend_from_slice(b"; ");
            }
            out.extend_from_slice(v.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    }
    let mode = if end_stream {
        BodyMode::None
    } else if length {
        BodyMode::Length
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        BodyMode::Chunked
    };
    out.extend_from_slice(b"\r\n");
    mode
}

/// An HTTP/2 stream seen as HTTP/1.1 bytes. Cheap to clone (shared state).
#[derive(Clone)]
pub struct H2Stream(Rc<RefCell<Inner>>);

impl std::fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("H2Stream")
    }
}

struct Inner {
    tls: bool,
    recv: RecvStream,
    mode: BodyMode,
    /// Request body bytes framed for HTTP/1.1, not yet read.
    pending: VecDeque<Bytes>,
    /// The request body's end (or failure) has been seen; its framing is in `pending`.
    req_done: bool,
    /// The request body failed (the client reset the stream mid-body); the next read
    /// returns it.
    failed: Option<io::Error>,
    /// Until the response head went out.
    respond: Option<SendResponse<Bytes>>,
    body: Option<SendStream<Bytes>>,
    resp: Resp,
    /// The request was HEAD: the response has no body whatever its head says.
    head_request: bool,
    send_timeout: Duration,
}

enum Resp {
    /// Bytes of the response head so far.
    Head(Vec<u8>),
    Length(u64),
    /// De-chunked as it comes, its trailers sent as HTTP/2 trailers.
    Chunked(Dechunk),
    /// Close-delimited: ends when the request path is done.
    UntilEnd,
    Done,
}

fn gone(e: h2::Error) -> io::Error {
    let kind = if e.is_io() {
        io::ErrorKind::BrokenPipe
    } else {
        io::ErrorKind::ConnectionReset
    };
    io::Error::new(kind, e)
}

impl H2Stream {
    pub fn new(
        recv: RecvStream,
        respond: SendResponse<Bytes>,
        mode: BodyMode,
        tls: bool,
        head_request: bool,
        send_timeout: Duration,
    ) -> H2Stream {
        H2Stream(Rc::new(RefCell::new(Inner {
            tls,
            recv,
            mode,
            pending: VecDeque::new(),
            req_done: mode == BodyMode::None,
            failed: None,
            respond: Some(respond),
            body: None,
            resp: Resp::Head(Vec::new()),
            head_request,
            send_timeout,
        })))
    }

    pub fn is_tls(&self) -> bool {
        self.0.borrow().tls
    }

    /// Completes when the client resets the stream (or the connection fails) before
    /// the response head went out; pending forever after it.
    pub async fn reset_before_head(&self) {
        poll_fn(|cx| {
            let mut i = self.0.borrow_mut();
            match &mut i.respond {
                Some(r) => r.poll_reset(cx).map(|_| ()),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// Completes when a read would not wait: request body bytes are ready, the body
    /// failed, or the client reset the stream (then reads return 0: the client is gone).
    /// The end of the body alone does not count: a read after it waits for the reset.
    pub async fn readable(&self) -> io::Result<()> {
        poll_fn(|cx| {
            let mut i = self.0.borrow_mut();
            let i = &mut *i;
            loop {
                // Never an empty piece in `pending` (push_framed skips them, read
                // pops a piece once used up).
                if i.failed.is_some() || !i.pending.is_empty() {
                    return Poll::Ready(());
                }
                if i.req_done {
                    break;
                }
                match i.recv.poll_data(cx) {
                    Poll::Ready(d) => i.take(d),
                    Poll::Pending => break,
                }
            }
            let reset = match (&mut i.respond, &mut i.body) {
                (Some(r), _) => r.poll_reset(cx),
                (None, Some(b)) => b.poll_reset(cx),
                (None, None) => return Poll::Ready(()),
            };
            reset.map(|_| ())
        })
        .await;
        Ok(())
    }

    pub async fn read<T: IoBufMut>(&mut self, mut out: T) -> BufResult<usize, T> {
        loop {
            let ended = {
                let mut i = self.0.borrow_mut();
                if let Some(front) = i.pending.front_mut() {
                    let n = buf::fill(&mut out, front);
                    bytes::Buf::advance(front, n);
                    if front.is_empty() {
                        i.pending.pop_front();
                    }
                    return (Ok(n), out);
                }
                if let Some(e) = i.failed.take() {
                    return (Err(e), out);
                }
                i.req_done
            };
            if ended {
                // Past the body an HTTP/1.1 client would be silent until its next
                // request: wait for the reset that says it left.
                self.wait_reset().await;
                return (Ok(0), out);
            }
            let next = poll_fn(|cx| self.0.borrow_mut().recv.poll_data(cx)).await;
            self.0.borrow_mut().take(next);
        }
    }

    async fn wait_reset(&self) {
        poll_fn(|cx| {
            let mut i = self.0.borrow_mut();
            let i = &mut *i;
            let reset = match (&mut i.respond, &mut i.body) {
                (Some(r), _) => r.poll_reset(cx),
                (None, Some(b)) => b.poll_reset(cx),
                (None, None) => return Poll::Ready(()),
            };
            reset.map(|_| ())
        })
        .await
    }

    pub async fn write<T: IoBuf>(&mut self, data: T) -> BufResult<usize, T> {
        let n = data.bytes_init();
        let res = self.consume(buf::bytes(&data)).await;
        (res.map(|_| n), data)
    }

    /// Takes the next bytes of the HTTP/1.1 response.
    async fn consume(&mut self, mut input: &[u8]) -> io::Result<()> {
        let mut owned;
        while !input.is_empty() {
            let step = {
                let mut i = self.0.borrow_mut();
                let i = &mut *i;
                match &mut i.resp {
                    Resp::Head(acc) => {
                        acc.extend_from_slice(input);
                        input = &[];
                        let Some(end) = memchr::memmem::find(acc, b"\r\n\r\n") else {
                            if acc.len() > MAX_RESPONSE_HEAD {
                                return Err(io::Error::other("response head too large"));
                            }
                            continue;
                        };
                        let rest = acc.split_off(end + 4);
                        let head = std::mem::take(acc);
                        let informational = i.send_head(&head)?;
                        owned = rest;
                        input = &owned;
                        if informational {
                            continue;
                        }
                        Step::None
                    }
                    Resp::Length(left) => {
                        let n = (*left).min(input.len() as u64) as usize;
                        *left -= n as u64;
                        let chunk = Bytes::copy_from_slice(&input[..n]);
                        input = &input[n..];
                        let end = *left == 0;
                        if end {
                            i.resp = Resp::Done;
                        }
                        Step::Data(chunk, end)
                    }
                    Resp::Chunked(body) => {
                        let s = body.step(input).map_err(|e| {
                            io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))
                        })?;
                        let data = s.data.map(|r| Bytes::copy_from_slice(&input[r]));
                        input = &input[s.consumed..];
                        if let Some(trailers) = s.trailers {
                            i.resp = Resp::Done;
                            Step::End(data, trailers)
                        } else if let Some(d) = data {
                            Step::Data(d, false)
                        } else if s.consumed == 0 {
                            return Err(io::Error::other("chunked body stalled"));
                        } else {
                            Step::None
                        }
                    }
                    Resp::UntilEnd => {
                        let chunk = Bytes::copy_from_slice(input);
                        input = &[];
                        Step::Data(chunk, false)
                    }
                    // Bytes after the body's end (none are written in practice).
                    Resp::Done => return Ok(()),
                }
            };
            match step {
                Step::None => {}
                Step::Data(d, end) => self.send(d, end).await?,
                Step::End(d, trailers) => {
                    let has_trailers = !trailers.is_empty();
                    self.send(d.unwrap_or_default(), !has_trailers).await?;
                    if has_trailers {
                        let mut i = self.0.borrow_mut();
                        if let Some(b) = &mut i.body {
                            b.send_trailers(trailers).map_err(gone)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Sends response body bytes as the client's window allows.
    async fn send(&self, mut data: Bytes, end: bool) -> io::Result<()> {
        let timeout = self.0.borrow().send_timeout;
        loop {
            if data.is_empty() {
                if end {
                    let mut i = self.0.borrow_mut();
                    if let Some(b) = &mut i.body {
                        b.send_data(Bytes::new(), true).map_err(gone)?;
                    }
                }
                return Ok(());
            }
            let ready = {
                let mut i = self.0.borrow_mut();
                let Some(b) = &mut i.body else {
                    return Ok(());
                };
                b.reserve_capacity(data.len());
                b.capacity()
            };
            // The window is usually open: only a wait for it needs the timer.
            let cap = if ready > 0 {
                Ok(Some(Ok(ready)))
            } else {
                let cap = poll_fn(|cx| match &mut self.0.borrow_mut().body {
                    Some(b) => b.poll_capacity(cx),
                    None => Poll::Ready(None),
                });
                monoio::time::timeout(timeout, cap).await
            };
            let cap = match cap {
                Ok(Some(Ok(n))) => n,
                Ok(Some(Err(e))) => return Err(gone(e)),
                Ok(None) => return Err(io::ErrorKind::BrokenPipe.into()),
                Err(_) => {
                    if let Some(b) = &mut self.0.borrow_mut().body {
                        b.send_reset(Reason::CANCEL);
                    }
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "client's flow-control window stayed closed past http2.send_timeout",
                    ));
                }
            };
            if cap == 0 {
                continue;
            }
            let chunk = data.split_to(cap.min(data.len()));
            let last = end && data.is_empty();
            let mut i = self.0.borrow_mut();
            if let Some(b) = &mut i.body {
                b.send_data(chunk, last).map_err(gone)?;
            }
            if last {
                return Ok(());
            }
        }
    }

    /// Ends the stream after the request path is done with it: a close-delimited body
    /// ends cleanly; a body cut short (`cut`, or fewer bytes than announced), or no
    /// response at all, resets the stream so that the client cannot take it as whole.
    pub fn finish(&self, cut: bool) {
        let mut i = self.0.borrow_mut();
        let i = &mut *i;
        let whole = matches!(i.resp, Resp::Done | Resp::UntilEnd) && !cut;
        if let Some(b) = &mut i.body {
            if whole {
                if matches!(i.resp, Resp::UntilEnd) {
                    let _ = b.send_data(Bytes::new(), true);
                }
            } else {
                b.send_reset(Reason::INTERNAL_ERROR);
            }
        } else if let Some(r) = &mut i.respond {
            r.send_reset(if cut {
                Reason::INTERNAL_ERROR
            } else {
                Reason::CANCEL
            });
        }
        i.resp = Resp::Done;
    }
}

enum Step {
    None,
    Data(Bytes, bool),
    End(Option<Bytes>, HeaderMap),
}

impl Inner {
    /// Takes what `RecvStream::poll_data` gave: body bytes (their flow-control credit
    /// goes back to the client at once), the body's end (with the chunked framing's
    /// last chunk and trailers), or its failure.
    fn take(&mut self, next: Option<Result<Bytes, h2::Error>>) {
        match next {
            Some(Ok(data)) => {
                let _ = self.recv.flow_control().release_capacity(data.len());
                push_framed(&mut self.pending, self.mode, data);
            }
            Some(Err(e)) => {
                self.req_done = true;
                self.failed = Some(gone(e));
            }
            None => {
                self.req_done = true;
                if self.mode == BodyMode::Chunked {
                    // Trailers, if any, came with the END_STREAM that ended the data:
                    // h2 has them already.
                    let trailers = match poll_now(poll_fn(|cx| self.recv.poll_trailers(cx))) {
                        Some(Ok(Some(t))) => Some(t),
                        _ => None,
                    };
                    let mut end = Vec::new();
                    super::convert::last_chunk(trailers.as_ref(), &mut end);
                    self.pending.push_back(end.into());
                }
            }
        }
    }

    /// Sends the response head. Returns true for an informational (1xx) head, after
    /// which the final head is still to come.
    fn send_head(&mut self, head: &[u8]) -> io::Result<bool> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
        let mut r = httparse::Response::new(&mut fields);
        match r.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return Err(io::Error::other("unparsable response head")),
        }
        let code = r.code.unwrap_or(502);
        if code == 101 {
            return Err(io::Error::other(
                "an upgrade (101) cannot be relayed over HTTP/2",
            ));
        }
        let status = StatusCode::from_u16(code).map_err(io::Error::other)?;
        let mut resp = Response::new(());
        *resp.status_mut() = status;
        let mut chunked = false;
        let mut length = None;
        let headers = resp.headers_mut();
        for f in r.headers.iter() {
            let name = match HeaderName::from_bytes(f.name.as_bytes()) {
                Ok(n) => n,
                Err(_) => continue,
            };
            match name.as_str() {
                "transfer-encoding" => {
                    // Chunked is the last coding when there is any (RFC 9112 §6.1).
                    chunked = tollgate_proto::h1::syntax::list_elements(f.value)
                        .last()
                        .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
                    continue;
                }
                // Connection-specific fields (RFC 9113 §8.2.2).
                "connection" | "keep-alive" | "proxy-connection" | "upgrade" => continue,
                "content-length" => {
                    length = std::str::from_utf8(f.value)
                        .ok()
                        .and_then(|v| v.trim().parse::<u64>().ok());
                }
                _ => {}
            }
            if let Ok(v) = HeaderValue::from_bytes(f.value) {
                headers.append(name, v);
            }
        }
        let Some(respond) = &mut self.respond else {
            return Err(io::Error::other("response head after the response"));
        };
        if status.is_informational() {
            respond.send_informational(resp).map_err(gone)?;
            return Ok(true);
        }
        let no_body = self.head_request
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || (!chunked && length == Some(0));
        let body = respond.send_response(resp, no_body).map_err(gone)?;
        self.respond = None;
        self.body = Some(body);
        self.resp = if no_body {
            Resp::Done
        } else if chunked {
            // Trailers are bounded by the proxy's own scan of the upstream's body.
            Resp::Chunked(Dechunk::new(64 * 1024, 64 * 1024))
        } else if let Some(n) = length {
            Resp::Length(n)
        } else {
            Resp::UntilEnd
        };
        Ok(false)
    }
}

/// Appends a DATA frame's bytes in the body's HTTP/1.1 framing.
fn push_framed(pending: &mut VecDeque<Bytes>, mode: BodyMode, data: Bytes) {
    if data.is_empty() {
        return;
    }
    if mode == BodyMode::Chunked {
        pending.push_back(Bytes::from(format!("{:x}\r\n", data.len())));
        pending.push_back(data);
        pending.push_back(Bytes::from_static(b"\r\n"));
    } else {
        pending.push_back(data);
    }
}

/// Polls a future once.
fn poll_now<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    #[test]
    fn a_request_head_becomes_http11_with_host_cookies_and_framing() {
        let req = http::Request::builder()
            .method("POST")
            .uri("https://example.com:8443/v1/x?y=1")
            .header("host", "ignored.example")
            .header("cookie", "a=1")
            .header("cookie", "b=2")
            .header("te", "trailers")
            .header("x-id", "7")
            .body(())
            .unwrap();
        let mut out = BytesMut::new();
        assert_eq!(synthesize(&parts(req), false, &mut out), BodyMode::Chunked);
        assert_eq!(
            &out[..],
            &b"POST /v1/x?y=1 HTTP/1.1\r\nhost: example.com:8443\r\nte: trailers\r\nx-id: 7\r\n\
               cookie: a=1; b=2\r\ntransfer-encoding: chunked\r\n\r\n"[..]
        );
    }

    #[test]
    fn a_known_length_or_no_body_is_not_chunked() {
        let req = http::Request::builder()
            .method("PUT")
            .uri("http://h/p")
            .header("content-length", "3")
            .body(())
            .unwrap();
        let mut out = BytesMut::new();
        assert_eq!(synthesize(&parts(req), false, &mut out), BodyMode::Length);
        let req = http::Request::builder().uri("http://h/").body(()).unwrap();
        let mut out = BytesMut::new();
        assert_eq!(synthesize(&parts(req), true, &mut out), BodyMode::None);
        assert_eq!(&out[..], b"GET / HTTP/1.1\r\nhost: h\r\n\r\n");
    }

    #[test]
    fn chunked_framing_of_data_frames() {
        let mut q = VecDeque::new();
        push_framed(&mut q, BodyMode::Chunked, Bytes::from_static(b"hello"));
        push_framed(&mut q, BodyMode::Chunked, Bytes::new());
        let all: Vec<u8> = q.iter().flat_map(|b| b.iter().copied()).collect();
        assert_eq!(&all, b"5\r\nhello\r\n");
    }
}
