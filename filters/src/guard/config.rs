//! A route's `guard` key (serde). Only the shape and the defaults live here; the core's
//! config validation (`core/src/config/validate/guard.rs`) checks names and patterns
//! with line numbers, and [`super::Guard::compile`] refuses what it cannot run.

use serde::{Deserialize, Serialize};

/// The built-in detectors, by the name `redact` lists them under.
pub const BUILTIN: [&str; 5] = ["email", "phone", "card", "iban", "ip"];

/// `guard = { ... }` on an LLM route. Every key is optional; an empty guard does nothing.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GuardConfig {
    /// A prompt that matches any of these is refused (400).
    #[serde(default)]
    pub deny: Vec<RuleConfig>,
    /// When set, a prompt must match at least one of these (else 400).
    #[serde(default)]
    pub allow: Vec<RuleConfig>,
    /// Which text `deny` and `allow` look at.
    #[serde(default)]
    pub scope: Scope,
    /// Detectors whose matches are replaced by placeholders before the request leaves:
    /// built-in names ([`BUILTIN`]) and the names of `custom` patterns.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Named patterns that `redact` can list.
    #[serde(default)]
    pub custom: Vec<CustomPattern>,
    /// Put the originals back where the answer repeats a placeholder.
    #[serde(default)]
    pub restore: bool,
    /// A request body longer than this is refused (413). Unset: only
    /// `llm.max_body_bytes` applies.
    #[serde(default)]
    pub max_request_bytes: Option<u64>,
    /// A request asking for more output tokens than this is refused (400); one that
    /// names no limit gets `max_tokens` set to this.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Caps for some consumers or groups (see `auth`), in place of the two above.
    #[serde(default)]
    pub caps: Vec<CapConfig>,
}

/// `caps = [{ consumer = "batch", max_tokens = 8000 }, { group = "free", ... }]`: the
/// first entry naming the request's consumer applies, else the first naming its group,
/// else the route's own caps. A key an entry leaves out is the route's.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapConfig {
    #[serde(default)]
    pub consumer: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub max_request_bytes: Option<u64>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
}

/// A prompt rule: a bare regular expression (named by its place, `deny[0]`), or one with
/// a name for messages and metrics.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RuleConfig {
    Pattern(String),
    Named(NamedRule),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamedRule {
    pub name: String,
    pub pattern: String,
}

impl RuleConfig {
    pub fn pattern(&self) -> &str {
        match self {
            RuleConfig::Pattern(p) => p,
            RuleConfig::Named(r) => &r.pattern,
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            RuleConfig::Pattern(_) => None,
            RuleConfig::Named(r) => Some(&r.name),
        }
    }
}

/// The text the prompt rules look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every message's text, the system prompt, `prompt` and `input`, joined by
    /// newlines.
    #[default]
    All,
    /// The latest message with role `user` (or, where a request has no messages, its
    /// `prompt` or `input`).
    LastUser,
}

/// `custom = [{ name = "ticket", pattern = "TCK-[0-9]{6}" }]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    pub name: String,
    pub pattern: String,
}

/// The placeholder label of a detector: `email` → `EMAIL`, `my-id` → `MY_ID`.
pub fn label_of(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}
