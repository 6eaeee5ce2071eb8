//! End-to-end: HTTP/2 to clients (`core/src/h2/`) with real clients. curl over TLS
//! (ALPN h2, self-signed certificates made in the test) and with prior knowledge on an
//! h2c listener, HTTP/1.1 still served on both; h2load with many streams per
//! connection; SNI, mTLS and a renewed certificate (SIGHUP) over h2. Through the bridge
//! that turns a stream into HTTP/1.1 (`h2/bridge.rs`): request bodies with and without
//! a length, multi-megabyte responses under flow control, HEAD/204/304 without a body,
//! cookies joined, `:authority` as Host, connection-specific response fields dropped,
//! response trailers, repeated and Connection-named fields, a close-delimited body, a
//! request body that disagrees with its content-length refused, an SSE stream event by
//! event, 404/413/431 over h2, an upstream cut mid-body as RST_STREAM, a client reset
//! (counted, the upstream connection not reused), the access log; the connection's
//! end: GOAWAY at the idle time-out and on drain, after the streams in flight.
//! `tollgate check` refuses h2c on a TLS listener.
//!
//! Streams, resets and GOAWAYs that curl and h2load do not show are driven with
//! `tests/py/h2_client.py` (the `h2` package, from the venv that
//! `scripts/install-test-deps.sh` makes). Every wait polls against a deadline.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tollgate_tests::client::{get, Conn};
use tollgate_tests::h2client::{header, pattern, H2Client};
use tollgate_tests::llm::{
    access_log, events, metric, metrics, openai_gateway_config, openai_stream,
};
use tollgate_tests::tls::{client_config, pair, Ca, Leaf, TlsConn};
use tollgate_tests::{
    bin, catch_all_config, Gateway, Paced, Reply, Scratch, StreamOutcome, Upstream,
};

// ---------------------------------------------------------------------------------------
// Support
// ---------------------------------------------------------------------------------------

/// One worker; a listener with `listener` (its keys, then its tables), a catch-all route
/// to the cluster `up` at `up_addr`, the access log in the scratch dir, then `extra`.
fn config(listener: &str, up_addr: &str, extra: &str) -> String {
    let top = format!("[access_log]\npath = \"{{dir}}/access.log\"\n{extra}");
    catch_all_config(&top, listener, up_addr)
}

/// A plain listener with h2c in front of `up`, and `extra` (top-level tables).
fn h2c_config(up: &Upstream, extra: &str) -> String {
    config("h2c = true", &up.addr.to_string(), extra)
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs curl (at most 10 s) with `args`; returns (success, stdout, stderr).
fn curl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run curl ({e}); install it with scripts/install-test-deps.sh")
        });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// curl that must succeed: its stdout.
fn curl_ok(args: &[&str]) -> String {
    let (ok, out, err) = curl(args);
    assert!(ok, "curl {args:?} failed: {err}");
    out
}

fn resolve(host: &str, gw: &Gateway) -> String {
    format!("{host}:{}:127.0.0.1", gw.port)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `program args` at most `limit`; its (exit success, stdout + stderr).
fn run_bounded(program: &str, args: &[&str], limit: Duration) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-h2-e2e-out-{}-{}",
        std::process::id(),
        tollgate_tests::free_port()
    ));
    let out = std::fs::File::create(&dir).unwrap();
    let err = out.try_clone().unwrap();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}); install it with scripts/install-test-deps.sh")
        });
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&dir).unwrap_or_default();
    let _ = std::fs::remove_file(&dir);
    let status = status.unwrap_or_else(|| panic!("{program} ran past {limit:?}:\n{text}"));
    (status.success(), text)
}

/// A stream that ended cleanly with `status`; its body as text.
fn ok_with(r: &Value, status: u64) -> String {
    assert_eq!(r["status"], status, "{r}");
    assert_eq!(r["ended"], true, "the stream did not end: {r}");
    assert!(r["reset"].is_null(), "the stream was reset: {r}");
    r["body"].as_str().unwrap_or("").to_owned()
}

fn metric_now(gw: &Gateway, series: &str) -> f64 {
    metric(&metrics(gw), series).unwrap_or(0.0)
}

// ---------------------------------------------------------------------------------------
// Real clients: curl, h2load; TLS
// ---------------------------------------------------------------------------------------

