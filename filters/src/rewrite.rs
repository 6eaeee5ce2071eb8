//! Path rewrite: replace the matched prefix, or a regex substitution on the path.
//!
//! The rewrite reads the request's path (for an absolute-form target, the path part of
//! it), rewrites it, keeps the query string as it came, and sets
//! `ctx.request_edits.target` to the result in origin form. It allocates that one new
//! target per rewritten request and nothing when the path is left as it is.
//!
//! - `prefix`: the route's `match.path_prefix` is replaced by `prefix` (`/api` → `/v2` maps
//!   `/api/x?q` to `/v2/x?q`). Bytes are spliced as written, like nginx's
//!   `proxy_pass http://b/v2;` under `location /api`: no slash is added or removed.
//! - `regex` + `replacement`: every non-overlapping match in the path is replaced
//!   (`regex::bytes::Regex::replace_all`, as Envoy's `regex_rewrite` and Traefik's
//!   `ReplacePathRegex`); `$1`/`${name}` expand capture groups (write `${1}x`, not `$1x`).
//!   A path with no match is left alone.
//!
//! Invariant: the target sent upstream starts with `/`; a rewrite that produces an empty
//! path or one without a leading slash gets one prepended. Replacement text is checked at
//! build time for bytes that may not appear in a request-target (spaces, controls), and
//! captured groups are slices of a target the parser already accepted.

use std::borrow::Cow;

use bytes::Bytes;
use regex::bytes::Regex;
use serde::{Deserialize, Serialize};
use tollgate_proto::h1::RequestHead;

use crate::chain::Invalid;
use crate::route::RequestTarget;
use crate::{Flow, RequestCtx};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RewriteConfig {
    /// Replace the route's `path_prefix` with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Rewrite the path by regex substitution (`$1`, `${name}`).
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub replacement: Option<String>,
}

#[derive(Debug)]
enum Op {
    Prefix {
        matched: Box<[u8]>,
        replacement: Box<[u8]>,
    },
    Regex {
        re: Regex,
        replacement: Box<[u8]>,
    },
}

#[derive(Debug)]
pub struct Rewrite {
    op: Op,
}

impl Rewrite {
    /// `path_prefix` is the route's `match.path_prefix`, which a `prefix` rewrite replaces.
    pub(crate) fn compile(
        cfg: &RewriteConfig,
        path_prefix: Option<&str>,
    ) -> Result<Rewrite, Invalid> {
        let op = match (&cfg.prefix, &cfg.regex, &cfg.replacement) {
            (Some(prefix), None, None) => {
                let matched = path_prefix.ok_or_else(|| {
                    Invalid::new("rewrite.prefix", "needs `match.path_prefix` to replace")
                })?;
                check_target_bytes("rewrite.prefix", prefix)?;
                Op::Prefix {
                    matched: matched.as_bytes().into(),
                    replacement: prefix.as_bytes().into(),
                }
            }
            (None, Some(re), Some(replacement)) => {
                check_target_bytes("rewrite.replacement", replacement)?;
                Op::Regex {
                    re: Regex::new(re).map_err(|e| Invalid::new("rewrite.regex", e.to_string()))?,
                    replacement: replacement.as_bytes().into(),
                }
            }
            (None, Some(_), None) => {
                return Err(Invalid::new(
                    "rewrite.replacement",
                    "`regex` needs a `replacement`",
                ))
            }
            (None, None, Some(_)) => {
                return Err(Invalid::new(
                    "rewrite.regex",
                    "`replacement` needs a `regex`",
                ))
            }
            (None, None, None) => {
                return Err(Invalid::new(
                    "rewrite",
                    "set `prefix`, or `regex` and `replacement`",
                ))
            }
            (Some(_), Some(_), _) | (Some(_), None, Some(_)) => {
                return Err(Invalid::new(
                    "rewrite",
                    "set either `prefix` or `regex` and `replacement`, not both",
                ))
            }
        };
        Ok(Rewrite { op })
    }

    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        let target = RequestTarget::of(head);
        // The auth filter (earlier in the chain) may have taken a credential out of the
        // query: keep its query, not the request's.
        let edited = ctx.request_edits.target.clone();
        let query = match &edited {
            Some(t) => &t[memchr::memchr(b'?', t).unwrap_or(t.len())..],
            None => target.query,
        };
        if let Some(new) = self.rewrite(target.path, query) {
            ctx.request_edits.target = Some(new);
        }
        Flow::Continue
    }

    /// The new target for `path` + `query` (which starts with `?` or is empty), or `None`
    /// when this rewrite leaves the path alone.
    pub fn rewrite(&self, path: &[u8], query: &[u8]) -> Option<Bytes> {
        let new_path: Cow<'_, [u8]> = match &self.op {
            Op::Prefix {
                matched,
                replacement,
            } => {
                let rest = path.strip_prefix(&**matched)?;
                let mut p = Vec::with_capacity(replacement.len() + rest.len() + query.len() + 1);
                p.extend_from_slice(replacement);
                p.extend_from_slice(rest);
                Cow::Owned(p)
            }
            Op::Regex { re, replacement } => match re.replace_all(path, &**replacement) {
                Cow::Borrowed(_) => return None,
                owned => owned,
            },
        };
        let slash = !new_path.starts_with(b"/");
        let mut out = match new_path {
            Cow::Owned(v) if !slash => v,
            p => {
                let mut v = Vec::with_capacity(p.len() + query.len() + 1);
                if slash {
                    v.push(b'/');
                }
                v.extend_from_slice(&p);
                v
            }
        };
        out.extend_from_slice(query);
        Some(Bytes::from(out))
    }
}

