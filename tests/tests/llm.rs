//! End-to-end: the LLM gateway (`core/src/llm/`). The built-in mock provider answers
//! every endpoint in both formats; errors come in the client's own format; a recording
//! upstream playing an OpenAI or Anthropic provider shows what the provider got (path,
//! auth, model, the client's bytes when nothing needs changing); failures before the
//! commit point fall back invisibly and cool the deployment down, failures after it end
//! the client's stream with an error event; a 401 takes the key out; a client that
//! leaves mid-stream closes the provider's connection; the access log and metrics carry
//! the usage, cost and fallbacks.
//!
//! Deployments that must be tried in a set order get weights 1 000 000 and 1: the
//! weighted order puts the heavy one first except once in a million.

#![allow(clippy::disallowed_types)] // the provider scripts run on plain threads

use std::io::Read;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollgate_tests::client::{get, Conn, Response};
use tollgate_tests::llm::{
    access_log, anthropic_message, anthropic_stream, anthropic_stream_start, body_json, events,
    json_body, metric, metrics, openai_chunk, openai_completion, openai_stream, paced, post,
    wants_stream, Event,
};
use tollgate_tests::{Gateway, Recorded, Reply, StreamOutcome, Upstream};

/// A gateway with `workers` workers, its access log in the scratch dir, `before` (the
/// `[[clusters]]` tables, routes matched first), one route `llm` on `/v1/` whose `llm`
/// key is `route`, and `llm` (the `[llm]` table and its arrays).
fn start(workers: u32, before: &str, route: &str, llm: &str) -> Gateway {
    Gateway::start(&format!(
        r#"
[runtime]
workers = {workers}
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[access_log]
path = "{{dir}}/access.log"
{before}
[[routes]]
name = "llm"
match = {{ path_prefix = "/v1/" }}
llm = {route}
{llm}
"#
    ))
}

/// A `[[clusters]]` table named `name` with `up` as its one endpoint.
fn cluster(name: &str, up: &Upstream) -> String {
    format!(
        "[[clusters]]\nname = \"{name}\"\nendpoints = [\"{}\"]\n",
        up.addr
    )
}

/// An `[[llm.providers]]` table for a provider on the cluster of the same name.
fn provider(name: &str, kind: &str, extra: &str) -> String {
    format!(
        "[[llm.providers]]\nname = \"{name}\"\nkind = \"{kind}\"\nupstream = \"{name}\"\n{extra}\n"
    )
}

/// The embedded default's mock model, with a 5 ms time to first token and 7 tokens.
const MOCK: &str = r#"
[[llm.providers]]
name = "mock"
kind = "mock"
[llm.providers.mock]
ttft = "5ms"
output_tokens = 7

[[llm.models]]
name = "mock-model"
aliases = ["gpt-4o-mini", "claude-3-5-haiku-latest"]
[[llm.models.deployments]]
provider = "mock"
"#;

const CHAT: &str = r#"{"model":"mock-model","messages":[{"role":"user","content":"hello there"}]}"#;
const ANTHROPIC: &str = "anthropic-version: 2023-06-01\r\n";

fn data_chunks(evs: &[Event]) -> Vec<Value> {
    evs.iter()
        .filter(|e| e.data != "[DONE]")
        .map(Event::json)
        .collect()
}

fn content_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

fn assert_sse(r: &Response) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"), "{r:?}");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// 1. The built-in mock provider
// ---------------------------------------------------------------------------------------

