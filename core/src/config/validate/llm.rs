//! Checks for `[llm]`: providers (names, kind and upstream, keys, headers), models (names
//! and aliases, deployments, fallbacks without cycles, splits, prices) and what routes'
//! `llm.models` name.
//!
//! One exception to "validation looks at the text only": an `env:NAME` API key whose
//! variable is unset is refused here, so `tollgate check` run where the gateway will run
//! catches a missing secret before a reload does (the router reads the variable again
//! when it is built).

use std::collections::HashMap;
use std::time::Duration;

use tollgate_filters::llm::config::split_header_rule;
use tollgate_filters::llm::{LlmConfig, ModelConfig, ProviderConfig, ProviderKind};
use tollgate_filters::RouteConfig;

use super::locate::KeyPath;
use super::syntax::{
    check_field_value, check_name, check_path, check_token, is_managed_header, list_names,
};
use super::Issues;
use crate::config::{Cluster, Protocol};

pub(super) fn check(
    issues: &mut Issues,
    llm: &LlmConfig,
    clusters: &[Cluster],
    routes: &[RouteConfig],
) {
    let root = KeyPath::root().key("llm");
    check_limits(issues, llm, &root);
    let providers: HashMap<&str, usize> = check_providers(issues, &llm.providers, clusters, &root);
    let models = check_model_names(issues, &llm.models, &root);
    for (i, model) in llm.models.iter().enumerate() {
        check_model(issues, model, i, &providers, &models, &root);
    }
    check_fallback_cycles(issues, &llm.models, &models, &root);
    check_routes(issues, routes, &models, llm.models.is_empty());
}

fn check_limits(issues: &mut Issues, llm: &LlmConfig, root: &KeyPath) {
    issues.positive(&root.key("max_body_bytes"), llm.max_body_bytes, "");
    issues.positive(&root.key("max_attempts"), u64::from(llm.max_attempts), "");
    for (key, value) in [
        ("deadline", llm.deadline),
        ("attempt_timeout", llm.attempt_timeout),
    ] {
        if value == Duration::ZERO {
            issues.at(&root.key(key), "must be longer than 0 (e.g. \"10s\")");
        }
    }
}

fn check_providers<'a>(
    issues: &mut Issues,
    providers: &'a [ProviderConfig],
    clusters: &[Cluster],
    root: &KeyPath,
) -> HashMap<&'a str, usize> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, p) in providers.iter().enumerate() {
        let path = root.key("providers").index(i);
        let label = if p.name.is_empty() {
            format!("provider {}: ", i + 1)
        } else {
            format!("provider {:?}: ", p.name)
        };
        if p.name.is_empty() {
            issues.at(
                &path.key("name"),
                format!("{label}the name is empty; deployments refer to providers by name"),
            );
        } else if let Err(e) = check_name(&p.name) {
            issues.at(&path.key("name"), format!("{label}{e}"));
        } else if let Some(first) = names.insert(&p.name, i) {
            issues.at(
                &path.key("name"),
                format!("{label}the name is already used by llm.providers[{first}]"),
            );
        }
        match (p.kind, &p.upstream) {
            (ProviderKind::Mock, Some(_)) => issues.at(
                &path.key("upstream"),
                format!("{label}a mock provider answers inside the gateway; remove upstream"),
            ),
            (ProviderKind::Mock, None) => {}
            (kind, None) => issues.at(
                &path,
                format!(
                    "{label}a {} provider needs upstream = \"CLUSTER\" (a [[clusters]] name); \
                     defined clusters: {}",
                    kind.as_str(),
                    list_names(clusters.iter().map(|c| c.name.as_str()))
                ),
            ),
            (_, Some(upstream)) => match clusters.iter().find(|c| &c.name == upstream) {
                None => issues.at(
                    &path.key("upstream"),
                    format!(
                        "{label}upstream {upstream:?} is not defined; defined clusters: {}",
                        list_names(clusters.iter().map(|c| c.name.as_str()))
                    ),
                ),
                // The LLM relay (core/src/llm/upstream.rs) speaks HTTP/1.1 only.
                Some(c) if c.protocol != Protocol::Http1 => issues.at(
                    &path.key("upstream"),
                    format!(
                        "{label}cluster {upstream:?} has protocol = \"{}\", but LLM providers are \
                         reached over HTTP/1.1 only; give the provider a cluster with protocol = \
                         \"http1\"",
                        c.protocol.as_str()
                    ),
                ),
                Some(_) => {}
            },
        }
        if p.mock.is_some() && p.kind != ProviderKind::Mock {
            issues.at(
                &path.key("mock"),
                format!("{label}mock settings go with kind = \"mock\" only"),
            );
        }
        for (j, key) in p.api_keys.iter().enumerate() {
            check_api_key(issues, key, &path.key("api_keys").index(j), &label);
        }
        for (name, value) in &p.headers {
            let at = path.key("headers").key(name);
            if let Err(e) = check_token(name, "header name") {
                issues.at_key(&at, format!("{label}headers: {e}"));
            } else if is_managed_header(name) {
                issues.at_key(
                    &at,
                    format!("{label}headers: {name} is managed by the proxy and cannot be set"),
                );
            }
            if let Err(e) = check_field_value(value) {
                issues.at(&at, format!("{label}headers: {e}"));
            }
        }
        if !p.base_path.is_empty() {
            if let Err(e) = check_path(&p.base_path) {
                issues.at(&path.key("base_path"), format!("{label}base_path {e}"));
            }
        }
        for (key, value) in [
            ("anthropic_version", &p.anthropic_version),
            ("host", &p.host),
        ] {
            if let Err(e) = check_field_value(value) {
                issues.at(&path.key(key), format!("{label}{key}: {e}"));
            }
        }
    }
    names
}

