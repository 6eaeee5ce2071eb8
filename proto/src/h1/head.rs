//! Types shared by request and response heads: spans into the head's bytes, header
//! fields, connection semantics and body framing.

/// A byte range inside a head's `buf`. `u32` keeps a header entry at 16 bytes; heads are
/// bounded far below 4 GiB by [`HeadLimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end && end <= u32::MAX as usize);
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The bytes this span covers in `buf`.
    #[inline]
    pub fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One header field: the name and the value (OWS trimmed), as spans into the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderSpan {
    pub name: Span,
    pub value: Span,
    /// The whole field line, from the first byte of the name to the end of its line
    /// terminator (CRLF or LF). Lets the serialiser copy kept lines verbatim.
    pub line: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the length of a request body is known (RFC 9112 §6.3). A request without
/// Content-Length or Transfer-Encoding has no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
}

/// What the `Connection`, `Upgrade`, `Expect` and related headers of a message say, and
/// whether any hop-by-hop header is present (so the serialiser can skip work when none is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionInfo {
    /// The connection persists after this message: HTTP/1.1 without `Connection: close`,
    /// or HTTP/1.0 with `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Connection: upgrade` with an `Upgrade` header (WebSocket and the like).
    pub upgrade: bool,
    /// `Expect: 100-continue` (requests only).
    pub expect_continue: bool,
    /// Any hop-by-hop header is present: Connection, Keep-Alive, Proxy-Connection, TE,
    /// Trailer, Upgrade, Proxy-Authenticate/Authorization, or a name that `Connection`
    /// lists. When false a head may be forwarded without looking at its fields again.
    pub has_hop_by_hop: bool,
}

/// Limits applied while parsing a head. Each has a config key in `core` (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request line (method, target, version) in bytes. Default 8 KiB; over it: 414.
    pub max_request_line: usize,
    /// Largest head (start line and all fields) in bytes. Default 32 KiB; over it: 431.
    pub max_head_bytes: usize,
    /// Most header fields. Default 100, at most [`HeadLimits::MAX_HEADERS_CAP`]; over it: 431.
    pub max_headers: usize,
}

impl HeadLimits {
    /// The parser keeps its scratch header table on the stack; this is its size.
    pub const MAX_HEADERS_CAP: usize = 256;
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_request_line: 8 * 1024,
            max_head_bytes: 32 * 1024,
            max_headers: 100,
        }
    }
}
