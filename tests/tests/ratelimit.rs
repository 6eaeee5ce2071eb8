//! End-to-end: rate limits on the real gateway with two workers. A request limit is
//! exact under a load spread over both cores; a concurrency limit holds its permits
//! until the requests end (and gives them back with the access log off); a token limit
//! on streamed LLM answers charges the usage counted and refuses once below zero; a
//! spend limit charges the priced usage and refuses a reservation too large up front;
//! keys per header value and per client IP are separate budgets; refusals carry
//! `Retry-After` and the `RateLimit-*` fields, OpenAI's `x-ratelimit-*` and the client
//! API's error format on LLM routes; a reload keeps the budget.
//!
//! Windows are an hour long and aligned to the clock; a test that would start within a
//! minute of an hour's end waits for the next hour, so no budget renews mid-test.

#![allow(clippy::disallowed_types)] // load threads and the upstream script are plain threads

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tollgate_tests::client::{exchange, Conn, Response};
use tollgate_tests::llm::{events, json_body, metric, metrics, post};
use tollgate_tests::{Gateway, Reply, Upstream};

/// A gateway with `workers` workers: `api` answers `/api/` itself, `slow` proxies
/// `/slow/` to `slow_up`, `ver` answers `/ver` with `version`, `llm` serves `/v1/` from
/// the built-in mock model (7 output tokens; $1000 / $2000 per million input / output
/// tokens), and `limits` (the `[rate_limits]` tables).
fn start(workers: u32, limits: &str) -> Gateway {
    Gateway::start(&config(workers, limits, "one", None))
}

fn config(workers: u32, limits: &str, version: &str, slow_up: Option<&Upstream>) -> String {
    let slow = slow_up.map_or(String::new(), |up| {
        format!(
            "[[clusters]]\nname = \"slow\"\nendpoints = [\"{}\"]\n\
             [[routes]]\nname = \"slow\"\nmatch = {{ path_prefix = \"/slow/\" }}\nupstream = \"slow\"\n",
            up.addr
        )
    });
    format!(
        r#"
[runtime]
workers = {workers}
[admin]
listen = "127.0.0.1:{{admin}}"
[[listeners]]
listen = "127.0.0.1:{{port}}"
{slow}
[[routes]]
name = "api"
match = {{ path_prefix = "/api/" }}
respond = {{ body = "ok" }}
[[routes]]
name = "ver"
match = {{ path = "/ver" }}
respond = {{ body = "{version}" }}
[[routes]]
name = "llm"
match = {{ path_prefix = "/v1/" }}
llm = {{}}
[[llm.providers]]
name = "mock"
kind = "mock"
[llm.providers.mock]
ttft = "1ms"
output_tokens = 7
[[llm.models]]
name = "mock-model"
aliases = ["gpt-4o-mini", "claude-3-5-haiku-latest"]
price = {{ input = 1000, output = 2000 }}
[[llm.models.deployments]]
provider = "mock"
{limits}
"#
    )
}

/// Waits for the next hour when this one ends within a minute: every limit here has a
/// one-hour window, and a budget that renewed mid-test would break its counts.
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

/// `GET path` on a kept-alive connection.
fn get_on(c: &mut Conn, path: &str, fields: &str) -> Response {
    c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n").as_bytes());
    c.read_response("GET").expect("a response")
}

fn get(gw: &Gateway, path: &str, fields: &str) -> Response {
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n{fields}\r\n");
    exchange(&gw.addr(), req.as_bytes()).expect("a response")
}

fn series(page: &str, name: &str) -> f64 {
    metric(page, name).unwrap_or_else(|| panic!("no {name} on the metrics page:\n{page}"))
}

fn decisions(gw: &Gateway, limit: &str) -> (f64, f64) {
    let page = metrics(gw);
    let one = |result: &str| {
        series(
            &page,
            &format!("tollgate_ratelimit_decisions_total{{limit=\"{limit}\",result=\"{result}\"}}"),
        )
    };
    (one("admitted"), one("refused"))
}

fn header_u64(r: &Response, name: &str) -> u64 {
    r.header(name)
        .unwrap_or_else(|| panic!("no {name}: {r:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number: {r:?}"))
}

