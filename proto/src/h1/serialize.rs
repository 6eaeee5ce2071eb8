//! Writing heads to forward: the original field lines minus hop-by-hop ones
//! (RFC 9110 §7.6.1), with filter edits and forwarding fields applied.
//!
//! Kept lines are copied verbatim from the original head (one memcpy per run of kept
//! lines); only edited and added fields are formatted.
//!
//! Rules that hold for every head written here:
//! - hop-by-hop fields never pass, and neither do the fields `Connection` names, except
//!   Content-Length, Transfer-Encoding and Host, which a `Connection` option is not
//!   allowed to remove (that would change the framing the next hop sees);
//! - an edit whose name is not a token or whose value holds CR, LF or another control is
//!   skipped, as is an edited target that is not visible ASCII: nothing a filter passes
//!   in can add a line to the head;
//! - the order is: start line, kept fields, `edits.set`, `edits.append`, forwarding
//!   fields, `Connection`, blank line. Forwarding fields are computed from the kept
//!   fields, i.e. after the edits removed theirs.

use bytes::Bytes;

use super::fields::FieldName;
use super::syntax::{is_field_value, is_target_byte, list_elements};
use super::write::{
    copy_kept_lines, is_writable_field, push_field, push_forwarded_node, push_forwarded_value,
    push_u64, span_bytes,
};
use super::{HeaderSpan, RequestHead, ResponseHead};

/// Header edits a filter chain asks for. Reused per connection: `clear` keeps capacity.
/// Names are compared ASCII case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct HeadEdits {
    /// Drop every field with one of these names.
    pub remove: Vec<Bytes>,
    /// Drop every field with this name, then add this one.
    pub set: Vec<(Bytes, Bytes)>,
    /// Add this field, keeping existing ones.
    pub append: Vec<(Bytes, Bytes)>,
    /// Replace the request-target (requests only).
    pub target: Option<Bytes>,
}

impl HeadEdits {
    pub fn clear(&mut self) {
        self.remove.clear();
        self.set.clear();
        self.append.clear();
        self.target = None;
    }

    pub fn is_empty(&self) -> bool {
        self.remove.is_empty()
            && self.set.is_empty()
            && self.append.is_empty()
            && self.target.is_none()
    }
}

/// Fields the gateway adds to a request it forwards. `None`/`false` leaves a field out.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestForwarding<'a> {
    /// The client's address, for `X-Forwarded-For` and `Forwarded: for=`.
    pub client_ip: Option<&'a str>,
    /// Append `client_ip` to `X-Forwarded-For` (one combined field is written).
    pub x_forwarded_for: bool,
    /// Set `X-Forwarded-Proto` to this scheme.
    pub x_forwarded_proto: Option<&'a str>,
    /// Append an RFC 7239 `Forwarded` element: `for=...;proto=...;host=...`.
    pub forwarded: bool,
    /// Append this to `Via` (e.g. `1.1 tollgate`).
    pub via: Option<&'a str>,
    /// Keep `Upgrade` and send `Connection: upgrade` (a WebSocket handshake).
    pub upgrade: bool,
}

/// Fields the gateway adds to a response it forwards to the client.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseForwarding<'a> {
    pub via: Option<&'a str>,
    /// Send `Connection: close`: the gateway will close the client connection after it.
    pub close: bool,
    /// Keep `Upgrade` and send `Connection: upgrade` (a 101 response).
    pub upgrade: bool,
    /// Drop `Transfer-Encoding` and `Content-Length`: the gateway re-frames the body
    /// (e.g. de-chunks for an HTTP/1.0 client and closes after).
    pub strip_framing: bool,
}

