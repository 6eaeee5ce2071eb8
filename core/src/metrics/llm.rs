//! LLM metrics, one set per deployment per worker (single writer, merged at scrape).
//! Names follow the OpenTelemetry GenAI semantic conventions where they define one
//! (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`,
//! `gen_ai.server.time_to_first_token`, `gen_ai.server.time_per_output_token`), written
//! the Prometheus way (dots to underscores, unit suffix); labels are the conventions'
//! attributes (`gen_ai_request_model`, `gen_ai_provider_name`) plus the deployment.
//! Tollgate's own figures (cost, gateway overhead, fallbacks, estimated counts) are
//! under `tollgate_llm_`.

use std::fmt::Write;
use std::sync::Arc;

use super::{escape_label, write_histogram, Counter, Histogram, WorkerMetrics};

#[derive(Debug, Default)]
pub struct LlmMetrics {
    pub model: String,
    pub provider: String,
    pub deployment: String,
    pub requests: Counter,
    pub errors: Counter,
    pub input_tokens: Counter,
    pub output_tokens: Counter,
    pub cached_tokens: Counter,
    /// Requests whose counts were estimated.
    pub estimated: Counter,
    /// Cost in billionths of a US dollar.
    pub cost_nano_usd: Counter,
    pub duration: Histogram,
    pub ttft: Histogram,
    pub tpot: Histogram,
    /// Time spent waiting on the provider.
    pub upstream: Histogram,
    /// Time spent in the gateway: the request's whole time less the provider wait.
    pub overhead: Histogram,
}

/// Fallbacks by the reason the previous attempt failed, and keys taken out.
#[derive(Debug, Default)]
pub struct LlmFallbacks {
    reasons: [Counter; REASONS.len()],
    pub keys_disabled: Counter,
}

const REASONS: [&str; 12] = [
    "connect_error",
    "timeout",
    "reset",
    "bad_response",
    "no_endpoint",
    "pool_full",
    "rate_limited",
    "server_error",
    "auth",
    "stream_error",
    "error_event",
    "other",
];

impl LlmFallbacks {
    pub fn note(&self, reason: &str) {
        let i = REASONS
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(REASONS.len() - 1);
        self.reasons[i].inc();
    }
}

impl WorkerMetrics {
    /// The counters of one deployment of a model, created on first use (when a config
    /// generation is built), kept across reloads when the names stay.
    pub fn llm(&self, model: &str, provider: &str, deployment: &str) -> Arc<LlmMetrics> {
        let mut all = self.llm.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = all
            .iter()
            .find(|m| m.model == model && m.provider == provider && m.deployment == deployment)
        {
            return m.clone();
        }
        let m = Arc::new(LlmMetrics {
            model: model.to_owned(),
            provider: provider.to_owned(),
            deployment: deployment.to_owned(),
            ..Default::default()
        });
        all.push(m.clone());
        m
    }
}

