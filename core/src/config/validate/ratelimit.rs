//! Checks for `[rate_limits]`: the sync tuning, each limit's values (the checks of
//! `LimitConfig::compile`, which the workers run again), unique names, the routes a
//! limit names, and limits that could never apply (a token or spend limit without an
//! LLM route, a spend limit without a priced model).

use std::collections::HashMap;

use tollgate_filters::llm::LlmConfig;
use tollgate_filters::ratelimit::{KeyPart, Kind, LimitConfig, RateLimitConfig};
use tollgate_filters::RouteConfig;

use super::locate::KeyPath;
use super::syntax::{check_name, list_names};
use super::Issues;

pub(super) fn check(
    issues: &mut Issues,
    rl: &RateLimitConfig,
    routes: &[RouteConfig],
    llm: &LlmConfig,
) {
    let root = KeyPath::root().key("rate_limits");
    if let Err((field, message)) = rl.sync.check() {
        issues.at(&dotted(&root, field), message);
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    for (i, l) in rl.limits.iter().enumerate() {
        let path = root.key("limits").index(i);
        let name = l.display_name();
        let label = format!("limit {name:?}: ");
        if let Err(e) = check_name(&l.name) {
            issues.at(&path.key("name"), format!("{label}{e}"));
        } else if let Some(first) = names.insert(name.clone(), i) {
            let at = if l.name.is_empty() {
                path.clone()
            } else {
                path.key("name")
            };
            issues.at(
                &at,
                format!(
                    "{label}the name is already used by rate_limits.limits[{first}] \
                     (metrics and headers name limits; give each a `name`)"
                ),
            );
        }
        // The sync table's own problems are reported once, above.
        if rl.sync.check().is_ok() {
            if let Err(e) = l.compile(&rl.sync, 1) {
                issues.at(&dotted(&path, e.field), format!("{label}{}", e.message));
            }
        }
        check_scope(issues, l, &path, &label, routes);
        if l.kind == Kind::Spend && llm.models.iter().all(|m| m.price.is_none()) {
            issues.at(
                &path.key("kind"),
                format!(
                    "{label}a spend limit counts the cost from model prices, and no \
                     [[llm.models]] has a price (price = {{ input = ..., output = ... }})"
                ),
            );
        }
    }
}

/// The routes a limit names exist; a limit that applies on LLM routes only has one.
fn check_scope(
    issues: &mut Issues,
    l: &LimitConfig,
    path: &KeyPath,
    label: &str,
    routes: &[RouteConfig],
) {
    let llm_only =
        !matches!(l.kind, Kind::Requests | Kind::Concurrent) || l.per.contains(&KeyPart::Model);
    let why = if l.per.contains(&KeyPart::Model) && !llm_only_kind(l.kind) {
        "a limit per model".to_string()
    } else {
        format!("a {} limit", l.kind.name())
    };
    for (j, name) in l.routes.iter().enumerate() {
        let at = path.key("routes").index(j);
        match routes.iter().find(|r| &r.name == name) {
            None => issues.at(
                &at,
                format!(
                    "{label}route {name:?} is not defined; defined routes: {}",
                    list_names(routes.iter().map(|r| r.name.as_str()))
                ),
            ),
            Some(r) if llm_only && r.llm.is_none() => issues.at(
                &at,
                format!(
                    "{label}{why} applies on LLM routes only (it needs the model or the \
                     usage), and route {name:?} has no `llm`"
                ),
            ),
            Some(_) => {}
        }
    }
    if llm_only && l.routes.is_empty() && routes.iter().all(|r| r.llm.is_none()) {
        issues.at(
            path,
            format!("{label}{why} applies on LLM routes only, and no route has `llm`"),
        );
    }
}

fn llm_only_kind(kind: Kind) -> bool {
    !matches!(kind, Kind::Requests | Kind::Concurrent)
}

/// `base` followed by the dotted keys of `field` (`sync.interval`).
fn dotted(base: &KeyPath, field: &str) -> KeyPath {
    field.split('.').fold(base.clone(), |p, k| p.key(k))
}

#[cfg(test)]
#[path = "ratelimit_tests.rs"]
mod tests;
