//! The auth filter as the chain runs it: credentials found where configured and taken
//! out of what goes upstream, consumers identified, 401/403 with their challenge and body
//! in the right format, anonymous requests, JWT consumers, model allow-lists, and the
//! route configs that must not build.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use super::*;
use crate::llm::{Dialect, ModelId};
use crate::testing::{ctx, req};
use crate::{BuildError, Chain, Flow, LlmRequest, LocalResponse, RequestCtx, RouteConfig};

fn consumers() -> Vec<ConsumerConfig> {
    serde_json::from_value(json!([
        {"name": "alice", "group": "team-a", "metadata": {"tier": "gold"},
         "models": ["llama"], "api_keys": [format_key_hash(b"key-alice"), format_key_hash(b"key-alice-2")]},
        {"name": "bob", "routes": ["other"], "api_keys": [format_key_hash(b"key-bob")]},
        {"name": "carol"},
    ]))
    .unwrap()
}

fn auth_config() -> AuthConfig {
    serde_json::from_value(json!({"jwt": [
        {"name": "idp", "algorithms": ["HS256"], "secret": "s3cret"},
        {"name": "open", "algorithms": ["HS256"], "secret": "open-secret", "default_group": "guests"},
    ]}))
    .unwrap()
}

fn models() -> Vec<ModelConfig> {
    serde_json::from_value(json!([
        {"name": "llama-3-8b", "aliases": ["llama", "l3"], "deployments": [{"provider": "p"}]},
        {"name": "mock-model", "deployments": [{"provider": "p"}]},
    ]))
    .unwrap()
}

/// A chain of `routes` (JSON) with the consumers and issuers above.
fn chain(routes: Value) -> Chain {
    try_chain(routes).unwrap_or_else(|e| panic!("{e}"))
}

fn try_chain(routes: Value) -> Result<Chain, BuildError> {
    let routes: Vec<RouteConfig> = serde_json::from_value(routes).unwrap();
    let (c, a, m) = (consumers(), auth_config(), models());
    let inputs = AuthInputs {
        consumers: &c,
        auth: &a,
        models: &m,
    };
    Chain::build_with_auth(&routes, &inputs, true, &|n| (n == "up").then_some(0))
}

/// One proxied route `r` on `/` with `auth`.
fn proxy(auth: Value) -> Chain {
    chain(json!([{"name": "r", "upstream": "up", "auth": auth}]))
}

/// One LLM route `ai` with `auth`.
fn llm(auth: Value) -> Chain {
    chain(json!([{"name": "ai", "llm": {}, "auth": auth}]))
}

/// Runs the request head through the chain: the response if refused, and the context.
fn run(chain: &Chain, line: &str, fields: &[&str]) -> (Option<LocalResponse>, RequestCtx) {
    let h = req(line, fields);
    let mut c = ctx();
    match chain.on_request_head(&mut c, &h) {
        Flow::Continue => (None, c),
        Flow::Respond(r) => (Some(r), c),
    }
}

fn header<'a>(r: &'a LocalResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| std::str::from_utf8(v).unwrap())
}

fn body(r: &LocalResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn removed(c: &RequestCtx) -> Vec<&[u8]> {
    c.request_edits.remove.iter().map(|b| &b[..]).collect()
}

fn token(secret: &str, claims: Value) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let mut claims = claims;
    claims["exp"] = json!(exp);
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[test]
fn an_api_key_in_bearer_or_x_api_key_identifies_the_consumer() {
    let ch = proxy(json!({}));
    let (r, c) = run(
        &ch,
        "GET /x",
        &["Host: a", "Authorization: Bearer key-alice"],
    );
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.consumer_name(), Some("alice"));
    assert_eq!(c.consumer_group(), Some("team-a"));
    assert!(!c.consumer_is_anonymous());
    assert_eq!(c.consumer.as_ref().unwrap().metadata["tier"], "gold");
    assert_eq!(removed(&c), [&b"authorization"[..]]);
    assert_eq!(c.auth_failure, None);

    let (r, c) = run(&ch, "GET /x", &["Host: a", "X-Api-Key: key-alice-2"]);
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.consumer_name(), Some("alice"));
    assert_eq!(removed(&c), [&b"x-api-key"[..]]);

    // The scheme is case-insensitive; a consumer without a group has none.
    let (r, c) = run(
        &ch,
        "GET /x",
        &["Host: a", "authorization: bearer  key-bob "],
    );
    assert!(r.is_some(), "bob may not use route r");
    assert_eq!(c.consumer_name(), None);
    let ch = chain(json!([{"name": "other", "upstream": "up", "auth": {}}]));
    let (r, c) = run(
        &ch,
        "GET /x",
        &["Host: a", "authorization: bearer  key-bob "],
    );
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.consumer_name(), Some("bob"));
    assert_eq!(c.consumer_group(), None);
}

