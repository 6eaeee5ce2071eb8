//! End-to-end: proxying through the real binary to a recording upstream.

use std::time::Duration;

use tollgate_tests::client::{exchange, get, Conn};
use tollgate_tests::{Gateway, Reply, Upstream};

/// One worker, one listener, one cluster `up` at `addr`, one catch-all route to it.
pub fn config(addr: &str, extra_cluster: &str) -> String {
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
endpoints = ["{addr}"]
{extra_cluster}
[[routes]]
name = "all"
match = {{ path_prefix = "/" }}
upstream = "up"
"#
    )
}

#[test]
fn get_and_post_with_content_length_are_proxied() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let r = get(&gw.addr(), "/hello?x=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok /hello?x=1");

    let body = "a=1&b=2";
    let req = format!(
        "POST /form HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let r = exchange(&gw.addr(), req.as_bytes()).unwrap();
    assert_eq!(r.status, 200);
    let seen = up.requests();
    let post = seen.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.body, body.as_bytes());
    assert_eq!(post.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(post.header("x-forwarded-proto"), Some("http"));
}

#[test]
fn a_small_body_is_read_whole_before_an_upstream_is_tried() {
    // Up to 16 KiB, a body that arrives in pieces is gathered first: no upstream
    // connection waits on a slow client, and the upstream gets the whole request.
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let body = "b".repeat(16 * 1024);
    let mut c = Conn::open(&gw.addr());
    c.send(
        format!(
            "POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    c.send(&body.as_bytes()[..1000]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        up.connections(),
        0,
        "an upstream was opened before the body was whole"
    );
    c.send(&body.as_bytes()[1000..]);
    let r = c.read_response("POST").expect("an answer");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(up.requests()[0].body, body.as_bytes());

    // A client that leaves halfway costs the upstream nothing.
    let mut gone = Conn::open(&gw.addr());
    gone.send(b"POST /gone HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\nabc");
    drop(gone);
    let mut c = Conn::open(&gw.addr());
    c.send(b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response("GET").expect("an answer").status, 200);
    let paths: Vec<String> = up.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(paths, ["/small", "/after"]);

    // A larger one streams: the upstream is connected to before the body is complete.
    // (A fresh pair: the first upstream's connection is pooled now.)
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let big = "B".repeat(16 * 1024 + 1);
    let mut c = Conn::open(&gw.addr());
    c.send(
        format!(
            "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            big.len()
        )
        .as_bytes(),
    );
    c.send(&big.as_bytes()[..1000]);
    let t0 = std::time::Instant::now();
    while up.connections() < 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the big body did not stream"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    c.send(&big.as_bytes()[1000..]);
    let r = c.read_response("POST").expect("an answer");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(up.requests()[0].body, big.as_bytes());
}

#[test]
fn chunked_bodies_stream_both_ways() {
    let up = Upstream::start(|r| {
        let echo = r.body.clone();
        Reply::Chunked(200, vec![b"first-".to_vec(), echo, b"-last".to_vec()])
    });
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let req = b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: t\r\n\r\n";
    let r = exchange(&gw.addr(), req).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.text(), "first-hello world-last");
    let seen = up.requests();
    assert!(
        seen[0].chunked,
        "the body is forwarded in its chunked framing"
    );
    assert_eq!(seen[0].body, b"hello world");
}

#[test]
fn http10_client_gets_dechunked_close_delimited_body() {
    let up = Upstream::start(|_| Reply::Chunked(200, vec![b"abc".to_vec(), b"def".to_vec()]));
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let mut c = Conn::open(&gw.addr());
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    assert!(c.closed_within(Duration::from_secs(5)));
    let text = String::from_utf8_lossy(c.pending()).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("transfer-encoding"),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\nabcdef"), "{text}");
}