#[test]
fn curl_speaks_h2_over_tls_by_alpn_and_http11_still_works_on_the_same_listener() {
    let s = Scratch::new("curl-tls");
    let ca = Ca::new("test CA");
    let ca_file = ca.write(&s.0, "ca.pem");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!("[listeners.tls]\ncertificates = [{}]", pair(&leaf)),
        &up.addr.to_string(),
        "",
    ));
    let url = format!("https://localhost:{}/hello?x=1", gw.port);
    let base = [
        "--cacert",
        ca_file.to_str().unwrap(),
        "--resolve",
        &resolve("localhost", &gw),
    ];
    let w = " %{http_version} %{http_code} %{num_connects}\n";
    // Two transfers, one connection, HTTP/2 both times.
    let out = curl_ok(&[&base[..], &["--http2", "-w", w, &url, &url]].concat());
    assert_eq!(out, "ok /hello?x=1 2 200 1\nok /hello?x=1 2 200 0\n");
    // ALPN http/1.1 on the same listener.
    let out = curl_ok(&[&base[..], &["--http1.1", "-w", w, &url]].concat());
    assert_eq!(out, "ok /hello?x=1 1.1 200 1\n");
    let seen = up.requests();
    assert_eq!(seen.len(), 3);
    for r in &seen {
        assert_eq!(r.target, "/hello?x=1");
        assert_eq!(r.header("x-forwarded-proto"), Some("https"));
        // :authority became Host.
        assert_eq!(r.header("host"), Some(&*format!("localhost:{}", gw.port)));
    }
    let page = metrics(&gw);
    assert_eq!(metric(&page, "tollgate_http2_connections_total"), Some(1.0));
    assert_eq!(metric(&page, "tollgate_http2_streams_total"), Some(2.0));
    // The access log tells the protocols apart.
    let lines = access_log(&gw, 3);
    let protocols: Vec<&str> = lines
        .iter()
        .map(|l| l["protocol"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(protocols, ["HTTP/2", "HTTP/2", "HTTP/1.1"], "{lines:?}");

    // A listener offering only http/1.1 by ALPN: curl --http2 falls back to HTTP/1.1.
    let gw = Gateway::start(&config(
        &format!(
            "[listeners.tls]\ncertificates = [{}]\nalpn = [\"http/1.1\"]",
            pair(&leaf)
        ),
        &up.addr.to_string(),
        "",
    ));
    let url = format!("https://localhost:{}/one", gw.port);
    let out = curl_ok(&[
        "--cacert",
        ca_file.to_str().unwrap(),
        "--resolve",
        &resolve("localhost", &gw),
        "--http2",
        "-w",
        " %{http_version}",
        &url,
    ]);
    assert_eq!(out, "ok /one 1.1");
}

#[test]
fn h2c_by_prior_knowledge_and_http11_share_a_plain_listener() {
    let up = Upstream::ok();
    let gw = Gateway::start(&h2c_config(&up, ""));
    let w = " %{http_version}";
    let out = curl_ok(&["--http2-prior-knowledge", "-w", w, &gw.url("/pk")]);
    assert_eq!(out, "ok /pk 2");
    let out = curl_ok(&["--http1.1", "-w", w, &gw.url("/h1")]);
    assert_eq!(out, "ok /h1 1.1");
    // A raw HTTP/1.1 client, keep-alive: two requests on one connection.
    let mut c = Conn::open(&gw.addr());
    for path in ["/a", "/b"] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.read_response("GET").expect("an HTTP/1.1 answer");
        assert_eq!(r.text(), format!("ok {path}"));
    }
    let seen = up.requests();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].header("x-forwarded-proto"), Some("http"));
    assert_eq!(
        metric_now(&gw, "tollgate_http2_connections_total"),
        1.0,
        "only the prior-knowledge connection spoke HTTP/2"
    );

    // Without h2c = true, the preface is not HTTP/2: prior knowledge fails there and
    // nothing reaches the upstream.
    let plain = Upstream::ok();
    let gw = Gateway::start(&config("", &plain.addr.to_string(), ""));
    let (ok, _, _) = curl(&["--http2-prior-knowledge", &gw.url("/pk")]);
    assert!(!ok, "HTTP/2 by prior knowledge on a listener without h2c");
    assert_eq!(plain.request_count(), 0);
    assert_eq!(get(&gw.addr(), "/h1").text(), "ok /h1");
}

/// The h2load summary lines must show `n` requests, all succeeded with a 2xx.
fn assert_h2load_all_ok(text: &str, n: u32) {
    let want = format!("requests: {n} total, {n} started, {n} done, {n} succeeded, 0 failed");
    assert!(text.contains(&want), "h2load: wanted {want:?}:\n{text}");
    assert!(
        text.contains(&format!("status codes: {n} 2xx")),
        "h2load: not all 2xx:\n{text}"
    );
}

#[test]
fn h2load_with_many_streams_per_connection_all_succeed_on_h2c_and_tls() {
    let s = Scratch::new("h2load");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost", "127.0.0.1"], 1);
    let files = leaf.write(&s.0, "leaf");
    let up = Upstream::ok();
    let gw = Gateway::start(&h2c_config(&up, ""));
    // 4 connections with up to 100 streams open on each.
    let (ok, text) = run_bounded(
        "h2load",
        &["-n", "2000", "-c", "4", "-m", "100", &gw.url("/load")],
        Duration::from_secs(30),
    );
    assert!(ok, "h2load failed:\n{text}");
    assert_h2load_all_ok(&text, 2000);
    let page = metrics(&gw);
    assert_eq!(metric(&page, "tollgate_http2_connections_total"), Some(4.0));
    assert_eq!(metric(&page, "tollgate_http2_streams_total"), Some(2000.0));
    assert_eq!(up.request_count(), 2000);

    // Uploads: 400 POSTs of 10 KB, 50 streams at a time on each of 2 connections.
    let counting = counting_upstream();
    let gw = Gateway::start(&h2c_config(&counting, ""));
    let data = pattern(10_000);
    let file = s.path("post.bin");
    std::fs::write(&file, &data).unwrap();
    let (ok, text) = run_bounded(
        "h2load",
        &[
            "-n",
            "400",
            "-c",
            "2",
            "-m",
            "50",
            "-d",
            file.to_str().unwrap(),
            &gw.url("/post"),
        ],
        Duration::from_secs(30),
    );
    assert!(ok, "h2load -d failed:\n{text}");
    assert_h2load_all_ok(&text, 400);
    let seen = counting.requests();
    assert_eq!(seen.len(), 400);
    assert!(
        seen.iter().all(|r| r.method == "POST" && r.body == data),
        "an upload arrived changed"
    );

    // Over TLS, and both ways h2 gets its bytes (http2.io) on each.
    for (tls, io) in [
        (true, "readiness"),
        (true, "completion"),
        (false, "completion"),
    ] {
        let listener = if tls {
            format!("[listeners.tls]\ncertificates = [{}]", pair(&files))
        } else {
            "h2c = true".to_owned()
        };
        let gw = Gateway::start(&config(
            &listener,
            &up.addr.to_string(),
            &format!("[http2]\nio = \"{io}\""),
        ));
        let url = if tls {
            format!("https://127.0.0.1:{}/tls", gw.port)
        } else {
            gw.url("/h2c")
        };
        let (ok, text) = run_bounded(
            "h2load",
            &["-n", "1000", "-c", "2", "-m", "100", &url],
            Duration::from_secs(30),
        );
        assert!(ok, "h2load, tls = {tls}, io = {io}, failed:\n{text}");
        assert!(
            text.contains("Application protocol: h2"),
            "tls = {tls}, io = {io}: not h2:\n{text}"
        );
        assert_h2load_all_ok(&text, 1000);
    }
}