#[test]
fn mock_chat_answers_with_the_configured_output_tokens() {
    let gw = start(1, "", "{}", MOCK);
    let r = post(&gw, "/v1/chat/completions", CHAT, "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = json_body(&r);
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(v["model"], "mock-model", "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 7, "{v}");
    let prompt = v["usage"]["prompt_tokens"].as_u64().expect("prompt tokens");
    assert!(prompt > 0, "{v}");
    assert_eq!(v["usage"]["total_tokens"], prompt + 7, "{v}");
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .expect("text");
    assert_eq!(text.split_whitespace().count(), 7, "{text}");

    // An alias names the same model; max_tokens caps the answer.
    let body =
        r#"{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}"#;
    let v = json_body(&post(&gw, "/v1/chat/completions", body, ""));
    assert_eq!(v["usage"]["completion_tokens"], 3, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "length", "{v}");
}

#[test]
fn mock_chat_stream_ends_with_done_and_has_usage_only_when_asked() {
    let gw = start(1, "", "{}", MOCK);
    let body =
        r#"{"model":"mock-model","stream":true,"messages":[{"role":"user","content":"hello"}]}"#;
    let r = post(&gw, "/v1/chat/completions", body, "");
    assert_sse(&r);
    let evs = events(&r.body);
    assert_eq!(
        evs.last().map(|e| e.data.as_str()),
        Some("[DONE]"),
        "{evs:?}"
    );
    assert_eq!(evs.iter().filter(|e| e.data == "[DONE]").count(), 1);
    let chunks = data_chunks(&evs);
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk", "{c}");
        assert!(
            c.get("usage").is_none_or(Value::is_null),
            "a usage chunk the client did not ask for: {c}"
        );
    }
    assert_eq!(
        content_of(&chunks).split_whitespace().count(),
        7,
        "{chunks:?}"
    );

    let body = r#"{"model":"mock-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello"}]}"#;
    let r = post(&gw, "/v1/chat/completions", body, "");
    assert_sse(&r);
    let evs = events(&r.body);
    let chunks = data_chunks(&evs);
    let with_usage: Vec<&Value> = chunks.iter().filter(|c| !c["usage"].is_null()).collect();
    assert_eq!(with_usage.len(), 1, "{chunks:?}");
    assert_eq!(with_usage[0]["usage"]["completion_tokens"], 7);
    assert_eq!(with_usage[0]["choices"], json!([]));
    // It is the last chunk, just before [DONE].
    assert_eq!(chunks.last(), Some(with_usage[0]));
    assert_eq!(evs.last().map(|e| e.data.as_str()), Some("[DONE]"));
}

#[test]
fn mock_answers_anthropic_messages_whole_and_streamed() {
    let gw = start(1, "", "{}", MOCK);
    let body = r#"{"model":"claude-3-5-haiku-latest","max_tokens":100,"messages":[{"role":"user","content":"hello"}]}"#;
    let r = post(&gw, "/v1/messages", body, ANTHROPIC);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["type"], "message", "{v}");
    assert_eq!(v["role"], "assistant", "{v}");
    assert_eq!(v["content"][0]["type"], "text", "{v}");
    let text = v["content"][0]["text"].as_str().expect("text");
    assert_eq!(text.split_whitespace().count(), 7, "{v}");
    assert_eq!(v["usage"]["output_tokens"], 7, "{v}");
    assert!(v["usage"]["input_tokens"].as_u64() > Some(0), "{v}");
    assert!(
        v["id"].as_str().is_some_and(|id| id.starts_with("msg_")),
        "{v}"
    );

    let body = r#"{"model":"claude-3-5-haiku-latest","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hello"}]}"#;
    let r = post(&gw, "/v1/messages", body, ANTHROPIC);
    assert_sse(&r);
    let evs = events(&r.body);
    let names: Vec<&str> = evs
        .iter()
        .map(|e| e.name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
    for want in [
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
    ] {
        assert!(names.contains(&want), "no {want} in {names:?}");
    }
    for e in &evs {
        assert_eq!(e.json()["type"].as_str(), e.name.as_deref(), "{e:?}");
    }
    let text: String = evs
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .filter_map(|e| e.json()["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text.split_whitespace().count(), 7, "{text:?}");
    let delta = evs
        .iter()
        .find(|e| e.name.as_deref() == Some("message_delta"))
        .unwrap()
        .json();
    assert_eq!(delta["usage"]["output_tokens"], 7, "{delta}");
}

#[test]
fn mock_serves_embeddings_completions_and_the_model_list() {
    let gw = start(1, "", "{}", MOCK);
    let r = post(
        &gw,
        "/v1/embeddings",
        r#"{"model":"mock-model","input":["a cat","a dog"]}"#,
        "",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["object"], "list", "{v}");
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), 2, "{v}");
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["index"], i, "{v}");
        assert!(
            d["embedding"].as_array().is_some_and(|e| !e.is_empty()),
            "{v}"
        );
    }
    assert!(v["usage"]["prompt_tokens"].as_u64() > Some(0), "{v}");

    let r = post(
        &gw,
        "/v1/completions",
        r#"{"model":"mock-model","prompt":"Say hi"}"#,
        "",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["object"], "text_completion", "{v}");
    let text = v["choices"][0]["text"].as_str().expect("text");
    assert_eq!(text.split_whitespace().count(), 7, "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 7, "{v}");

    let r = get(&gw.addr(), "/v1/models");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["object"], "list", "{v}");
    let mut ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["id"].as_str().expect("id"))
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["claude-3-5-haiku-latest", "gpt-4o-mini", "mock-model"],
        "{v}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Errors in the client's format
// ---------------------------------------------------------------------------------------

#[test]
fn errors_come_in_the_clients_format() {
    let llm = format!(
        "[llm]\nmax_body_bytes = 2048\n{MOCK}\n[[llm.models]]\nname = \"other-model\"\n[[llm.models.deployments]]\nprovider = \"mock\"\n"
    );
    // Requests with `x-tenant: small` may use only two of the names.
    let restricted = r#"
[[routes]]
name = "small"
match = { path_prefix = "/v1/", headers = { "x-tenant" = "small" } }
llm = { models = ["mock-model", "gpt-4o-mini"] }
"#;
    let gw = start(1, restricted, "{}", &llm);
    let openai_error = |r: &Response, status: u16| -> Value {
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
        let v = json_body(r);
        assert!(
            v["error"]["message"].is_string(),
            "not an OpenAI error: {v}"
        );
        v
    };
    let anthropic_error = |r: &Response, status: u16, kind: &str| {
        assert_eq!(r.status, status, "{}", r.text());
        let v = json_body(r);
        assert_eq!(v["type"], "error", "not an Anthropic error: {v}");
        assert_eq!(v["error"]["type"], kind, "{v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    };

    let unknown =
        r#"{"model":"no-such-model","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let v = openai_error(&post(&gw, "/v1/chat/completions", unknown, ""), 404);
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");
    anthropic_error(
        &post(&gw, "/v1/messages", unknown, ANTHROPIC),
        404,
        "not_found_error",
    );

    openai_error(
        &post(&gw, "/v1/chat/completions", "{\"model\": nope", ""),
        400,
    );
    anthropic_error(
        &post(&gw, "/v1/messages", "{\"model\": nope", ANTHROPIC),
        400,
        "invalid_request_error",
    );

    let big = format!(
        r#"{{"model":"mock-model","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(3000)
    );
    openai_error(&post(&gw, "/v1/chat/completions", &big, ""), 413);

    let r = get(&gw.addr(), "/v1/chat/completions");
    openai_error(&r, 405);

    openai_error(&post(&gw, "/v1/xyz", CHAT, ""), 404);

    // The route's model list: another model is refused, the listed ones work, and the
    // model list shows only them.
    const SMALL: &str = "x-tenant: small\r\n";
    let other = r#"{"model":"other-model","messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(post(&gw, "/v1/chat/completions", other, "").status, 200);
    let v = openai_error(&post(&gw, "/v1/chat/completions", other, SMALL), 403);
    assert_eq!(v["error"]["code"], "model_not_allowed", "{v}");
    assert_eq!(post(&gw, "/v1/chat/completions", CHAT, SMALL).status, 200);
    let req = "GET /v1/models HTTP/1.1\r\nHost: t\r\nx-tenant: small\r\n\r\n";
    let r = tollgate_tests::client::exchange(&gw.addr(), req.as_bytes()).expect("a response");
    let v = json_body(&r);
    let mut ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["gpt-4o-mini", "mock-model"], "{v}");
}

// ---------------------------------------------------------------------------------------
// 3. What a provider receives
// ---------------------------------------------------------------------------------------

/// An OpenAI provider: a stream (with the usage chunk when asked) or a whole answer.
fn openai_provider() -> Upstream {
    Upstream::start(|r| {
        if wants_stream(r) {
            let asked = body_json(r)["stream_options"]["include_usage"] == true;
            Reply::Paced(openai_stream(
                &["Hello", " from", " up"],
                asked.then_some((11, 3)),
                Duration::ZERO,
            ))
        } else {
            openai_completion("gpt-up", "Hello from up", 11, 3)
        }
    })
}

/// An Anthropic provider: a stream or a whole answer.
fn anthropic_provider() -> Upstream {
    Upstream::start(|r| {
        if wants_stream(r) {
            Reply::Paced(anthropic_stream(
                "claude-up",
                &["Hello", " from", " up"],
                13,
                4,
            ))
        } else {
            anthropic_message("claude-up", "Hello from up", 13, 4)
        }
    })
}

fn only(up: &Upstream) -> Recorded {
    let reqs = up.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    reqs.into_iter().next().unwrap()
}

fn headers_named<'a>(r: &'a Recorded, name: &str) -> Vec<&'a str> {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