#[test]
fn keep_alive_reuses_upstream_connections() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    // Sequential requests on one client connection, then on fresh client connections.
    let mut c = Conn::open(&gw.addr());
    for i in 0..20 {
        c.send(format!("GET /k{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.read_response("GET").unwrap();
        assert_eq!(r.text(), format!("ok /k{i}"));
    }
    for i in 0..10 {
        assert_eq!(get(&gw.addr(), &format!("/n{i}")).status, 200);
    }
    assert_eq!(up.request_count(), 30);
    assert_eq!(
        up.connections(),
        1,
        "30 sequential requests share one pooled upstream connection"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let up = Upstream::start(|r| {
        // The first request is slow so a reordering proxy would answer /b first.
        let body = format!("ok {}", r.target).into_bytes();
        if r.target == "/a" {
            Reply::Delay(
                Duration::from_millis(200),
                Box::new(Reply::Full(200, vec![], body)),
            )
        } else {
            Reply::Full(200, vec![], body)
        }
    });
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let mut c = Conn::open(&gw.addr());
    c.send(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\nHEAD /c HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response("GET").unwrap().text(), "ok /a");
    assert_eq!(c.read_response("GET").unwrap().text(), "ok /b");
    let head = c.read_response("HEAD").unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn expect_100_continue_is_answered_and_not_forwarded() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let mut c = Conn::open(&gw.addr());
    c.send(b"PUT /obj HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = c.read_response("PUT").unwrap();
    assert_eq!(interim.status, 100);
    c.send(b"hello");
    let r = c.read_response("PUT").unwrap();
    assert_eq!(r.status, 200);
    let seen = &up.requests()[0];
    assert_eq!(seen.body, b"hello");
    assert_eq!(seen.header("expect"), None);
}

#[test]
fn hop_by_hop_headers_are_removed() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let req = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, x-secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n";
    assert_eq!(exchange(&gw.addr(), req).unwrap().status, 200);
    let seen = &up.requests()[0];
    for h in ["connection", "x-secret", "keep-alive", "te"] {
        assert_eq!(seen.header(h), None, "{h} must not reach the upstream");
    }
    assert_eq!(seen.header("x-kept"), Some("yes"));
}

#[test]
fn websocket_upgrade_is_tunnelled() {
    let up = Upstream::start(|_| Reply::UpgradeEcho);
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let mut c = Conn::open(&gw.addr());
    c.send(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    let r = c.read_response("GET").unwrap();
    assert_eq!(r.status, 101);
    assert_eq!(r.header("upgrade"), Some("websocket"));
    c.send(b"ping-bytes");
    let mut got = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while got.len() < 10 && std::time::Instant::now() < deadline {
        use std::io::Read;
        let mut tmp = [0u8; 64];
        got.extend_from_slice(c.pending());
        if let Ok(n) = c.stream.read(&mut tmp) {
            got.extend_from_slice(&tmp[..n]);
        }
    }
    assert_eq!(&got[..], b"ping-bytes");
    assert_eq!(up.requests()[0].header("upgrade"), Some("websocket"));
}

#[test]
fn http10_request_without_host_gets_one_upstream() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let mut c = Conn::open(&gw.addr());
    c.send(b"GET /old HTTP/1.0\r\n\r\n");
    let r = c.read_response("GET").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        up.requests()[0].header("host"),
        Some(up.addr.to_string().as_str())
    );
}

#[test]
fn unchanged_head_is_forwarded_byte_for_byte() {
    let up = Upstream::ok();
    let forwarding_off = "[forwarding]\nx_forwarded_for = false\nx_forwarded_proto = false\n";
    let gw = Gateway::start(&format!(
        "{forwarding_off}{}",
        config(&up.addr.to_string(), "")
    ));
    let req = b"GET /same?q=1 HTTP/1.1\r\nHost: t\r\nX-Mixed-Case: Value  With  Spaces\r\naccept: */*\r\n\r\n";
    assert_eq!(exchange(&gw.addr(), req).unwrap().status, 200);
    let seen = &up.requests()[0];
    let names: Vec<&str> = seen.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["Host", "X-Mixed-Case", "accept"],
        "no field added, dropped or renamed"
    );
    assert_eq!(seen.header("x-mixed-case"), Some("Value  With  Spaces"));
}

#[test]
fn idle_tunnel_is_closed_after_the_cluster_idle_timeout() {
    let up = Upstream::start(|_| Reply::UpgradeEcho);
    let gw = Gateway::start(&config(&up.addr.to_string(), "idle_timeout = \"300ms\""));
    let mut c = Conn::open(&gw.addr());
    c.send(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!(c.read_response("GET").unwrap().status, 101);
    let started = std::time::Instant::now();
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "an idle tunnel must not live forever"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early: {:?}",
        started.elapsed()
    );
}

#[test]
fn a_head_that_arrives_in_pieces_is_put_together() {
    // Each piece is a separate read on the gateway's side (the pause lets it see one
    // before the next comes): what came before must not be overwritten.
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up.addr.to_string(), ""));
    let mut c = Conn::open(&gw.addr());
    for piece in [
        &b"GET /pie"[..],
        b"ces HTTP/1.1\r\nHo",
        b"st: t\r\nX-A: 1\r\n",
        b"\r\n",
    ] {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = c.read_response("GET").expect("a response");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "ok /pieces");
    assert_eq!(up.requests()[0].header("x-a"), Some("1"));
}
