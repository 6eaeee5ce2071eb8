//! The built-in `mock` provider: answers in OpenAI's format, deterministically, with
//! the configured time to first token and token rate, without any network. It lets the
//! embedded default config serve `/v1/chat/completions` out of the box, and benchmarks
//! measure the gateway's own cost with nothing behind it.
//!
//! The answer is a fixed sentence cut or repeated to `output_tokens` words (or the
//! request's `max_tokens`, when smaller); each word is one token. The prompt's tokens are
//! estimated from its text. A request with tools whose `tool_choice` requires a call gets
//! a call of the named (or first) tool with `{}` as its arguments.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use tollgate_filters::llm::MockConfig;
use tollgate_proto::tokens::{estimate, Vocab};

use super::api::Api;

const WORDS: [&str; 12] = [
    "Tollgate", "mock", "reply:", "the", "quick", "brown", "fox", "jumps", "over", "the", "lazy",
    "dog.",
];

/// What the mock answers to one request.
pub struct MockAnswer {
    /// The whole body, for a request that did not ask to stream.
    pub body: Vec<u8>,
    /// The stream's events (each a complete `data: ...\n\n`), for a streaming request.
    pub events: Vec<Bytes>,
    pub stream: bool,
    /// When the first token is due.
    pub first: Duration,
    /// Time between tokens.
    pub gap: Duration,
}

/// Plays a [`MockAnswer`]'s events at their pace: the events before the first token at
/// once, then one per gap after the time to first token.
pub struct MockStream {
    events: std::vec::IntoIter<Bytes>,
    start: Instant,
    first: Duration,
    gap: Duration,
    /// Events sent so far; the first one (the role chunk) goes out at once.
    sent: u32,
}

impl MockStream {
    pub fn new(a: MockAnswer) -> MockStream {
        MockStream {
            events: a.events.into_iter(),
            start: Instant::now(),
            first: a.first,
            gap: a.gap,
            sent: 0,
        }
    }

    pub async fn next(&mut self) -> Option<Bytes> {
        let ev = self.events.next()?;
        if self.sent > 0 {
            let due = self.start + self.first + self.gap * (self.sent - 1);
            let now = Instant::now();
            if due > now {
                monoio::time::sleep(due - now).await;
            }
        }
        self.sent += 1;
        Some(ev)
    }
}

/// The mock's answer to `body` (an OpenAI-format request for `api`).
pub fn answer(cfg: &MockConfig, api: Api, body: &[u8], id: &str, created: u64) -> MockAnswer {
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or("mock").to_owned();
    let stream = req["stream"].as_bool().unwrap_or(false) && api != Api::Embeddings;
    let include_usage = req["stream_options"]["include_usage"].as_bool() == Some(true);
    let max = req["max_completion_tokens"]
        .as_u64()
        .or_else(|| req["max_tokens"].as_u64())
        .unwrap_or(u64::MAX);
    let n_out = u64::from(cfg.output_tokens).min(max).max(1) as usize;
    let words: Vec<&str> = (0..n_out).map(|i| WORDS[i % WORDS.len()]).collect();
    let prompt = prompt_tokens(&req, &model);
    let gap = if cfg.tokens_per_second == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs(1) / cfg.tokens_per_second
    };
    let total = cfg.ttft + gap * (n_out.saturating_sub(1) as u32);
    let usage = json!({
        "prompt_tokens": prompt,
        "completion_tokens": n_out,
        "total_tokens": prompt + n_out as u64,
    });
    let tool = tool_to_call(&req);
    let mut a = MockAnswer {
        body: Vec::new(),
        events: Vec::new(),
        stream,
        first: cfg.ttft,
        gap,
    };
    match api {
        Api::Embeddings => {
            let inputs = match &req["input"] {
                Value::Array(a) => a.len().max(1),
                _ => 1,
            };
            let data: Vec<Value> = (0..inputs)
                .map(|i| {
                    let v: Vec<f64> = (0..8).map(|k| ((i * 8 + k) as f64 * 0.125).sin()).collect();
                    json!({"object": "embedding", "index": i, "embedding": v})
                })
                .collect();
            a.body = json!({
                "object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
            })
            .to_string()
            .into_bytes();
            a.first = cfg.ttft;
        }
        Api::Completions => {
            if stream {
                for (i, w) in words.iter().enumerate() {
                    let text = if i == 0 {
                        w.to_string()
                    } else {
                        format!(" {w}")
                    };
                    let finish = if i + 1 == n_out {
                        json!("length")
                    } else {
                        Value::Null
                    };
                    push(
                        &mut a.events,
                        json!({
                            "id": id, "object": "text_completion", "created": created, "model": model,
                            "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": null}],
                        }),
                    );
                }
                if include_usage {
                    push(
                        &mut a.events,
                        json!({
                            "id": id, "object": "text_completion", "created": created, "model": model,
                            "choices": [], "usage": usage,
                        }),
                    );
                }
                a.events.push(Bytes::from_static(b"data: [DONE]\n\n"));
            } else {
                a.body = json!({
                    "id": id, "object": "text_completion", "created": created, "model": model,
                    "choices": [{"index": 0, "text": words.join(" "), "finish_reason": "length", "logprobs": null}],
                    "usage": usage,
                })
                .to_string()
                .into_bytes();
                a.first = total;
            }
        }
        _ => {
            let finish = if tool.is_some() {
                "tool_calls"
            } else if n_out as u64 == max {
                "length"
            } else {
                "stop"
            };
            if stream {
                let chunk = |delta: Value, finish: Value| {
                    json!({
                        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    })
                };
                push(
                    &mut a.events,
                    chunk(json!({"role": "assistant", "content": ""}), Value::Null),
                );
                if let Some(name) = &tool {
                    push(
                        &mut a.events,
                        chunk(
                            json!({"tool_calls": [{"index": 0, "id": format!("call_{id}"), "type": "function", "function": {"name": name, "arguments": ""}}]}),
                            Value::Null,
                        ),
                    );
                    push(
                        &mut a.events,
                        chunk(
                            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
                            Value::Null,
                        ),
                    );
                } else {
                    for (i, w) in words.iter().enumerate() {
                        let text = if i == 0 {
                            w.to_string()
                        } else {
                            format!(" {w}")
                        };
                        push(&mut a.events, chunk(json!({"content": text}), Value::Null));
                    }
                }
                push(&mut a.events, chunk(json!({}), json!(finish)));
                if include_usage {
                    push(
                        &mut a.events,
                        json!({
                            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                            "choices": [], "usage": usage,
                        }),
                    );
                }
                a.events.push(Bytes::from_static(b"data: [DONE]\n\n"));
            } else {
                let message = match &tool {
                    Some(name) => json!({"role": "assistant", "content": null, "tool_calls": [
                        {"id": format!("call_{id}"), "type": "function", "function": {"name": name, "arguments": "{}"}}]}),
                    None => json!({"role": "assistant", "content": words.join(" ")}),
                };
                a.body = json!({
                    "id": id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
                    "usage": usage,
                })
                .to_string()
                .into_bytes();
                a.first = total;
            }
        }
    }
    a
}

