//! End-to-end: upstream failures and retries. A closed port is 502, a slow upstream is
//! 504, bad response framing is 502; failed attempts are retried on another endpoint
//! only when it is safe (a connect failure always; a `retry.on_status` answer only for
//! an idempotent request without a body) and only within the retry budget.
//!
//! Retries are also checked on /metrics (`tollgate_upstream_retries_total`), so a test
//! cannot pass by the balancer happening to avoid the bad endpoint. A retry after a
//! write (a `retry.on_status` answer, a first-byte time-out, a pooled connection the
//! upstream closed) must resend the whole request.

#![allow(clippy::disallowed_types)] // the upstream scripts run on plain threads

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tollgate_tests::client::{exchange, get, Conn};
use tollgate_tests::{free_port, Gateway, Reply, Upstream};

/// One worker, one cluster `up` with `endpoints` (TOML array items) and extra cluster
/// keys, one catch-all route to it.
fn config(endpoints: &[String], cluster: &str) -> String {
    let eps: Vec<String> = endpoints.iter().map(|e| format!("\"{e}\"")).collect();
    format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[[clusters]]
name = "up"
endpoints = [{}]
{cluster}
[[routes]]
name = "all"
upstream = "up"
"#,
        eps.join(", ")
    )
}

/// A loopback address nobody listens on.
fn closed_port() -> String {
    format!("127.0.0.1:{}", free_port())
}

/// The value of the metric line `series` (name with labels) on the admin /metrics page.
fn metric(gw: &Gateway, series: &str) -> u64 {
    let admin = format!("127.0.0.1:{}", gw.admin_port);
    let page = exchange(&admin, b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        .expect("metrics page")
        .text();
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{page}"))
}

/// An upstream that answers 503 the first time it sees a target and 200 after that.
fn flaky() -> Upstream {
    let seen = Mutex::new(HashSet::new());
    Upstream::start(move |r| {
        if seen.lock().unwrap().insert(r.target.clone()) {
            Reply::Full(503, vec![], b"busy".to_vec())
        } else {
            Reply::Full(200, vec![], format!("ok {}", r.target).into_bytes())
        }
    })
}

fn post(addr: &str, path: &str, body: &str) -> u16 {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, req.as_bytes()).expect("a response").status
}

#[test]
fn upstream_down_is_502_and_the_client_connection_survives() {
    let gw = Gateway::start(&config(&[closed_port()], ""));
    let mut c = Conn::open(&gw.addr());
    for _ in 0..2 {
        c.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.read_response("GET").expect("a 502");
        assert_eq!(r.status, 502);
        assert!(r.text().contains("upstream connect failed"), "{}", r.text());
    }
    assert!(
        metric(
            &gw,
            "tollgate_upstream_connect_failures_total{cluster=\"up\"}"
        ) >= 2
    );
}

#[test]
fn slow_upstream_is_504_after_first_byte_timeout() {
    let up = Upstream::start(|_| {
        Reply::Delay(
            Duration::from_secs(2),
            Box::new(Reply::Full(200, vec![], b"late".to_vec())),
        )
    });
    let gw = Gateway::start(&config(
        &[up.addr.to_string()],
        "first_byte_timeout = \"200ms\"\nretry = { attempts = 0 }",
    ));
    let t0 = Instant::now();
    let r = get(&gw.addr(), "/slow");
    let took = t0.elapsed();
    assert_eq!(r.status, 504);
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert_eq!(
        metric(&gw, "tollgate_upstream_timeouts_total{cluster=\"up\"}"),
        1
    );
}

/// Connect failures are retried on the other endpoint for every method: nothing was
/// sent, so nothing can have been processed twice.
#[test]
fn connect_failure_is_retried_on_another_endpoint_for_get_and_post() {
    let good = Upstream::ok();
    let gw = Gateway::start(&config(
        &[closed_port(), good.addr.to_string()],
        // Passive health off, so the closed endpoint stays in rotation for every request.
        "passive_health = { consecutive_failures = 0 }",
    ));
    for i in 0..4 {
        let r = get(&gw.addr(), &format!("/g{i}"));
        assert_eq!((r.status, r.text()), (200, format!("ok /g{i}")));
        assert_eq!(post(&gw.addr(), &format!("/p{i}"), "payload"), 200);
    }
    let seen = good.requests();
    assert_eq!(seen.len(), 8, "{seen:?}");
    for r in seen.iter().filter(|r| r.method == "POST") {
        assert_eq!(r.body, b"payload");
    }
    // Round robin over two endpoints: at least every other request tried the closed one.
    assert!(metric(&gw, "tollgate_upstream_retries_total{cluster=\"up\"}") >= 4);
    assert!(
        metric(
            &gw,
            "tollgate_upstream_connect_failures_total{cluster=\"up\"}"
        ) >= 4
    );
}

#[test]
fn idempotent_request_answered_503_is_retried() {
    let up = flaky();
    // A short first-byte time-out bounds the test if the retry never gets an answer.
    let gw = Gateway::start(&config(
        &[up.addr.to_string()],
        "first_byte_timeout = \"1s\"",
    ));
    let r = get(&gw.addr(), "/flaky");
    assert_eq!((r.status, r.text()), (200, "ok /flaky".to_string()));
    let targets: Vec<String> = up.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/flaky", "/flaky"]);
    assert_eq!(
        metric(&gw, "tollgate_upstream_retries_total{cluster=\"up\"}"),
        1
    );
}

