//! The rate-limit filter: builds each limit's key from the request, admits it through
//! the core's [`Limiter`], answers a refusal with a 429, and settles the admissions when
//! the request ends.
//!
//! # Per core, per generation
//!
//! [`RateLimits`] is one core's limits for one config generation: a [`Limiter`] over
//! [`LimitCell`]s (the generation's in-process cells from [`RateLimitShared`], or a
//! remote cell), behind a `RefCell` (core-local, never borrowed across an `await`).
//! [`RateLimits::attach`] puts a [`RateLimitFilter`] on every route that some limit
//! applies to, after CORS, authentication, header edits and rewrite, before a direct
//! response. The worker calls [`RateLimits::tick`] every `sync.interval`.
//!
//! A request settles on the generation it was admitted on (it holds that generation's
//! chain to its end). When a newer generation takes over, the old one keeps being
//! ticked while requests still hold it, and gives back everything its shards hold when
//! it is dropped. The budgets themselves live in the shared cells, which a reload keeps
//! (see [`RateLimitShared`]): so a reload neither refills nor loses a budget. While two
//! generations overlap on a core, both may hold allowance: the over-admission bound is
//! `(N + N_old) · a_max` for that time instead of `N · a_max`.
//!
//! # Phases
//!
//! - request head: limits of kind `requests` or `concurrent` that are not `per` model.
//! - `on_llm_request` (LLM routes, once the model is resolved): token and spend limits,
//!   and any limit `per` model. Their reservation is in [`super::reserve`]. These
//!   limits do not apply on routes without `llm`.
//! - `on_log` (every request, access log or not): every admission is settled to its
//!   real cost (tokens from the usage, spend from the cost, a concurrency permit given
//!   back).
//!
//! # Keys
//!
//! The parts of `per`, in order, hashed with the process's [`KeyHasher`]:
//! `consumer` (the authenticated consumer's name; a request without one is keyed on its
//! client IP), `group` (the consumer's group; a consumer without a group is its own
//! group, and no consumer means the client IP), `route` (the route's name), `model` (the
//! name of the model the router resolved, so aliases share a budget), `client_ip` (the
//! peer address of the connection; `X-Forwarded-For` is not trusted), `header` (the
//! first value of the header; a request without it is keyed on the empty value, so
//! leaving it out does not escape the limit). `per = []` is one budget for every request
//! the limit covers.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tollgate_proto::h1::RequestHead;

use super::answer::{clear_quota_fields, refusal, set_quota_fields, RefusedLimit};
use super::cell::{Exchange, Grant};
use super::config::{InvalidLimit, KeyPart, RateLimitConfig};
use super::counters::LimitCounters;
use super::key::{KeyHasher, LimitKey};
use super::limiter::{Ask, LimitId, Limiter, Ticket};
use super::reserve::{usage_of, Estimate};
use super::shard::{Shard, ShardStats};
use super::shared::{LimitCell, RateLimitShared, RemoteFor};
use super::spec::{Kind, Quota};
use crate::chain::{Filter, LlmRequest, RouteAction};
use crate::llm::{Dialect, LlmConfig, ModelId, Price};
use crate::{Chain, Flow, RequestCtx};

/// The rate-limit state of one request: its admissions until `on_log` settles them.
#[derive(Debug, Default)]
pub struct LimitCtx {
    pub tickets: Vec<Ticket>,
    /// The admitted quota closest to running out, for the `RateLimit-*` fields.
    pub quota: Option<Quota>,
    /// Cluster mode: the refusal just returned is only because this core's exchange for
    /// a fail-closed limit's key is out (the core holds nothing for it). The connection
    /// driver may wait for that answer and run the limits again
    /// ([`Chain::recheck_limits`](crate::Chain::recheck_limits)); such a refusal is
    /// not counted, the last try counts its own outcome.
    pub await_exchange: bool,
    /// Set by the driver for its last try: a refusal now is final (counted, not flagged).
    pub no_wait: bool,
}

impl LimitCtx {
    pub fn reset(&mut self) {
        self.tickets.clear();
        self.quota = None;
        self.await_exchange = false;
        self.no_wait = false;
    }
}

/// One limit as the filter needs it.
#[derive(Debug)]
struct Meta {
    name: Box<str>,
    kind: Kind,
    window_ms: u64,
    per: Box<[KeyPart]>,
    /// Lowercase.
    header: Option<Box<str>>,
    reserve: bool,
    routes: Box<[String]>,
    /// Checked once the model is known (LLM routes only).
    llm_phase: bool,
    counters: Arc<LimitCounters>,
}

