//! Helpers for the LLM gateway's end-to-end tests: requests to its API, the SSE events
//! of a streamed answer, provider answers in OpenAI's and Anthropic's formats for a
//! recording [`Upstream`](crate::Upstream) to play, and the access log and metrics it
//! writes.
//!
//! Every wait here is bounded: the client's reads time out (10 s), the log and metrics
//! polls give up after a few seconds with the text they saw.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{exchange, Response};
use crate::{Gateway, Paced, Recorded, Reply};

/// `POST path` with a JSON `body` and extra header lines (each ending in `\r\n`), on a
/// new connection.
pub fn post(gw: &Gateway, path: &str, body: &str, headers: &str) -> Response {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(&gw.addr(), req.as_bytes()).unwrap_or_else(|| panic!("no response to POST {path}"))
}

/// The response body as JSON; panics with the body when it is not.
pub fn json_body(r: &Response) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", r.status, r.text()))
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Event {
    /// The `event:` field, if any.
    pub name: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

impl Event {
    /// The data as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {self:?}"))
    }
}

/// The events of an SSE body (LF or CRLF line ends; comments skipped).
pub fn events(body: &[u8]) -> Vec<Event> {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            (name.is_some() || !data.is_empty()).then(|| Event {
                name,
                data: data.join("\n"),
            })
        })
        .collect()
}

/// The access log's lines (the config's `[access_log] path = "{dir}/access.log"`) once
/// there are at least `n` (lines are written on the worker's tick); panics after 3 s.
pub fn access_log(gw: &Gateway, n: usize) -> Vec<Value> {
    let path = gw.dir().join("access.log");
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= n {
            return text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
                .collect();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "wanted {n} access log lines within 3 s, have: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A config: one worker, an admin listener, a listener with `listener_extra` (TOML
/// lines that belong under it, e.g. `h2c = true` or a `[listeners.tls]` table), and an
/// LLM route on `/v1/` serving model `m` from the OpenAI-compatible provider at
/// `upstream`.
pub fn openai_gateway_config(listener_extra: &str, upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
{listener_extra}
[[clusters]]
name = "p"
endpoints = ["{upstream}"]
[[routes]]
name = "llm"
match = {{ path_prefix = "/v1/" }}
llm = {{}}
[[llm.providers]]
name = "p"
kind = "openai"
upstream = "p"
[[llm.models]]
name = "m"
[[llm.models.deployments]]
provider = "p"
"#
    )
}

/// The admin `/metrics` page.
pub fn metrics(gw: &Gateway) -> String {
    let admin = format!("127.0.0.1:{}", gw.admin_port);
    let r = exchange(&admin, b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").expect("metrics page");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// The value of the series `series` (name with its labels, exactly as written) on a
/// metrics page.
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Whether a request asked to stream.
pub fn wants_stream(r: &Recorded) -> bool {
    serde_json::from_slice::<Value>(&r.body).is_ok_and(|v| v["stream"] == true)
}

/// The request body as JSON.
pub fn body_json(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "the provider got a body that is not JSON ({e}): {}",
            String::from_utf8_lossy(&r.body)
        )
    })
}

fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

fn sse_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "text/event-stream".into())]
}

/// An OpenAI chat completion answering `text`, with usage.
pub fn openai_completion(model: &str, text: &str, prompt: u64, completion: u64) -> Reply {
    let body = json!({
        "id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    });
    Reply::Full(200, json_headers(), body.to_string().into_bytes())
}

/// One OpenAI chunk event with a content delta (or the role delta when `None`) and an
/// optional finish reason.
pub fn openai_chunk(content: Option<&str>, finish: Option<&str>) -> Vec<u8> {
    let delta = match content {
        Some(t) => json!({"content": t}),
        None => json!({"role": "assistant", "content": ""}),
    };
    let v = json!({
        "id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "up",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    format!("data: {v}\n\n").into_bytes()
}

/// OpenAI's usage-only chunk (sent when `stream_options.include_usage` is true).
pub fn openai_usage_chunk(prompt: u64, completion: u64) -> Vec<u8> {
    let v = json!({
        "id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "up",
        "choices": [],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    });
    format!("data: {v}\n\n").into_bytes()
}

/// A whole OpenAI stream: the role chunk, one chunk per word, the finish chunk, the
/// usage chunk when `usage` is given, `[DONE]`; each piece `gap` after the last.
pub fn openai_stream(words: &[&str], usage: Option<(u64, u64)>, gap: Duration) -> Paced {
    let mut pieces = vec![openai_chunk(None, None)];
    pieces.extend(words.iter().map(|w| openai_chunk(Some(w), None)));
    pieces.push(openai_chunk(Some(""), Some("stop")));
    if let Some((p, c)) = usage {
        pieces.push(openai_usage_chunk(p, c));
    }
    pieces.push(b"data: [DONE]\n\n".to_vec());
    paced(pieces, gap, true)
}

/// A [`Paced`] `200 text/event-stream` answer of `pieces`, `gap` apart.
pub fn paced(pieces: Vec<Vec<u8>>, gap: Duration, finish: bool) -> Paced {
    Paced {
        status: 200,
        headers: sse_headers(),
        pieces: pieces.into_iter().map(|p| (gap, p)).collect(),
        finish,
    }
}

/// An Anthropic message answering `text`, with usage.
pub fn anthropic_message(model: &str, text: &str, input: u64, output: u64) -> Reply {
    let body = json!({
        "id": "msg_up", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": input, "output_tokens": output},
    });
    Reply::Full(200, json_headers(), body.to_string().into_bytes())
}

/// One Anthropic stream event (`event:` line from the data's `type`).
pub fn anthropic_event(data: Value) -> Vec<u8> {
    let name = data["type"].as_str().expect("an event type").to_string();
    format!("event: {name}\ndata: {data}\n\n").into_bytes()
}

/// Anthropic's stream up to and including the first text delta (`message_start`,
/// `content_block_start`, one `content_block_delta` per word).
pub fn anthropic_stream_start(model: &str, words: &[&str], input: u64) -> Vec<Vec<u8>> {
    let mut out = vec![
        anthropic_event(json!({"type": "message_start", "message": {
            "id": "msg_up", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": 1}}})),
        anthropic_event(
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    out.extend(words.iter().map(|w| {
        anthropic_event(
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}),
        )
    }));
    out
}

/// A whole Anthropic stream of `words` with the given usage.
pub fn anthropic_stream(model: &str, words: &[&str], input: u64, output: u64) -> Paced {
    let mut pieces = anthropic_stream_start(model, words, input);
    pieces.push(anthropic_event(
        json!({"type": "content_block_stop", "index": 0}),
    ));
    pieces.push(anthropic_event(json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": null},
        "usage": {"output_tokens": output}})));
    pieces.push(anthropic_event(json!({"type": "message_stop"})));
    paced(pieces, Duration::ZERO, true)
}