/// A GET that times out on a slow endpoint is retried on the other one.
#[test]
fn first_byte_timeout_is_retried_on_another_endpoint() {
    let slow = Upstream::start(|_| {
        Reply::Delay(
            Duration::from_secs(2),
            Box::new(Reply::Full(200, vec![], b"late".to_vec())),
        )
    });
    let fast = Upstream::ok();
    let gw = Gateway::start(&config(
        &[slow.addr.to_string(), fast.addr.to_string()],
        "first_byte_timeout = \"300ms\"\npassive_health = { consecutive_failures = 0 }",
    ));
    for i in 0..2 {
        let r = get(&gw.addr(), &format!("/t{i}"));
        assert_eq!((r.status, r.text()), (200, format!("ok /t{i}")));
    }
    assert_eq!(fast.request_count(), 2);
}

/// The upstream closes a keep-alive connection after answering (its idle timer fired):
/// the next GET finds the pooled connection dead and must be retried on a fresh one.
#[test]
fn stale_pooled_connection_is_retried_transparently() {
    let up = Upstream::start(|r| {
        let body = format!("ok {}", r.target);
        Reply::Raw(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    });
    let gw = Gateway::start(&config(
        &[up.addr.to_string()],
        "first_byte_timeout = \"1s\"",
    ));
    assert_eq!(get(&gw.addr(), "/one").status, 200);
    // Let the upstream's close reach the gateway's pooled connection.
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    let r = get(&gw.addr(), "/two");
    assert_eq!(
        (r.status, r.text()),
        (200, "ok /two".to_string()),
        "{:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_millis(500));
    let targets: Vec<String> = up.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/one", "/two"]);
    assert_eq!(
        up.connections(),
        2,
        "the second request needed a new connection"
    );
}

/// The upstream received and may have acted on these: a POST, and a PUT with a body
/// (idempotent, but its body is already consumed), are answered as they came.
#[test]
fn requests_with_bodies_answered_503_are_not_retried() {
    let up = flaky();
    let gw = Gateway::start(&config(&[up.addr.to_string()], ""));
    assert_eq!(post(&gw.addr(), "/order", "buy=1"), 503);
    let req = b"PUT /doc HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(exchange(&gw.addr(), req).unwrap().status, 503);
    let targets: Vec<String> = up.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/order", "/doc"], "each sent exactly once");
    assert_eq!(
        metric(&gw, "tollgate_upstream_retries_total{cluster=\"up\"}"),
        0
    );
}

#[test]
fn empty_retry_budget_allows_no_retry() {
    let up = flaky();
    let good = Upstream::ok();
    let budget = "retry = { budget_min = 0, budget_ratio = 0.0 }\n\
                  passive_health = { consecutive_failures = 0 }";
    let gw = Gateway::start(&config(&[up.addr.to_string()], budget));
    let r = get(&gw.addr(), "/flaky");
    assert_eq!(r.status, 503, "the status retry needs budget");
    assert_eq!(up.request_count(), 1);

    // Connect failures need budget too: with one closed endpoint in rotation, the
    // requests that try it first fail.
    let gw2 = Gateway::start(&config(&[closed_port(), good.addr.to_string()], budget));
    let statuses: Vec<u16> = (0..4)
        .map(|i| get(&gw2.addr(), &format!("/r{i}")).status)
        .collect();
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 502),
        "{statuses:?}"
    );
    assert!(ok < 4, "no retry may happen without budget: {statuses:?}");
    assert_eq!(good.request_count(), ok);
    for g in [&gw, &gw2] {
        assert_eq!(
            metric(g, "tollgate_upstream_retries_total{cluster=\"up\"}"),
            0
        );
    }
}

#[test]
fn upstream_response_with_bad_framing_is_502() {
    let cases: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    ];
    for (i, raw) in cases.iter().enumerate() {
        let raw = raw.to_vec();
        let up = Upstream::start(move |_| Reply::Raw(raw.clone()));
        let gw = Gateway::start(&config(&[up.addr.to_string()], ""));
        let mut c = Conn::open(&gw.addr());
        c.stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        c.send(b"GET /bad HTTP/1.1\r\nHost: t\r\n\r\n");
        match c.read_response("GET") {
            // A bad head is refused before anything reaches the client.
            Some(r) if i < 2 => assert_eq!(r.status, 502, "case {i}"),
            // Bad chunk framing shows only once the 200 head went out: the client must
            // get a truncated response and a closed connection, never the bad bytes.
            Some(r) => panic!("case {i}: a complete response was forwarded: {r:?}"),
            None if i == 2 => {
                let text = String::from_utf8_lossy(c.pending()).to_string();
                assert!(text.starts_with("HTTP/1.1 200"), "case {i}: {text}");
                assert!(!text.contains("hello"), "case {i}: {text}");
            }
            None => panic!("case {i}: no response"),
        }
        assert!(
            metric(&gw, "tollgate_upstream_bad_responses_total{cluster=\"up\"}") >= 1,
            "case {i}"
        );
    }
}
