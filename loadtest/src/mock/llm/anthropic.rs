//! Anthropic messages shapes: the non-streaming message and the streaming event sequence
//! exactly as the API documents it:
//! `message_start`, `content_block_start`, `ping`, `content_block_delta` × N,
//! `content_block_stop`, `message_delta` (stop reason and `usage.output_tokens`),
//! `message_stop`. `message_start` carries `usage.input_tokens` and `output_tokens: 1`.
//! A tool call is one `tool_use` block whose deltas are `input_json_delta`s.

use serde_json::{json, Value};

use super::stream::Piece;
use super::{text, Gen};

fn stop_reason(g: &Gen) -> &'static str {
    if g.tool.is_some() {
        "tool_use"
    } else if g.hit_max {
        "max_tokens"
    } else {
        "end_turn"
    }
}

/// The non-streaming message.
pub fn message_body(g: &Gen) -> Value {
    let content = match &g.tool {
        Some(t) => {
            let input: Value = serde_json::from_str(&t.arguments).unwrap_or(Value::Null);
            json!([{"type": "tool_use", "id": t.id, "name": t.name, "input": input}])
        }
        None => json!([{"type": "text", "text": text::reply(g.seed, g.tokens)}]),
    };
    json!({
        "id": g.id, "type": "message", "role": "assistant", "model": g.model, "content": content,
        "stop_reason": stop_reason(g), "stop_sequence": null,
        "usage": {"input_tokens": g.prompt_tokens, "output_tokens": g.completion_tokens()},
    })
}

/// The error event sent by the `error-event` fault.
pub fn error_event() -> String {
    let e = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded (mock error-event)"}});
    format!("event: error\ndata: {e}\n\n")
}

fn event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

#[derive(Debug, Clone, Copy, Default)]
enum Phase {
    #[default]
    MessageStart,
    BlockStart,
    Ping,
    Delta(u32),
    BlockStop,
    MessageDelta,
    MessageStop,
    End,
}

/// The messages event sequence.
#[derive(Debug, Default)]
pub struct MessagesSeq {
    phase: Phase,
}

impl MessagesSeq {
    /// The next event, or `None` at the end.
    pub fn next(&mut self, g: &Gen) -> Option<Piece> {
        let per = g.per_choice();
        let (piece, next) = match self.phase {
            Phase::MessageStart => {
                let msg = json!({"type": "message_start", "message": {
                    "id": g.id, "type": "message", "role": "assistant", "model": g.model, "content": [],
                    "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": g.prompt_tokens, "output_tokens": 1}}});
                (
                    Piece::other(event("message_start", &msg)),
                    Phase::BlockStart,
                )
            }
            Phase::BlockStart => {
                let block = match &g.tool {
                    Some(t) => json!({"type": "tool_use", "id": t.id, "name": t.name, "input": {}}),
                    None => json!({"type": "text", "text": ""}),
                };
                let v = json!({"type": "content_block_start", "index": 0, "content_block": block});
                (Piece::other(event("content_block_start", &v)), Phase::Ping)
            }
            Phase::Ping => (
                Piece::other(event("ping", &json!({"type": "ping"}))),
                Phase::Delta(0),
            ),
            Phase::Delta(k) if k >= per => {
                self.phase = Phase::BlockStop;
                return self.next(g);
            }
            Phase::Delta(k) => {
                let delta = match &g.tool {
                    Some(t) => {
                        json!({"type": "input_json_delta", "partial_json": t.pieces[k as usize]})
                    }
                    None => json!({"type": "text_delta", "text": text::delta(g.seed, k)}),
                };
                let v = json!({"type": "content_block_delta", "index": 0, "delta": delta});
                (
                    Piece::token(event("content_block_delta", &v)),
                    Phase::Delta(k + 1),
                )
            }
            Phase::BlockStop => {
                let v = json!({"type": "content_block_stop", "index": 0});
                (
                    Piece::other(event("content_block_stop", &v)),
                    Phase::MessageDelta,
                )
            }
            Phase::MessageDelta => {
                let v = json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason(g), "stop_sequence": null},
                    "usage": {"output_tokens": g.completion_tokens()}});
                (Piece::other(event("message_delta", &v)), Phase::MessageStop)
            }
            Phase::MessageStop => (
                Piece::other(event("message_stop", &json!({"type": "message_stop"}))),
                Phase::End,
            ),
            Phase::End => return None,
        };
        self.phase = next;
        Some(piece)
    }
}