const CLIENT_AUTH: &str = "authorization: Bearer client-secret\r\nx-client-note: private\r\n";

#[test]
fn openai_provider_gets_the_clients_bytes_with_its_own_key() {
    let up = openai_provider();
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"gpt-x\"\n[[llm.models.deployments]]\nprovider = \"oai\"\n\
         [[llm.models]]\nname = \"renamed\"\n[[llm.models.deployments]]\nprovider = \"oai\"\nmodel = \"gpt-real\"\n",
        provider("oai", "openai", "api_keys = [\"sk-provider\"]\nheaders = { \"OpenAI-Organization\" = \"org-7\" }")
    );
    let gw = start(1, &cluster("oai", &up), "{}", &llm);

    // Same format, same model name, no stream: the client's bytes, odd spacing and all.
    let body = "{ \"model\" :  \"gpt-x\" ,\n  \"messages\":[ {\"role\":\"user\", \"content\":\"hi\"} ],\t\"temperature\" : 0.5 }";
    let r = post(&gw, "/v1/chat/completions", body, CLIENT_AUTH);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = only(&up);
    assert_eq!(
        (got.method.as_str(), got.target.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(String::from_utf8_lossy(&got.body), body);
    assert_eq!(
        headers_named(&got, "authorization"),
        ["Bearer sk-provider"],
        "{got:?}"
    );
    assert_eq!(got.header("openai-organization"), Some("org-7"), "{got:?}");
    assert_eq!(
        got.header("x-client-note"),
        None,
        "client headers are not forwarded: {got:?}"
    );
    assert_eq!(got.header("x-api-key"), None, "{got:?}");
    assert_eq!(
        json_body(&r)["choices"][0]["message"]["content"],
        "Hello from up"
    );

    // Another model name: only the name changes, the rest keeps its bytes.
    let body2 = body.replace("gpt-x", "renamed");
    let r = post(&gw, "/v1/chat/completions", &body2, "");
    assert_eq!(r.status, 200, "{}", r.text());
    let got = up.requests().pop().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got.body),
        body.replace("gpt-x", "gpt-real")
    );

    // A stream: include_usage is asked for, and the usage chunk the client did not ask
    // for does not reach it.
    let body3 = r#"{"model":"gpt-x","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post(&gw, "/v1/chat/completions", body3, "");
    assert_sse(&r);
    let got = up.requests().pop().unwrap();
    let sent = body_json(&got);
    assert_eq!(sent["stream_options"]["include_usage"], true, "{sent}");
    assert_eq!(sent["model"], "gpt-x");
    assert_eq!(got.header("accept"), Some("text/event-stream"), "{got:?}");
    let evs = events(&r.body);
    let chunks = data_chunks(&evs);
    assert!(chunks.iter().all(|c| c["usage"].is_null()), "{chunks:?}");
    assert_eq!(content_of(&chunks), "Hello from up");
    assert_eq!(evs.last().map(|e| e.data.as_str()), Some("[DONE]"));
    assert_eq!(up.request_count(), 3);
}

