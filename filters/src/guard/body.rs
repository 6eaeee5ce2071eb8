//! Where the prompt text is in an LLM request body: the spans of the string tokens that
//! hold message text, found without building the typed request, so that a redaction
//! splices only those strings and every other byte of the body stays as the client
//! wrote it.
//!
//! Text fields, in both APIs (OpenAI chat/completions/embeddings, Anthropic messages):
//! - `messages[].content`: a string, or an array of parts whose `text` strings are
//!   text (OpenAI `{"type":"text","text":...}`, Anthropic text blocks); an Anthropic
//!   `tool_result` block's `content` is read the same way;
//! - `system`: a string or an array of text blocks;
//! - `prompt` and `input`: a string or an array of strings (token arrays are skipped).
//!
//! Nothing else is text: names, roles, tool arguments, image data and model names are
//! never edited. A key that appears twice is read in every place it appears (parsers
//! disagree on which duplicate wins; the guard must see what any of them would).
//!
//! Never panics on input; structure the scanner does not accept is a [`RawError`].

use std::borrow::Cow;
use std::ops::Range;

use tollgate_proto::llm::raw::{skip_value, Member, Members, RawError};

/// Where a text field sits in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `system`.
    System,
    /// `messages[i]`, and whether its role is `user`.
    Message { index: u32, user: bool },
    /// `prompt` or `input`.
    Prompt,
}

/// One string token of prompt text: its span in the body, quotes included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextField {
    pub span: Range<usize>,
    pub origin: Origin,
}

/// What the guard needs from a body.
#[derive(Debug, Default)]
pub struct BodyText {
    /// Position of the top-level `{`.
    pub open: usize,
    /// The text fields, in body order.
    pub fields: Vec<TextField>,
    /// Spans of the values of `max_tokens` and `max_completion_tokens`.
    pub max_tokens: Vec<Range<usize>>,
    /// The request generates text (it has `messages` or `prompt`; embeddings do not).
    pub generates: bool,
    /// Index of the last message whose role is `user`.
    pub last_user: Option<u32>,
}

/// Scans `body` for its text fields.
pub fn scan(body: &[u8]) -> Result<BodyText, RawError> {
    let open = skip_ws(body, 0);
    let mut out = BodyText {
        open,
        ..BodyText::default()
    };
    let mut members = Members::new(body, open)?;
    for member in members.by_ref() {
        let Member { key, value } = member?;
        match key_name(body, &key) {
            Some("messages") => {
                out.generates = true;
                if body.get(value.start) == Some(&b'[') {
                    for (i, m) in Elements::new(body, value.start).enumerate() {
                        message(body, m?, i as u32, &mut out)?;
                    }
                }
            }
            Some("system") => content(body, value, Origin::System, &mut out.fields)?,
            Some("prompt") => {
                out.generates = true;
                content(body, value, Origin::Prompt, &mut out.fields)?;
            }
            Some("input") => content(body, value, Origin::Prompt, &mut out.fields)?,
            Some("max_tokens" | "max_completion_tokens") => out.max_tokens.push(value),
            _ => {}
        }
    }
    let end = members.end().ok_or(RawError::Malformed(body.len()))?;
    if skip_ws(body, end) != body.len() {
        return Err(RawError::Malformed(end));
    }
    Ok(out)
}

/// The decoded text of a string token (borrowed when it has no escapes).
pub fn decode<'a>(body: &'a [u8], span: &Range<usize>) -> Result<Cow<'a, str>, RawError> {
    let inner = body
        .get(span.start + 1..span.end.saturating_sub(1))
        .ok_or(RawError::StaleSpan)?;
    if inner.contains(&b'\\') {
        serde_json::from_slice::<String>(&body[span.clone()])
            .map(Cow::Owned)
            .map_err(|_| RawError::Malformed(span.start))
    } else {
        std::str::from_utf8(inner)
            .map(Cow::Borrowed)
            .map_err(|_| RawError::Malformed(span.start))
    }
}

/// A whole number of tokens at `span`: `Ok(None)` for `null`, `Err` for anything but a
/// non-negative integer.
pub fn whole_number(body: &[u8], span: &Range<usize>) -> Result<Option<u64>, ()> {
    match &body[span.clone()] {
        b"null" => Ok(None),
        digits => std::str::from_utf8(digits)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or(()),
    }
}

fn message(
    body: &[u8],
    span: Range<usize>,
    index: u32,
    out: &mut BodyText,
) -> Result<(), RawError> {
    if body.get(span.start) != Some(&b'{') {
        return Ok(());
    }
    let mut user = false;
    let mut contents: Vec<Range<usize>> = Vec::new();
    for member in Members::new(body, span.start)? {
        let Member { key, value } = member?;
        match key_name(body, &key) {
            Some("role") if body.get(value.start) == Some(&b'"') => {
                user = decode(body, &value)? == "user";
            }
            Some("content") => contents.push(value),
            _ => {}
        }
    }
    if user {
        out.last_user = Some(index);
    }
    let origin = Origin::Message { index, user };
    for value in contents {
        content(body, value, origin, &mut out.fields)?;
    }
    Ok(())
}

