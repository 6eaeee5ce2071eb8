//! The mock's streams, parsed back with the SSE parser: event sequences match the
//! documented shapes, stream text equals the non-streaming text, usage is correct.

use serde_json::{json, Value};

use super::stream::Seq;
use super::{anthropic, make_gen, openai, Endpoint};
use crate::sse::{SseParser, StreamTracker};

fn events(ep: Endpoint, req: &Value, tokens: u32) -> Vec<(String, Value)> {
    let gen = make_gen(ep, req, tokens);
    let mut seq = match ep {
        Endpoint::Chat => Seq::Chat(openai::ChatSeq::default()),
        Endpoint::Completions => Seq::Completion(openai::CompletionSeq::default()),
        _ => Seq::Messages(anthropic::MessagesSeq::default()),
    };
    let mut bytes = Vec::new();
    while let Some(p) = seq.next(&gen) {
        bytes.extend_from_slice(p.bytes.as_bytes());
    }
    let mut out = Vec::new();
    // Feed in odd-sized pieces, as a network would deliver them.
    let mut parser = SseParser::default();
    for piece in bytes.chunks(7) {
        parser.feed(piece, |e| {
            let data = String::from_utf8_lossy(e.data).into_owned();
            let v = serde_json::from_str(&data).unwrap_or(Value::String(data));
            out.push((String::from_utf8_lossy(e.event).into_owned(), v));
        });
    }
    out
}

#[test]
fn anthropic_event_sequence() {
    let req = json!({"model": "c", "stream": true, "max_tokens": 3, "messages": [{"role": "user", "content": "a b"}]});
    let evs = events(Endpoint::Messages, &req, 16);
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    for (name, data) in &evs {
        assert_eq!(
            data["type"],
            name.as_str(),
            "the data's type names the event"
        );
    }
    assert_eq!(evs[0].1["message"]["usage"]["input_tokens"], 2);
    assert_eq!(evs[7].1["usage"]["output_tokens"], 3);
    assert_eq!(evs[7].1["delta"]["stop_reason"], "max_tokens");
    let text: String = evs
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    let gen = make_gen(Endpoint::Messages, &req, 16);
    assert_eq!(
        anthropic::message_body(&gen)["content"][0]["text"],
        text.as_str()
    );
}

#[test]
fn openai_chat_sequence_with_usage_and_n() {
    let req = json!({"model": "m", "stream": true, "n": 2, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "x y z"}]});
    let evs = events(Endpoint::Chat, &req, 4);
    // 2 role chunks, 4 tokens x 2 choices, 2 finish chunks, usage chunk, [DONE].
    assert_eq!(evs.len(), 2 + 8 + 2 + 1 + 1);
    assert_eq!(evs.last().unwrap().1, Value::String("[DONE]".into()));
    let usage = &evs[evs.len() - 2].1;
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 8, "total_tokens": 11})
    );
    for (_, d) in &evs[..evs.len() - 2] {
        assert_eq!(d["object"], "chat.completion.chunk");
        assert!(
            d["usage"].is_null() && d.get("usage").is_some(),
            "usage: null on every chunk"
        );
    }
    let gen = make_gen(Endpoint::Chat, &req, 4);
    let body = openai::chat_body(&gen);
    for c in 0..2u64 {
        let text: String = evs
            .iter()
            .filter(|(_, d)| d["choices"][0]["index"] == c)
            .filter_map(|(_, d)| d["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert_eq!(
            body["choices"][c as usize]["message"]["content"],
            text.as_str()
        );
    }
}

#[test]
fn openai_tool_call_stream() {
    let req = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "q"}],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"properties": {"a": {}, "b": {}}}}}]});
    let evs = events(Endpoint::Chat, &req, 4);
    let first = &evs[0].1["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["function"]["name"], "lookup");
    let args: String = evs
        .iter()
        .filter_map(|(_, d)| {
            d["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
        })
        .collect();
    let parsed: Value = serde_json::from_str(&args).unwrap();
    assert!(parsed["a"].is_string() && parsed["b"].is_string());
    assert_eq!(
        evs[evs.len() - 2].1["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn the_load_generator_reads_the_mock_streams() {
    let req = json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "x"}]});
    for (ep, want_events) in [
        (Endpoint::Chat, 1 + 5 + 1 + 1 + 1),
        (Endpoint::Messages, 5 + 6),
    ] {
        let gen = make_gen(ep, &req, 5);
        let mut seq = match ep {
            Endpoint::Chat => Seq::Chat(openai::ChatSeq::default()),
            _ => Seq::Messages(anthropic::MessagesSeq::default()),
        };
        let mut parser = SseParser::default();
        let mut tracker = StreamTracker::new();
        while let Some(p) = seq.next(&gen) {
            parser.feed(p.bytes.as_bytes(), |e| {
                tracker.on_event(&e, std::time::Duration::ZERO);
            });
        }
        let f = tracker.figures;
        assert_eq!(f.events, want_events, "{ep:?}");
        assert_eq!(f.token_events, 5);
        assert_eq!(f.usage.and_then(|u| u.output), Some(5));
        assert_eq!(f.usage.and_then(|u| u.input), Some(1));
        assert!(f.finished && !f.error_event);
    }
}
