//! Streams: both state machines against recorded-style streams, event by event, plus the
//! round trip through both and the failure cases.

use serde_json::{json, Value};
use tollgate_proto::llm::anthropic::{BlockDelta, ContentBlock, StreamEvent};
use tollgate_proto::llm::openai::{self, ChatChunk};
use tollgate_proto::llm::translate::{
    AnthropicToOpenAiStream, OpenAiStreamItem, OpenAiToAnthropicStream,
};

use crate::support::{assert_json_eq, to_value, typed};

fn to_anthropic(chunks: Vec<ChatChunk>, id: &str, input_estimate: u64) -> Vec<StreamEvent> {
    let mut sm = OpenAiToAnthropicStream::new(id).with_input_tokens(input_estimate);
    let mut out = Vec::new();
    for chunk in chunks {
        sm.push(chunk, &mut out).expect("translatable chunk");
    }
    sm.finish(&mut out).expect("complete stream");
    assert!(sm.is_finished());
    out
}

fn to_openai(events: Vec<StreamEvent>, id: &str, include_usage: bool) -> Vec<ChatChunk> {
    let mut sm = AnthropicToOpenAiStream::new(id, 1_700_000_000, include_usage);
    let mut out = Vec::new();
    for event in events {
        sm.push(event, &mut out).expect("translatable event");
    }
    assert!(sm.is_finished());
    out.into_iter()
        .map(|item| match item {
            OpenAiStreamItem::Chunk(c) => c,
            OpenAiStreamItem::Error(e) => panic!("unexpected error {e:?}"),
        })
        .collect()
}

#[track_caller]
fn assert_events_eq<T: serde::Serialize>(got: &[T], fixture: &str) {
    let expected: Vec<Value> = crate::support::value(fixture)
        .as_array()
        .cloned()
        .unwrap_or_default();
    let got: Vec<Value> = got.iter().map(to_value).collect();
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_json_eq(g, e, &format!("{fixture} event {i}"));
    }
    assert_eq!(got.len(), expected.len(), "{fixture}: event count");
}

#[test]
fn openai_text_stream_with_usage_chunk() {
    let chunks = typed("streams/openai_text.openai.json");
    let events = to_anthropic(chunks, "msg_gw_1", 11);
    assert_events_eq(&events, "streams/openai_text.anthropic.json");
}

#[test]
fn openai_stream_with_tool_call_argument_deltas() {
    let chunks = typed("streams/openai_tools.openai.json");
    let events = to_anthropic(chunks, "msg_gw_2", 0);
    assert_events_eq(&events, "streams/openai_tools.anthropic.json");
}

#[test]
fn anthropic_text_stream_with_usage() {
    let events = typed("streams/anthropic_text.anthropic.json");
    let chunks = to_openai(events, "chatcmpl-gw-1", true);
    assert_events_eq(&chunks, "streams/anthropic_text.openai.json");
}

#[test]
fn anthropic_stream_with_input_json_deltas() {
    let events = typed("streams/anthropic_tools.anthropic.json");
    let chunks = to_openai(events, "chatcmpl-gw-2", false);
    assert_events_eq(&chunks, "streams/anthropic_tools.openai.json");
}

#[test]
fn no_usage_chunk_unless_the_client_asked() {
    let events = typed("streams/anthropic_text.anthropic.json");
    let chunks = to_openai(events, "c", false);
    let last = chunks.last().expect("chunks");
    assert_eq!(to_value(last)["choices"][0]["finish_reason"], "stop");
    assert!(chunks.iter().all(|c| c.usage.is_none()));
}

/// What a client reassembles from a stream: text, tool calls, the reason it ended.
#[derive(Debug, PartialEq)]
struct Assembled {
    text: String,
    calls: Vec<(String, String, String)>,
    reason: String,
}

fn assemble_anthropic(events: &[StreamEvent]) -> Assembled {
    let mut a = Assembled {
        text: String::new(),
        calls: Vec::new(),
        reason: String::new(),
    };
    for event in events {
        match event {
            StreamEvent::ContentBlockStart {
                content_block: ContentBlock::ToolUse { id, name, .. },
                ..
            } => a.calls.push((id.clone(), name.clone(), String::new())),
            StreamEvent::ContentBlockDelta { delta, .. } => match delta {
                BlockDelta::TextDelta { text } => a.text.push_str(text),
                BlockDelta::InputJsonDelta { partial_json } => {
                    if let Some(call) = a.calls.last_mut() {
                        call.2.push_str(partial_json);
                    }
                }
                _ => {}
            },
            StreamEvent::MessageDelta { delta, .. } => {
                a.reason = delta
                    .stop_reason
                    .as_ref()
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default();
            }
            _ => {}
        }
    }
    a
}