#[test]
fn a_missing_or_wrong_key_is_a_401_with_a_challenge() {
    let ch = proxy(json!({}));
    let (r, c) = run(&ch, "GET /x", &["Host: a"]);
    let r = r.expect("refused");
    assert_eq!(r.status, 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"tollgate\"")
    );
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    assert_eq!(body(&r)["error"]["type"], "authentication_error");
    assert_eq!(body(&r)["error"]["code"], 401);
    assert_eq!(c.auth_failure, Some("missing_credentials"));
    assert_eq!(c.error, Some("missing_credentials"));

    for fields in [
        &["Host: a", "Authorization: Bearer key-mallory"][..],
        &["Host: a", "x-api-key: key-alice "][..], // trimmed: still alice's... see below
        &["Host: a", "x-api-key: KEY-ALICE"][..],
        &["Host: a", "Authorization: Bearer key-alice-"][..],
    ] {
        let (r, c) = run(&ch, "GET /x", fields);
        if fields[1] == "x-api-key: key-alice " {
            // Surrounding whitespace is not part of a field value (RFC 9110 §5.5).
            assert!(r.is_none(), "{fields:?}");
            continue;
        }
        let r = r.unwrap_or_else(|| panic!("{fields:?} let through"));
        assert_eq!(r.status, 401);
        let challenge = header(&r, "www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"tollgate\", error=\"invalid_token\""),
            "{challenge}"
        );
        assert_eq!(c.auth_failure, Some("invalid_api_key"));
        assert!(c.consumer.is_none());
        // The key is not echoed anywhere.
        let all = format!("{r:?}");
        assert!(
            !all.contains("mallory") && !all.contains("KEY-ALICE"),
            "{all}"
        );
    }
    // Another scheme is not a credential.
    let (r, _) = run(
        &ch,
        "GET /x",
        &["Host: a", "Authorization: Basic a2V5LWFsaWNl"],
    );
    assert_eq!(r.map(|r| r.status), Some(401));
}

#[test]
fn refusals_on_llm_routes_take_the_clients_format() {
    let ch = llm(json!({}));
    let (r, _) = run(
        &ch,
        "POST /v1/chat/completions",
        &["Host: a", "Authorization: Bearer nope"],
    );
    let r = r.unwrap();
    assert_eq!(r.status, 401);
    let b = body(&r);
    assert_eq!(b["error"]["type"], "invalid_request_error", "{b}");
    assert_eq!(b["error"]["code"], "invalid_api_key", "{b}");
    assert!(header(&r, "www-authenticate")
        .unwrap()
        .contains("invalid_token"));

    let (r, _) = run(
        &ch,
        "POST /v1/messages",
        &["Host: a", "anthropic-version: 2023-06-01"],
    );
    let r = r.unwrap();
    assert_eq!(r.status, 401);
    let b = body(&r);
    assert_eq!(b["type"], "error", "{b}");
    assert_eq!(b["error"]["type"], "authentication_error", "{b}");
    assert_eq!(
        header(&r, "www-authenticate"),
        Some("Bearer realm=\"tollgate\"")
    );
}

