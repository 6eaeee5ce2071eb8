//! End-to-end: TLS with the real binary. Downstream: curl over TLS with the test's CA,
//! X-Forwarded-Proto https, the certificate chosen by SNI (exact, wildcard, default),
//! mTLS (required and optional), a silent client closed at the handshake time-out,
//! plain HTTP to a TLS port, a renewed certificate picked up by SIGHUP while an open
//! connection keeps working, a bad certificate file refused at reload and by `check`
//! with its line. Upstream: TLS to tollgate-mock verified with a CA file (pooled,
//! resumed), refused with 502 when the certificate does not verify, verification off
//! only with its explicit key. Both: a WebSocket tunnel over TLS on each side, and an
//! LLM stream over TLS that notices the client leaving.
//!
//! Certificates are made in the test (rcgen). Every wait polls against a deadline.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tollgate_tests::client::{exchange, get};
use tollgate_tests::llm::{metric, metrics, openai_gateway_config, openai_stream};
use tollgate_tests::tls::{
    client_config, client_config_any, client_config_versions, pair, Ca, TlsConn,
};
use tollgate_tests::{bin, Gateway, Mock, Reply, Scratch, StreamOutcome, Upstream};

/// One worker; a TLS listener with the `[listeners.tls]` keys `tls`; a catch-all route
/// to the cluster `up` at `up_addr`, whose table ends with `cluster_extra`.
fn config(tls: &str, up_addr: &str, cluster_extra: &str) -> String {
    format!(
        r#"
[runtime]
workers = 1
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[listeners.tls]
{tls}
[[clusters]]
name = "up"
endpoints = ["{up_addr}"]
{cluster_extra}
[[routes]]
name = "all"
upstream = "up"
"#
    )
}

/// A plain listener in front of the cluster `up` at `up_addr` with `[clusters.tls]` keys
/// `tls`, and then `tables` (more of the cluster's tables).
fn upstream_tls_config(up_addr: &str, tls: &str, tables: &str) -> String {
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
endpoints = ["{up_addr}"]
[clusters.tls]
{tls}
{tables}
[[routes]]
name = "all"
upstream = "up"
"#
    )
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `limit`.
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric_at_least(gw: &Gateway, series: &str, n: f64) {
    wait_for(Duration::from_secs(3), series, || {
        metric(&metrics(gw), series).unwrap_or(0.0) >= n
    });
}

/// Runs curl (at most 5 s) with `args` over HTTP/1.1; returns (success, stdout,
/// stderr). Pinned with `--http1.1`: listeners offer h2 by ALPN by default and curl
/// would take it, while these tests are about TLS under HTTP/1.1; tests/h2.rs makes the
/// same checks (SNI, mTLS, renewal) over HTTP/2.
fn curl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--http1.1"])
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

fn resolve(host: &str, gw: &Gateway) -> String {
    format!("{host}:{}:127.0.0.1", gw.port)
}

// ---------------------------------------------------------------------------------------
// Downstream
// ---------------------------------------------------------------------------------------

#[test]
fn curl_over_tls_is_proxied_with_x_forwarded_proto_https() {
    let s = Scratch::new("curl");
    let ca = Ca::new("test CA");
    let ca_file = ca.write(&s.0, "ca.pem");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!("certificates = [{}]", pair(&leaf)),
        &up.addr.to_string(),
        "",
    ));
    let url = format!("https://localhost:{}/hello", gw.port);
    let (ok, body, err) = curl(&[
        "--cacert",
        ca_file.to_str().unwrap(),
        "--resolve",
        &resolve("localhost", &gw),
        &url,
        &url,
    ]);
    assert!(ok, "curl failed: {err}");
    assert_eq!(body, "ok /hellook /hello");
    let seen = up.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("x-forwarded-proto"), Some("https"));
    // curl kept its one connection for both requests: one handshake.
    metric_at_least(
        &gw,
        "tollgate_tls_handshakes_total{version=\"1.3\",kind=\"full\"}",
        1.0,
    );
    assert_eq!(
        metric(
            &metrics(&gw),
            "tollgate_tls_handshakes_total{version=\"1.3\",kind=\"full\"}"
        ),
        Some(1.0)
    );

    // Without the CA, curl refuses the certificate.
    let (ok, _, err) = curl(&["--resolve", &resolve("localhost", &gw), &url]);
    assert!(!ok, "curl trusted an unknown CA");
    assert!(err.contains("certificate"), "{err}");
}

