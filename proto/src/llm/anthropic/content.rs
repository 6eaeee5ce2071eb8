//! Content blocks: what messages, responses and tool results are made of.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A message's content: a string (one text block) or blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Shorthand for a single text block.
    Text(String),
    /// Blocks, in order.
    Blocks(Vec<ContentBlock>),
}

/// One content block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// Prompt-caching breakpoint, kept opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
        /// Citations of documents, kept opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        citations: Option<Value>,
    },
    /// An image.
    Image {
        /// Base64 data or a URL.
        source: ImageSource,
        /// Prompt-caching breakpoint, kept opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
    },
    /// A tool call by the assistant.
    ToolUse {
        /// `toolu_...`, echoed by the matching `tool_result`.
        id: String,
        /// Tool name.
        name: String,
        /// The arguments, a JSON object.
        input: Value,
        /// Prompt-caching breakpoint, kept opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
    },
    /// A tool's answer, in a user message.
    ToolResult {
        /// The `tool_use` it answers.
        tool_use_id: String,
        /// What the tool returned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent>,
        /// The tool failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
        /// Prompt-caching breakpoint, kept opaque.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache_control: Option<Value>,
    },
    /// Extended-thinking output.
    Thinking {
        /// The reasoning text.
        thinking: String,
        /// Integrity signature, required when sent back.
        #[serde(default)]
        signature: String,
    },
    /// Encrypted extended-thinking output.
    RedactedThinking {
        /// Opaque payload.
        data: String,
    },
    /// A document (PDF, plain text), kept opaque.
    Document {
        /// Where the document is.
        source: Value,
    },
    /// A block type this version does not know. Lossy: it cannot be serialised again,
    /// and translation refuses it.
    #[serde(other, skip_serializing)]
    Unknown,
}

impl ContentBlock {
    /// A plain text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            cache_control: None,
            citations: None,
        }
    }

    /// The wire name of the block's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::ToolUse { .. } => "tool_use",
            Self::ToolResult { .. } => "tool_result",
            Self::Thinking { .. } => "thinking",
            Self::RedactedThinking { .. } => "redacted_thinking",
            Self::Document { .. } => "document",
            Self::Unknown => "unknown",
        }
    }
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    /// Inline bytes.
    Base64 {
        /// `image/jpeg`, `image/png`, `image/gif` or `image/webp`.
        media_type: String,
        /// Base64 of the image.
        data: String,
    },
    /// A URL Anthropic fetches.
    Url {
        /// The image URL.
        url: String,
    },
    /// An uploaded file (Files API).
    File {
        /// `file_...`.
        file_id: String,
    },
    /// A source type this version does not know (lossy, see [`ContentBlock::Unknown`]).
    #[serde(other, skip_serializing)]
    Unknown,
}

/// A tool result's content: a string or text/image blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    /// Plain text.
    Text(String),
    /// Blocks.
    Blocks(Vec<ContentBlock>),
}