#[test]
fn anthropic_provider_gets_translated_requests_with_x_api_key() {
    let up = anthropic_provider();
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"claude-x\"\n[[llm.models.deployments]]\nprovider = \"ant\"\nmodel = \"claude-real\"\n\
         [[llm.models]]\nname = \"claude-same\"\n[[llm.models.deployments]]\nprovider = \"ant\"\n",
        provider("ant", "anthropic", "api_keys = [\"sk-ant\"]")
    );
    let gw = start(1, &cluster("ant", &up), "{}", &llm);

    // An OpenAI client: the request is translated, the answer too.
    let body = r#"{"model":"claude-x","max_tokens":50,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#;
    let r = post(&gw, "/v1/chat/completions", body, CLIENT_AUTH);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = only(&up);
    assert_eq!(
        (got.method.as_str(), got.target.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(got.header("x-api-key"), Some("sk-ant"), "{got:?}");
    assert_eq!(
        got.header("anthropic-version"),
        Some("2023-06-01"),
        "{got:?}"
    );
    assert!(
        headers_named(&got, "authorization").is_empty(),
        "the client's key leaked: {got:?}"
    );
    assert_eq!(got.header("x-client-note"), None, "{got:?}");
    let sent = body_json(&got);
    assert_eq!(sent["model"], "claude-real", "{sent}");
    assert_eq!(sent["system"], "be brief", "{sent}");
    assert_eq!(sent["max_tokens"], 50, "{sent}");
    assert_eq!(sent["messages"][0]["role"], "user", "{sent}");
    let v = json_body(&r);
    assert_eq!(v["object"], "chat.completion", "{v}");
    assert_eq!(
        v["choices"][0]["message"]["content"], "Hello from up",
        "{v}"
    );
    assert_eq!(v["usage"]["prompt_tokens"], 13, "{v}");
    assert_eq!(v["usage"]["completion_tokens"], 4, "{v}");

    // Streamed, translated back to OpenAI chunks.
    let body = r#"{"model":"claude-x","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post(&gw, "/v1/chat/completions", body, "");
    assert_sse(&r);
    assert_eq!(body_json(&up.requests().pop().unwrap())["stream"], true);
    let evs = events(&r.body);
    assert_eq!(content_of(&data_chunks(&evs)), "Hello from up", "{evs:?}");
    assert_eq!(evs.last().map(|e| e.data.as_str()), Some("[DONE]"));

    // An Anthropic client, same model name: the bytes go through as they are, and so
    // does the answer.
    let body = "{\"model\":  \"claude-same\",\n \"max_tokens\" : 9, \"messages\":[{\"role\":\"user\",\"content\":\"hi\"}] }";
    let r = post(
        &gw,
        "/v1/messages",
        body,
        "x-api-key: client-key\r\nanthropic-version: 2023-06-01\r\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let got = up.requests().pop().unwrap();
    assert_eq!(got.target, "/v1/messages");
    assert_eq!(String::from_utf8_lossy(&got.body), body);
    assert_eq!(headers_named(&got, "x-api-key"), ["sk-ant"], "{got:?}");
    let v = json_body(&r);
    assert_eq!(v["content"][0]["text"], "Hello from up", "{v}");
    assert_eq!(v["usage"]["output_tokens"], 4, "{v}");
}

// ---------------------------------------------------------------------------------------
// 4. Fallback and cool-down
// ---------------------------------------------------------------------------------------

/// Model `m` on deployments A (weight 1 000 000) and B (weight 1), providers on the
/// upstreams `a` and `b`; `[llm] cooldown` short so that only a provider-given reset
/// time keeps A out for long.
fn two_deployments(workers: u32, a: &Upstream, b: &Upstream) -> Gateway {
    let llm = format!(
        "[llm]\ncooldown = \"300ms\"\n{}{}\n[[llm.models]]\nname = \"m\"\n\
         [[llm.models.deployments]]\nprovider = \"a\"\nweight = 1000000\n\
         [[llm.models.deployments]]\nprovider = \"b\"\nweight = 1\n",
        provider("a", "openai", ""),
        provider("b", "openai", ""),
    );
    start(workers, &(cluster("a", a) + &cluster("b", b)), "{}", &llm)
}

const M: &str = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;

fn fallback_case(fault: Reply, reason: &str, retry_after: bool) {
    let a = Upstream::start(move |_| fault.clone());
    let b = Upstream::start(|_| openai_completion("m", "from B", 5, 2));
    let workers = if retry_after { 2 } else { 1 };
    let gw = two_deployments(workers, &a, &b);

    let r = post(&gw, "/v1/chat/completions", M, "");
    assert_eq!(r.status, 200, "{reason}: {}", r.text());
    assert_eq!(json_body(&r)["choices"][0]["message"]["content"], "from B");
    assert_eq!((a.request_count(), b.request_count()), (1, 1), "{reason}");

    // A cools down: the next requests go straight to B (on every worker: the other
    // core learns of it at its next tick).
    std::thread::sleep(Duration::from_millis(120));
    for _ in 0..4 {
        let r = post(&gw, "/v1/chat/completions", M, "");
        assert_eq!(r.status, 200, "{reason}: {}", r.text());
    }
    assert_eq!((a.request_count(), b.request_count()), (1, 5), "{reason}");

    let lines = access_log(&gw, 5);
    let first = &lines[0]["llm"];
    assert_eq!(first["fallbacks"], 1, "{reason}: {}", lines[0]);
    assert_eq!(first["fallback_reason"], reason, "{}", lines[0]);
    assert_eq!(first["deployment"], "b/m", "{}", lines[0]);
    assert_eq!(lines[0]["attempts"], 2, "{}", lines[0]);
    assert_eq!(lines[1]["llm"]["fallbacks"], 0, "{}", lines[1]);
    let page = metrics(&gw);
    let series = format!("tollgate_llm_fallbacks_total{{reason=\"{reason}\"}}");
    assert_eq!(metric(&page, &series), Some(1.0), "{series} in:\n{page}");

    // Past `[llm] cooldown` A is tried again, unless the provider said how long to wait
    // (Retry-After: 30).
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(post(&gw, "/v1/chat/completions", M, "").status, 200);
    let want = if retry_after { 1 } else { 2 };
    assert_eq!(a.request_count(), want, "{reason}: A after the cool-down");
}

#[test]
fn rate_limited_deployment_falls_back_and_cools_down_for_its_retry_after() {
    let fault = Reply::Full(
        429,
        vec![
            ("retry-after".into(), "30".into()),
            ("content-type".into(), "application/json".into()),
        ],
        br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#.to_vec(),
    );
    fallback_case(fault, "rate_limited", true);
}

#[test]
fn server_error_falls_back_and_cools_down() {
    let fault = Reply::Full(500, vec![], br#"{"error":{"message":"boom"}}"#.to_vec());
    fallback_case(fault, "server_error", false);
}

#[test]
fn provider_closing_before_answering_falls_back() {
    let a = Upstream::start(|_| Reply::Close);
    let b = Upstream::start(|_| openai_completion("m", "from B", 5, 2));
    let gw = two_deployments(1, &a, &b);
    let r = post(&gw, "/v1/chat/completions", M, "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_body(&r)["choices"][0]["message"]["content"], "from B");
    assert_eq!(post(&gw, "/v1/chat/completions", M, "").status, 200);
    assert_eq!((a.request_count(), b.request_count()), (1, 2));
    let lines = access_log(&gw, 2);
    assert_eq!(lines[0]["llm"]["fallbacks"], 1, "{}", lines[0]);
    assert_eq!(lines[0]["llm"]["fallback_reason"], "reset", "{}", lines[0]);
    let page = metrics(&gw);
    assert_eq!(
        metric(&page, "tollgate_llm_fallbacks_total{reason=\"reset\"}"),
        Some(1.0),
        "{page}"
    );
}

#[test]
fn model_level_fallback_takes_the_other_models_deployment() {
    let a = Upstream::start(|_| Reply::Full(503, vec![], b"busy".to_vec()));
    let b = Upstream::start(|_| openai_completion("backup", "from backup", 5, 2));
    let llm = format!(
        "{}{}\n[[llm.models]]\nname = \"primary\"\nfallbacks = [\"backup\"]\n\
         [[llm.models.deployments]]\nprovider = \"a\"\n\
         [[llm.models]]\nname = \"backup\"\n[[llm.models.deployments]]\nprovider = \"b\"\n",
        provider("a", "openai", ""),
        provider("b", "openai", ""),
    );
    let gw = start(1, &(cluster("a", &a) + &cluster("b", &b)), "{}", &llm);
    let body = r#"{"model":"primary","messages":[{"role":"user","content":"hi"}]}"#;
    let r = post(&gw, "/v1/chat/completions", body, "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        json_body(&r)["choices"][0]["message"]["content"],
        "from backup"
    );
    assert_eq!(body_json(&only(&a))["model"], "primary");
    assert_eq!(
        body_json(&only(&b))["model"],
        "backup",
        "the fallback model's name"
    );
    let line = &access_log(&gw, 1)[0];
    assert_eq!(line["llm"]["model"], "primary", "{line}");
    assert_eq!(line["llm"]["deployment"], "b/backup", "{line}");
    assert_eq!(line["llm"]["fallbacks"], 1, "{line}");
    assert_eq!(line["llm"]["fallback_reason"], "server_error", "{line}");
}

// ---------------------------------------------------------------------------------------
// 5. The commit point
// ---------------------------------------------------------------------------------------

/// An OpenAI provider whose stream sends the role and one content chunk, then `tail`
/// (an error event, or nothing and a cut connection).
fn failing_stream(tail: Option<Vec<u8>>) -> Upstream {
    Upstream::start(move |_| {
        let mut pieces = vec![openai_chunk(None, None), openai_chunk(Some("Hel"), None)];
        let finish = tail.is_some();
        pieces.extend(tail.clone());
        Reply::Paced(paced(pieces, Duration::from_millis(5), finish))
    })
}

const M_STREAM: &str =
    r#"{"model":"m","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn error_event_after_the_commit_point_ends_the_openai_stream_with_an_error() {
    let error = br#"data: {"error":{"message":"overloaded","type":"server_error"}}

"#
    .to_vec();
    let a = failing_stream(Some(error));
    let b = openai_provider();
    let gw = two_deployments(1, &a, &b);
    // `Conn::read_response` returns a response only after the chunked body's 0-chunk.
    let r = post(&gw, "/v1/chat/completions", M_STREAM, "");
    assert_sse(&r);
    let evs = events(&r.body);
    let chunks = data_chunks(&evs);
    assert_eq!(content_of(&chunks), "Hel", "{evs:?}");
    let last = chunks.last().expect("events");
    assert!(
        last["error"]["message"].is_string(),
        "last event is not an error: {evs:?}"
    );
    assert!(!evs.iter().any(|e| e.data == "[DONE]"), "{evs:?}");
    assert_eq!(b.request_count(), 0, "no fallback after the commit point");
    let line = &access_log(&gw, 1)[0];
    assert_eq!(line["status"], 200, "{line}");
    assert_eq!(line["llm"]["fallbacks"], 0, "{line}");
}

#[test]
fn reset_after_the_commit_point_ends_the_anthropic_stream_with_an_error_event() {
    let a = failing_stream(None);
    let b = openai_provider();
    let gw = two_deployments(1, &a, &b);
    let r = post(&gw, "/v1/messages", M_STREAM, ANTHROPIC);
    assert_sse(&r);
    let evs = events(&r.body);
    assert_eq!(
        evs.first().and_then(|e| e.name.as_deref()),
        Some("message_start"),
        "{evs:?}"
    );
    let last = evs.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("error"), "{evs:?}");
    let v = last.json();
    assert_eq!(v["type"], "error", "{v}");
    assert!(
        v["error"]["type"].is_string() && v["error"]["message"].is_string(),
        "{v}"
    );
    assert!(
        !evs.iter()
            .any(|e| e.name.as_deref() == Some("message_stop")),
        "{evs:?}"
    );
    assert_eq!(b.request_count(), 0, "no fallback after the commit point");
}

#[test]
fn anthropic_provider_error_event_after_the_commit_point_reaches_the_client_as_error() {
    let a = Upstream::start(|_| {
        let mut pieces = anthropic_stream_start("m", &["Hel"], 9);
        pieces.push(tollgate_tests::llm::anthropic_event(
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ));
        Reply::Paced(paced(pieces, Duration::from_millis(5), true))
    });
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"m\"\n[[llm.models.deployments]]\nprovider = \"a\"\n",
        provider("a", "anthropic", "")
    );
    let gw = start(1, &cluster("a", &a), "{}", &llm);
    let r = post(&gw, "/v1/messages", M_STREAM, ANTHROPIC);
    assert_sse(&r);
    let evs = events(&r.body);
    assert_eq!(
        evs.first().and_then(|e| e.name.as_deref()),
        Some("message_start"),
        "{evs:?}"
    );
    let last = evs.last().unwrap();
    assert_eq!(last.name.as_deref(), Some("error"), "{evs:?}");
    assert_eq!(last.json()["error"]["message"], "Overloaded", "{evs:?}");
}

#[test]
fn failure_before_the_first_event_falls_back_invisibly() {
    // A's head says 200 event-stream, then the connection closes before any event.
    let a = Upstream::start(|_| Reply::Paced(paced(vec![], Duration::ZERO, false)));
    let b = openai_provider();
    let gw = two_deployments(1, &a, &b);
    let r = post(&gw, "/v1/chat/completions", M_STREAM, "");
    assert_sse(&r);
    let evs = events(&r.body);
    let chunks = data_chunks(&evs);
    assert_eq!(content_of(&chunks), "Hello from up", "{evs:?}");
    assert!(chunks.iter().all(|c| c["error"].is_null()), "{evs:?}");
    assert_eq!(evs.last().map(|e| e.data.as_str()), Some("[DONE]"));
    assert_eq!((a.request_count(), b.request_count()), (1, 1));
    let line = &access_log(&gw, 1)[0];
    assert_eq!(line["llm"]["fallbacks"], 1, "{line}");
    assert_eq!(line["llm"]["deployment"], "b/m", "{line}");
}

// ---------------------------------------------------------------------------------------
// 6. API keys
// ---------------------------------------------------------------------------------------

#[test]
fn a_401_takes_the_key_out_and_the_next_request_uses_the_other() {
    let up = Upstream::start(|r| {
        match r.header("authorization") {
        Some("Bearer k-bad") => Reply::Full(
            401,
            vec![("content-type".into(), "application/json".into())],
            br#"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}"#.to_vec(),
        ),
        _ => openai_completion("m", "ok", 3, 1),
    }
    });
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"m\"\n[[llm.models.deployments]]\nprovider = \"p\"\n",
        provider("p", "openai", "api_keys = [\"k-bad\", \"k-good\"]")
    );
    let gw = start(1, &cluster("p", &up), "{}", &llm);
    // Keys are taken in turn, the first one first.
    let first = post(&gw, "/v1/chat/completions", M, "");
    // The refused request is retried at once with the provider's next key.
    assert_eq!(first.status, 200, "{}", first.text());
    for _ in 0..3 {
        let r = post(&gw, "/v1/chat/completions", M, "");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let keys: Vec<String> = up
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("").to_string())
        .collect();
    assert_eq!(keys[0], "Bearer k-bad", "{keys:?}");
    assert!(
        keys[1..].iter().all(|k| k == "Bearer k-good"),
        "the refused key came back: {keys:?}"
    );
    assert_eq!(keys.len(), 5, "{keys:?}");
    let page = metrics(&gw);
    assert_eq!(
        metric(&page, "tollgate_llm_keys_disabled_total"),
        Some(1.0),
        "{page}"
    );
}