#[test]
fn returning_clients_resume_with_tls_1_3_and_1_2_also_after_a_reload() {
    let s = Scratch::new("resume");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!("certificates = [{}]", pair(&leaf)),
        &up.addr.to_string(),
        "",
    ));
    for (versions, v) in [
        (
            &[&rustls::version::TLS13][..],
            rustls::ProtocolVersion::TLSv1_3,
        ),
        (
            &[&rustls::version::TLS12][..],
            rustls::ProtocolVersion::TLSv1_2,
        ),
    ] {
        // One config, one session cache: a returning client.
        let cfg = client_config_versions(&ca.pem(), None, versions);
        let mut first = TlsConn::connect(&gw.addr(), "localhost", cfg.clone()).unwrap();
        assert_eq!(first.version(), Some(v));
        // TLS 1.3 tickets come after the handshake: a response makes sure they arrived.
        assert_eq!(first.get("/1").unwrap().status, 200);
        assert!(!first.resumed());
        let mut again = TlsConn::connect(&gw.addr(), "localhost", cfg.clone()).unwrap();
        assert!(
            again.resumed(),
            "{v:?}: the second connection did not resume"
        );
        assert_eq!(again.get("/2").unwrap().status, 200);
        // A reload keeps the ticket key and the session cache.
        gw.signal(libc::SIGHUP);
        wait_for(Duration::from_secs(3), "the reload", || {
            metric(
                &metrics(&gw),
                "tollgate_config_reloads_total{result=\"ok\"}",
            )
            .is_some_and(|n| n >= 1.0)
        });
        std::thread::sleep(Duration::from_millis(200)); // a tick or two for the workers
        let mut after = TlsConn::connect(&gw.addr(), "localhost", cfg).unwrap();
        assert!(after.resumed(), "{v:?}: no resumption after the reload");
        assert_eq!(after.get("/3").unwrap().status, 200);
        let s = if v == rustls::ProtocolVersion::TLSv1_3 {
            "1.3"
        } else {
            "1.2"
        };
        metric_at_least(
            &gw,
            &format!("tollgate_tls_handshakes_total{{version=\"{s}\",kind=\"resumed\"}}"),
            2.0,
        );
    }
}

#[test]
fn min_version_1_3_refuses_a_tls_1_2_client() {
    let s = Scratch::new("min-version");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!("certificates = [{}]\nmin_version = \"1.3\"", pair(&leaf)),
        &up.addr.to_string(),
        "",
    ));
    let old = client_config_versions(&ca.pem(), None, &[&rustls::version::TLS12]);
    assert!(TlsConn::connect(&gw.addr(), "localhost", old).is_err());
    metric_at_least(
        &gw,
        "tollgate_tls_handshake_failures_total{reason=\"incompatible\"}",
        1.0,
    );
    let new = client_config_versions(&ca.pem(), None, &[&rustls::version::TLS13]);
    let mut c = TlsConn::connect(&gw.addr(), "localhost", new).unwrap();
    assert_eq!(c.get("/ok").unwrap().status, 200);
}