#[derive(Debug)]
struct State {
    limiter: Limiter<LimitCell>,
    asks: Vec<Ask>,
    scratch: Vec<u8>,
    /// Per limit: the shard's stats and key count as last added to the counters.
    published: Vec<(ShardStats, usize)>,
}

/// One core's limits for one config generation.
#[derive(Debug)]
pub struct RateLimits {
    limits: Box<[Meta]>,
    hasher: KeyHasher,
    /// Indexed by [`ModelId`]: the model's name and price.
    models: Box<[(Box<str>, Option<Price>)]>,
    response_headers: bool,
    sync_interval_ms: u64,
    state: RefCell<State>,
}

/// Milliseconds since the Unix epoch: the time every window is aligned to.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl RateLimits {
    /// Compiles `cfg` for one core; `None` when it has no limits. `counters` gives the
    /// metrics of a limit by name; `remote` may give a remote cell for a limit (else the
    /// in-process cell of `shared` is used).
    pub fn build(
        cfg: &RateLimitConfig,
        shared: &RateLimitShared,
        llm: &LlmConfig,
        counters: &dyn Fn(&str) -> Arc<LimitCounters>,
        remote: &RemoteFor,
    ) -> Result<Option<Rc<RateLimits>>, InvalidLimit> {
        if cfg.limits.is_empty() {
            return Ok(None);
        }
        let mut limiter = Limiter::new();
        let mut limits = Vec::with_capacity(cfg.limits.len());
        for (i, l) in cfg.limits.iter().enumerate() {
            let spec = l.compile(&cfg.sync, shared.cores())?;
            let id = LimitId(u16::try_from(i).map_err(|_| InvalidLimit {
                limit: l.display_name(),
                field: "limits",
                message: "more than 65535 limits".into(),
            })?);
            let cell = match remote(id, l) {
                Some(cell) => LimitCell::Remote { limit: id, cell },
                None => LimitCell::InProcess(Arc::clone(shared.cell(i).ok_or_else(|| {
                    InvalidLimit {
                        limit: l.display_name(),
                        field: "limits",
                        message: "no shared budget was built for this limit".into(),
                    }
                })?)),
            };
            let window_ms = spec.window_ms;
            limiter.push(Shard::new(spec, cell));
            let name = l.display_name();
            limits.push(Meta {
                counters: counters(&name),
                name: name.into(),
                kind: l.kind,
                window_ms,
                per: l.per.clone().into(),
                header: l.header.as_ref().map(|h| h.to_ascii_lowercase().into()),
                reserve: l.reserve,
                routes: l.routes.clone().into(),
                llm_phase: !matches!(l.kind, Kind::Requests | Kind::Concurrent)
                    || l.per.contains(&KeyPart::Model),
            });
        }
        let models = llm
            .models
            .iter()
            .map(|m| (m.name.as_str().into(), m.price))
            .collect();
        let published = vec![(ShardStats::default(), 0); limits.len()];
        Ok(Some(Rc::new(RateLimits {
            limits: limits.into(),
            hasher: *shared.hasher(),
            models,
            response_headers: cfg.response_headers,
            sync_interval_ms: cfg.sync.interval.0,
            state: RefCell::new(State {
                limiter,
                asks: Vec::new(),
                scratch: Vec::new(),
                published,
            }),
        })))
    }

    /// Puts a [`RateLimitFilter`] on every route of `chain` that a limit applies to.
    pub fn attach(self: &Rc<Self>, chain: &mut Chain) {
        for route in &mut chain.router.routes {
            let llm_route = route.action == RouteAction::Llm;
            let applies = |m: &Meta| m.routes.is_empty() || m.routes.contains(&route.name);
            let ids = |llm_phase: bool| -> Box<[LimitId]> {
                (0..self.limits.len())
                    .filter(|&i| {
                        let m = &self.limits[i];
                        m.llm_phase == llm_phase && applies(m)
                    })
                    .map(|i| LimitId(i as u16))
                    .collect()
            };
            let head = ids(false);
            let llm = if llm_route { ids(true) } else { Box::default() };
            if head.is_empty() && llm.is_empty() {
                continue;
            }
            let filter = Filter::RateLimit(RateLimitFilter {
                limits: Rc::clone(self),
                route: route.name.as_bytes().into(),
                llm_route,
                head,
                llm,
            });
            let at = route
                .filters
                .iter()
                .position(|f| matches!(f, Filter::Respond(_) | Filter::ResponseHeaders(_)))
                .unwrap_or(route.filters.len());
            route.filters.insert(at, filter);
        }
    }

    /// How often [`RateLimits::tick`] should run.
    pub fn sync_interval_ms(&self) -> u64 {
        self.sync_interval_ms
    }

    /// The core's timer: reconciles the keys that hold allowance, debt or unmet demand
    /// (idle keys cost nothing), and adds what changed to the counters.
    pub fn tick(&self, now: u64) {
        let mut st = self.state.borrow_mut();
        st.limiter.tick(now);
        self.publish(&mut st);
    }

    /// The answer to an exchange a remote cell took as pending; `None` when the store
    /// did not answer (the limit's `on_unavailable` applies).
    pub fn complete(&self, limit: LimitId, ex: &Exchange, grant: Option<Grant>, now: u64) {
        let mut st = self.state.borrow_mut();
        if usize::from(limit.0) < st.limiter.len() {
            st.limiter.complete(limit, ex, grant, now);
        }
    }

    fn publish(&self, st: &mut State) {
        let State {
            limiter, published, ..
        } = st;
        for (i, (meta, last)) in self.limits.iter().zip(published.iter_mut()).enumerate() {
            let id = LimitId(i as u16);
            let stats = limiter.stats(id);
            let keys = limiter.shard(id).keys();
            meta.counters.add_exchanges(
                stats.exchanges.saturating_sub(last.0.exchanges),
                stats.unavailable.saturating_sub(last.0.unavailable),
            );
            meta.counters.add_keys(keys as i64 - last.1 as i64);
            *last = (stats, keys);
        }
    }

    /// The key of limit `m` for this request.
    fn key(
        &self,
        m: &Meta,
        ctx: &RequestCtx,
        head: &RequestHead,
        route: &[u8],
        model: Option<ModelId>,
        scratch: &mut Vec<u8>,
    ) -> LimitKey {
        let (consumer, group) = identity(ctx);
        let ip = ctx.client.ip();
        let mut b = self.hasher.builder(scratch);
        for part in m.per.iter() {
            b = match part {
                KeyPart::Consumer => match consumer {
                    Some(c) => b.consumer(c),
                    None => b.client_ip(ip),
                },
                KeyPart::Group => match (group, consumer) {
                    (Some(g), _) => b.group(g),
                    (None, Some(c)) => b.consumer(c),
                    (None, None) => b.client_ip(ip),
                },
                KeyPart::Route => b.route(route),
                KeyPart::Model => {
                    let name = model
                        .and_then(|id| self.models.get(usize::from(id.0)))
                        .map_or(&b""[..], |(n, _)| n.as_bytes());
                    b.model(name)
                }
                KeyPart::ClientIp => b.client_ip(ip),
                KeyPart::Header => {
                    let name = m.header.as_deref().unwrap_or("");
                    b.header(name.as_bytes(), head.header(name).unwrap_or(b""))
                }
            };
        }
        b.finish()
    }
}

