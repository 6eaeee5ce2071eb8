//! Why a head or body was refused. Each variant maps to exactly one status in
//! [`H1Error::request_status`]; for responses from an upstream every variant is a 502.

/// A framing or syntax error in an HTTP/1.1 message. The connection it came on must be
/// closed after the error response: its framing can no longer be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H1Error {
    /// The request line is longer than `HeadLimits::max_request_line` (414).
    RequestLineTooLong,
    /// The head is larger than `HeadLimits::max_head_bytes` (431).
    HeadTooLarge,
    /// More header fields than `HeadLimits::max_headers` (431).
    TooManyHeaders,
    /// The request-target is not valid (400).
    InvalidTarget,
    /// Not an HTTP/1.0 or HTTP/1.1 message (505 for requests).
    UnsupportedVersion,
    /// The method token is invalid (400).
    InvalidMethod,
    /// A header name is invalid, or has whitespace before the colon (400).
    InvalidHeaderName,
    /// A header value holds a forbidden character (400).
    InvalidHeaderValue,
    /// A CR not followed by LF (400).
    BareCr,
    /// A line folded with obs-fold (400 in requests).
    ObsFold,
    /// Any other syntax error in the head (400).
    Malformed,
    /// Content-Length and Transfer-Encoding together (400, RFC 9112 §6.3 rule 3).
    ContentLengthWithTransferEncoding,
    /// Content-Length not a single run of digits, repeated, or a list (400).
    InvalidContentLength,
    /// Transfer-Encoding whose final coding is not chunked (400 in requests).
    TransferEncodingNotChunked,
    /// A transfer coding other than chunked, e.g. `gzip, chunked` (501).
    UnsupportedTransferCoding,
    /// Transfer-Encoding in an HTTP/1.0 message (400).
    TransferEncodingInHttp10,
    /// HTTP/1.1 request without exactly one Host header (400).
    MissingOrDuplicateHost,
    /// A chunk-size line that is not hex digits (no `0x`, signs, underscores,
    /// whitespace before the size) or overflows 64 bits (400).
    InvalidChunkSize,
    /// A chunk extension that is not `;token[=token|quoted-string]` (400).
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF (400).
    InvalidChunkTerminator,
    /// A chunk-size line, extension or trailer section over its limit (400).
    ChunkLineTooLong,
    /// An invalid trailer field (400).
    InvalidTrailer,
    /// The response status code is not three digits in 100..=999 (502).
    InvalidStatus,
}

impl H1Error {
    /// The status a gateway answers when a *client's request* fails with this error.
    /// Errors in an upstream's response are always 502 and do not use this.
    pub fn request_status(self) -> u16 {
        use H1Error::*;
        match self {
            // RFC 9112 §3: a request-line longer than any we accept.
            RequestLineTooLong => 414,
            // RFC 6585 §5: the header section is too large.
            HeadTooLarge | TooManyHeaders => 431,
            // RFC 9110 §15.6.6.
            UnsupportedVersion => 505,
            // RFC 9112 §6.1: a transfer coding we do not understand.
            UnsupportedTransferCoding => 501,
            InvalidTarget
            | InvalidMethod
            | InvalidHeaderName
            | InvalidHeaderValue
            | BareCr
            | ObsFold
            | Malformed
            | ContentLengthWithTransferEncoding
            | InvalidContentLength
            | TransferEncodingNotChunked
            | TransferEncodingInHttp10
            | MissingOrDuplicateHost
            | InvalidChunkSize
            | InvalidChunkExtension
            | InvalidChunkTerminator
            | ChunkLineTooLong
            | InvalidTrailer
            | InvalidStatus => 400,
        }
    }

    /// A short, stable reason for logs and error bodies.
    pub fn reason(self) -> &'static str {
        use H1Error::*;
        match self {
            RequestLineTooLong => "request line too long",
            HeadTooLarge => "header section too large",
            TooManyHeaders => "too many header fields",
            InvalidTarget => "invalid request target",
            UnsupportedVersion => "unsupported HTTP version",
            InvalidMethod => "invalid method",
            InvalidHeaderName => "invalid header name",
            InvalidHeaderValue => "invalid header value",
            BareCr => "bare CR in message head",
            ObsFold => "obsolete line folding",
            Malformed => "malformed message head",
            ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            InvalidContentLength => "invalid Content-Length",
            TransferEncodingNotChunked => "Transfer-Encoding does not end in chunked",
            UnsupportedTransferCoding => "unsupported transfer coding",
            TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
            MissingOrDuplicateHost => "missing or duplicate Host header",
            InvalidChunkSize => "invalid chunk size",
            InvalidChunkExtension => "invalid chunk extension",
            InvalidChunkTerminator => "chunk data not followed by CRLF",
            ChunkLineTooLong => "chunk line or trailer section too long",
            InvalidTrailer => "invalid trailer field",
            InvalidStatus => "invalid status code",
        }
    }
}

impl std::fmt::Display for H1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for H1Error {}
