//! CORS (Fetch standard): preflight answered locally, allow headers added to responses
//! for allowed origins.
//!
//! - A preflight is an `OPTIONS` with `Origin` and `Access-Control-Request-Method`. It
//!   never reaches the upstream: an allowed origin asking for an allowed method gets 204
//!   with Allow-Origin, Allow-Credentials (if on), Allow-Methods, Allow-Headers (the list,
//!   or the requested headers echoed when the list is `*`), Max-Age and Vary; anything
//!   else gets 403 with no CORS header. GET, HEAD and POST are always allowed, as the
//!   Fetch standard treats them (CORS-safelisted methods).
//! - Any other request with an allowed `Origin` gets Allow-Origin, Allow-Credentials and
//!   Expose-Headers *set* on its response (replacing what the upstream sent); a request
//!   from another origin passes through with none of them.
//! - Allow-Origin is the request's origin itself when the list names origins or
//!   credentials are allowed (`*` cannot carry credentials), with `Vary: Origin`
//!   appended to every response of the route so that shared caches keep the variants
//!   apart. With `*` and no credentials the headers do not depend on the request, so
//!   they go on every response (with or without `Origin`) and no Vary is needed.
//!
//! Origins are compared ASCII case-insensitively (config entries lose a trailing `/`);
//! methods byte for byte, as the Fetch standard does. Echoed values are slices of the
//! request head's buffer, not copies.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tollgate_proto::h1::{Method, RequestHead};

use crate::chain::Invalid;
use crate::headers::{field_value, is_token};
use crate::{Flow, LocalResponse, RequestCtx};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed; `"*"` allows any.
    pub allow_origins: Vec<String>,
    #[serde(default = "default_methods")]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub allow_credentials: bool,
    /// Preflight cache lifetime in seconds.
    #[serde(default = "default_max_age")]
    pub max_age: u32,
}

fn default_methods() -> Vec<String> {
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        .map(String::from)
        .to_vec()
}
fn default_max_age() -> u32 {
    600
}

fn name(n: &'static str) -> Bytes {
    Bytes::from_static(n.as_bytes())
}

const ALLOW_ORIGIN: &str = "access-control-allow-origin";
const ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
const ALLOW_METHODS: &str = "access-control-allow-methods";
const ALLOW_HEADERS: &str = "access-control-allow-headers";
const EXPOSE_HEADERS: &str = "access-control-expose-headers";
const MAX_AGE: &str = "access-control-max-age";
const PREFLIGHT_VARY: &str =
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

#[derive(Debug)]
enum Origins {
    Any,
    /// Lowercase, without a trailing `/`.
    List(Vec<Box<[u8]>>),
}

#[derive(Debug)]
enum AllowHeaders {
    /// No list configured: the header is left out.
    Omit,
    /// `*`: echo `Access-Control-Request-Headers`.
    Echo,
    /// The list, joined with `, `.
    List(Bytes),
}

#[derive(Debug)]
pub struct Cors {
    origins: Origins,
    credentials: bool,
    /// `None` when `allow_methods` holds `*`: any method, echoed.
    methods: Option<Vec<Box<[u8]>>>,
    methods_joined: Option<Bytes>,
    allow_headers: AllowHeaders,
    expose: Option<Bytes>,
    max_age: Bytes,
}

impl Cors {
    pub(crate) fn compile(cfg: &CorsConfig) -> Result<Cors, Invalid> {
        if cfg.allow_origins.is_empty() {
            return Err(Invalid::new(
                "cors.allow_origins",
                "list at least one origin, or \"*\"",
            ));
        }
        let origins = if cfg.allow_origins.iter().any(|o| o == "*") {
            Origins::Any
        } else {
            let list = cfg.allow_origins.iter().map(|o| {
                let o = o.trim_end_matches('/').to_ascii_lowercase();
                if !(o == "null" || o.contains("://"))
                    || o.bytes().any(|b| b <= b' ' || b == 0x7f || b == b',')
                {
                    return Err(Invalid::new(
                        "cors.allow_origins",
                        format!("`{o}` is not an origin (scheme://host[:port])"),
                    ));
                }
                Ok(o.into_bytes().into_boxed_slice())
            });
            Origins::List(list.collect::<Result<_, _>>()?)
        };
        let methods = if cfg.allow_methods.iter().any(|m| m == "*") {
            None
        } else {
            tokens("cors.allow_methods", &cfg.allow_methods)?;
            Some(
                cfg.allow_methods
                    .iter()
                    .map(|m| m.as_bytes().into())
                    .collect(),
            )
        };
        let allow_headers = if cfg.allow_headers.iter().any(|h| h == "*") {
            AllowHeaders::Echo
        } else {
            match tokens("cors.allow_headers", &cfg.allow_headers)? {
                Some(joined) => AllowHeaders::List(joined),
                None => AllowHeaders::Omit,
            }
        };
        Ok(Cors {
            origins,
            credentials: cfg.allow_credentials,
            methods_joined: methods.as_ref().and_then(|_| join(&cfg.allow_methods)),
            methods,
            allow_headers,
            expose: if cfg.expose_headers == ["*"] {
                Some(name("*"))
            } else {
                tokens("cors.expose_headers", &cfg.expose_headers)?
            },
            max_age: Bytes::from(cfg.max_age.to_string()),
        })
    }

