//! Heads between HTTP/1.1 and HTTP/2 for the proxy's HTTP/2 upstreams (RFC 9113 §8).
//!
//! - [`request`]: the HTTP/1.1 head the proxy would send upstream (filter edits and
//!   forwarding fields already applied by `write_request_head`, hop-by-hop fields
//!   already dropped) becomes an HTTP/2 request: method and target become `:method` and
//!   `:path`, `Host` becomes `:authority`, the cluster's transport gives `:scheme`, and
//!   the connection-specific fields (§8.2.2) are dropped, `te: trailers` excepted.
//! - [`response_head`]: an HTTP/2 response head becomes an HTTP/1.1 head that the
//!   proxy parses with the same parser as an HTTP/1.1 upstream's, framed with the
//!   upstream's `content-length` when it sent one, else chunked (so that trailers, e.g.
//!   gRPC's `grpc-status`, reach an HTTP/1.1 client as chunked trailers).
//! - [`last_chunk`] and [`parse_trailers`]: trailers both ways.
//!
//! Reparsing a head we serialised costs one httparse pass per request (the same price
//! `bridge.rs` pays downstream); it keeps one serialiser, with its rules about edits and
//! hop-by-hop fields, for both upstream protocols.

use std::ops::Range;

use bytes::{BufMut, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Method, Request, Uri};
use tollgate_proto::h1::{ChunkedScanner, H1Error};

/// Most fields in a request head we convert: the client's (bounded by
/// `limits.max_headers`) plus what edits and forwarding add.
const MAX_FIELDS: usize = 256;

/// Connection-specific fields (RFC 9113 §8.2.2, and the legacy ones every proxy drops):
/// never sent in HTTP/2.
fn connection_specific(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade" | "te"
    )
}

/// The HTTP/2 request for `head` (a whole HTTP/1.1 request head, as the proxy would
/// write it upstream). `tls`: the upstream connection is TLS (`:scheme` https).
/// `default_authority`: for a head without Host (the proxy always adds one).
/// `te_trailers`: the client said `TE: trailers`, which HTTP/2 carries end to end.
pub fn request(
    head: &[u8],
    tls: bool,
    default_authority: &[u8],
    te_trailers: bool,
) -> Result<Request<()>, H1Error> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut r = httparse::Request::new(&mut fields);
    match r.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(H1Error::TooManyHeaders),
        _ => return Err(H1Error::Malformed),
    }
    let method = Method::from_bytes(r.method.unwrap_or("GET").as_bytes())
        .map_err(|_| H1Error::InvalidMethod)?;
    let target = r.path.unwrap_or("/");
    let mut authority: &[u8] = default_authority;
    let mut headers = HeaderMap::with_capacity(r.headers.len() + 1);
    for f in r.headers.iter() {
        let name =
            HeaderName::from_bytes(f.name.as_bytes()).map_err(|_| H1Error::InvalidHeaderName)?;
        if name == http::header::HOST {
            authority = f.value;
            continue;
        }
        if connection_specific(name.as_str()) {
            continue;
        }
        let value = HeaderValue::from_bytes(f.value).map_err(|_| H1Error::InvalidHeaderValue)?;
        headers.append(name, value);
    }
    if te_trailers {
        headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
    }
    let (authority, path) = if target.starts_with('/') || target == "*" {
        let path = PathAndQuery::try_from(target).map_err(|_| H1Error::InvalidTarget)?;
        (authority_from(authority)?, path)
    } else {
        // Absolute form (RFC 9112 §3.2.2): its authority is the request's.
        let uri = Uri::try_from(target).map_err(|_| H1Error::InvalidTarget)?;
        let a = uri.authority().cloned().ok_or(H1Error::InvalidTarget)?;
        let p = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        (a, p)
    };
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(if tls { Scheme::HTTPS } else { Scheme::HTTP });
    parts.authority = Some(authority);
    parts.path_and_query = Some(path);
    let uri = Uri::from_parts(parts).map_err(|_| H1Error::InvalidTarget)?;
    let mut req = Request::new(());
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    Ok(req)
}

fn authority_from(host: &[u8]) -> Result<Authority, H1Error> {
    Authority::try_from(host).map_err(|_| H1Error::MissingOrDuplicateHost)
}

