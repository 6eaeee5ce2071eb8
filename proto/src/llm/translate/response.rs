//! Whole (non-streamed) responses, both ways.
//!
//! OpenAI → Anthropic: the single choice's `refusal` and `content` become text blocks,
//! `tool_calls` become `tool_use` blocks (arguments parsed; invalid JSON from the model is
//! an error, since Anthropic's `input` is an object). More or fewer than one choice is an
//! error: requests with `n > 1` are refused on the way in. Message extras
//! (`annotations`, another vendor's `reasoning_content`) are dropped.
//!
//! Anthropic → OpenAI: text blocks are joined into `content`, `tool_use` blocks become
//! `tool_calls`; `thinking` blocks are dropped (OpenAI chat has no field for them, and
//! they appear only when the client enabled thinking, which the request translation
//! refuses); any other block is an error.
//!
//! Reasons and usage follow the tables in `reasons.rs`. An error here is the provider's
//! fault: the gateway answers 502.

use serde_json::Map;

use super::reasons::{finish_to_stop, stop_to_finish, usage_to_anthropic, usage_to_openai};
use super::to_anthropic_request::parse_arguments;
use crate::llm::anthropic::{self, ContentBlock, MessagesResponse};
use crate::llm::openai::{ChatResponse, Choice, FunctionCall, ResponseMessage, Role, ToolCall};
use crate::llm::TranslateError;

/// Translates an OpenAI chat completion into an Anthropic message with id `message_id`.
pub fn chat_response_to_messages(
    resp: ChatResponse,
    message_id: String,
) -> Result<MessagesResponse, TranslateError> {
    let ChatResponse {
        model,
        choices,
        usage,
        ..
    } = resp;
    if choices.len() != 1 {
        return Err(TranslateError::new(
            "choices",
            format!("expected exactly one choice, got {}", choices.len()),
        ));
    }
    let Some(choice) = choices.into_iter().next() else {
        return Err(TranslateError::new(
            "choices",
            "expected exactly one choice",
        ));
    };
    let msg = choice.message;
    let mut content = Vec::new();
    if let Some(refusal) = msg.refusal.filter(|r| !r.is_empty()) {
        content.push(ContentBlock::text(refusal));
    }
    if let Some(text) = msg.content.filter(|t| !t.is_empty()) {
        content.push(ContentBlock::text(text));
    }
    for (j, call) in msg.tool_calls.into_iter().flatten().enumerate() {
        let at = format!("choices[0].message.tool_calls[{j}]");
        content.push(ContentBlock::ToolUse {
            id: call.id,
            name: call.function.name,
            input: parse_arguments(
                &call.function.arguments,
                &format!("{at}.function.arguments"),
            )?,
            cache_control: None,
        });
    }
    Ok(MessagesResponse {
        id: message_id,
        kind: "message".to_owned(),
        role: anthropic::Role::Assistant,
        content,
        model,
        stop_reason: choice.finish_reason.map(finish_to_stop),
        stop_sequence: None,
        usage: usage.as_ref().map(usage_to_anthropic).unwrap_or_default(),
        extra: Map::new(),
    })
}

/// Translates an Anthropic message into an OpenAI chat completion with id `completion_id`,
/// created at `created` (Unix seconds, from the caller's clock).
pub fn messages_response_to_chat(
    resp: MessagesResponse,
    completion_id: String,
    created: u64,
) -> Result<ChatResponse, TranslateError> {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for (j, block) in resp.content.into_iter().enumerate() {
        match block {
            ContentBlock::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(&t),
            ContentBlock::ToolUse {
                id, name, input, ..
            } => calls.push(ToolCall {
                id,
                kind: "function".to_owned(),
                function: FunctionCall {
                    name,
                    arguments: input.to_string(),
                },
            }),
            ContentBlock::Thinking { .. } | ContentBlock::RedactedThinking { .. } => {}
            other => {
                return Err(TranslateError::new(
                    format!("content[{j}]"),
                    format!(
                        "{} blocks have no OpenAI chat equivalent",
                        other.type_name()
                    ),
                ))
            }
        }
    }
    Ok(ChatResponse {
        id: completion_id,
        object: "chat.completion".to_owned(),
        created,
        model: resp.model,
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: Role::Assistant,
                content: text,
                tool_calls: (!calls.is_empty()).then_some(calls),
                refusal: None,
                extra: Map::new(),
            },
            finish_reason: resp.stop_reason.map(stop_to_finish),
            logprobs: None,
        }],
        usage: Some(usage_to_openai(&resp.usage)),
        system_fingerprint: None,
        extra: Map::new(),
    })
}
