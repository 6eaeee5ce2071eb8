//! TLS end to end: tollgate-load over TLS against tollgate-mock (self-signed certificate
//! made at start, or PEM files), HTTP/1.1 and h2 chosen by ALPN, the certificate verified
//! with `--cacert` (no `--insecure`), handshakes and resumption counted, and a wrong CA
//! counted as `tls` errors.

mod common;

use std::path::PathBuf;

use common::{check_counts, load, Mock};
use serde_json::Value;

/// A file removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A mock with `--tls-self-signed`; its certificate is written to the returned file.
fn tls_mock(extra: &[&str]) -> (Mock, TempFile) {
    let pem = temp("cert.pem");
    let pem_s = pem.to_string_lossy().into_owned();
    let mut args = vec!["--tls-self-signed", "--tls-cert-out", &pem_s];
    args.extend_from_slice(extra);
    let mock = Mock::start(&args);
    (mock, TempFile(pem))
}

fn temp(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("tollgate-tls-{}-{n}-{name}", std::process::id()))
}

fn https(mock: &Mock, host: &str, path: &str) -> String {
    format!("https://{host}:{}{path}", mock.port)
}

fn tls(r: &Value) -> &Value {
    assert!(r["tls"].is_object(), "no tls section: {r}");
    &r["tls"]
}

/// Runs tollgate-load over TLS trusting `ca`; returns the report.
fn run(url: &str, ca: &TempFile, extra: &[&str]) -> Value {
    let ca = ca.0.to_string_lossy().into_owned();
    let mut args = vec!["--url", url, "--cacert", &ca, "--threads", "1"];
    args.extend_from_slice(extra);
    let (ok, err, r) = load(&args);
    assert!(ok, "{err}");
    check_counts(&r);
    r
}

#[test]
fn http11_over_tls_with_the_generated_ca() {
    let (mock, ca) = tls_mock(&[]);
    let r = run(
        &https(&mock, "127.0.0.1", "/"),
        &ca,
        &["-c", "4", "-d", "1s"],
    );
    assert_eq!(r["errors_total"], 0, "{r}");
    assert!(r["ok"].as_u64().unwrap() > 20, "{r}");
    assert_eq!(r["meta"]["protocol"], "http/1.1");
    assert_eq!(r["meta"]["tls"]["verified"], true);
    let t = tls(&r);
    assert_eq!(t["handshakes"], r["connections_opened"]);
    assert_eq!(t["alpn"]["http/1.1"], t["handshakes"]);
    assert_eq!(t["failed"], 0);
    assert!(t["handshake_us"]["p50"].as_u64().unwrap() > 0);
    assert!(t["handshakes_per_s"].as_f64().unwrap() > 0.0);
    // The same port still answers cleartext (the stats request) and saw the handshakes.
    let stats = mock.stats();
    assert_eq!(stats["tls_handshakes"], t["handshakes"]);
    assert_eq!(stats["requests"], r["sent"]);
}

#[test]
fn h2_over_tls_is_negotiated_with_alpn() {
    let (mock, ca) = tls_mock(&["--threads", "2"]);
    let url = https(&mock, "localhost", "/x");
    let r = run(
        &url,
        &ca,
        &["--h2", "--streams", "4", "-c", "2", "-n", "400"],
    );
    assert_eq!(
        (r["ok"].as_u64(), r["sent"].as_u64()),
        (Some(400), Some(400))
    );
    assert_eq!(r["meta"]["protocol"], "h2");
    assert_eq!(r["connections_opened"], 2);
    assert_eq!(tls(&r)["alpn"]["h2"], 2);
    assert_eq!(mock.stats()["requests"], 400);
    // Offering both without --h2: the probe sees the server pick h2, the run speaks h2.
    let r = run(&url, &ca, &["--alpn", "h2,http/1.1", "-c", "1", "-n", "20"]);
    assert_eq!(r["ok"], 20);
    assert_eq!(r["meta"]["protocol"], "h2");
    assert_eq!(
        r["meta"]["tls"]["alpn_offered"],
        serde_json::json!(["h2", "http/1.1"])
    );
}