pub fn render(workers: &[Arc<WorkerMetrics>], w: &mut String) {
    // Merge per label set across workers.
    struct Merged {
        labels: String,
        counters: [u64; 7],
        hists: [([u64; 17], u64); 5],
    }
    let mut merged: Vec<Merged> = Vec::new();
    for wm in workers {
        let all = wm.llm.lock().unwrap_or_else(|p| p.into_inner());
        for m in all.iter() {
            let labels = format!(
                "gen_ai_request_model=\"{}\",gen_ai_provider_name=\"{}\",deployment=\"{}\"",
                escape_label(&m.model),
                escape_label(&m.provider),
                escape_label(&m.deployment)
            );
            let i = match merged.iter().position(|x| x.labels == labels) {
                Some(i) => i,
                None => {
                    merged.push(Merged {
                        labels,
                        counters: [0; 7],
                        hists: Default::default(),
                    });
                    merged.len() - 1
                }
            };
            let x = &mut merged[i];
            for (acc, c) in x.counters.iter_mut().zip([
                &m.requests,
                &m.errors,
                &m.input_tokens,
                &m.output_tokens,
                &m.cached_tokens,
                &m.estimated,
                &m.cost_nano_usd,
            ]) {
                *acc += c.get();
            }
            for (acc, h) in
                x.hists
                    .iter_mut()
                    .zip([&m.duration, &m.ttft, &m.tpot, &m.upstream, &m.overhead])
            {
                h.merge_into(&mut acc.0, &mut acc.1);
            }
        }
    }
    if merged.is_empty() {
        return;
    }
    let counters: [(&str, &str, usize); 4] = [
        (
            "tollgate_llm_requests_total",
            "LLM requests answered by a deployment.",
            0,
        ),
        (
            "tollgate_llm_errors_total",
            "LLM requests that ended in an error or a cut stream.",
            1,
        ),
        (
            "tollgate_llm_estimated_usage_total",
            "LLM requests whose token counts were estimated (no usage from the provider).",
            5,
        ),
        (
            "tollgate_llm_cached_tokens_total",
            "Prompt tokens read from the provider's cache.",
            4,
        ),
    ];
    for (name, help, i) in counters {
        let _ = writeln!(w, "# HELP {name} {help}\n# TYPE {name} counter");
        for m in &merged {
            let _ = writeln!(w, "{name}{{{}}} {}", m.labels, m.counters[i]);
        }
    }
    let name = "gen_ai_client_token_usage_total";
    let _ = writeln!(
        w,
        "# HELP {name} Tokens used, by type (input, output).\n# TYPE {name} counter"
    );
    for m in &merged {
        let _ = writeln!(
            w,
            "{name}{{{},gen_ai_token_type=\"input\"}} {}",
            m.labels, m.counters[2]
        );
        let _ = writeln!(
            w,
            "{name}{{{},gen_ai_token_type=\"output\"}} {}",
            m.labels, m.counters[3]
        );
    }
    let name = "tollgate_llm_cost_usd_total";
    let _ = writeln!(
        w,
        "# HELP {name} Cost from the model's price table, in US dollars.\n# TYPE {name} counter"
    );
    for m in &merged {
        let _ = writeln!(
            w,
            "{name}{{{}}} {:.9}",
            m.labels,
            m.counters[6] as f64 / 1e9
        );
    }
    let hists: [(&str, &str); 5] = [
        (
            "gen_ai_client_operation_duration_seconds",
            "Time from request head to the end of the answer.",
        ),
        (
            "gen_ai_server_time_to_first_token_seconds",
            "Time from request head to the first token sent to the client (streams).",
        ),
        (
            "gen_ai_server_time_per_output_token_seconds",
            "Time between output tokens after the first (streams).",
        ),
        (
            "tollgate_llm_upstream_seconds",
            "Time spent waiting on the provider.",
        ),
        (
            "tollgate_llm_gateway_overhead_seconds",
            "Time spent in the gateway: the request's time less the provider wait.",
        ),
    ];
    for (k, (name, help)) in hists.iter().enumerate() {
        let _ = writeln!(w, "# HELP {name} {help}\n# TYPE {name} histogram");
        for m in &merged {
            let (buckets, sum_us) = &m.hists[k];
            write_histogram(w, name, &m.labels, buckets, *sum_us);
        }
    }
    let name = "tollgate_llm_fallbacks_total";
    let _ = writeln!(w, "# HELP {name} Moves to the next deployment, by why the previous attempt failed.\n# TYPE {name} counter");
    for (i, r) in REASONS.iter().enumerate() {
        let n: u64 = workers
            .iter()
            .map(|m| m.llm_fallbacks.reasons[i].get())
            .sum();
        if n > 0 {
            let _ = writeln!(w, "{name}{{reason=\"{r}\"}} {n}");
        }
    }
    let name = "tollgate_llm_keys_disabled_total";
    let n: u64 = workers
        .iter()
        .map(|m| m.llm_fallbacks.keys_disabled.get())
        .sum();
    let _ = writeln!(w, "# HELP {name} Provider API keys taken out after a 401 or 403.\n# TYPE {name} counter\n{name} {n}");
}
