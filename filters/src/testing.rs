//! Test support: request heads from raw text and fresh contexts. Test builds only.

use bytes::BytesMut;
use tollgate_proto::h1::{HeadLimits, RequestHead, Status};

use crate::RequestCtx;

/// Parses `raw` (a complete head, CRLF line ends) or panics.
pub(crate) fn head(raw: &str) -> RequestHead {
    let mut buf = BytesMut::from(raw.as_bytes());
    let mut h = RequestHead::default();
    match h.parse(&mut buf, &HeadLimits::default()) {
        Ok(Status::Complete(())) => h,
        other => panic!("test head did not parse ({other:?}): {raw:?}"),
    }
}

/// A head from a request line (`GET /x`; ` HTTP/1.1` is added unless it names a version)
/// and `Name: value` field lines.
pub(crate) fn req(line: &str, fields: &[&str]) -> RequestHead {
    let version = if line.contains(" HTTP/") {
        ""
    } else {
        " HTTP/1.1"
    };
    let mut raw = format!("{line}{version}\r\n");
    for f in fields {
        raw.push_str(f);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    head(&raw)
}

pub(crate) fn ctx() -> RequestCtx {
    RequestCtx::new(([192, 0, 2, 7], 40_000).into(), false)
}
