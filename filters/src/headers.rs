//! Request and response header transforms: add, set, remove.
//!
//! Names are validated and lowercased and values validated at build time, both stored as
//! `Bytes`; a request only pushes clones of them (a refcount bump, never a copy) into
//! `ctx.request_edits` or `ctx.response_edits`. The serialiser applies the edits: remove,
//! then set (replacing every field of that name), then append.
//!
//! Fields that decide message framing or the connection (Content-Length,
//! Transfer-Encoding, Connection and the other hop-by-hop fields) are the gateway's to
//! manage and cannot be touched from config: an edit to them could make the gateway and
//! the upstream frame a message differently (request smuggling).

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tollgate_proto::h1::HeadEdits;

use crate::chain::Invalid;
use crate::{Flow, RequestCtx};

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeaderOps {
    #[serde(default)]
    pub add: BTreeMap<String, String>,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

impl HeaderOps {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.set.is_empty() && self.remove.is_empty()
    }
}

/// Names no header transform may add, set or remove (RFC 9112 §6, RFC 9110 §7.6.1).
const MANAGED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Compiled [`HeaderOps`] for one direction.
#[derive(Debug)]
pub struct HeaderFilter {
    add: Vec<(Bytes, Bytes)>,
    set: Vec<(Bytes, Bytes)>,
    remove: Vec<Bytes>,
}

impl HeaderFilter {
    /// `None` when `ops` is empty: the route gets no filter for it. `field` names the
    /// config table in errors (`request_headers` or `response_headers`).
    pub(crate) fn compile(
        ops: &HeaderOps,
        field: &'static str,
    ) -> Result<Option<HeaderFilter>, Invalid> {
        if ops.is_empty() {
            return Ok(None);
        }
        let name = |n: &str| -> Result<Bytes, Invalid> {
            let b = field_name(n).map_err(|e| Invalid::new(field, e))?;
            if MANAGED.iter().any(|m| m.as_bytes() == &b[..]) {
                return Err(Invalid::new(
                    field,
                    format!("`{n}` is managed by the gateway"),
                ));
            }
            Ok(b)
        };
        let pair = |(n, v): (&String, &String)| -> Result<(Bytes, Bytes), Invalid> {
            Ok((
                name(n)?,
                field_value(v).map_err(|e| Invalid::new(field, e))?,
            ))
        };
        Ok(Some(HeaderFilter {
            add: ops.add.iter().map(pair).collect::<Result<_, _>>()?,
            set: ops.set.iter().map(pair).collect::<Result<_, _>>()?,
            remove: ops
                .remove
                .iter()
                .map(|n| name(n))
                .collect::<Result<_, _>>()?,
        }))
    }

    fn push(&self, edits: &mut HeadEdits) {
        edits.remove.extend(self.remove.iter().cloned());
        edits.set.extend(self.set.iter().cloned());
        edits.append.extend(self.add.iter().cloned());
    }

    pub fn on_request_head(&self, ctx: &mut RequestCtx) -> Flow {
        self.push(&mut ctx.request_edits);
        Flow::Continue
    }

    /// Applies to every response of the route, from the upstream or local.
    pub fn on_response_head(&self, ctx: &mut RequestCtx, _status: u16) {
        self.push(&mut ctx.response_edits);
    }
}

/// RFC 9110 §5.6.2: `token = 1*tchar`; field names and methods are tokens.
pub(crate) fn is_token(s: &str) -> bool {
    let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Validates a field name (a token) and returns it lowercased.
pub(crate) fn field_name(name: &str) -> Result<Bytes, String> {
    if !is_token(name) {
        return Err(format!("`{name}` is not a valid header name"));
    }
    Ok(Bytes::from(name.to_ascii_lowercase()))
}

/// Validates a field value (RFC 9110 §5.5: no CR, LF, NUL or other controls but HTAB)
/// and returns it without surrounding whitespace.
pub(crate) fn field_value(value: &str) -> Result<Bytes, String> {
    let v = value.trim_matches([' ', '\t']);
    if v.bytes()
        .any(|b| (b.is_ascii_control() && b != b'\t') || b == 0x7f)
    {
        return Err(format!("header value {value:?} has a control character"));
    }
    Ok(Bytes::copy_from_slice(v.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ctx;

    fn ops(add: &[(&str, &str)], set: &[(&str, &str)], remove: &[&str]) -> HeaderOps {
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        HeaderOps {
            add: map(add),
            set: map(set),
            remove: remove.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn request_ops_go_to_request_edits_lowercased() {
        let f = HeaderFilter::compile(
            &ops(&[("X-Add", "1")], &[("X-Set", " two ")], &["X-Gone"]),
            "request_headers",
        )
        .unwrap()
        .unwrap();
        let mut c = ctx();
        assert!(matches!(f.on_request_head(&mut c), Flow::Continue));
        assert_eq!(c.request_edits.append, vec![(b("x-add"), b("1"))]);
        assert_eq!(c.request_edits.set, vec![(b("x-set"), b("two"))]);
        assert_eq!(c.request_edits.remove, vec![b("x-gone")]);
        assert!(c.response_edits.is_empty());
    }

    #[test]
    fn response_ops_go_to_response_edits() {
        let f = HeaderFilter::compile(
            &ops(&[("a", "1")], &[("b", "2")], &["c"]),
            "response_headers",
        )
        .unwrap()
        .unwrap();
        let mut c = ctx();
        f.on_response_head(&mut c, 200);
        assert_eq!(c.response_edits.append, vec![(b("a"), b("1"))]);
        assert_eq!(c.response_edits.set, vec![(b("b"), b("2"))]);
        assert_eq!(c.response_edits.remove, vec![b("c")]);
        assert!(c.request_edits.is_empty());
    }

    #[test]
    fn edits_share_the_compiled_bytes() {
        let f = HeaderFilter::compile(&ops(&[("x-a", "v")], &[], &[]), "request_headers")
            .unwrap()
            .unwrap();
        let mut c = ctx();
        f.on_request_head(&mut c);
        assert_eq!(c.request_edits.append[0].1.as_ptr(), f.add[0].1.as_ptr());
    }

    #[test]
    fn empty_ops_compile_to_no_filter() {
        assert!(
            HeaderFilter::compile(&HeaderOps::default(), "request_headers")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bad_or_managed_names_and_bad_values_are_refused() {
        for bad in [
            ops(&[("bad name", "v")], &[], &[]),
            ops(&[], &[("x", "a\r\nInjected: 1")], &[]),
            ops(&[], &[("content-length", "0")], &[]),
            ops(&[], &[], &["Transfer-Encoding"]),
            ops(&[("", "v")], &[], &[]),
        ] {
            let err = HeaderFilter::compile(&bad, "request_headers").unwrap_err();
            assert_eq!(err.field, "request_headers");
        }
    }
}
