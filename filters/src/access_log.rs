//! Access log lines as JSON, one per request. Formatting only; the core owns the sink.

use tollgate_proto::h1::RequestHead;

use crate::RequestCtx;

/// Appends one JSON line (with trailing `\n`) describing the request to `out`: time
/// (RFC 3339, UTC), client, method, path, status, bytes in and out, route, upstream,
/// durations in milliseconds (total, upstream connect, upstream first byte), error.
pub fn write_line(ctx: &RequestCtx, head: &RequestHead, route: Option<&str>, out: &mut Vec<u8>) {
    let _ = (ctx, head, route, out);
    todo!()
}
