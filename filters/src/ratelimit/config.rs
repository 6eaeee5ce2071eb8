//! Config of rate limits (serde): the `[rate_limits]` table of the gateway's config,
//! compiled into [`LimitSpec`]s (one per limit, per process):
//!
//! ```toml
//! [rate_limits.sync]
//! interval = "5ms"
//!
//! [[rate_limits.limits]]
//! name = "tpm-per-consumer-model"
//! kind = "total_tokens"
//! per = ["consumer", "model"]
//! limit = 100000
//! window = "1m"
//! routes = ["llm"]
//! ```

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::spec::{max_allowance, FailMode, Kind, LimitSpec, MAX_LIMIT};
use crate::headers::field_name;

mod redis;
pub use redis::{
    key_char, parse_address as parse_redis_address, resolve_secret, KeySecret, RedisConfig,
};

/// The `[rate_limits]` table: tuning shared by every limit, and the limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Add `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (of the limit
    /// closest to running out) to admitted responses too, not only to 429s.
    #[serde(default = "yes")]
    pub response_headers: bool,
    #[serde(default)]
    pub sync: SyncConfig,
    #[serde(default)]
    pub limits: Vec<LimitConfig>,
    /// Cluster mode: the global budgets live in this Redis, shared by every instance
    /// that points at it (see [`RedisConfig`]). Without it they live in the process.
    #[serde(default)]
    pub redis: Option<RedisConfig>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            response_headers: true,
            sync: SyncConfig::default(),
            limits: Vec::new(),
            redis: None,
        }
    }
}

/// How cores reconcile with the shared budget.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    /// How often a core reconciles the keys it holds allowance for: `1ms` to `1s`.
    #[serde(default = "default_interval")]
    pub interval: Span,
    /// `k`: all cores together hold at most `L / k` of a window's budget at once, which
    /// is the over-admission bound after the fact (`cores x max(1, L / (cores x k))`).
    /// Larger is tighter and exchanges more often. `1..=1024`.
    #[serde(default = "default_share_divisor")]
    pub share_divisor: u32,
    /// Keys one core tracks per limit; the least recently used goes first.
    #[serde(default = "default_max_keys_per_core")]
    pub max_keys_per_core: usize,
    /// Keys the in-process budget holds per limit and window; past it, new keys get the
    /// `on_unavailable` policy.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
    /// A key a core has not seen for this long leaves its map.
    #[serde(default = "default_idle_ttl")]
    pub idle_ttl: Span,
    /// When the shared budget cannot answer: `closed` refuses what local allowance
    /// cannot cover; `open` limits each core to `limit / cores` on its own.
    #[serde(default = "default_fail")]
    pub on_unavailable: FailMode,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            interval: default_interval(),
            share_divisor: default_share_divisor(),
            max_keys_per_core: default_max_keys_per_core(),
            max_keys: default_max_keys(),
            idle_ttl: default_idle_ttl(),
            on_unavailable: default_fail(),
        }
    }
}

/// Caps on the key maps: far above any real key space, low enough that the slot
/// arithmetic cannot overflow.
const MAX_KEYS_PER_CORE: usize = 1 << 24;
const MAX_KEYS: usize = 1 << 30;

fn default_interval() -> Span {
    Span(5)
}
fn default_share_divisor() -> u32 {
    4
}
fn default_max_keys_per_core() -> usize {
    65_536
}
fn default_max_keys() -> usize {
    1 << 20
}
fn default_idle_ttl() -> Span {
    Span(10_000)
}
fn default_fail() -> FailMode {
    FailMode::Closed
}

/// One limit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// For logs, metrics and `RateLimit-Policy`; defaults to `<kind>`.
    #[serde(default)]
    pub name: String,
    pub kind: Kind,
    /// What the budget is per: any of `consumer`, `group`, `route`, `model`,
    /// `client_ip`, `header`, combined. Empty: one budget for every request it covers.
    #[serde(default)]
    pub per: Vec<KeyPart>,
    /// The header whose value keys the limit, when `per` has `header`.
    #[serde(default)]
    pub header: Option<String>,
    /// `L`: units per window (requests, tokens, micro-dollars) or permits in flight.
    pub limit: u64,
    /// The window, `1s` to `366d` (default `1m`). For `concurrent`: how often its table
    /// rotates (default `1h`); a permit held longer than that stops counting.
    #[serde(default)]
    pub window: Option<Span>,
    /// Token and spend limits: reserve an estimate at admission (prompt estimate plus
    /// `max_tokens`, priced for spend) and settle to the usage. Without it a request
    /// passes while the budget is above zero and is charged when its usage is known.
    #[serde(default = "yes")]
    pub reserve: bool,
    /// Overrides `sync.on_unavailable` for this limit.
    #[serde(default)]
    pub on_unavailable: Option<FailMode>,
    /// The routes (by name) the limit applies to; empty: every route. Token and spend
    /// limits, and any limit `per` model, apply on LLM routes only.
    #[serde(default)]
    pub routes: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A part of the request a limit's key is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPart {
    Consumer,
    Group,
    Route,
    Model,
    ClientIp,
    Header,
}

