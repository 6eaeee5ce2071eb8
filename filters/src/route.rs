//! Route matching: host (exact or `*.suffix`), path (exact, prefix or regex), method,
//! headers. Routes are tried in config order; the first match wins.
//!
//! What a route sees of a request is its [`RequestTarget`]: the host without its port and
//! the path without its query. For an absolute-form target (`http://host:port/p?q`) the
//! authority of the target names the host and the Host header is ignored (RFC 9112 §3.2.2).
//!
//! Matching rules, all decided at build time so that [`Matcher::matches`] only compares
//! bytes (no allocation, no lowercasing per request):
//! - host: ASCII case-insensitive, port and one trailing dot stripped on both sides.
//!   `*.example.com` matches any subdomain at any depth (`a.example.com`,
//!   `a.b.example.com`) but not `example.com` itself; `*` matches any host.
//! - path: compared on the raw bytes of the target's path, not percent-decoded and not
//!   normalised (`/a/../b` is matched as written, as Envoy does by default). `path` is
//!   exact; `path_prefix` is a plain byte prefix like nginx's `location /api` and Envoy's
//!   `prefix` (so `/api` also matches `/apis`; write `/api/` to stop at a segment);
//!   `path_regex` is searched as written (anchor it with `^...$` to match whole paths).
//!   At most one of the three may be set.
//! - methods: any of the list; config names are uppercased, the request's method is
//!   compared byte for byte (methods are case-sensitive, RFC 9110 §9.1).
//! - headers: for every entry, some field with that name has exactly that value.
//!
//! Never panics on request bytes: every index below comes from a search in the same slice.

use std::collections::BTreeMap;

use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use tollgate_proto::h1::RequestHead;

use crate::chain::{Invalid, Route};
use crate::headers::field_name;
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
    #[serde(default)]
    pub llm: Option<crate::llm::RouteLlmConfig>,
    /// Guardrails on an LLM route (`guard = { ... }`): caps, prompt rules, redaction.
    #[serde(default)]
    pub guard: Option<crate::guard::GuardConfig>,
    /// Who may call the route (`auth = { ... }`); `None`: anyone, unidentified.
    #[serde(default)]
    pub auth: Option<crate::auth::RouteAuthConfig>,
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

/// The parts of a request that routing and rewriting look at, as slices of its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    /// The host without port or trailing dot, from the absolute-form target's authority
    /// or else the Host header; `None` when neither gives one.
    pub host: Option<&'a [u8]>,
    /// The path (`/` for an absolute-form target without one; `*` for asterisk-form).
    pub path: &'a [u8],
    /// `?` and everything after it, or empty.
    pub query: &'a [u8],
}

