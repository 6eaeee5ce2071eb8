//! The `[llm]` table and a route's `llm` key (serde). Only the shape and the defaults
//! live here; names that must exist and values that must agree are checked by the core's
//! config validation (`core/src/config/validate/llm.rs`) and again, for what would break
//! the router, by [`super::LlmRouter::build`].
//!
//! Durations take the same strings as the rest of the config: `"20ms"`, `"10s"`, `"5m"`,
//! `"1h"`, `"1d"`, or an integer number of milliseconds (parsed by
//! [`crate::ratelimit::Span::parse`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::usage::Price;

/// The `[llm]` table: limits shared by every LLM route, the providers and the models.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Request body buffered for LLM routes; over it: 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// The whole request: all attempts plus the stream.
    #[serde(default = "default_deadline", with = "duration")]
    pub deadline: Duration,
    /// One attempt, until the provider's response head (or first event).
    #[serde(default = "default_attempt_timeout", with = "duration")]
    pub attempt_timeout: Duration,
    /// Attempts across deployments and fallback models.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// A deployment's cool-down after 429/5xx/connect error/time-out when the provider
    /// gave no reset time.
    #[serde(default = "default_cooldown", with = "duration")]
    pub cooldown: Duration,
    /// Cap on a provider-given reset time.
    #[serde(default = "default_max_cooldown", with = "duration")]
    pub max_cooldown: Duration,
    /// How long an API key that got 401/403 stays out, on every core.
    #[serde(default = "default_key_cooldown", with = "duration")]
    pub key_cooldown: Duration,
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    #[serde(default)]
    pub models: Vec<ModelConfig>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            max_body_bytes: default_max_body_bytes(),
            deadline: default_deadline(),
            attempt_timeout: default_attempt_timeout(),
            max_attempts: default_max_attempts(),
            cooldown: default_cooldown(),
            max_cooldown: default_max_cooldown(),
            key_cooldown: default_key_cooldown(),
            providers: Vec::new(),
            models: Vec::new(),
        }
    }
}

fn default_max_body_bytes() -> u64 {
    4 * 1024 * 1024
}
fn default_deadline() -> Duration {
    Duration::from_secs(300)
}
fn default_attempt_timeout() -> Duration {
    Duration::from_secs(60)
}
fn default_max_attempts() -> u32 {
    4
}
fn default_cooldown() -> Duration {
    Duration::from_secs(10)
}
fn default_max_cooldown() -> Duration {
    Duration::from_secs(300)
}
fn default_key_cooldown() -> Duration {
    Duration::from_secs(600)
}

/// The API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI's API, or any OpenAI-compatible server (vLLM, Ollama, Groq, ...).
    #[serde(rename = "openai")]
    OpenAi,
    Anthropic,
    /// Answered inside the gateway, for trying it out and for load tests.
    Mock,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Mock => "mock",
        }
    }
}

/// One `[[llm.providers]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// A `[[clusters]]` name; required for `openai` and `anthropic`, refused for `mock`.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Prefix of the provider's API paths (`/v1` + `/chat/completions`).
    #[serde(default = "default_base_path")]
    pub base_path: String,
    /// Keys used in turn; `"env:NAME"` reads the variable when the config is loaded.
    /// Empty: requests carry no auth header.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Extra headers sent to the provider.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `anthropic-version` sent to `anthropic` providers.
    #[serde(default = "default_anthropic_version")]
    pub anthropic_version: String,
    /// The Host header; empty: the cluster's default.
    #[serde(default)]
    pub host: String,
    /// Only for `kind = "mock"`.
    #[serde(default)]
    pub mock: Option<MockConfig>,
}

fn default_base_path() -> String {
    "/v1".into()
}
fn default_anthropic_version() -> String {
    "2023-06-01".into()
}

/// How a mock provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MockConfig {
    /// Time to the first token.
    #[serde(default = "default_ttft", with = "duration")]
    pub ttft: Duration,
    /// Output pacing; 0: all at once.
    #[serde(default)]
    pub tokens_per_second: u32,
    /// Tokens in each answer.
    #[serde(default = "default_output_tokens")]
    pub output_tokens: u32,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            ttft: default_ttft(),
            tokens_per_second: 0,
            output_tokens: default_output_tokens(),
        }
    }
}

fn default_ttft() -> Duration {
    Duration::from_millis(20)
}
fn default_output_tokens() -> u32 {
    16
}

/// How a model orders its deployments for each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// A weighted random order.
    #[default]
    Weighted,
    /// Fewest requests in flight on this core first (ties: weighted).
    LeastInFlight,
    /// Lowest EWMA of time to first token first; unsampled deployments first.
    Latency,
}

/// One `[[llm.models]]` entry: the name clients ask for.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub strategy: Strategy,
    /// Models tried, depth first, when every deployment of this one failed or is out.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// USD per million tokens.
    #[serde(default)]
    pub price: Option<Price>,
    #[serde(default)]
    pub deployments: Vec<DeploymentConfig>,
    /// Canary and test groups: some requests for this model go to another.
    #[serde(default)]
    pub split: Vec<SplitConfig>,
}

/// One `[[llm.models.deployments]]` entry: a provider that serves the model.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    pub provider: String,
    /// The provider's name for the model; default: the model's name.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Requests in flight per core; 0: no limit. A full deployment is skipped.
    #[serde(default)]
    pub max_in_flight: u32,
}

fn default_weight() -> u32 {
    1
}

/// One `[[llm.models.split]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// The model that takes the requests.
    pub model: String,
    /// Percent (0-100) of the requests that no header split took.
    #[serde(default)]
    pub weight: u32,
    /// `"name: value"`: every request with that header value goes to `model`, before
    /// any weighted draw. Empty: none.
    #[serde(default)]
    pub header: String,
}

/// A route's `llm` key: the route serves the LLM API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteLlmConfig {
    /// Stream events held back before the response is committed to the client (and
    /// can no longer be retried elsewhere).
    #[serde(default = "default_commit_events")]
    pub commit_events: u32,
    /// Stream bytes held back before the commit; 0: no byte threshold.
    #[serde(default)]
    pub commit_bytes: u64,
    /// Model names (or aliases) allowed on this route; empty: all.
    #[serde(default)]
    pub models: Vec<String>,
}

impl Default for RouteLlmConfig {
    fn default() -> Self {
        RouteLlmConfig {
            commit_events: default_commit_events(),
            commit_bytes: 0,
            models: Vec::new(),
        }
    }
}

fn default_commit_events() -> u32 {
    1
}

/// Splits `"name: value"` into a trimmed name and value; `None` without a colon.
pub fn split_header_rule(rule: &str) -> Option<(&str, &str)> {
    let (name, value) = rule.split_once(':')?;
    Some((name.trim(), value.trim()))
}

/// Serde for a [`Duration`] written as `"20ms"`, `"10s"`, ... or integer milliseconds.
pub mod duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    use crate::ratelimit::Span;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"20ms\", \"10s\", \"5m\", or ms as an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Span::parse(v)
                    .map(|s| Duration::from_millis(s.0))
                    .map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration::from_millis(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(Duration::from_millis)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
        }
        d.deserialize_any(V)
    }

    pub fn serialize<S: Serializer>(v: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", v.as_millis()))
    }
}
