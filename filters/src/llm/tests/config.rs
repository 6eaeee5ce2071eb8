use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::clusters;
use crate::llm::{
    LlmConfig, LlmRouter, LlmShared, MockConfig, ProviderKind, RouteLlmConfig, Strategy,
};

/// The shape documented for the `[llm]` table, verbatim.
const EXAMPLE: &str = r#"
[llm]
max_body_bytes = 4194304     # request body buffered for LLM routes (bytes)
deadline = "300s"            # whole request: all attempts plus the stream
attempt_timeout = "60s"      # per attempt: until the provider's response head / first event
max_attempts = 4             # attempts across deployments and fallback models
cooldown = "10s"             # a deployment's cool-down after 429/5xx/connect error/time-out when the provider gave no reset time
max_cooldown = "300s"        # cap on a provider-given reset time
key_cooldown = "600s"        # an API key that got 401/403 is out for this long, on every core

[[llm.providers]]
name = "openai"
kind = "openai"              # openai | anthropic | mock
upstream = "openai-cluster"  # a [[clusters]] name; required for openai/anthropic, not allowed for mock
base_path = "/v1"
api_keys = ["sk-...", "env:OPENAI_KEY_2"]   # "env:NAME" reads the variable at load; may be empty (no auth header)
headers = { "OpenAI-Organization" = "org-1" }   # extra headers sent to the provider
anthropic_version = "2023-06-01"
host = ""                    # Host header; empty: the cluster's default

[[llm.providers]]
name = "mock"
kind = "mock"
[llm.providers.mock]         # only for kind = "mock"
ttft = "20ms"
tokens_per_second = 0        # 0: no pacing
output_tokens = 16

[[llm.models]]
name = "gpt-4o-mini"
aliases = ["mini"]
strategy = "weighted"        # weighted | least_in_flight | latency (EWMA of time to first token)
fallbacks = ["claude-haiku"]
price = { input = 0.15, output = 0.6, cached_input = 0.075, cache_write = 0.1875 }   # USD per 1M tokens; optional
[[llm.models.deployments]]
provider = "openai"
model = "gpt-4o-mini-2024-07-18"   # the provider's model name; default: the model's name
weight = 1
max_in_flight = 0            # per core; 0 = no limit; a full deployment is skipped like a cooling one
[[llm.models.split]]         # canary / test groups: hand some requests to another model
model = "gpt-4o-mini-v2"
weight = 10                  # percent of this model's requests (0-100); the rest stay
header = ""                  # or: "x-test-group: beta" — every request with that header value goes there (checked before weights)

[[llm.models]]
name = "gpt-4o-mini-v2"
strategy = "latency"
deployments = [{ provider = "openai" }]

[[llm.models]]
name = "claude-haiku"
strategy = "least_in_flight"
deployments = [{ provider = "mock", weight = 2, max_in_flight = 8 }]

[[routes]]
name = "ai"
match = { path_prefix = "/v1/" }
llm = { commit_events = 1, commit_bytes = 0, models = [] }   # RouteLlmConfig; models: allowed model names on this route, empty = all
"#;

#[derive(Deserialize)]
struct Doc {
    llm: LlmConfig,
    routes: Vec<Route>,
}

#[derive(Deserialize)]
struct Route {
    llm: RouteLlmConfig,
}

#[test]
fn the_documented_example_parses_and_builds() {
    let doc: Doc = toml::from_str(&EXAMPLE.replace(", \"env:OPENAI_KEY_2\"", ""))
        .unwrap_or_else(|e| panic!("{e}"));
    let llm = &doc.llm;
    assert_eq!(llm.max_body_bytes, 4 << 20);
    assert_eq!(llm.deadline, Duration::from_secs(300));
    assert_eq!(llm.attempt_timeout, Duration::from_secs(60));
    assert_eq!(llm.key_cooldown, Duration::from_secs(600));
    assert_eq!(llm.providers[0].kind, ProviderKind::OpenAi);
    assert_eq!(llm.providers[1].mock, Some(MockConfig::default()));
    assert_eq!(llm.models[0].strategy, Strategy::Weighted);
    assert_eq!(llm.models[1].strategy, Strategy::Latency);
    assert_eq!(llm.models[0].price.unwrap().cache_write, 0.1875);
    assert_eq!(llm.models[0].split[0].weight, 10);
    assert_eq!(doc.routes[0].llm, RouteLlmConfig::default());

    let shared = Arc::new(LlmShared::new(llm));
    let cluster = |n: &str| (n == "openai-cluster").then_some(3);
    let r = LlmRouter::build(llm, shared, &cluster, 0).unwrap_or_else(|e| panic!("{e}"));
    let mini = r.model_id(b"mini").unwrap();
    assert_eq!(r.model(mini).name, "gpt-4o-mini");
    let d = r.model(mini).deployments[0];
    assert_eq!(r.deployment(d).upstream_model, "gpt-4o-mini-2024-07-18");
    assert_eq!(r.deployment(d).label, "openai/gpt-4o-mini-2024-07-18");
    let v2 = r.model(r.model_id(b"gpt-4o-mini-v2").unwrap()).deployments[0];
    assert_eq!(r.deployment(v2).upstream_model, "gpt-4o-mini-v2");
    assert_eq!(r.provider(r.deployment(d).provider).cluster, Some(3));
    assert_eq!(
        r.provider(r.deployment(d).provider).anthropic_version,
        "2023-06-01"
    );
}

