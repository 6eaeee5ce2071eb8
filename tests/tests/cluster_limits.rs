//! End-to-end: cluster mode. Two gateway instances (two workers each) and one real
//! `redis-server` (started here on a free loopback port, no persistence) share one
//! request limit: never more than `L` pass across both (costs known up front: exact),
//! Redis holds exactly what passed, and the rest of the budget is there to be taken.
//! Redis stopped mid-test applies the configured policy (fail closed: refused beyond
//! what the cores held; fail open: each core's local share), logged and in the metrics;
//! Redis restarted: sharing, and enforcement, resume.
//!
//! The over-admission bound checked is the documented one (README, "Cluster mode"):
//! `M` instances of `N` cores, `a_max = max(1, L / (N x share_divisor))`.
//!
//! Windows are an hour long; a test that would start within a minute of an hour's end
//! waits for the next hour, so no budget renews mid-test. Every wait is bounded.

#![allow(clippy::disallowed_types)] // load threads are plain threads

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tollgate_tests::client::{Conn, Response};
use tollgate_tests::llm::{metric, metrics};
use tollgate_tests::{Gateway, RedisServer};

const SECRET: &str = "00112233445566778899aabbccddeeff";
/// Instances and workers per instance.
const M: usize = 2;
const N: usize = 2;

/// `a_max = max(1, L / (N x share_divisor))`: what one core may hold at once.
fn a_max(limit: usize, share_divisor: usize) -> usize {
    (limit / (N * share_divisor)).max(1)
}

/// A gateway with two workers: route `api` answers `/api/` itself under one request
/// limit `rpm` of `limit` per hour, kept in `redis`; `fail` is `on_unavailable`.
fn config(redis: &RedisServer, limit: usize, share_divisor: usize, fail: &str) -> String {
    config_per(redis, limit, share_divisor, fail, "")
}

/// [`config`] with more keys for the limit (`per = ...`).
fn config_per(
    redis: &RedisServer,
    limit: usize,
    share_divisor: usize,
    fail: &str,
    limit_keys: &str,
) -> String {
    format!(
        r#"
[runtime]
workers = {N}
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
[[routes]]
name = "api"
match = {{ path_prefix = "/api/" }}
respond = {{ body = "ok" }}
[rate_limits.sync]
interval = "5ms"
share_divisor = {share_divisor}
on_unavailable = "{fail}"
[[rate_limits.limits]]
name = "rpm"
kind = "requests"
limit = {limit}
window = "1h"
routes = ["api"]
{limit_keys}
[rate_limits.redis]
address = "{addr}"
key_secret = "{SECRET}"
connect_timeout = "100ms"
call_timeout = "50ms"
"#,
        addr = redis.addr()
    )
}

fn away_from_window_edge() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let left = 3_600_000 - now % 3_600_000;
    if left < 60_000 {
        std::thread::sleep(Duration::from_millis(left + 100));
    }
}

fn get_on(c: &mut Conn, path: &str) -> Response {
    c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    c.read_response("GET").expect("a response")
}

/// What `total` requests got.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// 200
    ok: usize,
    /// 429: over the limit.
    limited: usize,
    /// 503: the limit cannot be checked (Redis down, fail closed).
    unavailable: usize,
}

impl Counts {
    fn refused(&self) -> usize {
        self.limited + self.unavailable
    }
}