/// A string, or an array of strings and parts.
fn content(
    body: &[u8],
    span: Range<usize>,
    origin: Origin,
    out: &mut Vec<TextField>,
) -> Result<(), RawError> {
    match body.get(span.start) {
        Some(b'"') => out.push(TextField { span, origin }),
        Some(b'[') => {
            for item in Elements::new(body, span.start) {
                let item = item?;
                match body.get(item.start) {
                    Some(b'"') => out.push(TextField { span: item, origin }),
                    Some(b'{') => part(body, item, origin, out)?,
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// A content part or block: its `text` string, and a tool result's `content`.
fn part(
    body: &[u8],
    span: Range<usize>,
    origin: Origin,
    out: &mut Vec<TextField>,
) -> Result<(), RawError> {
    for member in Members::new(body, span.start)? {
        let Member { key, value } = member?;
        match key_name(body, &key) {
            Some("text") if body.get(value.start) == Some(&b'"') => out.push(TextField {
                span: value,
                origin,
            }),
            Some("content") => content(body, value, origin, out)?,
            _ => {}
        }
    }
    Ok(())
}

/// The key's name when it is one the guard reads (keys with escapes are decoded).
fn key_name<'a>(body: &'a [u8], key: &Range<usize>) -> Option<&'a str> {
    const KEYS: [&str; 9] = [
        "messages",
        "system",
        "prompt",
        "input",
        "max_tokens",
        "max_completion_tokens",
        "role",
        "content",
        "text",
    ];
    let raw = body.get(key.start + 1..key.end.checked_sub(1)?)?;
    if raw.contains(&b'\\') {
        let k = serde_json::from_slice::<String>(&body[key.clone()]).ok()?;
        KEYS.iter().copied().find(|n| *n == k)
    } else {
        KEYS.iter().copied().find(|n| n.as_bytes() == raw)
    }
}

fn skip_ws(body: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = body.get(pos) {
        pos += 1;
    }
    pos
}

/// Iterates over the element spans of the array whose `[` is at `open`.
struct Elements<'a> {
    body: &'a [u8],
    pos: usize,
    first: bool,
    done: bool,
}

impl<'a> Elements<'a> {
    fn new(body: &'a [u8], open: usize) -> Elements<'a> {
        Elements {
            body,
            pos: open + 1,
            first: true,
            done: body.get(open) != Some(&b'['),
        }
    }

    fn step(&mut self) -> Result<Option<Range<usize>>, RawError> {
        let b = self.body;
        let mut pos = skip_ws(b, self.pos);
        match (b.get(pos), self.first) {
            (Some(b']'), _) => return Ok(None),
            (Some(b','), false) => pos = skip_ws(b, pos + 1),
            (Some(_), true) => {}
            _ => return Err(RawError::Malformed(pos)),
        }
        let end = skip_value(b, pos)?;
        self.pos = end;
        self.first = false;
        Ok(Some(pos..end))
    }
}

impl Iterator for Elements<'_> {
    type Item = Result<Range<usize>, RawError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        if !matches!(r, Ok(Some(_))) {
            self.done = true;
        }
        r.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str) -> Vec<(String, Origin)> {
        let b = body.as_bytes();
        scan(b)
            .expect("scans")
            .fields
            .iter()
            .map(|f| (decode(b, &f.span).unwrap().into_owned(), f.origin))
            .collect()
    }

    #[test]
    fn finds_openai_message_texts_and_parts() {
        let body = r#"{"model":"m","messages":[
            {"role":"system","content":"be nice"},
            {"role":"user","content":[{"type":"text","text":"hi \"you\""},{"type":"image_url","image_url":{"url":"data:x"}}]},
            {"role":"assistant","content":null,"tool_calls":[{"function":{"arguments":"{\"a\":\"x@y.com\"}"}}]},
            {"content":"tool says","role":"tool","name":"text"}
        ],"max_tokens":5}"#;
        let got = texts(body);
        let msg = |index, user| Origin::Message { index, user };
        assert_eq!(
            got,
            vec![
                ("be nice".into(), msg(0, false)),
                ("hi \"you\"".into(), msg(1, true)),
                ("tool says".into(), msg(3, false)),
            ]
        );
        let s = scan(body.as_bytes()).unwrap();
        assert_eq!(s.last_user, Some(1));
        assert!(s.generates);
        assert_eq!(&body[s.max_tokens[0].clone()], "5");
    }

    #[test]
    fn finds_anthropic_system_blocks_and_tool_results() {
        let body = r#"{"model":"m","max_tokens":9,"system":[{"type":"text","text":"sys"}],
            "messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"result"}]},{"type":"text","text":"and me"}]}]}"#;
        let got: Vec<String> = texts(body).into_iter().map(|(t, _)| t).collect();
        assert_eq!(got, ["sys", "result", "and me"]);
    }

    #[test]
    fn finds_prompt_and_input_strings_but_not_tokens() {
        assert_eq!(texts(r#"{"prompt":["a","b"]}"#).len(), 2);
        assert_eq!(texts(r#"{"input":[[1,2,3]]}"#).len(), 0);
        let s = scan(br#"{"input":"x"}"#).unwrap();
        assert!(!s.generates, "embeddings generate nothing");
        assert_eq!(texts(r#"{"input":"x"}"#)[0].1, Origin::Prompt);
    }

    #[test]
    fn reads_escaped_keys_and_duplicates() {
        let got = texts(
            r#"{"m\u0065ssages":[{"role":"user","content":"a"}],"messages":[{"role":"user","content":"b"}]}"#,
        );
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn refuses_broken_bodies() {
        for bad in [
            "",
            "[]",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}",
            "{\"messages\":[1,]}",
            "{} trailing",
            "{\"prompt\":\"\\ud800\"}",
        ] {
            let r = scan(bad.as_bytes()).and_then(|s| {
                s.fields
                    .iter()
                    .try_for_each(|f| decode(bad.as_bytes(), &f.span).map(drop))
            });
            assert!(r.is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn whole_numbers_only() {
        let n = |s: &str| whole_number(s.as_bytes(), &(0..s.len()));
        assert_eq!(n("12"), Ok(Some(12)));
        assert_eq!(n("null"), Ok(None));
        for bad in ["-1", "1.5", "1e3", "\"5\"", "99999999999999999999999"] {
            assert_eq!(n(bad), Err(()), "{bad}");
        }
    }
}