#[test]
fn resumption_saves_full_handshakes_with_close() {
    let (mock, ca) = tls_mock(&[]);
    let url = https(&mock, "127.0.0.1", "/");
    let common = ["--close", "-c", "2", "-n", "60"];
    let on = run(&url, &ca, &common);
    assert_eq!(on["ok"], 60, "{on}");
    let t = tls(&on);
    assert_eq!(t["handshakes"], 60);
    // Only the first connection of each of the 2 tasks has no ticket yet.
    assert!(t["full"].as_u64().unwrap() <= 4, "{t}");
    assert!(t["resumed"].as_u64().unwrap() >= 56, "{t}");
    assert!(t["resumed_handshake_us"]["count"].as_u64().unwrap() >= 56);
    let mut off_args = common.to_vec();
    off_args.push("--no-resume");
    let off = run(&url, &ca, &off_args);
    let t = tls(&off);
    assert_eq!(
        (t["full"].as_u64(), t["resumed"].as_u64()),
        (Some(60), Some(0))
    );
    assert_eq!(off["meta"]["tls"]["resumption"], false);
    let stats = mock.stats();
    assert_eq!(stats["tls_handshakes"], 120);
    assert!(stats["tls_resumed"].as_u64().unwrap() >= 56, "{stats}");
}

#[test]
fn a_wrong_ca_is_a_tls_error() {
    let (mock, _) = tls_mock(&[]);
    let (_other, other_ca) = tls_mock(&[]);
    let ca = other_ca.0.to_string_lossy().into_owned();
    let url = https(&mock, "127.0.0.1", "/");
    let (ok, err, r) = load(&["--url", &url, "--cacert", &ca, "-c", "2", "-n", "10"]);
    assert!(ok, "{err}");
    check_counts(&r);
    assert_eq!((r["sent"].as_u64(), r["ok"].as_u64()), (Some(10), Some(0)));
    assert_eq!(r["errors"]["tls"], 10, "{r}");
    assert_eq!(r["errors"]["connect"], 0);
    let t = tls(&r);
    assert_eq!(
        (t["handshakes"].as_u64(), t["failed"].as_u64()),
        (Some(0), Some(10))
    );
    let why = t["first_error"].as_str().unwrap_or_default();
    assert!(why.contains("UnknownIssuer"), "{why}");
    assert_eq!(mock.stats()["requests"], 0);
}

#[test]
fn pem_files_tls12_and_streams() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (TempFile(temp("leaf.pem")), TempFile(temp("leaf.key")));
    std::fs::write(&cert.0, ck.cert.pem()).unwrap();
    std::fs::write(&key.0, ck.key_pair.serialize_pem()).unwrap();
    let (cert_s, key_s) = (cert.0.to_string_lossy(), key.0.to_string_lossy());
    let mock = Mock::start(&["--tls-cert", &cert_s, "--tls-key", &key_s]);
    // TLS 1.2, a handshake per request, resumed from TLS 1.2 session tickets.
    let url = https(&mock, "localhost", "/");
    let r = run(
        &url,
        &cert,
        &["--tls-version", "1.2", "--close", "-c", "1", "-n", "20"],
    );
    let t = tls(&r);
    assert_eq!(r["ok"], 20);
    assert_eq!(t["versions"]["TLSv1.2"], 20);
    assert!(t["resumed"].as_u64().unwrap() >= 18, "{t}");
    // An LLM event stream inside TLS.
    let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let url = https(&mock, "localhost", "/v1/chat/completions");
    let r = run(&url, &cert, &["-c", "1", "-n", "3", "--body", body]);
    assert_eq!(r["ok"], 3, "{r}");
    assert_eq!(r["sse"]["finished"], 3, "{r}");
    assert!(r["sse"]["token_events"].as_u64().unwrap() >= 3 * 16);
    // The host must match the certificate: 127.0.0.1 is not in this one.
    let (ok, _, r) = load(&[
        "--url",
        &https(&mock, "127.0.0.1", "/"),
        "--cacert",
        &cert_s,
        "-n",
        "2",
        "-c",
        "1",
    ]);
    assert!(ok);
    assert_eq!(r["errors"]["tls"], 2, "{r}");
}
