//! Raw-byte access to a request body for routing and pass-through, without building the
//! typed request.
//!
//! When the provider speaks the client's API and no model rename is needed, the gateway
//! forwards the body byte for byte. Routing still needs `model` and `stream`, and token
//! accounting needs to know whether `stream_options.include_usage` was asked for (and to
//! ask for it when it was not). [`model_of`] reads those from `&[u8]` — deliberately not
//! through simd-json, which unescapes in place and would destroy the bytes to be
//! forwarded. [`replace_model`] and [`request_usage`] splice only the bytes that change.
//!
//! Invariants:
//! - Spans point into the body passed in and are valid only until it changes.
//! - A body whose top-level `model`, `stream` or `stream_options` appears twice is
//!   rejected: parsers disagree on which duplicate wins, and the gateway must route on
//!   the same value the provider reads. Keys are compared after unescaping, so
//!   `"mod\u0065l"` is `model` too.
//! - Never panics on input; malformed structure is a [`RawError`].

mod scan;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use scan::skip_ws;
pub use scan::{skip_value, Member, Members, MAX_DEPTH};

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawError {
    /// The body is not a JSON object.
    NotAnObject,
    /// Broken JSON structure near this byte offset.
    Malformed(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// No top-level `model`, or it is not a string.
    NoModel,
    /// A top-level key the gateway reads appears twice.
    DuplicateKey(&'static str),
    /// A field has the wrong type (`stream` not a boolean, ...).
    WrongType(&'static str),
    /// A span passed back does not point at the expected token (a caller bug).
    StaleSpan,
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("the body is not a JSON object"),
            Self::Malformed(at) => write!(f, "malformed JSON near byte {at}"),
            Self::TooDeep => write!(f, "JSON nested deeper than {MAX_DEPTH} levels"),
            Self::NoModel => f.write_str("`model` is missing or not a string"),
            Self::DuplicateKey(k) => write!(f, "`{k}` appears more than once"),
            Self::WrongType(k) => write!(f, "`{k}` has the wrong type"),
            Self::StaleSpan => f.write_str("span does not match the body"),
        }
    }
}

impl std::error::Error for RawError {}

/// What routing needs from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingFields<'a> {
    /// The model name, unescaped (borrowed when it had no escapes).
    pub model: Cow<'a, str>,
    /// The `model` value's string token in the body, quotes included, for
    /// [`replace_model`].
    pub model_span: Range<usize>,
    /// `stream` (false when absent or null).
    pub stream: bool,
    /// `stream_options.include_usage`, when present.
    pub include_usage: Option<bool>,
}

/// Spans of the top-level members the gateway cares about.
#[derive(Default)]
struct TopLevel {
    open: usize,
    has_members: bool,
    model: Option<Range<usize>>,
    stream: Option<Range<usize>>,
    stream_options: Option<Range<usize>>,
}

fn key_is(body: &[u8], key: &Range<usize>, name: &str) -> bool {
    let raw = &body[key.start + 1..key.end - 1];
    if raw.contains(&b'\\') {
        serde_json::from_slice::<String>(&body[key.clone()]).is_ok_and(|k| k == name)
    } else {
        raw == name.as_bytes()
    }
}

fn top_level(body: &[u8]) -> Result<TopLevel, RawError> {
    let open = skip_ws(body, 0);
    let mut top = TopLevel {
        open,
        ..TopLevel::default()
    };
    let mut members = Members::new(body, open)?;
    for member in members.by_ref() {
        let Member { key, value } = member?;
        top.has_members = true;
        for (name, slot) in [
            ("model", &mut top.model),
            ("stream", &mut top.stream),
            ("stream_options", &mut top.stream_options),
        ] {
            if key_is(body, &key, name) {
                if slot.is_some() {
                    return Err(RawError::DuplicateKey(name));
                }
                *slot = Some(value.clone());
            }
        }
    }
    let end = members.end().ok_or(RawError::Malformed(body.len()))?;
    if skip_ws(body, end) != body.len() {
        return Err(RawError::Malformed(end));
    }
    Ok(top)
}

fn bool_at(
    body: &[u8],
    span: Option<&Range<usize>>,
    name: &'static str,
) -> Result<Option<bool>, RawError> {
    match span.map(|s| &body[s.clone()]) {
        None | Some(b"null") => Ok(None),
        Some(b"true") => Ok(Some(true)),
        Some(b"false") => Ok(Some(false)),
        Some(_) => Err(RawError::WrongType(name)),
    }
}

