//! End-to-end: every client-side limit answers with its own status (414, 431, 413, 408),
//! closes the connection, and keeps the refused request away from the upstream; idle
//! keep-alive connections are closed silently.
//!
//! Limits and time-outs are set small in each config so every test runs in well under
//! a second or two; elapsed times are checked against generous bounds only.

use std::io::Write;
use std::time::{Duration, Instant};

use tollgate_tests::client::Conn;
use tollgate_tests::{Gateway, Upstream};

/// One worker, the given `[limits]` keys and listener keys, one catch-all route to `up`.
fn config(up: &Upstream, limits: &str, listener: &str) -> String {
    format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
{listener}
[limits]
{limits}
[[clusters]]
name = "up"
endpoints = ["{}"]
[[routes]]
name = "all"
upstream = "up"
"#,
        up.addr
    )
}

/// A connection whose reads give up after `secs`, so a hang fails the test instead of
/// stalling it.
fn open(gw: &Gateway, secs: u64) -> Conn {
    let c = Conn::open(&gw.addr());
    c.stream
        .set_read_timeout(Some(Duration::from_secs(secs)))
        .unwrap();
    c
}

/// Sends `request` on a new connection; returns the status of the one response and
/// whether the gateway then closed the connection without sending anything more.
fn refused(gw: &Gateway, request: &[u8]) -> (u16, bool) {
    let mut c = open(gw, 3);
    c.send(request);
    let r = c
        .read_response("POST")
        .expect("an error response, not a silent close");
    let closed = c.closed_within(Duration::from_secs(2)) && c.pending().is_empty();
    (r.status, closed)
}

#[test]
fn request_line_too_long_is_414() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "max_request_line = 256", ""));
    let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(300));
    assert_eq!(refused(&gw, long.as_bytes()), (414, true));
    // Just under the limit is served.
    let ok = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(200));
    let mut c = open(&gw, 3);
    c.send(ok.as_bytes());
    assert_eq!(c.read_response("GET").unwrap().status, 200);
    assert_eq!(
        up.request_count(),
        1,
        "only the short request reached the upstream"
    );
}

#[test]
fn head_too_large_is_431() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &up,
        "max_request_line = 256\nmax_head_bytes = 1024",
        "",
    ));
    let big = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "v".repeat(2000)
    );
    assert_eq!(refused(&gw, big.as_bytes()), (431, true));
    // The same head sent in pieces, never completed: refused once it passes the limit,
    // without waiting for the header time-out.
    let mut c = open(&gw, 3);
    let t0 = Instant::now();
    c.send(format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}", "v".repeat(1500)).as_bytes());
    assert_eq!(c.read_response("GET").unwrap().status, 431);
    assert!(t0.elapsed() < Duration::from_secs(2));
    assert_eq!(up.request_count(), 0);
}

#[test]
fn too_many_headers_is_431() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "max_headers = 5", ""));
    let mut req = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..10 {
        req.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    req.push_str("\r\n");
    assert_eq!(refused(&gw, req.as_bytes()), (431, true));
    // Five fields (Host included) are fine.
    let mut c = open(&gw, 3);
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    assert_eq!(c.read_response("GET").unwrap().status, 200);
    assert_eq!(up.request_count(), 1);
}

#[test]
fn content_length_over_max_body_is_413_before_the_upstream_sees_it() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "max_body_bytes = 100", ""));
    let body = "x".repeat(101);
    let req = format!("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n{body}");
    assert_eq!(refused(&gw, req.as_bytes()), (413, true));

    // With Expect: 100-continue the refusal comes instead of the 100, body unsent.
    let mut c = open(&gw, 3);
    c.send(b"PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(c.read_response("PUT").unwrap().status, 413);
    assert!(c.closed_within(Duration::from_secs(2)));

    // Exactly the limit is accepted.
    let mut c = open(&gw, 3);
    let body = "y".repeat(100);
    c.send(
        format!("POST /fits HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{body}").as_bytes(),
    );
    assert_eq!(c.read_response("POST").unwrap().status, 200);
    let seen = up.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].target, "/fits");
}

