//! `POST /v1/completions`: the legacy text-completion API, still served by most
//! OpenAI-compatible servers. Not translated to Anthropic (which has no equivalent);
//! routed only to providers that speak it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::chat::{Stop, StreamOptions};
use super::response::{FinishReason, Usage};

/// A completion request. Unknown fields are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model name or alias.
    pub model: String,
    /// A string, an array of strings, an array of token ids, or an array of those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Value>,
    /// Text after the completion (insert mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Upper bound on generated tokens (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Number of choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Answer as an SSE stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// `include_usage` as for chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Echo the prompt back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field (`logprobs`, `best_of`, `logit_bias`, `seed`, ...), verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A completion response, or one streamed chunk of it (same shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// `cmpl-...`.
    #[serde(default)]
    pub id: String,
    /// Always `text_completion`.
    #[serde(default = "text_completion")]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// One per prompt and `n`.
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn text_completion() -> String {
    "text_completion".to_owned()
}

/// One completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// Generated text (a fragment, when streaming).
    #[serde(default)]
    pub text: String,
    /// Position among the choices.
    #[serde(default)]
    pub index: u32,
    /// Why generation ended.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, kept opaque.
    #[serde(default)]
    pub logprobs: Option<Value>,
}