fn push(events: &mut Vec<Bytes>, v: Value) {
    events.push(Bytes::from(format!("data: {v}\n\n")));
}

/// The tool the request forces a call to, if any: `tool_choice` `required` (the first
/// tool) or a named function.
fn tool_to_call(req: &Value) -> Option<String> {
    let tools = req["tools"].as_array().filter(|t| !t.is_empty())?;
    match &req["tool_choice"] {
        Value::String(s) if s == "required" => {
            tools[0]["function"]["name"].as_str().map(str::to_owned)
        }
        Value::Object(o) => o
            .get("function")
            .and_then(|f| f["name"].as_str())
            .map(str::to_owned),
        _ => None,
    }
}

fn prompt_tokens(req: &Value, model: &str) -> u64 {
    let mut text = Vec::new();
    for key in ["messages", "prompt", "input"] {
        collect(&req[key], &mut text);
    }
    estimate(&text, Vocab::for_model(model)).max(1)
}

fn collect(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        }
        Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
        Value::Object(m) => m.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(tokens: u32) -> MockConfig {
        MockConfig {
            ttft: Duration::from_millis(5),
            tokens_per_second: 100,
            output_tokens: tokens,
        }
    }

    #[test]
    fn whole_chat_answer_has_the_configured_tokens() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hello"}]}"#;
        let a = answer(&cfg(5), Api::Chat, body, "x", 1);
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["usage"]["completion_tokens"], 5);
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Tollgate mock reply: the quick"
        );
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(a.first, Duration::from_millis(45));
    }

    #[test]
    fn max_tokens_caps_the_answer() {
        let body = br#"{"model":"m","max_tokens":2,"messages":[]}"#;
        let a = answer(&cfg(16), Api::Chat, body, "x", 1);
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["usage"]["completion_tokens"], 2);
        assert_eq!(v["choices"][0]["finish_reason"], "length");
    }

    #[test]
    fn streams_have_role_tokens_finish_usage_done() {
        let body =
            br#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
        let a = answer(&cfg(3), Api::Chat, body, "x", 1);
        assert!(a.stream);
        // role, 3 tokens, finish, usage, [DONE]
        assert_eq!(a.events.len(), 7);
        assert!(
            a.events[5].starts_with(b"data: {")
                && a.events[5].windows(7).any(|w| w == b"\"usage\"")
        );
        assert_eq!(&a.events[6][..], b"data: [DONE]\n\n");
        let no_usage = br#"{"model":"m","stream":true,"messages":[]}"#;
        assert_eq!(answer(&cfg(3), Api::Chat, no_usage, "x", 1).events.len(), 6);
    }

    #[test]
    fn required_tool_choice_calls_the_tool() {
        let body = br#"{"model":"m","tool_choice":"required","tools":[{"type":"function","function":{"name":"get_weather","parameters":{}}}],"messages":[]}"#;
        let a = answer(&cfg(3), Api::Chat, body, "x", 1);
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            "get_weather"
        );
    }

    #[test]
    fn embeddings_one_vector_per_input() {
        let body = br#"{"model":"e","input":["a","b"]}"#;
        let a = answer(&cfg(3), Api::Embeddings, body, "x", 1);
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert!(!a.stream);
    }
}
