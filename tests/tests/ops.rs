//! End-to-end: operating the gateway. SIGHUP and the admin `POST /reload` swap in a
//! valid config within a tick or two and refuse an invalid one (old config kept, the
//! refusal logged); connections and requests in flight live through a reload. SIGTERM
//! drains: the request in flight gets its response, new connections are refused, idle
//! ones are closed, and the process exits 0 within `runtime.drain_timeout`.
//!
//! Every wait polls against a deadline; nothing sleeps for a fixed long time.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use tollgate_tests::client::{exchange, get, Conn, Response};
use tollgate_tests::{Gateway, Reply, Upstream};

/// One worker; `/v` answered directly with `body`; `extra_routes` next; everything
/// else proxied to `up`.
fn config(up: &Upstream, runtime: &str, body: &str, extra_routes: &str) -> String {
    format!(
        r#"
[runtime]
workers = 1
{runtime}
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[[clusters]]
name = "up"
endpoints = ["{}"]
[[routes]]
name = "v"
match = {{ path = "/v" }}
respond = {{ body = "{body}" }}
{extra_routes}
[[routes]]
name = "all"
upstream = "up"
"#,
        up.addr
    )
}

const NEW_ROUTE: &str = r#"
[[routes]]
name = "new"
match = { path = "/new" }
respond = { body = "fresh" }
"#;

/// Refers to a cluster that does not exist: fails validation.
const BROKEN: &str = r#"
[[routes]]
name = "broken"
upstream = "nowhere"
"#;

fn admin(gw: &Gateway, method: &str, path: &str) -> Response {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    exchange(&format!("127.0.0.1:{}", gw.admin_port), req.as_bytes()).expect("admin answer")
}

/// Polls `cond` every 10 ms until it holds; panics with `what` after `limit`. Returns
/// the time it took.
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    t0.elapsed()
}

#[test]
fn sighup_reloads_a_valid_file_and_refuses_an_invalid_one() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "", "one", ""));
    assert_eq!(get(&gw.addr(), "/v").text(), "one");
    assert_eq!(get(&gw.addr(), "/new").text(), "ok /new", "proxied before");

    gw.write_config(&config(&up, "", "two", NEW_ROUTE));
    gw.signal(libc::SIGHUP);
    // A reload reaches the worker on its next tick (50 ms); allow for a busy machine.
    wait_for(Duration::from_secs(1), "new config served", || {
        get(&gw.addr(), "/v").text() == "two"
    });
    assert_eq!(get(&gw.addr(), "/new").text(), "fresh");

    gw.write_config(&config(&up, "", "three", BROKEN));
    gw.signal(libc::SIGHUP);
    wait_for(Duration::from_secs(2), "refusal logged", || {
        gw.log().contains("config reload refused; old config kept")
    });
    assert!(gw.log().contains("nowhere"), "the log names the error");
    // Give a wrongly accepted config the time it would need to show, then check.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(get(&gw.addr(), "/v").text(), "two");
    assert_eq!(get(&gw.addr(), "/new").text(), "fresh");
    let metrics = admin(&gw, "GET", "/metrics").text();
    assert!(
        metrics.contains("tollgate_config_reloads_total{result=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_config_reloads_total{result=\"failed\"} 1"),
        "{metrics}"
    );
}

#[test]
fn admin_reload_applies_a_valid_file_and_refuses_an_invalid_one() {
    let up = Upstream::ok();
    let gw = Gateway::start(&config(&up, "", "one", ""));
    gw.write_config(&config(&up, "", "two", ""));
    let r = admin(&gw, "POST", "/reload");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().starts_with("reloaded: generation 2"),
        "{}",
        r.text()
    );
    wait_for(Duration::from_secs(1), "new config served", || {
        get(&gw.addr(), "/v").text() == "two"
    });

    gw.write_config(&config(&up, "", "three", BROKEN));
    let r = admin(&gw, "POST", "/reload");
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("reload refused, old config kept"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("nowhere"), "{}", r.text());
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(get(&gw.addr(), "/v").text(), "two");
    // /config shows the config in force, not the file.
    let shown = admin(&gw, "GET", "/config").text();
    assert!(shown.contains("body = \"two\""), "{shown}");
    assert!(!shown.contains("nowhere"), "{shown}");
}

