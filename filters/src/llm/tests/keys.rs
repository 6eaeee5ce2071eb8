use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{clusters, id, parse, router};
use crate::llm::{AllKeysDisabled, KeyId, LlmRouter, LlmShared, ProviderId};

const KEYS: &str = r#"
[llm]
key_cooldown = "600s"
[[llm.providers]]
name = "o"
kind = "openai"
upstream = "c"
api_keys = ["k0", "k1", "k2"]
headers = { "OpenAI-Organization" = "org-1" }
host = "api.example.com"
[[llm.providers]]
name = "a"
kind = "anthropic"
upstream = "c"
api_keys = ["ak"]
[[llm.providers]]
name = "none"
kind = "mock"
[[llm.models]]
name = "m"
deployments = [{ provider = "o" }, { provider = "a" }]
"#;

fn take(r: &LlmRouter, p: u16, now: Instant) -> String {
    let (k, v) = r.take_key(ProviderId(p), now).unwrap().unwrap();
    format!("{}={}", k.0, String::from_utf8_lossy(&v))
}

#[test]
fn keys_rotate_round_robin_as_whole_header_values() {
    let r = router(KEYS, 1);
    let now = Instant::now();
    let got: Vec<String> = (0..4).map(|_| take(&r, 0, now)).collect();
    assert_eq!(
        got,
        ["0=Bearer k0", "1=Bearer k1", "2=Bearer k2", "0=Bearer k0"]
    );
    assert_eq!(take(&r, 1, now), "0=ak", "anthropic sends the raw key");
    assert_eq!(r.take_key(ProviderId(2), now), Ok(None));
    let o = r.provider(ProviderId(0));
    assert_eq!(o.keys(), 3);
    assert_eq!(o.cluster, Some(0));
    assert_eq!(
        o.headers,
        [(Bytes::from("openai-organization"), Bytes::from("org-1"))]
    );
    assert_eq!(o.host.as_deref(), Some(&b"api.example.com"[..]));
    assert_eq!(r.provider(ProviderId(1)).host, None);
    assert_eq!(r.provider(ProviderId(2)).cluster, None);
}

#[test]
fn failed_keys_are_skipped_until_key_cooldown() {
    let r = router(KEYS, 2);
    let t0 = Instant::now();
    r.key_failed(ProviderId(0), KeyId(1), t0);
    let got: Vec<String> = (0..4).map(|_| take(&r, 0, t0)).collect();
    assert_eq!(
        got,
        ["0=Bearer k0", "2=Bearer k2", "0=Bearer k0", "2=Bearer k2"]
    );
    r.key_failed(ProviderId(0), KeyId(0), t0 + Duration::from_secs(10));
    r.key_failed(ProviderId(0), KeyId(2), t0 + Duration::from_secs(20));
    let t1 = t0 + Duration::from_secs(100);
    assert_eq!(
        r.take_key(ProviderId(0), t1),
        Err(AllKeysDisabled {
            retry_in: Duration::from_secs(500)
        })
    );
    // A provider with every key out is left out of plans, and the wait reported.
    let m = id(&r, "m");
    let plan = r.plan(m, t1);
    assert_eq!(plan.candidates.len(), 1);
    r.failed(plan.candidates[0].deployment, t1, None);
    assert_eq!(r.plan(m, t1).cooling_left, Some(Duration::from_secs(10)));
    // Key 1 comes back first, at t0 + 600s.
    assert_eq!(take(&r, 0, t0 + Duration::from_secs(600)), "1=Bearer k1");
    assert_eq!(r.plan(m, t0 + Duration::from_secs(600)).candidates.len(), 2);
}

#[test]
fn disabled_keys_reach_other_cores_at_their_sync() {
    let cfg = parse(KEYS);
    let shared = Arc::new(LlmShared::new(&cfg));
    let a = LlmRouter::build(&cfg, shared.clone(), &clusters, 1).unwrap();
    let b = LlmRouter::build(&cfg, shared, &clusters, 2).unwrap();
    let now = Instant::now();
    a.key_failed(ProviderId(1), KeyId(0), now);
    assert!(a.take_key(ProviderId(1), now).is_err());
    assert!(b.take_key(ProviderId(1), now).is_ok());
    b.sync(now);
    assert!(b.take_key(ProviderId(1), now).is_err());
}

#[test]
fn env_keys_are_read_at_build() {
    let var = "TOLLGATE_LLM_TEST_KEY_SET";
    std::env::set_var(var, "sk-from-env");
    let text = KEYS.replace("[\"k0\", \"k1\", \"k2\"]", &format!("[\"env:{var}\"]"));
    let r = router(&text, 3);
    assert_eq!(take(&r, 0, Instant::now()), "0=Bearer sk-from-env");

    let text = KEYS.replace(
        "[\"k0\", \"k1\", \"k2\"]",
        "[\"env:TOLLGATE_LLM_TEST_KEY_UNSET\"]",
    );
    let cfg = parse(&text);
    let err = LlmRouter::build(&cfg, Arc::new(LlmShared::new(&cfg)), &clusters, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "llm.providers[0].api_keys[0]: environment variable TOLLGATE_LLM_TEST_KEY_UNSET is not set"
    );
    let text = KEYS.replace("[\"k0\", \"k1\", \"k2\"]", "[\"\"]");
    let cfg = parse(&text);
    let err = LlmRouter::build(&cfg, Arc::new(LlmShared::new(&cfg)), &clusters, 0).unwrap_err();
    assert_eq!(err.path, "llm.providers[0].api_keys[0]");
}
