//! Per-worker metrics, merged at scrape time.
//!
//! Each worker owns its counters. They are atomics only so that the admin thread may
//! *read* them at scrape time; exactly one thread (the owning worker) ever writes them,
//! so a write is a plain load and store (no `lock`-prefixed instruction, no cache line
//! that two cores write). The registries of per-route and per-cluster counters are
//! behind a mutex that is taken when a config generation is built and when the admin
//! scrapes, never per request: the hot path holds `Arc`s to its counters.
#![allow(clippy::disallowed_types)] // the registries' mutexes are control-plane only

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod auth;
mod h2;
mod llm;
mod tls;
pub use auth::AuthFailures;
mod ratelimit;
pub use h2::{H2Error, H2Metrics};
pub use llm::{LlmFallbacks, LlmMetrics};
pub use tls::{TlsFailure, TlsMetrics};

/// A counter written by one thread only (its worker) and read by any.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }
    /// Single writer: load and store instead of `fetch_add`, see the module doc.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A gauge written by one thread only.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    #[inline]
    pub fn inc(&self) {
        self.0.store(self.0.load(Relaxed) + 1, Relaxed);
    }
    #[inline]
    pub fn dec(&self) {
        self.0.store(self.0.load(Relaxed) - 1, Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const LATENCY_BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// A Prometheus-style histogram with fixed buckets (non-cumulative counts; made
/// cumulative when rendered).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [Counter; 17],
    sum_us: Counter,
}

impl Histogram {
    #[inline]
    pub fn observe(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let i = LATENCY_BOUNDS_US.partition_point(|&b| b < us);
        self.buckets[i].inc();
        self.sum_us.add(us);
    }

    fn merge_into(&self, acc: &mut [u64; 17], sum_us: &mut u64) {
        for (a, b) in acc.iter_mut().zip(self.buckets.iter()) {
            *a += b.get();
        }
        *sum_us += self.sum_us.get();
    }
}

/// Requests of one route on one worker: counts by status class, and latency.
#[derive(Debug)]
pub struct RouteMetrics {
    pub route: String,
    /// Index 0 for 1xx ... 4 for 5xx.
    pub by_class: [Counter; 5],
    pub latency: Histogram,
}

impl RouteMetrics {
    #[inline]
    pub fn record(&self, status: u16, elapsed: Duration) {
        // 0: the request ended with no status (the client left first); count it as the
        // 499 it is logged as, not as a 1xx.
        let status = if status == 0 { 499 } else { status };
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].inc();
        self.latency.observe(elapsed);
    }
}

/// Upstream activity of one cluster on one worker.
#[derive(Debug, Default)]
pub struct ClusterMetrics {
    pub cluster: String,
    pub connects: Counter,
    pub reuses: Counter,
    pub connect_failures: Counter,
    pub timeouts: Counter,
    pub bad_responses: Counter,
    pub retries: Counter,
    pub ejections: Counter,
    /// TLS handshakes with an endpoint that failed (verification, protocol, time-out).
    pub tls_failures: Counter,
    /// Requests sent as streams on HTTP/2 connections.
    pub h2_streams: Counter,
    pub in_flight: Gauge,
}

#[derive(Debug, Default)]
pub struct WorkerMetrics {
    pub worker: usize,
    pub cpu: usize,
    driver: AtomicU8,
    pub connections_accepted: Counter,
    /// `accept` calls that failed (`EMFILE`, `ENFILE`, `ENOMEM`, ...).
    pub accept_errors: Counter,
    pub connections_active: Gauge,
    /// Requests refused before routing (bad framing, limits), by status class.
    pub rejected: [Counter; 5],
    routes: Mutex<Vec<Arc<RouteMetrics>>>,
    clusters: Mutex<Vec<Arc<ClusterMetrics>>>,
    llm: Mutex<Vec<Arc<LlmMetrics>>>,
    pub llm_fallbacks: Arc<LlmFallbacks>,
    pub tls: TlsMetrics,
    pub h2: H2Metrics,
    /// Auth refusals by reason.
    pub auth_failures: AuthFailures,
    /// Per rate limit: decisions, exchanges with the shared budget, keys held.
    rate_limits: Mutex<Vec<Arc<tollgate_filters::ratelimit::LimitCounters>>>,
    /// This worker's link to the rate-limit Redis (cluster mode).
    pub ratelimit_redis: Arc<crate::redis::RedisMetrics>,
}

