//! [`LlmRouter::build`]: the `[llm]` table compiled for one core. Refuses what would
//! break routing (names that do not resolve, keys that cannot be sent); the core's config
//! validation reports the same problems, and more, with line numbers first.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::{Deployment, DeploymentId, LlmRouter, Model, ModelId, Provider, ProviderId, Split};
use crate::llm::config::{split_header_rule, LlmConfig, ProviderConfig, ProviderKind};
use crate::llm::{LlmBuildError, LlmShared};

fn build_error(path: impl Into<String>, message: impl Into<String>) -> LlmBuildError {
    LlmBuildError {
        path: path.into(),
        message: message.into(),
    }
}

/// Reads `env:NAME` keys; other keys are taken as written.
fn resolve_key(key: &str) -> Result<String, String> {
    match key.strip_prefix("env:") {
        Some(var) => std::env::var(var).map_err(|e| match e {
            std::env::VarError::NotPresent => format!("environment variable {var} is not set"),
            std::env::VarError::NotUnicode(_) => {
                format!("environment variable {var} is not valid UTF-8")
            }
        }),
        None => Ok(key.to_owned()),
    }
}

fn is_field_value(v: &[u8]) -> bool {
    v.iter().all(|&b| (b >= 0x20 || b == b'\t') && b != 0x7f)
}

fn to_u16(n: usize, what: &str) -> Result<u16, LlmBuildError> {
    u16::try_from(n).map_err(|_| build_error("llm", format!("more than 65535 {what}")))
}

impl LlmRouter {
    /// Compiles the config for one core. `cluster_index` maps a `[[clusters]]` name to
    /// its index; `seed` seeds this core's RNG (give each core a different one).
    pub fn build(
        cfg: &LlmConfig,
        shared: Arc<LlmShared>,
        cluster_index: &dyn Fn(&str) -> Option<usize>,
        seed: u64,
    ) -> Result<LlmRouter, LlmBuildError> {
        to_u16(cfg.providers.len(), "providers")?;
        to_u16(cfg.models.len(), "models")?;
        let providers = cfg
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| build_provider(p, i, cluster_index))
            .collect::<Result<Vec<_>, _>>()?;
        let provider_ids: HashMap<&str, ProviderId> = cfg
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), ProviderId(i as u16)))
            .collect();

        let mut by_name: HashMap<Box<[u8]>, ModelId> = HashMap::new();
        let mut listed = Vec::new();
        for (i, m) in cfg.models.iter().enumerate() {
            let path = format!("llm.models[{i}]");
            let names = std::iter::once((format!("{path}.name"), &m.name)).chain(
                m.aliases
                    .iter()
                    .enumerate()
                    .map(|(j, a)| (format!("{path}.aliases[{j}]"), a)),
            );
            for (at, name) in names {
                if name.is_empty() {
                    return Err(build_error(at, "a model name cannot be empty"));
                }
                let id = ModelId(i as u16);
                if by_name.insert(name.as_bytes().into(), id).is_some() {
                    return Err(build_error(
                        at,
                        format!("model name {name:?} is used twice"),
                    ));
                }
                listed.push(name.clone());
            }
        }
        let lookup = |name: &str, at: String| {
            by_name
                .get(name.as_bytes())
                .copied()
                .ok_or_else(|| build_error(at, format!("no model named {name:?}")))
        };

        let mut models = Vec::with_capacity(cfg.models.len());
        let mut deployments = Vec::new();
        for (i, m) in cfg.models.iter().enumerate() {
            let path = format!("llm.models[{i}]");
            let id = ModelId(i as u16);
            if m.deployments.is_empty() {
                return Err(build_error(
                    format!("{path}.deployments"),
                    "a model needs at least one deployment",
                ));
            }
            let mut ids = Vec::with_capacity(m.deployments.len());
            for (j, d) in m.deployments.iter().enumerate() {
                let at = format!("{path}.deployments[{j}]");
                let provider = *provider_ids.get(d.provider.as_str()).ok_or_else(|| {
                    build_error(
                        format!("{at}.provider"),
                        format!("no provider named {:?}", d.provider),
                    )
                })?;
                if d.weight == 0 {
                    return Err(build_error(
                        format!("{at}.weight"),
                        "must be greater than 0",
                    ));
                }
                let upstream_model = d.model.clone().unwrap_or_else(|| m.name.clone());
                ids.push(DeploymentId(to_u16(deployments.len(), "deployments")?));
                deployments.push(Deployment {
                    model: id,
                    provider,
                    label: format!(
                        "{}/{}",
                        cfg.providers[provider.0 as usize].name, upstream_model
                    ),
                    upstream_model,
                    weight: d.weight,
                    max_in_flight: d.max_in_flight,
                    in_flight: Cell::new(0),
                    ttft: Cell::new(None),
                    cooled_until: Cell::new(None),
                });
            }
            let fallbacks = m
                .fallbacks
                .iter()
                .enumerate()
                .map(|(j, f)| lookup(f, format!("{path}.fallbacks[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            let mut splits = Vec::with_capacity(m.split.len());
            let mut percent = 0u32;
            for (j, s) in m.split.iter().enumerate() {
                let at = format!("{path}.split[{j}]");
                let model = lookup(&s.model, format!("{at}.model"))?;
                if s.weight > 100 {
                    return Err(build_error(
                        format!("{at}.weight"),
                        "is a percent, 0 to 100",
                    ));
                }
                percent += s.weight;
                let header = if s.header.is_empty() {
                    None
                } else {
                    let (name, value) = split_header_rule(&s.header)
                        .filter(|(n, _)| !n.is_empty())
                        .ok_or_else(|| {
                            build_error(format!("{at}.header"), "expected \"name: value\"")
                        })?;
                    Some((name.to_ascii_lowercase(), value.as_bytes().to_vec()))
                };
                splits.push(Split {
                    model,
                    weight: s.weight,
                    header,
                });
            }
            if percent > 100 {
                return Err(build_error(
                    format!("{path}.split"),
                    format!("the split weights add up to {percent}%, over 100"),
                ));
            }
            models.push(Model {
                name: m.name.clone(),
                aliases: m.aliases.clone(),
                strategy: m.strategy,
                price: m.price,
                deployments: ids,
                fallbacks,
                splits,
                visited: Cell::new(0),
            });
        }
        if shared.deployment_slots() != deployments.len()
            || providers
                .iter()
                .enumerate()
                .any(|(i, p)| shared.key_slots(i) != p.keys.len())
        {
            return Err(build_error(
                "llm",
                "the shared state was built from another config",
            ));
        }
        // splitmix64 of the seed, so that seeds 0, 1, 2... give unrelated streams; never 0
        // (xorshift's fixed point).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Ok(LlmRouter {
            synced: Cell::new(0),
            plan_mark: Cell::new(0),
            shared,
            providers,
            models,
            deployments,
            by_name,
            listed,
            max_attempts: cfg.max_attempts as usize,
            cooldown: cfg.cooldown,
            max_cooldown: cfg.max_cooldown,
            key_cooldown: cfg.key_cooldown,
            rng: Cell::new(z.max(1)),
        })
    }
}