#[test]
fn a_consumer_limited_to_other_routes_gets_403() {
    let ch = proxy(json!({}));
    let (r, c) = run(&ch, "GET /x", &["Host: a", "x-api-key: key-bob"]);
    let r = r.unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(body(&r)["error"]["type"], "permission_error");
    assert!(header(&r, "www-authenticate")
        .unwrap()
        .contains("insufficient_scope"));
    assert_eq!(c.auth_failure, Some("route_forbidden"));
    assert!(c.consumer.is_none());
}

#[test]
fn a_configured_header_and_query_parameter_carry_keys() {
    let ch = proxy(json!({"header": "X-Token", "query": "key"}));
    let (r, c) = run(&ch, "GET /x", &["Host: a", "x-token: key-alice"]);
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.consumer_name(), Some("alice"));
    assert_eq!(removed(&c), [&b"x-token"[..]]);
    // x-api-key is no longer read on this route.
    let (r, _) = run(&ch, "GET /x", &["Host: a", "x-api-key: key-alice"]);
    assert_eq!(r.map(|r| r.status), Some(401));

    let (r, c) = run(&ch, "GET /x/y?a=1&key=key-alice&b=2", &["Host: a"]);
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.consumer_name(), Some("alice"));
    let target = Bytes::from_static(b"/x/y?a=1&b=2");
    assert_eq!(c.request_edits.target, Some(target.clone()));
    assert_eq!(c.log_target, Some(target));

    // Percent-encoded, alone in the query; a wrong one is still taken out.
    let (r, c) = run(&ch, "GET /x?key=key%2Dalice", &["Host: a"]);
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.request_edits.target, Some(Bytes::from_static(b"/x")));
    let (r, c) = run(&ch, "GET /x?key=wrong&z", &["Host: a"]);
    assert_eq!(r.map(|r| r.status), Some(401));
    assert_eq!(c.log_target, Some(Bytes::from_static(b"/x?z")));
    // A parameter that only starts with the name is not it.
    let (r, c) = run(&ch, "GET /x?keys=key-alice", &["Host: a"]);
    assert_eq!(r.map(|r| r.status), Some(401));
    assert_eq!(c.request_edits.target, None);
}

#[test]
fn a_rewrite_keeps_the_query_without_the_credential() {
    let ch = chain(
        json!([{"name": "r", "upstream": "up", "match": {"path_prefix": "/api/"},
        "rewrite": {"prefix": "/v2/"}, "auth": {"query": "key"}}]),
    );
    let (r, c) = run(&ch, "GET /api/items?key=key-alice&page=2", &["Host: a"]);
    assert!(r.is_none(), "{r:?}");
    assert_eq!(
        c.request_edits.target,
        Some(Bytes::from_static(b"/v2/items?page=2"))
    );
}

#[test]
fn anonymous_requests_pass_only_without_credentials() {
    let ch = proxy(json!({"anonymous": true}));
    let (r, c) = run(&ch, "GET /x", &["Host: a"]);
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.consumer_name(), Some(ANONYMOUS));
    assert!(c.consumer_is_anonymous());
    assert_eq!(c.consumer_group(), None);
    assert!(c.consumer_allows_model("anything"));
    let (r, c) = run(&ch, "GET /x", &["Host: a", "x-api-key: key-alice"]);
    assert!(r.is_none());
    assert_eq!(c.consumer_name(), Some("alice"));
    let (r, c) = run(&ch, "GET /x", &["Host: a", "x-api-key: bad"]);
    assert_eq!(r.map(|r| r.status), Some(401));
    assert!(!c.consumer_is_anonymous());

    // A route that reads no credential: everyone is anonymous, and keys stay out of the
    // upstream all the same.
    let ch = proxy(json!({"api_key": false, "anonymous": true}));
    let (r, c) = run(
        &ch,
        "GET /x",
        &["Host: a", "Authorization: Bearer whatever"],
    );
    assert!(r.is_none());
    assert!(c.consumer_is_anonymous());
    assert_eq!(removed(&c), [&b"authorization"[..]]);
}

