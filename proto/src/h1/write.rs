//! Low-level pieces of head serialisation: copying kept field lines in runs, writing a
//! field, a number, an RFC 7239 value. Everything appends to a caller-owned `Vec<u8>`.
//!
//! Never panics: a span that does not lie inside its head (possible only if a caller
//! built a head by hand) reads as empty instead of indexing out of range.

use super::syntax::{is_field_value, is_token};
use super::{HeaderSpan, Span};

/// The bytes of `span` in `buf`, or nothing if the span is out of range.
#[inline]
pub(crate) fn span_bytes(buf: &[u8], span: Span) -> &[u8] {
    buf.get(span.start as usize..span.end as usize)
        .unwrap_or_default()
}

/// Copies the field lines for which `keep` says yes, one copy per run of adjacent kept
/// lines. A line that ends in a bare LF (which the parser accepts, RFC 9112 §2.2) is
/// written with CRLF, so the next hop never has to guess where a line ends.
pub(crate) fn copy_kept_lines(
    buf: &[u8],
    headers: &[HeaderSpan],
    mut keep: impl FnMut(&HeaderSpan) -> bool,
    out: &mut Vec<u8>,
) {
    let mut run: Option<(usize, usize)> = None;
    let flush = |run: &mut Option<(usize, usize)>, out: &mut Vec<u8>| {
        if let Some((start, end)) = run.take() {
            out.extend_from_slice(buf.get(start..end).unwrap_or_default());
        }
    };
    for h in headers {
        if !keep(h) {
            flush(&mut run, out);
            continue;
        }
        let (start, end) = (h.line.start as usize, h.line.end as usize);
        let line = span_bytes(buf, h.line);
        if line.ends_with(b"\r\n") {
            match run {
                Some((run_start, run_end)) if run_end == start => run = Some((run_start, end)),
                _ => {
                    flush(&mut run, out);
                    run = Some((start, end));
                }
            }
        } else {
            flush(&mut run, out);
            out.extend_from_slice(line.strip_suffix(b"\n").unwrap_or(line));
            out.extend_from_slice(b"\r\n");
        }
    }
    flush(&mut run, out);
}

/// Whether a field given by a filter or the config may be written: a token name and a
/// value without CR, LF, NUL or other controls. Anything else could inject field lines.
#[inline]
pub(crate) fn is_writable_field(name: &[u8], value: &[u8]) -> bool {
    is_token(name) && is_field_value(value)
}

/// Appends `name: value CRLF`.
#[inline]
pub(crate) fn push_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends an RFC 7239 `value` (token / quoted-string): as is when it is a token,
/// quoted with `"` and `\` escaped otherwise.
pub(crate) fn push_forwarded_value(out: &mut Vec<u8>, value: &[u8]) {
    if is_token(value) {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    push_escaped(out, value);
    out.push(b'"');
}

/// Appends `value` as quoted-string content: `"` and `\` escaped.
fn push_escaped(out: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Appends the `for=` node of RFC 7239 §6: an IPv6 address goes in brackets and quotes
/// (`for="[2001:db8::1]"`), an IPv4 address as it is.
pub(crate) fn push_forwarded_node(out: &mut Vec<u8>, ip: &str) {
    let ip = ip.as_bytes();
    if ip.contains(&b':') && !ip.starts_with(b"[") {
        out.extend_from_slice(b"\"[");
        push_escaped(out, ip);
        out.extend_from_slice(b"]\"");
    } else {
        push_forwarded_value(out, ip);
    }
}
