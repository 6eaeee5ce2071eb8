//! Whole-config validation with line-precise errors.
//!
//! Loading is two steps. First serde fills the typed [`Config`] from TOML (`toml` crate):
//! syntax errors, wrong types, unknown keys (every struct denies them) and missing keys
//! stop here, with the span toml reports. Then the semantic checks run over the whole
//! config and collect every problem, not just the first: names that must exist, values
//! that must agree, ranges, the grammars of addresses, headers, paths and regexes. Each
//! problem names its key path (`routes[2].upstream`), and `locate` maps that path back to
//! a line and column by parsing the same text with `toml_edit`.
//!
//! A config that passes is normalised before it is returned: unnamed routes are named
//! `route-N` and unnamed listeners `listener-N` (N 1-based, in file order), and route
//! match methods are upper-cased. Everything else is returned as written.
//!
//! Validation is pure: it looks at the text only, never at the host, so `tollgate check`
//! gives the same answer on a laptop as on the server. Checks that depend on the machine
//! (that `runtime.cpus` exist and are online, that addresses can be bound, that the access
//! log file can be opened) belong to start-up in the runtime. Two exceptions, because a
//! reload must refuse them with the line at fault: `env:` API keys must be set (`llm.rs`),
//! and TLS certificate, key and CA files must be readable and valid (`tls.rs`; relative
//! paths count from the config file's directory and come back absolute).
//!
//! Choices made here, so a reader need not reverse them out of the code:
//! - `retry.on_status` accepts 5xx and the transient 4xx (408, 425, 429); other 4xx are
//!   the client's fault and a retry cannot change them.
//! - `respond.status` is 200..=599: a 1xx is an interim response and cannot end a
//!   request; 204 and 304 cannot carry a body (RFC 9110 §15.3.5, §15.4.5).
//! - `runtime.workers` and `runtime.cpus`, when both given, must agree in number.
//! - Header transforms and direct responses may not touch framing or hop-by-hop headers
//!   (`Content-Length`, `Transfer-Encoding`, `Connection`, ...): the proxy owns those.

mod auth;
mod clusters;
mod guard;
mod llm;
mod locate;
mod ratelimit;
mod ratelimit_redis;
mod routes;
mod server;
mod syntax;
#[cfg(test)]
mod tests;
mod tls;

pub use locate::KeyPath;

use std::path::Path;

use locate::At;

use super::{Config, ConfigError, Dur};

/// Parses and validates config text; the first problem (in file order) is the error.
/// `origin` names the text in errors (a file name, or `<embedded>`). Relative file paths
/// in it count from the working directory.
pub fn parse_and_validate(text: &str, origin: &str) -> Result<Config, ConfigError> {
    parse_and_validate_in(text, origin, Path::new(""))
}

/// [`parse_and_validate`] for text from a file in the directory `base`, which relative
/// file paths (TLS certificates and keys) count from.
pub fn parse_and_validate_in(text: &str, origin: &str, base: &Path) -> Result<Config, ConfigError> {
    parse_and_validate_all_in(text, origin, base).map_err(|errors| {
        errors.into_iter().next().unwrap_or_else(|| ConfigError {
            origin: origin.to_owned(),
            line: None,
            column: None,
            message: "invalid config".into(),
        })
    })
}

/// Parses and validates config text and reports every problem, sorted by position in
/// the file (problems without a position first). Never returns an empty `Err`. A syntax
/// or type error stops parsing, so it is reported alone.
pub fn parse_and_validate_all(text: &str, origin: &str) -> Result<Config, Vec<ConfigError>> {
    parse_and_validate_all_in(text, origin, Path::new(""))
}

/// [`parse_and_validate_all`] with relative file paths counted from `base`.
pub fn parse_and_validate_all_in(
    text: &str,
    origin: &str,
    base: &Path,
) -> Result<Config, Vec<ConfigError>> {
    let config: Config = match toml::from_str(text) {
        Ok(config) => config,
        Err(e) => return Err(vec![deserialize_error(text, origin, &e)]),
    };
    check_and_locate(config, Some(text), origin, base)
}

/// Validates a config built in code rather than parsed; errors carry key paths but no
/// line numbers.
pub fn validate(config: Config, origin: &str) -> Result<Config, Vec<ConfigError>> {
    check_and_locate(config, None, origin, Path::new(""))
}

