//! tollgate-load against the real tollgate-mock: counts add up, modes work, files are valid,
//! and each fault produces the error kind it should.

mod common;

use common::{check_counts, load, Mock};

#[test]
fn closed_loop_counts_add_up_and_files_are_written() {
    let mock = Mock::start(&[]);
    let html = std::env::temp_dir().join(format!("tollgate-load-e2e-{}.html", std::process::id()));
    let html_s = html.to_string_lossy().into_owned();
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/"),
        "-c",
        "4",
        "-d",
        "1s",
        "--threads",
        "1",
        "--html",
        &html_s,
    ]);
    assert!(ok, "{err}");
    check_counts(&r);
    assert!(r["ok"].as_u64().unwrap() > 100, "{r}");
    assert_eq!(r["errors_total"], 0);
    assert!(r["latency_us"]["p99"].as_u64().unwrap() > 0);
    assert!(!r["per_second"].as_array().unwrap().is_empty());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("polyline"));
    let _ = std::fs::remove_file(&html);
    // Keep-alive: the mock saw exactly the connections the load generator opened.
    let stats = mock.stats();
    assert_eq!(stats["connections"], r["connections_opened"]);
    assert_eq!(stats["requests"], r["sent"]);
}

#[test]
fn request_count_is_exact() {
    let mock = Mock::start(&["--threads", "2"]);
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/x"),
        "-c",
        "3",
        "-n",
        "201",
        "--body",
        "hello",
    ]);
    assert!(ok, "{err}");
    check_counts(&r);
    assert_eq!(r["sent"], 201);
    assert_eq!(r["ok"], 201);
    assert_eq!(mock.stats()["requests"], 201);
}

#[test]
fn new_connection_per_request() {
    let mock = Mock::start(&[]);
    let (ok, err, r) = load(&["--url", &mock.url("/"), "-c", "2", "-n", "40", "--close"]);
    assert!(ok, "{err}");
    check_counts(&r);
    assert_eq!(r["ok"], 40);
    assert_eq!(r["connections_opened"], 40);
}

#[test]
fn open_loop_keeps_the_rate() {
    let mock = Mock::start(&[]);
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/"),
        "-c",
        "8",
        "-d",
        "1s",
        "--rate",
        "200",
    ]);
    assert!(ok, "{err}");
    check_counts(&r);
    let sent = r["sent"].as_u64().unwrap();
    assert!((190..=201).contains(&sent), "sent {sent}");
    let ol = &r["open_loop"];
    assert_eq!(ol["target_rate"], 200.0);
    assert!(ol["service_us"]["count"].as_u64().unwrap() > 0);
}

#[test]
fn open_loop_latency_counts_from_the_intended_time() {
    // Every answer takes 100 ms and only one connection may be open: at 50 req/s the
    // queue grows, and latency from the intended send time must show it.
    let mock = Mock::start(&["--delay-ms", "100"]);
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/"),
        "-c",
        "1",
        "-d",
        "1s",
        "--rate",
        "50",
        "--drain",
        "0s",
    ]);
    assert!(ok, "{err}");
    check_counts(&r);
    let ol = &r["open_loop"];
    assert_eq!(ol["kept_up"], false, "{r}");
    let latency_p90 = r["latency_us"]["p90"].as_u64().unwrap();
    let service_p90 = ol["service_us"]["p90"].as_u64().unwrap();
    assert!(
        latency_p90 > 3 * service_p90,
        "latency {latency_p90} service {service_p90}"
    );
    assert!(r["errors"]["unfinished"].as_u64().unwrap() > 0);
}

#[test]
fn refuses_non_loopback_targets() {
    let (ok, err, _) = load(&["--url", "http://10.1.2.3:80/", "-n", "1"]);
    assert!(!ok);
    assert!(err.contains("not loopback"), "{err}");
    let (ok, err, _) = load(&["--url", "http://127.0.0.1:1/"]);
    assert!(!ok);
    assert!(err.contains("-d"), "{err}");
}

