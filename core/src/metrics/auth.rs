//! Refusals by the auth filter, by reason (`tollgate_auth_failures_total{reason}`):
//! one counter per reason per worker (single writer), summed at scrape.

use std::fmt::Write;
use std::sync::Arc;

use super::{Counter, WorkerMetrics};

/// The reasons the auth filter gives (`filters/src/auth`), in the order rendered; a
/// reason not listed counts as `other`.
const REASONS: [&str; 11] = [
    "missing_credentials",
    "invalid_api_key",
    "token_expired",
    "token_not_yet_valid",
    "token_wrong_issuer_or_audience",
    "token_bad_signature",
    "token_malformed",
    "unknown_consumer",
    "route_forbidden",
    "model_forbidden",
    "other",
];

#[derive(Debug, Default)]
pub struct AuthFailures([Counter; REASONS.len()]);

impl AuthFailures {
    pub fn note(&self, reason: &str) {
        let i = REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(REASONS.len() - 1);
        self.0[i].inc();
    }
}

pub fn render(workers: &[Arc<WorkerMetrics>], w: &mut String) {
    let _ = writeln!(
        w,
        "# HELP tollgate_auth_failures_total Requests refused by authentication (401) or authorization (403), by reason."
    );
    let _ = writeln!(w, "# TYPE tollgate_auth_failures_total counter");
    for (i, reason) in REASONS.iter().enumerate() {
        let n: u64 = workers.iter().map(|m| m.auth_failures.0[i].get()).sum();
        let _ = writeln!(w, "tollgate_auth_failures_total{{reason=\"{reason}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_counted_and_merged() {
        let a = Arc::new(WorkerMetrics::new(0, 0));
        let b = Arc::new(WorkerMetrics::new(1, 1));
        a.auth_failures.note("invalid_api_key");
        b.auth_failures.note("invalid_api_key");
        b.auth_failures.note("something new");
        let mut out = String::new();
        render(&[a, b], &mut out);
        assert!(out.contains("tollgate_auth_failures_total{reason=\"invalid_api_key\"} 2\n"));
        assert!(out.contains("tollgate_auth_failures_total{reason=\"other\"} 1\n"));
        assert!(out.contains("tollgate_auth_failures_total{reason=\"model_forbidden\"} 0\n"));
    }
}