/// Appends the head to send upstream to `out`: `METHOD target HTTP/1.1`, the kept
/// fields, the edits, the forwarding fields and the blank line. The body is forwarded
/// in its original framing, so `Content-Length` and `Transfer-Encoding: chunked` stay.
pub fn write_request_head(
    head: &RequestHead,
    edits: &HeadEdits,
    fwd: &RequestForwarding<'_>,
    out: &mut Vec<u8>,
) {
    let buf = &head.buf[..];
    out.extend_from_slice(span_bytes(buf, head.method_span));
    out.push(b' ');
    let target = match &edits.target {
        Some(t) if !t.is_empty() && t.iter().all(|&b| is_target_byte(b)) => &t[..],
        _ => span_bytes(buf, head.target),
    };
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\n");

    let filter = FieldFilter::new(
        buf,
        &head.headers,
        head.conn.has_hop_by_hop,
        edits,
        fwd.upgrade,
    );
    let client_ip = fwd.client_ip.filter(|ip| is_field_value(ip.as_bytes()));
    let rewrite_xff = fwd.x_forwarded_for && client_ip.is_some();
    // Whether a kept X-Forwarded-For or Via exists, so the combined fields only walk
    // the fields again when there is something to combine.
    let (mut has_xff, mut has_via) = (false, false);
    copy_kept_lines(
        buf,
        &head.headers,
        |h| match filter.keep(h) {
            None => false,
            Some(FieldName::XForwardedFor) => {
                has_xff = true;
                !rewrite_xff
            }
            Some(FieldName::XForwardedProto) => fwd.x_forwarded_proto.is_none(),
            Some(FieldName::Via) => {
                has_via = true;
                fwd.via.is_none()
            }
            Some(_) => true,
        },
        out,
    );
    write_edits(edits, out);
    if let (true, Some(ip)) = (rewrite_xff, client_ip) {
        let kind = has_xff.then_some(FieldName::XForwardedFor);
        filter.write_combined(kind, b"X-Forwarded-For", ip.as_bytes(), out);
    }
    if let Some(proto) = fwd.x_forwarded_proto {
        if is_writable_field(b"X-Forwarded-Proto", proto.as_bytes()) {
            push_field(out, b"X-Forwarded-Proto", proto.as_bytes());
        }
    }
    if fwd.forwarded {
        write_forwarded(
            client_ip,
            fwd.x_forwarded_proto,
            head.host.map(|h| span_bytes(buf, h)),
            out,
        );
    }
    if let Some(via) = fwd.via.filter(|v| is_field_value(v.as_bytes())) {
        let kind = has_via.then_some(FieldName::Via);
        filter.write_combined(kind, b"Via", via.as_bytes(), out);
    }
    if fwd.upgrade {
        out.extend_from_slice(b"Connection: upgrade\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends the head to send to the client to `out`: `HTTP/1.1 status reason`, the kept
/// fields, the edits, the forwarding fields and the blank line. The reason phrase is the
/// upstream's own bytes (empty if it sent none).
pub fn write_response_head(
    head: &ResponseHead,
    edits: &HeadEdits,
    fwd: &ResponseForwarding<'_>,
    out: &mut Vec<u8>,
) {
    let buf = &head.buf[..];
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(out, u64::from(head.status));
    out.push(b' ');
    out.extend_from_slice(span_bytes(buf, head.reason));
    out.extend_from_slice(b"\r\n");

    let filter = FieldFilter::new(
        buf,
        &head.headers,
        head.conn.has_hop_by_hop,
        edits,
        fwd.upgrade,
    );
    let mut has_via = false;
    copy_kept_lines(
        buf,
        &head.headers,
        |h| match filter.keep(h) {
            None => false,
            Some(FieldName::ContentLength | FieldName::TransferEncoding) => !fwd.strip_framing,
            Some(FieldName::Via) => {
                has_via = true;
                fwd.via.is_none()
            }
            Some(_) => true,
        },
        out,
    );
    write_edits(edits, out);
    if let Some(via) = fwd.via.filter(|v| is_field_value(v.as_bytes())) {
        let kind = has_via.then_some(FieldName::Via);
        filter.write_combined(kind, b"Via", via.as_bytes(), out);
    }
    if fwd.close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    if fwd.upgrade {
        out.extend_from_slice(b"Connection: upgrade\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `edits.set` and `edits.append`, skipping fields that are not writable.
pub(crate) fn write_edits(edits: &HeadEdits, out: &mut Vec<u8>) {
    for (name, value) in edits.set.iter().chain(&edits.append) {
        if is_writable_field(name, value) {
            push_field(out, name, value);
        }
    }
}

/// Whether `name` is one that `edits` removes or replaces.
pub(crate) fn named_in_edits(edits: &HeadEdits, name: &[u8]) -> bool {
    edits.remove.iter().any(|n| n.eq_ignore_ascii_case(name))
        || edits.set.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// Decides which of a head's fields survive the hop-by-hop rules and the edits.
struct FieldFilter<'a> {
    buf: &'a [u8],
    headers: &'a [HeaderSpan],
    edits: &'a HeadEdits,
    /// Some `Connection` field names an option beyond close/keep-alive/upgrade, so every
    /// field must be looked up in the `Connection` lists.
    custom_options: bool,
    keep_upgrade: bool,
}

impl<'a> FieldFilter<'a> {
    fn new(
        buf: &'a [u8],
        headers: &'a [HeaderSpan],
        has_hop_by_hop: bool,
        edits: &'a HeadEdits,
        keep_upgrade: bool,
    ) -> Self {
        let mut filter = FieldFilter {
            buf,
            headers,
            edits,
            custom_options: false,
            keep_upgrade,
        };
        // Without any hop-by-hop field there is no `Connection` field to read.
        let custom_options = has_hop_by_hop
            && filter.connection_options().any(|o| {
                !(o.eq_ignore_ascii_case(b"close")
                    || o.eq_ignore_ascii_case(b"keep-alive")
                    || o.eq_ignore_ascii_case(b"upgrade"))
            });
        filter.custom_options = custom_options;
        filter
    }

    /// Every option of every `Connection` field.
    fn connection_options(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.headers
            .iter()
            .filter(|h| FieldName::classify(span_bytes(self.buf, h.name)) == FieldName::Connection)
            .flat_map(|h| list_elements(span_bytes(self.buf, h.value)))
    }

    /// `Some(kind)` when the field survives; callers add their own per-kind rules.
    fn keep(&self, h: &HeaderSpan) -> Option<FieldName> {
        let name = span_bytes(self.buf, h.name);
        let kind = FieldName::classify(name);
        let upgrade_kept = kind == FieldName::Upgrade && self.keep_upgrade;
        if kind.is_hop_by_hop() && !upgrade_kept {
            return None;
        }
        if self.custom_options
            && !upgrade_kept
            && !kind.is_protected()
            && self
                .connection_options()
                .any(|o| o.eq_ignore_ascii_case(name))
        {
            return None;
        }
        if !self.edits.is_empty() && named_in_edits(self.edits, name) {
            return None;
        }
        Some(kind)
    }

    /// Writes one `name` field: the values of the kept fields of `existing` (if any
    /// exist), then `last`, joined with ", " (X-Forwarded-For and Via grow by one
    /// element per hop).
    fn write_combined(
        &self,
        existing: Option<FieldName>,
        name: &[u8],
        last: &[u8],
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        if let Some(kind) = existing {
            for h in self.headers {
                let value = span_bytes(self.buf, h.value);
                if !value.is_empty() && self.keep(h) == Some(kind) {
                    out.extend_from_slice(value);
                    out.extend_from_slice(b", ");
                }
            }
        }
        out.extend_from_slice(last);
        out.extend_from_slice(b"\r\n");
    }
}
/// Appends `Forwarded: for=...;proto=...;host=...` (RFC 7239) with the pairs that are
/// known; nothing when none is.
fn write_forwarded(
    client_ip: Option<&str>,
    proto: Option<&str>,
    host: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let proto = proto.map(str::as_bytes).filter(|p| is_field_value(p));
    if client_ip.is_none() && proto.is_none() && host.is_none() {
        return;
    }
    out.extend_from_slice(b"Forwarded: ");
    let mut sep: &[u8] = b"";
    if let Some(ip) = client_ip {
        out.extend_from_slice(b"for=");
        push_forwarded_node(out, ip);
        sep = b";";
    }
    if let Some(proto) = proto {
        out.extend_from_slice(sep);
        out.extend_from_slice(b"proto=");
        push_forwarded_value(out, proto);
        sep = b";";
    }
    if let Some(host) = host {
        out.extend_from_slice(sep);
        out.extend_from_slice(b"host=");
        push_forwarded_value(out, host);
    }
    out.extend_from_slice(b"\r\n");
}
