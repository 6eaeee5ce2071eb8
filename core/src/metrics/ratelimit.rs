//! Rate-limit metrics: one [`LimitCounters`] per limit name and worker (written by the
//! worker's limits, kept across reloads while the name stays), merged at scrape.
//!
//! - `tollgate_ratelimit_decisions_total{limit,result}`: requests admitted and refused
//!   by each limit (`result` = `admitted` | `refused`);
//! - `tollgate_ratelimit_exchanges_total{limit}`: exchanges of a core's allowance with
//!   the shared budget (at most one per key and sync interval, plus when a core's
//!   allowance runs dry);
//! - `tollgate_ratelimit_unavailable_total{limit}`: exchanges the shared budget could
//!   not answer (its table full, or the remote store down): the limit's
//!   `on_unavailable` policy applied;
//! - `tollgate_ratelimit_keys{limit}`: keys the cores hold state for.

use std::fmt::Write;
use std::sync::Arc;

use tollgate_filters::ratelimit::{CounterValues, LimitCounters};

use super::{escape_label, WorkerMetrics};

impl WorkerMetrics {
    /// The counters of the limit `name`, created on first use (when a config generation
    /// is built).
    pub fn rate_limit(&self, name: &str) -> Arc<LimitCounters> {
        let mut all = self.rate_limits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = all.iter().find(|c| c.name == name) {
            return c.clone();
        }
        let c = Arc::new(LimitCounters::new(name));
        all.push(c.clone());
        c
    }
}

pub(super) fn render(workers: &[Arc<WorkerMetrics>], w: &mut String) {
    let mut by_name: Vec<(String, CounterValues)> = Vec::new();
    for m in workers {
        let all = m.rate_limits.lock().unwrap_or_else(|p| p.into_inner());
        for c in all.iter() {
            let v = c.values();
            match by_name.iter_mut().find(|(n, _)| *n == c.name) {
                Some((_, acc)) => {
                    acc.admitted += v.admitted;
                    acc.refused += v.refused;
                    acc.exchanges += v.exchanges;
                    acc.unavailable += v.unavailable;
                    acc.keys += v.keys;
                }
                None => by_name.push((c.name.clone(), v)),
            }
        }
    }
    if by_name.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_ratelimit_decisions_total Requests admitted and refused by each rate limit."
    );
    let _ = writeln!(w, "# TYPE tollgate_ratelimit_decisions_total counter");
    for (n, v) in &by_name {
        let l = escape_label(n);
        let _ = writeln!(
            w,
            "tollgate_ratelimit_decisions_total{{limit=\"{l}\",result=\"admitted\"}} {}",
            v.admitted
        );
        let _ = writeln!(
            w,
            "tollgate_ratelimit_decisions_total{{limit=\"{l}\",result=\"refused\"}} {}",
            v.refused
        );
    }
    type Get = fn(&CounterValues) -> i64;
    let series: [(&str, &str, &str, Get); 3] = [
        (
            "tollgate_ratelimit_exchanges_total",
            "counter",
            "Exchanges of the cores' allowances with the shared budget.",
            |v| v.exchanges as i64,
        ),
        (
            "tollgate_ratelimit_unavailable_total",
            "counter",
            "Exchanges the shared budget could not answer (on_unavailable applied).",
            |v| v.unavailable as i64,
        ),
        (
            "tollgate_ratelimit_keys",
            "gauge",
            "Keys the cores hold rate-limit state for.",
            |v| v.keys,
        ),
    ];
    for (metric, kind, help, get) in series {
        let _ = writeln!(w, "# HELP {metric} {help}");
        let _ = writeln!(w, "# TYPE {metric} {kind}");
        for (n, v) in &by_name {
            let _ = writeln!(w, "{metric}{{limit=\"{}\"}} {}", escape_label(n), get(v));
        }
    }
}
