//! The filter on a built chain: where it goes, which phase checks which limit, keys,
//! refusals, settles, and a generation that goes away.

use std::rc::Rc;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::llm::{LlmConfig, Usage};
use crate::ratelimit::{LimitCounters, RateLimitShared};
use crate::testing::{ctx, req as raw_req};
use crate::{Chain, Flow, LocalResponse, RouteConfig};

/// Routes `api` (proxy), `ping` (direct response) and `llm` (LLM), and one priced model.
fn chain_with(limits: serde_json::Value) -> (Chain, Rc<RateLimits>, RateLimitShared) {
    let routes: Vec<RouteConfig> = serde_json::from_value(json!([
        {"name": "api", "match": {"path_prefix": "/api/"}, "upstream": "up"},
        {"name": "ping", "match": {"path": "/ping"}, "respond": {"body": "pong"},
         "response_headers": {"set": {"x-a": "1"}}},
        {"name": "llm", "match": {"path_prefix": "/v1/"}, "llm": {}},
    ]))
    .unwrap();
    let cfg: RateLimitConfig = serde_json::from_value(json!({ "limits": limits })).unwrap();
    let llm: LlmConfig = serde_json::from_value(json!({
        "models": [{"name": "m", "price": {"input": 2.0, "output": 4.0}}]
    }))
    .unwrap();
    let mut chain = Chain::build(&routes, false, &|n| (n == "up").then_some(0)).unwrap();
    let shared = RateLimitShared::new(&cfg, 1);
    let rl = RateLimits::build(
        &cfg,
        &shared,
        &llm,
        &|n| Arc::new(LimitCounters::new(n)),
        &|_, _| None,
    )
    .unwrap()
    .unwrap();
    rl.attach(&mut chain);
    (chain, rl, shared)
}

/// A request head with `Host: a` and `fields`.
fn req(line: &str, fields: &[&str]) -> tollgate_proto::h1::RequestHead {
    let mut all = vec!["Host: a"];
    all.extend_from_slice(fields);
    raw_req(line, &all)
}

fn status(flow: &Flow) -> u16 {
    match flow {
        Flow::Continue => 200,
        Flow::Respond(r) => r.status,
    }
}

fn header<'a>(r: &'a LocalResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.as_ref() == name.as_bytes())
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// Runs one request through the head phase and `on_log`; returns the head's flow.
fn request(chain: &Chain, line: &str, fields: &[&str]) -> Flow {
    let h = req(line, fields);
    let mut cx = ctx();
    let flow = chain.on_request_head(&mut cx, &h);
    chain.on_log(&mut cx, &h, &mut Vec::new());
    flow
}

#[test]
fn the_filter_goes_before_a_direct_response_and_only_where_limits_apply() {
    let (chain, _rl, _) = chain_with(json!([
        {"name": "rpm", "kind": "requests", "limit": 5, "routes": ["ping"]},
        {"name": "tpm", "kind": "total_tokens", "limit": 50},
    ]));
    let kinds = |r: usize| -> Vec<&'static str> {
        chain.router.routes[r]
            .filters
            .iter()
            .map(|f| match f {
                Filter::RateLimit(_) => "limit",
                Filter::Respond(_) => "respond",
                Filter::ResponseHeaders(_) => "response_headers",
                _ => "other",
            })
            .collect()
    };
    // `api` is neither in `rpm`'s routes nor an LLM route (where `tpm` applies).
    assert_eq!(kinds(0), Vec::<&str>::new());
    assert_eq!(kinds(1), ["limit", "respond", "response_headers"]);
    assert_eq!(kinds(2), ["limit"]);
}

#[test]
fn a_request_limit_admits_exactly_its_budget_then_refuses_with_the_fields() {
    let (chain, _rl, _) = chain_with(json!([
        {"name": "rpm", "kind": "requests", "limit": 3, "window": "1h"},
    ]));
    for _ in 0..3 {
        assert_eq!(status(&request(&chain, "GET /api/x", &[])), 200);
    }
    let Flow::Respond(r) = request(&chain, "GET /api/x", &[]) else {
        panic!("the fourth request passed");
    };
    assert_eq!(r.status, 429);
    assert_eq!(header(&r, "ratelimit-limit"), Some("3"));
    assert_eq!(header(&r, "ratelimit-remaining"), Some("0"));
    assert_eq!(header(&r, "ratelimit-policy"), Some("3;w=3600"));
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    // No OpenAI fields off LLM routes.
    assert!(header(&r, "x-ratelimit-limit-requests").is_none());
}

