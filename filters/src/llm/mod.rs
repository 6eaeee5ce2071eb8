//! Model routing for LLM traffic (DESIGN.md §4): which deployment serves a request for a
//! model, in which order to try the others, which API key to send, and what the request
//! cost. No I/O here: the core's LLM driver (`core/src/llm/`) sends the requests and
//! reports back through [`LlmRouter::failed`], [`LlmRouter::key_failed`],
//! [`LlmRouter::record_ttft`] and [`LlmRouter::begin`]/[`LlmRouter::end`].
//!
//! - [`config`]: the `[llm]` table and a route's `llm` key.
//! - [`router`]: [`LlmRouter`], one per core: names and aliases, canary/header splits,
//!   plans (strategy order, fallbacks depth first, at most `max_attempts`), key rotation,
//!   in-flight counts, time-to-first-token EWMA, cool-downs.
//! - [`shared`]: [`LlmShared`], the cross-core cool-downs and disabled keys of one config
//!   generation.
//! - [`cooldown`]: the reset time a 429/503 asks for, from its headers.
//! - [`usage`]: token [`Usage`] and its [`Price`].
//!
//! Cross-core rule (DESIGN.md §1–2): the hot path (`resolve`, `plan`, `take_key`,
//! `begin`, `end`, `record_ttft`) reads and writes only this core's `Cell`s. A failure
//! (`failed`, `key_failed`) takes effect on its own core at once and writes the shared
//! atomics; every other core copies them on its next housekeeping tick ([`LlmRouter::sync`]).
//! So another core may keep sending to a deployment that just cooled down, or use a key
//! that was just refused, for at most one tick (plus requests already planned); in-flight
//! counts, latency and the round-robin position stay per core and are never shared.
//!
//! Never panics on request or response bytes: names are looked up in a map, header values
//! are compared, reset headers that do not parse are ignored.

pub mod config;
mod cooldown;
pub mod errors;
pub mod router;
mod shared;
mod usage;

#[cfg(test)]
mod tests;

pub use config::{
    DeploymentConfig, LlmConfig, MockConfig, ModelConfig, ProviderConfig, ProviderKind,
    RouteLlmConfig, SplitConfig, Strategy,
};
pub use cooldown::cooldown_from_headers;
pub use errors::{error_body, error_response, Dialect};
pub use router::{
    AllKeysDisabled, Candidate, Deployment, DeploymentId, KeyId, LlmBuildError, LlmRouter, Model,
    ModelId, Plan, Provider, ProviderId,
};
pub use shared::LlmShared;
pub use usage::{Price, Usage};
