//! The converter on recorded-shape streams, written from the providers' documented
//! formats: pass-through with and without the usage chunk, both translations, errors
//! mid-stream, streams cut short, and the accounting each produces.

use super::*;

fn feed(conv: &mut Converter, events: &[(&str, &str)], out: &mut Vec<u8>) -> Vec<Step> {
    events
        .iter()
        .map(|(kind, data)| {
            let mut raw = Vec::new();
            if !kind.is_empty() {
                raw.extend_from_slice(format!("event: {kind}\n").as_bytes());
            }
            raw.extend_from_slice(format!("data: {data}\n\n").as_bytes());
            conv.event(kind.as_bytes(), data.as_bytes(), &raw, out)
        })
        .collect()
}

const OPENAI_STREAM: [&str; 5] = [
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}"#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10,"prompt_tokens_details":{"cached_tokens":4}}}"#,
    "[DONE]",
];

fn openai_events() -> Vec<(&'static str, &'static str)> {
    OPENAI_STREAM.iter().map(|d| ("", *d)).collect()
}

fn anthropic_events() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":7,"output_tokens":1,"cache_read_input_tokens":3,"cache_creation_input_tokens":2}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        ("ping", r#"{"type":"ping"}"#),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi there"}}"#,
        ),
        (
            "content_block_stop",
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ]
}

fn conv(client: Dialect, provider: Dialect, strip: bool, include: bool) -> Converter {
    Converter::new(client, provider, strip, include, "m", "id1".into(), 1)
}

#[test]
fn openai_pass_through_strips_the_usage_chunk_the_client_did_not_ask_for() {
    let mut c = conv(Dialect::OpenAi, Dialect::OpenAi, true, false);
    let mut out = Vec::new();
    let steps = feed(&mut c, &openai_events(), &mut out);
    assert_eq!(steps.last(), Some(&Step::Done));
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("usage"), "{text}");
    assert!(text.contains("Hello") && text.ends_with("data: [DONE]\n\n"));
    let u = c.usage.unwrap();
    assert_eq!(
        (u.input, u.output, u.cache_read, u.estimated),
        (9, 1, 4, false)
    );
    assert_eq!(c.content_events, 1);
}

