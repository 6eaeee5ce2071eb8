//! One attempt at a provider over HTTP/1.1: a pooled connection of the provider's
//! cluster (the same pools, balancing and passive health as proxied traffic), the
//! request written in one go, the response head read within the attempt's time-out, and
//! a reader that yields the response body's data whatever its framing.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use monoio::io::AsyncWriteRentExt;
use tollgate_filters::llm::{Provider, ProviderKind};
use tollgate_proto::h1::{
    ChunkedScanner, HeadLimits, Method, ResponseFraming, ResponseHead, Status,
};

use super::api::{Api, Dialect};
use crate::server::io::{read_some, ReadError};
use crate::upstream::{Cluster, ConnectError, UpConn};

/// Why an attempt failed before a response head arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpFail {
    /// No endpoint is usable (all ejected, or none resolved).
    NoEndpoint,
    /// The endpoint's connection limit is reached.
    PoolFull,
    Connect,
    Timeout,
    /// The provider closed or reset the connection before its answer.
    Closed,
    /// The answer is not valid HTTP.
    BadResponse,
}

impl UpFail {
    pub fn reason(self) -> &'static str {
        match self {
            UpFail::NoEndpoint => "no_endpoint",
            UpFail::PoolFull => "pool_full",
            UpFail::Connect => "connect_error",
            UpFail::Timeout => "timeout",
            UpFail::Closed => "reset",
            UpFail::BadResponse => "bad_response",
        }
    }

    /// The status the client gets when this is the last failure.
    pub fn status(self) -> u16 {
        match self {
            UpFail::Timeout => 504,
            UpFail::NoEndpoint | UpFail::PoolFull => 503,
            _ => 502,
        }
    }
}

/// Writes the provider request head for `api` (in the provider's `dialect`) into `out`.
#[allow(clippy::too_many_arguments)]
pub fn write_head(
    out: &mut Vec<u8>,
    provider: &Provider,
    cluster: &Cluster,
    api: Api,
    dialect: Dialect,
    key: Option<&Bytes>,
    stream: bool,
    body_len: usize,
) {
    out.clear();
    let method = if api == Api::Models { "GET " } else { "POST " };
    out.extend_from_slice(method.as_bytes());
    out.extend_from_slice(provider.base_path.as_bytes());
    out.extend_from_slice(api.provider_path(dialect).as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(provider.host.as_ref().unwrap_or(&cluster.default_host));
    out.extend_from_slice(b"\r\ncontent-type: application/json\r\ncontent-length: ");
    out.extend_from_slice(body_len.to_string().as_bytes());
    out.extend_from_slice(if stream {
        &b"\r\naccept: text/event-stream"[..]
    } else {
        &b"\r\naccept: application/json"[..]
    });
    if let Some(key) = key {
        match provider.kind {
            ProviderKind::Anthropic => out.extend_from_slice(b"\r\nx-api-key: "),
            ProviderKind::OpenAi | ProviderKind::Mock => {
                out.extend_from_slice(b"\r\nauthorization: ")
            }
        }
        out.extend_from_slice(key);
    }
    if provider.kind == ProviderKind::Anthropic {
        out.extend_from_slice(b"\r\nanthropic-version: ");
        out.extend_from_slice(&provider.anthropic_version);
    }
    for (name, value) in &provider.headers {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
    }
    out.extend_from_slice(b"\r\n\r\n");
}

/// Sends `req` (head and body) on a connection of `cluster` and reads the response
/// head into `resp`. A pooled connection the provider had closed while idle is retried
/// once on a new connection (nothing was processed on it).
#[allow(clippy::too_many_arguments)]
pub async fn send(
    cluster: &Cluster,
    pick_head: &tollgate_proto::h1::RequestHead,
    client_ip: std::net::IpAddr,
    req: &mut Vec<u8>,
    resp: &mut ResponseHead,
    limits: &HeadLimits,
    grow: usize,
    timeout: Duration,
) -> Result<UpConn, (UpFail, Option<usize>)> {
    let deadline = Instant::now() + timeout;
    let pick = cluster
        .pick(pick_head, client_ip, Instant::now(), None)
        .ok_or((UpFail::NoEndpoint, None))?;
    let ep = pick.endpoint;
    let mut fresh_only = false;
    loop {
        let pooled = if fresh_only {
            None
        } else {
            cluster.pool.checkout(ep, Instant::now())
        };
        let mut up = match pooled {
            Some(u) => {
                cluster.metrics.reuses.inc();
                u
            }
            None => {
                if !cluster.pool.can_open(ep) {
                    return Err((UpFail::PoolFull, Some(ep)));
                }
                let left = deadline.saturating_duration_since(Instant::now());
                let connect = cluster.connect_timeout().min(left);
                let s = match crate::upstream::connect::open(cluster, ep, pick.addr, connect).await
                {
                    Ok(s) => s,
                    // A TLS failure is a connect failure here: the next deployment may do.
                    Err(ConnectError::Failed | ConnectError::Tls) => {
                        return Err((UpFail::Connect, Some(ep)))
                    }
                    Err(ConnectError::Timeout) => return Err((UpFail::Timeout, Some(ep))),
                };
                cluster.metrics.connects.inc();
                cluster.pool.adopt(s, ep, pick.addr, Instant::now())
            }
        };
        let out = std::mem::take(req);
        let (res, out) = up.stream.write_all(out).await;
        *req = out;
        if res.is_err() {
            if up.reused {
                fresh_only = true;
                continue;
            }
            cluster.report_failure(ep, Instant::now());
            return Err((UpFail::Closed, Some(ep)));
        }
        match read_head(&mut up, resp, limits, grow, deadline).await {
            Ok(()) => {
                cluster.report_success(ep);
                return Ok(up);
            }
            Err((UpFail::Closed, false)) if up.reused => {
                fresh_only = true;
                continue;
            }
            Err((e, _)) => {
                if e == UpFail::Timeout {
                    cluster.metrics.timeouts.inc();
                }
                if e == UpFail::BadResponse {
                    cluster.metrics.bad_responses.inc();
                }
                cluster.report_failure(ep, Instant::now());
                return Err((e, Some(ep)));
            }
        }
    }
}

/// Reads a final response head (1xx skipped). On failure, says whether any byte came.
async fn read_head(
    up: &mut UpConn,
    resp: &mut ResponseHead,
    limits: &HeadLimits,
    grow: usize,
    deadline: Instant,
) -> Result<(), (UpFail, bool)> {
    let mut got = false;
    loop {
        match resp.parse(&mut up.buf, limits, Method::Post) {
            Ok(Status::Complete(())) if resp.is_interim() => continue,
            Ok(Status::Complete(())) => {
                // The head is kept for the whole response (a stream can last minutes)
                // and, parsed in place, is a slice of the connection's read buffer: it
                // would keep that allocation alive, so the first time the buffer runs
                // out it cannot be reused and a second one is allocated beside it
                // (+16 KiB per open stream). A few hundred bytes copied instead.
                resp.buf = Bytes::copy_from_slice(&resp.buf);
                return Ok(());
            }
            Ok(Status::Partial) => {}
            Err(_) => return Err((UpFail::BadResponse, true)),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match read_some(
            &mut up.stream,
            &mut up.buf,
            grow,
            left.max(Duration::from_millis(1)),
        )
        .await
        {
            Ok(_) => got = true,
            Err(ReadError::Timeout) => return Err((UpFail::Timeout, got)),
            Err(_) => return Err((UpFail::Closed, got)),
        }
    }
}

/// Why a response body could not be read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFail {
    Timeout,
    Closed,
    Framing,
    TooLarge,
}

impl BodyFail {
    pub fn reason(self) -> &'static str {
        match self {
            BodyFail::Timeout => "timeout",
            BodyFail::Closed => "reset",
            BodyFail::Framing => "bad_response",
            BodyFail::TooLarge => "response_too_large",
        }
    }
}