#[test]
fn a_request_limit_is_exact_under_load_on_both_cores() {
    const LIMIT: usize = 300;
    const SENT: usize = 1000;
    // a_max = max(1, 300 / (2 cores x 4)): what one core may hold unused at once.
    const A_MAX: usize = 37;
    away_from_window_edge();
    let gw = start(
        2,
        &format!(
            "[[rate_limits.limits]]\nname = \"rpm\"\nkind = \"requests\"\nlimit = {LIMIT}\n\
             window = \"1h\"\nroutes = [\"api\"]\n"
        ),
    );
    // 64 kept-alive connections: SO_REUSEPORT spreads them over both workers.
    let conns: Vec<Conn> = (0..64).map(|_| Conn::open(&gw.addr())).collect();
    let t0 = Instant::now();
    let per_worker = loop {
        let page = metrics(&gw);
        let w: Vec<f64> = (0..2)
            .map(|i| {
                metric(
                    &page,
                    &format!("tollgate_connections_active{{worker=\"{i}\"}}"),
                )
                .unwrap_or(0.0)
            })
            .collect();
        let both = w.iter().all(|n| *n > 0.0);
        if (both && w.iter().sum::<f64>() >= 64.0) || t0.elapsed() > Duration::from_secs(5) {
            break w;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        per_worker.iter().all(|n| *n > 0.0),
        "the connections did not land on both workers: {per_worker:?}"
    );

    let sent = Arc::new(AtomicUsize::new(0));
    let admitted = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    let mut conns = conns.into_iter();
    for _ in 0..16 {
        let mut mine: Vec<Conn> = conns.by_ref().take(4).collect();
        let (sent, admitted, refused) = (sent.clone(), admitted.clone(), refused.clone());
        threads.push(std::thread::spawn(move || {
            let mut i = 0;
            while sent.fetch_add(1, Ordering::Relaxed) < SENT {
                let c = &mut mine[i % 4];
                i += 1;
                let r = get_on(c, "/api/x", "");
                match r.status {
                    200 => admitted.fetch_add(1, Ordering::Relaxed),
                    429 => {
                        assert!(r.header("retry-after").is_some(), "{r:?}");
                        refused.fetch_add(1, Ordering::Relaxed)
                    }
                    s => panic!("status {s}: {r:?}"),
                };
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let first = admitted.load(Ordering::Relaxed);
    assert_eq!(first + refused.load(Ordering::Relaxed), SENT);
    // Never more than the limit (costs known up front: bound B1, over-admission 0); at
    // most what the two cores held unused when the load stopped went unserved.
    assert!(first <= LIMIT, "admitted {first} of a limit of {LIMIT}");
    assert!(
        first + 2 * A_MAX >= LIMIT,
        "admitted only {first} of {LIMIT}"
    );

    // The cores give what they held back on their timers; then exactly the rest passes.
    std::thread::sleep(Duration::from_millis(100));
    let mut c = Conn::open(&gw.addr());
    let rest = (0..LIMIT - first + 20)
        .filter(|_| get_on(&mut c, "/api/x", "").status == 200)
        .count();
    assert_eq!(first + rest, LIMIT, "{first} under load, then {rest}");
    let total = SENT + LIMIT - first + 20;
    assert_eq!(
        decisions(&gw, "rpm"),
        (LIMIT as f64, (total - LIMIT) as f64)
    );
    let page = metrics(&gw);
    assert!(
        series(&page, "tollgate_ratelimit_exchanges_total{limit=\"rpm\"}") > 0.0,
        "{page}"
    );
}

#[test]
fn a_concurrency_limit_holds_permits_until_requests_end() {
    away_from_window_edge();
    let up = Upstream::start(|_| {
        Reply::Delay(
            Duration::from_millis(400),
            Box::new(Reply::Full(200, vec![], b"slow".to_vec())),
        )
    });
    let limits = "[[rate_limits.limits]]\nname = \"inflight\"\nkind = \"concurrent\"\n\
                  limit = 3\nroutes = [\"slow\"]\n";
    // No access log: permits still come back when requests end.
    let gw = Gateway::start(&config(2, limits, "one", Some(&up)));
    let burst = |n: usize| -> Vec<u16> {
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let addr = gw.addr();
                std::thread::spawn(move || {
                    exchange(&addr, b"GET /slow/x HTTP/1.1\r\nHost: t\r\n\r\n")
                        .expect("a response")
                        .status
                })
            })
            .collect();
        let mut s: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        s.sort();
        s
    };
    assert_eq!(burst(8), [200, 200, 200, 429, 429, 429, 429, 429]);
    assert_eq!(
        up.request_count(),
        3,
        "refused requests reached the upstream"
    );
    // All three ended; their permits are back, on any core, within a sync interval.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(burst(3), [200, 200, 200]);
    std::thread::sleep(Duration::from_millis(50));
    let r = get(&gw, "/slow/x", "");
    assert_eq!(r.status, 200, "{r:?}");
}

/// A streamed chat request for `user`, asking for the usage chunk.
const STREAM: &str = r#"{"model":"mock-model","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello there, how are you"}]}"#;

/// The usage chunk of a streamed answer: (prompt, completion).
fn stream_usage(r: &Response) -> (u64, u64) {
    assert_eq!(r.status, 200, "{}", r.text());
    let usage = events(&r.body)
        .iter()
        .filter(|e| e.data != "[DONE]")
        .map(|e| e.json())
        .find(|c| !c["usage"].is_null())
        .unwrap_or_else(|| panic!("no usage chunk: {}", r.text()))["usage"]
        .clone();
    (
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["completion_tokens"].as_u64().unwrap(),
    )
}

#[test]
fn a_token_limit_on_streams_charges_the_usage_and_refuses_below_zero() {
    const LIMIT: u64 = 100;
    away_from_window_edge();
    let gw = start(
        2,
        &format!(
            "[[rate_limits.limits]]\nname = \"tpm\"\nkind = \"total_tokens\"\nlimit = {LIMIT}\n\
             window = \"1h\"\nper = [\"header\"]\nheader = \"x-user\"\nreserve = false\n"
        ),
    );
    let user = |u: &str| format!("x-user: {u}\r\n");
    let first = post(&gw, "/v1/chat/completions", STREAM, &user("a"));
    let (prompt, completion) = stream_usage(&first);
    assert_eq!(completion, 7);
    let per_request = prompt + completion;
    // A request passes while the budget is above zero, and is charged its usage when
    // its stream ends: ceil(LIMIT / usage) pass, the last one drives it below zero.
    let expected = LIMIT.div_ceil(per_request);
    let mut passed = 1;
    let refusal = loop {
        let r = post(&gw, "/v1/chat/completions", STREAM, &user("a"));
        if r.status != 200 {
            break r;
        }
        stream_usage(&r);
        passed += 1;
        assert!(
            passed <= expected,
            "{passed} passed, {per_request} tokens each"
        );
    };
    assert_eq!(passed, expected, "{per_request} tokens each");
    assert_eq!(refusal.status, 429, "{}", refusal.text());
    let v = json_body(&refusal);
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    let below_zero = passed * per_request > LIMIT;
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(if below_zero { "spent" } else { "reached" }),
        "{msg}"
    );
    assert_eq!(header_u64(&refusal, "x-ratelimit-limit-tokens"), LIMIT);
    assert_eq!(header_u64(&refusal, "x-ratelimit-remaining-tokens"), 0);
    assert!(refusal.header("x-ratelimit-reset-tokens").is_some());
    assert_eq!(header_u64(&refusal, "ratelimit-limit"), LIMIT);
    assert_eq!(header_u64(&refusal, "ratelimit-remaining"), 0);
    let retry = header_u64(&refusal, "retry-after");
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(header_u64(&refusal, "ratelimit-reset"), retry);

    // The same budget through Anthropic's API answers in Anthropic's format.
    let body = r#"{"model":"claude-3-5-haiku-latest","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post(
        &gw,
        "/v1/messages",
        body,
        &format!("anthropic-version: 2023-06-01\r\n{}", user("a")),
    );
    assert_eq!(r.status, 429, "{}", r.text());
    let v = json_body(&r);
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert!(r.header("x-ratelimit-limit-tokens").is_some(), "{r:?}");
    // Another user has a budget of its own.
    stream_usage(&post(&gw, "/v1/chat/completions", STREAM, &user("b")));
    let (a, refused) = decisions(&gw, "tpm");
    assert_eq!((a as u64, refused), (expected + 1, 2.0));
}

#[test]
fn a_spend_limit_charges_the_priced_usage_and_refuses_a_reservation_too_large() {
    const LIMIT: u64 = 100_000; // micro-dollars: $0.10
    away_from_window_edge();
    let gw = start(
        2,
        &format!(
            "[[rate_limits.limits]]\nname = \"spend\"\nkind = \"spend\"\nlimit = {LIMIT}\n\
             window = \"1h\"\nper = [\"header\"]\nheader = \"x-user\"\nreserve = false\n\
             [[rate_limits.limits]]\nname = \"spend-reserved\"\nkind = \"spend\"\n\
             limit = 1000000000\nwindow = \"1h\"\nper = [\"header\"]\nheader = \"x-user\"\n"
        ),
    );
    let user = "x-user: s\r\n";
    let first = post(&gw, "/v1/chat/completions", STREAM, user);
    let (prompt, completion) = stream_usage(&first);
    // $1000 and $2000 per million tokens: 1000 and 2000 micro-dollars a token.
    let cost = prompt * 1000 + completion * 2000;
    let expected = LIMIT.div_ceil(cost);
    assert!(expected >= 2, "{cost}");
    let mut passed = 1;
    loop {
        let r = post(&gw, "/v1/chat/completions", STREAM, user);
        if r.status == 429 {
            let v = json_body(&r);
            let msg = v["error"]["message"].as_str().unwrap();
            assert!(msg.contains("`spend`"), "{msg}");
            // No OpenAI field counts spend.
            assert!(r.header("x-ratelimit-limit-tokens").is_none(), "{r:?}");
            assert_eq!(header_u64(&r, "ratelimit-limit"), LIMIT);
            break;
        }
        stream_usage(&r);
        passed += 1;
        assert!(
            passed <= expected,
            "{passed} passed at {cost} micro-dollars each"
        );
    }
    assert_eq!(passed, expected, "{cost} micro-dollars each");

    // Reserving: max_tokens priced at $2000 per million is $2000, above the $1000 the
    // second limit allows: refused before any provider is asked.
    let huge = r#"{"model":"mock-model","max_tokens":1000000,"messages":[{"role":"user","content":"hi"}]}"#;
    let r = post(&gw, "/v1/chat/completions", huge, "x-user: other\r\n");
    assert_eq!(r.status, 429, "{}", r.text());
    let msg = json_body(&r)["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("request too large for rate limit `spend-reserved`"),
        "{msg}"
    );
    // Within it, a request passes.
    let ok = r#"{"model":"mock-model","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    assert_eq!(
        post(&gw, "/v1/chat/completions", ok, "x-user: other\r\n").status,
        200
    );
}

#[test]
fn keys_per_header_and_per_client_ip_are_separate_budgets() {
    away_from_window_edge();
    let gw = start(
        2,
        "[[rate_limits.limits]]\nname = \"per-user\"\nkind = \"requests\"\nlimit = 2\n\
         window = \"1h\"\nper = [\"header\"]\nheader = \"x-user\"\nroutes = [\"api\"]\n\
         [[rate_limits.limits]]\nname = \"per-ip\"\nkind = \"requests\"\nlimit = 3\n\
         window = \"1h\"\nper = [\"client_ip\"]\nroutes = [\"ver\"]\n",
    );
    let statuses =
        |fields: &str| -> Vec<u16> { (0..3).map(|_| get(&gw, "/api/x", fields).status).collect() };
    assert_eq!(statuses("x-user: a\r\n"), [200, 200, 429]);
    assert_eq!(statuses("x-user: b\r\n"), [200, 200, 429]);
    // Without the header: one budget of its own (the empty value), not a way around.
    assert_eq!(statuses(""), [200, 200, 429]);
    // Admitted responses say what is left.
    let r = get(&gw, "/api/x", "x-user: c\r\n");
    assert_eq!(header_u64(&r, "ratelimit-limit"), 2);
    assert_eq!(header_u64(&r, "ratelimit-remaining"), 1);
    assert!(r.header("ratelimit-reset").is_some(), "{r:?}");

    // Per client IP: 127.0.0.1 and 127.0.0.2 (curl binds its side of the connection).
    let url = gw.url("/ver");
    let curl_from = |ip: &str| -> u16 {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(["--interface", ip, &url])
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run curl ({e}); install it with scripts/install-test-deps.sh")
            });
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).parse().unwrap()
    };
    let one: Vec<u16> = (0..4).map(|_| curl_from("127.0.0.1")).collect();
    assert_eq!(one, [200, 200, 200, 429]);
    let two: Vec<u16> = (0..4).map(|_| curl_from("127.0.0.2")).collect();
    assert_eq!(two, [200, 200, 200, 429]);
}