fn check_api_key(issues: &mut Issues, key: &str, at: &KeyPath, label: &str) {
    if key.is_empty() {
        issues.at(
            at,
            format!("{label}an API key is empty; remove it (no keys: no auth header)"),
        );
        return;
    }
    let value = match key.strip_prefix("env:") {
        None => key.to_owned(),
        Some("") => {
            issues.at(
                at,
                format!("{label}\"env:\" needs a variable name (\"env:NAME\")"),
            );
            return;
        }
        Some(var) => match std::env::var(var) {
            Ok(v) if v.is_empty() => {
                issues.at(at, format!("{label}environment variable {var} is empty"));
                return;
            }
            Ok(v) => v,
            Err(_) => {
                issues.at(
                    at,
                    format!("{label}environment variable {var} is not set (or not UTF-8)"),
                );
                return;
            }
        },
    };
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        // The key itself is never printed.
        issues.at(
            at,
            format!("{label}the API key holds a control character; it goes into a header"),
        );
    }
}

/// Names and aliases, each unique across every model; returns name -> model index.
fn check_model_names<'a>(
    issues: &mut Issues,
    models: &'a [ModelConfig],
    root: &KeyPath,
) -> HashMap<&'a str, usize> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, m) in models.iter().enumerate() {
        let path = root.key("models").index(i);
        let all = std::iter::once((path.key("name"), &m.name)).chain(
            m.aliases
                .iter()
                .enumerate()
                .map(|(j, a)| (path.key("aliases").index(j), a)),
        );
        for (at, name) in all {
            if name.is_empty() {
                issues.at(&at, "a model name or alias is empty");
            } else if let Err(e) = check_name(name) {
                issues.at(&at, format!("model {e}"));
            } else if let Some(first) = names.insert(name, i) {
                issues.at(
                    &at,
                    format!(
                        "model name {name:?} is already used by llm.models[{first}] ({:?})",
                        models[first].name
                    ),
                );
            }
        }
    }
    names
}

fn check_model(
    issues: &mut Issues,
    m: &ModelConfig,
    i: usize,
    providers: &HashMap<&str, usize>,
    models: &HashMap<&str, usize>,
    root: &KeyPath,
) {
    let path = root.key("models").index(i);
    let label = format!("model {:?}: ", m.name);
    if m.deployments.is_empty() {
        issues.at(
            &path,
            format!(
                "{label}has no deployments; add [[llm.models.deployments]] with provider = \"...\""
            ),
        );
    }
    for (j, d) in m.deployments.iter().enumerate() {
        let at = path.key("deployments").index(j);
        if !providers.contains_key(d.provider.as_str()) {
            issues.at(
                &at.key("provider"),
                format!(
                    "{label}provider {:?} is not defined; defined providers: {}",
                    d.provider,
                    list_names(sorted(providers))
                ),
            );
        }
        if d.weight == 0 {
            issues.at(&at.key("weight"), format!("{label}must be greater than 0"));
        }
        if d.model.as_deref() == Some("") {
            issues.at(
                &at.key("model"),
                format!(
                    "{label}the provider's model name is empty; leave it out to use {:?}",
                    m.name
                ),
            );
        }
    }
    for (j, f) in m.fallbacks.iter().enumerate() {
        let at = path.key("fallbacks").index(j);
        match models.get(f.as_str()) {
            None => issues.at(
                &at,
                format!(
                    "{label}fallback {f:?} is not a model; defined models: {}",
                    list_names(sorted(models))
                ),
            ),
            Some(&k) if k == i => {
                issues.at(&at, format!("{label}a model cannot fall back to itself"))
            }
            Some(_) => {}
        }
    }
    let mut percent = 0u64;
    for (j, s) in m.split.iter().enumerate() {
        let at = path.key("split").index(j);
        match models.get(s.model.as_str()) {
            None => issues.at(
                &at.key("model"),
                format!(
                    "{label}split model {:?} is not a model; defined models: {}",
                    s.model,
                    list_names(sorted(models))
                ),
            ),
            Some(&k) if k == i => issues.at(
                &at.key("model"),
                format!("{label}a split goes to another model, not the model itself"),
            ),
            Some(_) => {}
        }
        if s.weight > 100 {
            issues.at(
                &at.key("weight"),
                format!("{label}split weight {} is a percent, 0 to 100", s.weight),
            );
        }
        percent += u64::from(s.weight);
        if s.header.is_empty() {
            if s.weight == 0 {
                issues.at(
                    &at,
                    format!("{label}the split takes no requests; give it a weight or a header"),
                );
            }
        } else {
            match split_header_rule(&s.header) {
                None => issues.at(
                    &at.key("header"),
                    format!("{label}split header {:?} must be \"name: value\"", s.header),
                ),
                Some((name, value)) => {
                    if let Err(e) = check_token(name, "header name") {
                        issues.at(&at.key("header"), format!("{label}split header: {e}"));
                    } else if let Err(e) = check_field_value(value) {
                        issues.at(&at.key("header"), format!("{label}split header: {e}"));
                    }
                }
            }
        }
    }
    if percent > 100 {
        issues.at(
            &path.key("split"),
            format!("{label}split weights add up to {percent}%, over 100"),
        );
    }
    if let Some(price) = &m.price {
        let all = [
            price.input,
            price.output,
            price.cached_input,
            price.cache_write,
        ];
        if all.iter().any(|p| !p.is_finite() || *p < 0.0) {
            issues.at(
                &path.key("price"),
                format!("{label}prices are USD per million tokens, 0 or more"),
            );
        }
    }
}

