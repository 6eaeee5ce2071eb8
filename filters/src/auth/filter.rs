//! A route's auth filter: find the credential, identify the consumer, refuse or let
//! through (see the module doc of [`super`] for the rules).
//!
//! Per request it allocates nothing on the API-key path beyond a refusal's body and, for
//! a query credential, the target without it; a JWT is decoded into a claims map (the
//! `jsonwebtoken` crate's way), and a JWT consumer not in the config gets its own `Rc`.

use std::borrow::Cow;
use std::rc::Rc;

use bytes::Bytes;
use tollgate_proto::h1::RequestHead;

use super::jwt::JwtError;
use super::{Consumer, Identities, RouteAuthConfig};
use crate::chain::{Invalid, LlmRequest};
use crate::headers::field_name;
use crate::llm::{error_response, Dialect};
use crate::route::RequestTarget;
use crate::{Flow, LocalResponse, RequestCtx};

/// A compiled route `auth` key.
#[derive(Debug)]
pub struct RouteAuth {
    ids: Rc<Identities>,
    api_key: bool,
    /// Indices into `ids.issuers`, in the route's order.
    issuers: Box<[usize]>,
    /// Lowercase; `None`: no extra header.
    header: Option<Bytes>,
    query: Option<Box<[u8]>>,
    anonymous: bool,
    /// Refusals in the LLM client's API format.
    llm: bool,
    /// Per configured consumer (by index): may it call this route.
    allowed: Box<[bool]>,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Missing,
    BadKey,
    BadToken(JwtError),
    UnknownConsumer,
    Route,
}

impl Refusal {
    fn status(self) -> u16 {
        match self {
            Refusal::Missing | Refusal::BadKey | Refusal::BadToken(_) => 401,
            Refusal::UnknownConsumer | Refusal::Route => 403,
        }
    }

    /// For the access log's `error` and `tollgate_auth_failures_total{reason}`.
    fn reason(self) -> &'static str {
        match self {
            Refusal::Missing => "missing_credentials",
            Refusal::BadKey => "invalid_api_key",
            Refusal::BadToken(e) => e.reason(),
            Refusal::UnknownConsumer => "unknown_consumer",
            Refusal::Route => "route_forbidden",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::Missing => "authentication required: no API key or token was sent",
            Refusal::BadKey => "the API key is not valid",
            Refusal::BadToken(e) => e.message(),
            Refusal::UnknownConsumer => "the token names no known consumer",
            Refusal::Route => "this consumer may not use this route",
        }
    }

    /// RFC 6750 §3: the challenge, with `error` where the request carried a credential.
    fn challenge(self) -> Bytes {
        match self {
            Refusal::Missing => Bytes::from_static(b"Bearer realm=\"tollgate\""),
            Refusal::BadKey | Refusal::BadToken(_) => Bytes::from(format!(
                "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"{}\"",
                self.message()
            )),
            Refusal::UnknownConsumer | Refusal::Route => {
                Bytes::from_static(b"Bearer realm=\"tollgate\", error=\"insufficient_scope\"")
            }
        }
    }
}

const AUTHORIZATION: &str = "authorization";

