//! End-to-end: HTTP/2 to upstreams, with the real binary against a real HTTP/2 server
//! (`tests/py/h2_upstream.py`, the python `h2` package; h2c and TLS) and a second
//! tollgate as a TLS upstream that speaks HTTP/1.1 only.
//!
//! - HTTP/1.1 clients to an h2c upstream: header mapping (`:authority`, `:scheme`,
//!   connection-specific fields dropped, `te: trailers` kept), bodies by length and
//!   chunked (trailers become HTTP/2 trailers), large bodies both ways, a response
//!   without length as chunked, keep-alive;
//! - many concurrent requests on one upstream connection, and more connections when
//!   the upstream's SETTINGS_MAX_CONCURRENT_STREAMS is reached;
//! - HTTP/2 clients (curl over h2c) to the h2c upstream, and gRPC-style trailers
//!   (grpc-status, grpc-message) to an HTTP/2 client and to an HTTP/1.1 client;
//! - REFUSED_STREAM and GOAWAY before processing retried (a POST too), a reset after
//!   processing not retried for a POST (502) and retried for a GET;
//! - TLS: verified with a CA file, refused (502) without one, trusted through the host
//!   store (`roots = "native"`, SSL_CERT_FILE); `auto` speaking HTTP/2 or HTTP/1.1 as
//!   the endpoint chooses.

use std::time::Duration;

use tollgate_tests::client::{exchange, Conn};
use tollgate_tests::h2::{curl, H2Upstream};
use tollgate_tests::llm::{metric, metrics};
use tollgate_tests::tls::Ca;
use tollgate_tests::{Gateway, Scratch};

/// One worker (so one pool); a plain listener with h2c; the cluster `up` at `addr`
/// with `cluster` keys (and tables after them); a catch-all route to it.
fn config(addr: &str, cluster: &str) -> String {
    format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
h2c = true
[[routes]]
name = "all"
upstream = "up"
[[clusters]]
name = "up"
endpoints = ["{addr}"]
{cluster}
"#
    )
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: api.test\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Sends `request` (its body may be binary, which `exchange` cannot take) on a new
/// connection and reads the response.
fn send(addr: &str, method: &str, request: &[u8]) -> tollgate_tests::client::Response {
    let mut c = Conn::open(addr);
    c.send(request);
    c.read_response(method).expect("a response")
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn keys(up: &H2Upstream, key: &str) -> u64 {
    up.stats()["keys"][key].as_u64().unwrap_or(0)
}

#[test]
fn http1_clients_reach_an_h2c_upstream() {
    let up = H2Upstream::h2c(100);
    let gw = Gateway::start(&config(&up.addr(), "protocol = \"h2c\""));
    let addr = gw.addr();

    // The head: pseudo-headers from the request line and Host; connection-specific
    // fields and the ones Connection names dropped; TE: trailers kept.
    let r = exchange(
        &addr,
        b"GET /echo?x=1 HTTP/1.1\r\nHost: api.test\r\nConnection: x-drop\r\nx-drop: 1\r\n\
          Keep-Alive: timeout=5\r\nTE: trailers\r\nx-keep: 2\r\n\r\n",
    )
    .expect("a response");
    assert_eq!(r.status, 200, "{}", gw.log());
    assert_eq!(r.header("x-method"), Some("GET"));
    assert_eq!(r.header("x-path"), Some("/echo?x=1"));
    assert_eq!(r.header("x-authority"), Some("api.test"));
    assert_eq!(r.header("x-scheme"), Some("http"));
    assert_eq!(r.header("x-te"), Some("trailers"));
    let seen: Vec<&str> = r.header("x-headers").unwrap().split(',').collect();
    assert!(
        seen.contains(&"x-keep") && seen.contains(&"x-forwarded-for"),
        "{seen:?}"
    );
    for gone in ["x-drop", "keep-alive", "connection", "host", "upgrade"] {
        assert!(!seen.contains(&gone), "{gone} went upstream: {seen:?}");
    }

    // Bodies: by length; chunked, de-chunked, with its trailer as an HTTP/2 trailer.
    let r = exchange(&addr, &post("/echo", b"hello")).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    let r = exchange(
        &addr,
        b"POST /echo HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-sum: abc\r\n\r\n",
    )
    .unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "hello world"));
    assert_eq!(r.header("x-trailers"), Some("x-sum=abc"));

    // Large bodies both ways (far past every window), byte for byte.
    let big = pattern(3 << 20);
    let r = send(&addr, "POST", &post("/echo", &big));
    assert_eq!(r.status, 200);
    assert!(
        r.body == big,
        "3 MiB echo came back different ({} bytes)",
        r.body.len()
    );
    let r = exchange(
        &addr,
        b"GET /big?n=5000000 HTTP/1.1\r\nHost: api.test\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.header("content-length"), Some("5000000"));
    assert!(r.body == pattern(5_000_000), "5 MB download differs");

    // No content-length upstream: chunked to the client. Keep-alive over several.
    let mut c = Conn::open(&addr);
    for _ in 0..3 {
        c.send(&post("/stream", &pattern(100_000)));
        let r = c
            .read_response("POST")
            .expect("a response on the same connection");
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert!(r.body == pattern(100_000));
    }
    // Every request above went on one upstream connection.
    assert_eq!(up.connections(), 1);
}

