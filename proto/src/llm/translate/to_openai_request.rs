//! Anthropic messages request → OpenAI chat request.
//!
//! - `system` becomes leading `system` messages, one per block.
//! - A user message's `tool_result` blocks become `tool` messages, placed before the rest
//!   of that user message (Anthropic requires results first anyway); results carry text
//!   only on the OpenAI side, so an image inside a result is refused. `is_error` has no
//!   OpenAI equivalent and is dropped; the result text, which says what failed, is kept.
//! - An assistant message's text blocks are joined into `content`; `tool_use` blocks
//!   become `tool_calls` with `input` serialised as `arguments`.
//! - `tool_choice`: auto → `auto`, any → `required`, tool → named function, none →
//!   `none`; `disable_parallel_tool_use: true` → `parallel_tool_calls: false`.
//! - `stop_sequences` → `stop`; `max_tokens` → the field chosen in
//!   [`ToOpenAiOptions::max_tokens_field`]; `metadata.user_id` → `user`.
//! - A streamed request asks for `stream_options.include_usage`, so the final usage can be
//!   reported in Anthropic's `message_delta`.
//! - Refused: `top_k`, thinking blocks and enabled `thinking`, documents, server tools,
//!   Files API images, and unknown fields. Dropped as meaning-neutral: `cache_control`.

use serde_json::Map;

use super::extras::anthropic_request_extras;
use super::images::source_to_url;
use crate::llm::anthropic::{
    self, ContentBlock, Message, MessageContent, MessagesRequest, SystemPrompt, ToolResultContent,
};
use crate::llm::openai::{
    ChatMessage, ChatRequest, ContentPart, FunctionCall, FunctionDef, FunctionName, ImageUrl,
    MessageContent as OaContent, NamedToolChoice, Role, Stop, StreamOptions, Tool, ToolCall,
    ToolChoice, ToolChoiceMode,
};
use crate::llm::TranslateError;

/// Which OpenAI field carries Anthropic's `max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxTokensField {
    /// `max_tokens`: what OpenAI-compatible servers (vLLM, Ollama, llama.cpp) read.
    #[default]
    MaxTokens,
    /// `max_completion_tokens`: what OpenAI's reasoning models require.
    MaxCompletionTokens,
}

/// Choices the translation cannot make from the request alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ToOpenAiOptions {
    /// Where `max_tokens` goes; depends on the provider.
    pub max_tokens_field: MaxTokensField,
}