/// `stream_options.include_usage`'s span, if `stream_options` is an object that has it.
fn include_usage_span(
    body: &[u8],
    options: &Range<usize>,
) -> Result<Option<Range<usize>>, RawError> {
    if body.get(options.start) != Some(&b'{') {
        return Ok(None);
    }
    let mut found = None;
    for member in Members::new(body, options.start)? {
        let Member { key, value } = member?;
        if key_is(body, &key, "include_usage") {
            if found.is_some() {
                return Err(RawError::DuplicateKey("include_usage"));
            }
            found = Some(value);
        }
    }
    Ok(found)
}

/// Reads `model`, `stream` and `stream_options.include_usage` from a request body.
pub fn scan_routing(body: &[u8]) -> Result<RoutingFields<'_>, RawError> {
    let top = top_level(body)?;
    let span = top.model.ok_or(RawError::NoModel)?;
    if body.get(span.start) != Some(&b'"') {
        return Err(RawError::NoModel);
    }
    let inner = &body[span.start + 1..span.end - 1];
    let model = if inner.contains(&b'\\') {
        Cow::Owned(
            serde_json::from_slice::<String>(&body[span.clone()]).map_err(|_| RawError::NoModel)?,
        )
    } else {
        Cow::Borrowed(std::str::from_utf8(inner).map_err(|_| RawError::NoModel)?)
    };
    let stream = bool_at(body, top.stream.as_ref(), "stream")?.unwrap_or(false);
    let include_usage = match &top.stream_options {
        None => None,
        Some(options) => {
            let span = include_usage_span(body, options)?;
            bool_at(body, span.as_ref(), "stream_options.include_usage")?
        }
    };
    Ok(RoutingFields {
        model,
        model_span: span,
        stream,
        include_usage,
    })
}

/// [`scan_routing`] for callers that only need to know whether it worked.
pub fn model_of(body: &[u8]) -> Option<RoutingFields<'_>> {
    scan_routing(body).ok()
}

/// Appends `s` as a JSON string token (quotes included) to `out`.
fn push_json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn check_span(body: &[u8], span: &Range<usize>) -> Result<(), RawError> {
    let ok = span.end >= span.start + 2
        && body.get(span.start) == Some(&b'"')
        && body.get(span.end - 1) == Some(&b'"');
    if ok {
        Ok(())
    } else {
        Err(RawError::StaleSpan)
    }
}

/// Replaces the model string at `span` (from [`RoutingFields::model_span`]) with
/// `new_model`, in place; the rest of the body is untouched.
pub fn replace_model(
    body: &mut Vec<u8>,
    span: Range<usize>,
    new_model: &str,
) -> Result<(), RawError> {
    check_span(body, &span)?;
    let mut token = Vec::with_capacity(new_model.len() + 2);
    push_json_string(new_model, &mut token);
    body.splice(span, token);
    Ok(())
}

/// Appends `body` to `out` with the model string at `span` replaced by `new_model`.
pub fn write_with_model(
    body: &[u8],
    span: Range<usize>,
    new_model: &str,
    out: &mut Vec<u8>,
) -> Result<(), RawError> {
    check_span(body, &span)?;
    out.reserve(body.len() + new_model.len());
    out.extend_from_slice(&body[..span.start]);
    push_json_string(new_model, out);
    out.extend_from_slice(&body[span.end..]);
    Ok(())
}

/// Makes a streamed OpenAI request ask for `stream_options.include_usage: true`, editing
/// only the bytes needed. Returns whether the client had asked for it itself (if not,
/// the usage chunk must be stripped before it reaches the client).
pub fn request_usage(body: &mut Vec<u8>) -> Result<bool, RawError> {
    let top = top_level(body)?;
    let Some(options) = top.stream_options else {
        let sep = if top.has_members { "," } else { "" };
        let insert = format!("\"stream_options\":{{\"include_usage\":true}}{sep}");
        body.splice(top.open + 1..top.open + 1, insert.into_bytes());
        return Ok(false);
    };
    match body.get(options.start) {
        Some(b'{') => {}
        Some(b'n') => {
            body.splice(options, b"{\"include_usage\":true}".iter().copied());
            return Ok(false);
        }
        _ => return Err(RawError::WrongType("stream_options")),
    }
    match include_usage_span(body, &options)? {
        Some(span) => match bool_at(body, Some(&span), "stream_options.include_usage")? {
            Some(true) => Ok(true),
            _ => {
                body.splice(span, b"true".iter().copied());
                Ok(false)
            }
        },
        None => {
            let empty = body.get(skip_ws(body, options.start + 1)) == Some(&b'}');
            let insert: &[u8] = if empty {
                b"\"include_usage\":true"
            } else {
                b"\"include_usage\":true,"
            };
            body.splice(options.start + 1..options.start + 1, insert.iter().copied());
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests;
