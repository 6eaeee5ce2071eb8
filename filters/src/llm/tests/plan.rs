use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{clusters, id, parse, router};
use crate::llm::{DeploymentId, LlmRouter, LlmShared, ModelId, Plan};

fn three(strategy: &str, max_attempts: u32) -> String {
    format!(
        r#"
[llm]
max_attempts = {max_attempts}
cooldown = "10s"
max_cooldown = "60s"
[[llm.providers]]
name = "p"
kind = "mock"
[[llm.models]]
name = "m"
strategy = "{strategy}"
[[llm.models.deployments]]
provider = "p"
model = "d0"
weight = 1
[[llm.models.deployments]]
provider = "p"
model = "d1"
weight = 3
[[llm.models.deployments]]
provider = "p"
model = "d2"
weight = 6
"#
    )
}

fn order(r: &LlmRouter, plan: &Plan) -> Vec<String> {
    plan.candidates
        .iter()
        .map(|c| r.deployment(c.deployment).upstream_model.clone())
        .collect()
}

fn dep(r: &LlmRouter, name: &str) -> DeploymentId {
    (0..r.deployments() as u16)
        .map(DeploymentId)
        .find(|d| r.deployment(*d).upstream_model == name)
        .unwrap_or_else(|| panic!("no deployment {name}"))
}

#[test]
fn weighted_order_draws_in_proportion_to_weight() {
    let r = router(&three("weighted", 4), 7);
    let m = id(&r, "m");
    let now = Instant::now();
    let n = 20_000;
    let mut first = [0usize; 3];
    for _ in 0..n {
        let plan = r.plan(m, now);
        assert_eq!(plan.candidates.len(), 3);
        let o = order(&r, &plan);
        let mut sorted = o.clone();
        sorted.sort();
        assert_eq!(sorted, ["d0", "d1", "d2"], "each deployment once");
        first[o[0][1..].parse::<usize>().unwrap()] += 1;
    }
    for (i, want) in [0.1, 0.3, 0.6].iter().enumerate() {
        let got = first[i] as f64 / n as f64;
        assert!((got - want).abs() < 0.02, "d{i} first {got}, want {want}");
    }
    assert!(!plan_has_fallback(&r.plan(m, now)));
    assert_eq!(r.deployment(dep(&r, "d1")).label, "p/d1");
}

fn plan_has_fallback(plan: &Plan) -> bool {
    plan.candidates.iter().any(|c| c.fallback)
}

#[test]
fn least_in_flight_puts_the_least_busy_first() {
    let r = router(&three("least_in_flight", 4), 8);
    let m = id(&r, "m");
    let now = Instant::now();
    let (d0, d1) = (dep(&r, "d0"), dep(&r, "d1"));
    r.begin(d0);
    r.begin(d0);
    r.begin(d1);
    for _ in 0..100 {
        assert_eq!(order(&r, &r.plan(m, now)), ["d2", "d1", "d0"]);
    }
    r.end(d0);
    r.end(d0);
    assert_eq!(r.deployment(d0).in_flight(), 0);
    // d0 and d2 tie at 0: both come before d1, in weighted order.
    let mut d0_first = 0;
    for _ in 0..2000 {
        let o = order(&r, &r.plan(m, now));
        assert_eq!(o[2], "d1");
        d0_first += usize::from(o[0] == "d0");
    }
    assert!(
        (100..=450).contains(&d0_first),
        "d0 first {d0_first}/2000, ~1/7"
    );
}

#[test]
fn latency_explores_unsampled_then_prefers_the_lowest_ewma() {
    let r = router(&three("latency", 4), 9);
    let m = id(&r, "m");
    let now = Instant::now();
    let (d0, d1, d2) = (dep(&r, "d0"), dep(&r, "d1"), dep(&r, "d2"));
    r.record_ttft(d0, Duration::from_millis(100));
    r.record_ttft(d1, Duration::from_millis(50));
    assert_eq!(order(&r, &r.plan(m, now)), ["d2", "d1", "d0"]);
    r.record_ttft(d2, Duration::from_millis(200));
    assert_eq!(order(&r, &r.plan(m, now)), ["d1", "d0", "d2"]);
    // EWMA with alpha 0.3: 50ms then 300ms -> 0.3*300 + 0.7*50 = 125ms.
    r.record_ttft(d1, Duration::from_millis(300));
    let ewma = r.deployment(d1).ttft().unwrap();
    assert!(
        ewma.abs_diff(Duration::from_millis(125)) < Duration::from_micros(1),
        "{ewma:?}"
    );
    assert_eq!(order(&r, &r.plan(m, now)), ["d0", "d1", "d2"]);
}

const FALLBACKS: &str = r#"
[llm]
max_attempts = 10
[[llm.providers]]
name = "p"
kind = "mock"
[[llm.models]]
name = "a"
fallbacks = ["b", "c"]
deployments = [{ provider = "p", model = "a0" }]
[[llm.models]]
name = "b"
fallbacks = ["d"]
deployments = [{ provider = "p", model = "b0" }]
[[llm.models]]
name = "c"
fallbacks = ["a"]
deployments = [{ provider = "p", model = "c0" }]
[[llm.models]]
name = "d"
fallbacks = ["b", "a"]
deployments = [{ provider = "p", model = "d0" }, { provider = "p", model = "d1", weight = 1000000 }]
"#;

