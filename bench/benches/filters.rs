//! Criterion micro-benchmarks of the filter chain per request: `Chain::build` from a few
//! routes (once per core and per reload), then `Chain::on_request_head` for requests that
//! match a prefix route with header edits and a regex route with a rewrite, and one that
//! matches no route (the 404 path).
//!
//! Run: `cargo bench -p tollgate-bench --bench filters`.

use std::hint::black_box;
use std::time::Instant;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion};
use tollgate_filters::{Chain, Flow, RequestCtx, RouteConfig};
use tollgate_proto::h1::{HeadLimits, RequestHead, Status};

/// Four routes in the shape of the reference config: a direct response, a host + prefix
/// route with header edits and CORS, a regex route with a rewrite, and a catch-all.
const ROUTES: &str = r#"
[[routes]]
name = "health"
match = { path = "/ping" }
respond = { status = 200, body = "pong\n", headers = { "content-type" = "text/plain" } }

[[routes]]
name = "api"
upstream = "api"
[routes.match]
host = "*.example.com"
path_prefix = "/api/"
methods = ["GET", "POST", "PUT", "DELETE"]
[routes.request_headers]
add = { "x-gateway" = "tollgate" }
set = { "x-api-version" = "2" }
remove = ["x-debug"]
[routes.response_headers]
set = { "strict-transport-security" = "max-age=31536000" }
remove = ["server"]
[routes.cors]
allow_origins = ["https://app.example.com"]

[[routes]]
name = "chat"
upstream = "chat"
match = { path_regex = "^/chat/(?P<model>[a-z0-9-]+)/completions$", methods = ["POST"] }
rewrite = { regex = "^/chat/(?P<model>[a-z0-9-]+)/completions$", replacement = "/v1/${model}/completions" }

[[routes]]
name = "web"
upstream = "web"
match = { host = "www.example.com", path_prefix = "/" }
"#;

fn routes() -> Vec<RouteConfig> {
    let mut table: toml::Table = toml::from_str(ROUTES).expect("bench routes parse");
    table
        .remove("routes")
        .expect("routes key")
        .try_into()
        .expect("bench routes deserialise")
}

fn cluster_index(name: &str) -> Option<usize> {
    ["api", "chat", "web"].iter().position(|c| *c == name)
}

fn head(raw: &str) -> RequestHead {
    let mut head = RequestHead::default();
    let mut buf = BytesMut::from(raw.as_bytes());
    match head.parse(&mut buf, &HeadLimits::default()) {
        Ok(Status::Complete(())) => head,
        other => panic!("bench input does not parse: {other:?}"),
    }
}

fn chain_build(c: &mut Criterion) {
    let routes = routes();
    c.bench_function("chain_build_4_routes", |b| {
        b.iter(|| Chain::build(black_box(&routes), true, &cluster_index).expect("valid routes"))
    });
}

fn chain_request(c: &mut Criterion) {
    let chain = Chain::build(&routes(), true, &cluster_index).expect("valid routes");
    let cases = [
        (
            "prefix_route_header_edits",
            "GET /api/v1/users?id=42 HTTP/1.1\r\nHost: api.example.com\r\nOrigin: https://app.example.com\r\nAccept: */*\r\nX-Debug: 1\r\n\r\n",
            Some(1),
        ),
        (
            "regex_route_rewrite",
            "POST /chat/mock-gpt/completions HTTP/1.1\r\nHost: llm.example.net\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n",
            Some(2),
        ),
        (
            "no_route_404",
            "GET /nothing HTTP/1.1\r\nHost: other.example.org\r\n\r\n",
            None,
        ),
    ];
    let mut g = c.benchmark_group("chain_on_request_head");
    let now = Instant::now();
    for (name, raw, want_route) in cases {
        let head = head(raw);
        let mut ctx = RequestCtx::new(([192, 0, 2, 7], 40_000).into(), false);
        chain.on_request_head(&mut ctx, &head);
        assert_eq!(ctx.route, want_route, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| {
                ctx.reset(now);
                let flow = chain.on_request_head(&mut ctx, black_box(&head));
                black_box(matches!(flow, Flow::Continue))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, chain_build, chain_request);
criterion_main!(benches);
