//! `POST /v1/embeddings`. Not translated (Anthropic serves no embeddings); routed only to
//! providers that speak it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An embeddings request. Unknown fields are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// Model name or alias.
    pub model: String,
    /// What to embed.
    pub input: EmbeddingInput,
    /// `float` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// Output dimensions, for models that can shorten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input`: one text, several, or pre-tokenised input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// A batch of texts.
    Texts(Vec<String>),
    /// One token array.
    Tokens(Vec<u32>),
    /// A batch of token arrays.
    TokenBatches(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many embeddings the request asks for.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(_) | Self::Tokens(_) => 1,
            Self::Texts(v) => v.len(),
            Self::TokenBatches(v) => v.len(),
        }
    }

    /// True when the batch is empty (the provider will answer 400).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `encoding_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON arrays of floats.
    Float,
    /// Base64 of little-endian f32s.
    Base64,
}

/// The embeddings response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// Always `list`.
    #[serde(default = "list")]
    pub object: String,
    /// One per input.
    pub data: Vec<Embedding>,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Token counts.
    #[serde(default)]
    pub usage: EmbeddingUsage,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn list() -> String {
    "list".to_owned()
}

/// One embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Always `embedding`.
    #[serde(default = "embedding")]
    pub object: String,
    /// Position of its input.
    #[serde(default)]
    pub index: u32,
    /// The vector.
    pub embedding: EmbeddingVector,
}

fn embedding() -> String {
    "embedding".to_owned()
}

/// The vector, as floats or as base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// `encoding_format: float`.
    Float(Vec<f32>),
    /// `encoding_format: base64`.
    Base64(String),
}

/// Embedding token counts (input only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EmbeddingUsage {
    /// Input tokens.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Same as `prompt_tokens`.
    #[serde(default)]
    pub total_tokens: u64,
}