/// A chunked body declares no size up front: the gateway has already sent the head
/// upstream when the body passes the limit. The client still gets a 413 and the
/// upstream never receives a complete request.
#[test]
fn chunked_body_over_max_body_is_413() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "max_body_bytes = 100", ""));
    let mut req =
        b"POST /chunks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..5 {
        req.extend_from_slice(b"28\r\n");
        req.extend_from_slice(&[b'z'; 40]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(refused(&gw, &req), (413, true));

    // A small chunked body on the same gateway is proxied.
    let mut c = open(&gw, 3);
    c.send(b"POST /small HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(c.read_response("POST").unwrap().status, 200);
    let seen = up.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].target, "/small");
    assert_eq!(seen[0].body, b"hello");
}

/// The same over many reads: the client is still streaming when the limit is hit, so
/// the 413 must get out before the connection is torn down.
#[test]
fn streamed_chunked_body_over_max_body_is_413() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "max_body_bytes = 65536", ""));
    let mut c = open(&gw, 5);
    c.send(b"POST /stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let mut writer = c.stream.try_clone().unwrap();
    let feeder = std::thread::spawn(move || {
        let chunk = [b"1000\r\n".as_slice(), &[b'q'; 4096], b"\r\n"].concat();
        // 1 MiB in 4 KiB chunks; stops at the first write error (the gateway closed).
        for _ in 0..256 {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let r = c.read_response("POST");
    let _ = c.stream.shutdown(std::net::Shutdown::Both);
    feeder.join().unwrap();
    let r = r.expect("a 413 response before the connection closes");
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(up.request_count(), 0);
}

#[test]
fn slow_head_is_408_after_header_read_timeout() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "header_read_timeout = \"300ms\"", ""));
    let mut c = open(&gw, 3);
    let t0 = Instant::now();
    c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n");
    let r = c.read_response("GET").expect("a 408");
    let took = t0.elapsed();
    assert_eq!(r.status, 408);
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(c.closed_within(Duration::from_secs(1)));
    assert_eq!(up.request_count(), 0);
}

/// Slowloris proper: a byte every 50 ms keeps the socket busy, but the time-out covers
/// the whole head, not each read.
#[test]
fn trickled_head_is_408_at_the_same_deadline() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "header_read_timeout = \"300ms\"", ""));
    let mut c = open(&gw, 3);
    let mut writer = c.stream.try_clone().unwrap();
    let t0 = Instant::now();
    let feeder = std::thread::spawn(move || {
        writer
            .write_all(b"GET /loris HTTP/1.1\r\nHost: t\r\nX-A: ")
            .unwrap();
        for _ in 0..40 {
            if writer.write_all(b"a").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let r = c
        .read_response("GET")
        .expect("a 408 while the client trickles");
    let took = t0.elapsed();
    let _ = c.stream.shutdown(std::net::Shutdown::Both);
    feeder.join().unwrap();
    assert_eq!(r.status, 408);
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(up.request_count(), 0);
}

#[test]
fn idle_keep_alive_connection_is_closed_after_keepalive_timeout() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "keepalive_timeout = \"300ms\"", ""));
    let mut c = open(&gw, 3);
    c.send(b"GET /once HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response("GET").unwrap().status, 200);
    let t0 = Instant::now();
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "idle connection left open"
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
    assert!(
        c.pending().is_empty(),
        "an idle connection is closed without a response: {:?}",
        String::from_utf8_lossy(c.pending())
    );
}