#[test]
fn sni_picks_the_certificate_over_h2() {
    let s = Scratch::new("sni");
    let ca = Ca::new("test CA");
    let ca_file = ca.write(&s.0, "ca.pem");
    let alpha = ca.server("alpha", &["alpha.test"], 1).write(&s.0, "alpha");
    let beta = ca.server("beta", &["*.beta.test"], 2).write(&s.0, "beta");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!(
            "[listeners.tls]\ncertificates = [{}, {}]",
            pair(&alpha),
            pair(&beta)
        ),
        &up.addr.to_string(),
        "",
    ));
    for (host, cn) in [
        ("alpha.test", "alpha"),
        ("www.beta.test", "beta"),
        ("api.beta.test", "beta"),
    ] {
        let url = format!("https://{host}:{}/sni", gw.port);
        let (ok, out, err) = curl(&[
            "-v",
            "--http2",
            "--cacert",
            ca_file.to_str().unwrap(),
            "--resolve",
            &resolve(host, &gw),
            "-w",
            " %{http_version}",
            &url,
        ]);
        assert!(ok, "{host}: {err}");
        assert_eq!(out, "ok /sni 2", "{host}");
        assert!(
            err.contains(&format!("subject: CN={cn}")),
            "{host}: expected the certificate of {cn}:\n{err}"
        );
        assert!(err.contains("ALPN: server accepted h2"), "{host}:\n{err}");
    }
    // The upstream saw each name as Host (from :authority).
    let hosts: Vec<String> = up
        .requests()
        .iter()
        .map(|r| r.header("host").unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        hosts,
        [
            format!("alpha.test:{}", gw.port),
            format!("www.beta.test:{}", gw.port),
            format!("api.beta.test:{}", gw.port)
        ]
    );
}

#[test]
fn mtls_over_h2_lets_a_known_client_in_and_refuses_the_others() {
    let s = Scratch::new("mtls");
    let ca = Ca::new("server CA");
    let ca_file = ca.write(&s.0, "ca.pem");
    let clients = Ca::new("client CA");
    let client_ca = clients.write(&s.0, "clients.pem");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let alice = clients.client("alice").write(&s.0, "alice");
    let mallory = Ca::new("stranger CA")
        .client("mallory")
        .write(&s.0, "mallory");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!(
            "[listeners.tls]\ncertificates = [{}]\nclient_ca = \"{}\"\nclient_auth = \"required\"",
            pair(&leaf),
            client_ca.display()
        ),
        &up.addr.to_string(),
        "",
    ));
    let url = format!("https://localhost:{}/in", gw.port);
    let r = resolve("localhost", &gw);
    let base = [
        "--http2",
        "--cacert",
        ca_file.to_str().unwrap(),
        "--resolve",
        &r,
        "-w",
        " %{http_version}",
    ];
    let with = |id: &(PathBuf, PathBuf)| {
        curl(
            &[
                &base[..],
                &[
                    "--cert",
                    id.0.to_str().unwrap(),
                    "--key",
                    id.1.to_str().unwrap(),
                    &url,
                ],
            ]
            .concat(),
        )
    };
    let (ok, out, err) = with(&alice);
    assert!(ok, "alice was refused: {err}");
    assert_eq!(out, "ok /in 2");
    let (ok, _, _) = with(&mallory);
    assert!(!ok, "a stranger's certificate got in");
    let (ok, _, _) = curl(&[&base[..], &[&url]].concat());
    assert!(!ok, "a client without a certificate got in");
    assert_eq!(up.request_count(), 1);
    // The python h2 client with alice's certificate, and without one.
    let mut c = H2Client::tls(&gw, "localhost", &ca_file, Some(&alice));
    assert_eq!(c.info()["alpn"], "h2");
    assert_eq!(ok_with(&c.get("/py"), 200), "ok /py");
    drop(c);
    assert_eq!(up.request_count(), 2);
}