fn fault_run(mock: &Mock, path: &str, fault: &str, extra: &[&str]) -> serde_json::Value {
    let header = format!("x-mock-fault: {fault}");
    let mut args = vec![
        "--url".to_string(),
        mock.url(path),
        "-c".into(),
        "1".into(),
        "-n".into(),
        "2".into(),
        "-H".into(),
        header,
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, err, r) = load(&args);
    assert!(ok, "{err}");
    check_counts(&r);
    r
}

const STREAM: &str = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

#[test]
fn each_fault_produces_its_error_kind() {
    let mock = Mock::start(&[]);
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("/", "429", &[], "status_4xx"),
        ("/", "500", &[], "status_5xx"),
        ("/", "503", &[], "status_5xx"),
        (
            "/v1/chat/completions",
            "429",
            &["--body", STREAM],
            "status_4xx",
        ),
        ("/", "hang", &["--timeout", "300ms"], "timeout"),
        ("/", "reset-mid-stream", &[], "reset"),
        (
            "/v1/chat/completions",
            "reset-mid-stream",
            &["--body", STREAM],
            "reset",
        ),
        (
            "/v1/messages",
            "reset-mid-stream",
            &["--body", STREAM],
            "reset",
        ),
        (
            "/v1/chat/completions",
            "error-event",
            &["--body", STREAM],
            "stream_error",
        ),
        (
            "/v1/messages",
            "error-event",
            &["--body", STREAM],
            "stream_error",
        ),
    ];
    for (path, fault, extra, kind) in cases {
        let r = fault_run(&mock, path, fault, extra);
        assert_eq!(r["errors"][*kind], 2, "{path} {fault}: {r}");
        assert_eq!(r["errors_total"], 2, "{path} {fault}: {r}");
    }
    // Slow drip still completes.
    let r = fault_run(
        &mock,
        "/",
        "slow-drip",
        &["-H", "x-mock-drip-ms: 1", "-H", "x-mock-body-size: 10"],
    );
    assert_eq!(r["ok"], 2, "{r}");
}

#[test]
fn connection_refused_is_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/");
    let (ok, err, r) = load(&["--url", &url, "-c", "1", "-n", "3"]);
    assert!(ok, "{err}");
    check_counts(&r);
    assert_eq!(r["errors"]["connect"], 3, "{r}");
}

#[test]
fn h2c_streams_share_connections() {
    let mock = Mock::start(&[]);
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/"),
        "--h2",
        "--streams",
        "8",
        "-c",
        "2",
        "-n",
        "400",
        "--body",
        "x",
    ]);
    assert!(ok, "{err}");
    check_counts(&r);
    assert_eq!(r["ok"], 400, "{r}");
    assert_eq!(r["meta"]["protocol"], "h2c");
    assert_eq!(r["connections_opened"], 2);
    let stats = mock.stats();
    assert_eq!(stats["requests"], 400);
    assert_eq!(stats["connections"], 2);
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/"),
        "--h2",
        "-c",
        "1",
        "-n",
        "3",
        "-H",
        "x-mock-fault: reset-mid-stream",
    ]);
    assert!(ok, "{err}");
    assert_eq!(r["errors"]["reset"], 3, "{r}");
    let (ok, err, r) = load(&[
        "--url",
        &mock.url("/"),
        "--h2",
        "-c",
        "1",
        "-n",
        "2",
        "-H",
        "x-mock-fault: 503",
    ]);
    assert!(ok, "{err}");
    assert_eq!(r["errors"]["status_5xx"], 2, "{r}");
}

#[test]
fn epoll_driver_works_too() {
    let mock = Mock::start(&["--epoll"]);
    let (ok, err, r) = load(&["--url", &mock.url("/"), "-c", "2", "-n", "100", "--epoll"]);
    assert!(ok, "{err}");
    check_counts(&r);
    assert_eq!(r["ok"], 100);
    assert_eq!(r["meta"]["driver"], "epoll");
    assert_eq!(mock.stats()["driver"], "epoll");
}