#[test]
fn admitted_responses_carry_the_tightest_quota() {
    let (chain, _rl, _) = chain_with(json!([
        {"name": "a", "kind": "requests", "limit": 100},
        {"name": "b", "kind": "requests", "limit": 4},
    ]));
    let h = req("GET /api/x", &[]);
    let mut cx = ctx();
    assert_eq!(status(&chain.on_request_head(&mut cx, &h)), 200);
    let set = &cx.response_edits.set;
    let field = |n: &str| {
        set.iter()
            .find(|(k, _)| k.as_ref() == n.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(field("ratelimit-limit").as_deref(), Some("4"));
    assert_eq!(field("ratelimit-remaining").as_deref(), Some("3"));
    assert!(field("ratelimit-reset").is_some());
}

#[test]
fn keys_per_header_and_per_ip_are_separate_budgets() {
    let (chain, _rl, _) = chain_with(json!([
        {"name": "per-user", "kind": "requests", "limit": 1, "per": ["header"], "header": "X-User"},
    ]));
    assert_eq!(status(&request(&chain, "GET /api/", &["x-user: u1"])), 200);
    assert_eq!(status(&request(&chain, "GET /api/", &["x-user: u1"])), 429);
    assert_eq!(status(&request(&chain, "GET /api/", &["x-user: u2"])), 200);
    // No header is a key too (the empty value): leaving it out does not escape.
    assert_eq!(status(&request(&chain, "GET /api/", &[])), 200);
    assert_eq!(status(&request(&chain, "GET /api/", &[])), 429);

    let (chain, _rl, _) = chain_with(json!([
        {"name": "per-ip", "kind": "requests", "limit": 1, "per": ["client_ip"]},
    ]));
    let h = req("GET /api/", &[]);
    let mut a = ctx();
    assert_eq!(status(&chain.on_request_head(&mut a, &h)), 200);
    let mut b = ctx();
    assert_eq!(status(&chain.on_request_head(&mut b, &h)), 429);
    let mut other = RequestCtx::new(([198, 51, 100, 1], 1).into(), false);
    assert_eq!(status(&chain.on_request_head(&mut other, &h)), 200);
}

#[test]
fn a_concurrency_permit_comes_back_at_on_log() {
    let (chain, _rl, _) = chain_with(json!([
        {"name": "inflight", "kind": "concurrent", "limit": 2},
    ]));
    let h = req("GET /api/", &[]);
    let (mut a, mut b, mut c) = (ctx(), ctx(), ctx());
    assert_eq!(status(&chain.on_request_head(&mut a, &h)), 200);
    assert_eq!(status(&chain.on_request_head(&mut b, &h)), 200);
    assert_eq!(status(&chain.on_request_head(&mut c, &h)), 429);
    chain.on_log(&mut a, &h, &mut Vec::new());
    assert!(a.limits.tickets.is_empty());
    let mut d = ctx();
    assert_eq!(status(&chain.on_request_head(&mut d, &h)), 200);
}

fn llm_request<'a>(body: &'a str, stream: bool) -> LlmRequest<'a> {
    LlmRequest {
        dialect: Dialect::OpenAi,
        model: "m",
        model_id: ModelId(0),
        stream,
        body: body.as_bytes(),
    }
}

/// One LLM request: head, model, then the usage the LLM layer found, then `on_log`.
fn llm(chain: &Chain, body: &str, usage: Option<(u64, u64)>, cost: Option<f64>) -> Flow {
    let h = req("POST /v1/chat/completions", &[]);
    let mut cx = ctx();
    let mut flow = chain.on_request_head(&mut cx, &h);
    if let Flow::Continue = flow {
        cx.llm.active = true;
        flow = chain.on_llm_request(&mut cx, &h, &llm_request(body, true));
        if let (Flow::Continue, Some((input, output))) = (&flow, usage) {
            cx.llm.usage = Some(Usage {
                input,
                output,
                ..Usage::default()
            });
            cx.llm.cost = cost;
        }
    }
    chain.on_log(&mut cx, &h, &mut Vec::new());
    flow
}

#[test]
fn a_token_limit_charges_the_usage_and_refuses_once_below_zero() {
    let (chain, rl, _) = chain_with(json!([
        {"name": "tpm", "kind": "total_tokens", "limit": 100, "reserve": false},
    ]));
    // Each request uses 30 tokens: 4 pass (the fourth drives the budget to -20).
    for i in 0..4 {
        assert_eq!(status(&llm(&chain, "{}", Some((10, 20)), None)), 200, "{i}");
    }
    let Flow::Respond(r) = llm(&chain, "{}", Some((10, 20)), None) else {
        panic!("passed below zero")
    };
    assert_eq!(r.status, 429);
    assert_eq!(header(&r, "x-ratelimit-limit-tokens"), Some("100"));
    assert!(header(&r, "x-ratelimit-reset-tokens").is_some());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    let st = rl.state.borrow();
    assert_eq!(st.limiter.stats(LimitId(0)).refused, 1);
}

