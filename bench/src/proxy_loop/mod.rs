//! A minimal HTTP/1.1 keep-alive reverse proxy loop, written once per runtime (monoio
//! with a plain io_uring ring, with Tollgate's ring flags, and with epoll; glommio).
//!
//! Each runtime runs the same steps on one thread: accept a client connection; read a
//! whole request (head and `Content-Length` body) into a buffer; take an upstream
//! connection from a per-thread pool (or open one); write the request bytes as they came;
//! read the whole response (head and `Content-Length` body); write it back; return the
//! upstream connection to the pool. No header is rewritten, nothing is validated beyond
//! what framing needs, and chunked bodies are not supported (the connection closes):
//! it measures what the runtime costs around the syscalls, not a proxy's features.
//!
//! Invariants: every buffer is bounded by [`MAX_MESSAGE`]; a message that does not fit,
//! a malformed head, or any I/O error closes the client connection (and drops the
//! upstream connection, which may be mid-message) — never a panic.
//!
//! The framing step ([`message_len`]) is sans-I/O and shared by all runtimes, so that
//! the runtimes differ only in how they drive the sockets.

pub mod glommio_rt;
pub mod monoio_rt;

use std::net::SocketAddr;

/// Largest request or response (head and body) the loop accepts.
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Initial capacity of each connection's buffers.
pub const BUF_SIZE: usize = 16 * 1024;
/// Idle upstream connections kept per thread.
pub const POOL_MAX_IDLE: usize = 1024;

/// The runtimes the loop runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// monoio with its io_uring driver, a plain ring.
    MonoioUring,
    /// monoio with its io_uring driver, the ring set up as Tollgate sets it up
    /// (COOP_TASKRUN, SINGLE_ISSUER, DEFER_TASKRUN; kernel 6.1+).
    MonoioUringTuned,
    /// monoio with its epoll driver (`LegacyDriver`).
    MonoioEpoll,
    /// glommio (io_uring only).
    Glommio,
}

impl Runtime {
    pub const ALL: [Runtime; 4] = [
        Runtime::MonoioUring,
        Runtime::MonoioUringTuned,
        Runtime::MonoioEpoll,
        Runtime::Glommio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Runtime::MonoioUring => "monoio-uring",
            Runtime::MonoioUringTuned => "monoio-uring-tuned",
            Runtime::MonoioEpoll => "monoio-epoll",
            Runtime::Glommio => "glommio",
        }
    }

    pub fn from_name(s: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// Where the loop listens and where it forwards.
#[derive(Debug, Clone, Copy)]
pub struct ProxyConfig {
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
}

/// Which start line a message has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
}

/// Why a message cannot be framed by this loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// httparse refused the head.
    Malformed,
    /// `Transfer-Encoding` (chunked bodies are out of scope here).
    Unsupported,
    /// Head or body over [`MAX_MESSAGE`].
    TooLarge,
}

/// The total length (head plus `Content-Length` body) of the message at the front of
/// `buf`, once its head is complete; `Ok(None)` while the head is incomplete.
/// A response without `Content-Length` is refused as `Unsupported` (its end would be the
/// connection's end, which a pooled connection cannot have).
pub fn message_len(buf: &[u8], kind: Kind) -> Result<Option<usize>, FramingError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let parsed = match kind {
        Kind::Request => httparse::Request::new(&mut headers).parse(buf),
        Kind::Response => httparse::Response::new(&mut headers).parse(buf),
    };
    let head_len = match parsed {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_MESSAGE => {
            return Err(FramingError::TooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(FramingError::Malformed),
    };
    let mut body = None;
    for h in headers.iter().take_while(|h| !h.name.is_empty()) {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(FramingError::Unsupported);
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or(FramingError::Malformed)?;
            if body.is_some_and(|b| b != n) {
                return Err(FramingError::Malformed);
            }
            body = Some(n);
        }
    }
    let body = match (kind, body) {
        (_, Some(n)) => n,
        (Kind::Request, None) => 0,
        (Kind::Response, None) => return Err(FramingError::Unsupported),
    };
    let total = head_len.checked_add(body).ok_or(FramingError::TooLarge)?;
    if total > MAX_MESSAGE {
        return Err(FramingError::TooLarge);
    }
    Ok(Some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (&'static [u8], Kind, Result<Option<usize>, FramingError>);

    #[test]
    fn frames_requests_and_responses() {
        let cases: &[Case] = &[
            (
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                Kind::Request,
                Ok(Some(27)),
            ),
            (b"GET / HTTP/1.1\r\nHost: a\r\n", Kind::Request, Ok(None)),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
                Kind::Request,
                Ok(Some(41)),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Kind::Request,
                Err(FramingError::Unsupported),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                Kind::Request,
                Err(FramingError::Malformed),
            ),
            (
                b"GET\x01 / HTTP/1.1\r\n\r\n",
                Kind::Request,
                Err(FramingError::Malformed),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n",
                Kind::Response,
                Ok(Some(52)),
            ),
            (
                b"HTTP/1.1 200 OK\r\n\r\n",
                Kind::Response,
                Err(FramingError::Unsupported),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
                Kind::Response,
                Err(FramingError::TooLarge),
            ),
        ];
        for (input, kind, want) in cases {
            assert_eq!(
                message_len(input, *kind),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn runtime_names_round_trip() {
        for r in Runtime::ALL {
            assert_eq!(Runtime::from_name(r.name()), Some(r));
        }
        assert_eq!(Runtime::from_name("tokio"), None);
    }
}
