//! Checks for `[[routes]]` and the filters they configure: names (unnamed routes get
//! `route-N`), the upstream, direct response or LLM routing (exactly one), match rules, rewrite, header transforms,
//! CORS. Match methods are upper-cased in place.

use std::collections::{BTreeMap, HashMap};

use tollgate_filters::cors::CorsConfig;
use tollgate_filters::headers::HeaderOps;
use tollgate_filters::respond::RespondConfig;
use tollgate_filters::rewrite::RewriteConfig;
use tollgate_filters::{MatchConfig, RouteConfig};

use super::locate::KeyPath;
use super::syntax::{
    check_field_value, check_host_pattern, check_name, check_origin, check_path, check_replacement,
    check_target_chars, check_token, is_managed_header, list_names, regex_error,
};
use super::Issues;
use crate::config::Cluster;

pub(super) fn check(issues: &mut Issues, routes: &mut [RouteConfig], clusters: &[Cluster]) {
    let root = KeyPath::root().key("routes");
    // name -> (index, whether the name was given by default)
    let mut names: HashMap<String, (usize, bool)> = HashMap::new();
    for (i, route) in routes.iter_mut().enumerate() {
        let path = root.index(i);
        let label = if route.name.is_empty() {
            format!("route {}: ", i + 1)
        } else {
            format!("route {} ({:?}): ", i + 1, route.name)
        };
        check_route_name(issues, route, i, &mut names, &path, &label);
        check_action(issues, route, clusters, &path, &label);
        check_match(issues, &mut route.matcher, &path.key("match"), &label);
        if let Some(rewrite) = &route.rewrite {
            check_rewrite(
                issues,
                rewrite,
                &route.matcher,
                &path.key("rewrite"),
                &label,
            );
        }
        for key in ["request_headers", "response_headers"] {
            let ops = if key == "request_headers" {
                &route.request_headers
            } else {
                &route.response_headers
            };
            check_header_ops(issues, ops, &path.key(key), &format!("{label}{key}: "));
        }
        if let Some(cors) = &route.cors {
            check_cors(issues, cors, &path.key("cors"), &label);
        }
        if let Some(respond) = &route.respond {
            check_respond(issues, respond, &path.key("respond"), &label);
        }
    }
}

fn check_route_name(
    issues: &mut Issues,
    route: &mut RouteConfig,
    i: usize,
    names: &mut HashMap<String, (usize, bool)>,
    path: &KeyPath,
    label: &str,
) {
    if let Err(e) = check_name(&route.name) {
        issues.at(&path.key("name"), format!("{label}{e}"));
    }
    let defaulted = route.name.is_empty();
    if defaulted {
        route.name = format!("route-{}", i + 1);
    }
    if let Some(&(first, first_defaulted)) = names.get(&route.name) {
        let by = if first_defaulted {
            format!("route {} (its default name)", first + 1)
        } else {
            format!("route {}", first + 1)
        };
        if defaulted {
            issues.at(
                path,
                format!(
                    "{label}its default name {:?} is taken by {by}; give this route a name",
                    route.name
                ),
            );
        } else {
            issues.at(
                &path.key("name"),
                format!("{label}the name is already used by {by}"),
            );
        }
    } else {
        names.insert(route.name.clone(), (i, defaulted));
    }
}

fn check_action(
    issues: &mut Issues,
    route: &RouteConfig,
    clusters: &[Cluster],
    path: &KeyPath,
    label: &str,
) {
    match (&route.upstream, &route.respond, &route.llm) {
        (None, None, None) => issues.at(
            path,
            format!(
                "{label}has neither upstream nor respond nor llm; set upstream = \"CLUSTER\" to \
                 proxy, respond = {{ status = 200, body = \"...\" }} to answer directly, or \
                 llm = {{}} to route to the [llm] models"
            ),
        ),
        (Some(_), Some(_), None) => {
            issues.at(
                &path.key("respond"),
                format!(
                    "{label}has both upstream and respond; a route either proxies or answers, not both"
                ),
            );
            return;
        }
        (upstream, respond, Some(_)) if upstream.is_some() || respond.is_some() => {
            let other = if upstream.is_some() {
                "upstream"
            } else {
                "respond"
            };
            issues.at(
                &path.key("llm"),
                format!(
                    "{label}has both llm and {other}; a route routes to models, proxies or answers, \
                     one of them"
                ),
            );
            return;
        }
        _ => {}
    }
    if let Some(upstream) = &route.upstream {
        if !clusters.iter().any(|c| &c.name == upstream) {
            issues.at(
                &path.key("upstream"),
                format!(
                    "{label}upstream {upstream:?} is not defined; defined clusters: {}",
                    list_names(clusters.iter().map(|c| c.name.as_str()))
                ),
            );
        }
    }
}