    pub fn on_request_head(&self, ctx: &mut RequestCtx, head: &RequestHead) -> Flow {
        let origin = head.header("origin").filter(|o| !o.is_empty());
        let requested_method = match head.method {
            Method::Options => head.header("access-control-request-method"),
            _ => None,
        };
        match (origin, requested_method) {
            (Some(origin), Some(method)) => Flow::Respond(self.preflight(head, origin, method)),
            (Some(origin), None) => {
                if let Some(value) = self.allow_origin(head, origin) {
                    self.add_response_headers(ctx, value);
                } else {
                    ctx.response_edits
                        .append
                        .push((name("vary"), name("Origin")));
                }
                Flow::Continue
            }
            (None, _) => {
                if self.varies_by_origin() {
                    ctx.response_edits
                        .append
                        .push((name("vary"), name("Origin")));
                } else {
                    self.add_response_headers(ctx, name("*"));
                }
                Flow::Continue
            }
        }
    }

    /// Whether Allow-Origin depends on the request's `Origin`.
    fn varies_by_origin(&self) -> bool {
        self.credentials || matches!(self.origins, Origins::List(_))
    }

    /// The Allow-Origin value for `origin`, or `None` if it is not allowed.
    fn allow_origin(&self, head: &RequestHead, origin: &[u8]) -> Option<Bytes> {
        let allowed = match &self.origins {
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        };
        match allowed {
            false => None,
            true if !self.varies_by_origin() => Some(name("*")),
            true => Some(share(&head.buf, origin)),
        }
    }

    fn add_response_headers(&self, ctx: &mut RequestCtx, allow_origin: Bytes) {
        let edits = &mut ctx.response_edits;
        edits.set.push((name(ALLOW_ORIGIN), allow_origin));
        if self.credentials {
            edits.set.push((name(ALLOW_CREDENTIALS), name("true")));
        }
        if let Some(expose) = &self.expose {
            edits.set.push((name(EXPOSE_HEADERS), expose.clone()));
        }
        if self.varies_by_origin() {
            edits.append.push((name("vary"), name("Origin")));
        }
    }

    fn method_allowed(&self, method: &[u8]) -> bool {
        matches!(method, b"GET" | b"HEAD" | b"POST")
            || self
                .methods
                .as_ref()
                .is_none_or(|list| list.iter().any(|m| **m == *method))
    }

    fn preflight(&self, head: &RequestHead, origin: &[u8], method: &[u8]) -> LocalResponse {
        let forbidden = || LocalResponse {
            status: 403,
            headers: Vec::new(),
            body: Bytes::new(),
        };
        let Some(allow_origin) = self.allow_origin(head, origin) else {
            return forbidden();
        };
        if !self.method_allowed(method) {
            return forbidden();
        }
        let mut headers = Vec::with_capacity(7);
        headers.push((name(ALLOW_ORIGIN), allow_origin));
        if self.credentials {
            headers.push((name(ALLOW_CREDENTIALS), name("true")));
        }
        match (&self.methods, &self.methods_joined) {
            (None, _) => headers.push((name(ALLOW_METHODS), share(&head.buf, method))),
            (Some(_), Some(joined)) => headers.push((name(ALLOW_METHODS), joined.clone())),
            (Some(_), None) => {}
        }
        match &self.allow_headers {
            AllowHeaders::Omit => {}
            AllowHeaders::List(joined) => headers.push((name(ALLOW_HEADERS), joined.clone())),
            AllowHeaders::Echo => {
                if let Some(h) = head.header("access-control-request-headers") {
                    headers.push((name(ALLOW_HEADERS), share(&head.buf, h)));
                }
            }
        }
        headers.push((name(MAX_AGE), self.max_age.clone()));
        headers.push((name("vary"), name(PREFLIGHT_VARY)));
        LocalResponse {
            status: 204,
            headers,
            body: Bytes::new(),
        }
    }
}

/// Checks that every entry is a token and joins them with `, `; `None` for an empty list.
fn tokens(field: &'static str, list: &[String]) -> Result<Option<Bytes>, Invalid> {
    if let Some(bad) = list.iter().find(|t| !is_token(t)) {
        return Err(Invalid::new(field, format!("`{bad}` is not a valid token")));
    }
    Ok(join(list))
}

fn join(list: &[String]) -> Option<Bytes> {
    if list.is_empty() {
        return None;
    }
    // Tokens have no control characters, so this cannot fail.
    field_value(&list.join(", ")).ok()
}

/// `part` as a `Bytes` sharing `buf`'s memory when it lies inside it (it always does for
/// slices of a parsed head), else a copy: never a panic on a proto bug.
fn share(buf: &Bytes, part: &[u8]) -> Bytes {
    let range = buf.as_ptr_range();
    let (start, end) = (part.as_ptr(), part.as_ptr().wrapping_add(part.len()));
    if !part.is_empty() && range.start <= start && end <= range.end {
        buf.slice_ref(part)
    } else {
        Bytes::copy_from_slice(part)
    }
}

#[cfg(test)]
mod tests;