/// Writes the HTTP/1.1 form of an HTTP/2 response head into `out`. `end_stream`: the
/// response has no body (END_STREAM came with the head). `head_request`: the request
/// was HEAD. `chunked_ok`: the client speaks HTTP/1.1 (an HTTP/1.0 client gets a body
/// of unknown length delimited by the connection's close instead).
pub fn response_head(
    parts: &http::response::Parts,
    end_stream: bool,
    head_request: bool,
    chunked_ok: bool,
    out: &mut BytesMut,
) {
    let status = parts.status;
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.put_slice(b"\r\n");
    let mut length = false;
    for (name, value) in &parts.headers {
        if connection_specific(name.as_str()) {
            continue;
        }
        if name == http::header::CONTENT_LENGTH {
            length = true;
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    // RFC 9110 §6.4.1: 1xx, 204 and 304 have no body, nor does a response to HEAD;
    // §8.6: no Content-Length in a 1xx or 204.
    let bodiless = status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED
        || head_request;
    if !length && !bodiless {
        if end_stream {
            field(out, b"content-length", b"0");
        } else if chunked_ok {
            field(out, b"transfer-encoding", b"chunked");
        }
    }
    out.put_slice(b"\r\n");
}

/// Appends one HTTP/1.1 field line.
pub(crate) fn field(out: &mut impl BufMut, name: &[u8], value: &[u8]) {
    out.put_slice(name);
    out.put_slice(b": ");
    out.put_slice(value);
    out.put_slice(b"\r\n");
}

/// Appends the end of a chunked body: the last chunk, `trailers` as trailer fields
/// (connection-specific ones dropped), the blank line.
pub fn last_chunk(trailers: Option<&HeaderMap>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers.into_iter().flatten() {
        if connection_specific(name.as_str()) {
            continue;
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// A chunked body taken apart for HTTP/2, step by step: its data, and at its end the
/// trailer fields (from the framing bytes kept since the last data: the last chunk and
/// the trailer section). Used both ways: an HTTP/1.1 response to an HTTP/2 client
/// (`bridge.rs`), an HTTP/1.1 request body to an HTTP/2 upstream (`proxy_h2.rs`).
pub struct Dechunk {
    scanner: ChunkedScanner,
    tail: Vec<u8>,
}

/// One step of [`Dechunk::step`].
pub struct DechunkStep {
    /// Input bytes consumed.
    pub consumed: usize,
    /// Where the chunk data is within the consumed bytes, if this step had any.
    pub data: Option<Range<usize>>,
    /// The body is complete: its trailer fields (empty when it had none).
    pub trailers: Option<HeaderMap>,
}

impl Dechunk {
    /// `max_line`, `max_trailer_bytes`: as for [`ChunkedScanner::new`].
    pub fn new(max_line: usize, max_trailer_bytes: usize) -> Dechunk {
        Dechunk {
            scanner: ChunkedScanner::new(max_line, max_trailer_bytes),
            tail: Vec::new(),
        }
    }

    pub fn step(&mut self, input: &[u8]) -> Result<DechunkStep, H1Error> {
        let s = self.scanner.decode(input)?;
        let consumed = &input[..s.consumed];
        let data = match s.data {
            Some(span) => {
                let (a, b) = (span.start as usize, span.end as usize);
                self.tail.clear();
                self.tail.extend_from_slice(&consumed[b..]);
                Some(a..b)
            }
            None => {
                self.tail.extend_from_slice(consumed);
                None
            }
        };
        Ok(DechunkStep {
            consumed: s.consumed,
            data,
            trailers: s.done.then(|| parse_trailers(&self.tail)),
        })
    }
}

/// The trailer fields in the bytes that end a chunked body (`\r\n` after the last data,
/// the last-chunk line, trailer lines, the blank line), already validated by the
/// chunked scanner. Fields HTTP/2 cannot carry (connection-specific, invalid names) are
/// dropped.
pub fn parse_trailers(tail: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    let text = tail.strip_prefix(b"\r\n").unwrap_or(tail);
    // Past the last-chunk line ("0" and extensions).
    let Some(eol) = memchr::memmem::find(text, b"\r\n") else {
        return map;
    };
    for line in text[eol + 2..].split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            if !connection_specific(n.as_str()) {
                map.append(n, v);
            }
        }
    }
    map
}

/// Whether a request's `TE` field values include `trailers`.
pub fn wants_trailers(te: &[u8]) -> bool {
    te.split(|&b| b == b',').any(|v| {
        let v = v.trim_ascii();
        let token = v.split(|&b| b == b';').next().unwrap_or(v).trim_ascii();
        token.eq_ignore_ascii_case(b"trailers")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_http11_head_becomes_an_http2_request() {
        let head = b"POST /v1/x?y=1 HTTP/1.1\r\nHost: api.test:8443\r\nX-Id: 7\r\n\
                     Content-Length: 3\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n";
        let req = request(head, true, b"default:1", true).unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().scheme_str(), Some("https"));
        assert_eq!(req.uri().authority().unwrap().as_str(), "api.test:8443");
        assert_eq!(req.uri().path_and_query().unwrap().as_str(), "/v1/x?y=1");
        let h = req.headers();
        assert!(h.get("host").is_none());
        assert_eq!(h.get("x-id").unwrap(), "7");
        assert_eq!(h.get("content-length").unwrap(), "3");
        assert_eq!(h.get("x-forwarded-for").unwrap(), "10.0.0.1");
        assert_eq!(h.get("te").unwrap(), "trailers");
    }

    #[test]
    fn connection_specific_fields_are_dropped() {
        let head = b"GET / HTTP/1.1\r\nhost: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\
                     Keep-Alive: 5\r\nProxy-Connection: x\r\nTransfer-Encoding: chunked\r\n\
                     TE: gzip\r\nx-keep: 1\r\n\r\n";
        let req = request(head, false, b"d", false).unwrap();
        assert_eq!(req.uri().scheme_str(), Some("http"));
        let names: Vec<&str> = req.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["x-keep"]);
    }

    #[test]
    fn absolute_form_and_missing_host() {
        let req = request(
            b"GET http://origin.test/p?q HTTP/1.1\r\nhost: x\r\n\r\n",
            false,
            b"d",
            false,
        )
        .unwrap();
        assert_eq!(req.uri().authority().unwrap().as_str(), "origin.test");
        assert_eq!(req.uri().path_and_query().unwrap().as_str(), "/p?q");
        let req = request(b"GET / HTTP/1.0\r\n\r\n", false, b"up:80", false).unwrap();
        assert_eq!(req.uri().authority().unwrap().as_str(), "up:80");
        assert_eq!(
            request(b"GET / HTTP/1.1\r\nhost: a b\r\n\r\n", false, b"d", false).unwrap_err(),
            H1Error::MissingOrDuplicateHost
        );
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> http::response::Parts {
        let mut b = http::Response::builder().status(status);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn response_heads_are_framed_for_http11() {
        let mut out = BytesMut::new();
        response_head(
            &response(200, &[("content-length", "5"), ("x-a", "1")]),
            false,
            false,
            true,
            &mut out,
        );
        assert_eq!(
            &out[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\n\r\n"
        );
        let mut out = BytesMut::new();
        response_head(
            &response(200, &[("content-type", "application/grpc")]),
            false,
            false,
            true,
            &mut out,
        );
        assert_eq!(
            &out[..],
            b"HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        // No body: a length of 0, but never on a 204 or a HEAD response.
        let mut out = BytesMut::new();
        response_head(&response(404, &[]), true, false, true, &mut out);
        assert_eq!(
            &out[..],
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
        );
        let mut out = BytesMut::new();
        response_head(&response(204, &[]), true, false, true, &mut out);
        assert_eq!(&out[..], b"HTTP/1.1 204 No Content\r\n\r\n");
        let mut out = BytesMut::new();
        response_head(&response(200, &[]), false, true, true, &mut out);
        assert_eq!(&out[..], b"HTTP/1.1 200 OK\r\n\r\n");
        // An HTTP/1.0 client: the body runs until close.
        let mut out = BytesMut::new();
        response_head(&response(200, &[]), false, false, false, &mut out);
        assert_eq!(&out[..], b"HTTP/1.1 200 OK\r\n\r\n");
    }

    #[test]
    fn trailers_both_ways() {
        let t =
            parse_trailers(b"\r\n0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\nconnection: x\r\n\r\n");
        assert_eq!(t.get("grpc-status").unwrap(), "0");
        assert_eq!(t.get("grpc-message").unwrap(), "ok");
        assert!(t.get("connection").is_none());
        assert!(parse_trailers(b"0\r\n\r\n").is_empty());
        let mut out = Vec::new();
        last_chunk(Some(&t), &mut out);
        assert_eq!(&out[..], b"0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n");
        let mut out = Vec::new();
        last_chunk(None, &mut out);
        assert_eq!(&out[..], b"0\r\n\r\n");
    }

    #[test]
    fn te_trailers() {
        assert!(wants_trailers(b"trailers"));
        assert!(wants_trailers(b"gzip, Trailers"));
        assert!(wants_trailers(b"trailers;q=1"));
        assert!(!wants_trailers(b"gzip"));
        assert!(!wants_trailers(b"trailersx"));
    }
}
