//! Requests: OpenAI → Anthropic and back, for every fixture case, and the round trips.

use tollgate_proto::llm::anthropic::MessagesRequest;
use tollgate_proto::llm::openai::ChatRequest;
use tollgate_proto::llm::translate::{
    chat_to_messages, messages_to_chat, MaxTokensField, ToAnthropicOptions, ToOpenAiOptions,
};

use crate::support::{assert_json_eq, back_or_same, strip_nulls, to_value, typed, value};

const CASES: &[&str] = &[
    "plain_chat",
    "system_prompt",
    "multi_turn",
    "tool_round_trip",
    "parallel_tool_calls",
    "stop_and_forced_tool",
    "images",
];

fn to_anthropic(req: ChatRequest) -> MessagesRequest {
    chat_to_messages(req, &ToAnthropicOptions::default()).expect("translatable")
}

fn to_openai(req: MessagesRequest) -> ChatRequest {
    messages_to_chat(req, &ToOpenAiOptions::default()).expect("translatable")
}

#[test]
fn openai_to_anthropic() {
    for case in CASES {
        let req: ChatRequest = typed(&format!("requests/{case}.openai.json"));
        let got = to_value(&to_anthropic(req));
        let expected = value(&format!("requests/{case}.anthropic.json"));
        assert_json_eq(&got, &expected, case);
    }
}

#[test]
fn anthropic_to_openai() {
    for case in CASES {
        let req: MessagesRequest = typed(&format!("requests/{case}.anthropic.json"));
        let got = strip_nulls(to_value(&to_openai(req)));
        let expected = strip_nulls(value(&back_or_same("requests", case, "openai")));
        assert_json_eq(&got, &expected, case);
    }
}

/// A → B → A keeps the request for the supported subset: exactly for Anthropic, and for
/// OpenAI once in canonical form (the `_back` fixtures).
#[test]
fn round_trips() {
    for case in CASES {
        let anthropic: MessagesRequest = typed(&format!("requests/{case}.anthropic.json"));
        let again = to_anthropic(to_openai(anthropic.clone()));
        assert_json_eq(&to_value(&again), &to_value(&anthropic), case);

        let openai: ChatRequest = typed(&back_or_same("requests", case, "openai"));
        let again = to_openai(to_anthropic(openai.clone()));
        assert_json_eq(
            &strip_nulls(to_value(&again)),
            &strip_nulls(to_value(&openai)),
            case,
        );
    }
}

#[test]
fn max_tokens_rules() {
    let mut req: ChatRequest = typed("requests/plain_chat.openai.json");
    let opts = ToAnthropicOptions {
        default_max_tokens: 777,
    };
    assert_eq!(
        chat_to_messages(req.clone(), &opts).map(|r| r.max_tokens),
        Ok(777)
    );
    req.max_tokens = Some(100);
    assert_eq!(
        chat_to_messages(req.clone(), &opts).map(|r| r.max_tokens),
        Ok(100)
    );
    req.max_completion_tokens = Some(200);
    assert_eq!(chat_to_messages(req, &opts).map(|r| r.max_tokens), Ok(200));

    let anthropic: MessagesRequest = typed("requests/system_prompt.anthropic.json");
    let opts = ToOpenAiOptions {
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
    };
    let chat = messages_to_chat(anthropic, &opts).expect("translatable");
    assert_eq!(
        (chat.max_tokens, chat.max_completion_tokens),
        (None, Some(1024))
    );
}

#[test]
fn streamed_anthropic_requests_ask_openai_for_usage() {
    let mut req: MessagesRequest = typed("requests/plain_chat.anthropic.json");
    req.stream = Some(true);
    let chat = to_openai(req);
    assert_eq!(
        chat.stream_options.and_then(|o| o.include_usage),
        Some(true)
    );
}

#[test]
fn unknown_fields_survive_a_typed_round_trip() {
    let mut body = br#"{"model":"m","messages":[{"role":"user","content":"hi","x-msg":1}],
        "seed":7,"vendor_flag":{"a":[1,2]}}"#
        .to_vec();
    let req: ChatRequest = tollgate_proto::llm::json::parse(&mut body).expect("valid");
    let v = to_value(&req);
    assert_eq!(v["vendor_flag"], serde_json::json!({"a":[1,2]}));
    assert_eq!(v["seed"], 7);
    assert_eq!(v["messages"][0]["x-msg"], 1);
}
