//! Finish/stop reasons and usage, both ways.
//!
//! | OpenAI `finish_reason` | Anthropic `stop_reason` | back to OpenAI |
//! |------------------------|-------------------------|----------------|
//! | `stop`                 | `end_turn`              | `stop`         |
//! | (a stop sequence hit)  | `stop_sequence`         | `stop`         |
//! | `length`               | `max_tokens`            | `length`       |
//! | `tool_calls`           | `tool_use`              | `tool_calls`   |
//! | `function_call`        | `tool_use`              | `tool_calls`   |
//! | `content_filter`       | `refusal`               | `content_filter` |
//! | —                      | `pause_turn`            | `stop`         |
//! | —                      | `model_context_window_exceeded` | `length` |
//! | anything else          | kept verbatim           | kept verbatim  |
//!
//! OpenAI does not say whether `stop` came from a stop sequence, so it maps to `end_turn`
//! with `stop_sequence: null`.
//!
//! Usage: OpenAI's `prompt_tokens` *includes* cached tokens
//! (`prompt_tokens_details.cached_tokens`); Anthropic's `input_tokens` *excludes* both
//! cache reads (`cache_read_input_tokens`) and cache writes
//! (`cache_creation_input_tokens`). So `input = prompt - cached`, `cache_read = cached`,
//! and back `prompt = input + cache_read + cache_creation`, `cached = cache_read`.
//! Reasoning tokens are part of both sides' output count; Anthropic has no separate
//! field for them, so `completion_tokens_details` does not survive a trip to Anthropic.
//! Arithmetic saturates: a provider's absurd counts cannot overflow.

use crate::llm::anthropic::{self, StopReason};
use crate::llm::openai::{self, FinishReason, PromptTokensDetails};

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn finish_to_stop(reason: FinishReason) -> StopReason {
    match reason {
        FinishReason::Stop => StopReason::EndTurn,
        FinishReason::Length => StopReason::MaxTokens,
        FinishReason::ToolCalls | FinishReason::FunctionCall => StopReason::ToolUse,
        FinishReason::ContentFilter => StopReason::Refusal,
        FinishReason::Other(s) => StopReason::Other(s),
    }
}

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn stop_to_finish(reason: StopReason) -> FinishReason {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence | StopReason::PauseTurn => {
            FinishReason::Stop
        }
        StopReason::MaxTokens => FinishReason::Length,
        StopReason::ToolUse => FinishReason::ToolCalls,
        StopReason::Refusal => FinishReason::ContentFilter,
        StopReason::Other(s) if s == "model_context_window_exceeded" => FinishReason::Length,
        StopReason::Other(s) => FinishReason::Other(s),
    }
}

/// OpenAI usage → Anthropic usage.
pub fn usage_to_anthropic(usage: &openai::Usage) -> anthropic::Usage {
    let cached = usage
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens);
    anthropic::Usage {
        input_tokens: usage.prompt_tokens.saturating_sub(cached.unwrap_or(0)),
        output_tokens: usage.completion_tokens,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: cached,
        extra: Default::default(),
    }
}

/// Anthropic counts (from a response, or `message_start` plus `message_delta`) → OpenAI.
pub fn usage_to_openai(usage: &anthropic::Usage) -> openai::Usage {
    let prompt = usage
        .input_tokens
        .saturating_add(usage.cache_read_input_tokens.unwrap_or(0))
        .saturating_add(usage.cache_creation_input_tokens.unwrap_or(0));
    openai::Usage {
        prompt_tokens: prompt,
        completion_tokens: usage.output_tokens,
        total_tokens: prompt.saturating_add(usage.output_tokens),
        prompt_tokens_details: usage
            .cache_read_input_tokens
            .map(|cached| PromptTokensDetails {
                cached_tokens: Some(cached),
                audio_tokens: None,
            }),
        completion_tokens_details: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_where_both_sides_have_them() {
        let table = [
            (FinishReason::Stop, StopReason::EndTurn),
            (FinishReason::Length, StopReason::MaxTokens),
            (FinishReason::ToolCalls, StopReason::ToolUse),
            (FinishReason::ContentFilter, StopReason::Refusal),
            (
                FinishReason::Other("abort".into()),
                StopReason::Other("abort".into()),
            ),
        ];
        for (finish, stop) in table {
            assert_eq!(finish_to_stop(finish.clone()), stop);
            assert_eq!(stop_to_finish(stop), finish);
        }
        assert_eq!(
            finish_to_stop(FinishReason::FunctionCall),
            StopReason::ToolUse
        );
        assert_eq!(stop_to_finish(StopReason::StopSequence), FinishReason::Stop);
        assert_eq!(stop_to_finish(StopReason::PauseTurn), FinishReason::Stop);
        assert_eq!(
            stop_to_finish(StopReason::Other("model_context_window_exceeded".into())),
            FinishReason::Length
        );
    }

    #[test]
    fn usage_round_trips_with_cache_reads() {
        let openai = openai::Usage {
            prompt_tokens: 100,
            completion_tokens: 20,
            total_tokens: 120,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(40),
                audio_tokens: None,
            }),
            completion_tokens_details: None,
        };
        let anthropic = usage_to_anthropic(&openai);
        assert_eq!(
            (anthropic.input_tokens, anthropic.cache_read_input_tokens),
            (60, Some(40))
        );
        assert_eq!(usage_to_openai(&anthropic), openai);
    }

    #[test]
    fn cache_writes_count_as_prompt_and_nothing_overflows() {
        let usage = anthropic::Usage {
            input_tokens: u64::MAX,
            output_tokens: 5,
            cache_creation_input_tokens: Some(7),
            cache_read_input_tokens: None,
            extra: Default::default(),
        };
        let openai = usage_to_openai(&usage);
        assert_eq!(openai.prompt_tokens, u64::MAX);
        assert_eq!(openai.total_tokens, u64::MAX);
        assert_eq!(openai.prompt_tokens_details, None);
        let lying = openai::Usage {
            prompt_tokens: 1,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(9),
                audio_tokens: None,
            }),
            ..Default::default()
        };
        assert_eq!(usage_to_anthropic(&lying).input_tokens, 0);
    }
}