/// Yields a response body's data, whatever its framing, as slices of the connection's
/// read buffer.
pub struct BodyReader {
    framing: ResponseFraming,
    scanner: ChunkedScanner,
    left: u64,
    done: bool,
}

impl BodyReader {
    pub fn new(framing: ResponseFraming, max_line: usize, max_trailers: usize) -> BodyReader {
        let (left, done) = match framing {
            ResponseFraming::Length(n) => (n, n == 0),
            ResponseFraming::None => (0, true),
            _ => (0, false),
        };
        BodyReader {
            framing,
            scanner: ChunkedScanner::new(max_line, max_trailers),
            left,
            done,
        }
    }

    pub fn reusable(&self) -> bool {
        self.done && self.framing != ResponseFraming::UntilClose
    }

    /// The next piece of data; `None` at the end of the body. Waits at most `idle`.
    pub async fn next(
        &mut self,
        up: &mut UpConn,
        grow: usize,
        idle: Duration,
    ) -> Result<Option<Bytes>, BodyFail> {
        loop {
            if self.done {
                return Ok(None);
            }
            if up.buf.is_empty() {
                match read_some(&mut up.stream, &mut up.buf, grow, idle).await {
                    Ok(_) => {}
                    Err(ReadError::Closed) if self.framing == ResponseFraming::UntilClose => {
                        self.done = true;
                        return Ok(None);
                    }
                    Err(ReadError::Timeout) => return Err(BodyFail::Timeout),
                    Err(_) => return Err(BodyFail::Closed),
                }
            }
            match self.framing {
                ResponseFraming::Length(_) => {
                    let k = (up.buf.len() as u64).min(self.left) as usize;
                    self.left -= k as u64;
                    self.done = self.left == 0;
                    return Ok(Some(up.buf.split_to(k).freeze()));
                }
                ResponseFraming::UntilClose => return Ok(Some(up.buf.split().freeze())),
                ResponseFraming::None => {
                    self.done = true;
                    return Ok(None);
                }
                ResponseFraming::Chunked => {
                    let step = self
                        .scanner
                        .decode(&up.buf)
                        .map_err(|_| BodyFail::Framing)?;
                    let mut part: BytesMut = up.buf.split_to(step.consumed);
                    self.done = step.done;
                    if let Some(d) = step.data {
                        let data = part.split_off(d.start as usize).split_to(d.len());
                        if !data.is_empty() {
                            return Ok(Some(data.freeze()));
                        }
                    }
                }
            }
        }
    }

    /// Reads the rest of the body into one buffer of at most `max` bytes.
    pub async fn read_all(
        &mut self,
        up: &mut UpConn,
        grow: usize,
        idle: Duration,
        max: usize,
    ) -> Result<Vec<u8>, BodyFail> {
        let mut body = Vec::new();
        while let Some(part) = self.next(up, grow, idle).await? {
            if body.len() + part.len() > max {
                return Err(BodyFail::TooLarge);
            }
            body.extend_from_slice(&part);
        }
        Ok(body)
    }
}