/// A config value that is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit `{limit}`: `{field}`: {message}")]
pub struct InvalidLimit {
    pub limit: String,
    pub field: &'static str,
    pub message: String,
}

impl LimitConfig {
    /// Checks the limit and compiles it for a process with `cores` workers.
    pub fn compile(&self, sync: &SyncConfig, cores: u32) -> Result<LimitSpec, InvalidLimit> {
        let bad = |field: &'static str, message: String| InvalidLimit {
            limit: self.display_name(),
            field,
            message,
        };
        let limit = i64::try_from(self.limit)
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| bad("limit", format!("must be 1 to {MAX_LIMIT}")))?;
        let windowed = self.kind.is_windowed();
        let window = match (self.window, windowed) {
            (Some(w), true) if (1_000..=366 * 86_400_000).contains(&w.0) => w.0,
            (Some(_), true) => return Err(bad("window", "must be 1s to 366d".into())),
            (Some(w), false) if w.0 >= 60_000 => w.0,
            (Some(_), false) => return Err(bad("window", "must be at least 1m".into())),
            (None, true) => 60_000,
            (None, false) => 3_600_000,
        };
        for (i, p) in self.per.iter().enumerate() {
            if self.per[..i].contains(p) {
                return Err(bad("per", format!("{p:?} is listed twice")));
            }
        }
        match (&self.header, self.per.contains(&KeyPart::Header)) {
            (Some(h), true) => {
                field_name(h).map_err(|e| bad("header", e))?;
            }
            (None, true) => return Err(bad("header", "`per` has header: name it".into())),
            (Some(_), false) => return Err(bad("header", "set, but `per` has no header".into())),
            (None, false) => {}
        }
        sync.check().map_err(|(field, m)| bad(field, m))?;
        let cores = cores.max(1);
        let mut spec = LimitSpec::new(self.kind, limit, window, cores);
        spec.sync_interval_ms = sync.interval.0;
        spec.max_allowance = max_allowance(limit, cores, sync.share_divisor);
        spec.max_keys_per_core = sync.max_keys_per_core;
        spec.idle_ttl_ms = sync.idle_ttl.0;
        spec.fail = self.on_unavailable.unwrap_or(sync.on_unavailable);
        Ok(spec)
    }

    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            self.kind.name().to_string()
        } else {
            self.name.clone()
        }
    }
}

impl SyncConfig {
    /// Checks the ranges; the error names the key (`sync.interval`, ...) and says why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=1_000).contains(&self.interval.0) {
            return Err(("sync.interval", "must be 1ms to 1s".into()));
        }
        if !(1..=1024).contains(&self.share_divisor) {
            return Err(("sync.share_divisor", "must be 1 to 1024".into()));
        }
        if !(1..=MAX_KEYS_PER_CORE).contains(&self.max_keys_per_core) {
            let m = format!("must be 1 to {MAX_KEYS_PER_CORE}");
            return Err(("sync.max_keys_per_core", m));
        }
        if !(1..=MAX_KEYS).contains(&self.max_keys) {
            return Err(("sync.max_keys", format!("must be 1 to {MAX_KEYS}")));
        }
        if self.idle_ttl.0 < self.interval.0 {
            return Err(("sync.idle_ttl", "must be at least sync.interval".into()));
        }
        Ok(())
    }
}

/// A span of time in the config: `"250ms"`, `"10s"`, `"5m"`, `"1h"`, `"1d"`, or an
/// integer number of ms (the grammar of the gateway's other durations). Held in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub u64);

impl Span {
    pub fn parse(s: &str) -> Result<Span, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num.parse().map_err(|_| {
            format!("invalid duration {s:?}: expected a number and ms, s, m, h or d")
        })?;
        let scale = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(format!(
                    "invalid duration {s:?}: unit must be ms, s, m, h or d"
                ))
            }
        };
        n.checked_mul(scale)
            .map(Span)
            .ok_or_else(|| format!("invalid duration {s:?}: too large"))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"5ms\", \"1m\", \"1d\", or ms as an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Span, E> {
                Ok(Span(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Span, E> {
                u64::try_from(v)
                    .map(Span)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", self.0))
    }
}

#[cfg(test)]
#[path = "config/tests.rs"]
mod tests;