impl WorkerMetrics {
    pub fn new(worker: usize, cpu: usize) -> WorkerMetrics {
        WorkerMetrics {
            worker,
            cpu,
            ..Default::default()
        }
    }

    pub fn set_driver(&self, d: crate::runtime::Driver) {
        self.driver.store(d as u8 + 1, Relaxed);
    }

    pub fn driver(&self) -> &'static str {
        match self.driver.load(Relaxed) {
            1 => crate::runtime::Driver::IoUring.as_str(),
            2 => crate::runtime::Driver::Epoll.as_str(),
            _ => "starting",
        }
    }

    /// The counters of route `name`, created on first use. Called when a config
    /// generation is built, so counters survive reloads when the route keeps its name.
    pub fn route(&self, name: &str) -> Arc<RouteMetrics> {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = routes.iter().find(|r| r.route == name) {
            return r.clone();
        }
        let r = Arc::new(RouteMetrics {
            route: name.to_string(),
            by_class: Default::default(),
            latency: Histogram::default(),
        });
        routes.push(r.clone());
        r
    }

    pub fn cluster(&self, name: &str) -> Arc<ClusterMetrics> {
        let mut clusters = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clusters.iter().find(|c| c.cluster == name) {
            return c.clone();
        }
        let c = Arc::new(ClusterMetrics {
            cluster: name.to_string(),
            ..Default::default()
        });
        clusters.push(c.clone());
        c
    }
}

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Renders all workers' metrics in the Prometheus text format, merged across workers
/// (except the per-worker gauges, which keep a `worker` label).
pub fn render(workers: &[Arc<WorkerMetrics>], reloads: (u64, u64), uptime: Duration) -> String {
    let mut out = String::with_capacity(8 * 1024);
    let w = &mut out;

    let _ = writeln!(
        w,
        "# HELP tollgate_worker_info Worker threads: CPU and I/O driver in use."
    );
    let _ = writeln!(w, "# TYPE tollgate_worker_info gauge");
    for m in workers {
        let _ = writeln!(
            w,
            "tollgate_worker_info{{worker=\"{}\",cpu=\"{}\",driver=\"{}\"}} 1",
            m.worker,
            m.cpu,
            m.driver()
        );
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_connections_active Open client connections."
    );
    let _ = writeln!(w, "# TYPE tollgate_connections_active gauge");
    for m in workers {
        let _ = writeln!(
            w,
            "tollgate_connections_active{{worker=\"{}\"}} {}",
            m.worker,
            m.connections_active.get()
        );
    }
    let accepted: u64 = workers.iter().map(|m| m.connections_accepted.get()).sum();
    let _ = writeln!(
        w,
        "# HELP tollgate_connections_accepted_total Client connections accepted."
    );
    let _ = writeln!(w, "# TYPE tollgate_connections_accepted_total counter");
    let _ = writeln!(w, "tollgate_connections_accepted_total {accepted}");
    let accept_errors: u64 = workers.iter().map(|m| m.accept_errors.get()).sum();
    let _ = writeln!(
        w,
        "# HELP tollgate_accept_errors_total Failed accepts (out of descriptors or memory); \
         the connections wait in the listen backlog meanwhile."
    );
    let _ = writeln!(w, "# TYPE tollgate_accept_errors_total counter");
    let _ = writeln!(w, "tollgate_accept_errors_total {accept_errors}");

    // Routes, merged by name across workers.
    let names = distinct(workers.iter().flat_map(|m| {
        let routes = m.routes.lock().unwrap_or_else(|p| p.into_inner());
        routes.iter().map(|r| r.route.clone()).collect::<Vec<_>>()
    }));
    let _ = writeln!(
        w,
        "# HELP tollgate_requests_total Requests by route and status class."
    );
    let _ = writeln!(w, "# TYPE tollgate_requests_total counter");
    let mut hists = Vec::with_capacity(names.len());
    for name in &names {
        let mut classes = [0u64; 5];
        let mut buckets = [0u64; 17];
        let mut sum_us = 0u64;
        for m in workers {
            let routes = m.routes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = routes.iter().find(|r| &r.route == name) {
                for (c, v) in classes.iter_mut().zip(r.by_class.iter()) {
                    *c += v.get();
                }
                r.latency.merge_into(&mut buckets, &mut sum_us);
            }
        }
        for (i, c) in classes.iter().enumerate() {
            if *c > 0 {
                let _ = writeln!(
                    w,
                    "tollgate_requests_total{{route=\"{}\",code_class=\"{}\"}} {c}",
                    escape_label(name),
                    CLASSES[i]
                );
            }
        }
        hists.push((name, buckets, sum_us));
    }
    let rejected: Vec<u64> = (0..5)
        .map(|i| workers.iter().map(|m| m.rejected[i].get()).sum())
        .collect();
    let _ = writeln!(w, "# HELP tollgate_requests_rejected_total Requests refused before routing (framing, limits, timeouts).");
    let _ = writeln!(w, "# TYPE tollgate_requests_rejected_total counter");
    for (i, c) in rejected.iter().enumerate() {
        if *c > 0 {
            let _ = writeln!(
                w,
                "tollgate_requests_rejected_total{{code_class=\"{}\"}} {c}",
                CLASSES[i]
            );
        }
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_request_duration_seconds Time from request head to response end."
    );
    let _ = writeln!(w, "# TYPE tollgate_request_duration_seconds histogram");
    for (name, buckets, sum_us) in hists {
        let labels = format!("route=\"{}\"", escape_label(name));
        write_histogram(
            w,
            "tollgate_request_duration_seconds",
            &labels,
            &buckets,
            sum_us,
        );
    }

    render_clusters(workers, w);
    tls::render(workers, w);
    h2::render(workers, w);
    llm::render(workers, w);
    auth::render(workers, w);
    tollgate_filters::guard::render_metrics(w);
    ratelimit::render(workers, w);
    crate::redis::metrics::render(workers, w);

    let _ = writeln!(
        w,
        "# HELP tollgate_config_reloads_total Config reloads by result."
    );
    let _ = writeln!(w, "# TYPE tollgate_config_reloads_total counter");
    let _ = writeln!(
        w,
        "tollgate_config_reloads_total{{result=\"ok\"}} {}",
        reloads.0
    );
    let _ = writeln!(
        w,
        "tollgate_config_reloads_total{{result=\"failed\"}} {}",
        reloads.1
    );
    let _ = writeln!(w, "# HELP tollgate_uptime_seconds Seconds since start.");
    let _ = writeln!(w, "# TYPE tollgate_uptime_seconds gauge");
    let _ = writeln!(w, "tollgate_uptime_seconds {:.3}", uptime.as_secs_f64());
    out
}

