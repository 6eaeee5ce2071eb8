//! The placeholders of one request and the originals they stand for, kept on the
//! request context (`ctx.llm.redactions`) so that the LLM layer can put the originals
//! back into the answer ([`restore`], [`restore_in_place`]).
//!
//! A placeholder is `[LABEL_N]`: the detector's label (`EMAIL`, `PHONE`, `CARD`,
//! `IBAN`, `IP`, or a custom pattern's name in capitals) and a number counted per label
//! from 1. The same value gets the same placeholder throughout a request, so the model
//! can still tell that two mentions are of one thing.
//!
//! Restoring works on JSON text (a whole answer, or the `data:` lines of a stream): the
//! original goes back JSON-escaped, so the answer stays valid JSON whatever the original
//! held. A placeholder the answer splits (across two stream events, or two writes) is
//! not restored; nor is one the model changed (`[Email_1]`).

use std::collections::HashMap;

/// Placeholders and originals of one request. Cleared, not freed, between requests.
#[derive(Debug, Default)]
pub struct Redactions {
    restore: bool,
    /// Placeholder → (original, original JSON-escaped without quotes).
    by_placeholder: HashMap<String, (String, String)>,
    /// (label, original) → placeholder.
    by_original: HashMap<(String, String), String>,
    /// Placeholders handed out per label, for the next number.
    counts: HashMap<String, u32>,
}

impl Redactions {
    pub fn clear(&mut self) {
        self.restore = false;
        self.by_placeholder.clear();
        self.by_original.clear();
        self.counts.clear();
    }

    /// Distinct values replaced in this request.
    pub fn len(&self) -> usize {
        self.by_placeholder.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_placeholder.is_empty()
    }

    /// Whether the answer should get the originals back.
    pub fn restores(&self) -> bool {
        self.restore && !self.by_placeholder.is_empty()
    }

    pub(crate) fn set_restore(&mut self, on: bool) {
        self.restore = on;
    }

    /// The placeholder for `original` found by the detector labelled `label`.
    pub fn placeholder(&mut self, label: &str, original: &str) -> &str {
        let key = (label.to_owned(), original.to_owned());
        if !self.by_original.contains_key(&key) {
            let n = self.counts.entry(label.to_owned()).or_insert(0);
            *n += 1;
            let placeholder = format!("[{label}_{n}]");
            let escaped = serde_json::to_string(original).unwrap_or_default();
            let escaped = escaped
                .strip_prefix('"')
                .and_then(|e| e.strip_suffix('"'))
                .unwrap_or_default()
                .to_owned();
            self.by_placeholder
                .insert(placeholder.clone(), (original.to_owned(), escaped));
            self.by_original.insert(key.clone(), placeholder);
        }
        &self.by_original[&key]
    }

    /// The original a placeholder stands for.
    pub fn original(&self, placeholder: &str) -> Option<&str> {
        self.by_placeholder
            .get(placeholder)
            .map(|(o, _)| o.as_str())
    }

    /// The JSON-escaped original of the placeholder `[...]` at the start of `text`, and
    /// the placeholder's length.
    fn escaped_at(&self, text: &[u8]) -> Option<(&str, usize)> {
        // `[`, capitals, digits and `_`, `]`; labels are short.
        let close = text
            .iter()
            .take(72)
            .skip(1)
            .position(|b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_'))?
            + 1;
        if text.get(close) != Some(&b']') {
            return None;
        }
        let candidate = std::str::from_utf8(&text[..=close]).ok()?;
        self.by_placeholder
            .get(candidate)
            .map(|(_, escaped)| (escaped.as_str(), close + 1))
    }
}

/// Appends `text` to `out` with every placeholder of `map` replaced by its original
/// (JSON-escaped), whether or not the guard asked for restoring.
pub fn restore(map: &Redactions, text: &[u8], out: &mut Vec<u8>) {
    let mut from = 0;
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'[', &text[at..]) {
        let i = at + i;
        match map.escaped_at(&text[i..]) {
            Some((original, len)) => {
                out.extend_from_slice(&text[from..i]);
                out.extend_from_slice(original.as_bytes());
                from = i + len;
                at = from;
            }
            None => at = i + 1,
        }
    }
    out.extend_from_slice(&text[from..]);
}

/// Puts the originals back into `buf` when the request's guard asked for it
/// (`restore = true`) and something was redacted; otherwise leaves `buf` alone without
/// looking at it. Allocates only when a placeholder is found.
pub fn restore_in_place(map: &Redactions, buf: &mut Vec<u8>) {
    if !map.restores() {
        return;
    }
    let first = {
        let mut at = 0;
        loop {
            match memchr::memchr(b'[', &buf[at..]) {
                Some(i) if map.escaped_at(&buf[at + i..]).is_some() => break Some(at + i),
                Some(i) => at += i + 1,
                None => break None,
            }
        }
    };
    let Some(first) = first else {
        return;
    };
    let mut out = Vec::with_capacity(buf.len() + 64);
    out.extend_from_slice(&buf[..first]);
    restore(map, &buf[first..], &mut out);
    *buf = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_placeholder_numbered_per_label() {
        let mut r = Redactions::default();
        assert_eq!(r.placeholder("EMAIL", "a@b.io"), "[EMAIL_1]");
        assert_eq!(r.placeholder("EMAIL", "c@d.io"), "[EMAIL_2]");
        assert_eq!(r.placeholder("EMAIL", "a@b.io"), "[EMAIL_1]");
        assert_eq!(r.placeholder("IP", "10.0.0.1"), "[IP_1]");
        assert_eq!(r.len(), 3);
        assert_eq!(r.original("[EMAIL_2]"), Some("c@d.io"));
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.placeholder("EMAIL", "x@y.io"), "[EMAIL_1]");
    }

    #[test]
    fn restores_placeholders_json_escaped() {
        let mut r = Redactions::default();
        r.placeholder("EMAIL", "a@b.io");
        r.placeholder("TICKET", "say \"hi\"\n");
        let mut out = Vec::new();
        restore(
            &r,
            br#"{"text":"[EMAIL_1], [TICKET_1] [EMAIL_9] [x] [EMAIL_1"}"#,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"text":"a@b.io, say \"hi\"\n [EMAIL_9] [x] [EMAIL_1"}"#
        );
    }

    #[test]
    fn in_place_only_when_asked_and_found() {
        let mut r = Redactions::default();
        r.placeholder("IP", "10.0.0.1");
        let mut buf = b"data: {\"t\":\"[IP_1]\"}\n\n".to_vec();
        restore_in_place(&r, &mut buf);
        assert_eq!(buf, b"data: {\"t\":\"[IP_1]\"}\n\n", "restore is off");
        r.set_restore(true);
        restore_in_place(&r, &mut buf);
        assert_eq!(buf, b"data: {\"t\":\"10.0.0.1\"}\n\n");
        let mut none = b"[[no placeholders]]".to_vec();
        let before = none.as_ptr();
        restore_in_place(&r, &mut none);
        assert_eq!(none.as_ptr(), before, "nothing found: no new buffer");
        // A placeholder split across two writes stays split.
        let (mut a, mut b) = (b"x [IP".to_vec(), b"_1] y".to_vec());
        restore_in_place(&r, &mut a);
        restore_in_place(&r, &mut b);
        assert_eq!([a, b].concat(), b"x [IP_1] y");
    }
}
