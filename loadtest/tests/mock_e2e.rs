//! tollgate-mock over raw TCP: stats counting, pipelining, framing errors, echo, the
//! upgrade tunnel, and the LLM API shapes.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{body_of, post_json, raw, Mock};
use serde_json::Value;

#[test]
fn pipelined_requests_share_one_connection() {
    let mock = Mock::start(&[]);
    let before = mock.stats();
    let resp = raw(
        mock.port,
        b"GET /a HTTP/1.1\r\nHost: m\r\n\r\nPOST /b HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.matches("HTTP/1.1 200 OK").count(), 3, "{resp}");
    let after = mock.stats();
    let d = |k: &str| after[k].as_u64().unwrap() - before[k].as_u64().unwrap();
    assert_eq!(d("requests"), 3);
    assert_eq!(d("connections"), 1);
}

#[test]
fn ambiguous_framing_is_one_request_and_a_400() {
    let mock = Mock::start(&[]);
    let resp = raw(
        mock.port,
        b"POST / HTTP/1.1\r\nHost: m\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: m\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert_eq!(resp.matches("HTTP/1.1").count(), 1);
    assert_eq!(mock.stats()["requests"], 1);
}

#[test]
fn echo_returns_the_dechunked_request() {
    let mock = Mock::start(&[]);
    let resp = raw(
        mock.port,
        b"POST /echo/x?q=1 HTTP/1.1\r\nHost: m\r\nX-Test: a\r\nX-Test: b\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nwiki\r\n5;ext\r\npedia\r\n0\r\nT: 1\r\n\r\n",
    );
    let v: Value = serde_json::from_str(body_of(&resp)).unwrap();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/echo/x?q=1");
    assert_eq!(v["body"], "wikipedia");
    let tests: Vec<&Value> = v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == "X-Test")
        .collect();
    assert_eq!(tests.len(), 2);
    assert!(v["raw_head"]
        .as_str()
        .unwrap()
        .starts_with("POST /echo/x?q=1 HTTP/1.1\r\n"));
}

#[test]
fn control_headers_shape_the_answer() {
    let mock = Mock::start(&["-H", "X-Extra: yes"]);
    let resp = raw(
        mock.port,
        b"GET / HTTP/1.1\r\nHost: m\r\nx-mock-status: 404\r\nx-mock-body-size: 3\r\nx-mock-close: 1\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");
    assert!(resp.contains("Content-Length: 3\r\n") && resp.contains("X-Extra: yes\r\n"));
    assert!(resp.contains("Connection: close\r\n"));
    let resp = raw(
        mock.port,
        b"GET / HTTP/1.1\r\nHost: m\r\nx-mock-chunked: 1\r\nConnection: close\r\n\r\n",
    );
    assert!(
        resp.contains("Transfer-Encoding: chunked\r\n") && resp.ends_with("0\r\n\r\n"),
        "{resp}"
    );
    let started = std::time::Instant::now();
    let resp = raw(
        mock.port,
        b"GET / HTTP/1.1\r\nHost: m\r\nx-mock-delay-ms: 150\r\nConnection: close\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 200") && started.elapsed() >= Duration::from_millis(150));
    let resp = raw(
        mock.port,
        b"GET / HTTP/1.1\r\nHost: m\r\nx-mock-fault: 429\r\nConnection: close\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 429") && resp.contains("Retry-After: 1\r\n"));
    assert!(resp.contains("x-ratelimit-remaining-requests: 0\r\n"));
}

#[test]
fn upgrade_becomes_a_byte_echo_tunnel() {
    let mock = Mock::start(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", mock.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: m\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly",
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).ends_with("early") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    s.write_all(b"\x00\x01binary").unwrap();
    let mut echo = [0u8; 8];
    s.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"\x00\x01binary");
}

fn json_body(resp: &str) -> Value {
    serde_json::from_str(body_of(resp)).unwrap_or_else(|e| panic!("{e}: {resp}"))
}

