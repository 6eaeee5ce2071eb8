//! Heads of responses the gateway makes itself: error pages, direct responses, CORS
//! preflights. Nothing here came from a peer, so the only rules are the writing rules
//! of [`super::serialize`]: edits apply, and invalid fields are skipped rather than let
//! them inject lines.

use bytes::Bytes;

use super::fields::FieldName;
use super::serialize::{named_in_edits, write_edits};
use super::write::{is_writable_field, push_field, push_u64};
use super::HeadEdits;

/// Appends a complete response head to `out`: `HTTP/1.1 status reason`, `headers`
/// (minus those `edits` removes or sets), `edits.set`, `edits.append`,
/// `Content-Length` when `content_length` is given, `Connection: close` when `close`,
/// and the blank line.
///
/// When `content_length` is given, Content-Length and Transfer-Encoding fields in
/// `headers` are dropped so the head has exactly one framing.
pub fn write_local_response_head(
    status: u16,
    headers: &[(Bytes, Bytes)],
    edits: &HeadEdits,
    content_length: Option<u64>,
    close: bool,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        let framing = matches!(
            FieldName::classify(name),
            FieldName::ContentLength | FieldName::TransferEncoding
        );
        if (framing && content_length.is_some())
            || named_in_edits(edits, name)
            || !is_writable_field(name, value)
        {
            continue;
        }
        push_field(out, name, value);
    }
    write_edits(edits, out);
    if let Some(n) = content_length {
        out.extend_from_slice(b"Content-Length: ");
        push_u64(out, n);
        out.extend_from_slice(b"\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The reason phrase RFC 9110 §15 (and RFC 6585 for 428/429/431) gives `status`, or
/// `""` for a code it does not name (an empty reason is valid, RFC 9112 §4).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}
