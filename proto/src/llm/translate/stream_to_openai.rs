//! [`AnthropicToOpenAiStream`]: Anthropic stream events in, OpenAI chat chunks out.
//!
//! Sequence produced: on `message_start` a chunk with `delta.role = assistant` (and
//! `content: ""`, as OpenAI sends); a `content` chunk per `text_delta`; for each
//! `tool_use` block a chunk with the call's `index`, `id`, `type` and `function.name`
//! (empty `arguments`), then one per `input_json_delta` with the argument piece; on
//! `message_delta` a chunk with the mapped `finish_reason`; on `message_stop`, when the
//! client asked for `stream_options.include_usage`, a chunk with empty `choices` and the
//! usage combined from `message_start` (input, cache read and write) and `message_delta`
//! (output, and input counts when newer API versions repeat them there). The caller then
//! writes `data: [DONE]`.
//!
//! Thinking blocks and citations are skipped (no OpenAI chat field; they only appear when
//! the request enabled them, which translation refuses); `ping` and unknown event types
//! are ignored, as Anthropic asks. An `error` event becomes an OpenAI error object and
//! ends the stream.
//!
//! Invariants (checked by `debug_assert!` after every step): block indices arrive in
//! order from 0, tool-call indices are handed out in order from 0, the role chunk comes
//! first, nothing is emitted after the end.

use serde_json::Map;

use super::errors::stream_error_to_openai;
use super::reasons::{stop_to_finish, usage_to_openai};
use crate::llm::anthropic::{self, BlockDelta, ContentBlock, StreamEvent};
use crate::llm::openai::{
    ChatChunk, ChunkChoice, Delta, ErrorResponse, FinishReason, FunctionDelta, Role, ToolCallDelta,
};
use crate::llm::TranslateError;

/// One item of the translated stream: a chunk, or an error object that ends it.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenAiStreamItem {
    /// A `chat.completion.chunk`.
    Chunk(ChatChunk),
    /// `{"error": {...}}`, sent as the last `data:` line.
    Error(ErrorResponse),
}

/// What an Anthropic block index turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Tool { call: u32 },
    Skipped,
}

/// Translates one Anthropic stream into OpenAI chunks. One per stream; no I/O.
#[derive(Debug)]
pub struct AnthropicToOpenAiStream {
    completion_id: String,
    created: u64,
    model: Option<String>,
    include_usage: bool,
    started: bool,
    blocks: Vec<Block>,
    next_call: u32,
    usage: anthropic::Usage,
    finish_reason: Option<FinishReason>,
    finished: bool,
}

impl AnthropicToOpenAiStream {
    /// A translator writing chunks with id `completion_id` (`chatcmpl-...`) and `created`
    /// (Unix seconds from the caller's clock); `include_usage` is the client's
    /// `stream_options.include_usage`.
    pub fn new(completion_id: impl Into<String>, created: u64, include_usage: bool) -> Self {
        Self {
            completion_id: completion_id.into(),
            created,
            model: None,
            include_usage,
            started: false,
            blocks: Vec::new(),
            next_call: 0,
            usage: anthropic::Usage::default(),
            finish_reason: None,
            finished: false,
        }
    }

    /// Names `model` in every chunk instead of the provider's model name (e.g. the alias
    /// the client asked for).
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// True once the usage chunk (or an error) has been emitted.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The usage so far (complete after `message_delta`), for accounting.
    pub fn usage(&self) -> &anthropic::Usage {
        &self.usage
    }

