//! The LLM mock: OpenAI `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`,
//! `/v1/models` and Anthropic `/v1/messages`, streaming and not, with deterministic text
//! ([`text`]), configurable pacing, correct usage, and faults in the API's error format.
//!
//! Pacing: the head (and events that carry no token, such as `message_start` or the role
//! chunk) go out at once; token `k` is due at `ttft + k / tps` after the head. A
//! non-streaming answer is sent whole when its last token would have been due.

pub mod anthropic;
pub mod catalog;
pub mod openai;
pub mod stream;
pub mod text;

#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use self::stream::{Seq, StreamJob};
use super::control::Fault;
use super::faults::rate_limit_headers;
use super::plain::{self, Shape};
use super::route::Head;
use super::send::Plan;
use super::Worker;

/// LLM defaults (CLI); `x-mock-*` headers override them per request.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Time to first token, ms.
    pub ttft_ms: u64,
    /// Tokens per second (0: no pacing).
    pub tps: u64,
    /// Output tokens per choice.
    pub tokens: u32,
    /// Models listed by `/v1/models`.
    pub models: Vec<String>,
    /// Default embedding size.
    pub embedding_dims: usize,
}

/// The LLM endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completions,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `GET /v1/models`.
    Models,
    /// `POST /v1/messages` (Anthropic).
    Messages,
}

impl Endpoint {
    /// The endpoint for a path (without query).
    pub fn from_path(path: &str) -> Option<Endpoint> {
        Some(match path {
            "/v1/chat/completions" => Endpoint::Chat,
            "/v1/completions" => Endpoint::Completions,
            "/v1/embeddings" => Endpoint::Embeddings,
            "/v1/models" => Endpoint::Models,
            "/v1/messages" => Endpoint::Messages,
            _ => return None,
        })
    }

    /// Short name, as the request log shows it.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Models => "models",
            Endpoint::Messages => "messages",
        }
    }

    fn anthropic(self) -> bool {
        self == Endpoint::Messages
    }
}

/// A tool call the mock makes when the request offers tools.
#[derive(Debug, Clone)]
pub struct ToolCall {
    /// Call id.
    pub id: String,
    /// Tool (function) name.
    pub name: String,
    /// Arguments as a JSON text.
    pub arguments: String,
    /// `arguments` cut into stream deltas (each one counts as a token).
    pub pieces: Vec<String>,
}

/// Everything an answer is made from.
#[derive(Debug, Clone)]
pub struct Gen {
    /// Response id.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// Model echoed from the request.
    pub model: String,
    /// Text seed.
    pub seed: u64,
    /// Choices (`n`).
    pub n: u32,
    /// Text tokens per choice.
    pub tokens: u32,
    /// The answer was cut by `max_tokens`.
    pub hit_max: bool,
    /// Prompt tokens (see [`text`]).
    pub prompt_tokens: u64,
    /// Tool call instead of text.
    pub tool: Option<ToolCall>,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
}

impl Gen {
    /// Tokens (content deltas) per choice.
    pub fn per_choice(&self) -> u32 {
        self.tool
            .as_ref()
            .map_or(self.tokens, |t| t.pieces.len() as u32)
    }

    /// Completion tokens over all choices.
    pub fn completion_tokens(&self) -> u64 {
        u64::from(self.n) * u64::from(self.per_choice())
    }

    /// OpenAI usage object.
    pub fn openai_usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens(),
            "total_tokens": self.prompt_tokens + self.completion_tokens(),
        })
    }
}