#[test]
fn one_connection_multiplexes_many_requests() {
    let up = H2Upstream::h2c(100);
    let gw = Gateway::start(&config(&up.addr(), "protocol = \"h2c\""));
    let addr = gw.addr();
    let clients: Vec<_> = (0..30)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                exchange(&addr, b"GET /slow?ms=400 HTTP/1.1\r\nHost: a\r\n\r\n").map(|r| r.status)
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), Some(200), "{}", gw.log());
    }
    assert_eq!(
        up.connections(),
        1,
        "30 concurrent requests, one connection"
    );
    let page = metrics(&gw);
    assert_eq!(
        metric(&page, "tollgate_upstream_connects_total{cluster=\"up\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&page, "tollgate_upstream_h2_streams_total{cluster=\"up\"}"),
        Some(30.0)
    );
}

#[test]
fn a_full_connection_opens_another() {
    // The upstream allows 2 streams per connection: 6 at once need 3 connections.
    let up = H2Upstream::h2c(2);
    let gw = Gateway::start(&config(&up.addr(), "protocol = \"h2c\""));
    let addr = gw.addr();
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                exchange(&addr, b"GET /slow?ms=700 HTTP/1.1\r\nHost: a\r\n\r\n").map(|r| r.status)
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), Some(200), "{}", gw.log());
    }
    let n = up.connections();
    assert!(
        (3..=6).contains(&n),
        "6 requests at 2 streams a connection took {n} connections"
    );
}

#[test]
fn http2_clients_and_grpc_trailers() {
    let up = H2Upstream::h2c(100);
    let gw = Gateway::start(&config(&up.addr(), "protocol = \"h2c\""));

    // An HTTP/2 client (prior knowledge) through the gateway to the HTTP/2 upstream.
    let out = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "te: trailers",
        "--data-binary",
        "hello",
        &gw.url("/echo"),
    ]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.head.starts_with("HTTP/2 200"), "{}", out.head);
    assert_eq!(out.body, "hello");
    assert!(out.head.contains("x-scheme: http\r\n"), "{}", out.head);
    assert!(out.head.contains("x-te: trailers\r\n"), "{}", out.head);
    let out = curl(&[
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &gw.url("/big?n=2000000"),
    ]);
    assert!(
        out.ok && out.body == "2000000",
        "{} {}",
        out.body,
        out.stderr
    );

    // gRPC-style trailers, to an HTTP/2 client: HTTP/2 trailers after the body.
    let out = curl(&[
        "--http2-prior-knowledge",
        "-H",
        "te: trailers",
        "-H",
        "content-type: application/grpc",
        "--data-binary",
        "xxxxx",
        &gw.url("/grpc?status=7&message=denied"),
    ]);
    assert!(out.ok, "{}", out.stderr);
    let (head, trailers) = out.head.split_once("\r\n\r\n").expect("head");
    assert!(head.contains("content-type: application/grpc"), "{head}");
    assert!(
        trailers.contains("grpc-status: 7\r\n"),
        "trailers: {trailers:?}"
    );
    assert!(
        trailers.contains("grpc-message: denied\r\n"),
        "trailers: {trailers:?}"
    );

    // ... and to an HTTP/1.1 client: chunked trailers.
    let r = exchange(
        &gw.addr(),
        b"POST /grpc?status=0&message=fine HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\
          Content-Type: application/grpc\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.body, b"\0\0\0\0\0");
    assert_eq!(r.trailer("grpc-status"), Some("0"));
    assert_eq!(r.trailer("grpc-message"), Some("fine"));
}

#[test]
fn refused_and_unprocessed_streams_are_retried_resets_are_not() {
    let up = H2Upstream::h2c(100);
    let gw = Gateway::start(&config(&up.addr(), "protocol = \"h2c\""));
    let addr = gw.addr();

    // RST_STREAM REFUSED_STREAM: not processed, so even a POST goes again.
    let r = exchange(&addr, &post("/refuse-once?key=a", b"body")).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "ok"), "{}", gw.log());
    assert_eq!(keys(&up, "a"), 2);

    // GOAWAY whose last stream id is below the request's: not processed; the retry
    // takes a new connection.
    let before = up.connections();
    let r = exchange(&addr, &post("/goaway-once?key=b", b"body")).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "ok"), "{}", gw.log());
    assert_eq!(keys(&up, "b"), 2);
    assert_eq!(up.connections(), before + 1);

    // A reset after the request was read: a POST is not retried ...
    let r = exchange(&addr, &post("/reset-once?key=c", b"body")).unwrap();
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(keys(&up, "c"), 1);
    // ... an idempotent GET is.
    let r = exchange(&addr, b"GET /reset-once?key=d HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(keys(&up, "d"), 2);
}

