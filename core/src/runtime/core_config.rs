//! One config generation compiled for one core: the filter chain, the clusters (with
//! their pools, balancer state and TLS client configs), the listeners' TLS server
//! configs, the route metrics, the limits. Built by the worker
//! itself (so every `Rc`, `Cell` and `Bytes` in it is core-local) when it sees a new
//! generation on its tick. Requests hold an `Rc` to the one they started on and finish
//! on it; the next request on a keep-alive connection picks up the new one.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tollgate_filters::llm::LlmRouter;
use tollgate_filters::ratelimit::{RateLimits, RemoteExchange};
use tollgate_filters::Chain;
use tollgate_proto::h1::HeadLimits;

use crate::config::{Config, Forwarding};
use crate::metrics::{LlmFallbacks, LlmMetrics, RouteMetrics, WorkerMetrics};
use crate::redis::{LinkLimit, RedisLink, RedisSettings};
use crate::runtime::control::Generation;
use crate::tls::ServerTls;
use crate::upstream::Cluster;

#[derive(Debug)]
pub struct CoreConfig {
    pub generation: u64,
    pub config: Arc<Config>,
    pub chain: Chain,
    pub clusters: Vec<Cluster>,
    /// Metrics of each route, indexed like the chain's routes.
    pub route_metrics: Vec<Arc<RouteMetrics>>,
    /// Metrics of requests that matched no route.
    pub unrouted: Arc<RouteMetrics>,
    pub head_limits: HeadLimits,
    pub forwarding: Forwarding,
    pub via: &'static str,
    /// The LLM model router of this core.
    pub llm: LlmRouter,
    /// LLM metrics, indexed like the router's deployments.
    pub llm_metrics: Vec<Arc<LlmMetrics>>,
    pub llm_fallbacks: Arc<LlmFallbacks>,
    /// Each listener's address and its TLS on this core (`None`: plain).
    pub listener_tls: Vec<(String, Option<ServerTls>)>,
    /// This core's rate limits for this generation (`None` without limits); the worker's
    /// limit timer ticks them.
    pub rate_limits: Option<Rc<RateLimits>>,
    /// Cluster mode: this core's link to the rate-limit Redis for this generation.
    pub redis: Option<Rc<RedisLink>>,
}

impl CoreConfig {
    pub fn build(
        gen: &Generation,
        metrics: &WorkerMetrics,
        worker: usize,
    ) -> anyhow::Result<CoreConfig> {
        let cfg = &gen.config;
        let names: Vec<&str> = cfg.clusters.iter().map(|c| c.name.as_str()).collect();
        // Consumers and JWT keys (key files, `env:` secrets) are loaded here, once per
        // core and config generation.
        let chain = Chain::build_with_auth(
            &cfg.routes,
            &cfg.auth_inputs(),
            !cfg.access_log.path.is_empty(),
            &|n| names.iter().position(|c| *c == n),
        )?;
        // This core's limits for this generation, over the generation's shared budgets;
        // their filters go on the routes they apply to (after auth, before a response).
        // Cluster mode: every limit exchanges through this core's link to Redis (one
        // connection per core and generation); its task hands the answers back.
        let redis = match &cfg.rate_limits.redis {
            Some(r) if !cfg.rate_limits.limits.is_empty() => Some(RedisLink::new(
                RedisSettings::from_config(r).map_err(|e| anyhow::anyhow!(e))?,
                LinkLimit::all(&cfg.rate_limits),
                metrics.ratelimit_redis.clone(),
            )),
            _ => None,
        };
        let link = redis.clone();
        let rate_limits = RateLimits::build(
            &cfg.rate_limits,
            &gen.rate_limits,
            &cfg.llm,
            &|name| metrics.rate_limit(name),
            &move |_, _| link.clone().map(|l| -> Rc<dyn RemoteExchange> { l }),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        if let (Some(link), Some(rl)) = (&redis, &rate_limits) {
            crate::redis::spawn(link.clone(), Rc::downgrade(rl));
        }
        let mut chain = chain;
        if let Some(rl) = &rate_limits {
            rl.attach(&mut chain);
        }
        let mut clusters = Vec::with_capacity(cfg.clusters.len());
        for (i, (c, shared)) in cfg.clusters.iter().zip(gen.clusters.iter()).enumerate() {
            let tls = match gen.tls.clusters.get(i).and_then(Option::as_ref) {
                Some(t) => Some(
                    t.for_core(shared.endpoints.iter().map(|e| e.spec.as_str()))
                        .map_err(|e| anyhow::anyhow!("cluster {:?}: TLS: {e}", c.name))?,
                ),
                None => None,
            };
            clusters.push(Cluster::new(
                c,
                shared.clone(),
                metrics.cluster(&c.name),
                cfg.limits.buffer_size,
                (worker as u64 + 1) * 0x9E37_79B9 + i as u64,
                tls,
            ));
        }
        let mut listener_tls = Vec::with_capacity(cfg.listeners.len());
        for (i, l) in cfg.listeners.iter().enumerate() {
            let tls = match gen.tls.listeners.get(i).and_then(Option::as_ref) {
                Some(t) => Some(
                    t.for_core()
                        .map_err(|e| anyhow::anyhow!("listener {:?}: TLS: {e}", l.name))?,
                ),
                None => None,
            };
            listener_tls.push((l.listen.clone(), tls));
        }
        let llm = LlmRouter::build(
            &cfg.llm,
            gen.llm.clone(),
            &|n| names.iter().position(|c| *c == n),
            (worker as u64 + 1) * 0x2545_F491_4F6C_DD1D,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let llm_metrics = (0..llm.deployments())
            .map(|i| {
                let d = llm.deployment(tollgate_filters::llm::DeploymentId(i as u16));
                let model = &llm.model(d.model).name;
                let provider = &llm.provider(d.provider).name;
                metrics.llm(model, provider, &d.label)
            })
            .collect();
        let route_metrics = chain
            .router
            .routes
            .iter()
            .map(|r| metrics.route(&r.name))
            .collect();
        Ok(CoreConfig {
            generation: gen.id,
            chain,
            clusters,
            route_metrics,
            unrouted: metrics.route(""),
            head_limits: HeadLimits {
                max_request_line: cfg.limits.max_request_line,
                max_head_bytes: cfg.limits.max_head_bytes,
                max_headers: cfg.limits.max_headers,
            },
            forwarding: cfg.forwarding.clone(),
            via: "1.1 tollgate",
            llm,
            llm_metrics,
            llm_fallbacks: metrics.llm_fallbacks.clone(),
            listener_tls,
            rate_limits,
            redis,
            config: cfg.clone(),
        })
    }

    /// The TLS of the listener bound to `listen`: `None` when this generation has no
    /// such listener, `Some(None)` when it is plain.
    pub fn listener_tls(&self, listen: &str) -> Option<Option<&ServerTls>> {
        self.listener_tls
            .iter()
            .find(|(l, _)| l == listen)
            .map(|(_, t)| t.as_ref())
    }

    pub fn keepalive_timeout(&self) -> Duration {
        self.config.limits.keepalive_timeout.get()
    }
}
