//! Naming the rule a head broke. httparse says only where it gave up (`Token`,
//! `HeaderName`, ...); the gateway answers with a status that depends on which rule was
//! broken (400, 505) and logs a reason, so on the error path (only there) the head is
//! walked again, line by line, against the RFC 9112 grammar.
//!
//! The walk is a diagnosis, not a second parser: whatever it cannot name is
//! [`H1Error::Malformed`], still a refusal.

use super::locate::head_end;
use super::syntax::{is_field_value_byte, is_ows, is_target_byte, is_tchar, is_token};
use super::H1Error;

/// Which start line the head has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartLine {
    Request,
    Response,
}

/// Diagnoses why httparse refused the head at the front of `buf` (which starts at the
/// start line).
pub(crate) fn classify(buf: &[u8], kind: StartLine) -> H1Error {
    // Only the head is judged: what follows it (a body) may hold any bytes.
    let head = &buf[..head_end(buf).unwrap_or(buf.len())];
    if has_bare_cr(head) {
        return H1Error::BareCr;
    }
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let start_error = match kind {
        StartLine::Request => request_line_error(first),
        StartLine::Response => status_line_error(first),
    };
    if let Some(e) = start_error {
        return e;
    }
    for line in lines {
        if line.is_empty() {
            break;
        }
        if let Some(e) = field_line_error(line) {
            return e;
        }
    }
    H1Error::Malformed
}

/// A CR that is not followed by LF. A CR at the very end may still get its LF.
pub(crate) fn has_bare_cr(buf: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', buf).any(|i| matches!(buf.get(i + 1), Some(b) if *b != b'\n'))
}

fn request_line_error(line: &[u8]) -> Option<H1Error> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    if !is_token(method) {
        return Some(H1Error::InvalidMethod);
    }
    let target = parts.next().unwrap_or_default();
    if target.is_empty() || !target.iter().all(|&b| is_target_byte(b)) {
        return Some(H1Error::InvalidTarget);
    }
    version_error(parts.next().unwrap_or_default())
}

fn status_line_error(line: &[u8]) -> Option<H1Error> {
    let (version, rest) = match memchr::memchr(b' ', line) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &b""[..]),
    };
    if let Some(e) = version_error(version) {
        return Some(e);
    }
    let code_ok = rest.len() >= 3
        && rest[..3].iter().all(u8::is_ascii_digit)
        && matches!(rest.get(3), None | Some(b' '));
    if !code_ok || rest[0] == b'0' {
        return Some(H1Error::InvalidStatus);
    }
    let reason = rest.get(4..).unwrap_or_default();
    if !reason.iter().all(|&b| is_field_value_byte(b)) {
        return Some(H1Error::Malformed);
    }
    None
}

/// `HTTP/1.0` and `HTTP/1.1` are fine; another well-formed `HTTP/x.y` is unsupported
/// (505); anything else is a syntax error (400).
fn version_error(v: &[u8]) -> Option<H1Error> {
    match v {
        b"HTTP/1.0" | b"HTTP/1.1" => None,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Some(H1Error::UnsupportedVersion)
        }
        _ => Some(H1Error::Malformed),
    }
}

fn field_line_error(line: &[u8]) -> Option<H1Error> {
    if line.first().is_some_and(|&b| is_ows(b)) {
        return Some(H1Error::ObsFold);
    }
    let Some(colon) = memchr::memchr(b':', line) else {
        return Some(H1Error::InvalidHeaderName);
    };
    // Covers whitespace before the colon (RFC 9112 §5.1) as well as bad name bytes.
    if !line[..colon].iter().all(|&b| is_tchar(b)) || colon == 0 {
        return Some(H1Error::InvalidHeaderName);
    }
    if !line[colon + 1..].iter().all(|&b| is_field_value_byte(b)) {
        return Some(H1Error::InvalidHeaderValue);
    }
    None
}