#[test]
fn a_renewed_certificate_after_sighup_while_an_h2_connection_stays_open() {
    let s = Scratch::new("renew");
    let ca = Ca::new("test CA");
    let ca_file = ca.write(&s.0, "ca.pem");
    let old = ca.server("gateway", &["localhost"], 1);
    let files = old.write(&s.0, "leaf");
    let up = Upstream::start(|r| {
        let ok = Reply::Full(200, vec![], format!("ok {}", r.target).into_bytes());
        if r.target == "/slow" {
            Reply::Delay(Duration::from_millis(800), Box::new(ok))
        } else {
            ok
        }
    });
    let gw = Gateway::start(&config(
        &format!("[listeners.tls]\ncertificates = [{}]", pair(&files)),
        &up.addr.to_string(),
        "",
    ));
    let mut open = H2Client::tls(&gw, "localhost", &ca_file, None);
    let info = open.info();
    assert_eq!(info["alpn"], "h2");
    assert_eq!(info["cert"], hex(&old.der));
    assert_eq!(ok_with(&open.get("/before"), 200), "ok /before");
    // A stream in flight across the reload.
    let slow = open.send(json!({"path": "/slow"}));

    let new: Leaf = ca.server("gateway", &["localhost"], 2);
    new.write(&s.0, "leaf");
    gw.signal(libc::SIGHUP);
    wait_for(
        Duration::from_secs(5),
        "a new handshake served the renewed certificate",
        || {
            TlsConn::connect(&gw.addr(), "localhost", client_config(&ca.pem(), None))
                .map(|c| c.peer_cert() == new.der)
                .unwrap_or(false)
        },
    );
    // A new HTTP/2 connection gets the new certificate and is served.
    let mut fresh = H2Client::tls(&gw, "localhost", &ca_file, None);
    assert_eq!(fresh.info()["cert"], hex(&new.der));
    assert_eq!(ok_with(&fresh.get("/new"), 200), "ok /new");
    // The connection opened before the reload finishes its stream in flight and still
    // serves new ones, on its old session.
    assert_eq!(ok_with(&open.wait(slow, 5.0), 200), "ok /slow");
    for i in 0..3 {
        let path = format!("/after{i}");
        assert_eq!(ok_with(&open.get(&path), 200), format!("ok {path}"));
    }
    assert!(open.goaway(0.2, false)["goaways"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        metric_now(&gw, "tollgate_http2_connections_total"),
        2.0,
        "the old connection was not replaced"
    );
}

// ---------------------------------------------------------------------------------------
// Through the bridge: HTTP/2 streams as HTTP/1.1 requests
// ---------------------------------------------------------------------------------------

/// An upstream that answers `got N bytes` for every request.
fn counting_upstream() -> Upstream {
    Upstream::start(|r| {
        Reply::Full(
            200,
            vec![],
            format!("got {} bytes", r.body.len()).into_bytes(),
        )
    })
}

#[test]
fn request_bodies_with_and_without_a_length_reach_the_upstream_intact() {
    let up = counting_upstream();
    let gw = Gateway::start(&h2c_config(&up, ""));
    let mut c = H2Client::h2c(&gw);
    // With content-length, in five DATA frames: forwarded with its length.
    let r = c.request(
        json!({"method": "POST", "path": "/len", "body_size": 70_000, "pieces": 5,
        "headers": [["content-length", "70000"], ["content-type", "application/octet-stream"]]}),
    );
    assert_eq!(ok_with(&r, 200), "got 70000 bytes");
    // Without a length, larger than the gateway's stream window (256 KiB), with
    // trailers: forwarded chunked.
    let r = c.request(
        json!({"method": "POST", "path": "/chunked", "body_size": 300_000,
        "pieces": 7, "trailers": [["x-checksum", "abc"]]}),
    );
    assert_eq!(ok_with(&r, 200), "got 300000 bytes");
    // Headers without END_STREAM, then an empty DATA frame that ends the stream.
    let r = c.request(json!({"method": "POST", "path": "/empty", "body": ""}));
    assert_eq!(ok_with(&r, 200), "got 0 bytes");
    // No body at all.
    let r = c.request(json!({"method": "DELETE", "path": "/none"}));
    assert_eq!(ok_with(&r, 200), "got 0 bytes");

    let seen = up.requests();
    assert_eq!(seen.len(), 4);
    let (len, chunked, empty, none) = (&seen[0], &seen[1], &seen[2], &seen[3]);
    assert!(!len.chunked);
    assert_eq!(len.header("content-length"), Some("70000"));
    assert!(
        len.body == pattern(70_000),
        "the body with a length changed"
    );
    assert!(chunked.chunked, "a body without a length goes chunked");
    assert_eq!(chunked.header("content-length"), None);
    assert!(chunked.body == pattern(300_000), "the chunked body changed");
    assert!(empty.body.is_empty());
    assert_eq!(none.method, "DELETE");
    assert!(none.body.is_empty() && !none.chunked);
    assert_eq!(none.header("transfer-encoding"), None);

    // curl: a file with its length, and one it streams without (HTTP/2 has no chunked
    // coding; curl drops the header and sends no length).
    let data = pattern(200 * 1024);
    let file = gw.dir().join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    let at = format!("@{}", file.display());
    let out = curl_ok(&[
        "--http2-prior-knowledge",
        "--data-binary",
        &at,
        &gw.url("/curl-len"),
    ]);
    assert_eq!(out, "got 204800 bytes");
    let out = curl_ok(&[
        "--http2-prior-knowledge",
        "--data-binary",
        &at,
        "-H",
        "Transfer-Encoding: chunked",
        &gw.url("/curl-chunked"),
    ]);
    assert_eq!(out, "got 204800 bytes");
    let seen = up.requests();
    assert!(seen[4].body == data && !seen[4].chunked);
    assert!(seen[5].body == data && seen[5].chunked);
}

#[test]
fn multi_megabyte_responses_arrive_intact_under_flow_control() {
    const LEN: usize = 3 * 1024 * 1024;
    let s = Scratch::new("big");
    let ca = Ca::new("test CA");
    let ca_file = ca.write(&s.0, "ca.pem");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let up = Upstream::start(|r| match r.target.as_str() {
        "/length" => Reply::Full(200, vec![], pattern(LEN)),
        _ => Reply::Chunked(
            200,
            pattern(LEN).chunks(50_000).map(<[u8]>::to_vec).collect(),
        ),
    });
    // Both ways h2 gets its bytes (http2.io), on plain TCP and over TLS.
    for io in ["readiness", "completion"] {
        for tls in [false, true] {
            let what = format!("io = {io}, tls = {tls}");
            let http2 = format!("[http2]\nio = \"{io}\"");
            let listener = if tls {
                format!("[listeners.tls]\ncertificates = [{}]", pair(&leaf))
            } else {
                "h2c = true".to_owned()
            };
            let gw = Gateway::start(&config(&listener, &up.addr.to_string(), &http2));
            // The python client keeps the default 64 KiB windows: the gateway waits for
            // its WINDOW_UPDATEs about a hundred times per response. Both at once.
            let mut c = if tls {
                H2Client::tls(&gw, "localhost", &ca_file, None)
            } else {
                H2Client::h2c(&gw)
            };
            // Both at once on the default path; the chunked one (the bridge de-chunks
            // it) on the others.
            let paths: &[&str] = if io == "readiness" && !tls {
                &["/length", "/chunked"]
            } else {
                &["/chunked"]
            };
            let ids: Vec<u64> = paths.iter().map(|p| c.send(json!({ "path": p }))).collect();
            for (id, path) in ids.into_iter().zip(paths) {
                let r = c.wait(id, 20.0);
                ok_with(&r, 200);
                assert_eq!(r["body_len"], LEN, "{what}, {path}");
                assert_eq!(r["body_is_pattern"], true, "{what}, {path}: changed");
            }
            if tls || io != "readiness" {
                continue;
            }
            // curl, both.
            for path in ["/length", "/chunked"] {
                let file = gw.dir().join("download.bin");
                let out = curl_ok(&[
                    "--http2-prior-knowledge",
                    "-o",
                    file.to_str().unwrap(),
                    "-w",
                    "%{http_version} %{size_download}",
                    &gw.url(path),
                ]);
                assert_eq!(out, format!("2 {LEN}"), "{what}, {path}");
                assert!(
                    std::fs::read(&file).unwrap() == pattern(LEN),
                    "{what}, {path}: curl got a changed body"
                );
            }
        }
    }
}

#[test]
fn head_204_and_304_answers_have_no_body() {
    let up = Upstream::start(|r| match r.target.as_str() {
        "/204" => Reply::Raw(b"HTTP/1.1 204 No Content\r\nx-a: 1\r\n\r\n".to_vec()),
        "/304" => Reply::Raw(b"HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\n\r\n".to_vec()),
        _ => Reply::Full(
            200,
            vec![("x-a".into(), "1".into())],
            b"hello world".to_vec(),
        ),
    });
    let gw = Gateway::start(&h2c_config(&up, ""));
    let mut c = H2Client::h2c(&gw);
    let r = c.request(json!({"method": "HEAD", "path": "/head"}));
    assert_eq!(ok_with(&r, 200), "");
    assert_eq!(header(&r, "content-length"), Some("11"), "{r}");
    assert_eq!(header(&r, "x-a"), Some("1"));
    assert_eq!(r["frames"], json!([]), "DATA frames for HEAD: {r}");
    let r = c.get("/204");
    assert_eq!(ok_with(&r, 204), "");
    assert_eq!(r["frames"], json!([]), "{r}");
    let r = c.request(json!({"path": "/304", "headers": [["if-none-match", "\"v1\""]]}));
    assert_eq!(ok_with(&r, 304), "");
    assert_eq!(header(&r, "etag"), Some("\"v1\""));
    assert_eq!(r["frames"], json!([]), "{r}");
    // And a GET of the same resource has its body.
    assert_eq!(ok_with(&c.get("/head"), 200), "hello world");
    // curl -I over h2.
    let out = curl_ok(&["--http2-prior-knowledge", "-I", &gw.url("/head")]);
    assert!(out.starts_with("HTTP/2 200"), "{out}");
}

#[test]
fn cookies_are_joined_authority_becomes_host_and_connection_fields_are_dropped() {
    let up = Upstream::start(|_| {
        let h = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        Reply::Full(
            200,
            vec![
                h("connection", "keep-alive"),
                h("keep-alive", "timeout=5"),
                h("proxy-connection", "keep-alive"),
                h("upgrade", "h2c"),
                h("x-kept", "yes"),
            ],
            b"ok".to_vec(),
        )
    });
    let gw = Gateway::start(&h2c_config(&up, ""));
    let mut c = H2Client::h2c(&gw);
    // The python client (h2) refuses connection-specific fields in a response with a
    // protocol error, so getting here at all means they were dropped; check anyway.
    let r = c.request(json!({"path": "/c?q=1", "authority": "api.example:8443",
        "headers": [["cookie", "a=1"], ["x-id", "7"], ["cookie", "b=2"], ["cookie", "c=3"],
                    ["te", "trailers"]]}));
    assert_eq!(ok_with(&r, 200), "ok");
    assert_eq!(header(&r, "x-kept"), Some("yes"));
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "transfer-encoding",
    ] {
        assert_eq!(header(&r, name), None, "{name} reached the client: {r}");
    }
    let seen = up.requests();
    let got = &seen[0];
    assert_eq!(got.target, "/c?q=1");
    assert_eq!(got.header("host"), Some("api.example:8443"));
    let cookies: Vec<&str> = got
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(cookies, ["a=1; b=2; c=3"], "RFC 9113 §8.2.3");
    assert_eq!(got.header("x-id"), Some("7"));
    assert_eq!(got.header("te"), None, "te is hop-by-hop");
    for (name, _) in &got.headers {
        assert!(
            !name.starts_with(':'),
            "a pseudo-header went upstream: {name}"
        );
    }
    // :authority wins over a Host field beside it (RFC 9113 §8.3.1).
    let r = c.request(json!({"path": "/h", "authority": "a.example",
        "headers": [["host", "b.example"]]}));
    assert_eq!(ok_with(&r, 200), "ok");
    let seen = up.requests();
    let hosts: Vec<&str> = seen[1]
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("host"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(hosts, ["a.example"]);
}

#[test]
fn an_sse_stream_arrives_event_by_event_over_h2() {
    let up = Upstream::ok();
    // 10 tokens at 40 a second: about 250 ms from the first event to the last.
    let gw = Gateway::start(&format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
h2c = true
[[clusters]]
name = "up"
endpoints = ["{}"]
[[routes]]
name = "llm"
match = {{ path_prefix = "/v1/" }}
llm = {{}}
[[llm.providers]]
name = "mock"
kind = "mock"
[llm.providers.mock]
ttft = "10ms"
tokens_per_second = 40
output_tokens = 10
[[llm.models]]
name = "mock-model"
[[llm.models.deployments]]
provider = "mock"
"#,
        up.addr
    ));
    let body =
        r#"{"model":"mock-model","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let mut c = H2Client::h2c(&gw);
    let r = c.request(json!({"method": "POST", "path": "/v1/chat/completions",
        "headers": [["content-type", "application/json"]], "body": body}));
    let text = ok_with(&r, 200);
    assert!(
        header(&r, "content-type").is_some_and(|v| v.starts_with("text/event-stream")),
        "{r}"
    );
    let evs = events(text.as_bytes());
    assert!(evs.len() >= 10, "{text}");
    assert_eq!(evs.last().unwrap().data, "[DONE]", "{text}");
    // Flushed as they came: many DATA frames, spread over the stream's time.
    let frames = r["frames"].as_array().unwrap();
    let at = |f: &Value| f[0].as_f64().unwrap();
    assert!(
        frames.len() >= 8,
        "the events came in few frames: {frames:?}"
    );
    let spread = at(frames.last().unwrap()) - at(&frames[0]);
    assert!(
        spread >= 150.0,
        "the events came together (first to last {spread} ms): {frames:?}"
    );
    let gaps = frames.windows(2).filter(|w| at(&w[1]) - at(&w[0]) >= 10.0);
    assert!(
        gaps.count() >= 5,
        "few paced frames: the stream was buffered: {frames:?}"
    );
    // Not streamed, the body sent without a length in three DATA frames: the LLM route
    // reads the whole (chunked) body and answers one JSON document.
    let body = r#"{"model":"mock-model","messages":[{"role":"user","content":"hi"}]}"#;
    let r = c.request(json!({"method": "POST", "path": "/v1/chat/completions",
        "headers": [["content-type", "application/json"]], "body": body, "pieces": 3}));
    let text = ok_with(&r, 200);
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(doc["object"], "chat.completion", "{doc}");
    assert_eq!(doc["usage"]["completion_tokens"], 10, "{doc}");
}