impl Drop for RateLimits {
    /// A generation going away gives back what its shards hold.
    fn drop(&mut self) {
        let st = self.state.get_mut();
        st.limiter.release_all(unix_ms());
        let st = self.state.get_mut();
        let State {
            limiter, published, ..
        } = st;
        for (i, (meta, last)) in self.limits.iter().zip(published.iter_mut()).enumerate() {
            let stats = limiter.stats(LimitId(i as u16));
            meta.counters.add_exchanges(
                stats.exchanges.saturating_sub(last.0.exchanges),
                stats.unavailable.saturating_sub(last.0.unavailable),
            );
            meta.counters.add_keys(-(last.1 as i64));
            *last = (stats, 0);
        }
    }
}

/// The consumer's name and group, when the route's auth filter identified one. An
/// anonymous request (a route that admits requests without credentials) counts as one
/// without a consumer: keyed by its client IP.
fn identity(ctx: &RequestCtx) -> (Option<&[u8]>, Option<&[u8]>) {
    if ctx.consumer_is_anonymous() {
        return (None, None);
    }
    (
        ctx.consumer_name().map(str::as_bytes),
        ctx.consumer_group().map(str::as_bytes),
    )
}

/// A route's limits.
#[derive(Debug)]
pub struct RateLimitFilter {
    limits: Rc<RateLimits>,
    route: Box<[u8]>,
    llm_route: bool,
    /// Checked at the request head.
    head: Box<[LimitId]>,
    /// Checked once the model is known.
    llm: Box<[LimitId]>,
}

