//! HTTP/2 to upstreams: opening one client connection over a connected [`Stream`] (TCP
//! for h2c, TLS for h2) and driving it on this core.
//!
//! [`handshake`] writes the preface and our SETTINGS, spawns the task that polls the h2
//! `Connection` (its I/O, flow control and frames all happen in that task), then sends
//! one PING and waits for its answer. Every frame an endpoint sends follows its own
//! SETTINGS (RFC 9113 §3.4), so once the PING comes back:
//! - the endpoint has proved that it speaks HTTP/2 (an HTTP/1.1 server behind an h2c
//!   cluster fails here, as a connect failure, before any request was sent: safe to
//!   retry), and
//! - its SETTINGS_MAX_CONCURRENT_STREAMS is known, so the pool can tell when this
//!   connection is full and another one is needed.
//!
//! The price is one round trip per new connection, inside the connect time-out.
//!
//! The connection lives as long as a [`SendRequest`] handle does (the pool's and each
//! request's); when the last one is dropped h2 sends GOAWAY and the task ends. When the
//! connection ends for any other reason (GOAWAY from the endpoint, an I/O or protocol
//! error) the task sets [`ConnState::closed`] and the pool stops using it.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use h2::Ping;

use super::io::{H2Io, Transport};
use crate::config::{ClusterHttp2, Http2Io};
use crate::tls::Stream;

/// What the connection task tells the pool.
#[derive(Debug, Default)]
pub struct ConnState {
    /// The connection ended, or is going away (no new streams).
    pub closed: Cell<bool>,
}

/// Why no HTTP/2 connection came up.
#[derive(Debug)]
pub enum HandshakeError {
    /// The socket could not be made poll-based.
    Io(std::io::Error),
    /// The preface, SETTINGS or PING exchange failed.
    H2(h2::Error),
    /// The PING was not answered in time.
    Timeout,
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Io(e) => write!(f, "{e}"),
            HandshakeError::H2(e) => write!(f, "{e}"),
            HandshakeError::Timeout => f.write_str("no answer to the HTTP/2 PING in time"),
        }
    }
}

fn builder(cfg: &ClusterHttp2) -> h2::client::Builder {
    let mut b = h2::client::Builder::new();
    b.initial_window_size(cfg.stream_window)
        .initial_connection_window_size(cfg.connection_window)
        .max_frame_size(cfg.max_frame_size)
        .max_header_list_size(cfg.max_header_list_size)
        .max_send_buffer_size(cfg.max_send_buffer)
        // What we assume until the endpoint's SETTINGS say otherwise.
        .initial_max_send_streams(cfg.max_concurrent_streams as usize)
        .enable_push(false);
    b
}

/// Opens an HTTP/2 connection over `stream` and starts its task; see the module doc.
/// `limit` bounds the whole exchange. `label` names the cluster in logs.
pub async fn handshake(
    stream: Stream,
    cfg: &ClusterHttp2,
    io: Http2Io,
    buffer_size: usize,
    limit: Duration,
    label: Rc<str>,
) -> Result<(SendRequest<Bytes>, Rc<ConnState>), HandshakeError> {
    let transport = Transport::new(stream, io, buffer_size).map_err(HandshakeError::Io)?;
    let io = H2Io::upstream(transport);
    let run = async {
        let (send, mut conn) = builder(cfg)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(HandshakeError::H2)?;
        let mut ping = conn.ping_pong();
        let state = Rc::new(ConnState::default());
        monoio::spawn(drive(conn, state.clone(), label));
        if let Some(p) = &mut ping {
            p.ping(Ping::opaque()).await.map_err(HandshakeError::H2)?;
        }
        Ok((send, state))
    };
    match monoio::time::timeout(limit, run).await {
        Ok(r) => r,
        // Dropping the handles closes the connection (its task ends).
        Err(_) => Err(HandshakeError::Timeout),
    }
}

/// The connection task: polls the connection until it ends.
async fn drive(conn: h2::client::Connection<H2Io, Bytes>, state: Rc<ConnState>, label: Rc<str>) {
    let res = conn.await;
    state.closed.set(true);
    match res {
        Ok(()) => tracing::debug!(cluster = %label, "upstream HTTP/2 connection closed"),
        Err(e) if e.is_go_away() && e.reason() == Some(h2::Reason::NO_ERROR) => {
            tracing::debug!(cluster = %label, "upstream HTTP/2 connection went away (GOAWAY)")
        }
        Err(e) => {
            tracing::info!(cluster = %label, error = %e, "upstream HTTP/2 connection failed")
        }
    }
}