// ---------------------------------------------------------------------------------------
// 7. Client disconnect mid-stream
// ---------------------------------------------------------------------------------------

#[test]
fn client_leaving_mid_stream_closes_the_provider_connection() {
    // 40 words 50 ms apart: two seconds of stream, no usage until the end.
    let words: Vec<String> = (0..40).map(|i| format!(" w{i}")).collect();
    let up = Upstream::start(move |_| {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        Reply::Paced(openai_stream(
            &words,
            Some((9, 40)),
            Duration::from_millis(50),
        ))
    });
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"m\"\n[[llm.models.deployments]]\nprovider = \"p\"\n",
        provider("p", "openai", "")
    );
    let gw = start(1, &cluster("p", &up), "{}", &llm);

    let mut c = Conn::open(&gw.addr());
    let seen = stream_until_chunks(&mut c, 2);
    assert!(
        seen.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    let closed = Instant::now();
    c.stream.shutdown(Shutdown::Both).expect("shutdown");
    drop(c);

    let end = up.first_stream_end(Duration::from_secs(3));
    assert_eq!(end.outcome, StreamOutcome::PeerGone, "{end:?}");
    assert!(end.sent < 20, "the stream ran on: {end:?}");
    let took = end.at.saturating_duration_since(closed);
    assert!(
        took < Duration::from_millis(100),
        "the provider connection closed {took:?} after the client left"
    );

    let line = &access_log(&gw, 1)[0];
    assert_eq!(line["status"], 499, "{line}");
    let llm = &line["llm"];
    assert!(llm["output_tokens"].as_u64() >= Some(2), "{line}");
    assert_eq!(llm["estimated"], true, "{line}");
    assert!(llm["input_tokens"].is_u64(), "{line}");
}

