//! Request heads: parse with httparse, keep spans, apply the RFC 9112 framing rules.

use bytes::{Bytes, BytesMut};

use super::{BodyFraming, ConnectionInfo, H1Error, HeadLimits, HeaderSpan, Span, Status, Version};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
    /// Any other token; its bytes are at `RequestHead::method_span`.
    Other,
}

impl Method {
    pub fn from_bytes(b: &[u8]) -> Method {
        match b {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }

    /// RFC 9110 §9.2.2: a request that may be sent again without changing the outcome.
    pub fn is_idempotent(self) -> bool {
        matches!(
            self,
            Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options | Method::Trace
        )
    }
}

/// A parsed request head. One per connection, reused across keep-alive requests:
/// [`RequestHead::parse`] overwrites every field and reuses the header table's capacity.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// The head's bytes, from the method to the blank line that ends it, inclusive.
    pub buf: Bytes,
    pub method: Method,
    pub method_span: Span,
    pub target: Span,
    pub version: Version,
    /// The request line including its line terminator.
    pub request_line: Span,
    pub headers: Vec<HeaderSpan>,
    pub framing: BodyFraming,
    pub conn: ConnectionInfo,
    /// The value of the Host header, if present.
    pub host: Option<Span>,
}

impl Default for RequestHead {
    fn default() -> Self {
        RequestHead {
            buf: Bytes::new(),
            method: Method::Get,
            method_span: Span::default(),
            target: Span::default(),
            version: Version::Http11,
            request_line: Span::default(),
            headers: Vec::with_capacity(32),
            framing: BodyFraming::None,
            conn: ConnectionInfo::default(),
            host: None,
        }
    }
}

impl RequestHead {
    /// Parses a head from the front of `buf`.
    ///
    /// On `Complete`, the head's bytes are split off the front of `buf` without copying
    /// (`buf` keeps what follows: the body, or a pipelined request) and `self` describes
    /// them. On `Partial`, `buf` and `self` are untouched in meaning; the caller reads
    /// more bytes and calls again. `Partial` is never returned once `buf` holds more than
    /// `limits.max_head_bytes` (that is [`H1Error::HeadTooLarge`]) or a first line longer
    /// than `limits.max_request_line` ([`H1Error::RequestLineTooLong`]).
    pub fn parse(&mut self, buf: &mut BytesMut, limits: &HeadLimits) -> Result<Status<()>, H1Error> {
        let _ = (buf, limits);
        todo!("h1 request parse")
    }

    pub fn method_bytes(&self) -> &[u8] {
        self.method_span.of(&self.buf)
    }

    pub fn target_bytes(&self) -> &[u8] {
        self.target.of(&self.buf)
    }

    /// The target up to (not including) `?`.
    pub fn path(&self) -> &[u8] {
        let t = self.target_bytes();
        match memchr::memchr(b'?', t) {
            Some(i) => &t[..i],
            None => t,
        }
    }

    pub fn host_bytes(&self) -> Option<&[u8]> {
        self.host.map(|s| s.of(&self.buf))
    }

    pub fn name(&self, h: &HeaderSpan) -> &[u8] {
        h.name.of(&self.buf)
    }

    pub fn value(&self, h: &HeaderSpan) -> &[u8] {
        h.value.of(&self.buf)
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| self.name(h).eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| self.value(h))
    }

    /// A view of the head with the given buffer; used by tests and the fuzz target.
    pub fn body_len_hint(&self) -> Option<u64> {
        match self.framing {
            BodyFraming::Length(n) => Some(n),
            BodyFraming::None => Some(0),
            BodyFraming::Chunked => None,
        }
    }
}
