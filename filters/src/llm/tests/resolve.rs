use super::{id, router};
use crate::testing::req;

const MODELS: &str = r#"
[[llm.providers]]
name = "p"
kind = "mock"

[[llm.models]]
name = "gpt"
aliases = ["g", "gpt-latest"]
[[llm.models.deployments]]
provider = "p"
[[llm.models.split]]
model = "canary"
weight = 10
[[llm.models.split]]
model = "beta"
header = "X-Test-Group: beta"

[[llm.models]]
name = "canary"
[[llm.models.deployments]]
provider = "p"

[[llm.models]]
name = "beta"
[[llm.models.deployments]]
provider = "p"
[[llm.models.split]]
model = "canary"
weight = 100
"#;

#[test]
fn names_and_aliases_resolve_to_the_model() {
    let r = router(MODELS, 1);
    let plain = req("GET /", &["Host: h"]);
    assert_eq!(r.model_id(b"g"), Some(id(&r, "gpt")));
    assert_eq!(r.model_id(b"gpt-latest"), Some(id(&r, "gpt")));
    assert_eq!(r.model_id(b"GPT"), None, "names are case-sensitive");
    assert_eq!(r.resolve(b"nope", &plain), None);
    assert_eq!(r.resolve(b"", &plain), None);
    // Without splits, resolve is the lookup.
    assert_eq!(r.resolve(b"canary", &plain), Some(id(&r, "canary")));
    let listed: Vec<&str> = r.listed_models().collect();
    assert_eq!(listed, ["gpt", "g", "gpt-latest", "canary", "beta"]);
    assert_eq!((r.models(), r.deployments(), r.providers()), (3, 3, 1));
    assert!(!r.is_empty());
}

#[test]
fn a_header_split_takes_every_request_with_that_value() {
    let r = router(MODELS, 2);
    let beta = req(
        "POST /v1/chat/completions",
        &["Host: h", "x-test-group: beta"],
    );
    let other = req(
        "POST /v1/chat/completions",
        &["Host: h", "x-test-group: gamma"],
    );
    for _ in 0..200 {
        assert_eq!(r.resolve(b"g", &beta), Some(id(&r, "beta")));
        assert_ne!(r.resolve(b"gpt", &other), Some(id(&r, "beta")));
    }
    // Splits are followed one level: beta's own 100% split did not apply above, but does
    // when beta is asked for by name.
    assert_eq!(r.resolve(b"beta", &other), Some(id(&r, "canary")));
}

#[test]
fn a_weighted_split_takes_its_percent() {
    let r = router(MODELS, 3);
    let plain = req("GET /", &["Host: h"]);
    let n = 20_000;
    let canary = (0..n)
        .filter(|_| r.resolve(b"gpt", &plain) == Some(id(&r, "canary")))
        .count();
    let share = canary as f64 / n as f64;
    assert!((0.085..=0.115).contains(&share), "canary share {share}");
}
