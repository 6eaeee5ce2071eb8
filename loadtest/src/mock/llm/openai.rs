//! OpenAI shapes: chat completion and legacy completion bodies and chunk sequences, and the
//! mock's deterministic tool call.
//!
//! Chat stream, per the API reference: for each choice a first chunk with
//! `delta.role = "assistant"` (and, for a tool call, the call's id, type, name and empty
//! arguments); then one chunk per token (`delta.content`, or `delta.tool_calls[0].function
//! .arguments`), choices interleaved; then per choice a chunk with an empty delta and the
//! `finish_reason`; with `stream_options.include_usage`, every chunk carries
//! `"usage": null` and a last chunk has `"choices": []` and the usage; then `data: [DONE]`.

use serde_json::{json, Map, Value};

use super::stream::Piece;
use super::{text, Gen, ToolCall};

/// Picks the tool to call: the one `tool_choice` names, else the first; none when the
/// request has no tools or `tool_choice` is `"none"`.
pub fn pick_tool(req: &Value, seed: u64, anthropic: bool) -> Option<ToolCall> {
    let tools = req.get("tools")?.as_array().filter(|t| !t.is_empty())?;
    let choice = req.get("tool_choice");
    if choice.and_then(Value::as_str) == Some("none")
        || choice.and_then(|c| c.get("type")).and_then(Value::as_str) == Some("none")
    {
        return None;
    }
    let name_of = |t: &Value| {
        t.pointer("/function/name")
            .or_else(|| t.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let wanted = choice
        .and_then(|c| c.pointer("/function/name").or_else(|| c.get("name")))
        .and_then(Value::as_str);
    let tool = wanted
        .and_then(|w| tools.iter().find(|t| name_of(t).as_deref() == Some(w)))
        .unwrap_or(&tools[0]);
    let name = name_of(tool).unwrap_or_else(|| "tool".to_string());
    let schema = tool
        .pointer("/function/parameters")
        .or_else(|| tool.get("input_schema"));
    let props: Vec<String> = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|o| o.keys().take(4).cloned().collect())
        .unwrap_or_default();
    let props = if props.is_empty() {
        vec!["input".to_string()]
    } else {
        props
    };
    let mut args = Map::new();
    for (i, p) in props.iter().enumerate() {
        let i = i as u32 * 2;
        args.insert(
            p.clone(),
            Value::String(format!(
                "{} {}",
                text::word(seed, i),
                text::word(seed, i + 1)
            )),
        );
    }
    let arguments = Value::Object(args).to_string();
    let pieces = split_pieces(&arguments, 8);
    let id = if anthropic {
        format!("toolu_mock_{seed:016x}")
    } else {
        format!("call_mock_{seed:016x}")
    };
    Some(ToolCall {
        id,
        name,
        arguments,
        pieces,
    })
}

/// Cuts `s` into pieces of at most `max` bytes on char boundaries.
pub fn split_pieces(s: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in s.chars() {
        if cur.len() + ch.len_utf8() > max && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn finish_reason(g: &Gen) -> &'static str {
    if g.tool.is_some() {
        "tool_calls"
    } else if g.hit_max {
        "length"
    } else {
        "stop"
    }
}

/// The non-streaming chat completion.
pub fn chat_body(g: &Gen) -> Value {
    let choices: Vec<Value> = (0..g.n)
        .map(|c| {
            let message = match &g.tool {
                Some(t) => json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": t.arguments}}
                ]}),
                None => json!({"role": "assistant", "content": text::reply(g.seed + u64::from(c), g.tokens), "refusal": null}),
            };
            json!({"index": c, "message": message, "logprobs": null, "finish_reason": finish_reason(g)})
        })
        .collect();
    json!({
        "id": g.id, "object": "chat.completion", "created": g.created, "model": g.model,
        "system_fingerprint": "fp_mock", "choices": choices, "usage": g.openai_usage(),
    })
}

/// The non-streaming legacy completion.
pub fn completion_body(g: &Gen) -> Value {
    let choices: Vec<Value> = (0..g.n)
        .map(|c| json!({"text": text::reply(g.seed + u64::from(c), g.tokens), "index": c, "logprobs": null, "finish_reason": finish_reason(g)}))
        .collect();
    json!({"id": g.id, "object": "text_completion", "created": g.created, "model": g.model, "choices": choices, "usage": g.openai_usage()})
}

/// The error event sent by the `error-event` fault.
pub fn error_event() -> String {
    let e = json!({"error": {"message": "stream interrupted (mock error-event)", "type": "server_error", "param": null, "code": "server_error"}});
    format!("data: {e}\n\n")
}

fn chunk(g: &Gen, object: &str, choices: Value) -> String {
    let mut v = json!({"id": g.id, "object": object, "created": g.created, "model": g.model, "system_fingerprint": "fp_mock", "choices": choices});
    if g.include_usage {
        v["usage"] = Value::Null;
    }
    format!("data: {v}\n\n")
}

