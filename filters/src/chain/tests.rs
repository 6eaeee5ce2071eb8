//! The chain as core drives it: build from config, route, run the filters in order.

use super::*;
use crate::testing::{ctx, req};

/// Routes from JSON (the same serde shape core reads from TOML).
fn routes(json: &str) -> Vec<RouteConfig> {
    serde_json::from_str(json).unwrap()
}

fn clusters(name: &str) -> Option<usize> {
    ["chat", "embed"].iter().position(|c| *c == name)
}

fn chain(json: &str) -> Chain {
    Chain::build(&routes(json), true, &clusters).unwrap()
}

fn build_err(json: &str) -> (usize, &'static str) {
    match Chain::build(&routes(json), false, &clusters) {
        Err(BuildError::Route { route, field, .. }) => (route, field),
        Err(e @ BuildError::Auth { .. }) => panic!("{e}"),
        Ok(_) => panic!("built: {json}"),
    }
}

fn kinds(route: &Route) -> Vec<&'static str> {
    let kind = |f: &Filter| match f {
        Filter::Cors(_) => "cors",
        Filter::Auth(_) => "auth",
        Filter::RequestHeaders(_) => "request_headers",
        Filter::Rewrite(_) => "rewrite",
        Filter::Respond(_) => "respond",
        Filter::ResponseHeaders(_) => "response_headers",
        Filter::Guard(_) => "guard",
        Filter::RateLimit(_) => "rate_limit",
    };
    route.filters.iter().map(kind).collect()
}

#[test]
fn builds_actions_names_and_filter_order() {
    let c = chain(
        r#"[
        {"name": "chat", "match": {"path_prefix": "/v1/"}, "upstream": "embed",
         "response_headers": {"set": {"x-r": "1"}}, "respond": null,
         "rewrite": {"prefix": "/"}, "request_headers": {"add": {"x-q": "1"}},
         "cors": {"allow_origins": ["*"]}},
        {"match": {"path": "/hi"}, "respond": {"body": "hi"}}
    ]"#,
    );
    assert_eq!(c.route(0).action, RouteAction::Proxy { cluster: 1 });
    assert_eq!(c.route(0).name, "chat");
    assert_eq!(
        kinds(c.route(0)),
        ["cors", "request_headers", "rewrite", "response_headers"]
    );
    assert_eq!(c.route(1).action, RouteAction::Local);
    assert_eq!(c.route(1).name, "route1");
    assert_eq!(kinds(c.route(1)), ["respond"]);
}