#[test]
fn openai_pass_through_is_byte_for_byte_when_the_client_asked_for_usage() {
    let mut c = conv(Dialect::OpenAi, Dialect::OpenAi, false, true);
    let mut out = Vec::new();
    feed(&mut c, &openai_events(), &mut out);
    let expected: String = OPENAI_STREAM
        .iter()
        .map(|d| format!("data: {d}\n\n"))
        .collect();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn anthropic_usage_combines_start_and_delta() {
    let mut c = conv(Dialect::Anthropic, Dialect::Anthropic, false, false);
    let mut out = Vec::new();
    let steps = feed(&mut c, &anthropic_events(), &mut out);
    assert_eq!(steps.last(), Some(&Step::Done));
    let u = c.usage.unwrap();
    // input 7 uncached + 3 read + 2 written.
    assert_eq!(
        (u.input, u.output, u.cache_read, u.cache_write),
        (12, 4, 3, 2)
    );
    assert!(String::from_utf8(out)
        .unwrap()
        .contains("event: message_stop"));
}

#[test]
fn anthropic_provider_to_openai_client() {
    let mut c = conv(Dialect::OpenAi, Dialect::Anthropic, false, true);
    let mut out = Vec::new();
    let steps = feed(&mut c, &anthropic_events(), &mut out);
    assert_eq!(steps.last(), Some(&Step::Done));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"content\":\"Hi there\""), "{text}");
    assert!(text.contains("\"finish_reason\":\"stop\""), "{text}");
    assert!(text.contains("\"prompt_tokens\":12"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(c.usage.unwrap().output, 4);
}

#[test]
fn anthropic_provider_to_openai_client_without_usage_chunk() {
    let mut c = conv(Dialect::OpenAi, Dialect::Anthropic, false, false);
    let mut out = Vec::new();
    feed(&mut c, &anthropic_events(), &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("prompt_tokens"), "{text}");
    // Accounting still has it.
    assert_eq!(c.usage.unwrap().input, 12);
}

#[test]
fn openai_provider_to_anthropic_client() {
    let mut c = conv(Dialect::Anthropic, Dialect::OpenAi, false, false);
    let mut out = Vec::new();
    let steps = feed(&mut c, &openai_events(), &mut out);
    assert_eq!(steps.last(), Some(&Step::Done));
    let text = String::from_utf8(out).unwrap();
    for ev in [
        "message_start",
        "content_block_delta",
        "message_delta",
        "message_stop",
    ] {
        assert!(
            text.contains(&format!("event: {ev}\n")),
            "{ev} missing in {text}"
        );
    }
    assert!(text.contains("\"text\":\"Hello\""));
    let u = c.usage.unwrap();
    assert_eq!((u.input, u.output), (9, 1));
}

#[test]
fn error_events_are_reported_not_forwarded() {
    let mut c = conv(Dialect::OpenAi, Dialect::OpenAi, false, false);
    let mut out = Vec::new();
    let steps = feed(
        &mut c,
        &[
            ("", OPENAI_STREAM[0]),
            (
                "",
                r#"{"error":{"message":"overloaded","type":"server_error"}}"#,
            ),
        ],
        &mut out,
    );
    assert_eq!(steps[1], Step::Error("overloaded".into()));
    assert!(!String::from_utf8(out).unwrap().contains("overloaded"));

    let mut c = conv(Dialect::OpenAi, Dialect::Anthropic, false, false);
    let ev = anthropic_events();
    let steps = feed(
        &mut c,
        &[
            ev[0],
            (
                "error",
                r#"{"type":"error","error":{"type":"overloaded_error","message":"busy"}}"#,
            ),
        ],
        &mut Vec::new(),
    );
    assert_eq!(steps[1], Step::Error("busy".into()));
}

#[test]
fn a_stream_cut_before_its_end_is_an_error_with_an_estimate() {
    let mut c = conv(Dialect::OpenAi, Dialect::OpenAi, true, false);
    let mut out = Vec::new();
    feed(&mut c, &openai_events()[..2], &mut out);
    assert!(matches!(c.finish(&mut out), Step::Error(_)));
    assert!(c.usage.is_none());
    assert!(c.estimated_output >= 1);

    // A finish reason without [DONE]: complete, and the client gets its [DONE].
    let mut c = conv(Dialect::OpenAi, Dialect::OpenAi, true, false);
    let mut out = Vec::new();
    feed(&mut c, &openai_events()[..3], &mut out);
    assert_eq!(c.finish(&mut out), Step::Done);
    assert!(out.ends_with(b"data: [DONE]\n\n"));

    let mut c = conv(Dialect::Anthropic, Dialect::OpenAi, false, false);
    feed(&mut c, &openai_events()[..2], &mut Vec::new());
    assert!(matches!(c.finish(&mut Vec::new()), Step::Error(_)));
}

#[test]
fn garbage_events_are_errors_not_panics() {
    for (client, provider) in [
        (Dialect::OpenAi, Dialect::OpenAi),
        (Dialect::OpenAi, Dialect::Anthropic),
        (Dialect::Anthropic, Dialect::OpenAi),
        (Dialect::Anthropic, Dialect::Anthropic),
    ] {
        let mut c = conv(client, provider, false, false);
        let step = c.event(b"", b"{not json", b"data: {not json\n\n", &mut Vec::new());
        assert!(matches!(step, Step::Error(_)), "{client:?} {provider:?}");
    }
}

#[test]
fn tool_call_arguments_stream_through_translation() {
    let mut c = conv(Dialect::Anthropic, Dialect::OpenAi, false, false);
    let mut out = Vec::new();
    let chunks = [
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"g","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"g","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"g","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}"#,
        r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"g","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        "[DONE]",
    ];
    let evs: Vec<(&str, &str)> = chunks.iter().map(|d| ("", *d)).collect();
    let steps = feed(&mut c, &evs, &mut out);
    assert_eq!(steps.last(), Some(&Step::Done));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"type\":\"tool_use\""), "{text}");
    assert!(text.contains("input_json_delta"), "{text}");
    assert!(text.contains("\"stop_reason\":\"tool_use\""), "{text}");
}
