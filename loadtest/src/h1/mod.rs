//! The HTTP/1.1 pieces both tools share: an incremental chunked decoder and helpers that
//! read framing and control headers out of an `httparse` head.
//!
//! Sans-I/O: functions take bytes and return results; nothing here touches a socket.

pub mod chunked;

pub use chunked::{ChunkedDecoder, ChunkedError};

/// How a message body is delimited (RFC 9112 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the peer closes (responses only).
    UntilClose,
}

/// Why a head's framing headers were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// A Content-Length that is not a plain decimal number, or two that disagree.
    BadContentLength,
    /// A Transfer-Encoding other than a final `chunked`.
    BadTransferEncoding,
}

/// Case-insensitive lookup of the first header named `name`.
pub fn header<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// True when the comma-separated header `name` lists `token` (case-insensitive).
pub fn header_has_token(headers: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Parses an unsigned decimal header value (no sign, no spaces inside).
pub fn parse_u64(value: &[u8]) -> Option<u64> {
    let v = value.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Request body framing: chunked wins only when it is the sole, final coding; several
/// Content-Length headers must agree. A request with both is rejected (smuggling vector).
pub fn request_framing(headers: &[httparse::Header<'_>]) -> Result<Framing, FramingError> {
    let te = transfer_encoding(headers)?;
    let cl = content_length(headers)?;
    match (te, cl) {
        (true, Some(_)) => Err(FramingError::BadTransferEncoding),
        (true, None) => Ok(Framing::Chunked),
        (false, Some(n)) => Ok(Framing::Length(n)),
        (false, None) => Ok(Framing::None),
    }
}

/// Response body framing for a response to `method` with `status`.
pub fn response_framing(
    head_request: bool,
    status: u16,
    headers: &[httparse::Header<'_>],
) -> Result<Framing, FramingError> {
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Framing::None);
    }
    if transfer_encoding(headers)? {
        return Ok(Framing::Chunked);
    }
    Ok(match content_length(headers)? {
        Some(n) => Framing::Length(n),
        None => Framing::UntilClose,
    })
}

fn transfer_encoding(headers: &[httparse::Header<'_>]) -> Result<bool, FramingError> {
    let mut seen = false;
    let mut last_chunked = false;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
    {
        for coding in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            if coding.is_empty() {
                continue;
            }
            if last_chunked {
                // `chunked` must be the final coding and appear once.
                return Err(FramingError::BadTransferEncoding);
            }
            seen = true;
            last_chunked = coding.eq_ignore_ascii_case(b"chunked");
        }
    }
    match (seen, last_chunked) {
        (false, _) => Ok(false),
        (true, true) => Ok(true),
        (true, false) => Err(FramingError::BadTransferEncoding),
    }
}

fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, FramingError> {
    let mut found: Option<u64> = None;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        for part in h.value.split(|&b| b == b',') {
            let n = parse_u64(part).ok_or(FramingError::BadContentLength)?;
            if found.is_some_and(|f| f != n) {
                return Err(FramingError::BadContentLength);
            }
            found = Some(n);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<'a>(name: &'a str, value: &'a str) -> httparse::Header<'a> {
        httparse::Header {
            name,
            value: value.as_bytes(),
        }
    }

    #[test]
    fn request_framing_table() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<Framing, FramingError>);
        let cases: &[Case<'_>] = &[
            (&[], Ok(Framing::None)),
            (&[("Content-Length", "12")], Ok(Framing::Length(12))),
            (&[("content-length", "5, 5")], Ok(Framing::Length(5))),
            (
                &[("content-length", "5"), ("Content-Length", "6")],
                Err(FramingError::BadContentLength),
            ),
            (
                &[("content-length", "+5")],
                Err(FramingError::BadContentLength),
            ),
            (
                &[("content-length", "")],
                Err(FramingError::BadContentLength),
            ),
            (&[("Transfer-Encoding", "chunked")], Ok(Framing::Chunked)),
            (
                &[("Transfer-Encoding", "gzip, chunked")],
                Ok(Framing::Chunked),
            ),
            (
                &[("Transfer-Encoding", "chunked, gzip")],
                Err(FramingError::BadTransferEncoding),
            ),
            (
                &[
                    ("Transfer-Encoding", "chunked"),
                    ("transfer-encoding", "chunked"),
                ],
                Err(FramingError::BadTransferEncoding),
            ),
            (
                &[("Transfer-Encoding", "chunked"), ("Content-Length", "3")],
                Err(FramingError::BadTransferEncoding),
            ),
            (
                &[("Transfer-Encoding", "identity")],
                Err(FramingError::BadTransferEncoding),
            ),
        ];
        for (headers, want) in cases {
            let hs: Vec<_> = headers.iter().map(|(n, v)| h(n, v)).collect();
            assert_eq!(request_framing(&hs), *want, "{headers:?}");
        }
    }

    #[test]
    fn response_framing_rules() {
        assert_eq!(
            response_framing(true, 200, &[h("content-length", "9")]),
            Ok(Framing::None)
        );
        assert_eq!(response_framing(false, 204, &[]), Ok(Framing::None));
        assert_eq!(response_framing(false, 200, &[]), Ok(Framing::UntilClose));
        assert_eq!(
            response_framing(false, 200, &[h("content-length", "9")]),
            Ok(Framing::Length(9))
        );
    }

    #[test]
    fn tokens_and_numbers() {
        let hs = [h("Connection", "keep-alive, Upgrade")];
        assert!(header_has_token(&hs, "connection", "upgrade"));
        assert!(!header_has_token(&hs, "connection", "close"));
        assert_eq!(header(&hs, "CONNECTION"), Some(&b"keep-alive, Upgrade"[..]));
        assert_eq!(parse_u64(b" 42 "), Some(42));
        assert_eq!(parse_u64(b"99999999999999999999"), None);
        assert_eq!(parse_u64(b"4 2"), None);
    }
}