#[test]
fn refusals_on_llm_routes_take_the_client_api_format() {
    away_from_window_edge();
    let gw = start(
        2,
        "[[rate_limits.limits]]\nname = \"llm-rpm\"\nkind = \"requests\"\nlimit = 1\n\
         window = \"1h\"\nper = [\"header\"]\nheader = \"x-user\"\nroutes = [\"llm\"]\n",
    );
    let chat = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#;
    let ok = post(&gw, "/v1/chat/completions", chat, "x-user: o\r\n");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(header_u64(&ok, "ratelimit-remaining"), 0);
    let r = post(&gw, "/v1/chat/completions", chat, "x-user: o\r\n");
    assert_eq!(r.status, 429);
    let v: Value = json_body(&r);
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("rate limit `llm-rpm` reached: 1 requests per 1h;")),
        "{v}"
    );
    assert_eq!(header_u64(&r, "x-ratelimit-limit-requests"), 1);
    assert_eq!(header_u64(&r, "x-ratelimit-remaining-requests"), 0);
    assert!(r.header("x-ratelimit-reset-requests").is_some(), "{r:?}");
    assert_eq!(r.header("ratelimit-policy"), Some("1;w=3600"));
    assert_eq!(r.header("content-type"), Some("application/json"));

    let msg = r#"{"model":"claude-3-5-haiku-latest","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}"#;
    let anthropic = "anthropic-version: 2023-06-01\r\nx-user: n\r\n";
    assert_eq!(post(&gw, "/v1/messages", msg, anthropic).status, 200);
    let r = post(&gw, "/v1/messages", msg, anthropic);
    assert_eq!(r.status, 429);
    let v = json_body(&r);
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "rate_limit_error", "{v}");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    assert_eq!(header_u64(&r, "x-ratelimit-limit-requests"), 1);
}

