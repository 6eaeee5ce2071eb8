//! Counters of one worker's Redis link, merged across workers at scrape time (written
//! by the worker only, read by the admin thread: see `crate::metrics`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use crate::metrics::{Counter, WorkerMetrics};

/// The `kind` labels of `tollgate_ratelimit_redis_errors_total`, in order.
pub const ERROR_KINDS: [&str; 8] = [
    "connect", "timeout", "io", "protocol", "auth", "script", "reply", "noscript",
];

#[derive(Debug, Default)]
pub struct RedisMetrics {
    /// 0: no link on this worker; 1: up; 2: down.
    state: AtomicU8,
    /// `EVALSHA` exchanges sent.
    pub calls: Counter,
    /// Indexed like [`ERROR_KINDS`].
    pub errors: [Counter; 8],
    /// Exchanges Redis could not answer (down, time-out, error), by the limit's
    /// policy: `[open, closed]`.
    pub fallbacks: [Counter; 2],
    /// Connections opened (first and re-connections).
    pub connects: Counter,
}

impl RedisMetrics {
    pub fn set_up(&self, up: bool) {
        self.state.store(if up { 1 } else { 2 }, Relaxed);
    }

    /// The link of this worker is gone (a generation without Redis).
    pub fn clear(&self) {
        self.state.store(0, Relaxed);
    }

    pub fn error(&self, kind: &str) {
        if let Some(i) = ERROR_KINDS.iter().position(|k| *k == kind) {
            self.errors[i].inc();
        }
    }

    /// `Some(true)` up, `Some(false)` down, `None` when this worker has no link.
    pub fn up(&self) -> Option<bool> {
        match self.state.load(Relaxed) {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        }
    }
}

/// Renders the Redis series; nothing when no worker has a link.
pub fn render(workers: &[Arc<WorkerMetrics>], w: &mut String) {
    let links: Vec<(usize, &RedisMetrics)> = workers
        .iter()
        .map(|m| (m.worker, &*m.ratelimit_redis))
        .filter(|(_, r)| r.up().is_some() || r.calls.get() > 0 || r.connects.get() > 0)
        .collect();
    if links.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_ratelimit_redis_up Whether this worker's connection to the rate-limit Redis is up (1) or down (0)."
    );
    let _ = writeln!(w, "# TYPE tollgate_ratelimit_redis_up gauge");
    for (worker, r) in &links {
        if let Some(up) = r.up() {
            let _ = writeln!(
                w,
                "tollgate_ratelimit_redis_up{{worker=\"{worker}\"}} {}",
                u8::from(up)
            );
        }
    }
    let sum =
        |get: &dyn Fn(&RedisMetrics) -> u64| -> u64 { links.iter().map(|(_, r)| get(r)).sum() };
    let _ = writeln!(
        w,
        "# HELP tollgate_ratelimit_redis_calls_total Exchanges sent to Redis (EVALSHA of the exchange script)."
    );
    let _ = writeln!(w, "# TYPE tollgate_ratelimit_redis_calls_total counter");
    let _ = writeln!(
        w,
        "tollgate_ratelimit_redis_calls_total {}",
        sum(&|r| r.calls.get())
    );
    let _ = writeln!(
        w,
        "# HELP tollgate_ratelimit_redis_connects_total Connections opened to Redis (handshake done)."
    );
    let _ = writeln!(w, "# TYPE tollgate_ratelimit_redis_connects_total counter");
    let _ = writeln!(
        w,
        "tollgate_ratelimit_redis_connects_total {}",
        sum(&|r| r.connects.get())
    );
    let _ = writeln!(
        w,
        "# HELP tollgate_ratelimit_redis_errors_total Redis failures by kind (a connection, a round trip, or one reply)."
    );
    let _ = writeln!(w, "# TYPE tollgate_ratelimit_redis_errors_total counter");
    for (i, kind) in ERROR_KINDS.iter().enumerate() {
        let _ = writeln!(
            w,
            "tollgate_ratelimit_redis_errors_total{{kind=\"{kind}\"}} {}",
            sum(&|r| r.errors[i].get())
        );
    }
    let _ = writeln!(
        w,
        "# HELP tollgate_ratelimit_redis_fallbacks_total Exchanges Redis did not answer, by the limit's on_unavailable policy (open: local share; closed: refuse beyond the local allowance)."
    );
    let _ = writeln!(w, "# TYPE tollgate_ratelimit_redis_fallbacks_total counter");
    for (i, policy) in ["open", "closed"].iter().enumerate() {
        let _ = writeln!(
            w,
            "tollgate_ratelimit_redis_fallbacks_total{{policy=\"{policy}\"}} {}",
            sum(&|r| r.fallbacks[i].get())
        );
    }
}
