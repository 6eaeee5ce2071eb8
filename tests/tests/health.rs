//! End-to-end: endpoint health. Passive health ejects an endpoint after consecutive
//! failures (here 5xx answers); active health checks take an endpoint whose check path
//! fails out of rotation. Traffic is counted at each recording upstream, so "the bad
//! endpoint gets no more requests" is observed, not inferred.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_tests::client::get;
use tollgate_tests::{Gateway, Recorded, Reply, Upstream};

/// One worker, one round-robin cluster `up` over `a` and `b` with extra cluster keys.
fn config(a: &Upstream, b: &Upstream, cluster: &str) -> String {
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
endpoints = ["{}", "{}"]
{cluster}
[[routes]]
name = "all"
upstream = "up"
"#,
        a.addr, b.addr
    )
}

/// Requests an upstream got that were not health checks.
fn traffic(up: &Upstream) -> usize {
    up.requests()
        .iter()
        .filter(|r: &&Recorded| r.header("user-agent") != Some("tollgate-health"))
        .count()
}

#[test]
fn passive_health_ejects_an_endpoint_answering_5xx() {
    let bad = Upstream::start(|_| Reply::Full(500, vec![], b"broken".to_vec()));
    let good = Upstream::start(|_| Reply::Full(200, vec![], b"good".to_vec()));
    let gw = Gateway::start(&config(
        &bad,
        &good,
        "passive_health = { consecutive_failures = 2, count_5xx = true, base_ejection = \"5s\" }",
    ));
    // Round robin: the bad endpoint gets every other request until its second 500.
    let mut fives = 0;
    for _ in 0..6 {
        match get(&gw.addr(), "/").status {
            200 => {}
            500 => fives += 1,
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(fives, 2, "ejected after exactly two consecutive failures");
    assert_eq!(bad.request_count(), 2);
    for _ in 0..10 {
        assert_eq!(get(&gw.addr(), "/").status, 200);
    }
    assert_eq!(bad.request_count(), 2, "no traffic to the ejected endpoint");
    assert_eq!(good.request_count(), 14);
    assert!(gw
        .log()
        .contains("endpoint ejected after consecutive failures"));
}

/// Failures that were already in flight when the endpoint was ejected are the same
/// outage: they must not re-eject it (each time for twice as long).
#[test]
fn passive_health_does_not_escalate_on_failures_already_in_flight() {
    // The bad endpoint answers none of its six requests before all six have arrived
    // (each connection has its own thread here), so no failure can be reported before
    // round robin has placed all twelve.
    let arrived = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = arrived.clone();
    let bad = Upstream::start(move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
        let t0 = Instant::now();
        while seen.load(Ordering::SeqCst) < 6 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Reply::Full(500, vec![], b"broken".to_vec())
    });
    let good = Upstream::start(|_| Reply::Full(200, vec![], b"good".to_vec()));
    let gw = Gateway::start(&config(
        &bad,
        &good,
        "passive_health = { consecutive_failures = 2, count_5xx = true, base_ejection = \"5s\" }",
    ));
    // Twelve at once: round robin puts six on the bad endpoint, which answers them 500
    // together. The first two eject it; the other four fail while it is ejected.
    let addr = gw.addr();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|_| s.spawn(|| get(&addr, "/").status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&s| s == 500).count(),
        6,
        "{statuses:?}"
    );
    assert_eq!(bad.request_count(), 6);
    let log = gw.log();
    let ejections: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("endpoint ejected after consecutive failures"))
        .collect();
    assert_eq!(
        ejections.len(),
        1,
        "one ejection for one outage: {ejections:#?}"
    );
    assert!(ejections[0].contains("for_ms=5000"), "{}", ejections[0]);
    for _ in 0..6 {
        assert_eq!(get(&gw.addr(), "/").status, 200);
    }
    assert_eq!(bad.request_count(), 6, "no traffic to the ejected endpoint");
}

#[test]
fn active_health_check_takes_a_failing_endpoint_out_of_rotation() {
    let failing = Arc::new(AtomicBool::new(false));
    let f = failing.clone();
    let sick = Upstream::start(move |r| {
        if r.target == "/health" && f.load(Ordering::SeqCst) {
            Reply::Full(503, vec![], b"down".to_vec())
        } else {
            Reply::Full(200, vec![], b"sick".to_vec())
        }
    });
    let well = Upstream::start(|_| Reply::Full(200, vec![], b"well".to_vec()));
    let gw = Gateway::start(&config(
        &sick,
        &well,
        "health_check = { path = \"/health\", interval = \"100ms\", timeout = \"100ms\", \
         unhealthy_threshold = 1 }",
    ));
    // While its checks pass, the endpoint takes its share.
    for _ in 0..4 {
        assert_eq!(get(&gw.addr(), "/").status, 200);
    }
    assert_eq!(traffic(&sick), 2);

    // Its check starts failing. Poll: batches of four requests until none reaches it
    // (round robin sends it two of every four while it is in rotation).
    failing.store(true, Ordering::SeqCst);
    let t0 = Instant::now();
    loop {
        let before = traffic(&sick);
        for _ in 0..4 {
            assert_eq!(get(&gw.addr(), "/").status, 200);
        }
        if traffic(&sick) == before {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the sick endpoint still gets traffic after {:?}",
            t0.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(1200), "{took:?}");
    let before = traffic(&sick);
    for _ in 0..10 {
        assert_eq!(get(&gw.addr(), "/").text(), "well");
    }
    assert_eq!(
        traffic(&sick),
        before,
        "traffic came back to the sick endpoint"
    );
    assert!(gw.log().contains("health check: endpoint down"));
}
