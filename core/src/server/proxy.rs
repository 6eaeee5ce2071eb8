//! One request's way upstream and back.
//!
//! [`forward`] runs attempts: pick an endpoint, take a pooled connection or open one,
//! send the head (with the body when it is already buffered and small), stream the rest
//! of the body, read the response head, then stream the response to the client. An
//! attempt that fails before anything reached the client may be retried on another
//! endpoint when it is safe:
//! - a connect failure or time-out: always (nothing was sent);
//! - a write failure with the body still in our buffer: the upstream closed before
//!   reading, so nothing was processed;
//! - any other failure before the response head (closed, time-out, a `retry.on_status`
//!   status): only for idempotent requests without a body.
//!
//! Every retry also needs the cluster's retry budget to allow it.
//!
//! A cluster with an HTTP/2 `protocol` takes a stream on a pooled HTTP/2 connection
//! instead (`upstream/h2pool.rs`), and the exchange is `proxy_h2.rs`'s; an `auto`
//! cluster's endpoint that chose HTTP/1.1 takes the HTTP/1.1 exchange below.

use std::time::{Duration, Instant};

use bytes::Bytes;
use monoio::io::AsyncWriteRentExt;
use tollgate_proto::h1::{
    write_request_head, write_response_head, BodyFraming, ChunkedScanner, RequestForwarding,
    ResponseForwarding, ResponseFraming, Status, Version,
};

use super::body::{copy_chunked, copy_dechunked, copy_length, copy_until_close, CopyError, Src};
use super::conn::ClientConn;
use super::error::ProxyError;
use super::io::{read_some, write_vec, ReadError};
use super::local::write_error;
use crate::runtime::{CoreConfig, Worker};
use crate::tls::Stream;
use crate::upstream::{AcquireError, Acquired, Cluster, ConnectError, UpConn};

/// What the connection loop does after a request.
pub enum Next {
    KeepAlive,
    Close,
    /// The upstream switched protocols: tunnel bytes both ways until both sides have
    /// been quiet for the given time (the cluster's `idle_timeout`).
    Tunnel(Box<UpConn>, Duration),
}

/// Bodies up to this size that are already in the buffer go out in the same write as
/// the head (one syscall instead of two; the copy is cheaper than the syscall).
const COALESCE_MAX: usize = 16 * 1024;

pub(super) enum Retry {
    No,
    /// Safe to retry if attempts and budget remain.
    Safe,
}

struct Failed {
    err: ProxyError,
    retry: Retry,
    endpoint: Option<usize>,
}

impl Failed {
    fn new(err: ProxyError, retry: Retry, endpoint: Option<usize>) -> Failed {
        Failed {
            err,
            retry,
            endpoint,
        }
    }
}

