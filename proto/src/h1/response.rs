//! Response heads from upstreams. Same scrutiny as requests: any framing ambiguity is an
//! error, which the gateway answers with 502 and never forwards.

use bytes::{Bytes, BytesMut};

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
        let _ = (buf, limits, request_method);
        todo!("h1 response parse")
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
