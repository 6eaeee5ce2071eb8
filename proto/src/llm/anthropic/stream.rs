//! Streaming events: the JSON of each SSE `data:` line of a streamed message. The SSE
//! `event:` name equals the JSON `type` ([`StreamEvent::event_name`]).
//!
//! A stream is `message_start`, then for each content block `content_block_start`,
//! any number of `content_block_delta` and `content_block_stop`, then `message_delta`
//! (stop reason, cumulative output usage) and `message_stop`; `ping` may come anywhere
//! and `error` ends a stream that failed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::content::ContentBlock;
use super::error::ErrorBody;
use super::response::{MessagesResponse, StopReason};

/// One streamed event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    /// The message with empty content and the input usage.
    MessageStart {
        /// The message so far.
        message: MessagesResponse,
    },
    /// A block begins (text empty, `tool_use` input `{}`).
    ContentBlockStart {
        /// Block position in `content`.
        index: u32,
        /// The block's start.
        content_block: ContentBlock,
    },
    /// Keep-alive.
    Ping,
    /// More of a block.
    ContentBlockDelta {
        /// Block position in `content`.
        index: u32,
        /// What is new.
        delta: BlockDelta,
    },
    /// A block is complete.
    ContentBlockStop {
        /// Block position in `content`.
        index: u32,
    },
    /// Top-level changes: stop reason and cumulative usage.
    MessageDelta {
        /// Stop reason and sequence.
        delta: MessageDeltaBody,
        /// Cumulative counts.
        usage: DeltaUsage,
    },
    /// The end.
    MessageStop,
    /// The stream failed.
    Error {
        /// What went wrong.
        error: ErrorBody,
    },
    /// An event type this version does not know; clients ignore these. Lossy: it cannot
    /// be serialised again.
    #[serde(other, skip_serializing)]
    Unknown,
}

impl StreamEvent {
    /// The SSE `event:` name, which equals the JSON `type`.
    pub fn event_name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::Ping => "ping",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Error { .. } => "error",
            Self::Unknown => "unknown",
        }
    }
}

/// The delta of a `content_block_delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// More text.
    TextDelta {
        /// The fragment.
        text: String,
    },
    /// A fragment of a `tool_use` input's JSON text.
    InputJsonDelta {
        /// The fragment (not valid JSON on its own).
        partial_json: String,
    },
    /// More extended thinking.
    ThinkingDelta {
        /// The fragment.
        thinking: String,
    },
    /// The thinking block's signature.
    SignatureDelta {
        /// The signature.
        signature: String,
    },
    /// A citation for the current text block, kept opaque.
    CitationsDelta {
        /// The citation.
        citation: Value,
    },
    /// A delta type this version does not know (lossy).
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `message_delta.delta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MessageDeltaBody {
    /// Why generation ended.
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    /// Which custom stop sequence matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// `message_delta.usage`: cumulative. `output_tokens` is always there; newer API versions
/// also repeat the input counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DeltaUsage {
    /// Output tokens so far.
    #[serde(default)]
    pub output_tokens: u64,
    /// Uncached input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Input tokens written to the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Input tokens read from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