/// One histogram's series (cumulative buckets, `+Inf`, sum, count) for one label set,
/// from the non-cumulative bucket counts of [`Histogram::merge_into`].
fn write_histogram(w: &mut String, name: &str, labels: &str, buckets: &[u64; 17], sum_us: u64) {
    let mut cum = 0u64;
    for (count, le) in buckets.iter().zip(LATENCY_BUCKETS.iter()) {
        cum += count;
        let _ = writeln!(w, "{name}_bucket{{{labels},le=\"{le}\"}} {cum}");
    }
    cum += buckets[16];
    let _ = writeln!(w, "{name}_bucket{{{labels},le=\"+Inf\"}} {cum}");
    let _ = writeln!(w, "{name}_sum{{{labels}}} {}", sum_us as f64 / 1e6);
    let _ = writeln!(w, "{name}_count{{{labels}}} {cum}");
}

fn render_clusters(workers: &[Arc<WorkerMetrics>], w: &mut String) {
    type Get = fn(&ClusterMetrics) -> u64;
    let series: [(&str, &str, Get); 9] = [
        (
            "tollgate_upstream_connects_total",
            "New upstream connections opened.",
            |c| c.connects.get(),
        ),
        (
            "tollgate_upstream_reuses_total",
            "Requests sent on a pooled upstream connection.",
            |c| c.reuses.get(),
        ),
        (
            "tollgate_upstream_connect_failures_total",
            "Upstream connection attempts that failed.",
            |c| c.connect_failures.get(),
        ),
        (
            "tollgate_upstream_timeouts_total",
            "Upstream connect, first-byte or idle time-outs.",
            |c| c.timeouts.get(),
        ),
        (
            "tollgate_upstream_bad_responses_total",
            "Upstream responses refused for bad framing.",
            |c| c.bad_responses.get(),
        ),
        (
            "tollgate_upstream_retries_total",
            "Requests retried on another attempt.",
            |c| c.retries.get(),
        ),
        (
            "tollgate_upstream_ejections_total",
            "Endpoints ejected by passive health.",
            |c| c.ejections.get(),
        ),
        (
            "tollgate_upstream_tls_failures_total",
            "TLS handshakes with an endpoint that failed (also counted as connect failures).",
            |c| c.tls_failures.get(),
        ),
        (
            "tollgate_upstream_h2_streams_total",
            "Requests sent as streams on HTTP/2 connections (connects and reuses count the \
             connections and leases).",
            |c| c.h2_streams.get(),
        ),
    ];
    let names = distinct(workers.iter().flat_map(|m| {
        let clusters = m.clusters.lock().unwrap_or_else(|p| p.into_inner());
        clusters
            .iter()
            .map(|c| c.cluster.clone())
            .collect::<Vec<_>>()
    }));
    for (metric, help, get) in series {
        let _ = writeln!(w, "# HELP {metric} {help}");
        let _ = writeln!(w, "# TYPE {metric} counter");
        for name in &names {
            let total: u64 = cluster_sum(workers, name, |c| get(c) as i64) as u64;
            let _ = writeln!(w, "{metric}{{cluster=\"{}\"}} {total}", escape_label(name));
        }
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_upstream_in_flight Requests in flight to a cluster."
    );
    let _ = writeln!(w, "# TYPE tollgate_upstream_in_flight gauge");
    for name in &names {
        let total = cluster_sum(workers, name, |c| c.in_flight.get());
        let _ = writeln!(
            w,
            "tollgate_upstream_in_flight{{cluster=\"{}\"}} {total}",
            escape_label(name)
        );
    }
}

