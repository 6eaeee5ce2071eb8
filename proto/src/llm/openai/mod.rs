//! The OpenAI HTTP API as typed serde structs: Chat Completions (request, response,
//! stream chunk), legacy Completions, Embeddings, the models list, and the error body.
//!
//! The same types serve OpenAI-compatible servers (vLLM, Ollama, llama.cpp, Groq, ...),
//! so what comes back from a provider is parsed leniently: counts default to zero, ids
//! and timestamps may be missing, and unknown finish reasons are kept as
//! [`FinishReason::Other`]. Unknown top-level fields live in each struct's `extra` map and
//! are written back out unchanged.
//!
//! Invariant: these types only describe the wire format; they never do I/O and never
//! panic on input.

mod chat;
mod completions;
mod embeddings;
mod error;
mod models;
mod response;
mod stream;

pub use chat::{
    ChatMessage, ChatRequest, ContentPart, FunctionCall, FunctionDef, FunctionName, ImageUrl,
    JsonSchemaFormat, MessageContent, NamedToolChoice, ResponseFormat, Role, Stop, StreamOptions,
    Tool, ToolCall, ToolChoice, ToolChoiceMode,
};
pub use completions::{CompletionChoice, CompletionRequest, CompletionResponse};
pub use embeddings::{
    Embedding, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector, EncodingFormat,
};
pub use error::{error_type_for_status, ErrorBody, ErrorResponse};
pub use models::{Model, ModelList};
pub use response::{
    ChatResponse, Choice, CompletionTokensDetails, FinishReason, PromptTokensDetails,
    ResponseMessage, Usage,
};
pub use stream::{ChatChunk, ChunkChoice, Delta, FunctionDelta, ToolCallDelta};