#[test]
fn a_close_delimited_response_over_tls_ends_with_close_notify() {
    // The upstream answers without a length and closes: the body ends at the close,
    // which over TLS a client may trust only when a close_notify says so (RFC 9112
    // §9.8); rustls reports a bare TCP close as an unexpected EOF.
    let s = Scratch::new("until-close");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let up = Upstream::start(|_| {
        Reply::Raw(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end".to_vec())
    });
    let gw = Gateway::start(&config(
        &format!("certificates = [{}]", pair(&leaf)),
        &up.addr.to_string(),
        "",
    ));
    let mut c = TlsConn::connect(&gw.addr(), "localhost", client_config(&ca.pem(), None)).unwrap();
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut got = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        match c.read_some(&mut tmp) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&tmp[..n]),
            Err(e) => panic!(
                "the response ended without close_notify ({e}) after {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("\r\n\r\nuntil the end"), "{text}");
}

#[test]
fn sni_chooses_the_exact_name_then_a_wildcard_then_the_default() {
    let s = Scratch::new("sni");
    let ca = Ca::new("test CA");
    let ca_file = ca.write(&s.0, "ca.pem");
    let default = ca.server("default", &["default.test", "127.0.0.1"], 1);
    let exact = ca.server("exact", &["api.example.com"], 2);
    let wild = ca.server("wild", &["*.example.com"], 3);
    let files = [
        default.write(&s.0, "default"),
        exact.write(&s.0, "exact"),
        wild.write(&s.0, "wild"),
    ];
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!(
            "certificates = [{}, {}, {}]",
            pair(&files[0]),
            pair(&files[1]),
            pair(&files[2])
        ),
        &up.addr.to_string(),
        "",
    ));
    let any = client_config_any();
    for (sni, want, which) in [
        ("api.example.com", &exact.der, "exact"),
        ("API.example.com", &exact.der, "exact, any case"),
        ("www.example.com", &wild.der, "wildcard"),
        (
            "a.b.example.com",
            &default.der,
            "default: a wildcard covers one label",
        ),
        (
            "example.com",
            &default.der,
            "default: a wildcard does not cover its parent",
        ),
        ("unknown.test", &default.der, "default: unknown name"),
        // An IP address: no SNI is sent.
        ("127.0.0.1", &default.der, "default: no SNI"),
    ] {
        let mut c = TlsConn::connect(&gw.addr(), sni, any.clone()).expect("handshake");
        assert!(
            c.peer_cert() == *want,
            "{sni}: expected the {which} certificate"
        );
        assert_eq!(c.get("/x").expect("a response").status, 200, "{sni}");
    }
    // A verifying client with the CA agrees: each name verifies against what it got.
    let verified = client_config(&ca.pem(), None);
    for sni in ["api.example.com", "www.example.com", "127.0.0.1"] {
        TlsConn::connect(&gw.addr(), sni, verified.clone())
            .unwrap_or_else(|e| panic!("{sni}: {e}"));
    }
    // And so does curl, for the wildcard.
    let url = format!("https://www.example.com:{}/w", gw.port);
    let (ok, body, err) = curl(&[
        "--cacert",
        ca_file.to_str().unwrap(),
        "--resolve",
        &resolve("www.example.com", &gw),
        &url,
    ]);
    assert!(ok, "{err}");
    assert_eq!(body, "ok /w");
}

#[test]
fn mtls_required_accepts_a_known_client_and_refuses_the_others() {
    let s = Scratch::new("mtls");
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let strangers = Ca::new("stranger CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let client_ca = clients.write(&s.0, "clients.pem");
    let known = clients.client("alice");
    let (known_cert, known_key) = known.write(&s.0, "alice");
    let stranger = strangers.client("mallory");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!(
            "certificates = [{}]\nclient_ca = \"{}\"\nclient_auth = \"required\"",
            pair(&leaf),
            client_ca.display()
        ),
        &up.addr.to_string(),
        "",
    ));

    let mut c = TlsConn::connect(
        &gw.addr(),
        "localhost",
        client_config(&ca.pem(), Some(&known)),
    )
    .expect("a known client's handshake");
    assert_eq!(c.get("/in").expect("a response").status, 200);

    // TLS 1.3 clients finish before the server has checked them: the refusal may come
    // as a failed handshake or as the connection ending before any response.
    let refused = |identity| match TlsConn::connect(
        &gw.addr(),
        "localhost",
        client_config(&ca.pem(), identity),
    ) {
        Err(_) => true,
        Ok(mut c) => c.get("/in").is_none(),
    };
    assert!(refused(None), "a client without a certificate got in");
    assert!(
        refused(Some(&stranger)),
        "a client with a stranger's certificate got in"
    );
    metric_at_least(
        &gw,
        "tollgate_tls_handshake_failures_total{reason=\"no_client_certificate\"}",
        1.0,
    );
    metric_at_least(
        &gw,
        "tollgate_tls_handshake_failures_total{reason=\"bad_client_certificate\"}",
        1.0,
    );

    // curl with and without the client certificate.
    let ca_file = ca.write(&s.0, "ca.pem");
    let url = format!("https://localhost:{}/curl", gw.port);
    let base = ["--cacert", ca_file.to_str().unwrap(), "--resolve"];
    let r = resolve("localhost", &gw);
    let (ok, body, err) = curl(&[
        base[0],
        base[1],
        base[2],
        &r,
        "--cert",
        known_cert.to_str().unwrap(),
        "--key",
        known_key.to_str().unwrap(),
        &url,
    ]);
    assert!(ok, "{err}");
    assert_eq!(body, "ok /curl");
    let (ok, _, _) = curl(&[base[0], base[1], base[2], &r, &url]);
    assert!(!ok, "curl without a certificate got in");
    assert_eq!(
        up.requests().iter().filter(|q| q.target == "/curl").count(),
        1
    );
}