fn assemble_openai(chunks: &[ChatChunk]) -> Assembled {
    let mut a = Assembled {
        text: String::new(),
        calls: Vec::new(),
        reason: String::new(),
    };
    for choice in chunks.iter().flat_map(|c| &c.choices) {
        a.text
            .push_str(choice.delta.content.as_deref().unwrap_or_default());
        for call in choice.delta.tool_calls.iter().flatten() {
            let i = call.index as usize;
            if a.calls.len() <= i {
                a.calls.resize(i + 1, Default::default());
            }
            if let Some(id) = &call.id {
                a.calls[i].0.clone_from(id);
            }
            let f = call.function.clone().unwrap_or_default();
            if let Some(name) = f.name {
                a.calls[i].1 = name;
            }
            a.calls[i].2.push_str(&f.arguments.unwrap_or_default());
        }
        if let Some(r) = &choice.finish_reason {
            a.reason = r.as_str().to_owned();
        }
    }
    a
}

/// Through both translators and back, a client reassembles the same message.
#[test]
fn streams_round_trip() {
    for fixture in [
        "streams/anthropic_text.anthropic.json",
        "streams/anthropic_tools.anthropic.json",
    ] {
        let events: Vec<StreamEvent> = typed(fixture);
        let chunks = to_openai(events.clone(), "c", true);
        let back = to_anthropic(chunks, "m", 0);
        assert_eq!(
            assemble_anthropic(&back),
            assemble_anthropic(&events),
            "{fixture}"
        );
    }
    for fixture in [
        "streams/openai_text.openai.json",
        "streams/openai_tools.openai.json",
    ] {
        let chunks: Vec<ChatChunk> = typed(fixture);
        let events = to_anthropic(chunks.clone(), "m", 0);
        let back = to_openai(events, "c", true);
        assert_eq!(
            assemble_openai(&back),
            assemble_openai(&chunks),
            "{fixture}"
        );
        assert_eq!(
            back.last().and_then(|c| c.usage.clone()),
            chunks.last().and_then(|c| c.usage.clone()).map(|mut u| {
                u.completion_tokens_details = None;
                u.prompt_tokens_details =
                    u.prompt_tokens_details
                        .map(|d| openai::PromptTokensDetails {
                            audio_tokens: None,
                            ..d
                        });
                u
            }),
            "{fixture}: usage"
        );
    }
}

fn chunk(v: Value) -> ChatChunk {
    serde_json::from_value(v).expect("valid chunk")
}

