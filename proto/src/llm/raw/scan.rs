//! A minimal JSON structure scanner over `&[u8]`: walks the members of one object and
//! skips values without decoding them, reporting byte spans.
//!
//! It checks structure (quotes, escapes, bracket pairing, separators), not every detail
//! of the grammar (number syntax, control characters inside strings): a body it accepts
//! but that is not valid JSON is rejected by the provider's parser, and the spans it
//! reports agree with any conforming parser on every valid document. Nesting is bounded
//! by [`MAX_DEPTH`]; strings are skipped with `memchr`, so large base64 payloads cost
//! little.

use std::ops::Range;

use super::RawError;

/// Deepest nesting accepted, as serde_json's default recursion limit.
pub const MAX_DEPTH: usize = 128;

/// One `"key": value` of an object, as spans into the body (quotes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key's string token, quotes included.
    pub key: Range<usize>,
    /// The value's token(s).
    pub value: Range<usize>,
}

/// Iterates over the members of the object whose `{` is at `open`. After the last
/// member, [`Members::end`] is the position just past the closing `}`.
pub struct Members<'a> {
    body: &'a [u8],
    pos: usize,
    first: bool,
    end: Option<usize>,
    failed: bool,
}

impl<'a> Members<'a> {
    /// Members of the object at `body[open]`, which must be `{`.
    pub fn new(body: &'a [u8], open: usize) -> Result<Self, RawError> {
        if body.get(open) != Some(&b'{') {
            return Err(RawError::NotAnObject);
        }
        Ok(Self {
            body,
            pos: open + 1,
            first: true,
            end: None,
            failed: false,
        })
    }

    /// Position just past `}`, once iteration has ended without error.
    pub fn end(&self) -> Option<usize> {
        self.end
    }

    fn step(&mut self) -> Result<Option<Member>, RawError> {
        let b = self.body;
        let mut pos = skip_ws(b, self.pos);
        match (b.get(pos), self.first) {
            (Some(b'}'), _) => {
                self.end = Some(pos + 1);
                return Ok(None);
            }
            (Some(b','), false) => pos = skip_ws(b, pos + 1),
            (Some(b'"'), true) => {}
            _ => return Err(RawError::Malformed(pos)),
        }
        if b.get(pos) != Some(&b'"') {
            return Err(RawError::Malformed(pos));
        }
        let key_end = skip_string(b, pos)?;
        let colon = skip_ws(b, key_end);
        if b.get(colon) != Some(&b':') {
            return Err(RawError::Malformed(colon));
        }
        let value_start = skip_ws(b, colon + 1);
        let value_end = skip_value(b, value_start)?;
        self.pos = value_end;
        self.first = false;
        Ok(Some(Member {
            key: pos..key_end,
            value: value_start..value_end,
        }))
    }
}

impl Iterator for Members<'_> {
    type Item = Result<Member, RawError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.end.is_some() {
            return None;
        }
        match self.step() {
            Ok(Some(m)) => Some(Ok(m)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// First position at or after `pos` that is not JSON whitespace.
pub fn skip_ws(body: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = body.get(pos) {
        pos += 1;
    }
    pos
}

/// `body[pos]` is `"`; returns the position just past the closing quote.
pub fn skip_string(body: &[u8], pos: usize) -> Result<usize, RawError> {
    let mut i = pos + 1;
    loop {
        let rest = body.get(i..).ok_or(RawError::Malformed(pos))?;
        match memchr::memchr2(b'"', b'\\', rest) {
            None => return Err(RawError::Malformed(pos)),
            Some(off) if rest[off] == b'"' => return Ok(i + off + 1),
            // A backslash escapes exactly the next byte for our purposes (`\uXXXX` has
            // no quote or backslash in its hex digits).
            Some(off) => i += off + 2,
        }
    }
}

/// Skips the value starting at `pos`; returns the position just past it.
pub fn skip_value(body: &[u8], pos: usize) -> Result<usize, RawError> {
    match body.get(pos) {
        Some(b'"') => skip_string(body, pos),
        Some(b'{' | b'[') => skip_container(body, pos),
        Some(_) => {
            let len = body[pos..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(body.len() - pos);
            let token = &body[pos..pos + len];
            let scalar = matches!(token, b"true" | b"false" | b"null")
                || (!token.is_empty()
                    && token
                        .iter()
                        .all(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')));
            if scalar {
                Ok(pos + len)
            } else {
                Err(RawError::Malformed(pos))
            }
        }
        None => Err(RawError::Malformed(pos)),
    }
}

/// Skips an object or array, pairing brackets with a bit stack (1 = object).
fn skip_container(body: &[u8], pos: usize) -> Result<usize, RawError> {
    let mut stack: u128 = 0;
    let mut depth = 0usize;
    let mut i = pos;
    while let Some(&c) = body.get(i) {
        match c {
            b'"' => {
                i = skip_string(body, i)?;
                continue;
            }
            b'{' | b'[' => {
                if depth == MAX_DEPTH {
                    return Err(RawError::TooDeep);
                }
                stack = (stack << 1) | u128::from(c == b'{');
                depth += 1;
            }
            b'}' | b']' => {
                let is_object = stack & 1 == 1;
                if depth == 0 || is_object != (c == b'}') {
                    return Err(RawError::Malformed(i));
                }
                stack >>= 1;
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err(RawError::Malformed(pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(json: &str) -> Result<Vec<(String, String)>, RawError> {
        let b = json.as_bytes();
        let open = skip_ws(b, 0);
        Members::new(b, open)?
            .map(|m| {
                m.map(|m| {
                    (
                        json[m.key.clone()].to_owned(),
                        json[m.value.clone()].to_owned(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn walks_members_and_skips_values() {
        let got = members(
            r#" { "a" : 1 , "b":"x\"}y", "c":{"d":[1,{"e":"]"}]},"f":[],"g":true,"h":null,"i":-1.5e3}"#,
        )
        .expect("valid");
        let keys: Vec<_> = got.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["\"a\"", "\"b\"", "\"c\"", "\"f\"", "\"g\"", "\"h\"", "\"i\""]
        );
        assert_eq!(got[1].1, r#""x\"}y""#);
        assert_eq!(got[2].1, r#"{"d":[1,{"e":"]"}]}"#);
        assert_eq!(got[6].1, "-1.5e3");
        assert_eq!(members("{}").expect("empty"), vec![]);
    }

    #[test]
    fn rejects_broken_structure() {
        for bad in [
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":[}",
            "{\"a\":{]}",
            "{\"a\":\"unterminated}",
            "{\"a\":tru}",
            "{\"a\":1 \"b\":2}",
            "{\"a\\",
            "[1]",
            "",
        ] {
            assert!(members(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn bounds_nesting() {
        let deep = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(members(&deep).is_ok());
        let deeper = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(members(&deeper), Err(RawError::TooDeep));
    }
}
