//! The compiled chain: routes in config order, each with its filters in a fixed order.
//!
//! Owns the per-core compiled form of `[[routes]]`. Built once per core (and again on
//! reload) by [`Chain::build`], which rejects anything it cannot run; after that a request
//! costs no allocation here unless a filter must produce new bytes (a rewritten target, a
//! local response). No state crosses cores and nothing here locks.

use std::rc::Rc;

use bytes::Bytes;
use tollgate_proto::h1::RequestHead;

use crate::auth::{self, AuthInputs, Identities};
use crate::llm::{Dialect, ModelId};
use crate::route::{Matcher, RouteConfig, Router};
use crate::{access_log, cors, headers, respond, rewrite, Flow, LocalResponse, RequestCtx};

/// The body of the 404 answer to a request that no route matches.
pub const NO_ROUTE_BODY: &str =
    r#"{"error":{"message":"no route for this request","type":"not_found"}}"#;

/// What a filter's compile step says is wrong with its config: the key and why.
#[derive(Debug)]
pub(crate) struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Invalid {
        Invalid {
            field,
            message: message.into(),
        }
    }
}

/// One concrete filter. Request-phase filters run in the order of the route's list; the
/// list is built in a fixed order by [`Chain::build`]: CORS, auth, request headers,
/// rewrite, direct response, then response headers.
#[derive(Debug)]
pub enum Filter {
    Cors(cors::Cors),
    /// After CORS, so that a preflight (which carries no credentials) is answered first.
    Auth(auth::RouteAuth),
    RequestHeaders(headers::HeaderFilter),
    Rewrite(rewrite::Rewrite),
    Respond(respond::Respond),
    ResponseHeaders(headers::HeaderFilter),
    /// Guardrails on an LLM route's request body (`on_llm_body`).
    Guard(crate::guard::Guard),
    /// Rate limits; put on a route by [`crate::ratelimit::RateLimits::attach`] after the
    /// chain is built, before a direct response (so after auth: limits key on the
    /// consumer).
    RateLimit(crate::ratelimit::RateLimitFilter),
}

impl Filter {
    #[inline]
    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        match self {
            Filter::Cors(f) => f.on_request_head(ctx, head),
            Filter::Auth(f) => f.on_request_head(ctx, head),
            Filter::RequestHeaders(f) => f.on_request_head(ctx),
            Filter::Rewrite(f) => f.on_request_head(ctx, head),
            Filter::Respond(f) => f.on_request_head(ctx),
            Filter::ResponseHeaders(_) => Flow::Continue,
            Filter::Guard(_) => Flow::Continue,
            Filter::RateLimit(f) => f.on_request_head(ctx, head),
        }
    }

    /// LLM routes only: runs on the request body once it is read, before it is scanned
    /// for the model. A filter may edit the body (redaction) or refuse the request.
    #[inline]
    pub fn on_llm_body(&self, ctx: &mut RequestCtx, dialect: Dialect, body: &mut Vec<u8>) -> Flow {
        match self {
            Filter::Guard(g) => g.on_llm_body(ctx, dialect, body),
            _ => Flow::Continue,
        }
    }

    /// LLM routes only: runs once the model is known (and before any provider is
    /// tried): model allow-lists, token and spend admission.
    #[inline]
    pub fn on_llm_request(
        &self,
        ctx: &mut RequestCtx,
        head: &RequestHead,
        req: &LlmRequest<'_>,
    ) -> Flow {
        match self {
            Filter::Auth(f) => f.on_llm_request(ctx, req),
            Filter::RateLimit(f) => f.on_llm_request(ctx, head, req),
            _ => Flow::Continue,
        }
    }

    /// Runs once the response status is known (from the upstream or a local response),
    /// before the head is written. Filters add to `ctx.response_edits`.
    #[inline]
    pub fn on_response_head(&self, ctx: &mut RequestCtx, status: u16) {
        match self {
            Filter::ResponseHeaders(f) => f.on_response_head(ctx, status),
            Filter::Cors(_)
            | Filter::Auth(_)
            | Filter::RequestHeaders(_)
            | Filter::Rewrite(_)
            | Filter::Respond(_)
            | Filter::Guard(_)
            | Filter::RateLimit(_) => {}
        }
    }

    /// Runs when the request is over (every request, access log or not): rate limits
    /// settle their admissions to the real cost and give concurrency permits back.
    #[inline]
    pub fn on_log(&self, ctx: &mut RequestCtx) {
        if let Filter::RateLimit(f) = self {
            f.on_log(ctx);
        }
    }
}

/// What the LLM layer knows of a request once it has read the body and resolved the
/// model: for filters that act on it (model allow-lists, token and spend limits).
#[derive(Debug, Clone, Copy)]
pub struct LlmRequest<'a> {
    /// The client API's format, for error answers.
    pub dialect: Dialect,
    /// The model name (or alias) the client sent.
    pub model: &'a str,
    /// The model the router resolved it to (splits applied).
    pub model_id: ModelId,
    pub stream: bool,
    /// The request body as it will be sent (after `on_llm_body`), for estimates
    /// (`max_tokens`, the prompt's length).
    pub body: &'a [u8],
}