#[test]
fn tls_upstreams_are_verified_by_default() {
    let dir = Scratch::new("verify");
    let ca = Ca::new("h2 upstream test CA");
    let ca_file = ca.write(&dir.0, "ca.pem");
    let (cert, key) = ca.server("up.test", &["up.test"], 7).write(&dir.0, "up");
    let up = H2Upstream::tls(&cert, &key);
    let cluster = |protocol: &str, tls: &str| {
        format!("protocol = \"{protocol}\"\n[clusters.tls]\nsni = \"up.test\"\n{tls}\n")
    };
    let get =
        |gw: &Gateway| exchange(&gw.addr(), b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();

    // Trusted through the CA file: HTTP/2 over TLS, :scheme https.
    let ca_line = format!("ca_file = \"{}\"", ca_file.display());
    let gw = Gateway::start(&config(&up.addr(), &cluster("h2", &ca_line)));
    let r = get(&gw);
    assert_eq!(r.status, 200, "{}", gw.log());
    assert_eq!(r.header("x-scheme"), Some("https"));
    drop(gw);

    // The default trust (Mozilla's roots) does not know the test CA: 502.
    let gw = Gateway::start(&config(&up.addr(), &cluster("h2", "")));
    let r = get(&gw);
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(
        gw.log().contains("upstream TLS handshake failed"),
        "{}",
        gw.log()
    );
    drop(gw);

    // The host's store, here pointed at the test CA by SSL_CERT_FILE.
    let gw = Gateway::start_with_env(
        &config(&up.addr(), &cluster("h2", "roots = \"native\"")),
        &[("SSL_CERT_FILE", ca_file.to_str().unwrap())],
    );
    assert_eq!(get(&gw).status, 200, "{}", gw.log());
    drop(gw);

    // auto: the endpoint chose h2 by ALPN.
    let gw = Gateway::start(&config(&up.addr(), &cluster("auto", &ca_line)));
    let r = get(&gw);
    assert_eq!(
        (r.status, r.header("x-scheme")),
        (200, Some("https")),
        "{}",
        gw.log()
    );
    let page = metrics(&gw);
    assert_eq!(
        metric(&page, "tollgate_upstream_h2_streams_total{cluster=\"up\"}"),
        Some(1.0)
    );
}

#[test]
fn auto_speaks_http1_to_an_endpoint_that_chooses_it() {
    let dir = Scratch::new("auto");
    let ca = Ca::new("h1 upstream test CA");
    let ca_file = ca.write(&dir.0, "ca.pem");
    let (cert, key) = ca.server("up.test", &["up.test"], 9).write(&dir.0, "up");
    // Another tollgate as the upstream, its TLS listener offering HTTP/1.1 only.
    let upstream = Gateway::start(&format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[listeners.tls]
certificates = [{{ cert = "{}", key = "{}" }}]
alpn = ["http/1.1"]
[[routes]]
name = "r"
respond = {{ body = "h1" }}
"#,
        cert.display(),
        key.display()
    ));
    let gw = Gateway::start(&config(
        &upstream.addr(),
        &format!(
            "protocol = \"auto\"\n[clusters.tls]\nsni = \"up.test\"\nca_file = \"{}\"\n",
            ca_file.display()
        ),
    ));
    let mut c = Conn::open(&gw.addr());
    for _ in 0..2 {
        c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let r = c.read_response("GET").expect("a response");
        assert_eq!((r.status, r.text().as_str()), (200, "h1"), "{}", gw.log());
    }
    let page = metrics(&gw);
    // HTTP/1.1 on one pooled connection, no HTTP/2 stream.
    assert_eq!(
        metric(&page, "tollgate_upstream_connects_total{cluster=\"up\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&page, "tollgate_upstream_h2_streams_total{cluster=\"up\"}"),
        Some(0.0)
    );
}

#[test]
fn a_body_sent_before_a_first_byte_timeout_counts_in_the_access_log() {
    // A 10 KiB body that arrives in two pieces is read whole, then sent with the
    // request; the endpoint misses the first-byte time-out. The 504's log line still
    // counts the body among the bytes received from the client.
    let up = H2Upstream::h2c(100);
    let gw = Gateway::start(&config(
        &up.addr(),
        "protocol = \"h2c\"\nfirst_byte_timeout = \"300ms\"\n[access_log]\npath = \"{dir}/access.log\"",
    ));
    let body = pattern(10 * 1024);
    let request = post("/slow?ms=3000", &body);
    let split = request.len() - body.len() + 1000;
    let mut c = Conn::open(&gw.addr());
    c.send(&request[..split]);
    std::thread::sleep(Duration::from_millis(100));
    c.send(&request[split..]);
    let r = c.read_response("POST").expect("a response");
    assert_eq!(r.status, 504, "{}", r.text());
    let line = &tollgate_tests::llm::access_log(&gw, 1)[0];
    let bytes_in = line["bytes_in"].as_u64().expect("bytes_in");
    assert!(
        bytes_in >= body.len() as u64,
        "bytes_in {bytes_in} leaves out the {}-byte body: {line}",
        body.len()
    );
}