#[test]
fn jwts_identify_consumers_by_their_claim() {
    let ch = proxy(json!({"api_key": false, "jwt": ["idp", "open"]}));
    let t = token("s3cret", json!({"sub": "alice"}));
    let bearer = format!("Authorization: Bearer {t}");
    let (r, c) = run(&ch, "GET /x", &["Host: a", &bearer]);
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.consumer_name(), Some("alice"));
    assert_eq!(c.consumer_group(), Some("team-a"));

    // A subject that is no consumer: refused by `idp`...
    let t = token("s3cret", json!({"sub": "zed"}));
    let (r, c) = run(
        &ch,
        "GET /x",
        &["Host: a", &format!("Authorization: Bearer {t}")],
    );
    assert_eq!(r.map(|r| r.status), Some(403));
    assert_eq!(c.auth_failure, Some("unknown_consumer"));
    // ...admitted by `open`, which has a default group.
    let t = token("open-secret", json!({"sub": "zed"}));
    let (r, c) = run(&ch, "GET /x", &["Host: a", &format!("x-api-key: {t}")]);
    assert!(r.is_none(), "{r:?}");
    assert_eq!(c.consumer_name(), Some("zed"));
    assert_eq!(c.consumer_group(), Some("guests"));
    assert!(c.consumer_allows_model("mock-model"));

    // Signed with a key no listed issuer has; and an API key on a JWT-only route.
    let t = token("nobody", json!({"sub": "alice"}));
    let (r, c) = run(
        &ch,
        "GET /x",
        &["Host: a", &format!("Authorization: Bearer {t}")],
    );
    let r = r.unwrap();
    assert_eq!(r.status, 401);
    assert!(header(&r, "www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(c.auth_failure, Some("token_bad_signature"));
    let (r, _) = run(
        &ch,
        "GET /x",
        &["Host: a", "Authorization: Bearer key-alice"],
    );
    assert_eq!(r.map(|r| r.status), Some(401));

    // An expired token is reported as such.
    let mut claims = json!({"sub": "alice"});
    claims["exp"] = json!(1_000_000);
    let t = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"s3cret"),
    )
    .unwrap();
    let (_, c) = run(
        &ch,
        "GET /x",
        &["Host: a", &format!("Authorization: Bearer {t}")],
    );
    assert_eq!(c.auth_failure, Some("token_expired"));

    // Keys and tokens side by side.
    let ch = proxy(json!({"jwt": ["idp"]}));
    let (r, _) = run(
        &ch,
        "GET /x",
        &["Host: a", "Authorization: Bearer key-alice"],
    );
    assert!(r.is_none());
    let (r, _) = run(&ch, "GET /x", &["Host: a", &bearer]);
    assert!(r.is_none());
}

fn llm_request(model: &str, dialect: Dialect) -> LlmRequest<'_> {
    LlmRequest {
        dialect,
        model,
        model_id: ModelId(0),
        stream: false,
        body: b"{}",
    }
}

#[test]
fn a_consumer_may_use_only_its_models_and_their_aliases() {
    let ch = llm(json!({}));
    let h = req(
        "POST /v1/chat/completions",
        &["Host: a", "x-api-key: key-alice"],
    );
    let mut c = ctx();
    assert!(matches!(ch.on_request_head(&mut c, &h), Flow::Continue));
    for ok in ["llama", "llama-3-8b", "l3"] {
        assert!(c.consumer_allows_model(ok), "{ok}");
        let f = ch.on_llm_request(&mut c, &h, &llm_request(ok, Dialect::OpenAi));
        assert!(matches!(f, Flow::Continue), "{ok}");
    }
    assert!(!c.consumer_allows_model("mock-model"));
    let Flow::Respond(r) =
        ch.on_llm_request(&mut c, &h, &llm_request("mock-model", Dialect::OpenAi))
    else {
        panic!("mock-model allowed")
    };
    assert_eq!(r.status, 403);
    assert_eq!(body(&r)["error"]["code"], "model_not_allowed");
    assert_eq!(c.auth_failure, Some("model_forbidden"));
    let Flow::Respond(r) =
        ch.on_llm_request(&mut c, &h, &llm_request("mock-model", Dialect::Anthropic))
    else {
        panic!("mock-model allowed")
    };
    assert_eq!(body(&r)["error"]["type"], "permission_error");

    // carol has no model list: everything.
    let h = req("POST /v1/chat/completions", &["Host: a"]);
    let mut c = ctx();
    c.consumer = Some(std::rc::Rc::new(Consumer {
        name: "carol".into(),
        ..Consumer::default()
    }));
    let f = ch.on_llm_request(&mut c, &h, &llm_request("mock-model", Dialect::OpenAi));
    assert!(matches!(f, Flow::Continue));
}