#[test]
fn fallbacks_go_depth_first_each_model_once() {
    let r = router(FALLBACKS, 10);
    let now = Instant::now();
    let plan = r.plan(id(&r, "a"), now);
    assert_eq!(order(&r, &plan)[..2], ["a0", "b0"]);
    let o = order(&r, &plan);
    assert!(o[2..4] == ["d0", "d1"] || o[2..4] == ["d1", "d0"], "{o:?}");
    assert_eq!(o[4], "c0");
    assert_eq!(o.len(), 5, "cycles end: {o:?}");
    let flags: Vec<bool> = plan.candidates.iter().map(|c| c.fallback).collect();
    assert_eq!(flags, [false, true, true, true, true]);
    assert_eq!(plan.candidates[1].model, id(&r, "b"));
    assert_eq!(plan.cooling_left, None);
    // From c: c, then a and a's fallbacks.
    assert_eq!(
        order(&r, &r.plan(id(&r, "c"), now))[..3],
        ["c0", "a0", "b0"]
    );
}

#[test]
fn plans_stop_at_max_attempts() {
    let r = router(
        &FALLBACKS.replace("max_attempts = 10", "max_attempts = 3"),
        11,
    );
    let now = Instant::now();
    let plan = r.plan(id(&r, "a"), now);
    assert_eq!(plan.candidates.len(), 3);
    assert_eq!(order(&r, &plan)[..2], ["a0", "b0"]);
    let single = router(&three("weighted", 1), 12);
    assert_eq!(single.plan(id(&single, "m"), now).candidates.len(), 1);
}

#[test]
fn cooling_deployments_are_left_out_and_the_wait_reported() {
    let r = router(&three("weighted", 4), 13);
    let m = id(&r, "m");
    let t0 = Instant::now();
    let (d0, d1, d2) = (dep(&r, "d0"), dep(&r, "d1"), dep(&r, "d2"));
    r.failed(d2, t0, None);
    let plan = r.plan(m, t0);
    assert_eq!(plan.candidates.len(), 2);
    assert!(!order(&r, &plan).contains(&"d2".to_string()));
    assert_eq!(plan.cooling_left, None, "others are usable");
    // A provider-given reset is capped by max_cooldown (60s).
    r.failed(d0, t0, Some(Duration::from_secs(3600)));
    r.failed(d1, t0, Some(Duration::from_secs(5)));
    let t1 = t0 + Duration::from_secs(1);
    let plan = r.plan(m, t1);
    assert!(plan.candidates.is_empty());
    assert_eq!(plan.cooling_left, Some(Duration::from_secs(4)));
    assert_eq!(r.cooling_until(d0, t1), Some(t0 + Duration::from_secs(60)));
    // d1 back after 5s, d2 after the default 10s, d0 after 60s.
    assert_eq!(order(&r, &r.plan(m, t0 + Duration::from_secs(5))), ["d1"]);
    assert_eq!(r.plan(m, t0 + Duration::from_secs(10)).candidates.len(), 2);
    assert_eq!(r.plan(m, t0 + Duration::from_secs(60)).candidates.len(), 3);
}

#[test]
fn full_deployments_are_skipped_without_a_retry_after() {
    let text = three("weighted", 4).replace("weight = 6\n", "weight = 6\nmax_in_flight = 1\n");
    let r = router(&text, 14);
    let m = id(&r, "m");
    let now = Instant::now();
    let (d0, d1, d2) = (dep(&r, "d0"), dep(&r, "d1"), dep(&r, "d2"));
    r.begin(d2);
    assert_eq!(r.plan(m, now).candidates.len(), 2);
    r.failed(d0, now, None);
    r.failed(d1, now, None);
    let plan = r.plan(m, now);
    assert!(plan.candidates.is_empty());
    assert_eq!(
        plan.cooling_left, None,
        "d2 frees up without waiting out a cool-down"
    );
    r.end(d2);
    assert_eq!(order(&r, &r.plan(m, now)), ["d2"]);
}

#[test]
fn cool_downs_reach_other_cores_at_their_sync() {
    let cfg = parse(&three("weighted", 4));
    let shared = Arc::new(LlmShared::new(&cfg));
    let a = LlmRouter::build(&cfg, shared.clone(), &clusters, 1).unwrap();
    let b = LlmRouter::build(&cfg, shared, &clusters, 2).unwrap();
    let m = ModelId(0);
    let now = Instant::now();
    let d2 = dep(&a, "d2");
    a.failed(d2, now, Some(Duration::from_secs(30)));
    assert_eq!(
        a.plan(m, now).candidates.len(),
        2,
        "at once on its own core"
    );
    assert_eq!(
        b.plan(m, now).candidates.len(),
        3,
        "not on another before its sync"
    );
    b.sync(now);
    assert_eq!(b.plan(m, now).candidates.len(), 2);
    // The shared deadline is kept in microseconds, rounded up.
    let (ua, ub) = (
        a.cooling_until(d2, now).unwrap(),
        b.cooling_until(d2, now).unwrap(),
    );
    assert!(
        ub >= ua && ub - ua < Duration::from_micros(1),
        "{ua:?} {ub:?}"
    );
    // A sync with nothing new changes nothing; a shorter cool-down never shortens one.
    b.sync(now);
    b.failed(d2, now, Some(Duration::from_secs(1)));
    a.sync(now);
    assert!(a.cooling_until(d2, now + Duration::from_secs(29)).is_some());
    // An expired shared deadline is not copied.
    let later = now + Duration::from_secs(31);
    let c = LlmRouter::build(&cfg, Arc::new(LlmShared::new(&cfg)), &clusters, 3).unwrap();
    c.sync(later);
    assert_eq!(c.plan(m, later).candidates.len(), 3);
}