/// Sends the streamed chat request `M_STREAM` on `c`.
fn send_stream_request(c: &mut Conn) {
    c.send(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{M_STREAM}",
            M_STREAM.len()
        )
        .as_bytes(),
    );
}

/// Sends a streamed chat request on `c` and reads until `n` content chunks arrived.
fn stream_until_chunks(c: &mut Conn, n: usize) -> Vec<u8> {
    send_stream_request(c);
    let mut seen = Vec::new();
    let mut tmp = [0u8; 4096];
    while String::from_utf8_lossy(&seen)
        .matches("\"content\":\" w")
        .count()
        < n
    {
        let got = c.stream.read(&mut tmp).expect("stream bytes within 10 s");
        assert!(
            got > 0,
            "gateway closed early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&tmp[..got]);
    }
    seen
}

#[test]
fn client_leaving_during_a_long_provider_silence_is_noticed_at_once() {
    // Tokens 400 ms apart (a slow model): the client leaves in the middle of a gap, when
    // no write to it is due for a while. The gateway's watch on the client must see it
    // go without waiting for the next token.
    let words: Vec<String> = (0..10).map(|i| format!(" w{i}")).collect();
    let up = Upstream::start(move |_| {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        Reply::Paced(openai_stream(&words, None, Duration::from_millis(400)))
    });
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"m\"\n[[llm.models.deployments]]\nprovider = \"p\"\n",
        provider("p", "openai", "")
    );
    let gw = start(1, &cluster("p", &up), "{}", &llm);

    let mut c = Conn::open(&gw.addr());
    stream_until_chunks(&mut c, 2);
    std::thread::sleep(Duration::from_millis(150));
    let closed = Instant::now();
    c.stream.shutdown(Shutdown::Both).expect("shutdown");
    drop(c);

    let end = up.first_stream_end(Duration::from_secs(3));
    assert_eq!(end.outcome, StreamOutcome::PeerGone, "{end:?}");
    let took = end.at.saturating_duration_since(closed);
    assert!(
        took < Duration::from_millis(100),
        "the provider connection closed {took:?} after the client left"
    );
    assert_eq!(access_log(&gw, 1)[0]["status"], 499);
}