#[test]
fn a_cors_preflight_is_answered_before_auth() {
    let ch = chain(json!([{"name": "r", "upstream": "up",
        "cors": {"allow_origins": ["https://app.example"]}, "auth": {}}]));
    let (r, _) = run(
        &ch,
        "OPTIONS /x",
        &[
            "Host: a",
            "Origin: https://app.example",
            "Access-Control-Request-Method: POST",
        ],
    );
    assert_eq!(r.map(|r| r.status), Some(204));
    // A refused request from the page still carries the CORS headers, so the page can
    // read the 401.
    let (r, c) = run(&ch, "POST /x", &["Host: a", "Origin: https://app.example"]);
    assert_eq!(r.map(|r| r.status), Some(401));
    assert!(c
        .response_edits
        .set
        .iter()
        .any(|(n, _)| &n[..] == b"access-control-allow-origin"));
}

#[test]
fn routes_that_cannot_work_do_not_build() {
    let field =
        |auth: Value| match try_chain(json!([{"name": "r", "upstream": "up", "auth": auth}])) {
            Err(BuildError::Route { field, .. }) => field,
            other => panic!("{other:?}"),
        };
    assert_eq!(field(json!({"jwt": ["nope"]})), "auth.jwt");
    assert_eq!(field(json!({"api_key": false})), "auth");
    assert_eq!(field(json!({"header": "authorization"})), "auth.header");
    assert_eq!(field(json!({"header": "bad header"})), "auth.header");
    // Without any consumer or issuer (Chain::build), a route with auth refuses keys.
    let routes: Vec<RouteConfig> =
        serde_json::from_value(json!([{"name": "r", "upstream": "up", "auth": {}}])).unwrap();
    let ch = Chain::build(&routes, false, &|_| Some(0)).unwrap();
    let (r, _) = run(&ch, "GET /x", &["Host: a", "x-api-key: key-alice"]);
    assert_eq!(r.map(|r| r.status), Some(401));
}

#[test]
fn identities_refuse_duplicates_and_bad_hashes() {
    let build = |consumers: Value, auth: Value| {
        let c: Vec<ConsumerConfig> = serde_json::from_value(consumers).unwrap();
        let a: AuthConfig = serde_json::from_value(auth).unwrap();
        Identities::build(&AuthInputs {
            consumers: &c,
            auth: &a,
            models: &[],
        })
        .err()
        .map(|e| e.path)
    };
    let key = format_key_hash(b"k");
    let none = json!({});
    assert_eq!(
        build(json!([{"name": "a"}, {"name": "a"}]), none.clone()),
        Some("consumers[1].name".into())
    );
    assert_eq!(
        build(
            json!([{"name": "a", "api_keys": ["plain-key"]}]),
            none.clone()
        ),
        Some("consumers[0].api_keys[0]".into())
    );
    assert_eq!(
        build(
            json!([{"name": "a", "api_keys": [key]}, {"name": "b", "api_keys": [format_key_hash(b"o"), key]}]),
            none.clone()
        ),
        Some("consumers[1].api_keys[1]".into())
    );
    assert_eq!(
        build(
            json!([{"name": "a", "api_keys": [key]}, {"name": "b", "api_keys": [key]}]),
            none
        ),
        Some("consumers[1].api_keys[0]".into())
    );
    let two = json!({"jwt": [{"name": "i", "algorithms": ["HS256"], "secret": "s"},
                             {"name": "i", "algorithms": ["HS256"], "secret": "s"}]});
    assert_eq!(build(json!([]), two), Some("auth.jwt[1].name".into()));
    let bad = json!({"jwt": [{"name": "i", "secret": "s"}]});
    assert_eq!(build(json!([]), bad), Some("auth.jwt[0].algorithms".into()));
}