fn check_match(issues: &mut Issues, m: &mut MatchConfig, path: &KeyPath, label: &str) {
    let kinds = [
        m.path.is_some(),
        m.path_prefix.is_some(),
        m.path_regex.is_some(),
    ];
    if kinds.iter().filter(|set| **set).count() > 1 {
        issues.at(
            path,
            format!("{label}match sets more than one of path, path_prefix and path_regex; use one"),
        );
    }
    if let Some(host) = &m.host {
        if let Err(e) = check_host_pattern(host) {
            issues.at(&path.key("host"), format!("{label}match.host {e}"));
        }
    }
    for (key, value) in [("path", &m.path), ("path_prefix", &m.path_prefix)] {
        // `path = "*"` matches the asterisk-form target of `OPTIONS *` (RFC 9112 §3.2.4).
        if let Some(p) = value.as_ref().filter(|p| !(key == "path" && *p == "*")) {
            if let Err(e) = check_path(p) {
                issues.at(&path.key(key), format!("{label}match.{key} {e}"));
            }
        }
    }
    if let Some(re) = &m.path_regex {
        if let Err(e) = regex::Regex::new(re) {
            issues.at(
                &path.key("path_regex"),
                format!(
                    "{label}match.path_regex does not compile: {}",
                    regex_error(&e)
                ),
            );
        }
    }
    for (j, method) in m.methods.iter_mut().enumerate() {
        match check_token(method, "method") {
            Ok(()) => method.make_ascii_uppercase(),
            Err(e) => issues.at(
                &path.key("methods").index(j),
                format!("{label}match.methods: {e}"),
            ),
        }
    }
    check_header_map(
        issues,
        &m.headers,
        &path.key("headers"),
        &format!("{label}match.headers: "),
        false,
    );
}

fn check_rewrite(
    issues: &mut Issues,
    rw: &RewriteConfig,
    m: &MatchConfig,
    path: &KeyPath,
    label: &str,
) {
    match (&rw.prefix, &rw.regex, &rw.replacement) {
        (Some(_), Some(_), _) => issues.at(
            path,
            format!("{label}rewrite sets both prefix and regex; use one"),
        ),
        (None, None, _) => issues.at(
            path,
            format!(
                "{label}rewrite sets nothing; give prefix (with match.path_prefix), or regex and \
                 replacement"
            ),
        ),
        (Some(prefix), None, replacement) => {
            if replacement.is_some() {
                issues.at(
                    &path.key("replacement"),
                    format!("{label}rewrite.replacement goes with rewrite.regex, not prefix"),
                );
            }
            match &m.path_prefix {
                None => issues.at(
                    &path.key("prefix"),
                    format!(
                        "{label}rewrite.prefix replaces the matched match.path_prefix, but the route \
                         has no match.path_prefix"
                    ),
                ),
                Some(_) => {
                    if let Err(e) = check_target_chars(prefix) {
                        issues.at(&path.key("prefix"), format!("{label}rewrite.prefix {e}"));
                    }
                }
            }
        }
        (None, Some(re), replacement) => match regex::Regex::new(re) {
            Err(e) => issues.at(
                &path.key("regex"),
                format!("{label}rewrite.regex does not compile: {}", regex_error(&e)),
            ),
            Ok(regex) => match replacement {
                None => issues.at(
                    path,
                    format!(
                        "{label}rewrite.regex needs a replacement (\"$1\", \"${{name}}\", text)"
                    ),
                ),
                Some(replacement) => {
                    let checked = check_target_chars(replacement)
                        .map_err(|e| format!("replacement {e}"))
                        .and_then(|()| check_replacement(&regex, replacement));
                    if let Err(e) = checked {
                        issues.at(&path.key("replacement"), format!("{label}rewrite.{e}"));
                    }
                }
            },
        },
    }
}