#[test]
fn a_connection_idle_past_idle_buffer_hold_still_gets_every_byte_and_times_out() {
    // After `idle_buffer_hold` an idle keep-alive connection gives its read buffer back
    // and waits in a 2 KiB one. What arrives then (a 6 KiB head and a pipelined request
    // behind it, in one write) must all be read, and the keep-alive time-out still
    // counts from the start of the wait.
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &up,
        "keepalive_timeout = \"1s\"\nidle_buffer_hold = \"100ms\"",
        "",
    ));
    let mut c = open(&gw, 3);
    c.send(b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response("GET").unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(400));
    let pad = "p".repeat(6000);
    c.send(
        format!(
            "GET /big HTTP/1.1\r\nHost: t\r\nx-pad: {pad}\r\n\r\nGET /next HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(c.read_response("GET").unwrap().status, 200);
    assert_eq!(c.read_response("GET").unwrap().status, 200);
    let seen: Vec<String> = up.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(seen, ["/first", "/big", "/next"]);
    let big = &up.requests()[1];
    assert!(
        big.headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("x-pad") && v == &pad),
        "the 6 KiB header did not arrive whole"
    );

    // Idle again, past the hold: closed at the keep-alive time-out, not at the hold.
    let t0 = Instant::now();
    assert!(
        c.closed_within(Duration::from_secs(3)),
        "idle connection left open"
    );
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
}

#[test]
fn stalled_body_is_408_after_body_read_timeout() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "body_read_timeout = \"300ms\"", ""));
    let mut c = open(&gw, 3);
    let t0 = Instant::now();
    c.send(b"POST /stall HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    let r = c.read_response("POST").expect("a 408");
    let took = t0.elapsed();
    assert_eq!(r.status, 408);
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(c.closed_within(Duration::from_secs(1)));
    assert_eq!(
        up.request_count(),
        0,
        "the upstream never got a whole request"
    );
    assert_eq!(
        up.connections(),
        0,
        "a small body that stalls holds no upstream connection"
    );
}

/// `max_body_bytes` bounds the body's data, as it does for Content-Length: a chunked
/// body whose data fits is accepted, framing bytes not counted.
#[test]
fn chunked_body_of_exactly_max_body_is_accepted() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "max_body_bytes = 100", ""));
    let body = "d".repeat(100);
    let req = format!("POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{body}");
    assert_eq!(
        tollgate_tests::client::exchange(&gw.addr(), req.as_bytes())
            .unwrap()
            .status,
        200
    );
    let req = format!(
        "POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n{body}\r\n0\r\n\r\n"
    );
    let r = tollgate_tests::client::exchange(&gw.addr(), req.as_bytes()).unwrap();
    assert_eq!(
        r.status, 200,
        "100 bytes of chunked data refused by max_body_bytes = 100"
    );
    // One byte more of data is refused.
    let body = "d".repeat(101);
    let req = format!(
        "POST /chunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n{body}\r\n0\r\n\r\n"
    );
    assert_eq!(
        tollgate_tests::client::exchange(&gw.addr(), req.as_bytes())
            .unwrap()
            .status,
        413
    );
}

/// Tiny chunks with long extensions cannot push far more than the limit upstream: the
/// wire bytes are capped at twice the limit plus 64 KiB.
#[test]
fn chunked_framing_overhead_is_bounded() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "max_body_bytes = 100", ""));
    let ext = "x".repeat(3000);
    let mut req = b"POST /ext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..40 {
        req.extend_from_slice(format!("1;{ext}\r\nd\r\n").as_bytes());
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let mut c = open(&gw, 5);
    let _ = c.stream.write_all(&req);
    let r = c.read_response("POST").expect("an answer");
    assert_eq!(
        r.status, 413,
        "40 data bytes in 120 KB of framing must be refused"
    );
}

#[test]
fn connections_over_max_connections_wait_in_the_backlog() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "", "max_connections = 2"));
    let mut held = Vec::new();
    for name in ["a", "b"] {
        let mut c = open(&gw, 3);
        c.send(format!("GET /{name} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        assert_eq!(c.read_response("GET").unwrap().status, 200);
        held.push(c);
    }
    // The third connects (the kernel queues it) but is not served while both slots are
    // taken.
    let mut third = open(&gw, 3);
    third
        .stream
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    third.send(b"GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(
        third.read_response("GET").is_none(),
        "a third connection was served beyond max_connections = 2"
    );
    assert!(third.pending().is_empty());
    assert_eq!(up.request_count(), 2);

    // Freeing a slot lets it in.
    drop(held.remove(0));
    let t0 = Instant::now();
    third
        .stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let r = third
        .read_response("GET")
        .expect("served once a slot is free");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "ok /c");
    assert!(t0.elapsed() < Duration::from_secs(2));
}
