//! End-to-end: consumers and authentication (`filters/src/auth`) through the real
//! binary. API keys in `Authorization: Bearer`, `x-api-key` and a query parameter; 401
//! with its challenge, in the gateway's JSON on proxy routes and in the client's API
//! format on LLM routes; 403 for a route or a model the consumer may not use, and
//! `/v1/models` cut to its models; the anonymous consumer; JWTs (RS256 from a key file,
//! HS256) accepted and refused; the credential never reaching the upstream nor the access
//! log; refusals counted in the metrics; `tollgate hash-key`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tollgate_tests::client::{exchange, Response};
use tollgate_tests::llm::{access_log, json_body, metric, metrics};
use tollgate_tests::{bin, Gateway, Upstream};

/// The digest `tollgate hash-key` prints for `key`.
fn hash(key: &str) -> String {
    let mut child = Command::new(bin("tollgate"))
        .arg("hash-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tollgate hash-key");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{key}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn data(file: &str) -> String {
    format!(
        "{}/../filters/tests/data/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A gateway with one worker, its access log in the scratch dir, a cluster `up` at
/// `up`, the mock model (`mock-model`, alias `gpt-4o-mini`) and a second mock model
/// `other-model`, the consumers below, an RS256 issuer `sso` (rsa1 key file, iss
/// `https://sso.test`, aud `tollgate`) and an HS256 issuer `shared`, then `routes`.
///
/// Consumers: `alice` (key `alice-key`, group `team-a`, only `mock-model`), `bob` (key
/// `bob-key`, only the route `llm`), `carol` (no key; JWTs only).
fn start(up: &Upstream, routes: &str) -> Gateway {
    let (alice, bob) = (hash("alice-key"), hash("bob-key"));
    Gateway::start(&format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[access_log]
path = "{{dir}}/access.log"
[[clusters]]
name = "up"
endpoints = ["{up}"]

[[llm.providers]]
name = "mock"
kind = "mock"
[llm.providers.mock]
ttft = "1ms"
output_tokens = 3
[[llm.models]]
name = "mock-model"
aliases = ["gpt-4o-mini"]
[[llm.models.deployments]]
provider = "mock"
[[llm.models]]
name = "other-model"
[[llm.models.deployments]]
provider = "mock"

[[consumers]]
name = "alice"
group = "team-a"
models = ["mock-model"]
api_keys = ["{alice}"]
[[consumers]]
name = "bob"
routes = ["llm"]
api_keys = ["{bob}"]
[[consumers]]
name = "carol"

[[auth.jwt]]
name = "sso"
algorithms = ["RS256"]
public_key_file = "{rsa}"
issuer = "https://sso.test"
audience = ["tollgate"]
[[auth.jwt]]
name = "shared"
algorithms = ["HS256"]
secret = "hs-secret"
default_group = "guests"

{routes}
"#,
        up = up.addr,
        rsa = data("rsa1_public.pem"),
    ))
}

/// A proxy route `api` on `/api/` with `auth`, and an LLM route `llm` on `/v1/`.
fn routes(api_auth: &str, llm_auth: &str) -> String {
    format!(
        "[[routes]]\nname = \"api\"\nmatch = {{ path_prefix = \"/api/\" }}\nupstream = \"up\"\nauth = {api_auth}\n\
         [[routes]]\nname = \"llm\"\nmatch = {{ path_prefix = \"/v1/\" }}\nllm = {{}}\nauth = {llm_auth}\n"
    )
}

fn send(gw: &Gateway, method: &str, path: &str, headers: &str, body: &str) -> Response {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\n{headers}content-length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(&gw.addr(), req.as_bytes()).unwrap_or_else(|| panic!("no response to {path}"))
}

fn chat(model: &str) -> String {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

fn anthropic(model: &str) -> String {
    json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rs256(claims: Value) -> String {
    let key = EncodingKey::from_rsa_pem(&std::fs::read(data("rsa1_private.pem")).unwrap()).unwrap();
    encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

fn hs256(secret: &str, claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[test]
fn hash_key_prints_the_sha256_digest() {
    // FIPS 180-2's SHA-256("abc").
    assert_eq!(
        hash("abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn api_keys_are_checked_and_never_forwarded() {
    let up = Upstream::ok();
    let gw = start(&up, &routes("{ query = \"key\" }", "{}"));

    let r = send(
        &gw,
        "GET",
        "/api/a",
        "Authorization: Bearer alice-key\r\n",
        "",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        &gw,
        "GET",
        "/api/b",
        "x-api-key: alice-key\r\nx-other: 1\r\n",
        "",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(&gw, "GET", "/api/c?page=2&key=alice-key", "", "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "ok /api/c?page=2");

    let seen = up.requests();
    assert_eq!(seen.len(), 3);
    for req in &seen {
        assert_eq!(req.header("authorization"), None, "{req:?}");
        assert_eq!(req.header("x-api-key"), None, "{req:?}");
        assert!(!req.target.contains("alice-key"), "{req:?}");
    }
    assert_eq!(seen[1].header("x-other"), Some("1"));

    // Missing, then wrong: 401 with the challenge, the gateway's JSON, nothing upstream.
    let r = send(&gw, "GET", "/api/d", "", "");
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"tollgate\"")
    );
    let v = json_body(&r);
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
    assert_eq!(v["error"]["code"], 401, "{v}");
    for headers in [
        "Authorization: Bearer mallory-key\r\n",
        "x-api-key: alice-key-\r\n",
        "Authorization: Basic YWxpY2Uta2V5\r\n",
    ] {
        let r = send(&gw, "GET", "/api/e", headers, "");
        assert_eq!(r.status, 401, "{headers}: {}", r.text());
    }
    let r = send(&gw, "GET", "/api/e", "x-api-key: wrong\r\n", "");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer realm=\"tollgate\", error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(!r.text().contains("wrong"), "{}", r.text());
    assert_eq!(
        up.request_count(),
        3,
        "a refused request reached the upstream"
    );

    // The access log names the consumer and keeps the key out of the path.
    let lines = access_log(&gw, 8);
    assert_eq!(lines[0]["consumer"], "alice", "{}", lines[0]);
    assert_eq!(lines[2]["path"], "/api/c?page=2", "{}", lines[2]);
    assert!(lines[3]["consumer"].is_null(), "{}", lines[3]);
    assert_eq!(lines[3]["error"], "missing_credentials", "{}", lines[3]);
    assert_eq!(lines[4]["error"], "invalid_api_key", "{}", lines[4]);
    let page = metrics(&gw);
    let failures = |reason: &str| {
        let series = format!("tollgate_auth_failures_total{{reason=\"{reason}\"}}");
        metric(&page, &series).unwrap_or_else(|| panic!("no {series} in:\n{page}"))
    };
    // No header, and a Basic one (not a credential this route reads).
    assert_eq!(failures("missing_credentials"), 2.0);
    // mallory-key, alice-key-, wrong.
    assert_eq!(failures("invalid_api_key"), 3.0);
}

#[test]
fn llm_routes_refuse_in_the_clients_format() {
    let up = Upstream::ok();
    let gw = start(&up, &routes("{}", "{}"));
    let r = send(
        &gw,
        "POST",
        "/v1/chat/completions",
        "Authorization: Bearer nope\r\n",
        &chat("mock-model"),
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert_eq!(v["error"]["code"], "invalid_api_key", "{v}");
    assert!(r
        .header("www-authenticate")
        .unwrap_or_default()
        .contains("invalid_token"));

    let r = send(
        &gw,
        "POST",
        "/v1/messages",
        "anthropic-version: 2023-06-01\r\n",
        &anthropic("mock-model"),
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "authentication_error", "{v}");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"tollgate\"")
    );

    // The Anthropic SDK's x-api-key and the OpenAI SDK's Bearer both work.
    let r = send(
        &gw,
        "POST",
        "/v1/messages",
        "anthropic-version: 2023-06-01\r\nx-api-key: alice-key\r\n",
        &anthropic("mock-model"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(json_body(&r)["type"], "message");
    let r = send(
        &gw,
        "POST",
        "/v1/chat/completions",
        "Authorization: Bearer alice-key\r\n",
        &chat("gpt-4o-mini"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn a_forbidden_model_or_route_is_403() {
    let up = Upstream::ok();
    let gw = start(&up, &routes("{}", "{}"));
    let alice = "Authorization: Bearer alice-key\r\n";

    let r = send(
        &gw,
        "POST",
        "/v1/chat/completions",
        alice,
        &chat("other-model"),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["error"]["type"], "permission_error", "{v}");
    assert_eq!(v["error"]["code"], "model_not_allowed", "{v}");
    let r = send(
        &gw,
        "POST",
        "/v1/messages",
        "anthropic-version: 2023-06-01\r\nx-api-key: alice-key\r\n",
        &anthropic("other-model"),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(json_body(&r)["error"]["type"], "permission_error");

    // /v1/models lists what alice may use; bob (no model list) sees both.
    let ids = |r: &Response| -> Vec<String> {
        let v = json_body(r);
        let mut ids: Vec<String> = v["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let r = send(&gw, "GET", "/v1/models", alice, "");
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = ids(&r);
    assert!(listed.contains(&"mock-model".to_owned()), "{listed:?}");
    assert!(!listed.contains(&"other-model".to_owned()), "{listed:?}");
    let r = send(&gw, "GET", "/v1/models", "x-api-key: bob-key\r\n", "");
    assert!(ids(&r).contains(&"other-model".to_owned()));

    // bob may call only the route `llm`.
    let r = send(&gw, "GET", "/api/x", "x-api-key: bob-key\r\n", "");
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(json_body(&r)["error"]["type"], "permission_error");
    let r = send(
        &gw,
        "POST",
        "/v1/chat/completions",
        "x-api-key: bob-key\r\n",
        &chat("other-model"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(up.request_count(), 0);

    let page = metrics(&gw);
    let n = |reason: &str| {
        metric(
            &page,
            &format!("tollgate_auth_failures_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(n("model_forbidden"), Some(2.0), "{page}");
    assert_eq!(n("route_forbidden"), Some(1.0), "{page}");
}

#[test]
fn anonymous_requests_pass_as_the_anonymous_consumer() {
    let up = Upstream::ok();
    let gw = start(&up, &routes("{ anonymous = true }", "{ anonymous = true }"));
    let r = send(&gw, "GET", "/api/x", "", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        &gw,
        "POST",
        "/v1/chat/completions",
        "",
        &chat("other-model"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // A credential, when sent, must be right.
    let r = send(&gw, "GET", "/api/x", "x-api-key: nope\r\n", "");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = send(&gw, "GET", "/api/x", "x-api-key: alice-key\r\n", "");
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = access_log(&gw, 4);
    let consumers: Vec<&Value> = lines.iter().map(|l| &l["consumer"]).collect();
    assert_eq!(
        consumers,
        [
            &json!("anonymous"),
            &json!("anonymous"),
            &Value::Null,
            &json!("alice")
        ]
    );
}

#[test]
fn jwts_are_verified_and_name_their_consumer() {
    let up = Upstream::ok();
    let gw = start(
        &up,
        &routes(
            "{ api_key = false, jwt = [\"sso\", \"shared\"] }",
            "{ jwt = [\"sso\"] }",
        ),
    );
    let good =
        json!({"sub": "carol", "iss": "https://sso.test", "aud": "tollgate", "exp": now() + 600});
    let bearer = |t: &str| format!("Authorization: Bearer {t}\r\n");

    let r = send(&gw, "GET", "/api/x", &bearer(&rs256(good.clone())), "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(up.requests()[0].header("authorization"), None);
    let r = send(
        &gw,
        "POST",
        "/v1/chat/completions",
        &bearer(&rs256(good.clone())),
        &chat("mock-model"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // An API key on a JWT-only route is refused; on the LLM route keys still work.
    let r = send(&gw, "GET", "/api/x", "x-api-key: alice-key\r\n", "");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = send(
        &gw,
        "POST",
        "/v1/chat/completions",
        "x-api-key: alice-key\r\n",
        &chat("mock-model"),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    for (claims, what) in [
        (with("exp", json!(now() - 3600)), "expired"),
        (with("nbf", json!(now() + 3600)), "not yet valid"),
        (with("iss", json!("https://evil.test")), "wrong issuer"),
        (with("aud", json!("someone-else")), "wrong audience"),
    ] {
        let r = send(&gw, "GET", "/api/x", &bearer(&rs256(claims)), "");
        assert_eq!(r.status, 401, "{what}: {}", r.text());
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.contains("error=\"invalid_token\""),
            "{what}: {challenge}"
        );
    }
    // Signed with another key; and the RSA public key used as an HS256 secret.
    let other =
        EncodingKey::from_rsa_pem(&std::fs::read(data("rsa2_private.pem")).unwrap()).unwrap();
    let forged = encode(&Header::new(Algorithm::RS256), &good, &other).unwrap();
    assert_eq!(send(&gw, "GET", "/api/x", &bearer(&forged), "").status, 401);
    let public = std::fs::read_to_string(data("rsa1_public.pem")).unwrap();
    let confused = hs256(&public, good.clone());
    assert_eq!(
        send(&gw, "GET", "/api/x", &bearer(&confused), "").status,
        401
    );

    // A subject that is no consumer: 403 from `sso`; `shared` admits it to its group.
    let r = send(
        &gw,
        "GET",
        "/api/x",
        &bearer(&rs256(with("sub", json!("zed")))),
        "",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let t = hs256("hs-secret", json!({"sub": "zed", "exp": now() + 600}));
    let r = send(&gw, "GET", "/api/x", &bearer(&t), "");
    assert_eq!(r.status, 200, "{}", r.text());

    let lines = access_log(&gw, 12);
    assert_eq!(lines[0]["consumer"], "carol", "{}", lines[0]);
    assert_eq!(lines[4]["error"], "token_expired", "{}", lines[4]);
    assert_eq!(lines[5]["error"], "token_not_yet_valid", "{}", lines[5]);
    assert_eq!(lines[11]["consumer"], "zed", "{}", lines[11]);
    assert_eq!(
        up.request_count(),
        2,
        "only the two good tokens reach the upstream"
    );
}
