//! The cheap steps around httparse that request and response parsing share: skipping
//! the empty lines a client may send before a request, deciding whether the buffer holds
//! a whole head yet (httparse runs only once it does), enforcing the size limits on a
//! partial head, and turning httparse's slices into [`Span`]s by pointer offset.
//!
//! Everything here is safe code: a slice's offset in the buffer is the difference of
//! their addresses as integers, never a pointer dereference.

use memchr::memmem;

use super::{H1Error, HeadLimits, HeaderSpan, Span};

/// Length of the empty lines (CRLF or LF) before the start line. RFC 9112 §2.2 lets a
/// server ignore them before a request-line; a lone CR with a byte after it is refused.
pub(crate) fn leading_empty_lines(buf: &[u8]) -> Result<usize, H1Error> {
    let mut i = 0;
    loop {
        match buf.get(i) {
            Some(b'\n') => i += 1,
            Some(b'\r') => match buf.get(i + 1) {
                Some(b'\n') => i += 2,
                Some(_) => return Err(H1Error::BareCr),
                None => return Ok(i),
            },
            _ => return Ok(i),
        }
    }
}

/// Whether `buf` (starting at the start line) holds the blank line that ends a head.
/// The head ends at the first LF followed by an empty line, CRLF or LF, so looking for
/// `\n\r\n` and `\n\n` covers CRLF, LF-only and mixed line ends.
pub(crate) fn has_head_end(buf: &[u8]) -> bool {
    // The usual read: one whole request, nothing after it.
    buf.ends_with(b"\n\r\n")
        || memmem::find(buf, b"\n\r\n").is_some()
        || memmem::find(buf, b"\n\n").is_some()
}

/// Where the head in `buf` ends (just past its blank line), if it does. For the error
/// path: the hot path only needs [`has_head_end`].
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = memmem::find(buf, b"\n\r\n").map(|i| i + 3);
    let lf = memmem::find(buf, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The largest head a [`Span`] can index. `HeadLimits` far below it in practice; this
/// keeps a misconfigured limit from producing spans that wrap around.
pub(crate) fn max_head_bytes(limits: &HeadLimits) -> usize {
    limits.max_head_bytes.min(u32::MAX as usize)
}

/// The limits that apply while the head is incomplete: a first line with no LF within
/// `max_request_line` bytes (414 for requests) and a buffer over `max_head_bytes` (431).
/// `start` is where the start line begins in `buf`.
pub(crate) fn check_partial_limits(
    buf: &[u8],
    start: usize,
    limits: &HeadLimits,
    check_first_line: bool,
) -> Result<(), H1Error> {
    if check_first_line {
        let line = &buf[start..];
        // The line's content may be `max_request_line` bytes plus a CR still waiting for
        // its LF; anything longer without an LF is over the limit already.
        let window = line.len().min(limits.max_request_line.saturating_add(2));
        if line.len() > limits.max_request_line.saturating_add(1)
            && memchr::memchr(b'\n', &line[..window]).is_none()
        {
            return Err(H1Error::RequestLineTooLong);
        }
    }
    if buf.len() > max_head_bytes(limits) {
        return Err(H1Error::HeadTooLarge);
    }
    Ok(())
}

/// The length of a start line's content, without its CRLF or LF, given the offset of the
/// line's end (just past the LF) in `head`.
pub(crate) fn content_len(head: &[u8], line_end: usize) -> usize {
    let mut n = line_end.saturating_sub(1);
    if n > 0 && head.get(n - 1) == Some(&b'\r') {
        n -= 1;
    }
    n
}

/// The offset of `part` inside `base`. `part` must be a sub-slice of `base` (httparse
/// hands out sub-slices of the buffer it parsed); the result is clamped into `base`
/// so that a broken invariant cannot produce an out-of-range span.
#[inline]
pub(crate) fn offset_in(base: &[u8], part: &[u8]) -> usize {
    let off = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    debug_assert!(off <= base.len(), "slice not inside the parsed buffer");
    off.min(base.len())
}

/// The span of sub-slice `part` inside `base`.
#[inline]
pub(crate) fn span_in(base: &[u8], part: &[u8]) -> Span {
    let start = offset_in(base, part);
    Span::new(start, (start + part.len()).min(base.len()))
}

/// Fills `out` (cleared, capacity kept) with spans of httparse's fields within `head`,
/// which is exactly the parsed head (`head.len()` is httparse's consumed length).
/// Returns the end of the start line (the first field's line start, or the blank line).
pub(crate) fn fill_header_spans(
    head: &[u8],
    fields: &[httparse::Header<'_>],
    out: &mut Vec<HeaderSpan>,
) -> usize {
    out.clear();
    // The blank line that ends the head: CRLF or LF.
    let blank_len = if head.ends_with(b"\r\n") { 2 } else { 1 };
    let blank_start = head.len().saturating_sub(blank_len);
    for (i, f) in fields.iter().enumerate() {
        let name = span_in(head, f.name.as_bytes());
        let value = span_in(head, f.value);
        // With obs-fold and lenient options off, httparse puts every field line right
        // after the previous one, so a line ends where the next name (or the blank
        // line) begins.
        let line_end = fields
            .get(i + 1)
            .map_or(blank_start, |next| offset_in(head, next.name.as_bytes()));
        let line = Span::new(name.start as usize, line_end.max(name.start as usize));
        out.push(HeaderSpan { name, value, line });
    }
    out.first().map_or(blank_start, |h| h.line.start as usize)
}