/// Translates an Anthropic messages request into an OpenAI chat request.
pub fn messages_to_chat(
    req: MessagesRequest,
    opts: &ToOpenAiOptions,
) -> Result<ChatRequest, TranslateError> {
    let MessagesRequest {
        model,
        messages,
        max_tokens,
        system,
        stop_sequences,
        temperature,
        top_p,
        top_k,
        stream,
        tools,
        tool_choice,
        metadata,
        extra,
    } = req;
    if top_k.is_some() {
        return Err(TranslateError::new("top_k", "OpenAI chat has no top_k"));
    }
    anthropic_request_extras(extra)?;
    let user = match metadata {
        None => None,
        Some(m) => {
            if let Some((key, _)) = m.extra.iter().find(|(_, v)| !v.is_null()) {
                return Err(TranslateError::new(
                    format!("metadata.{key}"),
                    "unknown metadata field; cannot be translated to OpenAI",
                ));
            }
            m.user_id
        }
    };

    let mut out = Vec::with_capacity(messages.len() + 1);
    match system {
        None => {}
        Some(SystemPrompt::Text(s)) => out.push(ChatMessage::text(Role::System, s)),
        Some(SystemPrompt::Blocks(blocks)) => {
            for (j, block) in blocks.into_iter().enumerate() {
                match block {
                    ContentBlock::Text { text, .. } => {
                        out.push(ChatMessage::text(Role::System, text))
                    }
                    other => {
                        return Err(TranslateError::new(
                            format!("system[{j}]"),
                            format!("{} blocks cannot go in a system prompt", other.type_name()),
                        ))
                    }
                }
            }
        }
    }
    for (i, msg) in messages.into_iter().enumerate() {
        push_message(msg, &format!("messages[{i}]"), &mut out)?;
    }

    let mut parallel_tool_calls = None;
    let tool_choice = tool_choice.map(|choice| {
        let (choice, disable) = match choice {
            anthropic::ToolChoice::Auto {
                disable_parallel_tool_use: d,
            } => (ToolChoice::Mode(ToolChoiceMode::Auto), d),
            anthropic::ToolChoice::Any {
                disable_parallel_tool_use: d,
            } => (ToolChoice::Mode(ToolChoiceMode::Required), d),
            anthropic::ToolChoice::Tool {
                name,
                disable_parallel_tool_use: d,
            } => (
                ToolChoice::Named(NamedToolChoice {
                    kind: "function".to_owned(),
                    function: FunctionName { name },
                }),
                d,
            ),
            anthropic::ToolChoice::None => (ToolChoice::Mode(ToolChoiceMode::None), None),
        };
        if disable == Some(true) {
            parallel_tool_calls = Some(false);
        }
        choice
    });
    let tools = tools
        .map(|tools| {
            tools
                .into_iter()
                .enumerate()
                .map(|(i, t)| tool(t, i))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let (max_tokens, max_completion_tokens) = match opts.max_tokens_field {
        MaxTokensField::MaxTokens => (Some(max_tokens), None),
        MaxTokensField::MaxCompletionTokens => (None, Some(max_tokens)),
    };
    let streaming = stream == Some(true);

    Ok(ChatRequest {
        model,
        messages: out,
        tools,
        tool_choice,
        parallel_tool_calls,
        stop: stop_sequences.map(Stop::Many),
        max_tokens,
        max_completion_tokens,
        temperature,
        top_p,
        n: None,
        stream,
        stream_options: streaming.then(|| StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        response_format: None,
        user,
        extra: Map::new(),
    })
}

fn push_message(msg: Message, at: &str, out: &mut Vec<ChatMessage>) -> Result<(), TranslateError> {
    match (msg.role, msg.content) {
        (anthropic::Role::User, MessageContent::Text(s)) => {
            out.push(ChatMessage::text(Role::User, s))
        }
        (anthropic::Role::Assistant, MessageContent::Text(s)) => {
            out.push(ChatMessage::text(Role::Assistant, s))
        }
        (anthropic::Role::User, MessageContent::Blocks(blocks)) => push_user(blocks, at, out)?,
        (anthropic::Role::Assistant, MessageContent::Blocks(blocks)) => {
            out.push(assistant(blocks, at)?)
        }
    }
    Ok(())
}

fn push_user(
    blocks: Vec<ContentBlock>,
    at: &str,
    out: &mut Vec<ChatMessage>,
) -> Result<(), TranslateError> {
    let mut parts = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let field = format!("{at}.content[{j}]");
        match block {
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                ..
            } => {
                let content = match content {
                    None => OaContent::Text(String::new()),
                    Some(ToolResultContent::Text(s)) => OaContent::Text(s),
                    Some(ToolResultContent::Blocks(blocks)) => {
                        OaContent::Parts(text_parts(blocks, &format!("{field}.content"))?)
                    }
                };
                let mut msg = ChatMessage::text(Role::Tool, String::new());
                msg.content = Some(content);
                msg.tool_call_id = Some(tool_use_id);
                out.push(msg);
            }
            ContentBlock::Text { text, .. } => parts.push(ContentPart::Text { text }),
            ContentBlock::Image { source, .. } => parts.push(ContentPart::ImageUrl {
                image_url: ImageUrl {
                    url: source_to_url(source, &format!("{field}.source"))?,
                    detail: None,
                },
            }),
            other => return Err(unsupported(field, &other)),
        }
    }
    if !parts.is_empty() {
        let mut msg = ChatMessage::text(Role::User, String::new());
        msg.content = Some(OaContent::Parts(parts));
        out.push(msg);
    }
    Ok(())
}

fn text_parts(blocks: Vec<ContentBlock>, at: &str) -> Result<Vec<ContentPart>, TranslateError> {
    blocks
        .into_iter()
        .enumerate()
        .map(|(k, block)| match block {
            ContentBlock::Text { text, .. } => Ok(ContentPart::Text { text }),
            other => Err(TranslateError::new(
                format!("{at}[{k}]"),
                format!(
                    "OpenAI tool messages carry text only, not {}",
                    other.type_name()
                ),
            )),
        })
        .collect()
}

fn assistant(blocks: Vec<ContentBlock>, at: &str) -> Result<ChatMessage, TranslateError> {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
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
            other => return Err(unsupported(format!("{at}.content[{j}]"), &other)),
        }
    }
    let mut msg = ChatMessage::text(Role::Assistant, String::new());
    msg.content = text.map(OaContent::Text);
    msg.tool_calls = (!calls.is_empty()).then_some(calls);
    Ok(msg)
}

fn unsupported(field: String, block: &ContentBlock) -> TranslateError {
    TranslateError::new(
        field,
        format!(
            "{} blocks have no OpenAI chat equivalent here",
            block.type_name()
        ),
    )
}

fn tool(t: anthropic::Tool, i: usize) -> Result<Tool, TranslateError> {
    if let Some(kind) = t.kind.as_deref().filter(|k| *k != "custom") {
        return Err(TranslateError::new(
            format!("tools[{i}].type"),
            format!("server tool {kind} has no OpenAI chat equivalent"),
        ));
    }
    if let Some((key, _)) = t.extra.iter().find(|(_, v)| !v.is_null()) {
        return Err(TranslateError::new(
            format!("tools[{i}].{key}"),
            "unknown tool field; cannot be translated to OpenAI",
        ));
    }
    let Some(schema) = t.input_schema else {
        return Err(TranslateError::new(
            format!("tools[{i}].input_schema"),
            "a client tool needs input_schema",
        ));
    };
    Ok(Tool {
        kind: "function".to_owned(),
        function: Some(FunctionDef {
            name: t.name,
            description: t.description,
            parameters: Some(schema),
            strict: None,
        }),
        extra: Map::new(),
    })
}
