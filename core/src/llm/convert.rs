//! A provider's stream, event by event, into the client's stream: passed through when
//! both speak the same format (only the usage chunk the client did not ask for is
//! dropped), translated otherwise. Along the way it keeps what accounting needs: the
//! exact usage when the provider reports it, an estimate of the output tokens from the
//! text seen, and whether the stream finished or failed. No I/O: the caller feeds it
//! the SSE scanner's items and writes what it appends to `out`.

use std::borrow::Cow;

use serde::Deserialize;
use tollgate_filters::llm::Usage;
use tollgate_proto::llm::anthropic::{self, BlockDelta, StreamEvent};
use tollgate_proto::llm::openai::{self, ChatChunk};
use tollgate_proto::llm::translate::{
    AnthropicToOpenAiStream, OpenAiStreamItem, OpenAiToAnthropicStream,
};
use tollgate_proto::sse::{write_event, EventOut, LineEnd};
use tollgate_proto::tokens::{estimate, Vocab};

use super::api::Dialect;

/// OpenAI usage in the gateway's terms.
pub fn usage_from_openai(u: &openai::Usage) -> Usage {
    Usage {
        input: u.prompt_tokens,
        output: u.completion_tokens,
        cache_read: u.cached_tokens(),
        cache_write: 0,
        reasoning: u.reasoning_tokens(),
        estimated: false,
    }
}

/// Anthropic usage in the gateway's terms: its `input_tokens` leave out the cache reads
/// and writes, which are added back so `input` counts every prompt token.
pub fn usage_from_anthropic(u: &anthropic::Usage) -> Usage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_creation_input_tokens.unwrap_or(0);
    Usage {
        input: u.input_tokens + read + write,
        output: u.output_tokens,
        cache_read: read,
        cache_write: write,
        reasoning: 0,
        estimated: false,
    }
}

/// What one event meant for the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Carry on.
    More,
    /// The provider finished the stream normally.
    Done,
    /// The provider reported an error in the stream (its message).
    Error(String),
}

enum Mode {
    /// OpenAI (chat or completions) to OpenAI.
    OpenAiPass {
        strip_usage: bool,
    },
    AnthropicPass,
    /// An Anthropic provider to an OpenAI client.
    ToOpenAi(Box<AnthropicToOpenAiStream>),
    /// An OpenAI provider to an Anthropic client.
    ToAnthropic(Box<OpenAiToAnthropicStream>),
}

pub struct Converter {
    mode: Mode,
    vocab: Vocab,
    /// Exact usage, once the provider has reported it.
    pub usage: Option<Usage>,
    /// Output tokens estimated from the text seen so far.
    pub estimated_output: u64,
    /// Events that carried content (text or tool-call arguments).
    pub content_events: u32,
    /// Events appended to `out`.
    pub events_out: u32,
    /// A finish (or stop) reason was seen.
    finish_seen: bool,
    done: bool,
    scratch: Vec<u8>,
    /// One choice's new text, joined for the estimate (kept across events).
    text: String,
    anthropic_events: Vec<StreamEvent>,
    openai_items: Vec<OpenAiStreamItem>,
}

/// The fields of an OpenAI chunk that accounting reads; the rest is skipped unparsed.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(default, borrow)]
    choices: Vec<PeekChoice<'a>>,
    #[serde(default)]
    usage: Option<openai::Usage>,
    #[serde(default)]
    error: Option<openai::ErrorBody>,
}

#[derive(Deserialize)]
struct PeekChoice<'a> {
    #[serde(default, borrow)]
    delta: Option<PeekDelta<'a>>,
    /// Legacy completions put the text here.
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct PeekDelta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<PeekToolCall<'a>>>,
}

#[derive(Deserialize)]
struct PeekToolCall<'a> {
    #[serde(default, borrow)]
    function: Option<PeekFunction<'a>>,
}

#[derive(Deserialize)]
struct PeekFunction<'a> {
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
}

impl Converter {
    /// `ids` are the completion id and `created` for a translated stream.
    pub fn new(
        client: Dialect,
        provider: Dialect,
        strip_usage: bool,
        include_usage: bool,
        model: &str,
        id: String,
        created: u64,
    ) -> Converter {
        let mode = match (provider, client) {
            (Dialect::OpenAi, Dialect::OpenAi) => Mode::OpenAiPass { strip_usage },
            (Dialect::Anthropic, Dialect::Anthropic) => Mode::AnthropicPass,
            (Dialect::Anthropic, Dialect::OpenAi) => Mode::ToOpenAi(Box::new(
                AnthropicToOpenAiStream::new(id, created, include_usage).with_model(model),
            )),
            (Dialect::OpenAi, Dialect::Anthropic) => {
                Mode::ToAnthropic(Box::new(OpenAiToAnthropicStream::new(id).with_model(model)))
            }
        };
        Converter {
            mode,
            vocab: Vocab::for_model(model),
            usage: None,
            estimated_output: 0,
            content_events: 0,
            events_out: 0,
            finish_seen: false,
            done: false,
            scratch: Vec::new(),
            text: String::new(),
            anthropic_events: Vec::new(),
            openai_items: Vec::new(),
        }
    }

