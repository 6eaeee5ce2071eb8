//! `POST /v1/chat/completions` non-streaming response, finish reasons and usage.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::chat::{Role, ToolCall};

/// A whole chat completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// `chatcmpl-...`.
    #[serde(default)]
    pub id: String,
    /// Always `chat.completion`.
    #[serde(default = "chat_completion")]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// One per `n`.
    pub choices: Vec<Choice>,
    /// Token counts; some compatible servers omit them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn chat_completion() -> String {
    "chat.completion".to_owned()
}

/// One generated choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Position among the `n` choices.
    #[serde(default)]
    pub index: u32,
    /// The assistant message.
    pub message: ResponseMessage,
    /// Why generation ended.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, kept opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
}

/// The assistant message of a choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseMessage {
    /// Always `assistant`.
    pub role: Role,
    /// The text, or null when the model only called tools.
    #[serde(default)]
    pub content: Option<String>,
    /// Tool calls the model made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The model's refusal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Every other field (`annotations`, `audio`, `reasoning_content`...), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

string_enum! {
    /// `finish_reason`.
    pub enum FinishReason {
        /// Natural end or a stop sequence.
        Stop = "stop",
        /// `max_tokens` reached.
        Length = "length",
        /// The model called tools.
        ToolCalls = "tool_calls",
        /// Output withheld by the content filter.
        ContentFilter = "content_filter",
        /// Deprecated function calling.
        FunctionCall = "function_call",
    }
}

/// Token counts of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Usage {
    /// Input tokens, cached ones included.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Output tokens, reasoning included.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Their sum.
    #[serde(default)]
    pub total_tokens: u64,
    /// Breakdown of the input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Breakdown of the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
}

impl Usage {
    /// `prompt_tokens_details.cached_tokens`, zero when absent.
    pub fn cached_tokens(&self) -> u64 {
        self.prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
    }

    /// `completion_tokens_details.reasoning_tokens`, zero when absent.
    pub fn reasoning_tokens(&self) -> u64 {
        self.completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
    }
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PromptTokensDetails {
    /// Input tokens served from the prompt cache (part of `prompt_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Audio input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
}

/// `usage.completion_tokens_details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CompletionTokensDetails {
    /// Hidden reasoning tokens (part of `completion_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Audio output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_tokens: Option<u64>,
    /// Predicted-output tokens that appeared in the completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_prediction_tokens: Option<u64>,
    /// Predicted-output tokens that did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_prediction_tokens: Option<u64>,
}
