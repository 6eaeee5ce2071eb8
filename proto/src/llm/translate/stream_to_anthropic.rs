//! [`OpenAiToAnthropicStream`]: OpenAI chat chunks in, Anthropic stream events out.
//!
//! Sequence produced: `message_start` on the first chunk (input usage from the caller's
//! estimate, since OpenAI reports usage only at the end), then for each run of text and
//! for each tool call a `content_block_start`, its deltas (`text_delta`,
//! `input_json_delta` with the argument pieces as they come) and `content_block_stop`,
//! then `message_delta` (stop reason, full usage) and `message_stop`.
//!
//! OpenAI sends `finish_reason` before the usage-only chunk, so `message_delta` waits for
//! the usage (or for [`OpenAiToAnthropicStream::finish`] at `[DONE]`, when the provider
//! sent none: the usage is then reported as zero output tokens and the accounting layer
//! estimates).
//!
//! Invariants (checked by `debug_assert!` after every step): block indices are handed
//! out in order, at most one block is open, nothing is emitted after `message_stop`, and
//! `message_start` precedes everything. Pieces of two tool calls never interleave in
//! practice; if a provider interleaves them anyway, the stream is refused rather than
//! reordered, since Anthropic blocks cannot reopen.

use serde_json::{Map, Value};

use super::errors::stream_error_to_anthropic;
use super::reasons::{finish_to_stop, usage_to_anthropic};
use crate::llm::anthropic::{
    self, BlockDelta, ContentBlock, DeltaUsage, MessageDeltaBody, MessagesResponse, StopReason,
    StreamEvent,
};
use crate::llm::openai::{self, ChatChunk};
use crate::llm::TranslateError;

/// The open content block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Text { block: u32 },
    Tool { block: u32, call: u32 },
}

/// Translates one OpenAI chat stream into Anthropic events. One per stream; no I/O.
#[derive(Debug)]
pub struct OpenAiToAnthropicStream {
    message_id: String,
    model: Option<String>,
    input_tokens: u64,
    started: bool,
    open: Open,
    next_block: u32,
    /// OpenAI tool-call indices already given a block, in order.
    calls_seen: Vec<u32>,
    stop_reason: Option<StopReason>,
    usage: Option<openai::Usage>,
    finished: bool,
}

impl OpenAiToAnthropicStream {
    /// A translator whose `message_start` carries id `message_id` (`msg_...`).
    pub fn new(message_id: impl Into<String>) -> Self {
        Self {
            message_id: message_id.into(),
            model: None,
            input_tokens: 0,
            started: false,
            open: Open::None,
            next_block: 0,
            calls_seen: Vec::new(),
            stop_reason: None,
            usage: None,
            finished: false,
        }
    }

    /// Reports `input_tokens` (e.g. the gateway's estimate) in `message_start`.
    pub fn with_input_tokens(mut self, input_tokens: u64) -> Self {
        self.input_tokens = input_tokens;
        self
    }

    /// Names `model` in `message_start` instead of the provider's model name (e.g. the
    /// alias the client asked for).
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The provider's usage, once its usage chunk has arrived.
    pub fn usage(&self) -> Option<&openai::Usage> {
        self.usage.as_ref()
    }

    /// True once `message_stop` (or `error`) has been emitted.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Consumes one chunk, appending the events it yields to `out`.
    pub fn push(
        &mut self,
        chunk: ChatChunk,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), TranslateError> {
        if self.finished {
            return Err(TranslateError::new(
                "choices",
                "chunk after the end of the stream",
            ));
        }
        if !self.started {
            // Some providers (Azure) open with a chunk that has no choices, only filter
            // results and an empty model name; wait for one that says something.
            if chunk.choices.is_empty() && chunk.usage.is_none() {
                return Ok(());
            }
            let model = self.model.take().unwrap_or(chunk.model);
            self.start(model, out);
        }
        for (k, choice) in chunk.choices.into_iter().enumerate() {
            if choice.index != 0 {
                return Err(TranslateError::new(
                    format!("choices[{k}].index"),
                    "only a single choice (n = 1) can be translated to Anthropic",
                ));
            }
            let delta = choice.delta;
            for text in [delta.content, delta.refusal].into_iter().flatten() {
                if !text.is_empty() {
                    let block = self.text_block(out);
                    out.push(StreamEvent::ContentBlockDelta {
                        index: block,
                        delta: BlockDelta::TextDelta { text },
                    });
                }
            }
            for (j, call) in delta.tool_calls.into_iter().flatten().enumerate() {
                let at = format!("choices[{k}].delta.tool_calls[{j}]");
                let function = call.function.unwrap_or_default();
                let block = match self.open {
                    Open::Tool { block, call: open } if open == call.index => block,
                    _ => self.tool_block(call.index, call.id, function.name, &at, out)?,
                };
                if let Some(partial_json) = function.arguments.filter(|a| !a.is_empty()) {
                    out.push(StreamEvent::ContentBlockDelta {
                        index: block,
                        delta: BlockDelta::InputJsonDelta { partial_json },
                    });
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.close(out);
                self.stop_reason = Some(finish_to_stop(reason));
            }
        }
        if chunk.usage.is_some() {
            self.usage = chunk.usage;
        }
        if self.stop_reason.is_some() && self.usage.is_some() {
            self.end(out);
        }
        self.check();
        Ok(())
    }

    /// The upstream stream ended (`data: [DONE]` or EOF). A stream cut before any
    /// `finish_reason` is an error: the caller sends an `error` event instead.
    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), TranslateError> {
        if self.finished {
            return Ok(());
        }
        if self.stop_reason.is_none() {
            return Err(TranslateError::new(
                "finish_reason",
                "the provider's stream ended without a finish_reason",
            ));
        }
        self.end(out);
        self.check();
        Ok(())
    }