    fn count_text(&mut self, text: &str) {
        if !text.is_empty() {
            self.estimated_output += estimate(text.as_bytes(), self.vocab);
            self.content_events += 1;
        }
    }

    /// Counts one choice's new text (content, tool-call names and arguments) joined into
    /// one piece, as a tokenizer would see it, in a buffer kept across events.
    fn count_pieces<'a>(&mut self, pieces: impl IntoIterator<Item = &'a str>) {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        pieces.into_iter().for_each(|p| text.push_str(p));
        self.count_text(&text);
        self.text = text;
    }

    /// One dispatched event: `kind` is its `event` field, `data` its data, `raw` its
    /// bytes as received (for pass-through). Appends what the client gets to `out`.
    pub fn event(&mut self, kind: &[u8], data: &[u8], raw: &[u8], out: &mut Vec<u8>) -> Step {
        if self.done {
            // A translated OpenAI stream ends for the client at its usage chunk; the
            // provider's `[DONE]` still ends it here.
            return if data == b"[DONE]" {
                Step::Done
            } else {
                Step::More
            };
        }
        match &mut self.mode {
            Mode::OpenAiPass { strip_usage } => {
                let strip_usage = *strip_usage;
                if data == b"[DONE]" {
                    self.done = true;
                    out.extend_from_slice(raw);
                    self.events_out += 1;
                    return Step::Done;
                }
                let Ok(peek) = serde_json::from_slice::<Peek<'_>>(data) else {
                    return Step::Error(
                        "the provider sent an event that is not a JSON chunk".into(),
                    );
                };
                if let Some(e) = peek.error {
                    return Step::Error(e.message);
                }
                let usage_only = peek.choices.is_empty() && peek.usage.is_some();
                if let Some(u) = &peek.usage {
                    self.usage = Some(usage_from_openai(u));
                }
                for ch in &peek.choices {
                    if ch.finish_reason.is_some() {
                        self.finish_seen = true;
                    }
                    let delta = ch.delta.as_ref();
                    let calls = delta
                        .and_then(|d| d.tool_calls.as_deref())
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|c| c.function.as_ref())
                        .flat_map(|f| [f.name.as_deref(), f.arguments.as_deref()])
                        .flatten();
                    let content = delta.and_then(|d| d.content.as_deref());
                    self.count_pieces(ch.text.as_deref().into_iter().chain(content).chain(calls));
                }
                if !(usage_only && strip_usage) {
                    out.extend_from_slice(raw);
                    self.events_out += 1;
                }
                Step::More
            }
            Mode::AnthropicPass => {
                let ev = match parse_anthropic(kind, data) {
                    Ok(ev) => ev,
                    Err(step) => return step,
                };
                self.note_anthropic(&ev);
                if let StreamEvent::Error { error } = ev {
                    return Step::Error(error.message);
                }
                out.extend_from_slice(raw);
                self.events_out += 1;
                if matches!(ev, StreamEvent::MessageStop) {
                    self.done = true;
                    return Step::Done;
                }
                Step::More
            }
            Mode::ToOpenAi(_) => {
                let ev = match parse_anthropic(kind, data) {
                    Ok(ev) => ev,
                    Err(step) => return step,
                };
                self.note_anthropic(&ev);
                if let StreamEvent::Error { error } = ev {
                    return Step::Error(error.message);
                }
                let Mode::ToOpenAi(t) = &mut self.mode else {
                    unreachable!("matched above")
                };
                let mut items = std::mem::take(&mut self.openai_items);
                items.clear();
                if let Err(e) = t.push(ev, &mut items) {
                    self.openai_items = items;
                    return Step::Error(e.to_string());
                }
                let finished = t.is_finished();
                for item in &items {
                    self.scratch.clear();
                    match item {
                        OpenAiStreamItem::Chunk(c) => {
                            let _ = serde_json::to_writer(&mut self.scratch, c);
                        }
                        OpenAiStreamItem::Error(e) => {
                            return Step::Error(e.error.message.clone());
                        }
                    }
                    data_event(None, &self.scratch, out);
                    self.events_out += 1;
                }
                self.openai_items = items;
                if finished {
                    data_event(None, b"[DONE]", out);
                    self.events_out += 1;
                    self.done = true;
                    return Step::Done;
                }
                Step::More
            }
            Mode::ToAnthropic(_) => {
                if data == b"[DONE]" {
                    return self.finish(out);
                }
                let chunk = match serde_json::from_slice::<ChatChunk>(data) {
                    Ok(c) => c,
                    Err(_) => {
                        let msg = serde_json::from_slice::<openai::ErrorResponse>(data)
                            .map(|e| e.error.message)
                            .unwrap_or_else(|_| {
                                "the provider sent an event that is not a JSON chunk".into()
                            });
                        return Step::Error(msg);
                    }
                };
                if let Some(u) = &chunk.usage {
                    self.usage = Some(usage_from_openai(u));
                }
                for ch in &chunk.choices {
                    if ch.finish_reason.is_some() {
                        self.finish_seen = true;
                    }
                    let calls = ch
                        .delta
                        .tool_calls
                        .iter()
                        .flatten()
                        .filter_map(|c| c.function.as_ref())
                        .flat_map(|f| [f.name.as_deref(), f.arguments.as_deref()])
                        .flatten();
                    self.count_pieces(ch.delta.content.as_deref().into_iter().chain(calls));
                }
                let Mode::ToAnthropic(t) = &mut self.mode else {
                    unreachable!("matched above")
                };
                let mut evs = std::mem::take(&mut self.anthropic_events);
                evs.clear();
                let res = t.push(chunk, &mut evs);
                self.anthropic_events = evs;
                if let Err(e) = res {
                    return Step::Error(e.to_string());
                }
                self.write_anthropic(out);
                Step::More
            }
        }
    }

    /// The provider's stream ended (end of body, or `[DONE]`). A stream that never
    /// finished is an error.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Step {
        if self.done {
            return Step::Done;
        }
        match &mut self.mode {
            Mode::ToAnthropic(t) => {
                let mut evs = std::mem::take(&mut self.anthropic_events);
                evs.clear();
                let res = t.finish(&mut evs);
                self.anthropic_events = evs;
                if let Err(e) = res {
                    return Step::Error(e.to_string());
                }
                self.write_anthropic(out);
                self.done = true;
                Step::Done
            }
            Mode::OpenAiPass { .. } if self.finish_seen => {
                // Some OpenAI-compatible servers end without `[DONE]`; the client gets
                // one so it knows the stream is complete.
                data_event(None, b"[DONE]", out);
                self.events_out += 1;
                self.done = true;
                Step::Done
            }
            _ => Step::Error("the provider's stream ended before it finished".into()),
        }
    }

    fn write_anthropic(&mut self, out: &mut Vec<u8>) {
        let Mode::ToAnthropic(t) = &self.mode else {
            return;
        };
        if let Some(u) = t.usage() {
            self.usage = Some(usage_from_openai(u));
        }
        let finished = t.is_finished();
        for ev in &self.anthropic_events {
            self.scratch.clear();
            let _ = serde_json::to_writer(&mut self.scratch, ev);
            data_event(Some(ev.event_name().as_bytes()), &self.scratch, out);
            self.events_out += 1;
        }
        if finished {
            self.done = true;
        }
    }

    fn note_anthropic(&mut self, ev: &StreamEvent) {
        match ev {
            StreamEvent::MessageStart { message } => {
                self.usage = Some(usage_from_anthropic(&message.usage));
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.finish_seen = true;
                }
                let mut u = self.usage.unwrap_or_default();
                u.output = usage.output_tokens;
                if let Some(i) = usage.input_tokens {
                    let read = usage.cache_read_input_tokens.unwrap_or(u.cache_read);
                    let write = usage.cache_creation_input_tokens.unwrap_or(u.cache_write);
                    u.input = i + read + write;
                    u.cache_read = read;
                    u.cache_write = write;
                }
                u.estimated = false;
                self.usage = Some(u);
            }
            StreamEvent::ContentBlockDelta { delta, .. } => match delta {
                BlockDelta::TextDelta { text } => self.count_text(text),
                BlockDelta::InputJsonDelta { partial_json } => self.count_text(partial_json),
                BlockDelta::ThinkingDelta { thinking } => self.count_text(thinking),
                _ => {}
            },
            _ => {}
        }
    }
}

fn parse_anthropic(kind: &[u8], data: &[u8]) -> Result<StreamEvent, Step> {
    match serde_json::from_slice::<StreamEvent>(data) {
        Ok(ev) => Ok(ev),
        Err(_) if kind == b"ping" => Ok(StreamEvent::Ping),
        Err(_) => Err(Step::Error(
            "the provider sent an event that is not a JSON stream event".into(),
        )),
    }
}

fn data_event(kind: Option<&[u8]>, data: &[u8], out: &mut Vec<u8>) {
    let ev = EventOut {
        event: kind,
        data,
        ..EventOut::default()
    };
    // The event names are constants and there is no id: nothing can be refused.
    let _ = write_event(out, &ev, LineEnd::Lf);
}

#[cfg(test)]
mod tests;