#[test]
fn mtls_optional_lets_a_client_without_a_certificate_in_but_not_a_stranger() {
    let s = Scratch::new("mtls-optional");
    let ca = Ca::new("server CA");
    let clients = Ca::new("client CA");
    let strangers = Ca::new("stranger CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let client_ca = clients.write(&s.0, "clients.pem");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!(
            "certificates = [{}]\nclient_ca = \"{}\"\nclient_auth = \"optional\"",
            pair(&leaf),
            client_ca.display()
        ),
        &up.addr.to_string(),
        "",
    ));
    for (identity, admitted) in [
        (None, true),
        (Some(clients.client("alice")), true),
        (Some(strangers.client("mallory")), false),
    ] {
        let got = TlsConn::connect(
            &gw.addr(),
            "localhost",
            client_config(&ca.pem(), identity.as_ref()),
        )
        .ok()
        .and_then(|mut c| c.get("/o"))
        .map(|r| r.status);
        assert_eq!(
            got == Some(200),
            admitted,
            "identity given: {}",
            identity.is_some()
        );
    }
}

#[test]
fn a_client_that_says_nothing_is_closed_at_the_handshake_timeout() {
    let s = Scratch::new("timeout");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!(
            "certificates = [{}]\nhandshake_timeout = \"300ms\"",
            pair(&leaf)
        ),
        &up.addr.to_string(),
        "",
    ));
    // Gateway::start's readiness probe connected and left: one `closed` failure.
    metric_at_least(
        &gw,
        "tollgate_tls_handshake_failures_total{reason=\"closed\"}",
        1.0,
    );

    let mut silent = TcpStream::connect(gw.addr()).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 64];
    let n = std::io::Read::read(&mut silent, &mut buf);
    let took = t0.elapsed();
    assert!(
        matches!(n, Ok(0))
            || matches!(&n, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "expected the gateway to close the connection, got {n:?} after {took:?}"
    );
    assert!(
        took >= Duration::from_millis(250),
        "closed too early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "closed too late: {took:?}"
    );
    metric_at_least(
        &gw,
        "tollgate_tls_handshake_failures_total{reason=\"timeout\"}",
        1.0,
    );

    // Plain HTTP to the TLS port: closed at once, counted as not TLS.
    let r = exchange(&gw.addr(), b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(r.is_none(), "plain HTTP got an answer: {r:?}");
    metric_at_least(
        &gw,
        "tollgate_tls_handshake_failures_total{reason=\"not_tls\"}",
        1.0,
    );
    assert_eq!(up.request_count(), 0);
}

#[test]
fn a_renewed_certificate_is_served_after_sighup_and_open_connections_keep_working() {
    let s = Scratch::new("renew");
    let ca = Ca::new("test CA");
    let old = ca.server("gateway", &["localhost"], 1);
    let files = old.write(&s.0, "leaf");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!("certificates = [{}]", pair(&files)),
        &up.addr.to_string(),
        "",
    ));
    let cfg = client_config(&ca.pem(), None);
    let mut open = TlsConn::connect(&gw.addr(), "localhost", cfg.clone()).unwrap();
    assert_eq!(open.get("/before").unwrap().status, 200);
    assert!(open.peer_cert() == old.der);

    // Renewal: a new certificate (another serial, the same name) in the same files.
    let new = ca.server("gateway", &["localhost"], 2);
    new.write(&s.0, "leaf");
    gw.signal(libc::SIGHUP);
    wait_for(
        Duration::from_secs(5),
        "the renewed certificate served",
        || {
            TlsConn::connect(&gw.addr(), "localhost", cfg.clone())
                .map(|c| c.peer_cert() == new.der)
                .unwrap_or(false)
        },
    );
    // The connection opened before the reload is still served, on its old session.
    assert_eq!(
        open.get("/after")
            .expect("the old connection still works")
            .status,
        200
    );
    assert!(open.peer_cert() == old.der);
}