#[test]
fn a_reservation_larger_than_the_limit_is_refused_up_front() {
    let (chain, _rl, _) = chain_with(json!([
        {"name": "otpm", "kind": "output_tokens", "limit": 50},
    ]));
    let Flow::Respond(r) = llm(&chain, r#"{"model":"m","max_tokens":80}"#, None, None) else {
        panic!("a reservation above the limit passed")
    };
    assert_eq!(r.status, 429);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("reserves 80 output tokens"), "{msg}");
    // Within the limit it passes, and the settle gives back what it did not use: 40
    // reserved, 5 used, so three fit in 50 (the budget left is 50 - 5k), not one.
    let body = r#"{"model":"m","max_tokens":40}"#;
    for i in 0..3 {
        assert_eq!(status(&llm(&chain, body, Some((1, 5)), None)), 200, "{i}");
    }
    // 15 used, 35 left: a reservation of 40 does not fit, one of 30 does.
    assert_eq!(status(&llm(&chain, body, Some((1, 5)), None)), 429);
    let small = r#"{"model":"m","max_tokens":30}"#;
    assert_eq!(status(&llm(&chain, small, Some((1, 5)), None)), 200);
}

#[test]
fn a_spend_limit_reserves_at_the_price_and_charges_the_cost() {
    // 1000 micro-dollars; the model costs 2 per input token and 4 per output token.
    let (chain, _rl, _) = chain_with(json!([
        {"name": "spend", "kind": "spend", "limit": 1000, "window": "1d"},
    ]));
    let body = r#"{"model":"m","max_tokens":100}"#;
    let prompt = Estimate::of(body.as_bytes(), "m").prompt as i64;
    let reserve = prompt * 2 + 400;
    assert!((400..500).contains(&reserve), "{reserve}");
    // Each request costs $0.0003 = 300 micro-dollars, charged at the end.
    for i in 0..2 {
        assert_eq!(
            status(&llm(&chain, body, Some((10, 20)), Some(0.0003))),
            200,
            "{i}"
        );
    }
    // 600 spent, 400 left: less than the reservation.
    assert_eq!(
        status(&llm(&chain, body, Some((10, 20)), Some(0.0003))),
        429
    );
    // A smaller answer cap reserves less and fits; its cost takes the budget to 900,
    // then (charged after the fact) to 1200.
    let small = r#"{"model":"m","max_tokens":10}"#;
    for i in 0..2 {
        assert_eq!(
            status(&llm(&chain, small, Some((10, 20)), Some(0.0003))),
            200,
            "{i}"
        );
    }
    assert_eq!(
        status(&llm(&chain, small, Some((10, 20)), Some(0.0003))),
        429
    );
}

#[test]
fn limits_per_model_wait_for_the_model() {
    let (chain, _rl, _) = chain_with(json!([
        {"name": "per-model", "kind": "requests", "limit": 1, "per": ["model"]},
    ]));
    let h = req("POST /v1/chat/completions", &[]);
    let mut cx = ctx();
    assert_eq!(status(&chain.on_request_head(&mut cx, &h)), 200);
    assert!(
        cx.limits.tickets.is_empty(),
        "checked before the model was known"
    );
    assert_eq!(status(&llm(&chain, "{}", None, None)), 200);
    assert_eq!(status(&llm(&chain, "{}", None, None)), 429);
}

#[test]
fn a_generation_dropped_gives_its_allowance_back() {
    let limits = json!([{"name": "rpm", "kind": "requests", "limit": 40, "window": "1h"}]);
    let (chain, rl, shared) = chain_with(limits.clone());
    // A hot key: the core asks for more than each request needs.
    for _ in 0..20 {
        assert_eq!(status(&request(&chain, "GET /api/", &[])), 200);
    }
    drop(chain);
    drop(rl);
    // The next generation shares the budget: 20 are left, not fewer.
    let cfg: RateLimitConfig = serde_json::from_value(json!({ "limits": limits })).unwrap();
    let next = RateLimitShared::rebuild(&cfg, &shared);
    assert!(Arc::ptr_eq(next.cell(0).unwrap(), shared.cell(0).unwrap()));
    let rl = RateLimits::build(
        &cfg,
        &next,
        &LlmConfig::default(),
        &|n| Arc::new(LimitCounters::new(n)),
        &|_, _| None,
    )
    .unwrap()
    .unwrap();
    let routes: Vec<RouteConfig> =
        serde_json::from_value(json!([{"name": "api", "upstream": "up"}])).unwrap();
    let mut chain = Chain::build(&routes, false, &|_| Some(0)).unwrap();
    rl.attach(&mut chain);
    let admitted = (0..40)
        .filter(|_| status(&request(&chain, "GET /api/", &[])) == 200)
        .count();
    assert_eq!(admitted, 20);
}

#[test]
fn counters_follow_decisions_exchanges_and_keys() {
    let (chain, rl, _) = chain_with(json!([
        {"name": "rpm", "kind": "requests", "limit": 2, "per": ["header"], "header": "x-k"},
    ]));
    for k in ["a", "a", "a", "b"] {
        let field = format!("x-k: {k}");
        request(&chain, "GET /api/", &[&field]);
    }
    rl.tick(unix_ms());
    let c = rl.limits[0].counters.values();
    assert_eq!((c.admitted, c.refused), (3, 1));
    assert!(c.exchanges >= 2, "{c:?}");
    assert_eq!(c.keys, 2);
    let counters = Arc::clone(&rl.limits[0].counters);
    drop(chain);
    drop(rl);
    assert_eq!(
        counters.values().keys,
        0,
        "a dropped generation holds no keys"
    );
}
