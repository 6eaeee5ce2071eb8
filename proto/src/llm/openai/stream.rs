//! `chat.completion.chunk`: one SSE `data:` payload of a streamed chat completion.
//!
//! A stream is: a chunk whose delta carries the role, chunks of `content` or
//! `tool_calls` pieces (a tool call's first piece has its `index`, `id` and
//! `function.name`; later pieces only `index` and `function.arguments` fragments), a
//! chunk with `finish_reason`, and, when `stream_options.include_usage` was set, a last
//! chunk with empty `choices` and the `usage`. `data: [DONE]` ends it (SSE framing is
//! the SSE scanner's business, not this module's).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::chat::Role;
use super::response::{FinishReason, Usage};

/// One streamed chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    /// `chatcmpl-...`, the same on every chunk.
    #[serde(default)]
    pub id: String,
    /// Always `chat.completion.chunk`.
    #[serde(default = "chat_completion_chunk")]
    pub object: String,
    /// Unix seconds, the same on every chunk.
    #[serde(default)]
    pub created: u64,
    /// The model that answers.
    #[serde(default)]
    pub model: String,
    /// Deltas; empty on the usage-only final chunk.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Only on the final chunk when `include_usage` was asked for (null before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn chat_completion_chunk() -> String {
    "chat.completion.chunk".to_owned()
}

/// The delta of one choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Which choice.
    #[serde(default)]
    pub index: u32,
    /// What is new.
    #[serde(default)]
    pub delta: Delta,
    /// Set on the choice's last chunk.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, kept opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

/// New content of one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Delta {
    /// On the first chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// A text fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Tool-call fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// A refusal fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Every other field (`reasoning_content`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One fragment of one tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call of this choice, from 0.
    pub index: u32,
    /// The call id, on its first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`, on its first fragment.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name (first fragment) and argument text pieces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDelta>,
}

/// Function name and a piece of the arguments text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FunctionDelta {
    /// The function name, on the first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The next piece of the JSON arguments text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}
