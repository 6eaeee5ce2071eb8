//! [`LlmRouter`]: one core's compiled view of the `[llm]` table — name lookup, splits,
//! the order in which to try deployments, keys, in-flight counts, latency and cool-downs.
//!
//! Everything a request reads lives in `Cell`s of this core; the cross-core
//! [`LlmShared`] is written only on a failure and read only by [`LlmRouter::sync`].

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tollgate_proto::h1::RequestHead;

use super::config::{MockConfig, ProviderKind, Strategy};
use super::shared::LlmShared;
use super::usage::Price;

mod build;

/// Index of a model in [`LlmRouter`], config order.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub struct ModelId(pub u16);
/// Index of a deployment: config order across all models.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub struct DeploymentId(pub u16);
/// Index of a provider, config order.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub struct ProviderId(pub u16);
/// Index of an API key within its provider.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u16);

/// The config cannot be compiled; `path` is the key at fault (`llm.models[1].fallbacks[0]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LlmBuildError {
    pub path: String,
    pub message: String,
}

/// Every key of the provider is disabled after 401/403; `retry_in` is when the first
/// comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("every API key of the provider is disabled for the next {retry_in:?}")]
pub struct AllKeysDisabled {
    pub retry_in: Duration,
}

/// A compiled `[[llm.providers]]` entry.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub kind: ProviderKind,
    /// Index of the `[[clusters]]` entry; `None` for mock providers.
    pub cluster: Option<usize>,
    pub base_path: String,
    /// Extra headers, names lowercased.
    pub headers: Vec<(Bytes, Bytes)>,
    pub anthropic_version: Bytes,
    /// The Host header to send; `None`: the cluster's default.
    pub host: Option<Bytes>,
    pub mock: MockConfig,
    /// Whole auth header values: `Bearer <key>` (openai, mock) or the key (anthropic).
    keys: Vec<Bytes>,
    /// Round-robin position.
    next_key: Cell<usize>,
    /// Per key, when it may be used again.
    key_until: Vec<Cell<Option<Instant>>>,
}

impl Provider {
    /// How many API keys it has.
    pub fn keys(&self) -> usize {
        self.keys.len()
    }
}

/// A compiled `[[llm.models]]` entry.
#[derive(Debug)]
pub struct Model {
    pub name: String,
    pub aliases: Vec<String>,
    pub strategy: Strategy,
    pub price: Option<Price>,
    pub deployments: Vec<DeploymentId>,
    pub fallbacks: Vec<ModelId>,
    splits: Vec<Split>,
    /// The plan that last visited this model (see [`LlmRouter::plan_into`]).
    visited: Cell<u32>,
}

#[derive(Debug)]
struct Split {
    model: ModelId,
    /// Percent of requests no header split took.
    weight: u32,
    /// Lowercased name and exact value.
    header: Option<(String, Vec<u8>)>,
}

/// A compiled `[[llm.models.deployments]]` entry and its per-core state.
#[derive(Debug)]
pub struct Deployment {
    pub model: ModelId,
    pub provider: ProviderId,
    /// The provider's name for the model.
    pub upstream_model: String,
    /// `provider/upstream_model`, for logs and metrics.
    pub label: String,
    pub weight: u32,
    /// Per core; 0: no limit.
    pub max_in_flight: u32,
    in_flight: Cell<u32>,
    /// EWMA of time to first token, in seconds; `None` until the first sample.
    ttft: Cell<Option<f64>>,
    cooled_until: Cell<Option<Instant>>,
}

impl Deployment {
    /// Requests in flight on this core.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.get()
    }

    /// EWMA of time to first token on this core; `None` before the first sample.
    pub fn ttft(&self) -> Option<Duration> {
        self.ttft.get().map(Duration::from_secs_f64)
    }
}

/// One deployment to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub deployment: DeploymentId,
    /// The model the deployment serves (a fallback model's, when `fallback`).
    pub model: ModelId,
    /// Serves a fallback model, not the one asked for.
    pub fallback: bool,
}

/// The deployments to try for one request, best first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub candidates: Vec<Candidate>,
    /// When no candidate is left and every deployment left out was cooling down (or had
    /// every key disabled): the shortest time until one comes back, for `Retry-After`.
    pub cooling_left: Option<Duration>,
}

