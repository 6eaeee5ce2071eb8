//! Route matching: host (exact or `*.suffix`), path (exact, prefix or regex), method,
//! headers. Routes are tried in config order; the first match wins.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tollgate_proto::h1::RequestHead;

use crate::chain::Route;
use crate::{cors::CorsConfig, headers::HeaderOps, respond::RespondConfig, rewrite::RewriteConfig};

/// One `[[routes]]` entry of the config file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "match")]
    pub matcher: MatchConfig,
    /// The cluster to proxy to. A route without one must have `respond`.
    #[serde(default)]
    pub upstream: Option<String>,
    #[serde(default)]
    pub rewrite: Option<RewriteConfig>,
    #[serde(default)]
    pub request_headers: HeaderOps,
    #[serde(default)]
    pub response_headers: HeaderOps,
    #[serde(default)]
    pub cors: Option<CorsConfig>,
    #[serde(default)]
    pub respond: Option<RespondConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// Exact host, or `*.example.com` for any subdomain. Compared case-insensitively,
    /// without the port.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub path_regex: Option<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    /// Header name to exact value; every entry must match.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A compiled [`MatchConfig`].
#[derive(Debug)]
pub struct Matcher {}

impl Matcher {
    pub fn matches(&self, head: &RequestHead) -> bool {
        let _ = head;
        todo!("Matcher::matches")
    }
}

#[derive(Debug)]
pub struct Router {
    pub routes: Vec<Route>,
}

impl Router {
    /// The index of the first route that matches.
    pub fn find(&self, head: &RequestHead) -> Option<usize> {
        self.routes.iter().position(|r| r.matcher.matches(head))
    }
}
