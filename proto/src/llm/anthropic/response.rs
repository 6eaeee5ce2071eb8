//! `POST /v1/messages` non-streaming response, stop reasons and usage.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::content::ContentBlock;
use super::request::Role;

/// A whole message from the model; also the `message` of `message_start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    /// `msg_...`.
    #[serde(default)]
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type", default = "message")]
    pub kind: String,
    /// Always `assistant`.
    pub role: Role,
    /// What the model produced (empty in `message_start`).
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Why generation ended (null in `message_start`).
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    /// Which custom stop sequence matched, if one did.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: Usage,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn message() -> String {
    "message".to_owned()
}

string_enum! {
    /// `stop_reason`.
    pub enum StopReason {
        /// Natural end of the turn.
        EndTurn = "end_turn",
        /// `max_tokens` reached.
        MaxTokens = "max_tokens",
        /// A custom stop sequence matched.
        StopSequence = "stop_sequence",
        /// The model called tools.
        ToolUse = "tool_use",
        /// A long server-tool turn was paused.
        PauseTurn = "pause_turn",
        /// The model refused (streaming classifiers).
        Refusal = "refusal",
    }
}

/// Token counts. Unlike OpenAI's `prompt_tokens`, `input_tokens` excludes the cache reads
/// and cache writes, which are counted separately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Usage {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens written to the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Input tokens read from the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Every other field (`service_tier`, `server_tool_use`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