/// EWMA weight of a new time-to-first-token sample.
const TTFT_ALPHA: f64 = 0.3;

/// Per-core compiled router. `!Sync`: each core builds its own from the same config and
/// the same `Arc<LlmShared>`.
#[derive(Debug)]
pub struct LlmRouter {
    shared: Arc<LlmShared>,
    providers: Vec<Provider>,
    models: Vec<Model>,
    deployments: Vec<Deployment>,
    by_name: HashMap<Box<[u8]>, ModelId>,
    listed: Vec<String>,
    max_attempts: usize,
    cooldown: Duration,
    max_cooldown: Duration,
    key_cooldown: Duration,
    rng: Cell<u64>,
    /// `LlmShared::version` at the last sync.
    synced: Cell<u64>,
    /// Counts plans, to mark visited models without a set per plan.
    plan_mark: Cell<u32>,
}

/// `now + d`, saturating far in the future instead of overflowing.
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

impl LlmRouter {
    /// No models: the gateway has no LLM routing.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// The model a request for `name` (a name or alias) goes to: the named model, or one
    /// of its splits — a header split when the request carries that header value, else a
    /// weighted draw. Splits are followed one level (a split's target's own splits are
    /// not). `None` for an unknown name.
    pub fn resolve(&self, name: &[u8], head: &RequestHead) -> Option<ModelId> {
        let id = *self.by_name.get(name)?;
        let model = &self.models[id.0 as usize];
        if model.splits.is_empty() {
            return Some(id);
        }
        for s in &model.splits {
            if let Some((n, v)) = &s.header {
                if head.header(n) == Some(v.as_slice()) {
                    return Some(s.model);
                }
            }
        }
        let mut draw = (self.next_random() % 100) as u32;
        for s in &model.splits {
            if draw < s.weight {
                return Some(s.model);
            }
            draw -= s.weight;
        }
        Some(id)
    }

    /// Looks a name or alias up, without splits.
    pub fn model_id(&self, name: &[u8]) -> Option<ModelId> {
        self.by_name.get(name).copied()
    }

    pub fn model(&self, id: ModelId) -> &Model {
        &self.models[id.0 as usize]
    }

    pub fn deployment(&self, id: DeploymentId) -> &Deployment {
        &self.deployments[id.0 as usize]
    }

    pub fn provider(&self, id: ProviderId) -> &Provider {
        &self.providers[id.0 as usize]
    }

    pub fn providers(&self) -> usize {
        self.providers.len()
    }

    pub fn deployments(&self) -> usize {
        self.deployments.len()
    }

    pub fn models(&self) -> usize {
        self.models.len()
    }

    /// Model names and aliases in config order (each model's name, then its aliases),
    /// for `GET /v1/models`.
    pub fn listed_models(&self) -> impl Iterator<Item = &str> {
        self.listed.iter().map(String::as_str)
    }

    /// The deployments to try, best first: the model's own, ordered by its strategy, then
    /// each fallback model's, depth first, each model once. Left out: deployments cooling
    /// down, at `max_in_flight`, or whose provider has every key disabled. At most
    /// `max_attempts` entries.
    pub fn plan(&self, model: ModelId, now: Instant) -> Plan {
        let mut plan = Plan::default();
        self.plan_into(model, now, &mut plan);
        plan
    }

    /// [`LlmRouter::plan`] into a plan the caller reuses (no allocation once its vector
    /// has grown).
    pub fn plan_into(&self, model: ModelId, now: Instant, plan: &mut Plan) {
        plan.candidates.clear();
        plan.cooling_left = None;
        // A new mark per plan: a model is visited when its mark equals it.
        let mut mark = self.plan_mark.get().wrapping_add(1);
        if mark == 0 {
            // Wrapped: old marks could collide with new ones.
            self.models.iter().for_each(|m| m.visited.set(0));
            mark = 1;
        }
        self.plan_mark.set(mark);
        let mut skip = Skipped::default();
        self.visit(model, model, mark, now, plan, &mut skip);
        debug_assert!(plan.candidates.len() <= self.max_attempts);
        if plan.candidates.is_empty() && !skip.full {
            plan.cooling_left = skip.cooling;
        }
    }