/// Answers an LLM request.
pub fn respond(
    w: &Worker,
    ep: Endpoint,
    head: &Head,
    body: &[u8],
    fault: Option<Fault>,
    delay: Duration,
) -> Plan {
    let close = head.close;
    let want_post = ep != Endpoint::Models;
    if head.is_post != want_post {
        return api_error(ep, 405, "method not allowed", close, delay);
    }
    let req: Value = if want_post {
        match serde_json::from_slice(body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return api_error(ep, 400, "request body is not a JSON object", close, delay),
        }
    } else {
        Value::Null
    };
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false)
        && matches!(
            ep,
            Endpoint::Chat | Endpoint::Completions | Endpoint::Messages
        );
    let failed = match fault {
        Some(Fault::RateLimited) => Some(api_error(
            ep,
            429,
            "rate limit reached (mock)",
            close,
            delay,
        )),
        Some(Fault::Internal) => Some(api_error(ep, 500, "internal error (mock)", close, delay)),
        Some(Fault::Unavailable) => Some(api_error(ep, 503, "overloaded (mock)", close, delay)),
        Some(Fault::ErrorEvent) if !stream => {
            Some(api_error(ep, 500, "internal error (mock)", close, delay))
        }
        Some(Fault::Hang) => Some(Plan::Hang),
        _ => None,
    };
    if let Some(plan) = failed {
        record(w, head, ep, stream, fault, Value::Null);
        return plan;
    }
    let cfg = &w.cfg.llm;
    let ttft = Duration::from_millis(head.ctl.ttft_ms.unwrap_or(cfg.ttft_ms));
    let tps = head.ctl.tps.unwrap_or(cfg.tps);
    let gap = if tps == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(1.0 / tps as f64)
    };
    let body = match ep {
        Endpoint::Models => {
            record(w, head, ep, stream, fault, Value::Null);
            catalog::models(&cfg.models)
        }
        Endpoint::Embeddings => {
            let body = catalog::embeddings(&req, cfg.embedding_dims);
            record(w, head, ep, stream, fault, body["usage"].clone());
            body
        }
        _ => {
            let gen = make_gen(ep, &req, head.ctl.tokens.unwrap_or(cfg.tokens));
            let usage = if ep.anthropic() {
                json!({"input_tokens": gen.prompt_tokens, "output_tokens": gen.completion_tokens()})
            } else {
                gen.openai_usage()
            };
            record(w, head, ep, stream, fault, usage);
            if stream {
                let seq = match ep {
                    Endpoint::Chat => Seq::Chat(openai::ChatSeq::default()),
                    Endpoint::Completions => Seq::Completion(openai::CompletionSeq::default()),
                    _ => Seq::Messages(anthropic::MessagesSeq::default()),
                };
                let error_event = if ep.anthropic() {
                    anthropic::error_event()
                } else {
                    openai::error_event()
                };
                return Plan::Stream(Box::new(StreamJob {
                    head: stream::head(close),
                    seq,
                    gen,
                    delay,
                    ttft,
                    gap,
                    fault,
                    fault_after: head.ctl.fault_after.unwrap_or(w.cfg.fault_after),
                    drip: Duration::from_millis(head.ctl.drip_ms.unwrap_or(w.cfg.drip_ms)),
                    error_event,
                    log_seq: head.log_seq,
                }));
            }
            let pacing = gap.saturating_mul(gen.per_choice().saturating_sub(1));
            let wait = delay.saturating_add(ttft).saturating_add(pacing);
            let json = match ep {
                Endpoint::Chat => openai::chat_body(&gen),
                Endpoint::Completions => openai::completion_body(&gen),
                _ => anthropic::message_body(&gen),
            };
            return finish(json, close, wait, fault, head, w);
        }
    };
    finish(body, close, delay, fault, head, w)
}

/// Adds `llm` to the request's log entry (with `--record`): the endpoint, whether it
/// streams, the fault, and the usage the answer reports (OpenAI or Anthropic names; the
/// full figures even where a stream does not report them or a fault cuts it short).
fn record(w: &Worker, head: &Head, ep: Endpoint, stream: bool, fault: Option<Fault>, usage: Value) {
    if let Some(seq) = head.log_seq {
        let v = json!({
            "endpoint": ep.name(), "stream": stream, "fault": fault.map(Fault::name),
            "usage": usage,
        });
        w.log.annotate(w.index, seq, "llm", v);
    }
}