fn sorted<'a>(names: &HashMap<&'a str, usize>) -> Vec<&'a str> {
    let mut v: Vec<(&str, usize)> = names.iter().map(|(n, i)| (*n, *i)).collect();
    v.sort_by_key(|(n, i)| (*i, *n));
    v.into_iter().map(|(n, _)| n).collect()
}

/// Reports each fallback edge that closes a cycle (`a -> b -> a`), at that edge.
fn check_fallback_cycles(
    issues: &mut Issues,
    models: &[ModelConfig],
    names: &HashMap<&str, usize>,
    root: &KeyPath,
) {
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Gray,
        Black,
    }
    fn visit(
        i: usize,
        models: &[ModelConfig],
        names: &HashMap<&str, usize>,
        color: &mut [Color],
        stack: &mut Vec<usize>,
        found: &mut Vec<(usize, usize, Vec<usize>)>,
    ) {
        color[i] = Color::Gray;
        stack.push(i);
        for (j, f) in models[i].fallbacks.iter().enumerate() {
            let Some(&k) = names.get(f.as_str()) else {
                continue;
            };
            if k == i {
                continue; // reported as "falls back to itself"
            }
            match color[k] {
                Color::White => visit(k, models, names, color, stack, found),
                Color::Gray => {
                    let from = stack.iter().position(|&s| s == k).unwrap_or(0);
                    found.push((i, j, stack[from..].to_vec()));
                }
                Color::Black => {}
            }
        }
        stack.pop();
        color[i] = Color::Black;
    }
    let mut color = vec![Color::White; models.len()];
    let mut found = Vec::new();
    for i in 0..models.len() {
        if color[i] == Color::White {
            visit(i, models, names, &mut color, &mut Vec::new(), &mut found);
        }
    }
    for (i, j, cycle) in found {
        let mut chain: Vec<&str> = cycle.iter().map(|&m| models[m].name.as_str()).collect();
        chain.push(models[cycle[0]].name.as_str());
        issues.at(
            &root.key("models").index(i).key("fallbacks").index(j),
            format!(
                "model {:?}: fallbacks form a cycle: {}",
                models[i].name,
                chain.join(" -> ")
            ),
        );
    }
}

fn check_routes(
    issues: &mut Issues,
    routes: &[RouteConfig],
    models: &HashMap<&str, usize>,
    no_models: bool,
) {
    for (i, route) in routes.iter().enumerate() {
        let Some(llm) = &route.llm else {
            continue;
        };
        let path = KeyPath::root().key("routes").index(i).key("llm");
        let label = format!("route {} ({:?}): ", i + 1, route.name);
        if no_models {
            issues.at(
                &path,
                format!(
                    "{label}serves LLM traffic but [llm] defines no models; add [[llm.models]]"
                ),
            );
            continue;
        }
        for (j, name) in llm.models.iter().enumerate() {
            if !models.contains_key(name.as_str()) {
                issues.at(
                    &path.key("models").index(j),
                    format!(
                        "{label}llm.models: {name:?} is not a model; defined models: {}",
                        list_names(sorted(models))
                    ),
                );
            }
        }
    }
}
