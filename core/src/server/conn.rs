//! The state of one client connection, reused across its keep-alive requests: the read
//! buffer, the parsed head, the request context, the output buffers.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use tollgate_filters::RequestCtx;
use tollgate_proto::h1::{RequestHead, ResponseHead};

use crate::tls::Stream;

pub struct ClientConn {
    /// Plain TCP, or TLS after its handshake.
    pub stream: Stream,
    pub peer: SocketAddr,
    /// The peer's IP as text, formatted once for X-Forwarded-For.
    pub peer_ip: String,
    pub buf: BytesMut,
    pub head: RequestHead,
    pub resp: ResponseHead,
    pub ctx: RequestCtx,
    /// Bytes to the client (heads, local responses).
    pub out: Vec<u8>,
    /// The request head for the upstream.
    pub up_out: Vec<u8>,
    pub served: u64,
    /// A response was cut short (its upstream failed mid-body): the connection ends
    /// abruptly, without TLS close_notify, so that a client cannot take the cut for the
    /// end of a close-delimited body (RFC 9112 §9.8).
    pub cut: bool,
}

impl ClientConn {
    pub fn new(stream: Stream, peer: SocketAddr, buf: BytesMut) -> ClientConn {
        // `ctx.tls` gives X-Forwarded-Proto https and the access log's scheme.
        let tls = stream.is_tls();
        ClientConn {
            stream,
            peer,
            peer_ip: peer.ip().to_string(),
            buf,
            head: RequestHead::default(),
            resp: ResponseHead::default(),
            ctx: RequestCtx::new(peer, tls),
            out: Vec::with_capacity(1024),
            up_out: Vec::with_capacity(1024),
            served: 0,
            cut: false,
        }
    }

    /// Drops the references the last request held into the read buffers, so the next
    /// read can reuse their memory in place.
    pub fn release_request(&mut self) {
        self.head.buf = Bytes::new();
        self.resp.buf = Bytes::new();
    }
}
