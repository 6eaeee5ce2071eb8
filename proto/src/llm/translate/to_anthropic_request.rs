//! OpenAI chat request → Anthropic messages request.
//!
//! - `system` and `developer` messages, wherever they are, are lifted in order into
//!   `system` (a string for one plain message, text blocks otherwise). Anthropic has no
//!   mid-conversation system turn, so a late system message loses its position.
//! - `tool` messages become `tool_result` blocks of a user message; consecutive messages
//!   of the same Anthropic role are merged, because Anthropic requires alternation and
//!   all results of one assistant turn in the next user message.
//! - Assistant `tool_calls` become `tool_use` blocks; `arguments` must parse as a JSON
//!   object (empty means `{}`).
//! - `max_tokens` is required by Anthropic: `max_completion_tokens`, else `max_tokens`,
//!   else [`ToAnthropicOptions::default_max_tokens`] (OpenAI's "up to the context
//!   window" cannot be expressed; configure the model's output limit there).
//! - `temperature` above 1 is refused: Anthropic's range is 0 to 1, and rescaling
//!   OpenAI's 0 to 2 would change the sampling the client asked for.
//! - Refused: `n` other than 1, `response_format` `json_object`/`json_schema` (Anthropic
//!   has no JSON mode; emulating it with a forced tool changes the response shape),
//!   audio/file parts, non-function tools, the `function` role, and the extras listed in
//!   `extras.rs`.
//! - Dropped as meaning-neutral: message `name`, image `detail`, tool `strict`,
//!   `stream_options` (Anthropic streams always carry usage).

use serde_json::{Map, Value};

use super::extras::{openai_message_extras, openai_request_extras};
use super::images::url_to_source;
use crate::llm::anthropic::{
    self, ContentBlock, Message, MessageContent, MessagesRequest, Metadata, SystemPrompt,
    ToolResultContent,
};
use crate::llm::openai::{
    ChatMessage, ChatRequest, ContentPart, MessageContent as OaContent, ResponseFormat, Role, Tool,
    ToolCall, ToolChoice, ToolChoiceMode,
};
use crate::llm::TranslateError;

/// Choices the translation cannot make from the request alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToAnthropicOptions {
    /// `max_tokens` when the client set neither `max_tokens` nor `max_completion_tokens`.
    pub default_max_tokens: u32,
}

impl Default for ToAnthropicOptions {
    fn default() -> Self {
        Self {
            default_max_tokens: 4096,
        }
    }
}

