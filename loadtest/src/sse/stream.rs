//! Reads an LLM event stream as it arrives: which events carry tokens, when the first
//! token came, the gaps between tokens, an error event, the end marker, and the `usage`
//! the provider reported.
//!
//! Shapes understood (documented by the providers):
//! - OpenAI chat/completions chunks: a token event is a `data:` JSON whose `content`,
//!   `text`, `arguments` or `reasoning_content` string is non-empty; `[DONE]` ends the
//!   stream; a final chunk with `"usage":{...}` (from `stream_options.include_usage`)
//!   carries `prompt_tokens`/`completion_tokens`; `{"error":...}` is an error event.
//! - Anthropic messages: `content_block_delta` events are token events; `message_start`
//!   carries `message.usage.input_tokens`, `message_delta` carries `usage.output_tokens`
//!   (the later figure wins); `message_stop` ends it; `event: error` is an error event.
//!
//! Token detection scans bytes; JSON is parsed only for events that carry usage.

use std::time::Duration;

use super::Event;

/// Token counts reported by the upstream. `None` where a figure was not reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// OpenAI `prompt_tokens` / Anthropic `input_tokens`.
    pub input: Option<u64>,
    /// OpenAI `completion_tokens` / Anthropic `output_tokens`.
    pub output: Option<u64>,
}

/// What one stream looked like.
#[derive(Debug, Clone, Default)]
pub struct StreamFigures {
    /// All dispatched events.
    pub events: u64,
    /// Events that carried output tokens.
    pub token_events: u64,
    /// Time from the request's start to the first event.
    pub first_event: Option<Duration>,
    /// Time from the request's start to the first token event (TTFT).
    pub first_token: Option<Duration>,
    /// Usage when the stream reported any.
    pub usage: Option<Usage>,
    /// An error event arrived.
    pub error_event: bool,
    /// The end marker (`[DONE]` or `message_stop`) arrived.
    pub finished: bool,
}

/// Per-stream state.
#[derive(Debug, Default)]
pub struct StreamTracker {
    /// Figures so far.
    pub figures: StreamFigures,
    last_token: Option<Duration>,
}

impl StreamTracker {
    /// A tracker for a new stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accounts one event that arrived `at` after the request started. Returns the gap
    /// since the previous token event when this is a token event after the first.
    pub fn on_event(&mut self, ev: &Event<'_>, at: Duration) -> Option<Duration> {
        let f = &mut self.figures;
        f.events += 1;
        f.first_event.get_or_insert(at);
        let data = ev.data.trim_ascii();
        let is_token = match ev.event {
            b"content_block_delta" => true,
            b"error" => {
                f.error_event = true;
                false
            }
            b"message_stop" => {
                f.finished = true;
                false
            }
            b"message_start" | b"message_delta" => {
                merge_usage(f, data);
                false
            }
            b"ping" | b"content_block_start" | b"content_block_stop" => false,
            _ => {
                if data == b"[DONE]" {
                    f.finished = true;
                    false
                } else if is_error_object(data) {
                    f.error_event = true;
                    false
                } else {
                    if memchr::memmem::find(data, b"\"usage\"").is_some() {
                        merge_usage(f, data);
                    }
                    ["content", "text", "arguments", "reasoning_content"]
                        .iter()
                        .any(|k| has_nonempty_string(data, k))
                }
            }
        };
        if !is_token {
            return None;
        }
        f.token_events += 1;
        f.first_token.get_or_insert(at);
        let gap = self.last_token.map(|prev| at.saturating_sub(prev));
        self.last_token = Some(at);
        gap
    }
}

fn is_error_object(data: &[u8]) -> bool {
    data.strip_prefix(b"{")
        .map(<[u8]>::trim_ascii_start)
        .is_some_and(|rest| rest.starts_with(b"\"error\""))
}

/// True when `"key":"<at least one char>` occurs (whitespace allowed around the colon).
fn has_nonempty_string(data: &[u8], key: &str) -> bool {
    let mut needle = Vec::with_capacity(key.len() + 2);
    needle.push(b'"');
    needle.extend_from_slice(key.as_bytes());
    needle.push(b'"');
    memchr::memmem::find_iter(data, &needle).any(|pos| {
        let rest = data[pos + needle.len()..].trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b":") else {
            return false;
        };
        let rest = rest.trim_ascii_start();
        rest.len() >= 2 && rest[0] == b'"' && rest[1] != b'"'
    })
}

fn merge_usage(f: &mut StreamFigures, data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let usage = v
        .get("usage")
        .filter(|u| u.is_object())
        .or_else(|| v.get("message").and_then(|m| m.get("usage")))
        .filter(|u| u.is_object());
    let Some(u) = usage else {
        return;
    };
    let pick = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| u.get(*n).and_then(|x| x.as_u64()))
    };
    let input = pick(&["prompt_tokens", "input_tokens"]);
    let output = pick(&["completion_tokens", "output_tokens"]);
    if input.is_none() && output.is_none() {
        return;
    }
    let cur = f.usage.get_or_insert_with(Usage::default);
    cur.input = input.or(cur.input);
    cur.output = output.or(cur.output);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    fn run(stream: &[u8]) -> StreamFigures {
        let mut p = SseParser::default();
        let mut t = StreamTracker::new();
        let mut ms = 0;
        p.feed(stream, |e| {
            ms += 10;
            t.on_event(&e, Duration::from_millis(ms));
        });
        t.figures
    }

    #[test]
    fn openai_stream_with_usage() {
        let s = concat!(
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\": {\"content\": \" there\"}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
            "data: [DONE]\n\n"
        );
        let f = run(s.as_bytes());
        assert_eq!(f.events, 5);
        assert_eq!(f.token_events, 2);
        assert_eq!(f.first_token, Some(Duration::from_millis(20)));
        assert_eq!(
            f.usage,
            Some(Usage {
                input: Some(5),
                output: Some(2)
            })
        );
        assert!(f.finished && !f.error_event);
    }

    #[test]
    fn anthropic_stream_usage_merges() {
        let s = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n",
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            "event: content_block_delta\ndata: {\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        );
        let f = run(s.as_bytes());
        assert_eq!(f.token_events, 1);
        assert_eq!(
            f.usage,
            Some(Usage {
                input: Some(9),
                output: Some(3)
            })
        );
        assert!(f.finished);
    }

    #[test]
    fn error_events() {
        assert!(run(b"data: {\"error\":{\"message\":\"x\"}}\n\n").error_event);
        assert!(run(b"event: error\ndata: {\"type\":\"error\"}\n\n").error_event);
        assert!(!run(b"data: {\"choices\":[]}\n\n").error_event);
    }

    #[test]
    fn gaps_between_tokens() {
        let mut t = StreamTracker::new();
        let e = Event {
            event: b"content_block_delta",
            data: b"{}",
            truncated: false,
        };
        assert_eq!(t.on_event(&e, Duration::from_millis(5)), None);
        assert_eq!(
            t.on_event(&e, Duration::from_millis(12)),
            Some(Duration::from_millis(7))
        );
    }
}
