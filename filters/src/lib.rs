//! Tollgate's static filter chain (DESIGN.md §3, §1.4).
//!
//! The config is compiled once per core into a [`Chain`]: a [`Router`] whose routes each
//! hold a fixed list of concrete [`Filter`]s, dispatched by `match` (no `Box<dyn>`, no
//! allocation per request per filter). A request walks its route's filters in phases:
//! request head, response head, log. A filter talks to the connection driver only
//! through the per-request [`RequestCtx`]: header edits, a local response, log fields.
//!
//! Adding a filter: one file with its config struct (serde) and its phase methods, one
//! arm in [`Filter`], one line in [`Chain::build`].
//!
//! This crate does no I/O: the access log filter formats lines into a buffer that the
//! core flushes.

pub mod access_log;
pub mod auth;
mod chain;
pub mod cors;
mod ctx;
pub mod guard;
pub mod headers;
pub mod llm;
pub mod ratelimit;
pub mod respond;
pub mod rewrite;
pub mod route;
#[cfg(test)]
mod testing;

pub use chain::{
    no_route, BuildError, Chain, Filter, LlmRequest, Route, RouteAction, NO_ROUTE_BODY,
};
pub use ctx::{Flow, LlmCtx, LocalResponse, RequestCtx};
pub use route::{MatchConfig, RequestTarget, RouteConfig, Router};