pub async fn forward(
    c: &mut ClientConn,
    w: &Worker,
    cc: &CoreConfig,
    cluster: &Cluster,
    keep: bool,
) -> Next {
    let start = Instant::now();
    cluster.note_request(start);
    let has_body = !matches!(c.head.framing, BodyFraming::None | BodyFraming::Length(0));
    let mut body_buffered = match c.head.framing {
        BodyFraming::None => true,
        BodyFraming::Length(n) => (n as usize) <= c.buf.len(),
        BodyFraming::Chunked => false,
    };

    // Expect: 100-continue is answered here (the body is about to be read anyway) and
    // not sent on, so the upstream never waits for a continue that we would swallow.
    if c.head.conn.expect_continue {
        c.ctx
            .request_edits
            .remove
            .push(Bytes::from_static(b"expect"));
        if has_body && !body_buffered && c.head.version == Version::Http11 {
            c.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            if write_vec(&mut c.stream, &mut c.out).await.is_err() {
                return Next::Close;
            }
        }
    }

    // A small body (up to `COALESCE_MAX`) that has not all arrived yet is read whole
    // before an upstream is picked, as nginx buffers one that fits its
    // client_body_buffer_size: the head and the body then leave in one write instead
    // of three writes and a read, a slow client holds no upstream connection, and a
    // write that fails (a pooled connection the endpoint had closed) can be retried.
    if let BodyFraming::Length(n) = c.head.framing {
        let n = n as usize;
        if !body_buffered && n <= COALESCE_MAX {
            let idle = cc.config.limits.body_read_timeout.get();
            while c.buf.len() < n {
                if let Err(e) = read_some(&mut c.stream, &mut c.buf, n, idle).await {
                    let err = match e {
                        ReadError::Timeout => ProxyError::BodyTimeout,
                        ReadError::Closed | ReadError::Io => ProxyError::ClientClosed,
                    };
                    return fail_before_upstream(c, cc, err).await;
                }
            }
            body_buffered = true;
        }
    }

    let fwd = &cc.forwarding;
    let scheme = if c.ctx.tls { "https" } else { "http" };
    let rf = RequestForwarding {
        client_ip: Some(&c.peer_ip),
        x_forwarded_for: fwd.x_forwarded_for,
        x_forwarded_proto: fwd.x_forwarded_proto.then_some(scheme),
        forwarded: fwd.forwarded,
        via: fwd.via.then_some(cc.via),
        upgrade: c.head.conn.upgrade,
    };
    // An HTTP/1.0 request may come without Host; it goes upstream as HTTP/1.1, which
    // requires one (RFC 9112 §3.2), so name the cluster's first endpoint as nginx does.
    if c.head.host.is_none() {
        c.ctx
            .request_edits
            .set
            .push((Bytes::from_static(b"host"), cluster.default_host.clone()));
    }
    c.up_out.clear();
    if unchanged(c, &rf) {
        // Nothing to change: the head goes upstream exactly as the client sent it.
        c.up_out.extend_from_slice(&c.head.buf);
    } else {
        write_request_head(&c.head, &c.ctx.request_edits, &rf, &mut c.up_out);
    }
    let head_len = c.up_out.len();

    let idempotent = c.head.method.is_idempotent() && !has_body;
    let max_attempts = 1 + cluster.cfg.retry.attempts;
    let mut avoid = None;
    loop {
        c.ctx.attempts += 1;
        c.up_out.truncate(head_len);
        match attempt(c, w, cc, cluster, avoid, idempotent, body_buffered, keep).await {
            Ok(next) => return next,
            Err(f) => {
                let retry = match (f.err, f.retry) {
                    // The retry was granted (and the budget taken) where the status was seen.
                    (ProxyError::RetryableStatus(_), _) => true,
                    (_, Retry::Safe) => {
                        c.ctx.attempts < max_attempts && cluster.take_retry(Instant::now())
                    }
                    (_, Retry::No) => false,
                };
                if retry {
                    tracing::debug!(cluster = %cluster.name, error = f.err.reason(), "retrying on another attempt");
                    avoid = f.endpoint;
                    continue;
                }
                if f.err == ProxyError::ClientClosed {
                    c.ctx.status = 499;
                    c.ctx.error = Some(f.err.reason());
                    return Next::Close;
                }
                let close = !keep || f.err.must_close() || has_body;
                if write_error(c, cc, f.err, close).await && !close {
                    return Next::KeepAlive;
                }
                return Next::Close;
            }
        }
    }
}

/// Ends a request that failed before any upstream was tried (its body stalled or the
/// client left): 499 for a client that left, else the error's status; the connection
/// closes either way, as the rest of the body is unread.
async fn fail_before_upstream(c: &mut ClientConn, cc: &CoreConfig, err: ProxyError) -> Next {
    if err == ProxyError::ClientClosed {
        c.ctx.status = 499;
        c.ctx.error = Some(err.reason());
    } else {
        write_error(c, cc, err, true).await;
    }
    Next::Close
}

/// True when the serialiser would reproduce the head byte for byte: no filter edits, no
/// forwarding fields, no hop-by-hop fields, HTTP/1.1 with CRLF line ends.
fn unchanged(c: &ClientConn, rf: &RequestForwarding<'_>) -> bool {
    c.ctx.request_edits.is_empty()
        && !rf.x_forwarded_for
        && rf.x_forwarded_proto.is_none()
        && !rf.forwarded
        && rf.via.is_none()
        && !c.head.conn.has_hop_by_hop
        && c.head.version == Version::Http11
        && !bare_lf(&c.head.buf)
}

/// Any line ending in LF without CR (the serialiser normalises those to CRLF).
fn bare_lf(buf: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', buf).any(|i| i == 0 || buf[i - 1] != b'\r')
}

