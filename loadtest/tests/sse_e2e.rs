//! Event-stream figures from the mock's OpenAI and Anthropic streams.

mod common;

use common::{check_counts, load, Mock};

#[test]
fn openai_stream_figures_and_usage() {
    let mock = Mock::start(&["--tokens", "8", "--ttft-ms", "20", "--tps", "400"]);
    let body = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"one two three"}]}"#;
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/v1/chat/completions"),
        "-c",
        "2",
        "-n",
        "10",
        "--body",
        body,
    ]);
    assert!(ok, "{err}");
    check_counts(&r);
    let s = &r["sse"];
    assert_eq!(s["streams"], 10, "{r}");
    assert_eq!(s["finished"], 10);
    assert_eq!(s["token_events"], 80);
    assert_eq!(s["streams_with_usage"], 10);
    assert_eq!(s["input_tokens"], 30);
    assert_eq!(s["output_tokens"], 80);
    // role + 8 tokens + finish + usage + [DONE]
    assert_eq!(s["events_per_stream"]["max"], 12);
    let ttft = s["ttft_us"]["p50"].as_u64().unwrap();
    assert!(ttft >= 19_000, "ttft {ttft}");
    let itl = s["inter_token_us"]["p50"].as_u64().unwrap();
    assert!((1_000..=20_000).contains(&itl), "itl {itl}");
    assert!(s["ttfb_us"]["p50"].as_u64().unwrap() < ttft);
}

#[test]
fn anthropic_stream_usage() {
    let mock = Mock::start(&[]);
    let body = r#"{"model":"c","stream":true,"max_tokens":5,"system":"be brief","messages":[{"role":"user","content":"a b c d"}]}"#;
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/v1/messages"),
        "-c",
        "1",
        "-n",
        "4",
        "--body",
        body,
    ]);
    assert!(ok, "{err}");
    check_counts(&r);
    let s = &r["sse"];
    assert_eq!(s["streams"], 4);
    assert_eq!(s["token_events"], 20);
    assert_eq!(s["input_tokens"], 24);
    assert_eq!(s["output_tokens"], 20);
    // message_start, content_block_start, ping, 5 deltas, block stop, message_delta, message_stop
    assert_eq!(s["events_per_stream"]["max"], 11);
}

#[test]
fn bodies_file_rotates_json_lines() {
    let mock = Mock::start(&[]);
    let file = std::env::temp_dir().join(format!("tollgate-bodies-{}.jsonl", std::process::id()));
    std::fs::write(
        &file,
        "{\"model\":\"m\",\"stream\":true,\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}\n\
         {\"model\":\"m\",\"stream\":true,\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"y\"}]}\n",
    )
    .unwrap();
    let f = file.to_string_lossy().into_owned();
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/v1/completions"),
        "-c",
        "1",
        "-n",
        "4",
        "--bodies-file",
        &f,
    ]);
    let _ = std::fs::remove_file(&file);
    assert!(ok, "{err}");
    check_counts(&r);
    assert_eq!(r["sse"]["token_events"], 12, "{r}");
}