#[test]
fn connections_and_requests_in_flight_live_through_a_reload() {
    let up = Upstream::start(|r| {
        let body = format!("ok {}", r.target).into_bytes();
        if r.target == "/slow" {
            Reply::Delay(
                Duration::from_millis(400),
                Box::new(Reply::Full(200, vec![], body)),
            )
        } else {
            Reply::Full(200, vec![], body)
        }
    });
    let gw = Gateway::start(&config(&up, "", "one", ""));
    let mut kept = Conn::open(&gw.addr());
    kept.send(b"GET /v HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(kept.read_response("GET").unwrap().text(), "one");

    let mut slow = Conn::open(&gw.addr());
    slow.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(Duration::from_secs(2), "slow request upstream", || {
        up.request_count() == 1
    });

    gw.write_config(&config(&up, "", "two", ""));
    gw.signal(libc::SIGHUP);
    wait_for(Duration::from_secs(1), "new config served", || {
        get(&gw.addr(), "/v").text() == "two"
    });
    let r = slow
        .read_response("GET")
        .expect("the request in flight finishes");
    assert_eq!((r.status, r.text()), (200, "ok /slow".to_string()));
    // The kept-alive connection serves its next request, on the new config.
    kept.send(b"GET /v HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = kept
        .read_response("GET")
        .expect("kept connection still served");
    assert_eq!((r.status, r.text()), (200, "two".to_string()));
    kept.send(b"GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(kept.read_response("GET").unwrap().text(), "ok /after");
}

#[test]
fn sigterm_drains_the_request_in_flight_and_exits_zero() {
    let up = Upstream::start(|r| {
        let body = format!("ok {}", r.target).into_bytes();
        if r.target == "/slow" {
            Reply::Delay(
                Duration::from_secs(1),
                Box::new(Reply::Full(200, vec![], body)),
            )
        } else {
            Reply::Full(200, vec![], body)
        }
    });
    let mut gw = Gateway::start(&config(&up, "drain_timeout = \"5s\"", "one", ""));
    let mut idle = Conn::open(&gw.addr());
    idle.send(b"GET /v HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(idle.read_response("GET").unwrap().status, 200);

    let addr = gw.addr();
    let client = std::thread::spawn(move || {
        let mut c = Conn::open(&addr);
        c.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.read_response("GET");
        (r, c.closed_within(Duration::from_secs(2)))
    });
    wait_for(Duration::from_secs(2), "request upstream", || {
        up.request_count() == 1
    });
    let t_sig = Instant::now();
    gw.signal(libc::SIGTERM);

    wait_for(Duration::from_secs(1), "/readyz turns 503", || {
        admin(&gw, "GET", "/readyz").status == 503
    });
    assert_eq!(
        admin(&gw, "GET", "/healthz").status,
        200,
        "alive while draining"
    );
    wait_for(Duration::from_secs(1), "new connections refused", || {
        TcpStream::connect(gw.addr()).is_err()
    });
    assert!(
        idle.closed_within(Duration::from_secs(1)),
        "idle keep-alive connection closed on drain"
    );

    let (r, closed) = client.join().unwrap();
    let r = r.expect("the request in flight gets its response");
    assert_eq!((r.status, r.text()), (200, "ok /slow".to_string()));
    assert!(closed, "the connection closes after its last response");
    assert_eq!(gw.wait_exit(Duration::from_secs(5)), Some(0));
    let took = t_sig.elapsed();
    assert!(took < Duration::from_secs(3), "exit took {took:?}");
    assert!(gw.log().contains("drained; exiting"));
}

#[test]
fn drain_timeout_bounds_the_exit_when_a_request_is_stuck() {
    let up = Upstream::start(|_| {
        Reply::Delay(
            Duration::from_secs(10),
            Box::new(Reply::Full(200, vec![], b"never".to_vec())),
        )
    });
    let mut gw = Gateway::start(&config(&up, "drain_timeout = \"300ms\"", "one", ""));
    let mut c = Conn::open(&gw.addr());
    c.send(b"GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for(Duration::from_secs(2), "request upstream", || {
        up.request_count() == 1
    });
    let t_sig = Instant::now();
    gw.signal(libc::SIGTERM);
    assert_eq!(gw.wait_exit(Duration::from_secs(3)), Some(0));
    let took = t_sig.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    assert!(gw.log().contains("drain timeout reached"));
    assert!(
        c.read_response("GET").is_none(),
        "the stuck request got no response"
    );
}

/// Out of descriptors, the accept loop retries every 10 ms: the warning comes once a
/// second (not a hundred times), every failure is counted in
/// `tollgate_accept_errors_total`, and the connections waiting in the backlog are served
/// once descriptors are free again.
#[test]
fn a_descriptor_shortage_warns_once_a_second_and_recovers() {
    let up = Upstream::start(|_| Reply::Full(200, vec![], b"up".to_vec()));
    let gw = Gateway::start(&config(&up, "", "v", ""));
    assert_eq!(get(&gw.addr(), "/v").status, 200);

    // Leave the gateway two descriptors more than it holds now; put its own soft
    // limit back at the end.
    let pid = gw.child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .expect("Max open files in /proc/PID/limits")
        .to_string();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let st = std::process::Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={}:", open + 2))
        .status()
        .expect("prlimit (util-linux)");
    assert!(st.success());

    // Eight idle keep-alive connections: two are accepted, the others wait in the
    // backlog while every accept fails with EMFILE.
    let conns: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(gw.addr()).unwrap())
        .collect();
    wait_for(Duration::from_secs(5), "an accept failure", || {
        gw.log().contains("accept failed")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let warnings = gw.log().matches("accept failed").count();
    assert!(
        (1..=3).contains(&warnings),
        "{warnings} warnings in ~1.5 s of failing accepts"
    );

    // Descriptors back: the backlog is drained and new requests are served.
    drop(conns);
    let _ = std::process::Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={soft}:"))
        .status();
    wait_for(Duration::from_secs(5), "a request served again", || {
        exchange(&gw.addr(), b"GET /v HTTP/1.1\r\nHost: a\r\n\r\n").is_some_and(|r| r.status == 200)
    });
    let failed = tollgate_tests::llm::metric(
        &tollgate_tests::llm::metrics(&gw),
        "tollgate_accept_errors_total",
    )
    .expect("tollgate_accept_errors_total on /metrics");
    // About 150 at one retry per 10 ms; a loaded machine stretches the retries.
    assert!(
        failed >= 20.0,
        "only {failed} failed accepts counted in ~1.5 s"
    );
}
