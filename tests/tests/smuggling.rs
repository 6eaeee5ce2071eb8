//! End-to-end: request smuggling attempts are refused at the gateway. Each attempt
//! hides a second request (`GET /admin`) that a peer framing the first one differently
//! would see; each must get one 400 (501 for an unsupported transfer coding) and a
//! closed connection, and the recording upstream must never receive a request at all,
//! the hidden one least of all.
//!
//! The table runs twice: with forwarding headers on (the head is re-serialised) and off
//! (an unchanged head may go upstream byte for byte), since both paths must refuse the
//! same inputs. A final positive control sends the hidden request honestly and sees it
//! arrive, so the "never seen" assertions are known to be able to fail.

use std::time::Duration;

use tollgate_tests::client::{exchange, Conn};
use tollgate_tests::{Gateway, Upstream};

const HIDDEN: &str = "GET /admin HTTP/1.1\r\nHost: t\r\n\r\n";

fn config(up: &Upstream, forwarding: bool) -> String {
    format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[forwarding]
x_forwarded_for = {forwarding}
x_forwarded_proto = {forwarding}
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

/// `(name, request bytes, expected status)`.
fn attempts() -> Vec<(&'static str, String, u16)> {
    let chunked = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    // A body that a Content-Length reader swallows whole and a chunked reader ends at
    // "0\r\n\r\n", leaving HIDDEN as the next request.
    let cl_te_body = format!("0\r\n\r\n{HIDDEN}");
    let n = cl_te_body.len();
    vec![
        (
            "CL.TE",
            format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {n}\r\nTransfer-Encoding: chunked\r\n\r\n{cl_te_body}"),
            400,
        ),
        (
            "TE.CL",
            format!("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: {n}\r\n\r\n{cl_te_body}"),
            400,
        ),
        (
            "two Content-Length, same value",
            format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello{HIDDEN}"),
            400,
        ),
        (
            "two Content-Length, different values",
            format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{HIDDEN}", HIDDEN.len()),
            400,
        ),
        (
            "Content-Length with a sign",
            format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello{HIDDEN}"),
            400,
        ),
        (
            "Transfer-Encoding: chunked, identity",
            format!("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n{cl_te_body}"),
            400,
        ),
        (
            "Transfer-Encoding: xchunked",
            format!("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n{cl_te_body}"),
            400,
        ),
        (
            "space before the colon",
            format!("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n{cl_te_body}"),
            400,
        ),
        (
            "obs-fold hides chunked",
            format!("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n{cl_te_body}"),
            400,
        ),
        (
            "unsupported coding before chunked",
            format!("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{cl_te_body}"),
            501,
        ),
        ("chunk size 0x5", format!("{chunked}0x5\r\nhello\r\n0\r\n\r\n{HIDDEN}"), 400),
        ("chunk size -1", format!("{chunked}-1\r\n{HIDDEN}0\r\n\r\n"), 400),
        ("chunk size 1_0", format!("{chunked}1_0\r\n{HIDDEN}\r\n0\r\n\r\n"), 400),
        ("chunk size with leading space", format!("{chunked} 5\r\nhello\r\n0\r\n\r\n{HIDDEN}"), 400),
        (
            "chunk size of 17 hex digits (overflow)",
            format!("{chunked}10000000000000000\r\nhello\r\n0\r\n\r\n{HIDDEN}"),
            400,
        ),
        (
            "chunk data without CRLF",
            format!("{chunked}5\r\nhello0\r\n\r\n{HIDDEN}"),
            400,
        ),
        ("bare LF ending a chunk size", format!("{chunked}5\nhello\r\n0\r\n\r\n{HIDDEN}"), 400),
    ]
}

fn refuses_every_attempt(forwarding: bool) {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, forwarding));
    for (name, bytes, want) in attempts() {
        let mut c = Conn::open(&gw.addr());
        c.stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        c.send(bytes.as_bytes());
        let r = c
            .read_response("POST")
            .unwrap_or_else(|| panic!("{name}: no response"));
        assert_eq!(r.status, want, "{name}: {}", r.text());
        assert_eq!(r.header("connection"), Some("close"), "{name}");
        assert!(c.closed_within(Duration::from_secs(2)), "{name}: left open");
        assert!(
            c.pending().is_empty(),
            "{name}: a second response followed: {:?}",
            String::from_utf8_lossy(c.pending())
        );
        let seen = up.requests();
        assert!(
            seen.iter().all(|r| r.target != "/admin"),
            "{name}: the hidden request reached the upstream: {seen:?}"
        );
        assert!(
            seen.is_empty(),
            "{name}: the upstream got a request: {seen:?}"
        );
    }

    // Positive control: the same two requests framed honestly both arrive.
    let honest = format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello{HIDDEN}");
    let mut c = Conn::open(&gw.addr());
    c.send(honest.as_bytes());
    assert_eq!(c.read_response("POST").unwrap().status, 200);
    assert_eq!(c.read_response("GET").unwrap().text(), "ok /admin");
    let targets: Vec<String> = up.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/", "/admin"]);
    // And a valid chunked body on a fresh connection is still proxied.
    let r = exchange(
        &gw.addr(),
        b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn smuggling_attempts_are_refused_with_reserialised_heads() {
    refuses_every_attempt(true);
}

#[test]
fn smuggling_attempts_are_refused_with_verbatim_heads() {
    refuses_every_attempt(false);
}
