//! Writing heads to forward: the original field lines minus hop-by-hop ones
//! (RFC 9110 §7.6.1), with filter edits and forwarding fields applied.
//!
//! Kept lines are copied verbatim from the original head (one memcpy per run of kept
//! lines); only edited and added fields are formatted.

use bytes::Bytes;

use super::{RequestHead, ResponseHead};

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
    let _ = (head, edits, fwd, out);
    todo!("write_request_head")
}

/// Appends the head to send to the client to `out`: `HTTP/1.1 status reason`, the kept
/// fields, the edits, the forwarding fields and the blank line.
pub fn write_response_head(
    head: &ResponseHead,
    edits: &HeadEdits,
    fwd: &ResponseForwarding<'_>,
    out: &mut Vec<u8>,
) {
    let _ = (head, edits, fwd, out);
    todo!("write_response_head")
}
