//! Checks for `[[consumers]]`, `[[auth.jwt]]` and routes' `auth` key: names unique and
//! defined, API keys stored as `sha256:` digests and not shared by two consumers,
//! issuers whose algorithms and keys agree, and route settings that can admit someone.
//!
//! Two exceptions to "validation looks at the text only", so that `tollgate check` run
//! where the gateway runs catches them before a reload does: an issuer's key files and
//! JWKS files are read and parsed, and an `env:NAME` secret must be set. The chain reads
//! them again when it is built (once per core and config generation).

use std::collections::HashMap;

use tollgate_filters::auth::{parse_key_hash, ConsumerConfig, Issuer, JwtIssuerConfig};
use tollgate_filters::RouteConfig;

use super::locate::KeyPath;
use super::syntax::{check_name, check_token, is_managed_header, list_names};
use super::Issues;
use crate::config::Config;

pub(super) fn check(issues: &mut Issues, config: &Config) {
    let models: Vec<&str> = config
        .llm
        .models
        .iter()
        .flat_map(|m| std::iter::once(m.name.as_str()).chain(m.aliases.iter().map(String::as_str)))
        .collect();
    let routes: Vec<&str> = config.routes.iter().map(|r| r.name.as_str()).collect();
    check_consumers(issues, &config.consumers, &models, &routes);
    let issuers = check_issuers(issues, &config.auth.jwt);
    for (i, route) in config.routes.iter().enumerate() {
        check_route(issues, route, i, &issuers);
    }
}

fn check_consumers(
    issues: &mut Issues,
    consumers: &[ConsumerConfig],
    models: &[&str],
    routes: &[&str],
) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    // digest -> the consumer that has it
    let mut keys: HashMap<[u8; 32], usize> = HashMap::new();
    for (i, c) in consumers.iter().enumerate() {
        let path = KeyPath::root().key("consumers").index(i);
        let label = if c.name.is_empty() {
            format!("consumer {}: ", i + 1)
        } else {
            format!("consumer {:?}: ", c.name)
        };
        if c.name.is_empty() {
            issues.at(
                &path.key("name"),
                format!("{label}the name is empty; tokens and logs name consumers"),
            );
        } else if let Err(e) = check_name(&c.name) {
            issues.at(&path.key("name"), format!("{label}{e}"));
        } else if let Some(first) = names.insert(&c.name, i) {
            issues.at(
                &path.key("name"),
                format!("{label}the name is already used by consumers[{first}]"),
            );
        }
        if let Err(e) = check_name(&c.group) {
            issues.at(&path.key("group"), format!("{label}group {e}"));
        }
        for (j, model) in c.models.iter().enumerate() {
            if !models.contains(&model.as_str()) {
                issues.at(
                    &path.key("models").index(j),
                    format!(
                        "{label}models: {model:?} is not a model; defined models: {}",
                        list_names(models.iter().copied())
                    ),
                );
            }
        }
        for (j, route) in c.routes.iter().enumerate() {
            if !routes.contains(&route.as_str()) {
                issues.at(
                    &path.key("routes").index(j),
                    format!(
                        "{label}routes: {route:?} is not a route; defined routes: {}",
                        list_names(routes.iter().copied())
                    ),
                );
            }
        }
        for (j, hash) in c.api_keys.iter().enumerate() {
            let at = path.key("api_keys").index(j);
            match parse_key_hash(hash) {
                Err(e) => issues.at(&at, format!("{label}{e}")),
                Ok(digest) => {
                    if let Some(first) = keys.insert(digest, i) {
                        let whose = if first == i {
                            "is listed twice".to_owned()
                        } else {
                            format!("is also consumer {:?}'s", consumers[first].name)
                        };
                        issues.at(&at, format!("{label}this key {whose}"));
                    }
                }
            }
        }
    }
}

/// Checks the issuers; returns their names.
fn check_issuers<'a>(issues: &mut Issues, issuers: &'a [JwtIssuerConfig]) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    for (i, cfg) in issuers.iter().enumerate() {
        let path = KeyPath::root().key("auth").key("jwt").index(i);
        let label = if cfg.name.is_empty() {
            format!("issuer {}: ", i + 1)
        } else {
            format!("issuer {:?}: ", cfg.name)
        };
        if cfg.name.is_empty() {
            issues.at(
                &path.key("name"),
                format!("{label}the name is empty; routes refer to issuers by name"),
            );
        } else if let Err(e) = check_name(&cfg.name) {
            issues.at(&path.key("name"), format!("{label}{e}"));
        } else if let Some(first) = names.iter().position(|n| *n == cfg.name) {
            issues.at(
                &path.key("name"),
                format!("{label}the name is already used by auth.jwt[{first}]"),
            );
        }
        names.push(&cfg.name);
        if cfg.audience.iter().any(String::is_empty) {
            issues.at(
                &path.key("audience"),
                format!("{label}an audience is empty"),
            );
        }
        match cfg.default_group.as_deref() {
            Some("") => issues.at(
                &path.key("default_group"),
                format!("{label}default_group is empty; leave it out to refuse unknown consumers"),
            ),
            Some(g) => {
                if let Err(e) = check_name(g) {
                    issues.at(&path.key("default_group"), format!("{label}{e}"));
                }
            }
            None => {}
        }
        // Loads the keys as the chain will: files read, PEMs and JWKS parsed.
        if let Err(e) = Issuer::load(cfg) {
            issues.at(&path.key(e.field), format!("{label}{}", e.message));
        }
    }
    names
}

fn check_route(issues: &mut Issues, route: &RouteConfig, i: usize, issuers: &[&str]) {
    let Some(auth) = &route.auth else {
        return;
    };
    let path = KeyPath::root().key("routes").index(i).key("auth");
    let label = format!("route {} ({:?}): ", i + 1, route.name);
    for (j, name) in auth.jwt.iter().enumerate() {
        if !issuers.contains(&name.as_str()) {
            issues.at(
                &path.key("jwt").index(j),
                format!(
                    "{label}auth.jwt: issuer {name:?} is not defined; defined issuers: {}",
                    list_names(issuers.iter().copied())
                ),
            );
        }
    }
    if !auth.api_key && auth.jwt.is_empty() && !auth.anonymous {
        issues.at(
            &path,
            format!(
                "{label}auth accepts no credential and no anonymous request; set api_key = \
                 true, list jwt issuers, or set anonymous = true (or remove auth)"
            ),
        );
    }
    if !auth.header.is_empty() {
        let at = path.key("header");
        if let Err(e) = check_token(&auth.header, "header name") {
            issues.at(&at, format!("{label}auth.header: {e}"));
        } else if auth.header.eq_ignore_ascii_case("authorization") {
            issues.at(
                &at,
                format!(
                    "{label}auth.header: Authorization (Bearer) is always read; name another \
                     header, or \"\" for none"
                ),
            );
        } else if is_managed_header(&auth.header) {
            issues.at(
                &at,
                format!(
                    "{label}auth.header: {} is managed by the proxy",
                    auth.header
                ),
            );
        }
    }
    if !auth.query.is_empty()
        && auth
            .query
            .bytes()
            .any(|b| matches!(b, b'&' | b'=' | b'?' | b'#' | b'%' | b'+') || b <= b' ' || b >= 0x7f)
    {
        issues.at(
            &path.key("query"),
            format!(
                "{label}auth.query {:?} is not a plain query parameter name",
                auth.query
            ),
        );
    }
}

#[cfg(test)]
mod tests;