fn check_and_locate(
    mut config: Config,
    text: Option<&str>,
    origin: &str,
    base: &Path,
) -> Result<Config, Vec<ConfigError>> {
    let mut issues = Issues::default();
    server::check(&mut issues, &mut config);
    tls::check(&mut issues, &mut config, base);
    clusters::check(&mut issues, &config.clusters);
    routes::check(&mut issues, &mut config.routes, &config.clusters);
    llm::check(&mut issues, &config.llm, &config.clusters, &config.routes);
    guard::check(&mut issues, &config.routes);
    auth::check(&mut issues, &config);
    ratelimit::check(
        &mut issues,
        &config.rate_limits,
        &config.routes,
        &config.llm,
    );
    ratelimit_redis::check(&mut issues, &config.rate_limits);
    if issues.0.is_empty() {
        return Ok(config);
    }
    // Parsed again only when something is wrong: spans cost nothing on the happy path.
    let doc = text.and_then(|t| toml_edit::Document::parse(t).ok());
    let mut errors: Vec<ConfigError> = issues
        .0
        .into_iter()
        .map(|issue| {
            let span = doc
                .as_ref()
                .and_then(|d| locate::span_of(d, &issue.path, issue.at));
            let (line, column) = match (span, text) {
                (Some(span), Some(text)) => {
                    let (l, c) = locate::line_col(text, span.start);
                    (Some(l), Some(c))
                }
                _ => (None, None),
            };
            let message = if issue.path.is_root() {
                issue.message
            } else {
                format!("{}: {}", issue.path, issue.message)
            };
            ConfigError {
                origin: origin.to_owned(),
                line,
                column,
                message,
            }
        })
        .collect();
    errors.sort_by_key(|e| (e.line, e.column));
    Err(errors)
}

/// A serde/toml error as a [`ConfigError`]: toml's own message without its snippet,
/// made friendlier, prefixed with the key path that holds the error's span.
fn deserialize_error(text: &str, origin: &str, e: &toml::de::Error) -> ConfigError {
    let mut message = humanize_serde(e.message());
    let (mut line, mut column) = (None, None);
    if let Some(span) = e.span() {
        let (l, c) = locate::line_col(text, span.start);
        (line, column) = (Some(l), Some(c));
        // A syntax error leaves no document to find a path in; the position suffices.
        if let Ok(doc) = toml_edit::Document::parse(text) {
            let path = locate::path_at(&doc, span.start);
            if !path.is_root() {
                message = format!("{path}: {message}");
            }
        }
    }
    ConfigError {
        origin: origin.to_owned(),
        line,
        column,
        message,
    }
}

/// Rewrites serde's Rust-flavoured wording ("expected usize") into the user's terms.
fn humanize_serde(message: &str) -> String {
    let message = message.trim().replace('\n', " ");
    if message.contains("untagged enum RuleConfig") {
        return "a guard rule is \"REGEX\" or { name = \"NAME\", pattern = \"REGEX\" }".into();
    }
    if message.contains("untagged enum EndpointSpec") {
        return "an endpoint is \"host:port\" or { address = \"host:port\", weight = N }, \
                with no other keys"
            .into();
    }
    [
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u16", "expected a whole number from 0 to 65535"),
        ("expected f64", "expected a number"),
    ]
    .iter()
    .fold(message, |m, (rust, user)| m.replace(rust, user))
}

/// One problem: where (a key path, and whether the key or the value is at fault) and
/// what, in a sentence that stands alone.
#[derive(Debug)]
struct Issue {
    path: KeyPath,
    at: At,
    message: String,
}

/// The problems found so far, in the order the checks ran.
#[derive(Debug, Default)]
struct Issues(Vec<Issue>);

impl Issues {
    /// A problem with the value at `path` (or the table, if `path` names one).
    fn at(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.0.push(Issue {
            path: path.clone(),
            at: At::Value,
            message: message.into(),
        });
    }

    /// A problem with the key at the end of `path` (a header name in a map, say).
    fn at_key(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.0.push(Issue {
            path: path.clone(),
            at: At::Key,
            message: message.into(),
        });
    }

    /// A count that must not be zero; `prefix` names the owner ("cluster \"a\": ").
    fn positive(&mut self, path: &KeyPath, value: u64, prefix: &str) {
        if value == 0 {
            self.at(path, format!("{prefix}must be greater than 0"));
        }
    }

    /// A duration that must not be zero; `prefix` as for [`Issues::positive`].
    fn positive_duration(&mut self, path: &KeyPath, value: Dur, prefix: &str) {
        if value.get().is_zero() {
            self.at(
                path,
                format!("{prefix}must be longer than 0 (e.g. \"10s\")"),
            );
        }
    }
}
