//! Server-sent events: an incremental `text/event-stream` parser (WHATWG HTML §9.2.6) and
//! a tracker that reads LLM streams (OpenAI and Anthropic shapes) for token timing and
//! usage.
//!
//! The parser follows the spec's line rules: CR, LF and CRLF line ends (also split across
//! reads), a leading BOM, comments, multi-line `data`, `event`, `id`, `retry`, and unknown
//! fields ignored. Memory is bounded: a line longer than the limit is truncated and the
//! event it belongs to is marked so, never grown without bound.

pub mod stream;

pub use stream::{StreamFigures, StreamTracker, Usage};

/// One dispatched event. `event` is empty when the stream named no type ("message").
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The `event:` field, or empty.
    pub event: &'a [u8],
    /// The `data:` lines joined with LF, without the final LF.
    pub data: &'a [u8],
    /// True when a line of this event hit the length limit and was cut.
    pub truncated: bool,
}

/// Incremental parser state. Feed it bytes as they arrive.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    data: Vec<u8>,
    event: Vec<u8>,
    has_data: bool,
    after_cr: bool,
    at_start: bool,
    truncated: bool,
    max_line: usize,
    last_event_id: Vec<u8>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new(1 << 20)
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    /// A parser that keeps at most `max_line` bytes of any one line (and of an event's data).
    pub fn new(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            data: Vec::new(),
            event: Vec::new(),
            has_data: false,
            after_cr: false,
            at_start: true,
            truncated: false,
            max_line,
            last_event_id: Vec::new(),
        }
    }

    /// The last `id:` seen (the stream's last event ID).
    pub fn last_event_id(&self) -> &[u8] {
        &self.last_event_id
    }

    /// Parses `input`, calling `on_event` for each complete event.
    pub fn feed(&mut self, input: &[u8], mut on_event: impl FnMut(Event<'_>)) {
        if self.at_start {
            // The BOM may arrive split; hold back a prefix of it until we know.
            self.line.extend_from_slice(input);
            if self.line.len() < BOM.len() && BOM.starts_with(&self.line) {
                return;
            }
            self.at_start = false;
            let held = std::mem::take(&mut self.line);
            let rest = held.strip_prefix(BOM).unwrap_or(&held);
            self.feed_lines(rest, &mut on_event);
            return;
        }
        self.feed_lines(input, &mut on_event);
    }

    fn feed_lines(&mut self, mut input: &[u8], on_event: &mut impl FnMut(Event<'_>)) {
        if self.after_cr && input.first() == Some(&b'\n') {
            input = &input[1..];
        }
        self.after_cr = false;
        while let Some(pos) = memchr::memchr2(b'\r', b'\n', input) {
            self.push_line_bytes(&input[..pos]);
            let is_cr = input[pos] == b'\r';
            input = &input[pos + 1..];
            if is_cr {
                if input.first() == Some(&b'\n') {
                    input = &input[1..];
                } else if input.is_empty() {
                    self.after_cr = true;
                }
            }
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, on_event);
            self.line = line;
            self.line.clear();
        }
        self.push_line_bytes(input);
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) {
        let room = self.max_line.saturating_sub(self.line.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn process_line(&mut self, line: &[u8], on_event: &mut impl FnMut(Event<'_>)) {
        if line.is_empty() {
            if self.has_data {
                on_event(Event {
                    event: &self.event,
                    data: &self.data,
                    truncated: self.truncated,
                });
            }
            self.data.clear();
            self.event.clear();
            self.has_data = false;
            self.truncated = false;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                let room = self.max_line.saturating_sub(self.data.len());
                if value.len() > room {
                    self.truncated = true;
                }
                self.data.extend_from_slice(&value[..value.len().min(room)]);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) => {
                self.last_event_id.clear();
                self.last_event_id.extend_from_slice(value);
            }
            // `retry` only matters to reconnecting clients; unknown fields are ignored.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_split(input: &[u8], step: usize) -> Vec<(String, String)> {
        let mut p = SseParser::new(64);
        let mut out = Vec::new();
        for chunk in input.chunks(step) {
            p.feed(chunk, |e| {
                out.push((
                    String::from_utf8_lossy(e.event).into_owned(),
                    String::from_utf8_lossy(e.data).into_owned(),
                ))
            });
        }
        out
    }

    #[test]
    fn vectors_at_every_split() {
        type Case<'a> = (&'a [u8], &'a [(&'a str, &'a str)]);
        let cases: &[Case<'_>] = &[
            (b"data: a\n\n", &[("", "a")]),
            (b"data: a\r\n\r\n", &[("", "a")]),
            (b"data: a\r\rdata: b\r\r", &[("", "a"), ("", "b")]),
            (b"\xEF\xBB\xBFdata: bom\n\n", &[("", "bom")]),
            (b": comment\ndata:x\ndata: y\n\n", &[("", "x\ny")]),
            (b"event: ping\ndata: {}\n\nevent: e2\n\n", &[("ping", "{}")]),
            (b"data\n\n", &[("", "")]),
            (
                b"id: 7\nretry: 10\nfoo: bar\ndata:  two spaces\n\n",
                &[("", " two spaces")],
            ),
            (b"data: no end", &[]),
        ];
        for (input, want) in cases {
            for step in 1..=input.len() {
                let got = parse_split(input, step);
                let want: Vec<_> = want
                    .iter()
                    .map(|(e, d)| (e.to_string(), d.to_string()))
                    .collect();
                assert_eq!(
                    got,
                    want,
                    "{:?} step {step}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }

    #[test]
    fn long_lines_are_bounded() {
        let mut p = SseParser::new(8);
        let mut seen = Vec::new();
        p.feed(b"data: 0123456789abcdef\n\n", |e| {
            seen.push((e.data.to_vec(), e.truncated))
        });
        assert_eq!(seen, vec![(b"01".to_vec(), true)]);
        assert!(p.line.capacity() < 64);
    }

    #[test]
    fn keeps_last_event_id() {
        let mut p = SseParser::default();
        p.feed(b"id: 42\ndata: x\n\n", |_| {});
        assert_eq!(p.last_event_id(), b"42");
    }
}