#[test]
fn defaults_fill_an_empty_table() {
    #[derive(Deserialize)]
    struct D {
        #[serde(default)]
        llm: LlmConfig,
    }
    let d: D = toml::from_str("").unwrap();
    let c = d.llm;
    assert_eq!(
        (
            c.max_body_bytes,
            c.max_attempts,
            c.deadline,
            c.cooldown,
            c.max_cooldown
        ),
        (
            4 << 20,
            4,
            Duration::from_secs(300),
            Duration::from_secs(10),
            Duration::from_secs(300)
        )
    );
    let d: D =
        toml::from_str("[llm]\nattempt_timeout = 1500\ncooldown = \"5m\"\nkey_cooldown = \"1h\"\n")
            .unwrap();
    assert_eq!(d.llm.attempt_timeout, Duration::from_millis(1500));
    assert_eq!(d.llm.cooldown, Duration::from_secs(300));
    assert_eq!(d.llm.key_cooldown, Duration::from_secs(3600));
    let r = LlmRouter::build(&c, Arc::new(LlmShared::new(&c)), &clusters, 0).unwrap();
    assert!(r.is_empty());
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    for bad in [
        "[llm]\nbogus = 1\n",
        "[llm]\ndeadline = \"5x\"\n",
        "[llm]\ndeadline = -1\n",
        "[[llm.providers]]\nname = \"p\"\nkind = \"gemini\"\n",
        "[[llm.models]]\nname = \"m\"\nstrategy = \"random\"\n",
        "[[llm.models]]\nname = \"m\"\n[[llm.models.deployments]]\nprovider = \"p\"\nwieght = 1\n",
    ] {
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct D {
            llm: LlmConfig,
        }
        assert!(toml::from_str::<D>(bad).is_err(), "accepted: {bad}");
    }
}

#[test]
fn build_errors_name_the_key() {
    let cases = [
        (
            "[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n[[llm.models]]\nname = \"a\"\ndeployments = [{ provider = \"p\" }]\n[[llm.models]]\nname = \"b\"\ndeployments = [{ provider = \"x\" }]\n",
            "llm.models[1].deployments[0].provider: no provider named \"x\"",
        ),
        (
            "[[llm.providers]]\nname = \"p\"\nkind = \"openai\"\nupstream = \"nope\"\n",
            "llm.providers[0].upstream: no cluster named \"nope\"",
        ),
        (
            "[[llm.providers]]\nname = \"p\"\nkind = \"openai\"\n",
            "llm.providers[0].upstream: a openai provider needs an upstream cluster",
        ),
        (
            "[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\nupstream = \"c\"\n",
            "llm.providers[0].upstream: a mock provider answers in the gateway and takes no upstream",
        ),
        (
            "[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n[[llm.models]]\nname = \"a\"\nfallbacks = [\"z\"]\ndeployments = [{ provider = \"p\" }]\n",
            "llm.models[0].fallbacks[0]: no model named \"z\"",
        ),
        (
            "[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n[[llm.models]]\nname = \"a\"\n",
            "llm.models[0].deployments: a model needs at least one deployment",
        ),
        (
            "[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n[[llm.models]]\nname = \"a\"\naliases = [\"a\"]\ndeployments = [{ provider = \"p\" }]\n",
            "llm.models[0].aliases[0]: model name \"a\" is used twice",
        ),
        (
            "[[llm.providers]]\nname = \"p\"\nkind = \"mock\"\n[[llm.models]]\nname = \"a\"\ndeployments = [{ provider = \"p\", weight = 0 }]\n",
            "llm.models[0].deployments[0].weight: must be greater than 0",
        ),
    ];
    for (text, want) in cases {
        let cfg = super::parse(text);
        let got = LlmRouter::build(&cfg, Arc::new(LlmShared::new(&cfg)), &clusters, 0)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(got.to_string(), want);
    }
}
