//! Consumers and authentication: who is calling, and may they call this route and use
//! this model.
//!
//! - [`config`]: `[[consumers]]`, `[[auth.jwt]]` and a route's `auth` key (serde).
//! - [`Identities`]: the consumers, their API-key digests ([`keys`]) and the JWT
//!   issuers ([`jwt`]) of one config generation, compiled once per core when the chain
//!   is built: key files and `env:` secrets are read then, never per request. Shared by
//!   every route of the chain through an `Rc`.
//! - [`RouteAuth`] (`filter.rs`): a route's filter. It runs first on the request head
//!   (after a CORS preflight is answered): finds the credential (`Authorization:
//!   Bearer`, the configured header, the configured query parameter), identifies the
//!   consumer, refuses with 401/403, sets `ctx.consumer`, and takes the credential out
//!   of what goes upstream and into the access log. On LLM routes it also refuses a
//!   model the consumer may not use, once the model is known.
//!
//! Choices, so a reader need not reverse them out of the code:
//! - A JWT-shaped credential (`eyJ...`, two dots) on a route that accepts JWTs is a
//!   token; anything else is an API key.
//! - A JWT naming a consumer that is not in `[[consumers]]` is refused with 403, unless
//!   its issuer has a `default_group`: then it is a consumer of that name and group,
//!   open to every route that accepts the issuer and every model.
//! - A wrong credential is refused even on a route that admits anonymous requests: only
//!   a request with no credential at all is anonymous. The anonymous consumer is named
//!   `anonymous`, has no group, and rate limits key it by client IP.
//! - Key and token bytes are never logged, kept or echoed; refusals name the reason,
//!   never the credential.

pub mod config;
mod filter;
pub mod jwt;
pub mod keys;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

pub use config::{AuthConfig, ConsumerConfig, JwtAlgorithm, JwtIssuerConfig, RouteAuthConfig};
pub use filter::RouteAuth;
pub use jwt::Issuer;
pub use keys::{format_key_hash, parse_key_hash};

use crate::llm::ModelConfig;
use keys::KeyTable;

/// The name of the consumer of requests that came without a credential on a route with
/// `anonymous = true`.
pub const ANONYMOUS: &str = "anonymous";

/// Who a request comes from. Configured consumers live as long as the config
/// generation; a JWT consumer not in the config (see the module doc) and the anonymous
/// one are made by the auth filter.
#[derive(Debug, Clone, Default)]
pub struct Consumer {
    pub name: String,
    /// Empty: no group.
    pub group: String,
    pub metadata: BTreeMap<String, String>,
    /// Model names and aliases allowed; empty: all.
    models: Vec<String>,
    /// Route names allowed; empty: all. Compiled into each route's filter.
    routes: Vec<String>,
    /// Position in `[[consumers]]`; `None` for the anonymous consumer and JWT consumers
    /// that are not in the config.
    index: Option<usize>,
    anonymous: bool,
}

impl Consumer {
    /// Whether this consumer may ask for `model` (a name or alias as the client sent it).
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    /// The consumer of requests without credentials (limits key it by client IP).
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// The group, or `None` when the consumer has none.
    pub fn group(&self) -> Option<&str> {
        (!self.group.is_empty()).then_some(self.group.as_str())
    }
}

/// What [`Identities::build`] compiles: the consumers, the `[auth]` table, and the LLM
/// models (to let a consumer allowed a model use its aliases too).
#[derive(Debug, Clone, Copy)]
pub struct AuthInputs<'a> {
    pub consumers: &'a [ConsumerConfig],
    pub auth: &'a AuthConfig,
    pub models: &'a [ModelConfig],
}

static NO_AUTH: AuthConfig = AuthConfig { jwt: Vec::new() };

impl Default for AuthInputs<'_> {
    /// No consumers and no issuers: a route with `auth` then admits only anonymous
    /// requests (where it allows them).
    fn default() -> Self {
        AuthInputs {
            consumers: &[],
            auth: &NO_AUTH,
            models: &[],
        }
    }
}

/// Why [`Identities::build`] failed: the config key path and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthBuildError {
    pub path: String,
    pub message: String,
}

/// The consumers, API keys and JWT issuers of one config generation on one core.
#[derive(Debug)]
pub struct Identities {
    consumers: Vec<Rc<Consumer>>,
    by_name: HashMap<String, usize>,
    keys: KeyTable,
    issuers: Vec<Issuer>,
    anonymous: Rc<Consumer>,
}

impl Identities {
    /// Compiles consumers and issuers; reads key files and `env:` secrets.
    pub fn build(inputs: &AuthInputs<'_>) -> Result<Identities, AuthBuildError> {
        let fail = |path: String, message: String| AuthBuildError { path, message };
        let mut consumers = Vec::with_capacity(inputs.consumers.len());
        let mut by_name = HashMap::new();
        let mut keys = KeyTable::default();
        for (i, c) in inputs.consumers.iter().enumerate() {
            if c.name.is_empty() {
                return Err(fail(format!("consumers[{i}].name"), "is empty".into()));
            }
            if by_name.insert(c.name.clone(), i).is_some() {
                return Err(fail(
                    format!("consumers[{i}].name"),
                    format!("consumer {:?} is defined twice", c.name),
                ));
            }
            for (j, hash) in c.api_keys.iter().enumerate() {
                let path = || format!("consumers[{i}].api_keys[{j}]");
                let digest = parse_key_hash(hash).map_err(|e| fail(path(), e))?;
                if let Some(first) = keys.insert(digest, i) {
                    return Err(fail(
                        path(),
                        format!(
                            "the same key is already consumer {:?}'s",
                            inputs.consumers[first].name
                        ),
                    ));
                }
            }
            consumers.push(Rc::new(Consumer {
                name: c.name.clone(),
                group: c.group.clone(),
                metadata: c.metadata.clone(),
                models: with_aliases(&c.models, inputs.models),
                routes: c.routes.clone(),
                index: Some(i),
                anonymous: false,
            }));
        }
        let mut issuers: Vec<Issuer> = Vec::with_capacity(inputs.auth.jwt.len());
        for (i, cfg) in inputs.auth.jwt.iter().enumerate() {
            if issuers.iter().any(|is| is.name == cfg.name) {
                return Err(fail(
                    format!("auth.jwt[{i}].name"),
                    format!("issuer {:?} is defined twice", cfg.name),
                ));
            }
            let issuer = Issuer::load(cfg)
                .map_err(|e| fail(format!("auth.jwt[{i}].{}", e.field), e.message))?;
            issuers.push(issuer);
        }
        Ok(Identities {
            consumers,
            by_name,
            keys,
            issuers,
            anonymous: Rc::new(Consumer {
                name: ANONYMOUS.into(),
                anonymous: true,
                ..Consumer::default()
            }),
        })
    }

    /// The index of the issuer named `name`.
    fn issuer(&self, name: &str) -> Option<usize> {
        self.issuers.iter().position(|i| i.name == name)
    }
}

/// `names` and every other name (model name or alias) of the models they name. A name
/// that is no model's stays as written (validation reports it).
fn with_aliases(names: &[String], models: &[ModelConfig]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    let mut add = |n: &str| {
        if !out.iter().any(|o| o == n) {
            out.push(n.to_owned());
        }
    };
    for name in names {
        add(name);
        let model = models
            .iter()
            .find(|m| m.name == *name || m.aliases.iter().any(|a| a == name));
        if let Some(m) = model {
            add(&m.name);
            m.aliases.iter().for_each(|a| add(a));
        }
    }
    out
}