    /// Depth first through the fallbacks, each model once (config cycles end here).
    fn visit(
        &self,
        m: ModelId,
        asked: ModelId,
        mark: u32,
        now: Instant,
        plan: &mut Plan,
        skip: &mut Skipped,
    ) {
        let model = &self.models[m.0 as usize];
        if plan.candidates.len() >= self.max_attempts || model.visited.get() == mark {
            return;
        }
        model.visited.set(mark);
        self.add_model(m, m != asked, now, plan, skip);
        plan.candidates.truncate(self.max_attempts);
        for &f in &model.fallbacks {
            self.visit(f, asked, mark, now, plan, skip);
        }
    }

    /// Appends the model's usable deployments in its strategy's order.
    fn add_model(
        &self,
        m: ModelId,
        fallback: bool,
        now: Instant,
        plan: &mut Plan,
        skip: &mut Skipped,
    ) {
        let model = &self.models[m.0 as usize];
        let start = plan.candidates.len();
        for &d in &model.deployments {
            let dep = &self.deployments[d.0 as usize];
            if let Some(until) = dep.cooled_until.get().filter(|u| *u > now) {
                skip.cool(until - now);
                continue;
            }
            if dep.max_in_flight > 0 && dep.in_flight.get() >= dep.max_in_flight {
                skip.full = true;
                continue;
            }
            if let Some(left) = self.keys_out(dep.provider, now) {
                skip.cool(left);
                continue;
            }
            plan.candidates.push(Candidate {
                deployment: d,
                model: m,
                fallback,
            });
        }
        let mine = &mut plan.candidates[start..];
        self.weighted_shuffle(mine);
        match model.strategy {
            Strategy::Weighted => {}
            Strategy::LeastInFlight => {
                mine.sort_by_key(|c| self.deployments[c.deployment.0 as usize].in_flight.get());
            }
            Strategy::Latency => mine.sort_by(|a, b| {
                let ttft = |c: &Candidate| {
                    self.deployments[c.deployment.0 as usize]
                        .ttft
                        .get()
                        .unwrap_or(0.0)
                };
                ttft(a).total_cmp(&ttft(b))
            }),
        }
    }

    /// A weighted random order without replacement: each position draws from the rest in
    /// proportion to their weights.
    fn weighted_shuffle(&self, c: &mut [Candidate]) {
        for i in 0..c.len().saturating_sub(1) {
            let weight =
                |c: &Candidate| u64::from(self.deployments[c.deployment.0 as usize].weight);
            let total: u64 = c[i..].iter().map(weight).sum();
            if total == 0 {
                return;
            }
            let mut draw = self.next_random() % total;
            let mut pick = i;
            for (j, cand) in c.iter().enumerate().skip(i) {
                let w = weight(cand);
                if draw < w {
                    pick = j;
                    break;
                }
                draw -= w;
            }
            c.swap(i, pick);
        }
    }

    /// `Some(time left)` when the provider has keys and every one is disabled.
    fn keys_out(&self, p: ProviderId, now: Instant) -> Option<Duration> {
        let provider = &self.providers[p.0 as usize];
        if provider.keys.is_empty() {
            return None;
        }
        let mut shortest = Duration::MAX;
        for until in &provider.key_until {
            match until.get().filter(|u| *u > now) {
                None => return None,
                Some(u) => shortest = shortest.min(u - now),
            }
        }
        Some(shortest)
    }

    /// The provider's next usable key, round robin, skipping disabled keys, as the whole
    /// header value. `Ok(None)` when the provider has no keys.
    pub fn take_key(
        &self,
        p: ProviderId,
        now: Instant,
    ) -> Result<Option<(KeyId, Bytes)>, AllKeysDisabled> {
        let provider = &self.providers[p.0 as usize];
        let n = provider.keys.len();
        if n == 0 {
            return Ok(None);
        }
        let start = provider.next_key.get() % n;
        let mut shortest = Duration::MAX;
        for k in (start..n).chain(0..start) {
            match provider.key_until[k].get().filter(|u| *u > now) {
                Some(u) => shortest = shortest.min(u - now),
                None => {
                    provider.next_key.set(k + 1);
                    return Ok(Some((KeyId(k as u16), provider.keys[k].clone())));
                }
            }
        }
        Err(AllKeysDisabled { retry_in: shortest })
    }