#[allow(clippy::too_many_arguments)]
async fn attempt(
    c: &mut ClientConn,
    w: &Worker,
    cc: &CoreConfig,
    cluster: &Cluster,
    avoid: Option<usize>,
    idempotent: bool,
    body_buffered: bool,
    keep: bool,
) -> Result<Next, Failed> {
    let pick = cluster
        .pick(&c.head, c.peer.ip(), Instant::now(), avoid)
        .ok_or(Failed::new(ProxyError::NoUpstream, Retry::No, None))?;
    let ep = pick.endpoint;
    c.ctx.upstream_addr = Some(pick.addr);
    let t0 = Instant::now();
    let mut up = if cluster.speaks_h2() {
        let io = cc.config.http2.io;
        match crate::upstream::h2pool::acquire(cluster, ep, pick.addr, io, w.buffer_size()).await {
            Ok(Acquired::H2(mut lease)) => {
                c.ctx.upstream_connect = Some(t0.elapsed());
                cluster.begin(ep);
                let head_len = c.up_out.len();
                let res = super::proxy_h2::exchange(
                    c,
                    w,
                    cc,
                    cluster,
                    &mut lease,
                    ep,
                    head_len,
                    idempotent,
                    body_buffered,
                    keep,
                )
                .await;
                cluster.end(ep);
                return res.map_err(|(err, retry)| Failed::new(err, retry, Some(ep)));
            }
            // An `auto` cluster's endpoint chose HTTP/1.1 on this connection.
            Ok(Acquired::H1(up)) => up,
            Err(AcquireError::PoolFull) => {
                return Err(Failed::new(
                    ProxyError::PoolExhausted,
                    Retry::Safe,
                    Some(ep),
                ))
            }
            Err(AcquireError::Connect(e)) => {
                return Err(Failed::new(connect_error(e), Retry::Safe, Some(ep)))
            }
        }
    } else {
        match cluster.pool.checkout(ep, t0) {
            Some(u) => {
                cluster.metrics.reuses.inc();
                u
            }
            None => {
                if !cluster.pool.can_open(ep) {
                    return Err(Failed::new(
                        ProxyError::PoolExhausted,
                        Retry::Safe,
                        Some(ep),
                    ));
                }
                let s = connect(cluster, pick.addr, ep).await?;
                cluster.metrics.connects.inc();
                cluster.pool.adopt(s, ep, pick.addr, Instant::now())
            }
        }
    };
    c.ctx.upstream_connect = Some(t0.elapsed());
    cluster.begin(ep);
    let res = exchange(c, w, cc, cluster, &mut up, idempotent, body_buffered, keep).await;
    cluster.end(ep);
    match res {
        Ok(Exchange::Done { next, reuse }) => {
            if reuse {
                cluster.pool.checkin(up, Instant::now());
            }
            Ok(next)
        }
        Ok(Exchange::Upgrade) => Ok(Next::Tunnel(Box::new(up), cluster.cfg.idle_timeout.get())),
        Err((err, retry)) => Err(Failed::new(err, retry, Some(ep))),
    }
}

/// A new connection to endpoint `ep` (TCP, and TLS when the cluster has it). Nothing
/// was sent, so every failure here is safe to retry.
async fn connect(
    cluster: &Cluster,
    addr: std::net::SocketAddr,
    ep: usize,
) -> Result<Stream, Failed> {
    crate::upstream::connect::open(cluster, ep, addr, cluster.connect_timeout())
        .await
        .map_err(|e| Failed::new(connect_error(e), Retry::Safe, Some(ep)))
}

fn connect_error(e: ConnectError) -> ProxyError {
    match e {
        ConnectError::Failed => ProxyError::ConnectFailed,
        ConnectError::Timeout => ProxyError::ConnectTimeout,
        ConnectError::Tls => ProxyError::UpstreamTls,
    }
}

enum Exchange {
    Done { next: Next, reuse: bool },
    Upgrade,
}

fn retry_if(safe: bool) -> Retry {
    if safe {
        Retry::Safe
    } else {
        Retry::No
    }
}