    /// Consumes one event, appending the items it yields to `out`.
    pub fn push(
        &mut self,
        event: StreamEvent,
        out: &mut Vec<OpenAiStreamItem>,
    ) -> Result<(), TranslateError> {
        if self.finished {
            return Err(TranslateError::new(
                "type",
                "event after the end of the stream",
            ));
        }
        match event {
            StreamEvent::Ping | StreamEvent::Unknown => {}
            StreamEvent::Error { error } => {
                out.push(OpenAiStreamItem::Error(stream_error_to_openai(error)));
                self.finished = true;
            }
            StreamEvent::MessageStart { message } => {
                if self.started {
                    return Err(TranslateError::new(
                        "message_start",
                        "a second message_start",
                    ));
                }
                self.started = true;
                self.model.get_or_insert(message.model);
                self.usage = message.usage;
                self.emit(
                    out,
                    delta(Some(Role::Assistant), Some(String::new()), None),
                    None,
                );
            }
            _ if !self.started => {
                return Err(TranslateError::new("type", "event before message_start"))
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self.start_block(index, content_block, out)?,
            StreamEvent::ContentBlockDelta { index, delta: d } => match (self.block(index)?, d) {
                (Block::Text, BlockDelta::TextDelta { text }) => {
                    self.emit(out, delta(None, Some(text), None), None)
                }
                (Block::Tool { call }, BlockDelta::InputJsonDelta { partial_json }) => {
                    if !partial_json.is_empty() {
                        let piece = tool_delta(call, None, None, partial_json);
                        self.emit(out, delta(None, None, Some(piece)), None);
                    }
                }
                (_, BlockDelta::CitationsDelta { .. } | BlockDelta::Unknown) => {}
                (Block::Skipped, _) => {}
                (_, _) => {
                    return Err(TranslateError::new(
                        "content_block_delta.delta.type",
                        format!("delta does not match block {index}"),
                    ))
                }
            },
            StreamEvent::ContentBlockStop { index } => {
                self.block(index)?;
            }
            StreamEvent::MessageDelta { delta: d, usage } => {
                self.usage.output_tokens = usage.output_tokens;
                let keep = |new: Option<u64>, old: &mut Option<u64>| {
                    if new.is_some() {
                        *old = new;
                    }
                };
                if let Some(input) = usage.input_tokens {
                    self.usage.input_tokens = input;
                }
                keep(
                    usage.cache_read_input_tokens,
                    &mut self.usage.cache_read_input_tokens,
                );
                keep(
                    usage.cache_creation_input_tokens,
                    &mut self.usage.cache_creation_input_tokens,
                );
                let reason = d.stop_reason.map_or(FinishReason::Stop, stop_to_finish);
                self.finish_reason = Some(reason.clone());
                self.emit(out, Delta::default(), Some(reason));
            }
            StreamEvent::MessageStop => {
                if self.finish_reason.is_none() {
                    return Err(TranslateError::new(
                        "message_delta",
                        "the provider's stream ended without message_delta",
                    ));
                }
                if self.include_usage {
                    let mut chunk = self.chunk(Vec::new());
                    chunk.usage = Some(usage_to_openai(&self.usage));
                    out.push(OpenAiStreamItem::Chunk(chunk));
                }
                self.finished = true;
            }
        }
        self.check();
        Ok(())
    }

    fn start_block(
        &mut self,
        index: u32,
        block: ContentBlock,
        out: &mut Vec<OpenAiStreamItem>,
    ) -> Result<(), TranslateError> {
        if usize::try_from(index).ok() != Some(self.blocks.len()) {
            return Err(TranslateError::new(
                "content_block_start.index",
                format!("block {index} out of order"),
            ));
        }
        match block {
            ContentBlock::Text { text, .. } => {
                self.blocks.push(Block::Text);
                if !text.is_empty() {
                    self.emit(out, delta(None, Some(text), None), None);
                }
            }
            ContentBlock::ToolUse {
                id, name, input, ..
            } => {
                let call = self.next_call;
                self.next_call = self.next_call.saturating_add(1);
                self.blocks.push(Block::Tool { call });
                // Anthropic starts with `{}` and streams the input; anything else is a
                // complete input sent at once.
                let arguments = match input.as_object() {
                    Some(o) if o.is_empty() => String::new(),
                    _ => input.to_string(),
                };
                let piece = tool_delta(call, Some(id), Some(name), arguments);
                self.emit(out, delta(None, None, Some(piece)), None);
            }
            ContentBlock::Thinking { .. } | ContentBlock::RedactedThinking { .. } => {
                self.blocks.push(Block::Skipped)
            }
            other => {
                return Err(TranslateError::new(
                    "content_block_start.content_block.type",
                    format!(
                        "{} blocks have no OpenAI chat equivalent",
                        other.type_name()
                    ),
                ))
            }
        }
        Ok(())
    }

    fn block(&self, index: u32) -> Result<Block, TranslateError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.blocks.get(i))
            .copied()
            .ok_or_else(|| TranslateError::new("index", format!("no content block {index}")))
    }

    fn chunk(&self, choices: Vec<ChunkChoice>) -> ChatChunk {
        ChatChunk {
            id: self.completion_id.clone(),
            object: "chat.completion.chunk".to_owned(),
            created: self.created,
            model: self.model.clone().unwrap_or_default(),
            choices,
            usage: None,
            system_fingerprint: None,
            extra: Map::new(),
        }
    }

    fn emit(&self, out: &mut Vec<OpenAiStreamItem>, delta: Delta, finish: Option<FinishReason>) {
        out.push(OpenAiStreamItem::Chunk(self.chunk(vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish,
            logprobs: None,
        }])));
    }

    fn check(&self) {
        debug_assert!(self.started || self.finished || self.blocks.is_empty());
        debug_assert!(
            self.blocks
                .iter()
                .filter(|b| matches!(b, Block::Tool { .. }))
                .count()
                == self.next_call as usize
        );
    }
}

fn delta(role: Option<Role>, content: Option<String>, call: Option<ToolCallDelta>) -> Delta {
    Delta {
        role,
        content,
        tool_calls: call.map(|c| vec![c]),
        refusal: None,
        extra: Map::new(),
    }
}

fn tool_delta(
    call: u32,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
) -> ToolCallDelta {
    ToolCallDelta {
        index: call,
        kind: id.as_ref().map(|_| "function".to_owned()),
        id,
        function: Some(FunctionDelta {
            name,
            arguments: Some(arguments),
        }),
    }
}