fn build_provider(
    p: &ProviderConfig,
    i: usize,
    cluster_index: &dyn Fn(&str) -> Option<usize>,
) -> Result<Provider, LlmBuildError> {
    let path = format!("llm.providers[{i}]");
    if p.name.is_empty() {
        return Err(build_error(
            format!("{path}.name"),
            "a provider needs a name",
        ));
    }
    let cluster = match (p.kind, &p.upstream) {
        (ProviderKind::Mock, None) => None,
        (ProviderKind::Mock, Some(_)) => {
            return Err(build_error(
                format!("{path}.upstream"),
                "a mock provider answers in the gateway and takes no upstream",
            ))
        }
        (_, None) => {
            return Err(build_error(
                format!("{path}.upstream"),
                format!("a {} provider needs an upstream cluster", p.kind.as_str()),
            ))
        }
        (_, Some(name)) => Some(cluster_index(name).ok_or_else(|| {
            build_error(
                format!("{path}.upstream"),
                format!("no cluster named {name:?}"),
            )
        })?),
    };
    if p.mock.is_some() && p.kind != ProviderKind::Mock {
        return Err(build_error(
            format!("{path}.mock"),
            "only a kind = \"mock\" provider takes mock settings",
        ));
    }
    let mut keys = Vec::with_capacity(p.api_keys.len());
    for (j, key) in p.api_keys.iter().enumerate() {
        let at = format!("{path}.api_keys[{j}]");
        let key = resolve_key(key).map_err(|e| build_error(&at, e))?;
        if key.is_empty() {
            return Err(build_error(at, "an API key cannot be empty"));
        }
        if !is_field_value(key.as_bytes()) {
            return Err(build_error(at, "an API key cannot hold control characters"));
        }
        let value = match p.kind {
            ProviderKind::Anthropic => Bytes::from(key),
            ProviderKind::OpenAi | ProviderKind::Mock => Bytes::from(format!("Bearer {key}")),
        };
        keys.push(value);
    }
    to_u16(keys.len(), "API keys")?;
    let mut headers = Vec::with_capacity(p.headers.len());
    for (name, value) in &p.headers {
        if name.is_empty() || !name.bytes().all(tollgate_proto::h1::syntax::is_tchar) {
            return Err(build_error(
                format!("{path}.headers"),
                format!("{name:?} is not a header name"),
            ));
        }
        if !is_field_value(value.as_bytes()) {
            return Err(build_error(
                format!("{path}.headers.{name}"),
                "a header value cannot hold control characters",
            ));
        }
        headers.push((
            Bytes::from(name.to_ascii_lowercase()),
            Bytes::from(value.clone()),
        ));
    }
    if !is_field_value(p.anthropic_version.as_bytes()) || !is_field_value(p.host.as_bytes()) {
        return Err(build_error(
            path,
            "anthropic_version and host cannot hold control characters",
        ));
    }
    Ok(Provider {
        name: p.name.clone(),
        kind: p.kind,
        cluster,
        base_path: p.base_path.clone(),
        headers,
        anthropic_version: Bytes::from(p.anthropic_version.clone()),
        host: (!p.host.is_empty()).then(|| Bytes::from(p.host.clone())),
        mock: p.mock.unwrap_or_default(),
        key_until: keys.iter().map(|_| Cell::new(None)).collect(),
        keys,
        next_key: Cell::new(0),
    })
}