#[allow(clippy::too_many_arguments)]
async fn exchange(
    c: &mut ClientConn,
    w: &Worker,
    cc: &CoreConfig,
    cluster: &Cluster,
    up: &mut UpConn,
    idempotent: bool,
    body_buffered: bool,
    keep: bool,
) -> Result<Exchange, (ProxyError, Retry)> {
    let limits = &cc.config.limits;
    let grow = w.buffer_size();
    let ep = up.endpoint;

    // 1. The head, with the body when it is complete in the buffer and small.
    let coalesced = match c.head.framing {
        BodyFraming::Length(n) if body_buffered && (n as usize) <= COALESCE_MAX => {
            c.up_out.extend_from_slice(&c.buf[..n as usize]);
            n as usize
        }
        _ => 0,
    };
    // Not `write_vec`, which empties the buffer: the head must still be in `up_out` when
    // `forward` truncates it back to the head for a retry.
    let out = std::mem::take(&mut c.up_out);
    let (res, out) = up.stream.write_all(out).await;
    c.up_out = out;
    if res.is_err() {
        // The upstream closed before reading: nothing was processed. Safe to retry when
        // the body is still ours to send again.
        cluster.report_failure(ep, Instant::now());
        return Err((ProxyError::UpstreamWrite, retry_if(body_buffered)));
    }
    bytes::Buf::advance(&mut c.buf, coalesced);
    c.ctx.bytes_received += coalesced as u64;

    // 2. The rest of the body, streamed.
    let body_idle = limits.body_read_timeout.get();
    let mut src = Src {
        stream: &mut c.stream,
        buf: &mut c.buf,
        grow,
        idle: body_idle,
    };
    let sent = match c.head.framing {
        BodyFraming::Length(n) if coalesced == 0 && n > 0 => {
            copy_length(&mut src, &mut up.stream, n).await
        }
        BodyFraming::Chunked => {
            let mut sc = ChunkedScanner::new(limits.max_chunk_line, limits.max_head_bytes);
            copy_chunked(&mut src, &mut up.stream, &mut sc, limits.max_body_bytes).await
        }
        _ => Ok(0),
    };
    match sent {
        Ok(n) => c.ctx.bytes_received += n,
        Err(e) => {
            let err = match e {
                CopyError::SrcTimeout => ProxyError::BodyTimeout,
                CopyError::SrcClosed => ProxyError::ClientClosed,
                CopyError::TooLarge => ProxyError::BodyTooLarge,
                CopyError::Framing(f) => ProxyError::BadRequest(f),
                CopyError::DstWrite => {
                    cluster.report_failure(ep, Instant::now());
                    ProxyError::UpstreamWrite
                }
            };
            return Err((err, Retry::No));
        }
    }

    // 3. The response head (interim 1xx responses are skipped).
    let t_sent = Instant::now();
    let first_byte = cluster.cfg.first_byte_timeout.get();
    let mut got_bytes = false;
    loop {
        match c.resp.parse(&mut up.buf, &cc.head_limits, c.head.method) {
            Ok(Status::Complete(())) => {
                if c.resp.is_interim() {
                    continue;
                }
                break;
            }
            Ok(Status::Partial) => {}
            Err(e) => {
                cluster.metrics.bad_responses.inc();
                cluster.report_failure(ep, Instant::now());
                tracing::warn!(cluster = %cluster.name, error = %e, "upstream response refused");
                return Err((ProxyError::BadResponse(e), Retry::No));
            }
        }
        let left = first_byte.saturating_sub(t_sent.elapsed());
        match read_some(
            &mut up.stream,
            &mut up.buf,
            grow,
            left.max(Duration::from_millis(1)),
        )
        .await
        {
            Ok(_) => got_bytes = true,
            Err(ReadError::Timeout) => {
                cluster.metrics.timeouts.inc();
                cluster.report_failure(ep, Instant::now());
                return Err((ProxyError::FirstByteTimeout, retry_if(idempotent)));
            }
            Err(_) => {
                // A pooled connection the upstream closed while idle shows up here; for an
                // idempotent request that is always worth another try.
                if !up.reused || got_bytes {
                    cluster.report_failure(ep, Instant::now());
                }
                return Err((ProxyError::UpstreamClosed, retry_if(idempotent)));
            }
        }
    }
    c.ctx.upstream_first_byte = Some(t_sent.elapsed());
    let status = c.resp.status;
    if idempotent && cluster.cfg.retry.on_status.contains(&status) {
        // Only reported as an error when the retry is granted; otherwise the caller
        // would answer with this very status, so forward the real response instead.
        if c.ctx.attempts <= cluster.cfg.retry.attempts && cluster.take_retry(Instant::now()) {
            cluster.report_failure(ep, Instant::now());
            return Err((ProxyError::RetryableStatus(status), Retry::Safe));
        }
    }
    if status >= 500 && cluster.cfg.passive_health.count_5xx {
        cluster.report_failure(ep, Instant::now());
    } else {
        cluster.report_success(ep);
    }

    // 4. The response to the client.
    let upgrade = status == 101;
    if upgrade && !c.head.conn.upgrade {
        cluster.metrics.bad_responses.inc();
        return Err((
            ProxyError::BadResponse(tollgate_proto::h1::H1Error::InvalidStatus),
            Retry::No,
        ));
    }
    let dechunk = c.head.version == Version::Http10 && c.resp.framing == ResponseFraming::Chunked;
    let until_close = c.resp.framing == ResponseFraming::UntilClose;
    // Drain may have begun while this request was in flight: say so in the response.
    let close_client = !keep || w.draining.get() || dechunk || until_close;
    cc.chain.on_response_head(&mut c.ctx, status);
    c.out.clear();
    let rf = ResponseForwarding {
        via: cc.forwarding.via.then_some(cc.via),
        close: close_client && !upgrade,
        upgrade,
        strip_framing: dechunk,
    };
    write_response_head(&c.resp, &c.ctx.response_edits, &rf, &mut c.out);
    c.ctx.status = status;
    let mut body_done = false;
    if let ResponseFraming::Length(n) = c.resp.framing {
        if (n as usize) <= COALESCE_MAX && up.buf.len() >= n as usize {
            c.out.extend_from_slice(&up.buf[..n as usize]);
            bytes::Buf::advance(&mut up.buf, n as usize);
            body_done = true;
        }
    }
    if c.resp.framing == ResponseFraming::None {
        body_done = true;
    }
    c.ctx.bytes_sent += c.out.len() as u64;
    if write_vec(&mut c.stream, &mut c.out).await.is_err() {
        c.ctx.error = Some("client closed during response");
        return Ok(Exchange::Done {
            next: Next::Close,
            reuse: false,
        });
    }
    if upgrade {
        return Ok(Exchange::Upgrade);
    }
    if !body_done {
        let mut src = Src {
            stream: &mut up.stream,
            buf: &mut up.buf,
            grow,
            idle: cluster.cfg.idle_timeout.get(),
        };
        let res = match c.resp.framing {
            ResponseFraming::Length(n) => copy_length(&mut src, &mut c.stream, n).await,
            ResponseFraming::Chunked => {
                let mut sc = ChunkedScanner::new(limits.max_chunk_line, limits.max_head_bytes);
                if dechunk {
                    copy_dechunked(&mut src, &mut c.stream, &mut sc).await
                } else {
                    copy_chunked(&mut src, &mut c.stream, &mut sc, u64::MAX).await
                }
            }
            ResponseFraming::UntilClose => copy_until_close(&mut src, &mut c.stream).await,
            ResponseFraming::None => Ok(0),
        };
        match res {
            Ok(n) => c.ctx.bytes_sent += n,
            Err(e) => {
                // The response has started: no error response is possible. Close both
                // sides so the client sees a truncated response, never a wrong one.
                c.cut = true;
                c.ctx.error = Some(match e {
                    CopyError::DstWrite => "client closed during response",
                    CopyError::SrcTimeout => {
                        cluster.metrics.timeouts.inc();
                        "upstream body timed out"
                    }
                    CopyError::Framing(_) => {
                        cluster.metrics.bad_responses.inc();
                        "upstream body framing invalid"
                    }
                    CopyError::SrcClosed | CopyError::TooLarge => "upstream closed during body",
                });
                return Ok(Exchange::Done {
                    next: Next::Close,
                    reuse: false,
                });
            }
        }
    }
    let reuse = c.resp.conn.keep_alive && !until_close;
    let next = if close_client {
        Next::Close
    } else {
        Next::KeepAlive
    };
    Ok(Exchange::Done { next, reuse })
}
