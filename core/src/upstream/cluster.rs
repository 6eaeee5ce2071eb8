//! One core's view of a cluster: endpoint selection, passive health, retry budget and
//! the connection pool. Everything here is `Cell`/`RefCell`; the shared half is read on
//! [`Cluster::sync`] (the worker's tick) only.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_proto::h1::RequestHead;

use super::balance::Balancer;
use super::h2pool::H2Pool;
use super::pool::Pool;
use super::{mono_ms, ClusterShared};
use crate::config::Cluster as ClusterConfig;
use crate::metrics::ClusterMetrics;

#[derive(Debug)]
struct Endpoint {
    addrs: std::cell::RefCell<Arc<Vec<SocketAddr>>>,
    addrs_gen: Cell<u64>,
    next_addr: Cell<usize>,
    in_flight: Cell<u32>,
    failures: Cell<u32>,
    /// `mono_ms` deadline; 0 = not ejected.
    ejected_until: Cell<u64>,
    ejections: Cell<u32>,
    active_down: Cell<bool>,
}

/// The endpoint chosen for one attempt.
#[derive(Debug, Clone, Copy)]
pub struct Pick {
    pub endpoint: usize,
    pub addr: SocketAddr,
}

#[derive(Debug)]
pub struct Cluster {
    pub name: String,
    /// Host header for requests that came without one: the first endpoint's `host:port`.
    pub default_host: bytes::Bytes,
    pub cfg: ClusterConfig,
    shared: Arc<ClusterShared>,
    eps: Vec<Endpoint>,
    weights: Vec<u32>,
    balancer: Balancer,
    /// HTTP/1.1 connections (every protocol but `h2`/`h2c`).
    pub pool: Pool,
    /// HTTP/2 connections (`h2`, `h2c`, and `auto` where the endpoint chose `h2`).
    pub h2: H2Pool,
    /// The name, for the logs of tasks that outlive a request (HTTP/2 connections).
    pub label: std::rc::Rc<str>,
    pub metrics: Arc<ClusterMetrics>,
    budget_window_start: Cell<Instant>,
    budget_requests: Cell<u32>,
    budget_retries: Cell<u32>,
    /// TLS to the endpoints, this core's copy; `None`: plain.
    pub tls: Option<crate::tls::UpstreamTls>,
}

impl Cluster {
    pub fn new(
        cfg: &ClusterConfig,
        shared: Arc<ClusterShared>,
        metrics: Arc<ClusterMetrics>,
        buffer_size: usize,
        seed: u64,
        tls: Option<crate::tls::UpstreamTls>,
    ) -> Cluster {
        let weights: Vec<u32> = shared.endpoints.iter().map(|e| e.weight).collect();
        let eps = shared
            .endpoints
            .iter()
            .map(|e| Endpoint {
                addrs: std::cell::RefCell::new(e.addrs()),
                addrs_gen: Cell::new(e.addrs_gen()),
                next_addr: Cell::new(seed as usize),
                in_flight: Cell::new(0),
                failures: Cell::new(0),
                ejected_until: Cell::new(e.ejected_until.load(Ordering::Relaxed)),
                ejections: Cell::new(0),
                active_down: Cell::new(e.active_down.load(Ordering::Relaxed)),
            })
            .collect();
        Cluster {
            name: cfg.name.clone(),
            default_host: bytes::Bytes::from(
                shared
                    .endpoints
                    .first()
                    .map(|e| e.spec.clone())
                    .unwrap_or_default(),
            ),
            balancer: Balancer::new(cfg.lb, cfg.hash_on.as_deref(), &weights, seed),
            pool: Pool::new(
                shared.endpoints.len(),
                cfg.pool.max_idle,
                cfg.pool.max_per_endpoint,
                cfg.pool.idle_expiry.get(),
                buffer_size,
            ),
            h2: H2Pool::new(
                shared.endpoints.len(),
                cfg.http2.max_concurrent_streams,
                cfg.pool.idle_expiry.get(),
            ),
            label: cfg.name.as_str().into(),
            cfg: cfg.clone(),
            shared,
            eps,
            weights,
            metrics,
            budget_window_start: Cell::new(Instant::now()),
            budget_requests: Cell::new(0),
            budget_retries: Cell::new(0),
            tls,
        }
    }

    /// Housekeeping tick: pull addresses and health from the shared half, expire pooled
    /// connections.
    pub fn sync(&self, now: Instant) {
        for (ep, sh) in self.eps.iter().zip(self.shared.endpoints.iter()) {
            let gen = sh.addrs_gen();
            if gen != ep.addrs_gen.get() {
                *ep.addrs.borrow_mut() = sh.addrs();
                ep.addrs_gen.set(gen);
            }
            let shared_until = sh.ejected_until.load(Ordering::Relaxed);
            if shared_until > ep.ejected_until.get() {
                ep.ejected_until.set(shared_until);
            }
            ep.active_down.set(sh.active_down.load(Ordering::Relaxed));
        }
        self.pool.expire(now);
        self.h2.expire(now);
    }