/// Translates an OpenAI chat request into an Anthropic messages request.
pub fn chat_to_messages(
    req: ChatRequest,
    opts: &ToAnthropicOptions,
) -> Result<MessagesRequest, TranslateError> {
    let ChatRequest {
        model,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        stop,
        max_tokens,
        max_completion_tokens,
        temperature,
        top_p,
        n,
        stream,
        stream_options: _,
        response_format,
        user,
        extra,
    } = req;
    if let Some(n) = n.filter(|&n| n != 1) {
        return Err(TranslateError::new(
            "n",
            format!("n = {n}: Anthropic returns one choice per request"),
        ));
    }
    if let Some(t) = temperature.filter(|t| !(0.0..=1.0).contains(t)) {
        return Err(TranslateError::new(
            "temperature",
            format!("{t} is outside Anthropic's range 0 to 1"),
        ));
    }
    match response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            return Err(TranslateError::new(
                "response_format",
                "json_object has no Anthropic equivalent",
            ))
        }
        Some(ResponseFormat::JsonSchema { .. }) => {
            return Err(TranslateError::new(
                "response_format",
                "json_schema has no Anthropic equivalent",
            ))
        }
    }
    let extras = openai_request_extras(extra)?;

    let mut conv = Conversation::default();
    for (i, msg) in messages.into_iter().enumerate() {
        conv.push_message(msg, i)?;
    }
    let has_tools = tools.as_ref().is_some_and(|t| !t.is_empty());
    let tools = tools
        .map(|tools| {
            tools
                .into_iter()
                .enumerate()
                .map(|(i, t)| tool(t, i))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;

    Ok(MessagesRequest {
        model,
        messages: conv.messages,
        max_tokens: max_completion_tokens
            .or(max_tokens)
            .unwrap_or(opts.default_max_tokens),
        system: conv.system.into_prompt(),
        stop_sequences: stop.map(|s| s.into_vec()),
        temperature,
        top_p,
        top_k: extras.top_k,
        stream,
        tools,
        tool_choice: tool_choice_of(tool_choice, parallel_tool_calls, has_tools),
        metadata: user.map(|u| Metadata {
            user_id: Some(u),
            extra: Map::new(),
        }),
        extra: Map::new(),
    })
}

/// The system prompt being gathered.
#[derive(Default)]
struct System(Vec<String>);

impl System {
    fn into_prompt(self) -> Option<SystemPrompt> {
        let mut texts = self.0;
        match texts.len() {
            0 => None,
            1 => texts.pop().map(SystemPrompt::Text),
            _ => Some(SystemPrompt::Blocks(
                texts.into_iter().map(ContentBlock::text).collect(),
            )),
        }
    }
}

/// Messages being built, merged so that roles alternate.
#[derive(Default)]
struct Conversation {
    system: System,
    messages: Vec<Message>,
}

impl Conversation {
    fn push_message(&mut self, msg: ChatMessage, i: usize) -> Result<(), TranslateError> {
        let at = format!("messages[{i}]");
        openai_message_extras(&msg.extra, &at)?;
        match msg.role {
            Role::System | Role::Developer => self.push_system(msg.content, &at),
            Role::User => {
                let Some(content) = msg.content else {
                    return Err(TranslateError::new(
                        format!("{at}.content"),
                        "a user message needs content",
                    ));
                };
                let content = match content {
                    OaContent::Text(s) => MessageContent::Text(s),
                    OaContent::Parts(parts) => {
                        MessageContent::Blocks(parts_to_blocks(parts, &at, true)?)
                    }
                };
                self.push(anthropic::Role::User, content);
                Ok(())
            }
            Role::Assistant => self.push_assistant(msg, &at),
            Role::Tool => {
                let Some(tool_use_id) = msg.tool_call_id else {
                    return Err(TranslateError::new(
                        format!("{at}.tool_call_id"),
                        "a tool message needs tool_call_id",
                    ));
                };
                let content = match msg.content {
                    None => None,
                    Some(OaContent::Text(s)) => Some(ToolResultContent::Text(s)),
                    Some(OaContent::Parts(parts)) => Some(ToolResultContent::Blocks(
                        parts_to_blocks(parts, &at, true)?,
                    )),
                };
                let block = ContentBlock::ToolResult {
                    tool_use_id,
                    content,
                    is_error: None,
                    cache_control: None,
                };
                self.push(anthropic::Role::User, MessageContent::Blocks(vec![block]));
                Ok(())
            }
            Role::Function => Err(TranslateError::new(
                format!("{at}.role"),
                "the deprecated function role is not translated; use tools",
            )),
        }
    }

    fn push_system(&mut self, content: Option<OaContent>, at: &str) -> Result<(), TranslateError> {
        match content {
            None => {}
            Some(OaContent::Text(s)) => self.system.0.push(s),
            Some(OaContent::Parts(parts)) => {
                for (j, part) in parts.into_iter().enumerate() {
                    match part {
                        ContentPart::Text { text } => self.system.0.push(text),
                        _ => {
                            return Err(TranslateError::new(
                                format!("{at}.content[{j}]"),
                                "only text can go in Anthropic's system prompt",
                            ))
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn push_assistant(&mut self, msg: ChatMessage, at: &str) -> Result<(), TranslateError> {
        let mut blocks = Vec::new();
        match msg.content {
            None => {}
            Some(OaContent::Text(s)) => blocks.push(ContentBlock::text(s)),
            Some(OaContent::Parts(parts)) => blocks = parts_to_blocks(parts, at, false)?,
        }
        if let Some(refusal) = msg.refusal {
            blocks.push(ContentBlock::text(refusal));
        }
        // Empty text carries nothing, and Anthropic rejects empty text blocks.
        blocks.retain(|b| !matches!(b, ContentBlock::Text { text, .. } if text.is_empty()));
        let has_calls = msg.tool_calls.as_ref().is_some_and(|c| !c.is_empty());
        for (j, call) in msg.tool_calls.into_iter().flatten().enumerate() {
            blocks.push(tool_use(call, &format!("{at}.tool_calls[{j}]"))?);
        }
        let content = match blocks.len() {
            0 => return Ok(()),
            1 if !has_calls => match blocks.pop() {
                Some(ContentBlock::Text { text, .. }) => MessageContent::Text(text),
                other => MessageContent::Blocks(other.into_iter().collect()),
            },
            _ => MessageContent::Blocks(blocks),
        };
        self.push(anthropic::Role::Assistant, content);
        Ok(())
    }

    /// Appends, merging into the last message when it has the same role.
    fn push(&mut self, role: anthropic::Role, content: MessageContent) {
        match self.messages.last_mut() {
            Some(last) if last.role == role => {
                let mut blocks = into_blocks(std::mem::replace(
                    &mut last.content,
                    MessageContent::Blocks(Vec::new()),
                ));
                blocks.extend(into_blocks(content));
                last.content = MessageContent::Blocks(blocks);
            }
            _ => self.messages.push(Message { role, content }),
        }
    }
}

fn into_blocks(content: MessageContent) -> Vec<ContentBlock> {
    match content {
        MessageContent::Text(s) => vec![ContentBlock::text(s)],
        MessageContent::Blocks(b) => b,
    }
}

/// Content parts → blocks; images only where `images` (user and tool content).
fn parts_to_blocks(
    parts: Vec<ContentPart>,
    at: &str,
    images: bool,
) -> Result<Vec<ContentBlock>, TranslateError> {
    let mut blocks = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        let field = format!("{at}.content[{j}]");
        blocks.push(match part {
            ContentPart::Text { text } => ContentBlock::text(text),
            ContentPart::Refusal { refusal } if !images => ContentBlock::text(refusal),
            ContentPart::ImageUrl { image_url } if images => ContentBlock::Image {
                source: url_to_source(image_url.url, &format!("{field}.image_url.url"))?,
                cache_control: None,
            },
            ContentPart::ImageUrl { .. } => {
                return Err(TranslateError::new(field, "images are not allowed here"))
            }
            ContentPart::InputAudio { .. } => {
                return Err(TranslateError::new(
                    field,
                    "Anthropic does not accept audio",
                ))
            }
            ContentPart::File { .. } => {
                return Err(TranslateError::new(
                    field,
                    "file parts are not translated to Anthropic",
                ))
            }
            ContentPart::Refusal { .. } => {
                return Err(TranslateError::new(
                    field,
                    "refusal parts belong to assistant messages",
                ))
            }
            ContentPart::Unknown => {
                return Err(TranslateError::new(
                    format!("{field}.type"),
                    "unknown content part type",
                ))
            }
        });
    }
    Ok(blocks)
}

/// An assistant tool call → `tool_use`.
fn tool_use(call: ToolCall, at: &str) -> Result<ContentBlock, TranslateError> {
    if call.kind != "function" {
        return Err(TranslateError::new(
            format!("{at}.type"),
            "only function tool calls are translated",
        ));
    }
    Ok(ContentBlock::ToolUse {
        id: call.id,
        name: call.function.name,
        input: parse_arguments(
            &call.function.arguments,
            &format!("{at}.function.arguments"),
        )?,
        cache_control: None,
    })
}

/// A function call's `arguments` text → the JSON object Anthropic wants as `input`.
pub(crate) fn parse_arguments(arguments: &str, field: &str) -> Result<Value, TranslateError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(TranslateError::new(field, "must be a JSON object")),
        Err(e) => Err(TranslateError::new(field, format!("not valid JSON: {e}"))),
    }
}

fn tool(t: Tool, i: usize) -> Result<anthropic::Tool, TranslateError> {
    if t.kind != "function" {
        return Err(TranslateError::new(
            format!("tools[{i}].type"),
            "only function tools are translated",
        ));
    }
    if let Some((key, _)) = t.extra.iter().find(|(_, v)| !v.is_null()) {
        return Err(TranslateError::new(
            format!("tools[{i}].{key}"),
            "unknown tool field; cannot be translated to Anthropic",
        ));
    }
    let Some(f) = t.function else {
        return Err(TranslateError::new(
            format!("tools[{i}].function"),
            "a function tool needs function",
        ));
    };
    Ok(anthropic::Tool {
        name: f.name,
        description: f.description,
        input_schema: Some(
            f.parameters
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
        ),
        kind: None,
        cache_control: None,
        extra: Map::new(),
    })
}

/// `tool_choice` and `parallel_tool_calls` → Anthropic `tool_choice`.
fn tool_choice_of(
    choice: Option<ToolChoice>,
    parallel: Option<bool>,
    has_tools: bool,
) -> Option<anthropic::ToolChoice> {
    let disable = (parallel == Some(false)).then_some(true);
    Some(match choice {
        None if disable.is_some() && has_tools => anthropic::ToolChoice::Auto {
            disable_parallel_tool_use: disable,
        },
        None => return None,
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => anthropic::ToolChoice::None,
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => anthropic::ToolChoice::Auto {
            disable_parallel_tool_use: disable,
        },
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => anthropic::ToolChoice::Any {
            disable_parallel_tool_use: disable,
        },
        Some(ToolChoice::Named(named)) => anthropic::ToolChoice::Tool {
            name: named.function.name,
            disable_parallel_tool_use: disable,
        },
    })
}
