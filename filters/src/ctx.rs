//! The per-request context filters read and write. One per connection, reset (not
//! reallocated) between keep-alive requests.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tollgate_proto::h1::HeadEdits;

/// A response the gateway makes itself (direct response, CORS preflight, errors).
#[derive(Debug, Clone, Default)]
pub struct LocalResponse {
    pub status: u16,
    pub headers: Vec<(Bytes, Bytes)>,
    pub body: Bytes,
}

/// What a request-phase filter decides.
#[derive(Debug, Clone)]
pub enum Flow {
    /// Go on to the next filter, then upstream.
    Continue,
    /// Answer the client with this and skip the rest of the chain and the upstream.
    /// Response-phase filters and `on_log` still run.
    Respond(LocalResponse),
}

#[derive(Debug)]
pub struct RequestCtx {
    pub client: SocketAddr,
    /// The downstream connection is TLS.
    pub tls: bool,
    /// Index of the matched route in the chain's router.
    pub route: Option<usize>,
    /// Edits to the request head sent upstream.
    pub request_edits: HeadEdits,
    /// Edits to the response head sent to the client (filters may add to these while the
    /// request is processed, e.g. CORS).
    pub response_edits: HeadEdits,
    pub started: Instant,
    // Filled in by the connection driver as the request goes; read by `on_log`.
    pub status: u16,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub upstream_addr: Option<SocketAddr>,
    /// Time to get an upstream connection (pooled or new).
    pub upstream_connect: Option<Duration>,
    /// Time from sending the request to the upstream's response head.
    pub upstream_first_byte: Option<Duration>,
    pub finished: Option<Instant>,
    /// Why the gateway answered with an error, if it did (e.g. "upstream timeout").
    pub error: Option<&'static str>,
    pub attempts: u32,
}

impl RequestCtx {
    pub fn new(client: SocketAddr, tls: bool) -> RequestCtx {
        RequestCtx {
            client,
            tls,
            route: None,
            request_edits: HeadEdits::default(),
            response_edits: HeadEdits::default(),
            started: Instant::now(),
            status: 0,
            bytes_received: 0,
            bytes_sent: 0,
            upstream_addr: None,
            upstream_connect: None,
            upstream_first_byte: None,
            finished: None,
            error: None,
            attempts: 0,
        }
    }

    /// Clears per-request state for the next request on the same connection.
    pub fn reset(&mut self, now: Instant) {
        self.route = None;
        self.request_edits.clear();
        self.response_edits.clear();
        self.started = now;
        self.status = 0;
        self.bytes_received = 0;
        self.bytes_sent = 0;
        self.upstream_addr = None;
        self.upstream_connect = None;
        self.upstream_first_byte = None;
        self.finished = None;
        self.error = None;
        self.attempts = 0;
    }
}
