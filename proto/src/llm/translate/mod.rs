//! Translation between the OpenAI Chat Completions API and the Anthropic Messages API:
//! requests, whole responses, streams and errors, both ways, as pure functions and
//! sans-I/O state machines.
//!
//! | OpenAI chat                         | Anthropic messages                     | notes |
//! |-------------------------------------|----------------------------------------|-------|
//! | `system`/`developer` messages       | `system`                               | lifted in order; position lost |
//! | `user` string / text parts          | user string / text blocks              | |
//! | `image_url` (https or base64 data)  | `image` (`url` / `base64`)             | `detail` dropped |
//! | assistant `content`, `refusal`      | text blocks                            | |
//! | assistant `tool_calls`              | `tool_use` blocks                      | arguments parsed to an object |
//! | `tool` messages                     | user `tool_result` blocks              | consecutive same-role merged |
//! | `tools` (function)                  | `tools` (`input_schema`)               | `strict` dropped |
//! | `tool_choice` auto/required/none/named | auto/any/none/tool                  | |
//! | `parallel_tool_calls: false`        | `disable_parallel_tool_use: true`      | |
//! | `stop` (string or list)             | `stop_sequences`                       | |
//! | `max_completion_tokens` / `max_tokens` | `max_tokens` (required)             | default from options |
//! | `temperature` 0..=1, `top_p`        | same                                   | >1 refused |
//! | `user`                              | `metadata.user_id`                     | |
//! | `stream`, `stream_options`          | `stream` (usage always streamed)       | |
//! | `n` > 1                             | refused                                | one choice per request |
//! | `response_format` json_object/json_schema | refused                          | no JSON mode |
//! | audio/file parts, `function` role, penalties ≠ 0, `logprobs`, `logit_bias`, unknown fields | refused | |
//! | `seed`, `store`, `metadata`, `service_tier`, `prediction`, message `name` | dropped | meaning-neutral |
//! | refused                             | `top_k`, enabled `thinking`, thinking/document blocks, server tools, Files API images, unknown fields | |
//! | dropped                             | `cache_control`, `tool_result.is_error`, `service_tier` | meaning-neutral (the result text says it failed) |
//!
//! Reasons and usage: see `reasons.rs`. Errors: see `errors.rs`.
//!
//! Who is at fault when translation fails: a client request → 400 (the error names the
//! field); a provider response or stream → 502 (or, once streaming has begun, an error
//! event in the client's format).
//!
//! Invariants: no I/O, no clock, no RNG (ids and `created` come from the caller); nothing
//! panics on input; nothing that would change meaning is dropped silently.

mod errors;
mod extras;
mod images;
mod reasons;
mod response;
mod stream_to_anthropic;
mod stream_to_openai;
mod to_anthropic_request;
mod to_openai_request;

pub use errors::{
    error_to_anthropic, error_to_openai, stream_error_to_anthropic, stream_error_to_openai,
};
pub use reasons::{finish_to_stop, stop_to_finish, usage_to_anthropic, usage_to_openai};
pub use response::{chat_response_to_messages, messages_response_to_chat};
pub use stream_to_anthropic::OpenAiToAnthropicStream;
pub use stream_to_openai::{AnthropicToOpenAiStream, OpenAiStreamItem};
pub use to_anthropic_request::{chat_to_messages, ToAnthropicOptions};
pub use to_openai_request::{messages_to_chat, MaxTokensField, ToOpenAiOptions};
