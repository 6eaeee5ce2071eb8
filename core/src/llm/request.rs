//! The client's request: its body read whole (LLM bodies are needed whole to route and
//! translate them), the fields routing needs, and the body each provider gets.
//!
//! A provider that speaks the client's format gets the client's bytes: unchanged when
//! the deployment's model name is the one the client sent, otherwise with only the model
//! string spliced (and, for an OpenAI stream, `stream_options.include_usage` set so the
//! gateway learns the exact usage; the extra chunk is stripped if the client did not ask
//! for it). A provider in the other format gets the request parsed with simd-json and
//! translated; that parse is done once and kept for later attempts.

use std::ops::Range;
use std::time::Duration;

use bytes::Buf;
use tollgate_proto::h1::{BodyFraming, ChunkedScanner, H1Error, Version};
use tollgate_proto::llm::{anthropic, json, openai, raw, translate, TranslateError};

use super::api::{Api, Dialect};
use crate::server::conn::ClientConn;
use crate::server::io::{read_some, write_vec, ReadError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Timeout,
    Closed,
    Framing(H1Error),
}

/// Reads the request body whole into a new buffer, consuming it from the connection's
/// read buffer. Bounded by `max` bytes of data and `idle` between reads.
pub async fn read_body(
    c: &mut ClientConn,
    grow: usize,
    idle: Duration,
    max: u64,
    limits: (usize, usize),
) -> Result<Vec<u8>, BodyError> {
    let buffered = match c.head.framing {
        BodyFraming::Length(n) => (n as usize) <= c.buf.len(),
        BodyFraming::None => true,
        BodyFraming::Chunked => false,
    };
    if c.head.conn.expect_continue && !buffered && c.head.version == Version::Http11 {
        c.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        write_vec(&mut c.stream, &mut c.out)
            .await
            .map_err(|_| BodyError::Closed)?;
    }
    match c.head.framing {
        BodyFraming::None => Ok(Vec::new()),
        BodyFraming::Length(n) => {
            if n > max {
                return Err(BodyError::TooLarge);
            }
            let n = n as usize;
            while c.buf.len() < n {
                read_some(&mut c.stream, &mut c.buf, grow.max(n), idle)
                    .await
                    .map_err(read_error)?;
            }
            let body = c.buf[..n].to_vec();
            c.buf.advance(n);
            Ok(body)
        }
        BodyFraming::Chunked => {
            let mut sc = ChunkedScanner::new(limits.0, limits.1);
            let mut body = Vec::new();
            let mut wire = 0u64;
            loop {
                if c.buf.is_empty() {
                    read_some(&mut c.stream, &mut c.buf, grow, idle)
                        .await
                        .map_err(read_error)?;
                }
                let step = sc.decode(&c.buf).map_err(BodyError::Framing)?;
                if let Some(d) = step.data {
                    body.extend_from_slice(&c.buf[d.start as usize..d.end as usize]);
                }
                wire += step.consumed as u64;
                c.buf.advance(step.consumed);
                if body.len() as u64 > max || wire > crate::server::body::wire_limit(max) {
                    return Err(BodyError::TooLarge);
                }
                if step.done {
                    return Ok(body);
                }
            }
        }
    }
}

fn read_error(e: ReadError) -> BodyError {
    match e {
        ReadError::Timeout => BodyError::Timeout,
        ReadError::Closed | ReadError::Io => BodyError::Closed,
    }
}

/// Why a request cannot go to a provider.
#[derive(Debug, Clone)]
pub enum PrepareError {
    /// The body is not valid JSON of the endpoint's shape.
    Parse(String),
    /// A field has no equivalent in the provider's format.
    Translate(TranslateError),
}

impl PrepareError {
    pub fn message(&self) -> String {
        match self {
            PrepareError::Parse(m) => m.clone(),
            PrepareError::Translate(e) => e.to_string(),
        }
    }
}