impl RateLimitFilter {
    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        if self.head.is_empty() {
            return Flow::Continue;
        }
        let dialect = self.llm_route.then(|| Dialect::of_head(head));
        self.check(ctx, head, &self.head, None, dialect)
    }

    pub fn on_llm_request(
        &self,
        ctx: &mut RequestCtx,
        head: &RequestHead,
        req: &LlmRequest<'_>,
    ) -> Flow {
        if self.llm.is_empty() {
            return Flow::Continue;
        }
        self.check(ctx, head, &self.llm, Some(req), Some(req.dialect))
    }

    /// Settles every admission of the request to what it really cost.
    pub fn on_log(&self, ctx: &mut RequestCtx) {
        if ctx.limits.tickets.is_empty() {
            return;
        }
        let usage = usage_of(ctx);
        let mut st = self.limits.state.borrow_mut();
        st.limiter
            .finish(&mut ctx.limits.tickets, &usage, unix_ms());
    }

    fn check(
        &self,
        ctx: &mut RequestCtx,
        head: &RequestHead,
        ids: &[LimitId],
        llm: Option<&LlmRequest<'_>>,
        dialect: Option<Dialect>,
    ) -> Flow {
        let rl = &*self.limits;
        let now = unix_ms();
        let mut st = rl.state.borrow_mut();
        let State {
            limiter,
            asks,
            scratch,
            ..
        } = &mut *st;
        asks.clear();
        let mut estimate: Option<Estimate> = None;
        for &id in ids {
            let m = &rl.limits[usize::from(id.0)];
            let model = llm.map(|r| r.model_id);
            let key = rl.key(m, ctx, head, &self.route, model, scratch);
            let cost = match (m.kind, llm) {
                (Kind::Requests | Kind::Concurrent, _) => 1,
                (kind, Some(req)) if m.reserve => {
                    let e = estimate.get_or_insert_with(|| Estimate::of(req.body, req.model));
                    let price = rl
                        .models
                        .get(usize::from(req.model_id.0))
                        .and_then(|(_, p)| p.as_ref());
                    e.cost(kind, price)
                }
                _ => 0,
            };
            asks.push(Ask {
                limit: id,
                key,
                cost,
            });
        }
        match limiter.check_all(asks, now, &mut ctx.limits.tickets) {
            Ok(tightest) => {
                for a in asks.iter() {
                    rl.limits[usize::from(a.limit.0)].counters.admitted();
                }
                if let Some((_, q)) = tightest {
                    let q = match ctx.limits.quota {
                        Some(old) if !tighter(&q, &old) => old,
                        _ => q,
                    };
                    ctx.limits.quota = Some(q);
                    if rl.response_headers {
                        set_quota_fields(&mut ctx.response_edits.set, &q);
                    }
                }
                Flow::Continue
            }
            Err(refused) => {
                let m = &rl.limits[usize::from(refused.limit.0)];
                let ask = asks.iter().find(|a| a.limit == refused.limit);
                let cost = ask.map_or(0, |a| a.cost);
                // Nothing held (and, failing open, the credit used up) with the answer on
                // its way: the driver may wait for it rather than refuse a key whose
                // global budget may well have room. A cell known to be down answers at
                // once, so then nothing is awaited and the limit's fail mode decides.
                ctx.limits.await_exchange =
                    !ctx.limits.no_wait && ask.is_some_and(|a| limiter.awaiting(a.limit, a.key));
                if !ctx.limits.await_exchange {
                    m.counters.refused();
                }
                let limit = RefusedLimit {
                    name: &m.name,
                    kind: m.kind,
                    window_ms: m.window_ms,
                    cost,
                };
                // The refusal's own fields, not those of an earlier phase's admission.
                clear_quota_fields(&mut ctx.response_edits.set);
                Flow::Respond(refusal(&limit, &refused.denial, dialect))
            }
        }
    }
}

/// Whether `a` has a smaller share left than `b`.
fn tighter(a: &Quota, b: &Quota) -> bool {
    u128::from(a.remaining) * u128::from(b.limit) < u128::from(b.remaining) * u128::from(a.limit)
}

#[cfg(test)]
#[path = "gate/tests.rs"]
mod tests;
