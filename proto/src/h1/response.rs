//! Response heads from upstreams. Same scrutiny as requests: any framing ambiguity is an
//! error, which the gateway answers with 502 and never forwards.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};

use super::classify::{classify, StartLine};
use super::fields::analyse;
use super::locate::{
    check_partial_limits, content_len, fill_header_spans, has_head_end, leading_empty_lines,
    max_head_bytes,
};
use super::{ConnectionInfo, H1Error, HeadLimits, HeaderSpan, Method, Span, Status, Version};

/// How the length of a response body is known (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: 1xx, 204, 304, or a response to HEAD.
    None,
    Length(u64),
    Chunked,
    /// Neither Content-Length nor Transfer-Encoding: the body runs until the upstream
    /// closes the connection.
    UntilClose,
}

#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub buf: Bytes,
    pub version: Version,
    pub status: u16,
    pub reason: Span,
    /// The status line including its line terminator.
    pub status_line: Span,
    pub headers: Vec<HeaderSpan>,
    pub framing: ResponseFraming,
    pub conn: ConnectionInfo,
}

impl Default for ResponseHead {
    fn default() -> Self {
        ResponseHead {
            buf: Bytes::new(),
            version: Version::Http11,
            status: 0,
            reason: Span::default(),
            status_line: Span::default(),
            headers: Vec::with_capacity(32),
            framing: ResponseFraming::None,
            conn: ConnectionInfo::default(),
        }
    }
}

impl ResponseHead {
    /// Parses a response head from the front of `buf`, for a request made with
    /// `request_method` (a response to HEAD has no body whatever its headers say).
    /// Splitting and `Partial` behave as in [`super::RequestHead::parse`].
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &HeadLimits,
        request_method: Method,
    ) -> Result<Status<()>, H1Error> {
        // RFC 9112 §2.2 allows empty lines only before a request-line; before a status
        // line they mean the previous response was longer than it said.
        if leading_empty_lines(buf)? > 0 {
            return Err(H1Error::Malformed);
        }
        let head_len = if has_head_end(buf) {
            self.parse_fields(buf, limits, request_method)?
        } else {
            None
        };
        let Some(head_len) = head_len else {
            check_partial_limits(buf, 0, limits, false)?;
            return Ok(Status::Partial);
        };
        if head_len > max_head_bytes(limits) {
            return Err(H1Error::HeadTooLarge);
        }
        self.buf = buf.split_to(head_len).freeze();
        debug_assert!(self
            .headers
            .iter()
            .all(|h| h.line.end as usize <= self.buf.len()));
        Ok(Status::Complete(()))
    }

    /// Runs httparse over `head` and fills every field of `self` but `buf`. Returns the
    /// head's length, or `None` if httparse needs more.
    fn parse_fields(
        &mut self,
        head: &[u8],
        limits: &HeadLimits,
        request_method: Method,
    ) -> Result<Option<usize>, H1Error> {
        let mut scratch =
            [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; HeadLimits::MAX_HEADERS_CAP];
        let cap = limits.max_headers.min(HeadLimits::MAX_HEADERS_CAP);
        let mut res = httparse::Response::new(&mut []);
        // The default config: every lenient option off (obs-fold, spaces before the colon,
        // invalid lines skipped are all refused).
        let config = httparse::ParserConfig::default();
        let head_len =
            match config.parse_response_with_uninit_headers(&mut res, head, &mut scratch[..cap]) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(httparse::Error::TooManyHeaders) => return Err(H1Error::TooManyHeaders),
                Err(_) => return Err(classify(head, StartLine::Response)),
            };
        let head = &head[..head_len];
        let (Some(minor), Some(status)) = (res.version, res.code) else {
            // httparse sets both before it reports Complete.
            return Err(H1Error::Malformed);
        };
        // httparse takes any three digits; a status code is 100..=599 in practice and
        // 100..=999 by the grammar (RFC 9110 §15).
        if status < 100 {
            return Err(H1Error::InvalidStatus);
        }
        let line_end = fill_header_spans(head, res.headers, &mut self.headers);
        self.version = if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        };
        self.status = status;
        self.status_line = Span::new(0, line_end);
        // httparse replaces a reason with obs-text by "" (not a slice of the buffer), so
        // the span is taken from the line itself: after "HTTP/1.x NNN ", without the CRLF.
        let reason_end = content_len(head, line_end);
        self.reason = Span::new(reason_end.min(13), reason_end);

        // Host means nothing in a response; its count is not checked.
        let (facts, _host_count) = analyse(head, &self.headers, self.version)?;
        self.conn = facts.conn;
        let no_body = (100..200).contains(&status)
            || status == 204
            || status == 304
            || request_method == Method::Head
            // RFC 9110 §9.3.6: a 2xx to CONNECT turns the connection into a tunnel.
            || (request_method == Method::Connect && (200..300).contains(&status));
        self.framing = match (no_body, facts.chunked, facts.content_length) {
            (true, _, _) => ResponseFraming::None,
            (false, true, _) => ResponseFraming::Chunked,
            (false, false, Some(n)) => ResponseFraming::Length(n),
            (false, false, None) => ResponseFraming::UntilClose,
        };
        if self.framing == ResponseFraming::UntilClose {
            // The body's end is the connection's end.
            self.conn.keep_alive = false;
        }
        Ok(Some(head_len))
    }

    pub fn name(&self, h: &HeaderSpan) -> &[u8] {
        h.name.of(&self.buf)
    }

    pub fn value(&self, h: &HeaderSpan) -> &[u8] {
        h.value.of(&self.buf)
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| self.name(h).eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| self.value(h))
    }

    /// 1xx other than 101: an interim response; the final one follows on the same connection.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}