/// Sends `total` requests spread over the gateways (4 threads each, 4 kept-alive
/// connections per thread, so both workers of each instance get some). Every refusal
/// carries `Retry-After`.
fn drive(gws: &[&Gateway], total: usize) -> Counts {
    let sent = Arc::new(AtomicUsize::new(0));
    let counts: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
    let mut threads = Vec::new();
    for gw in gws {
        for _ in 0..4 {
            let addr = gw.addr();
            let (sent, counts) = (sent.clone(), counts.clone());
            threads.push(std::thread::spawn(move || {
                let mut conns: Vec<Conn> = (0..4).map(|_| Conn::open(&addr)).collect();
                let mut i = 0;
                while sent.fetch_add(1, Ordering::Relaxed) < total {
                    let r = get_on(&mut conns[i % 4], "/api/x");
                    i += 1;
                    let slot = match r.status {
                        200 => 0,
                        429 => 1,
                        503 => 2,
                        s => panic!("status {s}: {r:?}"),
                    };
                    if slot > 0 {
                        assert!(r.header("retry-after").is_some(), "{r:?}");
                    }
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    let get = |i: usize| counts[i].load(Ordering::Relaxed);
    Counts {
        ok: get(0),
        limited: get(1),
        unavailable: get(2),
    }
}

/// The one budget key of `rpm` in Redis and what it holds.
fn taken(redis: &RedisServer) -> i64 {
    let keys = redis.keys("tollgate:{rpm:*");
    assert_eq!(keys.len(), 1, "one key per limit, key and window: {keys:?}");
    redis.get_int(&keys[0])
}

fn series(gw: &Gateway, name: &str) -> f64 {
    let page = metrics(gw);
    metric(&page, name).unwrap_or_else(|| panic!("no {name} on the metrics page:\n{page}"))
}

/// Every worker's link is up (`1`) or down (`0`).
fn links_are(gw: &Gateway, up: bool) -> bool {
    let page = metrics(gw);
    (0..N).all(|w| {
        metric(
            &page,
            &format!("tollgate_ratelimit_redis_up{{worker=\"{w}\"}}"),
        ) == Some(if up { 1.0 } else { 0.0 })
    })
}

/// Polls `cond` every 20 ms for at most `secs`; panics with `what` when it never holds.
fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends a request to every gateway until one passes on each, for at most `secs`.
fn wait_until_served(gws: &[&Gateway], secs: u64) {
    for gw in gws {
        wait_for(secs, "a request passed", || {
            let mut c = Conn::open(&gw.addr());
            get_on(&mut c, "/api/x").status == 200
        });
    }
}

#[test]
fn two_instances_share_one_request_limit() {
    const L: usize = 400;
    away_from_window_edge();
    let redis = RedisServer::start();
    let a = Gateway::start(&config(&redis, L, 8, "closed"));
    let b = Gateway::start(&config(&redis, L, 8, "closed"));
    // Three times the limit, over both instances and all four cores.
    let c = drive(&[&a, &b], 3 * L);
    let ok = c.ok;
    assert_eq!((c.ok + c.refused(), c.unavailable), (3 * L, 0), "{c:?}");
    assert!(ok <= L, "{ok} passed across two instances, limit {L}");
    // The cores give back what they held on their timers; then the rest is there.
    std::thread::sleep(Duration::from_millis(200));
    let more = drive(&[&a, &b], L).ok;
    let total = ok + more;
    let tolerance = M * N * a_max(L, 8);
    assert!(
        total <= L && total + tolerance >= L,
        "{ok} then {more}: {total} of {L} (tolerance {tolerance})"
    );
    // Exact accounting across instances: once the cores hold nothing, Redis holds
    // exactly what passed.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(taken(&redis), total as i64);
    // Calls counted by both gateways are the calls Redis served.
    let calls = series(&a, "tollgate_ratelimit_redis_calls_total")
        + series(&b, "tollgate_ratelimit_redis_calls_total");
    assert!(calls > 0.0);
    assert_eq!(redis.command_calls("evalsha") as f64, calls);
    assert!(links_are(&a, true) && links_are(&b, true));
    assert_eq!(
        series(
            &a,
            "tollgate_ratelimit_redis_fallbacks_total{policy=\"closed\"}"
        ),
        0.0
    );
}

#[test]
fn redis_down_fails_closed_and_enforcement_resumes_when_it_is_back() {
    const L: usize = 2_000;
    // A small a_max (15), so that what cores may hold when Redis goes is small too.
    const K: usize = 64;
    away_from_window_edge();
    let mut redis = RedisServer::start();
    let a = Gateway::start(&config(&redis, L, K, "closed"));
    let b = Gateway::start(&config(&redis, L, K, "closed"));
    let c = drive(&[&a, &b], 200);
    assert_eq!(c.ok, 200, "with Redis up, far from the limit: {c:?}");

    redis.stop();
    // Requests find out: a failed round trip, a failed reconnection, and the links are
    // down. Until then the cores serve what they hold.
    wait_for(5, "every link down", || {
        drive(&[&a, &b], 20);
        links_are(&a, false) && links_are(&b, false)
    });
    // Fail closed: nothing passes beyond what a core still held (at most a_max each);
    // the rest is refused as "cannot be checked now" (503 with Retry-After).
    let c = drive(&[&a, &b], 400);
    let (ok_down, refused_down) = (c.ok, c.unavailable);
    assert!(
        ok_down <= M * N * a_max(L, K),
        "{ok_down} passed with Redis down (bound {})",
        M * N * a_max(L, K)
    );
    assert!(refused_down >= 400 - M * N * a_max(L, K));
    assert!(
        series(
            &a,
            "tollgate_ratelimit_redis_fallbacks_total{policy=\"closed\"}"
        ) > 0.0
    );
    assert!(
        series(
            &a,
            "tollgate_ratelimit_redis_errors_total{kind=\"connect\"}"
        ) > 0.0
    );
    for gw in [&a, &b] {
        assert!(
            gw.log().contains("rate-limit Redis is down"),
            "no log line:\n{}",
            gw.log()
        );
    }

    // Back, empty (no persistence): the links reconnect (back-off at most 1 s) and the
    // limit is enforced again, on the new server's budget.
    redis.restart();
    wait_until_served(&[&a, &b], 5);
    wait_for(5, "every link up", || {
        links_are(&a, true) && links_are(&b, true)
    });
    for gw in [&a, &b] {
        assert!(
            gw.log().contains("rate-limit Redis is reachable again"),
            "no log line:\n{}",
            gw.log()
        );
    }
    let c = drive(&[&a, &b], L + 600);
    assert_eq!(c.unavailable, 0, "{c:?}");
    let (ok_after, refused_after) = (c.ok, c.limited);
    // What the cores held from before the restart may come back on top of the new
    // budget (returns to an empty key are dropped, never added): at most M N a_max.
    assert!(
        ok_after <= L + M * N * a_max(L, K),
        "{ok_after} passed after the restart, limit {L}"
    );
    assert!(
        refused_after >= 600 - M * N * a_max(L, K),
        "{refused_after} refused"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(taken(&redis) >= ok_after as i64 - (M * N * a_max(L, K)) as i64);
}

#[test]
fn redis_down_fails_open_to_local_limits_and_sharing_resumes() {
    const L: usize = 400;
    away_from_window_edge();
    let mut redis = RedisServer::start();
    let a = Gateway::start(&config(&redis, L, 8, "open"));
    let b = Gateway::start(&config(&redis, L, 8, "open"));
    let c = drive(&[&a, &b], 100);
    assert_eq!(
        c.ok, 100,
        "every request passes well under the limit: {c:?}"
    );

    redis.stop();
    wait_for(5, "every link down", || {
        drive(&[&a, &b], 20);
        links_are(&a, false) && links_are(&b, false)
    });
    // Fail open: each core limits on its own to ceil(L / N) per window (plus what it
    // held), so requests pass, and at most M x L (+ M N a_max) across the cluster.
    let c = drive(&[&a, &b], 3 * L);
    assert_eq!(c.unavailable, 0, "fail open never answers 503: {c:?}");
    let (ok_down, refused_down) = (c.ok, c.limited);
    let bound = M * L + M * N * a_max(L, 8);
    assert!(
        ok_down >= L / N,
        "only {ok_down} passed with Redis down, fail open"
    );
    assert!(
        ok_down <= bound,
        "{ok_down} passed, local limits are {bound} in all"
    );
    assert!(refused_down > 0, "local limits did not refuse anything");
    assert!(
        series(
            &a,
            "tollgate_ratelimit_redis_fallbacks_total{policy=\"open\"}"
        ) > 0.0
    );

    redis.restart();
    wait_until_served(&[&a, &b], 5);
    wait_for(5, "every link up", || {
        links_are(&a, true) && links_are(&b, true)
    });
    // Shared again, on the new server's budget: at most L plus the fail-open bound
    // (what cores hold, and the credit while an exchange is out: 2 M N a_max).
    let c = drive(&[&a, &b], 3 * L);
    let (ok_after, refused_after) = (c.ok, c.limited);
    let bound = L + 2 * M * N * a_max(L, 8);
    assert!(
        ok_after <= bound,
        "{ok_after} passed after the restart (bound {bound})"
    );
    assert!(refused_after > 0);
}

#[test]
fn a_cold_key_waits_for_its_exchange_when_failing_closed() {
    const L: usize = 5;
    away_from_window_edge();
    let redis = RedisServer::start();
    let per_user = "per = [\"header\"]\nheader = \"x-user\"\n";
    let a = Gateway::start(&config_per(&redis, L, 8, "closed", per_user));
    let b = Gateway::start(&config_per(&redis, L, 8, "closed", per_user));
    let user = |gw: &Gateway, u: &str| {
        let mut c = Conn::open(&gw.addr());
        c.send(format!("GET /api/x HTTP/1.1\r\nHost: t\r\nx-user: {u}\r\n\r\n").as_bytes());
        c.read_response("GET").expect("a response").status
    };
    // Every request is the first of its key on its core: it holds nothing, so it waits
    // for its exchange (one round trip) and passes.
    for i in 0..40 {
        let gw = if i % 2 == 0 { &a } else { &b };
        assert_eq!(user(gw, &format!("u{i}")), 200, "cold key u{i}");
    }
    // One key over both instances: exactly L pass.
    let statuses: Vec<u16> = (0..2 * L)
        .map(|i| user(if i % 2 == 0 { &a } else { &b }, "hot"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        L,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    // A request that waited and passed counts once, as admitted.
    let decided = |result: &str| {
        let name =
            format!("tollgate_ratelimit_decisions_total{{limit=\"rpm\",result=\"{result}\"}}");
        series(&a, &name) + series(&b, &name)
    };
    assert_eq!(
        (decided("admitted"), decided("refused")),
        ((40 + L) as f64, L as f64)
    );
}