#[test]
fn requests_pipelined_behind_a_stream_are_answered_after_it() {
    // One request sent while the stream runs (it reaches the gateway's watch on the
    // client), one sent with it in the same write (already buffered when the stream
    // starts): neither is lost, and both are answered in order after the stream.
    let words: Vec<String> = (0..4).map(|i| format!(" w{i}")).collect();
    let up = Upstream::start(move |r| {
        if wants_stream(r) {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            Reply::Paced(openai_stream(&words, None, Duration::from_millis(100)))
        } else {
            openai_completion("gpt-up", "Hello from up", 11, 3)
        }
    });
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"m\"\n[[llm.models.deployments]]\nprovider = \"p\"\n",
        provider("p", "openai", "")
    );
    let gw = start(1, &cluster("p", &up), "{}", &llm);
    let whole = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{M}",
        M.len()
    );

    let mut c = Conn::open(&gw.addr());
    let head = stream_until_chunks(&mut c, 1);
    // Larger than the small buffer the client watch reads into while the stream runs.
    let padded = whole.replacen(
        "Host: t\r\n",
        &format!("Host: t\r\nx-pad: {}\r\n", "p".repeat(6000)),
        1,
    );
    c.send(padded.as_bytes());
    // The rest of the stream, then the whole answer.
    let mut rest = head;
    let mut tmp = [0u8; 4096];
    while !rest.windows(5).any(|w| w == b"0\r\n\r\n") {
        let got = c
            .stream
            .read(&mut tmp)
            .expect("the stream's end within 10 s");
        assert!(
            got > 0,
            "gateway closed: {}",
            String::from_utf8_lossy(&rest)
        );
        rest.extend_from_slice(&tmp[..got]);
    }
    let text = String::from_utf8_lossy(&rest).into_owned();
    assert!(text.contains("[DONE]"), "{text}");
    let end = rest.windows(5).position(|w| w == b"0\r\n\r\n").unwrap() + 5;
    let mut after = rest[end..].to_vec();
    while !String::from_utf8_lossy(&after).contains("Hello from up") {
        let got = c
            .stream
            .read(&mut tmp)
            .expect("the pipelined answer within 10 s");
        assert!(
            got > 0,
            "gateway closed: {}",
            String::from_utf8_lossy(&after)
        );
        after.extend_from_slice(&tmp[..got]);
    }
    assert!(
        after.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&after)
    );

    // Both requests in one write.
    let mut c = Conn::open(&gw.addr());
    let both = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{M_STREAM}{whole}",
        M_STREAM.len()
    );
    c.send(both.as_bytes());
    let streamed = c.read_response("POST").expect("the stream");
    assert_sse(&streamed);
    assert!(streamed.text().contains(" w3"), "{}", streamed.text());
    let answered = c.read_response("POST").expect("the pipelined answer");
    assert_eq!(answered.status, 200, "{}", answered.text());
    assert!(
        answered.text().contains("Hello from up"),
        "{}",
        answered.text()
    );
    assert_eq!(access_log(&gw, 4).len(), 4);
}