impl RouteAuth {
    /// `route` is the route's name (consumers' `routes` lists name it); `llm` whether the
    /// route serves the LLM API.
    pub(crate) fn compile(
        cfg: &RouteAuthConfig,
        ids: &Rc<Identities>,
        route: &str,
        llm: bool,
    ) -> Result<RouteAuth, Invalid> {
        let issuers = cfg
            .jwt
            .iter()
            .map(|name| {
                ids.issuer(name).ok_or_else(|| {
                    Invalid::new("auth.jwt", format!("issuer '{name}' is not defined"))
                })
            })
            .collect::<Result<Box<[usize]>, _>>()?;
        if !cfg.api_key && issuers.is_empty() && !cfg.anonymous {
            return Err(Invalid::new(
                "auth",
                "accepts no credential: set api_key = true, name jwt issuers, or anonymous = true",
            ));
        }
        let header = if cfg.header.is_empty() {
            None
        } else {
            let name = field_name(&cfg.header).map_err(|e| Invalid::new("auth.header", e))?;
            if &name[..] == AUTHORIZATION.as_bytes() {
                return Err(Invalid::new(
                    "auth.header",
                    "Authorization: Bearer is always read; name another header",
                ));
            }
            Some(name)
        };
        let query = (!cfg.query.is_empty()).then(|| cfg.query.as_bytes().into());
        let allowed = ids
            .consumers
            .iter()
            .zip(0..)
            .map(|(c, i): (&Rc<Consumer>, usize)| {
                debug_assert_eq!(c.index, Some(i));
                c.routes.is_empty() || c.routes.iter().any(|r| r == route)
            })
            .collect();
        Ok(RouteAuth {
            ids: ids.clone(),
            api_key: cfg.api_key,
            issuers,
            header,
            query,
            anonymous: cfg.anonymous,
            llm,
            allowed,
        })
    }

    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        let found = self.strip_and_find(ctx, head);
        let outcome = match found {
            None if self.anonymous => Ok(self.ids.anonymous.clone()),
            None => Err(Refusal::Missing),
            // A route that takes no credential of its own admits everyone as anonymous.
            Some(_) if !self.api_key && self.issuers.is_empty() => Ok(self.ids.anonymous.clone()),
            Some(cred) => self.identify(&cred),
        };
        let consumer = outcome.and_then(|c| match c.index {
            Some(i) if !self.allowed.get(i).copied().unwrap_or(false) => Err(Refusal::Route),
            _ => Ok(c),
        });
        match consumer {
            Ok(c) => {
                ctx.consumer = Some(c);
                Flow::Continue
            }
            Err(r) => {
                let dialect = self.llm.then(|| Dialect::of_head(head));
                Flow::Respond(refuse(ctx, r, dialect))
            }
        }
    }

    /// LLM routes: the consumer must be allowed the model the client named.
    pub fn on_llm_request(&self, ctx: &mut RequestCtx, req: &LlmRequest<'_>) -> Flow {
        if ctx.consumer_allows_model(req.model) {
            return Flow::Continue;
        }
        ctx.auth_failure = Some("model_forbidden");
        ctx.error = Some("model_forbidden");
        let msg = format!("this consumer may not use the model `{}`", req.model);
        let mut resp = error_response(req.dialect, 403, &msg, Some("model_not_allowed"));
        resp.headers.push((
            Bytes::from_static(b"www-authenticate"),
            Refusal::Route.challenge(),
        ));
        Flow::Respond(resp)
    }

    /// Takes every credential this route reads out of what goes upstream (and a query
    /// credential out of the access log), and returns the first one found: `Bearer`
    /// token, then the header, then the query parameter.
    fn strip_and_find<'h>(
        &self,
        ctx: &mut RequestCtx,
        head: &'h RequestHead,
    ) -> Option<Cow<'h, [u8]>> {
        let mut found: Option<Cow<'h, [u8]>> = None;
        let mut bearer_seen = false;
        for h in &head.headers {
            if head.name(h).eq_ignore_ascii_case(AUTHORIZATION.as_bytes()) {
                if let Some(token) = bearer(head.value(h)) {
                    bearer_seen = true;
                    found.get_or_insert(Cow::Borrowed(token));
                }
            }
        }
        if bearer_seen {
            ctx.request_edits
                .remove
                .push(Bytes::from_static(AUTHORIZATION.as_bytes()));
        }
        if let Some(name) = &self.header {
            if let Some(v) = header(head, name) {
                ctx.request_edits.remove.push(name.clone());
                let v = trim(v);
                if !v.is_empty() {
                    found.get_or_insert(Cow::Borrowed(v));
                }
            }
        }
        if let Some(param) = &self.query {
            let target = RequestTarget::of(head);
            if let Some((value, rest)) = take_param(target.query, param) {
                let mut t = Vec::with_capacity(target.path.len() + rest.len());
                t.extend_from_slice(target.path);
                t.extend_from_slice(&rest);
                let t = Bytes::from(t);
                ctx.request_edits.target = Some(t.clone());
                ctx.log_target = Some(t);
                if !value.is_empty() {
                    found.get_or_insert(value);
                }
            }
        }
        found
    }

    fn identify(&self, cred: &[u8]) -> Result<Rc<Consumer>, Refusal> {
        if !self.issuers.is_empty() && looks_like_jwt(cred) {
            return self.identify_token(cred);
        }
        if !self.api_key {
            return Err(Refusal::BadToken(JwtError::Malformed));
        }
        match self.ids.keys.find(cred) {
            Some(i) => Ok(self.ids.consumers[i].clone()),
            None => Err(Refusal::BadKey),
        }
    }

    fn identify_token(&self, cred: &[u8]) -> Result<Rc<Consumer>, Refusal> {
        let token =
            std::str::from_utf8(cred).map_err(|_| Refusal::BadToken(JwtError::Malformed))?;
        let mut last = JwtError::NoKey;
        for &i in self.issuers.iter() {
            let issuer = &self.ids.issuers[i];
            match issuer.verify(token) {
                Ok(v) => {
                    return match self.ids.by_name.get(&v.consumer) {
                        Some(&c) => Ok(self.ids.consumers[c].clone()),
                        None => match &issuer.default_group {
                            Some(group) => Ok(Rc::new(Consumer {
                                name: v.consumer,
                                group: group.clone(),
                                ..Consumer::default()
                            })),
                            None => Err(Refusal::UnknownConsumer),
                        },
                    }
                }
                // The signature was this issuer's: what it says about the claims holds.
                Err(
                    e @ (JwtError::Expired
                    | JwtError::NotYetValid
                    | JwtError::Audience
                    | JwtError::MissingClaim
                    | JwtError::NoConsumer),
                ) => return Err(Refusal::BadToken(e)),
                Err(e) => last = e,
            }
        }
        Err(Refusal::BadToken(last))
    }
}

