//! Fields outside the typed core of a request: which are dropped because dropping them
//! cannot change what the answer means, which are mapped, and which are refused.
//!
//! A field whose value is `null` is always dropped: null means "default" in both APIs.

use serde_json::{Map, Value};

use crate::llm::TranslateError;

/// What the Anthropic request gains from the OpenAI extras.
#[derive(Debug, Default)]
pub(crate) struct AnthropicExtras {
    /// `top_k`, a vendor extension some OpenAI-compatible clients send (vLLM's).
    pub top_k: Option<u32>,
}

/// Top-level unknown fields of an OpenAI chat request bound for Anthropic.
pub(crate) fn openai_request_extras(
    extra: Map<String, Value>,
) -> Result<AnthropicExtras, TranslateError> {
    let mut out = AnthropicExtras::default();
    for (key, value) in extra {
        if value.is_null() {
            continue;
        }
        let refuse = |why: &str| Err(TranslateError::new(key.as_str(), why));
        match key.as_str() {
            // Reproducibility, storage, billing and latency hints: the answer means the
            // same without them.
            "seed" | "store" | "metadata" | "service_tier" | "prediction" => {}
            "frequency_penalty" | "presence_penalty" if value.as_f64() == Some(0.0) => {}
            "frequency_penalty" | "presence_penalty" => {
                return refuse("Anthropic has no repetition penalties; only 0 can be translated")
            }
            "logprobs" if value == Value::Bool(false) => {}
            "logprobs" | "top_logprobs" => return refuse("Anthropic returns no log probabilities"),
            "logit_bias" if value.as_object().is_some_and(Map::is_empty) => {}
            "logit_bias" => return refuse("Anthropic has no logit bias"),
            "modalities"
                if value
                    .as_array()
                    .is_some_and(|m| m.iter().all(|v| v == "text")) => {}
            "modalities" | "audio" => return refuse("Anthropic does not produce audio"),
            "top_k" => match value.as_u64().and_then(|k| u32::try_from(k).ok()) {
                Some(k) => out.top_k = Some(k),
                None => return refuse("must be a non-negative integer"),
            },
            "reasoning_effort" => {
                return refuse("maps to Anthropic extended thinking, which is not translated")
            }
            "functions" | "function_call" => {
                return refuse("deprecated function calling is not translated; use tools")
            }
            "web_search_options" => return refuse("web search is not translated to Anthropic"),
            _ => return refuse("unknown field; cannot be translated to Anthropic"),
        }
    }
    Ok(out)
}

/// Unknown fields of one OpenAI message bound for Anthropic; `at` is the message's path.
pub(crate) fn openai_message_extras(
    extra: &Map<String, Value>,
    at: &str,
) -> Result<(), TranslateError> {
    for (key, value) in extra {
        match key.as_str() {
            _ if value.is_null() => {}
            // URL citations and another vendor's reasoning text in assistant history: the
            // conversation means the same without them.
            "annotations" | "reasoning_content" => {}
            _ => {
                return Err(TranslateError::new(
                    format!("{at}.{key}"),
                    "unknown message field; cannot be translated to Anthropic",
                ))
            }
        }
    }
    Ok(())
}

/// Top-level unknown fields of an Anthropic request bound for OpenAI.
pub(crate) fn anthropic_request_extras(extra: Map<String, Value>) -> Result<(), TranslateError> {
    for (key, value) in extra {
        if value.is_null() {
            continue;
        }
        match key.as_str() {
            "thinking" if value.get("type").is_some_and(|t| t == "disabled") => {}
            "thinking" => {
                return Err(TranslateError::new(
                    key,
                    "extended thinking has no OpenAI chat equivalent",
                ))
            }
            // Capacity tier: the answer means the same on either.
            "service_tier" => {}
            _ => {
                return Err(TranslateError::new(
                    key,
                    "unknown field; cannot be translated to OpenAI",
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn openai_extras_table() {
        let ok = json!({"seed": 7, "store": false, "frequency_penalty": 0, "presence_penalty": 0.0,
            "logprobs": false, "logit_bias": {}, "modalities": ["text"], "top_k": 40, "foo": null});
        assert_eq!(
            openai_request_extras(map(ok)).expect("harmless").top_k,
            Some(40)
        );
        for (key, value) in [
            ("frequency_penalty", json!(0.5)),
            ("logprobs", json!(true)),
            ("top_logprobs", json!(2)),
            ("logit_bias", json!({"50256": -100})),
            ("modalities", json!(["text", "audio"])),
            ("top_k", json!(-1)),
            ("reasoning_effort", json!("high")),
            ("functions", json!([])),
            ("made_up", json!(1)),
        ] {
            let err = openai_request_extras(map(json!({ key: value }))).expect_err(key);
            assert_eq!(err.field, key);
        }
    }

    #[test]
    fn anthropic_extras_table() {
        assert!(
            anthropic_request_extras(map(json!({"thinking": {"type": "disabled"},
            "service_tier": "auto"})))
            .is_ok()
        );
        let err = anthropic_request_extras(map(json!({"thinking": {"type": "enabled",
            "budget_tokens": 1024}})))
        .expect_err("thinking");
        assert_eq!(err.field, "thinking");
        assert!(anthropic_request_extras(map(json!({"container": "x"}))).is_err());
    }

    #[test]
    fn message_extras() {
        assert!(openai_message_extras(&map(json!({"annotations": []})), "messages[1]").is_ok());
        let err = openai_message_extras(&map(json!({"audio": {"id": "a"}})), "messages[1]")
            .expect_err("audio");
        assert_eq!(err.field, "messages[1].audio");
    }
}
