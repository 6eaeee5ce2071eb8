//! Byte classes and small grammars of RFC 9110 §5.6 shared by the head parser, the
//! chunked scanner and the serialiser: `tchar`, field values, comma-separated lists.
//!
//! Pure functions over bytes; nothing here allocates or panics.

/// `tchar` of RFC 9110 §5.6.2, as a lookup table.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = matches!(b,
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'
            | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
            | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~');
        i += 1;
    }
    t
};

/// A `tchar`: a byte allowed in a token (field names, methods, transfer codings).
#[inline]
pub fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// `token = 1*tchar`.
#[inline]
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// A byte allowed inside a field value: HTAB, SP, VCHAR or obs-text (RFC 9110 §5.5).
/// Excludes NUL, CR, LF, the other controls and DEL.
#[inline]
pub fn is_field_value_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

/// A field value that is safe to write into a head: no CR, LF, NUL or other control
/// (RFC 9110 §5.5). Used to refuse edits that would inject extra field lines.
#[inline]
pub fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| is_field_value_byte(b))
}

/// A request-target byte: visible ASCII only (no CTL, SP, DEL or non-ASCII), RFC 9112 §3.2.
#[inline]
pub fn is_target_byte(b: u8) -> bool {
    (b'!'..=b'~').contains(&b)
}

/// `OWS`: optional whitespace.
#[inline]
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without leading and trailing OWS.
pub fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_ows(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end]
}

/// The elements of a comma-separated list (`#element`, RFC 9110 §5.6.1), OWS-trimmed,
/// empty elements skipped as the RFC requires of recipients.
pub fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether the list in `value` holds `token`, compared ASCII case-insensitively.
pub fn list_contains(value: &[u8], token: &[u8]) -> bool {
    list_elements(value).any(|e| e.eq_ignore_ascii_case(token))
}

/// The value of a hex digit, or `None`.
#[inline]
pub fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `1*DIGIT` as a `u64`: no sign, no whitespace, no overflow.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// A byte allowed in a quoted-string's text (`qdtext`, RFC 9110 §5.6.4).
#[inline]
pub fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF)
}

/// A byte allowed after a backslash in a quoted-string (`quoted-pair`).
#[inline]
pub fn is_quoted_pair_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..=0x7E).contains(&b) || b >= 0x80
}