/// The value of the first field named `name` (lowercase), ASCII case-insensitively.
fn header<'h>(head: &'h RequestHead, name: &[u8]) -> Option<&'h [u8]> {
    head.headers
        .iter()
        .find(|h| head.name(h).eq_ignore_ascii_case(name))
        .map(|h| head.value(h))
}

/// Marks the context and builds the refusal.
fn refuse(ctx: &mut RequestCtx, r: Refusal, dialect: Option<Dialect>) -> LocalResponse {
    ctx.auth_failure = Some(r.reason());
    ctx.error = Some(r.reason());
    let mut resp = match dialect {
        Some(d) => error_response(d, r.status(), r.message(), None),
        None => gateway_error(r.status(), r.message()),
    };
    resp.headers
        .push((Bytes::from_static(b"www-authenticate"), r.challenge()));
    resp
}

/// The gateway's own error shape (as `core/src/server/local.rs` writes it).
fn gateway_error(status: u16, message: &str) -> LocalResponse {
    let kind = if status == 401 {
        "authentication_error"
    } else {
        "permission_error"
    };
    let body = serde_json::json!({"error": {"message": message, "type": kind, "code": status}});
    LocalResponse {
        status,
        headers: vec![crate::llm::errors::json_type()],
        body: Bytes::from(format!("{body}\n")),
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive, RFC 9110 §11.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = trim(value);
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    Some(trim(&value[7..]))
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// A JWT in compact form: base64url of `{"...` (hence `eyJ`), and exactly two dots.
fn looks_like_jwt(cred: &[u8]) -> bool {
    cred.starts_with(b"eyJ") && cred.iter().filter(|b| **b == b'.').count() == 2
}

/// Finds `param` in `query` (`?a=1&key=K&b=2`, or empty): its value (percent-decoded,
/// first occurrence) and the query without any `param=` pair (`?a=1&b=2`, or empty).
fn take_param<'q>(query: &'q [u8], param: &[u8]) -> Option<(Cow<'q, [u8]>, Vec<u8>)> {
    let pairs = query.strip_prefix(b"?")?;
    let mut value = None;
    let mut rest = Vec::with_capacity(query.len());
    for pair in pairs.split(|b| *b == b'&') {
        let (name, v) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        if name == param {
            value.get_or_insert(v);
            continue;
        }
        rest.push(if rest.is_empty() { b'?' } else { b'&' });
        rest.extend_from_slice(pair);
    }
    value.map(|v| (percent_decode(v), rest))
}

fn percent_decode(v: &[u8]) -> Cow<'_, [u8]> {
    if !v.contains(&b'%') && !v.contains(&b'+') {
        return Cow::Borrowed(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            v[i],
            v.get(i + 1).and_then(|c| hex(*c)),
            v.get(i + 2).and_then(|c| hex(*c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}