    /// The key got 401/403: out for `key_cooldown`, here at once and on the other cores
    /// at their next sync.
    pub fn key_failed(&self, p: ProviderId, k: KeyId, now: Instant) {
        let provider = &self.providers[p.0 as usize];
        let Some(cell) = provider.key_until.get(k.0 as usize) else {
            return;
        };
        let until = later(now, self.key_cooldown);
        cell.set(Some(cell.get().map_or(until, |u| u.max(until))));
        self.shared.disable_key(p.0 as usize, k.0 as usize, until);
        tracing::warn!(
            provider = %provider.name,
            key = k.0,
            cooldown_s = self.key_cooldown.as_secs(),
            "LLM provider refused an API key (401/403); the key is out of rotation",
        );
    }

    /// A request to the deployment starts (per-core in-flight count).
    pub fn begin(&self, d: DeploymentId) {
        let c = &self.deployments[d.0 as usize].in_flight;
        c.set(c.get().saturating_add(1));
    }

    /// A request to the deployment ended, however it ended.
    pub fn end(&self, d: DeploymentId) {
        let c = &self.deployments[d.0 as usize].in_flight;
        debug_assert!(c.get() > 0, "end without begin");
        c.set(c.get().saturating_sub(1));
    }

    /// A time to first token seen on this deployment (EWMA, alpha 0.3).
    pub fn record_ttft(&self, d: DeploymentId, ttft: Duration) {
        let cell = &self.deployments[d.0 as usize].ttft;
        let x = ttft.as_secs_f64();
        cell.set(Some(match cell.get() {
            None => x,
            Some(old) => TTFT_ALPHA * x + (1.0 - TTFT_ALPHA) * old,
        }));
    }

    /// The deployment failed (429, 5xx, connect error, time-out): it cools down for
    /// `cooldown` (the provider's reset time, capped by `max_cooldown`) or else the
    /// configured `cooldown`; here at once, on the other cores at their next sync.
    pub fn failed(&self, d: DeploymentId, now: Instant, cooldown: Option<Duration>) {
        let span = cooldown.map_or(self.cooldown, |c| c.min(self.max_cooldown));
        let until = later(now, span);
        let cell = &self.deployments[d.0 as usize].cooled_until;
        cell.set(Some(cell.get().map_or(until, |u| u.max(until))));
        self.shared.cool_deployment(d.0 as usize, until);
    }

    /// The housekeeping tick: copy the other cores' cool-downs and disabled keys from
    /// [`LlmShared`] into this core's cells. One atomic load when nothing changed.
    pub fn sync(&self, now: Instant) {
        let version = self.shared.version();
        if version == self.synced.get() {
            return;
        }
        self.synced.set(version);
        let merge = |cell: &Cell<Option<Instant>>, shared: Option<Instant>| {
            if let Some(s) = shared.filter(|s| *s > now) {
                if cell.get().is_none_or(|c| c < s) {
                    cell.set(Some(s));
                }
            }
        };
        for (i, d) in self.deployments.iter().enumerate() {
            merge(&d.cooled_until, self.shared.deployment_until(i));
        }
        for (p, provider) in self.providers.iter().enumerate() {
            for (k, cell) in provider.key_until.iter().enumerate() {
                merge(cell, self.shared.key_until(p, k));
            }
        }
    }

    /// When the deployment's cool-down ends on this core, if it is cooling.
    pub fn cooling_until(&self, d: DeploymentId, now: Instant) -> Option<Instant> {
        self.deployments[d.0 as usize]
            .cooled_until
            .get()
            .filter(|u| *u > now)
    }

    /// xorshift64*; per core, not for secrets.
    fn next_random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Why deployments were left out of a plan.
#[derive(Default)]
struct Skipped {
    /// Shortest cool-down (or key disable) left among those left out for it.
    cooling: Option<Duration>,
    /// Some were left out for being at `max_in_flight`.
    full: bool,
}

impl Skipped {
    fn cool(&mut self, left: Duration) {
        self.cooling = Some(self.cooling.map_or(left, |c| c.min(left)));
    }
}