    /// Whether requests go to the endpoints as HTTP/2 streams (`auto`: where they
    /// choose it).
    pub fn speaks_h2(&self) -> bool {
        self.cfg.protocol != crate::config::Protocol::Http1
    }

    fn usable(&self, i: usize, now_ms: u64) -> bool {
        let ep = &self.eps[i];
        !ep.addrs.borrow().is_empty() && !ep.active_down.get() && ep.ejected_until.get() <= now_ms
    }

    /// Chooses an endpoint for an attempt, avoiding `avoid` (the endpoint that just
    /// failed) when another is usable.
    pub fn pick(
        &self,
        head: &RequestHead,
        client: IpAddr,
        now: Instant,
        avoid: Option<usize>,
    ) -> Option<Pick> {
        let now_ms = mono_ms(now);
        let hash = self.balancer.hash_key().map(|k| k.hash(head, client));
        let n = self.eps.len();
        let others_usable =
            avoid.is_some() && (0..n).any(|i| Some(i) != avoid && self.usable(i, now_ms));
        let usable = |i: usize| self.usable(i, now_ms) && !(others_usable && Some(i) == avoid);
        let in_flight = |i: usize| self.eps[i].in_flight.get();
        let i = self
            .balancer
            .pick(n, &self.weights, &in_flight, &usable, hash)?;
        let ep = &self.eps[i];
        let addrs = ep.addrs.borrow();
        if addrs.is_empty() {
            return None;
        }
        let k = ep.next_addr.get();
        ep.next_addr.set(k.wrapping_add(1));
        Some(Pick {
            endpoint: i,
            addr: addrs[k % addrs.len()],
        })
    }

    pub fn begin(&self, ep: usize) {
        self.eps[ep].in_flight.set(self.eps[ep].in_flight.get() + 1);
        self.metrics.in_flight.inc();
    }

    pub fn end(&self, ep: usize) {
        self.eps[ep]
            .in_flight
            .set(self.eps[ep].in_flight.get().saturating_sub(1));
        self.metrics.in_flight.dec();
    }

    pub fn report_success(&self, ep: usize) {
        let e = &self.eps[ep];
        e.failures.set(0);
        e.ejections.set(0);
    }

    /// Passive health: after `passive_health.consecutive_failures` failures in a row the
    /// endpoint is ejected for `base_ejection × 2^(ejections so far)`, capped at
    /// `max_ejection`, on this core at once and on the others at their next tick.
    ///
    /// A failure reported while the endpoint is ejected is not counted: it belongs to an
    /// attempt that was already in flight when the endpoint was ejected (or, when every
    /// endpoint is ejected and the balancer uses them anyway, to the same outage).
    /// Counted, a burst of attempts failing together (connect time-outs under load)
    /// would re-eject the endpoint every `consecutive_failures` of them and double the
    /// time each go, from `base_ejection` to `max_ejection` within one burst.
    pub fn report_failure(&self, ep: usize, now: Instant) {
        let ph = &self.cfg.passive_health;
        if ph.consecutive_failures == 0 {
            return;
        }
        let e = &self.eps[ep];
        if e.ejected_until.get() > mono_ms(now) {
            return;
        }
        e.failures.set(e.failures.get() + 1);
        if e.failures.get() < ph.consecutive_failures {
            return;
        }
        e.failures.set(0);
        let factor = 1u32 << e.ejections.get().min(16);
        let d = ph
            .base_ejection
            .get()
            .saturating_mul(factor)
            .min(ph.max_ejection.get());
        e.ejections.set(e.ejections.get() + 1);
        let until = mono_ms(now + d);
        e.ejected_until.set(until);
        self.shared.endpoints[ep]
            .ejected_until
            .fetch_max(until, Ordering::Relaxed);
        self.metrics.ejections.inc();
        tracing::warn!(
            cluster = %self.name,
            endpoint = %self.shared.endpoints[ep].spec,
            for_ms = d.as_millis() as u64,
            "endpoint ejected after consecutive failures"
        );
    }

    fn roll_budget(&self, now: Instant) {
        if now.saturating_duration_since(self.budget_window_start.get())
            >= self.cfg.retry.budget_window.get()
        {
            self.budget_window_start.set(now);
            self.budget_requests.set(0);
            self.budget_retries.set(0);
        }
    }

    /// Counts a request towards the retry budget.
    pub fn note_request(&self, now: Instant) {
        self.roll_budget(now);
        self.budget_requests
            .set(self.budget_requests.get().saturating_add(1));
    }

    /// Takes one retry from the budget: at most `budget_min + budget_ratio × requests`
    /// retries per `budget_window`, per core.
    pub fn take_retry(&self, now: Instant) -> bool {
        self.roll_budget(now);
        let r = &self.cfg.retry;
        let allowed = r.budget_min as f64 + r.budget_ratio * self.budget_requests.get() as f64;
        if (self.budget_retries.get() as f64) < allowed {
            self.budget_retries.set(self.budget_retries.get() + 1);
            self.metrics.retries.inc();
            true
        } else {
            false
        }
    }

    pub fn connect_timeout(&self) -> Duration {
        self.cfg.connect_timeout.get()
    }
}