/// The client's request, read and scanned.
pub struct ClientRequest {
    pub api: Api,
    pub body: Vec<u8>,
    /// The model the client named.
    pub model: String,
    model_span: Range<usize>,
    pub stream: bool,
    /// `stream_options.include_usage` as the client sent it.
    pub include_usage: Option<bool>,
    chat: Option<openai::ChatRequest>,
    messages: Option<anthropic::MessagesRequest>,
}

/// What was sent to one provider.
#[derive(Debug)]
pub struct Prepared {
    /// The body went out exactly as the client sent it (tests check this).
    #[cfg_attr(not(test), allow(dead_code))]
    pub verbatim: bool,
    /// The provider will send a usage chunk the client did not ask for (OpenAI streams).
    pub strip_usage: bool,
}

impl ClientRequest {
    /// Scans `body` for `model`, `stream` and `stream_options.include_usage`.
    pub fn new(api: Api, body: Vec<u8>) -> Result<ClientRequest, String> {
        let f = raw::scan_routing(&body).map_err(|e| match e {
            raw::RawError::NoModel => "the request has no `model` string".to_owned(),
            e => format!("invalid JSON body: {e}"),
        })?;
        let (model, model_span, stream, include_usage) = (
            f.model.into_owned(),
            f.model_span,
            f.stream,
            f.include_usage,
        );
        Ok(ClientRequest {
            api,
            body,
            model,
            model_span,
            stream: stream && api != Api::Embeddings,
            include_usage,
            chat: None,
            messages: None,
        })
    }

    /// Writes the body for a provider speaking `to` that calls the model `model` into
    /// `out` (cleared first).
    pub fn prepare(
        &mut self,
        to: Dialect,
        model: &str,
        out: &mut Vec<u8>,
    ) -> Result<Prepared, PrepareError> {
        out.clear();
        let from = self.api.dialect();
        if from == to {
            let verbatim = model == self.model;
            if verbatim {
                out.extend_from_slice(&self.body);
            } else {
                raw::write_with_model(&self.body, self.model_span.clone(), model, out)
                    .map_err(|e| PrepareError::Parse(e.to_string()))?;
            }
            let mut strip_usage = false;
            if self.stream && to == Dialect::OpenAi {
                let asked =
                    raw::request_usage(out).map_err(|e| PrepareError::Parse(e.to_string()))?;
                strip_usage = !asked;
                if !asked {
                    return Ok(Prepared {
                        verbatim: false,
                        strip_usage,
                    });
                }
            }
            return Ok(Prepared {
                verbatim,
                strip_usage,
            });
        }
        match (from, to) {
            (Dialect::OpenAi, Dialect::Anthropic) => {
                let chat = match self.chat.take() {
                    Some(c) => c,
                    None => parse(&self.body)?,
                };
                let mut msgs = translate::chat_to_messages(
                    chat.clone(),
                    &translate::ToAnthropicOptions::default(),
                )
                .map_err(PrepareError::Translate)?;
                self.chat = Some(chat);
                msgs.model = model.to_owned();
                json::write(&msgs, out).map_err(|e| PrepareError::Parse(e.to_string()))?;
            }
            _ => {
                let msgs = match self.messages.take() {
                    Some(m) => m,
                    None => parse(&self.body)?,
                };
                let mut chat = translate::messages_to_chat(
                    msgs.clone(),
                    &translate::ToOpenAiOptions::default(),
                )
                .map_err(PrepareError::Translate)?;
                self.messages = Some(msgs);
                chat.model = model.to_owned();
                if chat.stream == Some(true) {
                    // The translated stream needs the usage for Anthropic's
                    // message_delta; OpenAI sends it only when asked.
                    chat.stream_options = Some(openai::StreamOptions {
                        include_usage: Some(true),
                        ..Default::default()
                    });
                }
                json::write(&chat, out).map_err(|e| PrepareError::Parse(e.to_string()))?;
            }
        }
        Ok(Prepared {
            verbatim: false,
            strip_usage: false,
        })
    }

