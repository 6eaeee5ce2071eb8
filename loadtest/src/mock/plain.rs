//! Plain HTTP responses: formatting, and the preformatted default response that the fast
//! path copies with one `extend_from_slice` per request.

use crate::h1::chunked::{encode_chunk, LAST_CHUNK};

/// The reason phrase for common statuses.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Shape of a response to format.
#[derive(Debug, Clone)]
pub struct Shape<'a> {
    /// Status code.
    pub status: u16,
    /// Extra header lines, each `Name: value` without CRLF.
    pub headers: &'a [String],
    /// Content-Type, if any.
    pub content_type: Option<&'a str>,
    /// Chunked instead of Content-Length.
    pub chunked: bool,
    /// Add `Connection: close`.
    pub close: bool,
    /// Leave out the body (HEAD request).
    pub head_only: bool,
}

/// True when a response with this status may carry a body.
pub fn status_has_body(status: u16) -> bool {
    !((100..200).contains(&status) || status == 204 || status == 304)
}

/// Appends a whole response (head and body) to `out`.
pub fn write_response(out: &mut Vec<u8>, shape: &Shape<'_>, body: &[u8]) {
    let has_body = status_has_body(shape.status);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(shape.status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(shape.status).as_bytes());
    out.extend_from_slice(b"\r\nServer: tollgate-mock\r\n");
    if let Some(ct) = shape.content_type {
        header_line(out, "Content-Type", ct);
    }
    for h in shape.headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if has_body {
        if shape.chunked {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        } else {
            header_line(out, "Content-Length", &body.len().to_string());
        }
    }
    if shape.close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !has_body || shape.head_only {
        return;
    }
    if shape.chunked {
        // Chunks of up to 16 KiB, like a streaming server would send.
        for piece in body.chunks(16 * 1024) {
            encode_chunk(out, piece);
        }
        out.extend_from_slice(LAST_CHUNK);
    } else {
        out.extend_from_slice(body);
    }
}

fn header_line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A body of `n` bytes: a repeating printable pattern.
pub fn body_bytes(n: usize) -> Vec<u8> {
    const PATTERN: &[u8] = b"tollgate-mock 0123456789 abcdefghijklmnopqrstuvwxyz\n";
    PATTERN.iter().copied().cycle().take(n).collect()
}

/// The default response, preformatted for keep-alive and for close, full and head-only.
#[derive(Debug, Clone)]
pub struct Preformatted {
    keep_alive: Vec<u8>,
    close: Vec<u8>,
    keep_alive_head: usize,
    close_head: usize,
}

impl Preformatted {
    /// Formats the default response once.
    pub fn new(status: u16, body_size: usize, headers: &[String], chunked: bool) -> Self {
        let body = body_bytes(body_size);
        let make = |close, head_only| {
            let mut v = Vec::new();
            let shape = Shape {
                status,
                headers,
                content_type: Some("text/plain"),
                chunked,
                close,
                head_only,
            };
            write_response(&mut v, &shape, &body);
            v
        };
        let keep_alive = make(false, false);
        let close = make(true, false);
        Self {
            keep_alive_head: make(false, true).len(),
            close_head: make(true, true).len(),
            keep_alive,
            close,
        }
    }

    /// The bytes to send.
    pub fn bytes(&self, close: bool, head_only: bool) -> &[u8] {
        let (all, head) = if close {
            (&self.close, self.close_head)
        } else {
            (&self.keep_alive, self.keep_alive_head)
        };
        if head_only {
            &all[..head]
        } else {
            all
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preformatted_parses_back() {
        for chunked in [false, true] {
            let p = Preformatted::new(200, 100, &["X-A: b".to_string()], chunked);
            let bytes = p.bytes(false, false);
            let mut hs = [httparse::EMPTY_HEADER; 16];
            let mut r = httparse::Response::new(&mut hs);
            let n = match r.parse(bytes).unwrap() {
                httparse::Status::Complete(n) => n,
                httparse::Status::Partial => panic!("partial"),
            };
            assert_eq!(r.code, Some(200));
            assert_eq!(crate::h1::header(r.headers, "x-a"), Some(&b"b"[..]));
            let framing = crate::h1::response_framing(false, 200, r.headers).unwrap();
            if chunked {
                assert_eq!(framing, crate::h1::Framing::Chunked);
            } else {
                assert_eq!(framing, crate::h1::Framing::Length(100));
                assert_eq!(bytes.len() - n, 100);
            }
            assert!(std::str::from_utf8(p.bytes(true, true))
                .unwrap()
                .ends_with("Connection: close\r\n\r\n"));
        }
    }

    #[test]
    fn no_body_statuses() {
        let mut v = Vec::new();
        let shape = Shape {
            status: 204,
            headers: &[],
            content_type: None,
            chunked: false,
            close: false,
            head_only: false,
        };
        write_response(&mut v, &shape, b"ignored");
        assert!(v.ends_with(b"\r\n\r\n"));
        assert!(!String::from_utf8_lossy(&v).contains("Content-Length"));
    }
}