fn check_target_bytes(field: &'static str, s: &str) -> Result<(), Invalid> {
    if s.bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == 0x7f || b == b'#')
    {
        return Err(Invalid::new(
            field,
            format!("{s:?} has a byte not allowed in a request-target"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{ctx, head};

    fn prefix(from: &str, to: &str) -> Rewrite {
        let cfg = RewriteConfig {
            prefix: Some(to.into()),
            regex: None,
            replacement: None,
        };
        Rewrite::compile(&cfg, Some(from)).unwrap()
    }

    fn regex(re: &str, rep: &str) -> Rewrite {
        let cfg = RewriteConfig {
            prefix: None,
            regex: Some(re.into()),
            replacement: Some(rep.into()),
        };
        Rewrite::compile(&cfg, None).unwrap()
    }

    /// Runs the rewrite on a GET of `target` and returns the new target, if any.
    fn run(rw: &Rewrite, target: &str) -> Option<String> {
        let h = head(&format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n"));
        let mut c = ctx();
        assert!(matches!(rw.on_request_head(&mut c, &h), Flow::Continue));
        c.request_edits
            .target
            .map(|t| String::from_utf8(t.to_vec()).unwrap())
    }

    #[test]
    fn rewrites() {
        #[rustfmt::skip]
        let cases: &[(Rewrite, &str, Option<&str>)] = &[
            (prefix("/api", "/v2"), "/api/x", Some("/v2/x")),
            (prefix("/api", "/v2"), "/api/x?a=1&b=/api", Some("/v2/x?a=1&b=/api")),
            (prefix("/api", "/v2"), "/api", Some("/v2")),
            (prefix("/api/", "/"), "/api/users/7", Some("/users/7")),
            (prefix("/api", ""), "/api/x", Some("/x")),
            (prefix("/api", ""), "/api", Some("/")),
            (prefix("/api", ""), "/api?q", Some("/?q")),
            (prefix("/api", "/v2"), "/other", None),
            (prefix("/api", "/v2"), "http://h:81/api/x?q=1", Some("/v2/x?q=1")),
            (regex("^/users/([0-9]+)$", "/u/${1}/p"), "/users/42?full=1", Some("/u/42/p?full=1")),
            (regex("^/users/([0-9]+)$", "/u/$1"), "/users/abc", None),
            (regex("^/(?P<v>v[0-9])/(.*)$", "/$2/${v}"), "/v1/a/b", Some("/a/b/v1")),
            (regex("x", "y"), "/x/xx?x", Some("/y/yy?x")),
            (regex("^/old", ""), "/old", Some("/")),
            (regex("^/old/", ""), "/old/new", Some("/new")),
        ];
        for (rw, target, want) in cases {
            assert_eq!(run(rw, target).as_deref(), *want, "{target} with {rw:?}");
        }
    }

    #[test]
    fn refuses_bad_config() {
        let cfg = |p: Option<&str>, r: Option<&str>, rep: Option<&str>| RewriteConfig {
            prefix: p.map(Into::into),
            regex: r.map(Into::into),
            replacement: rep.map(Into::into),
        };
        #[rustfmt::skip]
        let cases = [
            (cfg(Some("/v2"), None, None), None, "rewrite.prefix"),
            (cfg(Some("/a b"), None, None), Some("/a"), "rewrite.prefix"),
            (cfg(None, Some("^/a"), None), None, "rewrite.replacement"),
            (cfg(None, None, Some("/b")), None, "rewrite.regex"),
            (cfg(None, Some("("), Some("/b")), None, "rewrite.regex"),
            (cfg(None, Some("a"), Some("/b\r\n")), None, "rewrite.replacement"),
            (cfg(Some("/v2"), Some("a"), Some("b")), Some("/a"), "rewrite"),
            (cfg(None, None, None), None, "rewrite"),
        ];
        for (c, path_prefix, field) in cases {
            assert_eq!(
                Rewrite::compile(&c, path_prefix).unwrap_err().field,
                field,
                "{c:?}"
            );
        }
    }
}