    /// The provider sent `{"error": {...}}` mid-stream: emit Anthropic's `error` event,
    /// which ends the stream.
    pub fn push_error(&mut self, error: openai::ErrorBody, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        out.push(StreamEvent::Error {
            error: stream_error_to_anthropic(error),
        });
        self.open = Open::None;
        self.finished = true;
        self.check();
    }

    fn start(&mut self, model: String, out: &mut Vec<StreamEvent>) {
        out.push(StreamEvent::MessageStart {
            message: MessagesResponse {
                id: self.message_id.clone(),
                kind: "message".to_owned(),
                role: anthropic::Role::Assistant,
                content: Vec::new(),
                model,
                stop_reason: None,
                stop_sequence: None,
                usage: anthropic::Usage {
                    input_tokens: self.input_tokens,
                    ..Default::default()
                },
                extra: Map::new(),
            },
        });
        self.started = true;
    }

    /// The open text block, opening one (and closing a tool block) if needed.
    fn text_block(&mut self, out: &mut Vec<StreamEvent>) -> u32 {
        if let Open::Text { block } = self.open {
            return block;
        }
        self.close(out);
        let block = self.next_block;
        self.next_block = self.next_block.saturating_add(1);
        out.push(StreamEvent::ContentBlockStart {
            index: block,
            content_block: ContentBlock::text(""),
        });
        self.open = Open::Text { block };
        block
    }

    /// Opens the block for tool call `call`, whose first fragment carries id and name.
    fn tool_block(
        &mut self,
        call: u32,
        id: Option<String>,
        name: Option<String>,
        at: &str,
        out: &mut Vec<StreamEvent>,
    ) -> Result<u32, TranslateError> {
        if self.calls_seen.contains(&call) {
            return Err(TranslateError::new(
                format!("{at}.index"),
                "fragments of two tool calls interleave; Anthropic blocks cannot reopen",
            ));
        }
        let Some(id) = id else {
            return Err(TranslateError::new(
                format!("{at}.id"),
                "a tool call's first fragment needs an id",
            ));
        };
        let Some(name) = name else {
            return Err(TranslateError::new(
                format!("{at}.function.name"),
                "a tool call's first fragment needs a name",
            ));
        };
        self.close(out);
        let block = self.next_block;
        self.next_block = self.next_block.saturating_add(1);
        out.push(StreamEvent::ContentBlockStart {
            index: block,
            content_block: ContentBlock::ToolUse {
                id,
                name,
                input: Value::Object(Map::new()),
                cache_control: None,
            },
        });
        self.calls_seen.push(call);
        self.open = Open::Tool { block, call };
        Ok(block)
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        match self.open {
            Open::None => {}
            Open::Text { block } | Open::Tool { block, .. } => {
                out.push(StreamEvent::ContentBlockStop { index: block })
            }
        }
        self.open = Open::None;
    }

    /// `message_delta` and `message_stop`.
    fn end(&mut self, out: &mut Vec<StreamEvent>) {
        self.close(out);
        let usage = match &self.usage {
            Some(u) => {
                let u = usage_to_anthropic(u);
                DeltaUsage {
                    output_tokens: u.output_tokens,
                    input_tokens: Some(u.input_tokens),
                    cache_creation_input_tokens: u.cache_creation_input_tokens,
                    cache_read_input_tokens: u.cache_read_input_tokens,
                    extra: Map::new(),
                }
            }
            None => DeltaUsage::default(),
        };
        out.push(StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: self.stop_reason.clone(),
                stop_sequence: None,
            },
            usage,
        });
        out.push(StreamEvent::MessageStop);
        self.finished = true;
    }

    fn check(&self) {
        debug_assert!(self.started || self.finished, "events before message_start");
        debug_assert!(
            !self.finished || self.open == Open::None,
            "a block open after the end"
        );
        debug_assert!(match self.open {
            Open::None => true,
            Open::Text { block } | Open::Tool { block, .. } =>
                block.saturating_add(1) == self.next_block,
        });
    }
}
