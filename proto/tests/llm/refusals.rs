//! What cannot be translated is refused with the field named, never dropped.

use serde_json::{json, Value};
use tollgate_proto::llm::anthropic::{ErrorResponse as AnthropicError, MessagesRequest};
use tollgate_proto::llm::openai::{ChatRequest, ErrorResponse as OpenAiError};
use tollgate_proto::llm::translate::{
    chat_response_to_messages, chat_to_messages, messages_response_to_chat, messages_to_chat,
    ToAnthropicOptions, ToOpenAiOptions,
};

use crate::support::{to_value, typed, value};

fn with(base: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = value(base);
    edit(&mut v);
    v
}

#[test]
fn openai_requests_refused_for_anthropic() {
    let base = "requests/tool_round_trip.openai.json";
    let cases: Vec<(Value, &str)> = vec![
        (with(base, |v| v["n"] = json!(2)), "n"),
        (with(base, |v| v["temperature"] = json!(1.5)), "temperature"),
        (
            with(base, |v| {
                v["response_format"] = json!({"type":"json_object"})
            }),
            "response_format",
        ),
        (
            with(base, |v| {
                v["response_format"] = json!({"type":"json_schema",
            "json_schema":{"name":"x","schema":{"type":"object"}}})
            }),
            "response_format",
        ),
        (with(base, |v| v["logprobs"] = json!(true)), "logprobs"),
        (
            with(base, |v| v["presence_penalty"] = json!(0.4)),
            "presence_penalty",
        ),
        (
            with(base, |v| v["some_new_field"] = json!("x")),
            "some_new_field",
        ),
        (
            with(base, |v| {
                v["messages"][0]["content"] = json!([{"type":"input_audio",
            "input_audio":{"data":"AAAA","format":"wav"}}])
            }),
            "messages[0].content[0]",
        ),
        (
            with(base, |v| {
                v["messages"][0]["content"] = json!([{"type":"file",
            "file":{"file_id":"file-1"}}])
            }),
            "messages[0].content[0]",
        ),
        (
            with(base, |v| {
                v["messages"][0]["content"] = json!([{"type":"video_url",
            "video_url":{"url":"https://x"}}])
            }),
            "messages[0].content[0].type",
        ),
        (
            with(base, |v| {
                v["messages"][0]["content"] = json!([{"type":"image_url",
            "image_url":{"url":"ftp://x/y.png"}}])
            }),
            "messages[0].content[0].image_url.url",
        ),
        (
            with(base, |v| {
                v["messages"][1]["tool_calls"][0]["function"]["arguments"] = json!("{not json")
            }),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            with(base, |v| {
                v["messages"][1]["tool_calls"][0]["function"]["arguments"] = json!("[1,2]")
            }),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            with(base, |v| {
                v["messages"][2]
                    .as_object_mut()
                    .map(|m| m.remove("tool_call_id"))
                    .map(drop)
                    .unwrap_or_default()
            }),
            "messages[2].tool_call_id",
        ),
        (
            with(base, |v| {
                v["messages"][0] = json!({"role":"function","name":"f","content":"x"})
            }),
            "messages[0].role",
        ),
        (
            with(base, |v| {
                v["messages"][0] = json!({"role":"system","content":[
            {"type":"image_url","image_url":{"url":"https://x/y.png"}}]})
            }),
            "messages[0].content[0]",
        ),
        (
            with(base, |v| {
                v["tools"][0] = json!({"type":"custom","custom":{"name":"x"}})
            }),
            "tools[0].type",
        ),
    ];
    for (body, field) in cases {
        let mut bytes = serde_json::to_vec(&body).expect("json");
        let req: ChatRequest = tollgate_proto::llm::json::parse(&mut bytes).expect(field);
        let err = chat_to_messages(req, &ToAnthropicOptions::default()).expect_err(field);
        assert_eq!(err.field, field, "{err}");
        assert!(err.to_string().starts_with(field));
        // The 400 each API's client gets names the field.
        let oa = to_value(&OpenAiError::from_translate(&err));
        assert_eq!(oa["error"]["param"], field);
        assert_eq!(oa["error"]["type"], "invalid_request_error");
        let an = to_value(&AnthropicError::from_translate(&err));
        assert_eq!(an["error"]["type"], "invalid_request_error");
        assert!(an["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(field));
    }
}

#[test]
fn anthropic_requests_refused_for_openai() {
    let base = "requests/parallel_tool_calls.anthropic.json";
    let cases: Vec<(Value, &str)> = vec![
        (with(base, |v| v["top_k"] = json!(40)), "top_k"),
        (
            with(base, |v| {
                v["thinking"] = json!({"type":"enabled","budget_tokens":2048})
            }),
            "thinking",
        ),
        (with(base, |v| v["mcp_servers"] = json!([])), "mcp_servers"),
        (
            with(base, |v| {
                v["metadata"] = json!({"user_id":"u","tenant":"t"})
            }),
            "metadata.tenant",
        ),
        (
            with(
                base,
                |v| {
                    v["system"] =
                        json!([{"type":"image","source":{"type":"url","url":"https://x"}}])
                },
            ),
            "system[0]",
        ),
        (
            with(base, |v| {
                v["messages"][1]["content"][0] = json!({"type":"thinking","thinking":"hm",
            "signature":"s"})
            }),
            "messages[1].content[0]",
        ),
        (
            with(base, |v| {
                v["messages"][0]["content"] = json!([{"type":"document",
            "source":{"type":"text","media_type":"text/plain","data":"x"}}])
            }),
            "messages[0].content[0]",
        ),
        (
            with(base, |v| {
                v["messages"][0]["content"] = json!([{"type":"image",
            "source":{"type":"file","file_id":"file_1"}}])
            }),
            "messages[0].content[0].source",
        ),
        (
            with(base, |v| {
                v["messages"][0]["content"] = json!([{"type":"search_result_v9"}])
            }),
            "messages[0].content[0]",
        ),
        (
            with(base, |v| {
                v["messages"][2]["content"][0]["content"] = json!([{"type":"image",
            "source":{"type":"url","url":"https://x/y.png"}}])
            }),
            "messages[2].content[0].content[0]",
        ),
        (
            with(base, |v| {
                v["tools"][0] = json!({"type":"web_search_20250305","name":"web_search"})
            }),
            "tools[0].type",
        ),
        (
            with(base, |v| v["tools"][0] = json!({"name":"no_schema"})),
            "tools[0].input_schema",
        ),
    ];
    for (body, field) in cases {
        let mut bytes = serde_json::to_vec(&body).expect("json");
        let req: MessagesRequest = tollgate_proto::llm::json::parse(&mut bytes).expect(field);
        let err = messages_to_chat(req, &ToOpenAiOptions::default()).expect_err(field);
        assert_eq!(err.field, field, "{err}");
    }
}

#[test]
fn anthropic_requires_max_tokens() {
    let mut bytes = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#.to_vec();
    let err =
        tollgate_proto::llm::json::parse::<MessagesRequest>(&mut bytes).expect_err("no max_tokens");
    assert!(err.to_string().contains("max_tokens"), "{err}");
}

#[test]
fn meaning_neutral_fields_are_accepted() {
    let body = with("requests/tool_round_trip.openai.json", |v| {
        v["seed"] = json!(42);
        v["store"] = json!(false);
        v["frequency_penalty"] = json!(0);
        v["n"] = json!(1);
        v["response_format"] = json!({"type":"text"});
        v["stream_options"] = json!({"include_usage": true});
        v["messages"][0]["name"] = json!("alice");
    });
    let req: ChatRequest = serde_json::from_value(body).expect("valid");
    let got = chat_to_messages(req, &ToAnthropicOptions::default()).expect("translatable");
    let expected: MessagesRequest = typed("requests/tool_round_trip.anthropic.json");
    assert_eq!(got, expected);
}

#[test]
fn broken_provider_responses_are_errors() {
    let mut v = value("responses/tool_calls.openai.json");
    v["choices"][0]["message"]["tool_calls"][1]["function"]["arguments"] = json!("{\"location\":");
    let resp = serde_json::from_value(v).expect("valid");
    let err = chat_response_to_messages(resp, "m".into()).expect_err("bad arguments");
    assert_eq!(
        err.field,
        "choices[0].message.tool_calls[1].function.arguments"
    );

    let mut v = value("responses/text.openai.json");
    v["choices"] = json!([]);
    let resp = serde_json::from_value(v).expect("valid");
    assert_eq!(
        chat_response_to_messages(resp, "m".into()).map_err(|e| e.field),
        Err("choices".into())
    );

    let mut v = value("responses/text.anthropic.json");
    v["content"] = json!([{"type":"server_tool_use","id":"s","name":"web_search","input":{}}]);
    let resp = serde_json::from_value(v).expect("valid");
    let err = messages_response_to_chat(resp, "c".into(), 0).expect_err("server tool");
    assert_eq!(err.field, "content[0]");
}
