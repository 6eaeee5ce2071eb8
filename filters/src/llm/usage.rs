//! Token usage of one request and its price.
//!
//! [`Usage`] follows OpenAI's meaning: `input` counts every prompt token, and
//! `cache_read` / `cache_write` are the parts of it served from / written to the
//! provider's prompt cache. Anthropic reports `input_tokens` without its cache fields, so
//! a caller translating Anthropic usage sums `input_tokens + cache_read_input_tokens +
//! cache_creation_input_tokens` into `input`. `reasoning` is part of `output` (OpenAI's
//! `completion_tokens` include it) and is not charged again.

use serde::{Deserialize, Serialize};

/// Tokens one request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Every prompt token, cached or not.
    pub input: u64,
    pub output: u64,
    /// Part of `input` read from the provider's cache.
    pub cache_read: u64,
    /// Part of `input` written to the provider's cache.
    pub cache_write: u64,
    /// Part of `output` spent on reasoning.
    pub reasoning: u64,
    /// Counted by the gateway's estimator, not reported by the provider.
    pub estimated: bool,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }
}

/// USD per million tokens. In the config `cached_input` and `cache_write` may be left
/// out; they then cost as much as `input`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(from = "PriceConfig")]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cached_input: f64,
    pub cache_write: f64,
}

impl Price {
    /// The request's cost in USD: uncached input (`input - cache_read - cache_write`,
    /// saturating) at `input`, cache reads at `cached_input`, cache writes at
    /// `cache_write`, output at `output`.
    pub fn cost(&self, u: &Usage) -> f64 {
        let uncached = u
            .input
            .saturating_sub(u.cache_read)
            .saturating_sub(u.cache_write);
        (uncached as f64 * self.input
            + u.cache_read as f64 * self.cached_input
            + u.cache_write as f64 * self.cache_write
            + u.output as f64 * self.output)
            / 1_000_000.0
    }
}

/// The config's shape of a price, before the defaults are filled in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceConfig {
    input: f64,
    output: f64,
    #[serde(default)]
    cached_input: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
}

impl From<PriceConfig> for Price {
    fn from(p: PriceConfig) -> Price {
        Price {
            input: p.input,
            output: p.output,
            cached_input: p.cached_input.unwrap_or(p.input),
            cache_write: p.cache_write.unwrap_or(p.input),
        }
    }
}
