//! Whole responses: OpenAI → Anthropic and back.

use tollgate_proto::llm::anthropic::MessagesResponse;
use tollgate_proto::llm::openai::ChatResponse;
use tollgate_proto::llm::translate::{chat_response_to_messages, messages_response_to_chat};

use crate::support::{assert_json_eq, back_or_same, to_value, typed, value};

const CASES: &[&str] = &["text", "tool_calls", "text_and_tool"];

/// Ids and timestamps come from the caller; take them from the expected side.
fn ids(case: &str) -> (String, String, u64) {
    let anthropic = value(&format!("responses/{case}.anthropic.json"));
    let openai = value(&format!("responses/{case}.openai.json"));
    (
        anthropic["id"].as_str().unwrap_or_default().to_owned(),
        openai["id"].as_str().unwrap_or_default().to_owned(),
        openai["created"].as_u64().unwrap_or_default(),
    )
}

#[test]
fn openai_to_anthropic() {
    for case in CASES {
        let (message_id, _, _) = ids(case);
        let resp: ChatResponse = typed(&format!("responses/{case}.openai.json"));
        let got = chat_response_to_messages(resp, message_id).expect("translatable");
        let expected = value(&back_or_same("responses", case, "anthropic"));
        assert_json_eq(&to_value(&got), &expected, case);
    }
}

#[test]
fn anthropic_to_openai() {
    for case in CASES {
        let (_, completion_id, created) = ids(case);
        let resp: MessagesResponse = typed(&format!("responses/{case}.anthropic.json"));
        let got = messages_response_to_chat(resp, completion_id, created).expect("translatable");
        let expected = value(&back_or_same("responses", case, "openai"));
        assert_json_eq(&to_value(&got), &expected, case);
    }
}

#[test]
fn finish_reasons_in_whole_responses() {
    let cases = [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        ("tool_calls", "tool_use"),
    ];
    for (finish, stop) in cases {
        let mut v = value("responses/text.openai.json");
        v["choices"][0]["finish_reason"] = finish.into();
        let resp: ChatResponse = serde_json::from_value(v).expect("valid");
        let got = chat_response_to_messages(resp, "msg_1".into()).expect("translatable");
        assert_eq!(to_value(&got)["stop_reason"], stop);

        let mut v = value("responses/text.anthropic.json");
        v["stop_reason"] = stop.into();
        let resp: MessagesResponse = serde_json::from_value(v).expect("valid");
        let got = messages_response_to_chat(resp, "c".into(), 0).expect("translatable");
        assert_eq!(to_value(&got)["choices"][0]["finish_reason"], finish);
    }
}

#[test]
fn refusal_text_is_kept() {
    let mut v = value("responses/text.openai.json");
    v["choices"][0]["message"]["content"] = serde_json::Value::Null;
    v["choices"][0]["message"]["refusal"] = "I can't help with that.".into();
    let resp: ChatResponse = serde_json::from_value(v).expect("valid");
    let got = to_value(&chat_response_to_messages(resp, "m".into()).expect("translatable"));
    assert_eq!(
        got["content"],
        serde_json::json!([{"type":"text","text":"I can't help with that."}])
    );
}