#[test]
fn a_client_that_stops_reading_holds_the_provider_back_and_then_gets_every_event() {
    // 24,000 events of ~1 KiB, sent by the provider as fast as it can: more than the
    // socket buffers between provider, gateway and client can hold. The client sends
    // its request and does not read for a second. The gateway must stop reading the provider
    // (back-pressure, not memory), and once the client reads again every event must
    // arrive once and in order: the relay writes what the socket takes at once and
    // queues only the rest, so this also covers a write that is cut short.
    const WORDS: usize = 24_000;
    let words: Vec<String> = (0..WORDS)
        .map(|i| format!(" w{i:05}-{}", "x".repeat(1000)))
        .collect();
    let up = Upstream::start(move |_| {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        Reply::Paced(openai_stream(
            &words,
            Some((5, WORDS as u64)),
            Duration::ZERO,
        ))
    });
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"m\"\n[[llm.models.deployments]]\nprovider = \"p\"\n",
        provider("p", "openai", "")
    );
    let gw = start(1, &cluster("p", &up), "{}", &llm);

    let mut c = Conn::open(&gw.addr());
    send_stream_request(&mut c);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        up.request_count(),
        1,
        "the provider was not asked within a second"
    );
    assert!(
        up.stream_ends().is_empty(),
        "the provider finished while the client was not reading: {:?}",
        up.stream_ends()
    );

    let r = c.read_response("POST").expect("the whole stream");
    assert_eq!(r.status, 200, "{}", r.text());
    let evs = events(&r.body);
    let chunks = data_chunks(&evs);
    let content = content_of(&chunks);
    let expected: String = (0..WORDS)
        .map(|i| format!(" w{i:05}-{}", "x".repeat(1000)))
        .collect();
    assert_eq!(content.len(), expected.len(), "events lost or repeated");
    assert!(content == expected, "events out of order or damaged");
    assert_eq!(evs.last().map(|e| e.data.as_str()), Some("[DONE]"));
    let end = up.first_stream_end(Duration::from_secs(10));
    assert_eq!(end.outcome, StreamOutcome::Complete, "{end:?}");
}

#[test]
fn an_event_larger_than_the_streams_read_buffer_arrives_whole() {
    // A stream reads the provider into a 4 KiB buffer (STREAM_READ), not the
    // connection's 16 KiB one: a 40 KiB event (a long tool-call argument, say) takes
    // several reads and must still reach the client as one event, between its
    // neighbours.
    let big = format!(" {}", "z".repeat(40 * 1024));
    let words = [" a".to_string(), big.clone(), " b".to_string()];
    let up = Upstream::start(move |_| {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        Reply::Paced(openai_stream(&words, None, Duration::from_millis(20)))
    });
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"m\"\n[[llm.models.deployments]]\nprovider = \"p\"\n",
        provider("p", "openai", "")
    );
    let gw = start(1, &cluster("p", &up), "{}", &llm);
    let r = post(&gw, "/v1/chat/completions", M_STREAM, "");
    assert_sse(&r);
    let chunks = data_chunks(&events(&r.body));
    let contents: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(contents.len(), 3, "events split or lost");
    assert_eq!(contents[0], " a");
    assert!(contents[1] == big, "the large event was damaged");
    assert_eq!(contents[2], " b");
}

// ---------------------------------------------------------------------------------------
// 8. Access log and metrics
// ---------------------------------------------------------------------------------------

#[test]
fn access_log_and_metrics_carry_usage_cost_and_ttft() {
    let up = openai_provider();
    let llm = format!(
        "{}\n[[llm.models]]\nname = \"m\"\nprice = {{ input = 1.0, output = 2.0 }}\n\
         [[llm.models.deployments]]\nprovider = \"p\"\nmodel = \"gpt-up\"\n",
        provider("p", "openai", "")
    );
    let gw = start(1, &cluster("p", &up), "{}", &llm);
    assert_eq!(post(&gw, "/v1/chat/completions", M, "").status, 200);
    assert_sse(&post(&gw, "/v1/chat/completions", M_STREAM, ""));

    let lines = access_log(&gw, 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, stream) in lines.iter().zip([false, true]) {
        let llm = &line["llm"];
        assert_eq!(line["status"], 200, "{line}");
        assert_eq!(line["route"], "llm", "{line}");
        assert_eq!(llm["operation"], "chat", "{line}");
        assert_eq!(llm["model"], "m", "{line}");
        assert_eq!(llm["provider"], "p", "{line}");
        assert_eq!(llm["deployment"], "p/gpt-up", "{line}");
        assert_eq!(llm["stream"], stream, "{line}");
        assert_eq!(llm["input_tokens"], 11, "{line}");
        assert_eq!(llm["output_tokens"], 3, "{line}");
        assert_eq!(llm["estimated"], false, "{line}");
        assert_eq!(llm["fallbacks"], 0, "{line}");
        // 11 input tokens at $1 and 3 output tokens at $2 per million.
        let cost = llm["cost_usd"].as_f64().expect("cost");
        assert!((cost - 17e-6).abs() < 1e-12, "{line}");
    }
    assert!(
        lines[1]["llm"]["ttft_ms"].as_f64().is_some_and(|t| t > 0.0),
        "{}",
        lines[1]
    );

    let page = metrics(&gw);
    let labels = "gen_ai_request_model=\"m\",gen_ai_provider_name=\"p\",deployment=\"p/gpt-up\"";
    let m = |name: &str, extra: &str| {
        let series = format!("{name}{{{labels}{extra}}}");
        metric(&page, &series).unwrap_or_else(|| panic!("no {series} in:\n{page}"))
    };
    assert_eq!(
        m(
            "gen_ai_client_token_usage_total",
            ",gen_ai_token_type=\"input\""
        ),
        22.0
    );
    assert_eq!(
        m(
            "gen_ai_client_token_usage_total",
            ",gen_ai_token_type=\"output\""
        ),
        6.0
    );
    assert_eq!(m("tollgate_llm_requests_total", ""), 2.0);
    assert_eq!(m("tollgate_llm_errors_total", ""), 0.0);
    assert!((m("tollgate_llm_cost_usd_total", "") - 34e-6).abs() < 1e-9);
    assert_eq!(
        m("gen_ai_server_time_to_first_token_seconds_count", ""),
        1.0
    );
}