/// Header names must be tokens and values free of control characters. `managed_refused`:
/// whether framing and hop-by-hop headers are refused (see `is_managed_header`).
fn check_header_map(
    issues: &mut Issues,
    map: &BTreeMap<String, String>,
    path: &KeyPath,
    prefix: &str,
    managed_refused: bool,
) {
    let mut lower: HashMap<String, &str> = HashMap::new();
    for (name, value) in map {
        let at = path.key(name);
        if let Err(e) = check_token(name, "header name") {
            issues.at_key(&at, format!("{prefix}{e}"));
            continue;
        }
        if managed_refused && is_managed_header(name) {
            issues.at_key(
                &at,
                format!("{prefix}{name} is managed by the proxy (framing or hop-by-hop) and cannot be set"),
            );
        }
        if let Some(other) = lower.insert(name.to_ascii_lowercase(), name) {
            issues.at_key(
                &at,
                format!("{prefix}{name:?} and {other:?} are the same header (names ignore case)"),
            );
        }
        if let Err(e) = check_field_value(value) {
            issues.at(&at, format!("{prefix}{e}"));
        }
    }
}

fn check_header_ops(issues: &mut Issues, ops: &HeaderOps, path: &KeyPath, prefix: &str) {
    check_header_map(
        issues,
        &ops.add,
        &path.key("add"),
        &format!("{prefix}add: "),
        true,
    );
    check_header_map(
        issues,
        &ops.set,
        &path.key("set"),
        &format!("{prefix}set: "),
        true,
    );
    for (j, name) in ops.remove.iter().enumerate() {
        let at = path.key("remove").index(j);
        if let Err(e) = check_token(name, "header name") {
            issues.at(&at, format!("{prefix}remove: {e}"));
        } else if is_managed_header(name) {
            issues.at(
                &at,
                format!("{prefix}remove: {name} is managed by the proxy (framing or hop-by-hop)"),
            );
        }
    }
}

fn check_respond(issues: &mut Issues, respond: &RespondConfig, path: &KeyPath, label: &str) {
    let status = respond.status;
    if !(200..=599).contains(&status) {
        issues.at(
            &path.key("status"),
            format!(
                "{label}respond.status {status} must be from 200 to 599 (1xx are interim responses \
                 and cannot end a request)"
            ),
        );
    } else if matches!(status, 204 | 304) && !respond.body.is_empty() {
        issues.at(
            &path.key("body"),
            format!("{label}a {status} response has no body (RFC 9110); remove respond.body"),
        );
    }
    check_header_map(
        issues,
        &respond.headers,
        &path.key("headers"),
        &format!("{label}respond.headers: "),
        true,
    );
}

fn check_cors(issues: &mut Issues, cors: &CorsConfig, path: &KeyPath, label: &str) {
    let origins = path.key("allow_origins");
    if cors.allow_origins.is_empty() {
        issues.at(
            &origins,
            format!("{label}cors.allow_origins is empty; list origins, or \"*\" for any"),
        );
    }
    let wildcard = cors.allow_origins.iter().any(|o| o == "*");
    if wildcard && cors.allow_origins.len() > 1 {
        issues.at(
            &origins,
            format!("{label}cors.allow_origins: \"*\" allows any origin; list it alone"),
        );
    }
    if wildcard && cors.allow_credentials {
        issues.at(
            &path.key("allow_credentials"),
            format!(
                "{label}cors.allow_credentials = true cannot go with allow_origins = [\"*\"]: browsers \
                 refuse credentialed responses to a wildcard origin (Fetch); list the origins"
            ),
        );
    }
    for (j, origin) in cors.allow_origins.iter().enumerate() {
        if let Err(e) = check_origin(origin) {
            issues.at(&origins.index(j), format!("{label}cors.allow_origins: {e}"));
        }
    }
    if cors.allow_methods.is_empty() {
        issues.at(
            &path.key("allow_methods"),
            format!("{label}cors.allow_methods is empty; preflights would all fail"),
        );
    }
    for (key, list, what) in [
        ("allow_methods", &cors.allow_methods, "method"),
        ("allow_headers", &cors.allow_headers, "header name"),
        ("expose_headers", &cors.expose_headers, "header name"),
    ] {
        for (j, item) in list.iter().enumerate() {
            let at = path.key(key).index(j);
            if item == "*" {
                if cors.allow_credentials {
                    issues.at(
                        &at,
                        format!(
                            "{label}cors.{key}: with allow_credentials, browsers read \"*\" as a \
                             literal name, not a wildcard (Fetch); list them"
                        ),
                    );
                }
            } else if let Err(e) = check_token(item, what) {
                issues.at(&at, format!("{label}cors.{key}: {e}"));
            }
        }
    }
}