#[derive(Debug, Clone, Copy, Default)]
enum Phase {
    #[default]
    Start,
    Role(u32),
    Body(u32, u32),
    Finish(u32),
    Usage,
    Done,
    End,
}

/// The chat chunk sequence.
#[derive(Debug, Default)]
pub struct ChatSeq {
    phase: Phase,
}

impl ChatSeq {
    /// The next event, or `None` at the end.
    pub fn next(&mut self, g: &Gen) -> Option<Piece> {
        const OBJ: &str = "chat.completion.chunk";
        let per = g.per_choice();
        loop {
            let (piece, next) = match self.phase {
                Phase::Start => (None, Phase::Role(0)),
                Phase::Role(c) if c >= g.n => (
                    None,
                    if per == 0 {
                        Phase::Finish(0)
                    } else {
                        Phase::Body(0, 0)
                    },
                ),
                Phase::Role(c) => {
                    let delta = match &g.tool {
                        Some(t) => json!({"role": "assistant", "content": null, "tool_calls": [
                            {"index": 0, "id": t.id, "type": "function", "function": {"name": t.name, "arguments": ""}}]}),
                        None => json!({"role": "assistant", "content": ""}),
                    };
                    let ch = json!([{"index": c, "delta": delta, "logprobs": null, "finish_reason": null}]);
                    (Some(Piece::other(chunk(g, OBJ, ch))), Phase::Role(c + 1))
                }
                Phase::Body(k, _) if k >= per => (None, Phase::Finish(0)),
                Phase::Body(k, c) if c >= g.n => (None, Phase::Body(k + 1, 0)),
                Phase::Body(k, c) => {
                    let delta = match &g.tool {
                        Some(t) => {
                            json!({"tool_calls": [{"index": 0, "function": {"arguments": t.pieces[k as usize]}}]})
                        }
                        None => json!({"content": text::delta(g.seed + u64::from(c), k)}),
                    };
                    let ch = json!([{"index": c, "delta": delta, "logprobs": null, "finish_reason": null}]);
                    (Some(Piece::token(chunk(g, OBJ, ch))), Phase::Body(k, c + 1))
                }
                Phase::Finish(c) if c >= g.n => (
                    None,
                    if g.include_usage {
                        Phase::Usage
                    } else {
                        Phase::Done
                    },
                ),
                Phase::Finish(c) => {
                    let ch = json!([{"index": c, "delta": {}, "logprobs": null, "finish_reason": finish_reason(g)}]);
                    (Some(Piece::other(chunk(g, OBJ, ch))), Phase::Finish(c + 1))
                }
                Phase::Usage => (Some(Piece::other(usage_chunk(g, OBJ))), Phase::Done),
                Phase::Done => (
                    Some(Piece::other("data: [DONE]\n\n".to_string())),
                    Phase::End,
                ),
                Phase::End => return None,
            };
            self.phase = next;
            if piece.is_some() {
                return piece;
            }
        }
    }
}

fn usage_chunk(g: &Gen, object: &str) -> String {
    let v = json!({"id": g.id, "object": object, "created": g.created, "model": g.model, "system_fingerprint": "fp_mock", "choices": [], "usage": g.openai_usage()});
    format!("data: {v}\n\n")
}

/// The legacy completion chunk sequence (no role chunk; `choices[].text`).
#[derive(Debug, Default)]
pub struct CompletionSeq {
    phase: Phase,
}

impl CompletionSeq {
    /// The next event, or `None` at the end.
    pub fn next(&mut self, g: &Gen) -> Option<Piece> {
        const OBJ: &str = "text_completion";
        loop {
            let (piece, next) = match self.phase {
                Phase::Start | Phase::Role(_) => (None, Phase::Body(0, 0)),
                Phase::Body(k, _) if k >= g.tokens => (None, Phase::Finish(0)),
                Phase::Body(k, c) if c >= g.n => (None, Phase::Body(k + 1, 0)),
                Phase::Body(k, c) => {
                    let ch = json!([{"text": text::delta(g.seed + u64::from(c), k), "index": c, "logprobs": null, "finish_reason": null}]);
                    (Some(Piece::token(chunk(g, OBJ, ch))), Phase::Body(k, c + 1))
                }
                Phase::Finish(c) if c >= g.n => (
                    None,
                    if g.include_usage {
                        Phase::Usage
                    } else {
                        Phase::Done
                    },
                ),
                Phase::Finish(c) => {
                    let ch = json!([{"text": "", "index": c, "logprobs": null, "finish_reason": finish_reason(g)}]);
                    (Some(Piece::other(chunk(g, OBJ, ch))), Phase::Finish(c + 1))
                }
                Phase::Usage => (Some(Piece::other(usage_chunk(g, OBJ))), Phase::Done),
                Phase::Done => (
                    Some(Piece::other("data: [DONE]\n\n".to_string())),
                    Phase::End,
                ),
                Phase::End => return None,
            };
            self.phase = next;
            if piece.is_some() {
                return piece;
            }
        }
    }
}
