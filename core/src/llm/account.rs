//! Accounting for one LLM request: the usage (exact from the provider, or estimated from
//! the text seen and marked so), its cost from the model's price table, time to first
//! token and time per output token, into the request context (for later filters and
//! the access log) and the metrics.

use std::time::{Duration, Instant};

use tollgate_filters::llm::{DeploymentId, LlmRouter, ModelId, Usage};
use tollgate_proto::llm::{anthropic, json, openai, translate};
use tollgate_proto::tokens::{estimate, Vocab};

use super::api::{Api, Dialect};
use super::convert::{usage_from_anthropic, usage_from_openai, Converter};
use super::request::ClientRequest;
use super::stream::Timing;
use crate::runtime::CoreConfig;
use crate::server::conn::ClientConn;

/// What one successful attempt produced.
pub struct Outcome {
    /// When the request went to the provider.
    pub t_send: Instant,
    pub timing: Timing,
    pub usage: Option<Usage>,
    pub estimated_output: u64,
    pub client_gone: bool,
    pub failed_after_commit: Option<&'static str>,
}

impl Outcome {
    pub fn new(t_send: Instant) -> Outcome {
        Outcome {
            t_send,
            timing: Timing::default(),
            usage: None,
            estimated_output: 0,
            client_gone: false,
            failed_after_commit: None,
        }
    }

    pub fn absorb(&mut self, conv: &Converter) {
        self.usage = conv.usage;
        self.estimated_output = conv.estimated_output;
    }

    /// Time from sending to the provider to the first token reaching the client.
    pub fn ttft(&self) -> Option<Duration> {
        self.timing.first_token.map(|t| t - self.t_send)
    }
}

/// A whole provider answer in the client's format, and its usage.
pub fn whole_response(
    api: Api,
    client: Dialect,
    provider: Dialect,
    mut body: Vec<u8>,
    id: &str,
    created: u64,
) -> Result<(Vec<u8>, Option<Usage>), String> {
    let bad = |e: &dyn std::fmt::Display| format!("the provider's answer is invalid: {e}");
    match (provider, client) {
        (Dialect::OpenAi, Dialect::OpenAi) => {
            #[derive(serde::Deserialize)]
            struct UsageOnly {
                #[serde(default)]
                usage: Option<openai::Usage>,
            }
            // Embeddings report only prompt and total tokens; that parses as a Usage
            // with no completion tokens.
            let usage = serde_json::from_slice::<UsageOnly>(&body)
                .ok()
                .and_then(|u| u.usage)
                .map(|u| usage_from_openai(&u));
            let _ = api;
            Ok((body, usage))
        }
        (Dialect::Anthropic, Dialect::Anthropic) => {
            #[derive(serde::Deserialize)]
            struct UsageOnly {
                #[serde(default)]
                usage: Option<anthropic::Usage>,
            }
            let usage = serde_json::from_slice::<UsageOnly>(&body)
                .ok()
                .and_then(|u| u.usage)
                .map(|u| usage_from_anthropic(&u));
            Ok((body, usage))
        }
        (Dialect::OpenAi, Dialect::Anthropic) => {
            let resp: openai::ChatResponse = json::parse(&mut body).map_err(|e| bad(&e))?;
            let usage = resp.usage.as_ref().map(usage_from_openai);
            let msg = translate::chat_response_to_messages(resp, format!("msg_{id}"))
                .map_err(|e| bad(&e))?;
            Ok((serde_json::to_vec(&msg).map_err(|e| bad(&e))?, usage))
        }
        (Dialect::Anthropic, Dialect::OpenAi) => {
            let resp: anthropic::MessagesResponse = json::parse(&mut body).map_err(|e| bad(&e))?;
            let usage = Some(usage_from_anthropic(&resp.usage));
            let chat =
                translate::messages_response_to_chat(resp, format!("chatcmpl-{id}"), created)
                    .map_err(|e| bad(&e))?;
            Ok((serde_json::to_vec(&chat).map_err(|e| bad(&e))?, usage))
        }
    }
}

/// Settles the request: usage (estimated where the provider gave none, or where the
/// stream was cut before its final counts), cost, timings, into `ctx` and the metrics.
pub fn finish(
    c: &mut ClientConn,
    cc: &CoreConfig,
    router: &LlmRouter,
    req: &ClientRequest,
    model: ModelId,
    dep: DeploymentId,
    o: &Outcome,
) {
    let cut = o.client_gone || o.failed_after_commit.is_some();
    let vocab = Vocab::for_model(&router.deployment(dep).upstream_model);
    let usage = match o.usage {
        // The provider's final counts arrived.
        Some(u) if !cut || u.output >= o.estimated_output => u,
        // Only the prompt's counts arrived (Anthropic's message_start) before the cut.
        Some(mut u) => {
            u.output = o.estimated_output;
            u.estimated = true;
            u
        }
        None => Usage {
            input: estimate(&req.prompt_text(), vocab),
            output: o.estimated_output,
            estimated: true,
            ..Usage::default()
        },
    };
    let cost = router.model(model).price.as_ref().map(|p| p.cost(&usage));
    let llm = &mut c.ctx.llm;
    llm.ttft = o.timing.first_token.map(|t| t - c.ctx.started);
    llm.cost = cost;
    llm.usage = Some(usage);
    if let Some(m) = cc.llm_metrics.get(dep.0 as usize) {
        let now = Instant::now();
        let total = now - c.ctx.started;
        m.requests.inc();
        if cut || !(200..300).contains(&c.ctx.status) {
            m.errors.inc();
        }
        m.input_tokens.add(usage.input);
        m.output_tokens.add(usage.output);
        m.cached_tokens.add(usage.cache_read);
        if usage.estimated {
            m.estimated.inc();
        }
        if let Some(cost) = cost {
            m.cost_nano_usd.add((cost * 1e9) as u64);
        }
        m.duration.observe(total);
        m.upstream.observe(o.timing.upstream_wait);
        m.overhead
            .observe(total.saturating_sub(o.timing.upstream_wait));
        if let Some(t) = llm.ttft {
            m.ttft.observe(t);
        }
        if let (Some(first), Some(last)) = (o.timing.first_token, o.timing.last_token) {
            if usage.output > 1 {
                m.tpot
                    .observe((last - first) / (usage.output - 1).min(u32::MAX as u64) as u32);
            }
        }
    }
}

/// Counts a move to the next deployment, by the reason the last one failed.
pub fn fallback(cc: &CoreConfig, reason: &'static str) {
    cc.llm_fallbacks.note(reason);
}

/// Counts an API key taken out after a 401/403.
pub fn key_disabled(cc: &CoreConfig) {
    cc.llm_fallbacks.keys_disabled.inc();
}
