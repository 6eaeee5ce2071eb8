//! The per-request context filters read and write. One per connection, reset (not
//! reallocated) between keep-alive requests.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tollgate_proto::h1::HeadEdits;

/// A response the gateway makes itself (direct response, CORS preflight, errors).
#[derive(Debug, Clone, Default)]
pub struct LocalResponse {
    pub status: u16,
    pub headers: Vec<(Bytes, Bytes)>,
    pub body: Bytes,
}

/// What a request-phase filter decides.
#[derive(Debug, Clone)]
pub enum Flow {
    /// Go on to the next filter, then upstream.
    Continue,
    /// Answer the client with this and skip the rest of the chain and the upstream.
    /// Response-phase filters and `on_log` still run.
    Respond(LocalResponse),
}

#[derive(Debug)]
pub struct RequestCtx {
    pub client: SocketAddr,
    /// The downstream connection is TLS.
    pub tls: bool,
    /// The request came as an HTTP/2 stream (its head was converted to HTTP/1.1).
    pub h2: bool,
    /// Index of the matched route in the chain's router.
    pub route: Option<usize>,
    /// Edits to the request head sent upstream.
    pub request_edits: HeadEdits,
    /// Edits to the response head sent to the client (filters may add to these while the
    /// request is processed, e.g. CORS).
    pub response_edits: HeadEdits,
    pub started: Instant,
    // Filled in by the connection driver as the request goes; read by `on_log`.
    pub status: u16,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub upstream_addr: Option<SocketAddr>,
    /// Time to get an upstream connection (pooled or new).
    pub upstream_connect: Option<Duration>,
    /// Time from sending the request to the upstream's response head.
    pub upstream_first_byte: Option<Duration>,
    pub finished: Option<Instant>,
    /// Why the gateway answered with an error, if it did (e.g. "upstream timeout").
    pub error: Option<&'static str>,
    pub attempts: u32,
    /// What the LLM layer learned (on LLM routes).
    pub llm: LlmCtx,
    /// Who is calling, once the route's auth filter identified them (`None` on routes
    /// without `auth`). Read it through [`RequestCtx::consumer_name`] and friends.
    pub consumer: Option<Rc<crate::auth::Consumer>>,
    /// Why the auth filter refused the request, for `tollgate_auth_failures_total`.
    pub auth_failure: Option<&'static str>,
    /// The request-target the access log writes instead of the request's own (the auth
    /// filter took a credential out of its query).
    pub log_target: Option<Bytes>,
    /// Rate-limit admissions, settled by `on_log`.
    pub limits: crate::ratelimit::LimitCtx,
}

/// An LLM request as the LLM layer saw it: filled in as it goes, read by later filters
/// (limits, budgets), the access log and the metrics. The strings keep their capacity
/// across keep-alive requests.
#[derive(Debug, Default)]
pub struct LlmCtx {
    /// The request went through the LLM layer.
    pub active: bool,
    /// `chat`, `text_completion`, `embeddings` or `models`.
    pub operation: &'static str,
    /// The model the client named.
    pub model: String,
    /// The provider and deployment of the last attempt.
    pub provider: String,
    pub deployment: String,
    pub model_id: Option<crate::llm::ModelId>,
    pub deployment_id: Option<crate::llm::DeploymentId>,
    pub stream: bool,
    /// Token counts, once known (exact, or estimated and marked so).
    pub usage: Option<crate::llm::Usage>,
    /// US dollars, from the model's price table.
    pub cost: Option<f64>,
    /// Time from the request head to the first token sent to the client.
    pub ttft: Option<Duration>,
    /// Moves to another deployment or fallback model.
    pub fallbacks: u32,
    /// Why the last move happened.
    pub fallback_reason: Option<&'static str>,
    /// Placeholders the route's guard put in the prompt, for restoring the answer.
    pub redactions: crate::guard::Redactions,
}

impl LlmCtx {
    pub fn reset(&mut self) {
        self.active = false;
        self.operation = "";
        self.model.clear();
        self.provider.clear();
        self.deployment.clear();
        self.model_id = None;
        self.deployment_id = None;
        self.stream = false;
        self.usage = None;
        self.cost = None;
        self.ttft = None;
        self.fallbacks = 0;
        self.fallback_reason = None;
        self.redactions.clear();
    }
}

impl RequestCtx {
    pub fn new(client: SocketAddr, tls: bool) -> RequestCtx {
        RequestCtx {
            client,
            tls,
            h2: false,
            route: None,
            request_edits: HeadEdits::default(),
            response_edits: HeadEdits::default(),
            started: Instant::now(),
            status: 0,
            bytes_received: 0,
            bytes_sent: 0,
            upstream_addr: None,
            upstream_connect: None,
            upstream_first_byte: None,
            finished: None,
            error: None,
            attempts: 0,
            llm: LlmCtx::default(),
            consumer: None,
            auth_failure: None,
            log_target: None,
            limits: crate::ratelimit::LimitCtx::default(),
        }
    }

    /// Clears per-request state for the next request on the same connection.
    pub fn reset(&mut self, now: Instant) {
        self.route = None;
        self.request_edits.clear();
        self.response_edits.clear();
        self.started = now;
        self.status = 0;
        self.bytes_received = 0;
        self.bytes_sent = 0;
        self.upstream_addr = None;
        self.upstream_connect = None;
        self.upstream_first_byte = None;
        self.finished = None;
        self.error = None;
        self.attempts = 0;
        self.llm.reset();
        self.consumer = None;
        self.auth_failure = None;
        self.log_target = None;
        self.limits.reset();
    }
}

/// The consumer, for limits, logs and other filters. An anonymous request (a route with
/// `anonymous = true`, no credential) has the consumer `anonymous`, which has no group:
/// limits per consumer key it by `ctx.client.ip()` instead of its name.
impl RequestCtx {
    /// The consumer's name; `None` before (or without) authentication.
    pub fn consumer_name(&self) -> Option<&str> {
        self.consumer.as_deref().map(|c| c.name.as_str())
    }

    /// The consumer's group; `None` without a consumer or when it has no group.
    pub fn consumer_group(&self) -> Option<&str> {
        self.consumer.as_deref().and_then(|c| c.group())
    }

    /// Whether the request came without credentials on a route that admits that.
    pub fn consumer_is_anonymous(&self) -> bool {
        self.consumer.as_deref().is_some_and(|c| c.is_anonymous())
    }

    /// Whether the consumer may use `model` (a model name or alias); true without a
    /// consumer or for one with no model list.
    pub fn consumer_allows_model(&self, model: &str) -> bool {
        self.consumer
            .as_deref()
            .is_none_or(|c| c.allows_model(model))
    }
}
