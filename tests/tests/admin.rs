//! End-to-end: what an operator sees. The admin listener's endpoints (/healthz,
//! /readyz, /metrics, /config, 404 and 405), the Prometheus series that count requests
//! and upstream connections, the JSON access log, and the epoll driver forced by
//! config and reported on /metrics.

use std::time::{Duration, Instant};

use tollgate_tests::client::{exchange, get, Conn, Response};
use tollgate_tests::{Gateway, Upstream};

/// One worker with `runtime` keys, `extra` top-level tables, a direct-response route
/// `/ping` and a catch-all route `all` to `up`.
fn config(up: &Upstream, runtime: &str, extra: &str) -> String {
    format!(
        r#"
[runtime]
workers = 1
{runtime}
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
{extra}
[[clusters]]
name = "up"
endpoints = ["{}"]
[[routes]]
name = "ping"
match = {{ path = "/ping" }}
respond = {{ body = "pong" }}
[[routes]]
name = "all"
match = {{ path_prefix = "/api/" }}
upstream = "up"
"#,
        up.addr
    )
}

fn admin(gw: &Gateway, method: &str, path: &str) -> Response {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: a\r\n\r\n");
    exchange(&format!("127.0.0.1:{}", gw.admin_port), req.as_bytes()).expect("admin answer")
}

/// The value of the metric line `series` (name with labels), if present.
fn metric(page: &str, series: &str) -> Option<u64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn admin_endpoints_answer() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "", ""));
    let r = admin(&gw, "GET", "/healthz");
    assert_eq!((r.status, r.text()), (200, "ok\n".to_string()));
    let r = admin(&gw, "GET", "/readyz");
    assert_eq!((r.status, r.text()), (200, "ready\n".to_string()));

    let r = admin(&gw, "GET", "/config");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/toml"));
    let toml = r.text();
    for part in [
        "[runtime]",
        "[[clusters]]",
        "name = \"up\"",
        "[[routes]]",
        "name = \"ping\"",
    ] {
        assert!(toml.contains(part), "/config lacks {part}:\n{toml}");
    }
    // Defaults are filled in: the resolved config, not the file.
    assert!(toml.contains("max_body_bytes = 10485760"), "{toml}");

    assert_eq!(admin(&gw, "GET", "/nope").status, 404);
    assert_eq!(admin(&gw, "POST", "/healthz").status, 405);
    assert_eq!(admin(&gw, "GET", "/reload").status, 405);
}

#[test]
fn metrics_count_requests_and_upstream_connections() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "", ""));
    // Three proxied requests in a row: one new upstream connection, then two reuses.
    let mut c = Conn::open(&gw.addr());
    for i in 0..3 {
        c.send(format!("GET /api/{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.read_response("GET").unwrap().status, 200);
    }
    c.send(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response("GET").unwrap().text(), "pong");
    c.send(b"GET /unrouted HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response("GET").unwrap().status, 404);
    drop(c);

    let r = admin(&gw, "GET", "/metrics");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let page = r.text();
    assert!(
        page.contains("tollgate_worker_info{worker=\"0\",")
            && (page.contains("driver=\"io_uring\"} 1") || page.contains("driver=\"epoll\"} 1")),
        "{page}"
    );
    let m = |s: &str| metric(&page, s).unwrap_or_else(|| panic!("no {s} in:\n{page}"));
    assert_eq!(
        m("tollgate_requests_total{route=\"all\",code_class=\"2xx\"}"),
        3
    );
    assert_eq!(
        m("tollgate_requests_total{route=\"ping\",code_class=\"2xx\"}"),
        1
    );
    assert_eq!(m("tollgate_upstream_connects_total{cluster=\"up\"}"), 1);
    assert_eq!(m("tollgate_upstream_reuses_total{cluster=\"up\"}"), 2);
    assert_eq!(up.connections(), 1, "the upstream agrees: one connection");
    assert!(m("tollgate_connections_accepted_total") >= 1);
    assert!(
        page.contains("tollgate_request_duration_seconds_count{route=\"all\"} 3"),
        "{page}"
    );
}

#[test]
fn access_log_has_one_json_line_per_request() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &up,
        "",
        "[access_log]\npath = \"{dir}/access.log\"",
    ));
    assert_eq!(get(&gw.addr(), "/api/logged?q=1").status, 200);
    assert_eq!(get(&gw.addr(), "/ping").status, 200);
    assert_eq!(get(&gw.addr(), "/elsewhere").status, 404);

    // Lines are written on the worker's tick (50 ms): poll.
    let path = gw.dir().join("access.log");
    let t0 = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= 3 {
            break text;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "access log: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    let (proxied, local, unrouted) = (&lines[0], &lines[1], &lines[2]);

    assert_eq!(proxied["method"], "GET");
    assert_eq!(proxied["path"], "/api/logged?q=1");
    assert_eq!(proxied["status"], 200);
    assert_eq!(proxied["route"], "all");
    assert_eq!(proxied["upstream"], up.addr.to_string());
    assert_eq!(proxied["attempts"], 1);
    assert!(
        proxied["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
        "{proxied}"
    );
    assert!(proxied["upstream_first_byte_ms"].is_number(), "{proxied}");
    assert!(proxied["client"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(proxied["time"].as_str().unwrap().ends_with('Z'));

    assert_eq!(
        (local["path"].as_str(), local["status"].as_u64()),
        (Some("/ping"), Some(200))
    );
    assert!(local["upstream"].is_null(), "{local}");
    assert_eq!(unrouted["status"], 404);
    assert!(unrouted["route"].is_null(), "{unrouted}");
    assert!(unrouted["duration_ms"].is_number(), "{unrouted}");
}

#[test]
fn epoll_driver_proxies_and_is_reported() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "driver = \"epoll\"", ""));
    let r = get(&gw.addr(), "/api/e");
    assert_eq!((r.status, r.text()), (200, "ok /api/e".to_string()));
    let page = admin(&gw, "GET", "/metrics").text();
    assert!(page.contains("driver=\"epoll\"} 1"), "{page}");
    assert!(!page.contains("driver=\"io_uring\""), "{page}");
    assert!(gw.log().contains("driver=\"epoll\""));
}