fn finish(
    json: Value,
    close: bool,
    wait: Duration,
    fault: Option<Fault>,
    head: &Head,
    w: &Worker,
) -> Plan {
    let mut bytes = Vec::new();
    let body = json.to_string();
    let shape = Shape {
        status: 200,
        headers: &[],
        content_type: Some("application/json"),
        chunked: false,
        close,
        head_only: false,
    };
    match fault {
        Some(Fault::ResetMidStream) => {
            plain::write_response(
                &mut bytes,
                &Shape {
                    head_only: true,
                    ..shape
                },
                body.as_bytes(),
            );
            bytes.extend_from_slice(&body.as_bytes()[..body.len() / 2]);
            Plan::Reset { delay: wait, bytes }
        }
        Some(Fault::SlowDrip) => {
            plain::write_response(&mut bytes, &shape, body.as_bytes());
            let gap = Duration::from_millis(head.ctl.drip_ms.unwrap_or(w.cfg.drip_ms));
            Plan::Drip {
                delay: wait,
                bytes,
                gap,
                close,
            }
        }
        _ => {
            plain::write_response(&mut bytes, &shape, body.as_bytes());
            Plan::Delayed {
                delay: wait,
                bytes,
                close,
            }
        }
    }
}

/// Reads what an answer is made from out of the request JSON.
pub fn make_gen(ep: Endpoint, req: &Value, default_tokens: u32) -> Gen {
    let max = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| req.get(*k).and_then(Value::as_u64))
        .map(|m| m.min(u64::from(u32::MAX)) as u32);
    let tokens = max.map_or(default_tokens, |m| m.min(default_tokens));
    let (seed_text, prompt_tokens) = if ep == Endpoint::Completions {
        let p = text::input_strings(req.get("prompt")).join(" ");
        (p.clone(), text::count_words(&p))
    } else {
        (
            text::last_user_text(req),
            text::prompt_tokens_of_messages(req),
        )
    };
    let seed = text::fnv1a(seed_text.as_bytes());
    let n = req
        .get("n")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .clamp(1, 16) as u32;
    let model = req
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string();
    let tool = if ep == Endpoint::Completions {
        None
    } else {
        openai::pick_tool(req, seed, ep.anthropic())
    };
    let prefix = match ep {
        Endpoint::Messages => "msg_mock_",
        Endpoint::Completions => "cmpl-mock-",
        _ => "chatcmpl-mock-",
    };
    Gen {
        id: format!("{prefix}{seed:016x}"),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model,
        seed,
        n: if ep == Endpoint::Messages { 1 } else { n },
        tokens,
        hit_max: max.is_some_and(|m| m < default_tokens),
        prompt_tokens,
        tool,
        include_usage: req
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true),
    }
}

/// An error answer in the API's format (OpenAI `{"error":{...}}` or Anthropic
/// `{"type":"error","error":{...}}`).
pub fn api_error(ep: Endpoint, status: u16, message: &str, close: bool, delay: Duration) -> Plan {
    let (oa_type, an_type) = match status {
        400 | 405 => ("invalid_request_error", "invalid_request_error"),
        429 => ("rate_limit_exceeded", "rate_limit_error"),
        503 => ("server_error", "overloaded_error"),
        _ => ("server_error", "api_error"),
    };
    let body = if ep.anthropic() {
        json!({"type": "error", "error": {"type": an_type, "message": message}})
    } else {
        json!({"error": {"message": message, "type": oa_type, "param": null, "code": oa_type}})
    };
    let headers = if status == 429 {
        rate_limit_headers()
    } else {
        Vec::new()
    };
    let mut bytes = Vec::new();
    let shape = Shape {
        status,
        headers: &headers,
        content_type: Some("application/json"),
        chunked: false,
        close,
        head_only: false,
    };
    plain::write_response(&mut bytes, &shape, body.to_string().as_bytes());
    Plan::Delayed {
        delay,
        bytes,
        close,
    }
}