#[test]
fn usage_in_the_finish_chunk_and_missing_usage() {
    // Some compatible servers put the usage on the chunk with finish_reason.
    let mut sm = OpenAiToAnthropicStream::new("m");
    let mut out = Vec::new();
    let c = chunk(
        json!({"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"length"}],
        "usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}),
    );
    sm.push(c, &mut out).expect("ok");
    assert!(sm.is_finished());
    let delta = to_value(&out[out.len() - 2]);
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens");
    assert_eq!(delta["usage"], json!({"output_tokens":1,"input_tokens":5}));

    // No usage at all: the stream still ends well-formed at [DONE].
    let mut sm = OpenAiToAnthropicStream::new("m");
    let mut out = Vec::new();
    let c = chunk(json!({"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}));
    sm.push(c, &mut out).expect("ok");
    assert!(!sm.is_finished());
    sm.finish(&mut out).expect("ok");
    let names: Vec<_> = out.iter().map(StreamEvent::event_name).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
}

#[test]
fn text_after_tool_calls_opens_a_new_block() {
    let mut sm = OpenAiToAnthropicStream::new("m");
    let mut out = Vec::new();
    for v in [
        json!({"choices":[{"index":0,"delta":{"content":"Let me look."}}]}),
        json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":"{}"}}]}}]}),
        json!({"choices":[{"index":0,"delta":{"content":"Done."},"finish_reason":"stop"}]}),
    ] {
        sm.push(chunk(v), &mut out).expect("ok");
    }
    sm.finish(&mut out).expect("ok");
    let starts: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => Some((*index, content_block.type_name())),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [(0, "text"), (1, "tool_use"), (2, "text")]);
}

#[test]
fn broken_openai_streams_are_errors_not_panics() {
    let cases = [
        (
            json!([{"choices":[{"index":1,"delta":{"content":"x"}}]}]),
            "choices[0].index",
        ),
        (
            json!([{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"f"}}]}}]}]),
            "choices[0].delta.tool_calls[0].id",
        ),
        (
            json!([{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a"}]}}]}]),
            "choices[0].delta.tool_calls[0].function.name",
        ),
        (
            json!([
            {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f"}}]}}]},
            {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g"}}]}}]},
            {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}]),
            "choices[0].delta.tool_calls[0].index",
        ),
    ];
    for (chunks, field) in cases {
        let mut sm = OpenAiToAnthropicStream::new("m");
        let mut out = Vec::new();
        let err = chunks
            .as_array()
            .into_iter()
            .flatten()
            .try_for_each(|c| sm.push(chunk(c.clone()), &mut out))
            .expect_err(field);
        assert_eq!(err.field, field);
    }
    let mut sm = OpenAiToAnthropicStream::new("m");
    let mut out = Vec::new();
    sm.push(
        chunk(json!({"choices":[{"index":0,"delta":{"content":"cut"}}]})),
        &mut out,
    )
    .expect("ok");
    assert_eq!(
        sm.finish(&mut out).map_err(|e| e.field),
        Err("finish_reason".to_owned())
    );
}

#[test]
fn errors_mid_stream_end_the_stream_in_the_clients_format() {
    let mut sm = OpenAiToAnthropicStream::new("m");
    let mut out = Vec::new();
    sm.push(
        chunk(json!({"choices":[{"index":0,"delta":{"content":"par"}}]})),
        &mut out,
    )
    .expect("ok");
    let err = openai::ErrorResponse::for_status(500, "upstream broke").error;
    sm.push_error(err, &mut out);
    assert!(sm.is_finished());
    assert_eq!(
        to_value(out.last().expect("event")),
        json!({"type":"error","error":{"type":"api_error","message":"upstream broke"}})
    );

    let events: Vec<StreamEvent> = typed("streams/anthropic_text.anthropic.json");
    let mut sm = AnthropicToOpenAiStream::new("c", 0, true);
    let mut out = Vec::new();
    for e in events.into_iter().take(3) {
        sm.push(e, &mut out).expect("ok");
    }
    let overloaded: StreamEvent = serde_json::from_value(
        json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
    )
    .expect("valid");
    sm.push(overloaded, &mut out).expect("ok");
    assert!(sm.is_finished());
    match out.last() {
        Some(OpenAiStreamItem::Error(e)) => {
            assert_eq!(
                (e.error.kind.as_str(), e.error.message.as_str()),
                ("server_error", "Overloaded")
            )
        }
        other => panic!("expected an error item, got {other:?}"),
    }
    assert!(sm.push(StreamEvent::MessageStop, &mut out).is_err());
}

#[test]
fn broken_anthropic_streams_are_errors_not_panics() {
    let start: StreamEvent =
        typed::<Vec<StreamEvent>>("streams/anthropic_text.anthropic.json").remove(0);
    let bad: [&[Value]; 5] = [
        &[json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}})],
        &[
            json!({"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}),
        ],
        &[
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}),
        ],
        &[
            json!({"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"s","name":"web_search","input":{}}}),
        ],
        &[json!({"type":"message_stop"})],
    ];
    for events in bad {
        let mut sm = AnthropicToOpenAiStream::new("c", 0, true);
        let mut out = Vec::new();
        sm.push(start.clone(), &mut out).expect("start");
        let result = events.iter().try_for_each(|e| {
            let e: StreamEvent = serde_json::from_value(e.clone()).expect("parses");
            sm.push(e, &mut out)
        });
        assert!(result.is_err(), "{events:?} accepted");
    }
    // Events before message_start, and unknown event types (ignored).
    let mut sm = AnthropicToOpenAiStream::new("c", 0, true);
    let mut out = Vec::new();
    let unknown: StreamEvent =
        serde_json::from_value(json!({"type":"brand_new_event","x":1})).expect("parses");
    sm.push(unknown, &mut out).expect("ignored");
    assert!(sm.push(StreamEvent::MessageStop, &mut out).is_err());
}

#[test]
fn waits_for_a_chunk_with_choices_and_can_rename_the_model() {
    let mut sm = OpenAiToAnthropicStream::new("m").with_model("my-alias");
    let mut out = Vec::new();
    let azure_first = chunk(
        json!({"id":"","object":"","created":0,"model":"","choices":[],
        "prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}),
    );
    sm.push(azure_first, &mut out).expect("ok");
    assert!(out.is_empty());
    let first = chunk(json!({"model":"gpt-4o-2024-08-06",
        "choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}));
    sm.push(first, &mut out).expect("ok");
    assert_eq!(to_value(&out[0])["message"]["model"], "my-alias");

    let events: Vec<StreamEvent> = typed("streams/anthropic_text.anthropic.json");
    let mut sm = AnthropicToOpenAiStream::new("c", 0, true).with_model("my-alias");
    let mut out = Vec::new();
    for e in events {
        sm.push(e, &mut out).expect("ok");
    }
    assert!(out.iter().all(|i| match i {
        OpenAiStreamItem::Chunk(c) => c.model == "my-alias",
        OpenAiStreamItem::Error(_) => false,
    }));
    assert_eq!(sm.usage().cache_read_input_tokens, Some(20));
}
