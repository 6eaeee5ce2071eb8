//! LLM API wire formats: typed schemas for the OpenAI and Anthropic HTTP APIs, translation
//! between them, and the cheap raw-byte helpers the router needs.
//!
//! What lives where:
//!
//! - [`openai`]: Chat Completions (request, response, stream chunk), legacy Completions,
//!   Embeddings, the models list and the `{"error":{...}}` body.
//! - [`anthropic`]: Messages (request, response, stream events) and the
//!   `{"type":"error","error":{...}}` body.
//! - [`translate`]: pure functions from one API to the other, for requests and whole
//!   responses, and two stream state machines ([`translate::OpenAiToAnthropicStream`],
//!   [`translate::AnthropicToOpenAiStream`]) that take one parsed event at a time.
//! - [`json`]: parsing bodies with simd-json into the typed structs.
//! - [`raw`]: reading `model`/`stream` from a body and splicing a new model name (or
//!   `stream_options.include_usage`) into it without building the typed request, so a
//!   request that needs no translation is forwarded byte for byte.
//!
//! Invariants:
//!
//! - No I/O, no clock, no RNG. Ids (`msg_...`, `chatcmpl-...`) and `created` timestamps
//!   are passed in by the caller.
//! - Nothing here panics on peer input: every malformed or untranslatable input is an
//!   `Err`. A field that cannot be translated without changing what the request means is
//!   a [`TranslateError`] naming the field (the gateway answers 400 for a request, 502 for
//!   a provider response); it is never dropped silently.
//! - Unknown top-level request fields are kept in a flattened `extra` map, so a typed
//!   round trip (parse, edit, serialise) loses nothing. Translation refuses unknown
//!   fields it cannot map, and lists the harmless ones it drops.

// Declared first: macros are visible only to modules that come after them.
#[macro_use]
mod string_enum;

pub mod anthropic;
mod error;
pub mod json;
pub mod openai;
pub mod raw;
pub mod translate;

pub use error::TranslateError;