#[test]
fn refuses_routes_it_cannot_run() {
    assert_eq!(
        build_err(r#"[{"upstream": "chat"}, {"upstream": "nope"}]"#),
        (1, "upstream")
    );
    assert_eq!(build_err(r#"[{"name": "x"}]"#), (0, "upstream"));
    assert_eq!(
        build_err(r#"[{"upstream": "chat", "respond": {}}]"#),
        (0, "respond")
    );
    assert_eq!(
        build_err(r#"[{"upstream": "chat", "rewrite": {"prefix": "/"}}]"#),
        (0, "rewrite.prefix")
    );
    assert_eq!(
        build_err(r#"[{"upstream": "chat", "match": {"host": "a.*"}}]"#),
        (0, "match.host")
    );
    let err = Chain::build(
        &routes(r#"[{"name": "r", "upstream": "gone"}]"#),
        false,
        &clusters,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "route 0 (r): upstream 'gone' is not defined"
    );
}

#[test]
fn no_route_is_a_json_404() {
    let c = chain(r#"[{"match": {"host": "a.com"}, "upstream": "chat"}]"#);
    let mut cx = ctx();
    cx.route = Some(0);
    let Flow::Respond(r) = c.on_request_head(&mut cx, &req("GET /", &["Host: b.com"])) else {
        panic!("expected a 404")
    };
    assert_eq!(cx.route, None);
    assert_eq!(r.status, 404);
    assert_eq!(
        r.headers,
        vec![(Bytes::from("content-type"), Bytes::from("application/json"))]
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["error"]["type"], "not_found");
    assert_eq!(body["error"]["message"], "no route for this request");
}

#[test]
fn first_match_wins_in_config_order() {
    let c = chain(
        r#"[
        {"name": "exact", "match": {"path": "/v1/models"}, "upstream": "chat"},
        {"name": "post", "match": {"path_prefix": "/v1/", "methods": ["POST"]}, "upstream": "chat"},
        {"name": "v1", "match": {"path_prefix": "/v1/"}, "upstream": "embed"},
        {"name": "all", "upstream": "chat"}
    ]"#,
    );
    for (line, want) in [
        ("GET /v1/models", "exact"),
        ("POST /v1/models", "exact"),
        ("POST /v1/chat", "post"),
        ("GET /v1/chat", "v1"),
        ("GET /", "all"),
    ] {
        let mut cx = ctx();
        assert!(matches!(
            c.on_request_head(&mut cx, &req(line, &["Host: a"])),
            Flow::Continue
        ));
        assert_eq!(c.route(cx.route.unwrap()).name, want, "{line}");
    }
}

#[test]
fn runs_request_filters_then_response_filters() {
    let c = chain(
        r#"[{"match": {"path_prefix": "/api/"}, "upstream": "chat",
             "request_headers": {"set": {"x-gw": "tollgate"}, "remove": ["cookie"]},
             "rewrite": {"prefix": "/"},
             "response_headers": {"add": {"x-served-by": "tg"}}}]"#,
    );
    let mut cx = ctx();
    let h = req("GET /api/users?id=3", &["Host: a"]);
    assert!(matches!(c.on_request_head(&mut cx, &h), Flow::Continue));
    assert_eq!(
        cx.request_edits.target.as_deref(),
        Some(&b"/users?id=3"[..])
    );
    assert_eq!(
        cx.request_edits.set,
        vec![(Bytes::from("x-gw"), Bytes::from("tollgate"))]
    );
    assert_eq!(cx.request_edits.remove, vec![Bytes::from("cookie")]);
    assert!(cx.response_edits.is_empty());
    c.on_response_head(&mut cx, 200);
    assert_eq!(
        cx.response_edits.append,
        vec![(Bytes::from("x-served-by"), Bytes::from("tg"))]
    );
}

#[test]
fn local_routes_answer_and_cors_preflight_comes_first() {
    let c = chain(
        r#"[{"match": {"path": "/hello"}, "cors": {"allow_origins": ["https://app.io"]},
             "respond": {"status": 201, "body": "hello",
                         "headers": {"content-type": "text/plain"}}}]"#,
    );
    let mut cx = ctx();
    let Flow::Respond(r) = c.on_request_head(&mut cx, &req("GET /hello", &["Host: a"])) else {
        panic!("expected the direct response")
    };
    assert_eq!((r.status, &r.body[..]), (201, &b"hello"[..]));
    assert_eq!(cx.route, Some(0));

    let mut cx = ctx();
    let preflight = req(
        "OPTIONS /hello",
        &[
            "Host: a",
            "Origin: https://app.io",
            "Access-Control-Request-Method: PUT",
        ],
    );
    let Flow::Respond(r) = c.on_request_head(&mut cx, &preflight) else {
        panic!("preflight")
    };
    assert_eq!(r.status, 204);
}

#[test]
fn logs_only_when_enabled() {
    let on = chain(r#"[{"name": "r", "respond": {}}]"#);
    let off = Chain::build(&routes(r#"[{"respond": {}}]"#), false, &clusters).unwrap();
    let h = req("GET /", &["Host: a"]);
    let mut cx = ctx();
    on.on_request_head(&mut cx, &h);
    let mut out = Vec::new();
    off.on_log(&mut cx, &h, &mut out);
    assert!(out.is_empty());
    on.on_log(&mut cx, &h, &mut out);
    let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["route"], "r");
}