/// Where a route sends a request once its filters let it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAction {
    /// Proxy to the cluster with this index in the core's cluster table.
    Proxy { cluster: usize },
    /// The route ends in a direct response filter; nothing goes upstream.
    Local,
    /// The LLM gateway answers (`llm = {...}`): the model in the body picks the
    /// deployment.
    Llm,
}

#[derive(Debug)]
pub struct Route {
    pub name: String,
    pub matcher: Matcher,
    pub filters: Vec<Filter>,
    pub action: RouteAction,
    /// The route's LLM settings, for `RouteAction::Llm`.
    pub llm: Option<crate::llm::RouteLlmConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `route` is the index of the route in the config, `field` the key at fault.
    #[error("route {route} ({name}): {message}")]
    Route {
        route: usize,
        name: String,
        field: &'static str,
        message: String,
    },
    /// Consumers or JWT issuers (`path` is the key path, e.g. `auth.jwt[0].jwks_file`).
    #[error("{path}: {message}")]
    Auth { path: String, message: String },
}

#[derive(Debug)]
pub struct Chain {
    pub router: Router,
    pub access_log: bool,
}

impl Chain {
    /// Compiles routes with no consumers and no JWT issuers (a route with `auth` then
    /// admits only anonymous requests, where it allows them). `cluster_index` maps an
    /// upstream name to the core's cluster index.
    pub fn build(
        routes: &[RouteConfig],
        access_log: bool,
        cluster_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<Chain, BuildError> {
        Chain::build_with_auth(routes, &AuthInputs::default(), access_log, cluster_index)
    }

    /// Compiles routes, and the consumers and issuers their `auth` keys use (reading key
    /// files and `env:` secrets now, once per build).
    pub fn build_with_auth(
        routes: &[RouteConfig],
        auth: &AuthInputs<'_>,
        access_log: bool,
        cluster_index: &dyn Fn(&str) -> Option<usize>,
    ) -> Result<Chain, BuildError> {
        let ids = Rc::new(Identities::build(auth).map_err(|e| BuildError::Auth {
            path: e.path,
            message: e.message,
        })?);
        let routes = routes
            .iter()
            .enumerate()
            .map(|(i, cfg)| {
                build_route(i, cfg, cluster_index, &ids).map_err(|e| BuildError::Route {
                    route: i,
                    name: cfg.name.clone(),
                    field: e.field,
                    message: e.message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Chain {
            router: Router { routes },
            access_log,
        })
    }

    pub fn route(&self, idx: usize) -> &Route {
        &self.router.routes[idx]
    }

    /// Matches the route (404 local response if none) and runs its request-phase filters.
    /// Sets `ctx.route`.
    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        ctx.route = self.router.find(head);
        let Some(idx) = ctx.route else {
            return Flow::Respond(no_route());
        };
        for f in &self.router.routes[idx].filters {
            if let Flow::Respond(r) = f.on_request_head(ctx, head) {
                return Flow::Respond(r);
            }
        }
        Flow::Continue
    }

    /// Runs the route's request-head filters again from its rate-limit filter on (the
    /// ones before it passed already): after a wait for a pending exchange
    /// ([`LimitCtx::await_exchange`](crate::ratelimit::LimitCtx::await_exchange)).
    pub fn recheck_limits(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        let Some(idx) = ctx.route else {
            return Flow::Respond(no_route());
        };
        let filters = &self.router.routes[idx].filters;
        let from = filters
            .iter()
            .position(|f| matches!(f, Filter::RateLimit(_)))
            .unwrap_or(filters.len());
        for f in &filters[from..] {
            if let Flow::Respond(r) = f.on_request_head(ctx, head) {
                return Flow::Respond(r);
            }
        }
        Flow::Continue
    }

    /// [`Chain::recheck_limits`] for the LLM phase (`on_llm_request`).
    pub fn recheck_llm_limits(
        &self,
        ctx: &mut RequestCtx,
        head: &RequestHead,
        req: &LlmRequest<'_>,
    ) -> Flow {
        let Some(idx) = ctx.route else {
            return Flow::Continue;
        };
        let filters = &self.router.routes[idx].filters;
        let from = filters
            .iter()
            .position(|f| matches!(f, Filter::RateLimit(_)))
            .unwrap_or(filters.len());
        for f in &filters[from..] {
            if let Flow::Respond(r) = f.on_llm_request(ctx, head, req) {
                return Flow::Respond(r);
            }
        }
        Flow::Continue
    }

    /// LLM routes: the route's filters see the body before it is scanned (see
    /// [`Filter::on_llm_body`]).
    pub fn on_llm_body(&self, ctx: &mut RequestCtx, dialect: Dialect, body: &mut Vec<u8>) -> Flow {
        let Some(r) = ctx.route else {
            return Flow::Continue;
        };
        for f in &self.router.routes[r].filters {
            if let Flow::Respond(resp) = f.on_llm_body(ctx, dialect, body) {
                return Flow::Respond(resp);
            }
        }
        Flow::Continue
    }

    /// LLM routes: the route's filters see the resolved model (see
    /// [`Filter::on_llm_request`]).
    pub fn on_llm_request(
        &self,
        ctx: &mut RequestCtx,
        head: &RequestHead,
        req: &LlmRequest<'_>,
    ) -> Flow {
        let Some(r) = ctx.route else {
            return Flow::Continue;
        };
        for f in &self.router.routes[r].filters {
            if let Flow::Respond(resp) = f.on_llm_request(ctx, head, req) {
                return Flow::Respond(resp);
            }
        }
        Flow::Continue
    }

    pub fn on_response_head(&self, ctx: &mut RequestCtx, status: u16) {
        if let Some(r) = ctx.route {
            for f in &self.router.routes[r].filters {
                f.on_response_head(ctx, status);
            }
        }
    }

    /// Ends the request: the route's filters settle (see [`Filter::on_log`]), then the
    /// access log line goes to `out` if the access log is on. Runs for every request.
    pub fn on_log(&self, ctx: &mut RequestCtx, head: &RequestHead, out: &mut Vec<u8>) {
        if let Some(r) = ctx.route {
            for f in &self.router.routes[r].filters {
                f.on_log(ctx);
            }
        }
        if self.access_log {
            let route = ctx.route.map(|r| self.router.routes[r].name.as_str());
            access_log::write_line(ctx, head, route, out);
        }
    }
}

/// The 404 for a request no route matches, with a JSON body.
pub fn no_route() -> LocalResponse {
    LocalResponse {
        status: 404,
        headers: vec![(
            Bytes::from_static(b"content-type"),
            Bytes::from_static(b"application/json"),
        )],
        body: Bytes::from_static(NO_ROUTE_BODY.as_bytes()),
    }
}

fn build_route(
    idx: usize,
    cfg: &RouteConfig,
    cluster_index: &dyn Fn(&str) -> Option<usize>,
    ids: &Rc<Identities>,
) -> Result<Route, Invalid> {
    let matcher = Matcher::compile(&cfg.matcher)?;
    let action = match (&cfg.upstream, &cfg.respond) {
        _ if cfg.llm.is_some() => {
            if cfg.upstream.is_some() || cfg.respond.is_some() {
                return Err(Invalid::new(
                    "llm",
                    "a route with `llm` picks its upstream from the model; remove `upstream` and `respond`",
                ));
            }
            RouteAction::Llm
        }
        (Some(name), None) => RouteAction::Proxy {
            cluster: cluster_index(name).ok_or_else(|| {
                Invalid::new("upstream", format!("upstream '{name}' is not defined"))
            })?,
        },
        (None, Some(_)) => RouteAction::Local,
        (Some(_), Some(_)) => return Err(Invalid::new(
            "respond",
            "a route with `respond` answers every request itself; remove `upstream` or `respond`",
        )),
        (None, None) => {
            return Err(Invalid::new(
                "upstream",
                "a route needs an `upstream`, a `respond` or an `llm`",
            ))
        }
    };
    // Logs and metrics label requests by route name; an unnamed route gets its index.
    let name = if cfg.name.is_empty() {
        format!("route{idx}")
    } else {
        cfg.name.clone()
    };
    let mut filters = Vec::new();
    if let Some(c) = &cfg.cors {
        filters.push(Filter::Cors(cors::Cors::compile(c)?));
    }
    if let Some(a) = &cfg.auth {
        let f = auth::RouteAuth::compile(a, ids, &name, cfg.llm.is_some())?;
        filters.push(Filter::Auth(f));
    }
    if let Some(f) = headers::HeaderFilter::compile(&cfg.request_headers, "request_headers")? {
        filters.push(Filter::RequestHeaders(f));
    }
    if let Some(r) = &cfg.rewrite {
        let prefix = cfg.matcher.path_prefix.as_deref();
        filters.push(Filter::Rewrite(rewrite::Rewrite::compile(r, prefix)?));
    }
    if let Some(r) = &cfg.respond {
        filters.push(Filter::Respond(respond::Respond::compile(r)?));
    }
    if let Some(g) = &cfg.guard {
        if cfg.llm.is_none() {
            let msg = "a guard works on LLM routes only (llm = {...})";
            return Err(Invalid::new("guard", msg));
        }
        filters.push(Filter::Guard(crate::guard::Guard::compile(g)?));
    }
    if let Some(f) = headers::HeaderFilter::compile(&cfg.response_headers, "response_headers")? {
        filters.push(Filter::ResponseHeaders(f));
    }
    Ok(Route {
        name,
        matcher,
        filters,
        action,
        llm: cfg.llm.clone(),
    })
}

#[cfg(test)]
mod tests;