/// `name`'s value of `get` summed over the workers that have the cluster.
fn cluster_sum(
    workers: &[Arc<WorkerMetrics>],
    name: &str,
    get: impl Fn(&ClusterMetrics) -> i64,
) -> i64 {
    workers
        .iter()
        .filter_map(|m| {
            let clusters = m.clusters.lock().unwrap_or_else(|p| p.into_inner());
            clusters.iter().find(|c| c.cluster == name).map(|c| get(c))
        })
        .sum()
}

/// The names in first-seen order, each once.
fn distinct(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_and_render_merge_workers() {
        let a = Arc::new(WorkerMetrics::new(0, 0));
        let b = Arc::new(WorkerMetrics::new(1, 1));
        a.route("api").record(200, Duration::from_micros(90));
        b.route("api").record(503, Duration::from_millis(3));
        b.route("api").record(204, Duration::from_secs(20));
        a.cluster("backend").connects.inc();
        b.cluster("backend").connects.add(2);
        let text = render(&[a, b], (1, 0), Duration::from_secs(1));
        assert!(
            text.contains("tollgate_requests_total{route=\"api\",code_class=\"2xx\"} 2"),
            "{text}"
        );
        assert!(text.contains("tollgate_requests_total{route=\"api\",code_class=\"5xx\"} 1"));
        assert!(text
            .contains("tollgate_request_duration_seconds_bucket{route=\"api\",le=\"0.0001\"} 1"));
        assert!(
            text.contains("tollgate_request_duration_seconds_bucket{route=\"api\",le=\"0.005\"} 2")
        );
        assert!(
            text.contains("tollgate_request_duration_seconds_bucket{route=\"api\",le=\"10\"} 2")
        );
        assert!(
            text.contains("tollgate_request_duration_seconds_bucket{route=\"api\",le=\"+Inf\"} 3")
        );
        assert!(text.contains("tollgate_upstream_connects_total{cluster=\"backend\"} 3"));
    }
}