#[test]
fn openai_shapes() {
    let mock = Mock::start(&["--tokens", "6"]);
    let p = mock.port;
    let chat = json_body(&post_json(
        p,
        "/v1/chat/completions",
        "",
        r#"{"model":"m","n":2,"messages":[{"role":"system","content":"s t"},{"role":"user","content":"hello world"}]}"#,
    ));
    assert_eq!(chat["object"], "chat.completion");
    assert_eq!(chat["choices"].as_array().unwrap().len(), 2);
    let text = chat["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(text.split_whitespace().count(), 6);
    assert_eq!(chat["usage"]["prompt_tokens"], 4);
    assert_eq!(chat["usage"]["completion_tokens"], 12);
    // Deterministic: the same last user message gives the same text.
    let again = json_body(&post_json(
        p,
        "/v1/chat/completions",
        "",
        r#"{"model":"m","messages":[{"role":"user","content":"hello world"}],"max_tokens":3}"#,
    ));
    let short = again["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.starts_with(short), "{text} / {short}");
    assert_eq!(again["choices"][0]["finish_reason"], "length");
    let tool = json_body(&post_json(
        p,
        "/v1/chat/completions",
        "",
        r#"{"model":"m","messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}"#,
    ));
    let call = &tool["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string());
    assert_eq!(tool["choices"][0]["finish_reason"], "tool_calls");
    let emb = json_body(&post_json(
        p,
        "/v1/embeddings",
        "",
        r#"{"model":"e","input":["a b","c"]}"#,
    ));
    assert_eq!(emb["data"].as_array().unwrap().len(), 2);
    assert_eq!(emb["usage"]["prompt_tokens"], 3);
    let models = json_body(&raw(
        p,
        b"GET /v1/models HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(models["data"][0]["id"], "mock-gpt");
    let err = post_json(p, "/v1/chat/completions", "x-mock-fault: 503\r\n", "{}");
    assert!(err.starts_with("HTTP/1.1 503"));
    assert_eq!(json_body(&err)["error"]["type"], "server_error");
    let bad = post_json(p, "/v1/chat/completions", "", "not json");
    assert!(bad.starts_with("HTTP/1.1 400"));
}

#[test]
fn anthropic_shapes() {
    let mock = Mock::start(&[]);
    let msg = json_body(&post_json(
        mock.port,
        "/v1/messages",
        "",
        r#"{"model":"c","max_tokens":4,"system":"x","messages":[{"role":"user","content":[{"type":"text","text":"hi there"}]}]}"#,
    ));
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["content"][0]["type"], "text");
    assert_eq!(msg["stop_reason"], "max_tokens");
    assert_eq!(msg["usage"]["input_tokens"], 3);
    assert_eq!(msg["usage"]["output_tokens"], 4);
    let err = post_json(mock.port, "/v1/messages", "x-mock-fault: 429\r\n", "{}");
    assert!(err.starts_with("HTTP/1.1 429"));
    assert_eq!(json_body(&err)["error"]["type"], "rate_limit_error");
}

#[test]
fn ttft_and_tps_pace_the_stream() {
    let mock = Mock::start(&[]);
    let started = std::time::Instant::now();
    let resp = post_json(
        mock.port,
        "/v1/chat/completions",
        "x-mock-ttft-ms: 100\r\nx-mock-tps: 50\r\nx-mock-tokens: 6\r\n",
        r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}"#,
    );
    // 100 ms to the first token, then 5 gaps of 20 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(195),
        "{:?}",
        started.elapsed()
    );
    assert!(resp.contains("data: [DONE]"));
}

#[test]
fn recorded_requests_show_what_was_forwarded() {
    let mock = Mock::start(&["--record", "4", "--threads", "2"]);
    let p = mock.port;
    let body = r#"{"model":"m","stream":false,"messages":[{"role":"user","content":"x"}]}"#;
    post_json(
        p,
        "/v1/chat/completions",
        "X-Forwarded-For: 1.2.3.4\r\n",
        body,
    );
    raw(
        p,
        b"GET /plain?q=1 HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
    );
    let list = json_body(&raw(
        p,
        b"GET /__mock/requests HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
    ));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["path"], "/v1/chat/completions");
    assert_eq!(list[0]["body"], body);
    assert!(list[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "X-Forwarded-For"));
    assert_eq!(list[1]["path"], "/plain?q=1");
    // Control requests are neither recorded nor counted.
    assert_eq!(mock.stats()["requests"], 2);
    raw(
        p,
        b"DELETE /__mock/requests HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
    );
    let list = json_body(&raw(
        p,
        b"GET /__mock/requests HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(list, serde_json::json!([]));
}