    /// The prompt text, for an estimate when the provider reports no usage: every string
    /// value under the fields that carry text the model reads.
    pub fn prompt_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            for key in ["messages", "system", "prompt", "input", "tools"] {
                if let Some(v) = v.get(key) {
                    collect_strings(v, &mut out);
                }
            }
        }
        out
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PrepareError> {
    // simd-json parses in place: give it a copy so the client's bytes stay intact for
    // the next attempt.
    let mut scratch = body.to_vec();
    json::parse(&mut scratch).map_err(|e| PrepareError::Parse(e.to_string()))
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<u8>) {
    match v {
        serde_json::Value::String(s) => {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(m) => m.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(api: Api, body: &str) -> ClientRequest {
        ClientRequest::new(api, body.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn same_format_same_model_is_verbatim() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        let mut r = req(Api::Chat, body);
        let mut out = Vec::new();
        let p = r.prepare(Dialect::OpenAi, "m", &mut out).unwrap();
        assert!(p.verbatim && !p.strip_usage);
        assert_eq!(out, body.as_bytes());
    }

    #[test]
    fn only_the_model_is_spliced() {
        let body = r#"{"model":"m", "messages":[{"role":"user","content":"hi"}]}"#;
        let mut r = req(Api::Chat, body);
        let mut out = Vec::new();
        r.prepare(Dialect::OpenAi, "real-model", &mut out).unwrap();
        assert_eq!(
            out,
            br#"{"model":"real-model", "messages":[{"role":"user","content":"hi"}]}"#
        );
    }

    #[test]
    fn openai_streams_ask_for_usage_and_strip_it_when_the_client_did_not() {
        let body = r#"{"model":"m","stream":true,"messages":[]}"#;
        let mut r = req(Api::Chat, body);
        let mut out = Vec::new();
        let p = r.prepare(Dialect::OpenAi, "m", &mut out).unwrap();
        assert!(p.strip_usage && !p.verbatim);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["stream_options"]["include_usage"], true);

        let body =
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#;
        let mut r = req(Api::Chat, body);
        let p = r.prepare(Dialect::OpenAi, "m", &mut out).unwrap();
        assert!(!p.strip_usage && p.verbatim);
        assert_eq!(r.include_usage, Some(true));
    }

    #[test]
    fn cross_format_translates_and_names_the_provider_model() {
        let body = r#"{"model":"m","max_tokens":20,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#;
        let mut r = req(Api::Chat, body);
        let mut out = Vec::new();
        r.prepare(Dialect::Anthropic, "claude-x", &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "claude-x");
        assert_eq!(v["system"], "be brief");
        assert_eq!(v["max_tokens"], 20);
        // The parse is kept for the next attempt.
        r.prepare(Dialect::Anthropic, "claude-y", &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("claude-y"));

        let body = r#"{"model":"m","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
        let mut r = req(Api::Messages, body);
        r.prepare(Dialect::OpenAi, "gpt-x", &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "gpt-x");
        assert_eq!(v["stream_options"]["include_usage"], true);
    }

    #[test]
    fn untranslatable_fields_are_errors() {
        let body = r#"{"model":"m","n":3,"messages":[{"role":"user","content":"hi"}]}"#;
        let mut r = req(Api::Chat, body);
        let mut out = Vec::new();
        let e = r.prepare(Dialect::Anthropic, "c", &mut out).unwrap_err();
        assert!(matches!(e, PrepareError::Translate(_)), "{e:?}");
        // The same request is fine for a provider in its own format.
        assert!(r.prepare(Dialect::OpenAi, "c", &mut out).is_ok());
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert!(ClientRequest::new(Api::Chat, b"{}".to_vec()).is_err());
        assert!(ClientRequest::new(Api::Chat, b"not json".to_vec()).is_err());
        assert!(ClientRequest::new(Api::Chat, br#"{"model":3}"#.to_vec()).is_err());
    }

    #[test]
    fn prompt_text_collects_message_strings() {
        let r = req(
            Api::Chat,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hello there"}]}]}"#,
        );
        let t = String::from_utf8(r.prompt_text()).unwrap();
        assert!(t.contains("hello there"));
    }
}