impl<'a> RequestTarget<'a> {
    pub fn of(head: &'a RequestHead) -> RequestTarget<'a> {
        let target = head.target_bytes();
        let (host_field, path_and_query, absolute) = match split_absolute_form(target) {
            Some((authority, rest)) => (Some(authority), rest, true),
            None => (head.host_bytes(), target, false),
        };
        let host = host_field.map(host_without_port).filter(|h| !h.is_empty());
        let (path, query) = match memchr::memchr(b'?', path_and_query) {
            Some(i) => path_and_query.split_at(i),
            None => (path_and_query, &b""[..]),
        };
        // `http://h` and `http://h?q` have an empty path, which means `/` (RFC 9112 §3.2.2).
        let path = if path.is_empty() && absolute {
            &b"/"[..]
        } else {
            path
        };
        RequestTarget { host, path, query }
    }
}

/// Splits `scheme://authority/rest` into the authority (userinfo dropped) and the rest
/// (path and query). `None` for origin-form, asterisk-form and authority-form targets.
fn split_absolute_form(target: &[u8]) -> Option<(&[u8], &[u8])> {
    if target.first().is_none_or(|b| !b.is_ascii_alphabetic()) {
        return None;
    }
    let colon = memchr::memmem::find(target, b"://")?;
    let scheme = &target[..colon];
    if !scheme
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let rest = &target[colon + 3..];
    let end = rest
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    let authority = match memchr::memrchr(b'@', authority) {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    Some((authority, &rest[end..]))
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`; one trailing dot dropped.
fn host_without_port(host: &[u8]) -> &[u8] {
    let host = if host.first() == Some(&b'[') {
        match memchr::memchr(b']', host) {
            Some(i) => &host[..=i],
            None => host,
        }
    } else {
        match memchr::memchr(b':', host) {
            Some(i) => &host[..i],
            None => host,
        }
    };
    host.strip_suffix(b".").unwrap_or(host)
}

#[derive(Debug)]
enum HostMatch {
    /// Lowercase host.
    Exact(Box<[u8]>),
    /// Lowercase suffix with its leading dot: `.example.com` for `*.example.com`.
    Subdomain(Box<[u8]>),
}

impl HostMatch {
    fn matches(&self, host: &[u8]) -> bool {
        match self {
            HostMatch::Exact(h) => host.eq_ignore_ascii_case(h),
            HostMatch::Subdomain(suffix) => {
                host.len() > suffix.len()
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        }
    }
}

#[derive(Debug)]
enum PathMatch {
    Any,
    Exact(Box<[u8]>),
    Prefix(Box<[u8]>),
    Regex(Regex),
}

/// A compiled [`MatchConfig`].
#[derive(Debug)]
pub struct Matcher {
    /// `None` matches any host, or none at all.
    host: Option<HostMatch>,
    path: PathMatch,
    /// Uppercased; empty matches any method.
    methods: Vec<Box<[u8]>>,
    headers: Vec<HeaderMatch>,
}

#[derive(Debug)]
struct HeaderMatch {
    /// Lowercase.
    name: Box<[u8]>,
    /// Compared byte for byte.
    value: Box<[u8]>,
}

impl Matcher {
    pub(crate) fn compile(cfg: &MatchConfig) -> Result<Matcher, Invalid> {
        let host = cfg.host.as_deref().map(compile_host).transpose()?.flatten();
        let path = match (&cfg.path, &cfg.path_prefix, &cfg.path_regex) {
            (None, None, None) => PathMatch::Any,
            (Some(p), None, None) => {
                check_path("match.path", p)?;
                PathMatch::Exact(p.as_bytes().into())
            }
            (None, Some(p), None) => {
                check_path("match.path_prefix", p)?;
                PathMatch::Prefix(p.as_bytes().into())
            }
            (None, None, Some(re)) => PathMatch::Regex(
                Regex::new(re).map_err(|e| Invalid::new("match.path_regex", e.to_string()))?,
            ),
            _ => {
                return Err(Invalid::new(
                    "match",
                    "set at most one of path, path_prefix and path_regex",
                ))
            }
        };
        let methods = cfg
            .methods
            .iter()
            .map(|m| {
                let name = field_name(m).map_err(|e| Invalid::new("match.methods", e))?;
                Ok(name.to_ascii_uppercase().into_boxed_slice())
            })
            .collect::<Result<_, Invalid>>()?;
        let headers = cfg
            .headers
            .iter()
            .map(|(name, value)| {
                let name = field_name(name).map_err(|e| Invalid::new("match.headers", e))?;
                Ok(HeaderMatch {
                    name: name.to_vec().into(),
                    value: value.as_bytes().into(),
                })
            })
            .collect::<Result<_, Invalid>>()?;
        Ok(Matcher {
            host,
            path,
            methods,
            headers,
        })
    }

    pub fn matches(&self, head: &RequestHead) -> bool {
        self.matches_target(head, &RequestTarget::of(head))
    }

    /// [`Matcher::matches`] with the target already taken apart (once per request, not
    /// once per route).
    pub fn matches_target(&self, head: &RequestHead, target: &RequestTarget<'_>) -> bool {
        if !self.methods.is_empty() {
            let method = head.method_bytes();
            if !self.methods.iter().any(|m| **m == *method) {
                return false;
            }
        }
        let path_ok = match &self.path {
            PathMatch::Any => true,
            PathMatch::Exact(p) => target.path == &**p,
            PathMatch::Prefix(p) => target.path.starts_with(p),
            PathMatch::Regex(re) => re.is_match(target.path),
        };
        if !path_ok {
            return false;
        }
        if let Some(host) = &self.host {
            if !target.host.is_some_and(|h| host.matches(h)) {
                return false;
            }
        }
        self.headers.iter().all(|m| {
            head.headers
                .iter()
                .any(|h| head.name(h).eq_ignore_ascii_case(&m.name) && head.value(h) == &*m.value)
        })
    }
}

fn compile_host(host: &str) -> Result<Option<HostMatch>, Invalid> {
    let field = "match.host";
    let lower = host.to_ascii_lowercase();
    if lower == "*" {
        return Ok(None);
    }
    let (wildcard, name) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err(Invalid::new(field, "host is empty"));
    }
    if name.contains('*') {
        return Err(Invalid::new(
            field,
            "only a leading `*.` wildcard is supported",
        ));
    }
    if !name.starts_with('[') && name.contains(':') {
        return Err(Invalid::new(field, "host must not include a port"));
    }
    if name
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'/')
    {
        return Err(Invalid::new(field, format!("invalid host `{host}`")));
    }
    Ok(Some(if wildcard {
        HostMatch::Subdomain(format!(".{name}").into_bytes().into_boxed_slice())
    } else {
        HostMatch::Exact(name.as_bytes().into())
    }))
}

fn check_path(field: &'static str, path: &str) -> Result<(), Invalid> {
    if path == "*" || path.starts_with('/') {
        Ok(())
    } else {
        Err(Invalid::new(
            field,
            format!("path `{path}` must start with `/`"),
        ))
    }
}

#[derive(Debug)]
pub struct Router {
    pub routes: Vec<Route>,
}

impl Router {
    /// The index of the first route that matches.
    pub fn find(&self, head: &RequestHead) -> Option<usize> {
        let target = RequestTarget::of(head);
        self.routes
            .iter()
            .position(|r| r.matcher.matches_target(head, &target))
    }
}

#[cfg(test)]
mod tests;