#[test]
fn error_answers_come_back_over_h2_with_their_status() {
    let up = counting_upstream();
    let gw = Gateway::start(&format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[limits]
max_body_bytes = 1000
[[listeners]]
listen = "127.0.0.1:{{port}}"
h2c = true
[[clusters]]
name = "up"
endpoints = ["{}"]
[[routes]]
name = "api"
match = {{ path_prefix = "/api/" }}
upstream = "up"
"#,
        up.addr
    ));
    let mut c = H2Client::h2c(&gw);
    assert_eq!(c.get("/nope")["status"], 404);
    // A route miss with a body larger than the stream window (256 KiB) still coming:
    // answered at once, the rest of the body not waited for.
    let r = c.request(
        json!({"method": "POST", "path": "/nope", "body_size": 600_000,
        "pieces": 10}),
    );
    assert_eq!(r["status"], 404, "{r}");
    // Over max_body_bytes with a length, and without.
    let r = c.request(
        json!({"method": "POST", "path": "/api/big", "body_size": 2000,
        "headers": [["content-length", "2000"]]}),
    );
    assert_eq!(r["status"], 413, "{r}");
    let r = c.request(
        json!({"method": "POST", "path": "/api/big", "body_size": 2000,
        "pieces": 2}),
    );
    assert_eq!(r["status"], 413, "{r}");
    // A header list over http2.max_header_list_size (32 KiB): h2 refuses it with 431.
    let big = "v".repeat(40 * 1024);
    let r = c.request(json!({"path": "/api/h", "headers": [["x-big", big]]}));
    assert_eq!(r["status"], 431, "{r}");
    // Under it, but more fields than limits.max_headers (100): the HTTP/1.1 parser's 431.
    let many: Vec<Value> = (0..150).map(|i| json!([format!("x-h{i}"), "v"])).collect();
    let r = c.request(json!({"path": "/api/h", "headers": many}));
    assert_eq!(r["status"], 431, "{r}");
    // The connection still serves, and nothing refused reached the upstream.
    assert_eq!(ok_with(&c.get("/api/fine"), 200), "got 0 bytes");
    assert_eq!(up.request_count(), 1);
    assert!(c.goaway(0.1, false)["goaways"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn an_upstream_response_cut_mid_body_resets_the_stream() {
    let up = Upstream::start(|r| match r.target.as_str() {
        "/cut-chunked" => Reply::Paced(Paced {
            status: 200,
            headers: vec![],
            pieces: vec![
                (Duration::ZERO, b"part one ".to_vec()),
                (Duration::from_millis(30), b"part two ".to_vec()),
            ],
            finish: false,
        }),
        "/cut-length" => {
            Reply::Raw(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly some".to_vec())
        }
        _ => Reply::Full(200, vec![], b"fine".to_vec()),
    });
    let gw = Gateway::start(&h2c_config(&up, ""));
    let mut c = H2Client::h2c(&gw);
    for (path, got) in [
        ("/cut-chunked", "part one part two "),
        ("/cut-length", "only some"),
    ] {
        let r = c.get(path);
        assert_eq!(r["status"], 200, "{path}: {r}");
        assert_eq!(r["body"], got, "{path}");
        assert_eq!(r["ended"], false, "{path}: a cut body ended cleanly: {r}");
        assert_eq!(r["reset"], 2, "{path}: not RST_STREAM(INTERNAL_ERROR): {r}");
    }
    // The connection is fine.
    assert_eq!(ok_with(&c.get("/ok"), 200), "fine");
    // curl sees an error, not a short body.
    let (ok, _, err) = curl(&["--http2-prior-knowledge", &gw.url("/cut-length")]);
    assert!(!ok, "curl took a cut body as whole");
    assert!(err.contains("INTERNAL_ERROR"), "{err}");
}

#[test]
fn a_client_reset_is_counted_logged_and_its_upstream_connection_not_reused() {
    let up = Upstream::start(|r| match r.target.as_str() {
        "/slow" => Reply::Delay(
            Duration::from_millis(1500),
            Box::new(Reply::Full(200, vec![], b"slow".to_vec())),
        ),
        "/paced" => {
            let pieces = (0..20)
                .map(|i| {
                    (
                        Duration::from_millis(50),
                        format!("piece {i}\n").into_bytes(),
                    )
                })
                .collect();
            Reply::Paced(Paced {
                status: 200,
                headers: vec![],
                pieces,
                finish: true,
            })
        }
        _ => Reply::Full(200, vec![], format!("ok {}", r.target).into_bytes()),
    });
    let gw = Gateway::start(&h2c_config(&up, ""));
    let mut c = H2Client::h2c(&gw);
    // Reset before the response head: the upstream request is abandoned.
    let id = c.send(json!({"path": "/slow"}));
    wait_for(Duration::from_secs(3), "the upstream got /slow", || {
        up.request_count() == 1
    });
    c.reset(id);
    wait_for(Duration::from_secs(3), "the reset counted", || {
        metric_now(&gw, "tollgate_http2_client_resets_total") == 1.0
    });
    let r = c.get("/next");
    assert_eq!(ok_with(&r, 200), "ok /next");
    // Reset mid-body: the upstream connection is closed, not pooled half-read.
    let id = c.send(json!({"path": "/paced"}));
    wait_for(Duration::from_secs(3), "the first pieces", || {
        c.wait(id, 0.05)["body_len"].as_u64().unwrap_or(0) > 0
    });
    c.reset(id);
    let end = up.first_stream_end(Duration::from_secs(3));
    assert_eq!(end.outcome, StreamOutcome::PeerGone);
    let r = c.get("/last");
    assert_eq!(ok_with(&r, 200), "ok /last");

    let seen = up.requests();
    let paths: Vec<&str> = seen.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(paths, ["/slow", "/next", "/paced", "/last"]);
    assert_ne!(
        seen[1].connection, seen[0].connection,
        "/next went on the connection still waiting for /slow"
    );
    assert_ne!(
        seen[3].connection, seen[2].connection,
        "/last went on the connection /paced was cut on"
    );
    // Only the reset before the head counts as a client reset; both are logged.
    assert_eq!(metric_now(&gw, "tollgate_http2_client_resets_total"), 1.0);
    let lines = access_log(&gw, 4);
    let slow = lines
        .iter()
        .find(|l| l["path"] == "/slow")
        .expect("/slow logged");
    assert_eq!(slow["status"], 499, "{slow}");
    assert_eq!(slow["protocol"], "HTTP/2", "{slow}");
    let next = lines
        .iter()
        .find(|l| l["path"] == "/next")
        .expect("/next logged");
    assert_eq!(next["status"], 200, "{next}");
    assert_eq!(next["method"], "GET", "{next}");
}

#[test]
fn a_client_resetting_an_llm_stream_stops_the_provider_stream() {
    // The provider sends a word every 100 ms for 2 s.
    let words: Vec<String> = (0..20).map(|i| format!(" w{i}")).collect();
    let up = Upstream::start(move |_| {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        Reply::Paced(openai_stream(
            &words,
            Some((5, 20)),
            Duration::from_millis(100),
        ))
    });
    let gw = Gateway::start(&openai_gateway_config("h2c = true", up.addr));
    let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let mut c = H2Client::h2c(&gw);
    let id = c.send(json!({"method": "POST", "path": "/v1/chat/completions",
        "headers": [["content-type", "application/json"]], "body": body}));
    wait_for(Duration::from_secs(3), "two words through", || {
        let r = c.wait(id, 0.05);
        r["body"]
            .as_str()
            .unwrap_or("")
            .matches("\"content\":\" w")
            .count()
            >= 2
    });
    let reset = Instant::now();
    c.reset(id);
    let end = up.first_stream_end(Duration::from_secs(3));
    assert_eq!(end.outcome, StreamOutcome::PeerGone, "{end:?}");
    assert!(end.sent < 10, "the provider stream ran on: {end:?}");
    let took = end.at.saturating_duration_since(reset);
    assert!(
        took < Duration::from_millis(500),
        "the provider noticed {took:?} after the reset"
    );
    // The connection serves on (the model list is the gateway's own answer).
    let r = c.get("/v1/models");
    assert!(ok_with(&r, 200).contains("\"m\""), "{r}");
    assert_eq!(up.request_count(), 1);
}

// ---------------------------------------------------------------------------------------
// The connection's end
// ---------------------------------------------------------------------------------------

#[test]
fn an_idle_connection_gets_goaway_after_the_idle_timeout() {
    let up = Upstream::start(|r| {
        let ok = Reply::Full(200, vec![], format!("ok {}", r.target).into_bytes());
        if r.target == "/slow" {
            Reply::Delay(Duration::from_millis(700), Box::new(ok))
        } else {
            ok
        }
    });
    let gw = Gateway::start(&h2c_config(&up, "[http2]\nidle_timeout = \"400ms\""));
    // A connection that never opens a stream.
    let mut silent = H2Client::h2c(&gw);
    // A stream longer than the idle time-out does not make the connection idle; the
    // time-out counts from the end of the last stream.
    let mut busy = H2Client::h2c(&gw);
    assert_eq!(ok_with(&busy.get("/slow"), 200), "ok /slow");
    let ended = Instant::now();
    assert_eq!(ok_with(&busy.get("/quick"), 200), "ok /quick");
    let g = busy.goaway(3.0, true);
    let took = ended.elapsed();
    let goaways = g["goaways"].as_array().unwrap();
    assert!(!goaways.is_empty(), "no GOAWAY within 3 s: {g}");
    assert!(goaways.iter().all(|g| g["code"] == 0), "not NO_ERROR: {g}");
    assert_eq!(
        goaways.last().unwrap()["last_stream"],
        3,
        "the last GOAWAY names the last stream: {g}"
    );
    assert_eq!(g["closed"], true, "{g}");
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_millis(2500),
        "GOAWAY {took:?} after the last stream"
    );
    let g = silent.goaway(3.0, true);
    assert_eq!(g["goaways"][0]["code"], 0, "{g}");
    assert_eq!(g["closed"], true, "{g}");
}

#[test]
fn drain_sends_goaway_and_finishes_the_streams_in_flight() {
    // Longer than the 1 s a closing connection gets without streams.
    let up = Upstream::start(|r| {
        Reply::Delay(
            Duration::from_millis(1500),
            Box::new(Reply::Full(
                200,
                vec![],
                format!("done {}", r.target).into_bytes(),
            )),
        )
    });
    let mut gw = Gateway::start(&h2c_config(&up, ""));
    let mut c = H2Client::h2c(&gw);
    let a = c.send(json!({"path": "/a"}));
    let b = c.send(json!({"method": "POST", "path": "/b", "body": "xyz"}));
    wait_for(Duration::from_secs(3), "the upstream got both", || {
        up.request_count() == 2
    });
    let t0 = Instant::now();
    gw.signal(libc::SIGTERM);
    let g = c.goaway(3.0, false);
    // At once, not when the streams end (the upstream answers 1.5 s after it got them).
    assert!(
        t0.elapsed() < Duration::from_millis(1200),
        "GOAWAY only after {:?}",
        t0.elapsed()
    );
    assert_eq!(g["goaways"][0]["code"], 0, "{g}");
    for (id, path) in [(a, "/a"), (b, "/b")] {
        let r = c.wait(id, 5.0);
        assert_eq!(ok_with(&r, 200), format!("done {path}"), "{r}");
    }
    let g = c.goaway(3.0, true);
    assert_eq!(g["closed"], true, "the connection stayed open: {g}");
    let last = g["goaways"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["code"], 0, "{g}");
    assert!(last["last_stream"].as_u64().unwrap() >= b, "{g}");
    assert_eq!(gw.wait_exit(Duration::from_secs(5)), Some(0));
}

// ---------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------

#[test]
fn check_refuses_h2c_on_a_tls_listener_and_a_frame_size_out_of_range() {
    let s = Scratch::new("check");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let check = |text: &str| {
        let path = s.path("tollgate.toml");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(bin("tollgate"))
            .args(["check", "-c"])
            .arg(&path)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            path,
        )
    };
    let (code, err, path) = check(&format!(
        "[[listeners]]\nlisten = \"127.0.0.1:8443\"\nh2c = true\n[listeners.tls]\ncertificates = [{}]\n",
        pair(&leaf)
    ));
    assert_eq!(code, Some(1), "{err}");
    let want = format!(
        "{}:3:7: listeners[0].h2c: listener 1: h2c is cleartext HTTP/2; over TLS, HTTP/2 is \
         offered by ALPN (list \"h2\" in tls.alpn) instead",
        path.display()
    );
    assert!(err.contains(&want), "wanted {want:?} in:\n{err}");
    let (code, err, path) = check(
        "[http2]\nmax_frame_size = 1000\n[[listeners]]\nlisten = \"127.0.0.1:8080\"\nh2c = true\n",
    );
    assert_eq!(code, Some(1), "{err}");
    let want = format!("{}:2:", path.display());
    assert!(err.contains(&want), "{err}");
    assert!(
        err.contains("http2.max_frame_size: 1000 is outside 16384..=16777215"),
        "{err}"
    );
    // The same listener without h2c, and h2c on a plain one, pass.
    let (code, err, _) = check(&format!(
        "[[listeners]]\nlisten = \"127.0.0.1:8443\"\n[listeners.tls]\ncertificates = [{}]\n\
         [[listeners]]\nlisten = \"127.0.0.1:8080\"\nh2c = true\n",
        pair(&leaf)
    ));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn trailers_early_hints_close_delimited_bodies_and_repeated_fields_are_relayed() {
    let up = Upstream::start(|r| match r.target.as_str() {
        "/trailers" => Reply::Raw(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: grpc-status\r\n\r\n\
              5\r\nhello\r\n0\r\ngrpc-status: 0\r\ngrpc-message: fine\r\n\r\n"
                .to_vec(),
        ),
        "/hints" => Reply::Raw(
            b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n\
              HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
                .to_vec(),
        ),
        "/until-close" => Reply::Raw(b"HTTP/1.1 200 OK\r\n\r\nuntil the end".to_vec()),
        _ => Reply::Full(
            200,
            vec![
                ("set-cookie".into(), "a=1; Path=/".into()),
                ("set-cookie".into(), "b=2; Path=/".into()),
                ("connection".into(), "x-hop".into()),
                ("x-hop".into(), "1".into()),
            ],
            b"cookies".to_vec(),
        ),
    });
    let gw = Gateway::start(&h2c_config(&up, ""));
    let mut c = H2Client::h2c(&gw);
    let r = c.get("/trailers");
    assert_eq!(ok_with(&r, 200), "hello");
    assert_eq!(
        r["trailers"],
        json!([["grpc-status", "0"], ["grpc-message", "fine"]]),
        "{r}"
    );
    // The proxy skips interim answers (server/proxy.rs), over HTTP/2 as over HTTP/1.1:
    // the final one comes whole after it.
    let r = c.get("/hints");
    assert_eq!(ok_with(&r, 200), "ok");
    let r = c.get("/until-close");
    assert_eq!(ok_with(&r, 200), "until the end");
    let r = c.get("/cookies");
    assert_eq!(ok_with(&r, 200), "cookies");
    let cookies: Vec<&str> = r["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h[0] == "set-cookie")
        .map(|h| h[1].as_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"], "{r}");
    assert_eq!(
        header(&r, "x-hop"),
        None,
        "a field named by Connection: {r}"
    );
}

#[test]
fn a_body_shorter_than_its_content_length_is_a_stream_error_and_never_forwarded_whole() {
    let up = counting_upstream();
    let gw = Gateway::start(&h2c_config(&up, ""));
    let mut c = H2Client::h2c(&gw);
    let r = c.request(json!({"method": "POST", "path": "/short", "body_size": 50,
        "headers": [["content-length", "100"]]}));
    assert!(
        r["reset"] == 1 || r["status"] == 400,
        "not a PROTOCOL_ERROR reset nor a 400: {r}"
    );
    // A length, and END_STREAM on the headers (RFC 9113 §8.1.1: malformed).
    let t0 = Instant::now();
    let r = c.request(json!({"method": "POST", "path": "/none",
        "headers": [["content-length", "5"]], "timeout": 5}));
    assert!(
        r["reset"] == 1 || r["status"] == 400,
        "not a PROTOCOL_ERROR reset nor a 400: {r}"
    );
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    // More than announced.
    let r = c.request(json!({"method": "POST", "path": "/long", "body_size": 150,
        "headers": [["content-length", "100"]]}));
    assert!(
        r["reset"] == 1 || r["status"] == 400,
        "not a PROTOCOL_ERROR reset nor a 400: {r}"
    );
    assert_eq!(ok_with(&c.get("/fine"), 200), "got 0 bytes");
    let paths: Vec<String> = up.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        paths,
        ["/fine"],
        "a request with a wrong length was forwarded"
    );
}