#[test]
fn a_reload_keeps_the_budget() {
    away_from_window_edge();
    let limits = |limit: u32| {
        format!(
            "[[rate_limits.limits]]\nname = \"rpm\"\nkind = \"requests\"\nlimit = {limit}\n\
             window = \"1h\"\nroutes = [\"api\"]\n"
        )
    };
    let gw = Gateway::start(&config(2, &limits(5), "one", None));
    for _ in 0..3 {
        assert_eq!(get(&gw, "/api/x", "").status, 200);
    }
    // The same limit with a new value: the 3 used stay used.
    gw.write_config(&config(2, &limits(6), "two", None));
    gw.signal(libc::SIGHUP);
    let t0 = Instant::now();
    while get(&gw, "/ver", "").text() != "two" {
        assert!(t0.elapsed() < Duration::from_secs(2), "reload not applied");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Both workers pick the generation up on their tick (50 ms).
    std::thread::sleep(Duration::from_millis(150));
    let statuses: Vec<u16> = (0..5).map(|_| get(&gw, "/api/x", "").status).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[test]
fn limits_key_on_the_authenticated_consumer_and_its_group() {
    away_from_window_edge();
    // API keys key-alice, key-bob, key-carol, stored as SHA-256 digests.
    let consumers = r#"
[[consumers]]
name = "alice"
group = "team"
api_keys = ["sha256:87844ec0b0d738e89628640588acaa48537b814a5c4f9697e3b352d11ffedaef"]
[[consumers]]
name = "bob"
group = "team"
api_keys = ["sha256:f031fc74d10cf0c1284dc15f679c18b1e8e05f9d1966adefba6c6463cdcef658"]
[[consumers]]
name = "carol"
api_keys = ["sha256:210e84269846b00ea00f3fd42c500d17c08b42ac0f6c27ebdb1fd1a07a2dfc84"]
"#;
    let limits = "[[rate_limits.limits]]\nname = \"per-consumer\"\nkind = \"requests\"\n\
                  limit = 2\nwindow = \"1h\"\nper = [\"consumer\"]\nroutes = [\"api\"]\n\
                  [[rate_limits.limits]]\nname = \"per-group\"\nkind = \"requests\"\n\
                  limit = 3\nwindow = \"1h\"\nper = [\"group\"]\nroutes = [\"api\"]\n";
    let text = config(2, &format!("{consumers}{limits}"), "one", None).replace(
        "respond = { body = \"ok\" }",
        "respond = { body = \"ok\" }\nauth = { anonymous = true }",
    );
    let gw = Gateway::start(&text);
    let as_key = |key: &str| format!("x-api-key: {key}\r\n");
    let run = |fields: &str, n: usize| -> Vec<u16> {
        (0..n).map(|_| get(&gw, "/api/x", fields).status).collect()
    };
    // alice: her own budget of 2 runs out first.
    assert_eq!(run(&as_key("key-alice"), 3), [200, 200, 429]);
    // bob: his own budget has room, the group's (3, shared with alice) has one left.
    let r: Vec<Response> = (0..2)
        .map(|_| get(&gw, "/api/x", &as_key("key-bob")))
        .collect();
    assert_eq!((r[0].status, r[1].status), (200, 429), "{r:?}");
    let msg = json_body(&r[1])["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("`per-group`"), "{msg}");
    // carol has no group: she is her own.
    assert_eq!(run(&as_key("key-carol"), 3), [200, 200, 429]);
    // Without a key: the anonymous consumer, keyed by its client IP.
    assert_eq!(run("", 3), [200, 200, 429]);
}
