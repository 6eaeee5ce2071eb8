//! Request heads: parse with httparse, keep spans, apply the RFC 9112 framing rules.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};

use super::classify::{classify, StartLine};
use super::fields::analyse;
use super::locate::{
    check_partial_limits, content_len, fill_header_spans, has_head_end, leading_empty_lines,
    max_head_bytes, span_in,
};
use super::syntax::is_target_byte;
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
            Method::Get
                | Method::Head
                | Method::Put
                | Method::Delete
                | Method::Options
                | Method::Trace
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
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &HeadLimits,
    ) -> Result<Status<()>, H1Error> {
        let lead = leading_empty_lines(buf)?;
        if !has_head_end(&buf[lead..]) {
            check_partial_limits(buf, lead, limits, true)?;
            return Ok(Status::Partial);
        }
        let head_len = match self.parse_fields(&buf[lead..], limits)? {
            Some(n) => n,
            None => {
                check_partial_limits(buf, lead, limits, true)?;
                return Ok(Status::Partial);
            }
        };
        if lead + head_len > max_head_bytes(limits) {
            return Err(H1Error::HeadTooLarge);
        }
        let _ = buf.split_to(lead);
        self.buf = buf.split_to(head_len).freeze();
        debug_assert!(self
            .headers
            .iter()
            .all(|h| h.line.end as usize <= self.buf.len()));
        Ok(Status::Complete(()))
    }

    /// Runs httparse over `head` (the bytes from the method on) and fills every field of
    /// `self` but `buf`. Returns the head's length, or `None` if httparse needs more.
    fn parse_fields(&mut self, head: &[u8], limits: &HeadLimits) -> Result<Option<usize>, H1Error> {
        let mut scratch =
            [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HeadLimits::MAX_HEADERS_CAP];
        let cap = limits.max_headers.min(HeadLimits::MAX_HEADERS_CAP);
        let mut req = httparse::Request::new(&mut []);
        let head_len = match req.parse_with_uninit_headers(head, &mut scratch[..cap]) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(H1Error::TooManyHeaders),
            Err(_) => return Err(classify(head, StartLine::Request)),
        };
        let head = &head[..head_len];
        let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
            // httparse sets all three before it reports Complete.
            return Err(H1Error::Malformed);
        };

        let line_end = fill_header_spans(head, req.headers, &mut self.headers);
        if content_len(head, line_end) > limits.max_request_line {
            return Err(H1Error::RequestLineTooLong);
        }
        // httparse lets obs-text (0x80..=0xFF) through in the target; RFC 9112 §3.2 does
        // not. httparse already refused CTL, SP and DEL, so the high bit is all that is
        // left to check (`is_ascii` does it a word at a time).
        debug_assert!(!target.bytes().any(|b| b < 0x80 && !is_target_byte(b)));
        if !target.is_ascii() {
            return Err(H1Error::InvalidTarget);
        }
        self.method_span = span_in(head, method.as_bytes());
        self.method = Method::from_bytes(method.as_bytes());
        self.target = span_in(head, target.as_bytes());
        self.version = if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        };
        self.request_line = Span::new(0, line_end);

        let (facts, host_count) = analyse(head, &self.headers, self.version)?;
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1; a second one is refused in any
        // version, as two parsers may pick different ones.
        if host_count > 1 || (host_count == 0 && self.version == Version::Http11) {
            return Err(H1Error::MissingOrDuplicateHost);
        }
        self.host = facts.host;
        self.conn = facts.conn;
        self.framing = match (facts.chunked, facts.content_length) {
            (true, _) => BodyFraming::Chunked,
            (false, Some(n)) => BodyFraming::Length(n),
            (false, None) => BodyFraming::None,
        };
        Ok(Some(head_len))
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
}