#[test]
fn a_bad_certificate_file_makes_the_reload_fail_with_its_line_and_the_old_one_stays() {
    let s = Scratch::new("bad-reload");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost"], 1);
    let files = leaf.write(&s.0, "leaf");
    let up = Upstream::ok();
    let gw = Gateway::start(&config(
        &format!("certificates = [{}]", pair(&files)),
        &up.addr.to_string(),
        "",
    ));
    std::fs::write(&files.1, "not a key\n").unwrap();
    let admin = format!("127.0.0.1:{}", gw.admin_port);
    let r = exchange(
        &admin,
        b"POST /reload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    )
    .expect("admin answer");
    assert_eq!(r.status, 400, "{}", r.text());
    let text = r.text();
    // The [listeners.tls] table's certificates line: line 9 of the config above.
    let at = format!("{}:9:", gw.config_path.display());
    assert!(text.contains(&at), "no file:line in {text:?}");
    assert!(text.contains("certificates[0].key"), "{text}");
    assert!(text.contains("holds no private key"), "{text}");
    // The old certificate and key are still in use.
    let c = TlsConn::connect(&gw.addr(), "localhost", client_config(&ca.pem(), None)).unwrap();
    assert!(c.peer_cert() == leaf.der);
    // A missing file, through SIGHUP this time: refused, and logged with the path.
    std::fs::remove_file(&files.0).unwrap();
    gw.signal(libc::SIGHUP);
    wait_for(Duration::from_secs(3), "the refusal logged", || {
        gw.log().contains("config reload refused") && gw.log().contains("leaf.crt")
    });
    let page = metrics(&gw);
    assert_eq!(
        metric(&page, "tollgate_config_reloads_total{result=\"failed\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&page, "tollgate_config_reloads_total{result=\"ok\"}"),
        Some(0.0)
    );
}

#[test]
fn check_reads_relative_paths_from_the_config_dir_and_names_the_line_of_a_bad_one() {
    let s = Scratch::new("check");
    let ca = Ca::new("test CA");
    ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let write = |cert: &str| {
        let text = format!(
            "[[listeners]]\nlisten = \"127.0.0.1:8443\"\n[listeners.tls]\ncertificates = [{{ cert = \"{cert}\", key = \"leaf.key\" }}]\n"
        );
        let path = s.path("tollgate.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let run = |path: &Path| {
        // From another directory: relative paths count from the config file's.
        Command::new(bin("tollgate"))
            .args(["check", "-c"])
            .arg(path)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap()
    };
    let out = run(&write("leaf.crt"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&s.path("leaf.crt").display().to_string()),
        "{stdout}"
    );

    let path = write("missing.crt");
    let out = run(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let at = format!("{}:4:", path.display());
    assert!(stderr.contains(&at), "{stderr}");
    assert!(
        stderr.contains("listeners[0].tls.certificates[0].cert"),
        "{stderr}"
    );
    assert!(stderr.contains("missing.crt"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// Upstream
// ---------------------------------------------------------------------------------------

/// tollgate-mock with a self-signed certificate for localhost, 127.0.0.1 and ::1, its
/// PEM written to `pem`.
fn tls_mock(pem: &Path, extra: &[&str]) -> Mock {
    let mut args = vec!["--tls-self-signed", "--tls-cert-out", pem.to_str().unwrap()];
    args.extend_from_slice(extra);
    Mock::start(&args)
}

#[test]
fn tls_to_an_upstream_is_verified_with_its_ca_file_pooled_and_resumed() {
    let s = Scratch::new("up");
    let pem = s.path("mock.pem");
    let mock = tls_mock(&pem, &[]);
    // The endpoint's host (127.0.0.1) is the name verified: the mock's certificate
    // carries that IP.
    let gw = Gateway::start(&upstream_tls_config(
        &mock.addr.to_string(),
        &format!("ca_file = \"{}\"", pem.display()),
        "",
    ));
    for i in 0..3 {
        let r = get(&gw.addr(), &format!("/r{i}"));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Three requests, one TLS connection (pooled).
    assert_eq!(mock.stats()["tls_handshakes"], 1, "{}", mock.stats());
    let page = metrics(&gw);
    assert_eq!(
        metric(&page, "tollgate_upstream_connects_total{cluster=\"up\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&page, "tollgate_upstream_reuses_total{cluster=\"up\"}"),
        Some(2.0)
    );

    // With sni = "localhost" and no pooling, every request has its own connection and
    // the ones after the first resume the session.
    let gw = Gateway::start(&upstream_tls_config(
        &mock.addr.to_string(),
        &format!("ca_file = \"{}\"\nsni = \"localhost\"", pem.display()),
        "[clusters.pool]\nmax_idle = 0",
    ));
    let before = mock.stats();
    for i in 0..3 {
        assert_eq!(get(&gw.addr(), &format!("/s{i}")).status, 200);
    }
    let after = mock.stats();
    let delta = |k: &str| after[k].as_u64().unwrap() - before[k].as_u64().unwrap();
    assert_eq!(delta("tls_handshakes"), 3, "{after}");
    assert!(
        delta("tls_resumed") >= 2,
        "sessions were not resumed: {after}"
    );
}

#[test]
fn an_upstream_certificate_that_does_not_verify_is_a_502() {
    let s = Scratch::new("up-bad");
    let pem = s.path("mock.pem");
    let mock = tls_mock(&pem, &[]);
    let other = Ca::new("other CA").write(&s.0, "other.pem");
    let gw = Gateway::start(&upstream_tls_config(
        &mock.addr.to_string(),
        &format!("ca_file = \"{}\"", other.display()),
        "",
    ));
    let r = get(&gw.addr(), "/x");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(
        r.text().contains("upstream TLS handshake failed"),
        "{}",
        r.text()
    );
    let page = metrics(&gw);
    assert!(
        metric(
            &page,
            "tollgate_upstream_tls_failures_total{cluster=\"up\"}"
        ) >= Some(1.0)
    );
    assert_eq!(mock.stats()["tls_handshakes"], 0);

    // The Mozilla roots (no ca_file) do not know a self-signed certificate either.
    let gw = Gateway::start(&upstream_tls_config(
        &mock.addr.to_string(),
        "sni = \"localhost\"",
        "",
    ));
    assert_eq!(get(&gw.addr(), "/y").status, 502);

    // Verification off takes both keys; then the same certificate is accepted.
    let gw = Gateway::start(&upstream_tls_config(
        &mock.addr.to_string(),
        "verify = false\ninsecure_skip_verify = true",
        "",
    ));
    assert_eq!(get(&gw.addr(), "/z").status, 200);
}

// ---------------------------------------------------------------------------------------
// Both sides
// ---------------------------------------------------------------------------------------

#[test]
fn a_websocket_tunnel_runs_over_tls_on_both_sides() {
    let s = Scratch::new("ws");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    let pem = s.path("mock.pem");
    let mock = tls_mock(&pem, &[]);
    let gw = Gateway::start(&config(
        &format!("certificates = [{}]", pair(&leaf)),
        &mock.addr.to_string(),
        &format!("[clusters.tls]\nca_file = \"{}\"", pem.display()),
    ));
    let mut c = TlsConn::connect(&gw.addr(), "localhost", client_config(&ca.pem(), None)).unwrap();
    c.send(b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    let r = c.read_response("GET").expect("the 101");
    assert_eq!(r.status, 101, "{r:?}");
    // Bytes both ways through two TLS sessions; larger than one TLS record.
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
    c.send(&payload);
    let mut got = Vec::new();
    let mut tmp = [0u8; 16 * 1024];
    while got.len() < payload.len() {
        let n = c.read_some(&mut tmp).expect("echo within 5 s");
        assert!(n > 0, "tunnel closed after {} bytes", got.len());
        got.extend_from_slice(&tmp[..n]);
    }
    assert!(got == payload, "the echo came back changed");
}

#[test]
fn an_llm_stream_over_tls_notices_the_client_leaving() {
    let s = Scratch::new("llm");
    let ca = Ca::new("test CA");
    let leaf = ca.server("gateway", &["localhost"], 1).write(&s.0, "leaf");
    // Two words at once, then a long pause: only a watch on the client connection (not
    // a failed write of the next event) can notice the client leaving in the pause.
    let up = Upstream::start(move |_| {
        let mut p = openai_stream(
            &[" w0", " w1", " w2", " w3"],
            Some((9, 4)),
            Duration::from_millis(10),
        );
        p.pieces[3].0 = Duration::from_secs(4);
        Reply::Paced(p)
    });
    let gw = Gateway::start(&openai_gateway_config(
        &format!("[listeners.tls]\ncertificates = [{}]", pair(&leaf)),
        up.addr,
    ));
    let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let mut c = TlsConn::connect(&gw.addr(), "localhost", client_config(&ca.pem(), None)).unwrap();
    c.send(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let mut seen = Vec::new();
    let mut tmp = [0u8; 4096];
    while String::from_utf8_lossy(&seen)
        .matches("\"content\":\" w")
        .count()
        < 2
    {
        let n = c.read_some(&mut tmp).expect("stream bytes within 5 s");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&tmp[..n]);
    }
    assert!(
        seen.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&seen)
    );
    let closed = Instant::now();
    c.close();
    let end = up.first_stream_end(Duration::from_secs(3));
    assert_eq!(end.outcome, StreamOutcome::PeerGone, "{end:?}");
    assert_eq!(end.sent, 3, "the stream ran on: {end:?}");
    let took = end.at.saturating_duration_since(closed);
    assert!(
        took < Duration::from_millis(500),
        "noticed {took:?} after the client left"
    );
}
