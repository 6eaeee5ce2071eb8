//! The HTTP/1.1 connection loop: read a head (keep-alive and header time-outs, drain),
//! run the chain, answer locally or proxy, log, and go round again. Pipelined requests
//! are served in order from the same buffer, so their responses are in order too.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use bytes::Buf;
use monoio::net::TcpStream;
use tollgate_filters::{Flow, RouteAction};
use tollgate_proto::h1::{BodyFraming, Method, Status};

use super::conn::ClientConn;
use super::error::ProxyError;
use super::io::{idle_read, linger_close, read_more, read_some, ReadError};
use super::local::{write_error, write_local};
use super::proxy::{self, Next};
use super::tunnel;
use crate::runtime::{Bound, CoreConfig, Worker};
use crate::tls::Stream;

/// Serves one client connection until it closes, times out or the worker drains: the
/// TLS handshake first on a TLS listener, then the same HTTP/1.1 loop either way.
/// The accept loop has already counted it in `worker.active`; this releases the count.
pub async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    bound: Rc<Bound>,
    worker: Rc<Worker>,
) {
    worker.metrics.connections_active.inc();
    let _ = tcp.set_nodelay(true);
    // The connection's task holds its future for as long as it lives, idle or not, so
    // the large parts (a TLS handshake, HTTP/2, a proxied or LLM request, a tunnel) are
    // boxed while they run: an idle keep-alive connection then holds ~2 KiB of task
    // state instead of ~13 KiB.
    if let Some(stream) = Box::pin(open(tcp, peer, &bound, &worker)).await {
        match protocol(stream, &bound, &worker).await {
            Protocol::Http1(stream, buf) => {
                let c = ClientConn::new(stream, peer, buf);
                if let Some(buf) = run(c, &worker).await {
                    worker.give_buffer(buf);
                }
            }
            Protocol::Http2(stream, prefix) => {
                Box::pin(crate::h2::serve(stream, prefix, peer, &worker)).await;
            }
            Protocol::Gone => {}
        }
    }
    worker.active.set(worker.active.get() - 1);
    worker.metrics.connections_active.dec();
    worker.slot_notify.notify_all();
}

/// The connection's stream: the socket itself, or TLS once the handshake succeeded
/// (with the listener's certificates as of now: a reload reaches the next handshake).
/// `None` closes the connection: a failed handshake, or drain began during it.
async fn open(tcp: TcpStream, peer: SocketAddr, bound: &Bound, w: &Worker) -> Option<Stream> {
    if !bound.tls {
        return Some(Stream::Plain(tcp));
    }
    if w.draining.get() {
        return None;
    }
    let cc = w.current();
    let Some(Some(tls)) = cc.listener_tls(&bound.listen) else {
        // Reload refuses turning TLS off on a listener; one removed from the config
        // keeps its socket until a restart, and gets no TLS to speak.
        tracing::debug!(%peer, listen = %bound.listen, "no TLS for this listener in the current config; closing");
        return None;
    };
    monoio::select! {
        s = crate::tls::server::accept(tls, tcp, peer, &w.metrics.tls) => s,
        _ = w.drain_notify.notified() => None,
    }
}

enum Protocol {
    /// With the bytes read so far (the h2c sniff), as the connection's read buffer.
    Http1(Stream, bytes::BytesMut),
    /// With the bytes read so far (the preface, or part of it), for h2 to read first.
    Http2(Stream, bytes::Bytes),
    Gone,
}

/// Which protocol the connection speaks: over TLS what ALPN chose (`h2`, else
/// HTTP/1.1); on a plain listener with `h2c = true`, HTTP/2 when the first bytes are
/// its preface (RFC 9113 §3.3), otherwise HTTP/1.1 with those bytes as its first.
async fn protocol(mut stream: Stream, bound: &Bound, w: &Worker) -> Protocol {
    let buf = w.take_buffer();
    if let Some(tls) = stream.tls() {
        if tls.session().alpn_protocol() == Some(b"h2") {
            w.give_buffer(buf);
            return Protocol::Http2(stream, bytes::Bytes::new());
        }
        return Protocol::Http1(stream, buf);
    }
    let cc = w.current();
    let h2c = cc
        .config
        .listeners
        .iter()
        .any(|l| l.listen == bound.listen && l.h2c);
    if !h2c {
        return Protocol::Http1(stream, buf);
    }
    let mut buf = buf;
    let grow = w.buffer_size();
    let preface = tollgate_proto::h2::PREFACE;
    // Idle until the first bytes (as for a keep-alive wait), then the rest of a
    // possible preface within the header time-out.
    let first = monoio::select! {
        r = monoio::time::timeout(cc.keepalive_timeout(), read_more(&mut stream, &mut buf, grow)) => r,
        _ = w.drain_notify.notified() => return Protocol::Gone,
    };
    if !matches!(first, Ok(Ok(n)) if n > 0) {
        w.give_buffer(buf);
        return Protocol::Gone;
    }
    let deadline = Instant::now() + cc.config.limits.header_read_timeout.get();
    while buf.len() < preface.len() && preface.starts_with(&buf) {
        let left = deadline.saturating_duration_since(Instant::now());
        if read_some(&mut stream, &mut buf, grow, left).await.is_err() {
            return Protocol::Gone;
        }
    }
    if buf.starts_with(preface) {
        let prefix = buf.split().freeze();
        w.give_buffer(buf);
        Protocol::Http2(stream, prefix)
    } else {
        Protocol::Http1(stream, buf)
    }
}

enum HeadOutcome {
    Ready,
    /// Nothing to answer: clean close, idle time-out, drain, or the client left mid-head.
    Close,
    Reject(ProxyError),
}

/// Returns the read buffer for the pool when the connection ended cleanly.
async fn run(mut c: ClientConn, w: &Worker) -> Option<bytes::BytesMut> {
    loop {
        let cc = w.current();
        match read_head(&mut c, w, &cc).await {
            HeadOutcome::Ready => {}
            HeadOutcome::Close => {
                let buf = std::mem::take(&mut c.buf);
                close(c.stream).await;
                return Some(buf);
            }
            HeadOutcome::Reject(e) => {
                c.ctx.reset(Instant::now());
                let class = (e.status() / 100).clamp(1, 5) as usize - 1;
                w.metrics.rejected[class].inc();
                tracing::debug!(peer = %c.peer, error = e.reason(), "request refused");
                write_error(&mut c, &cc, e, true).await;
                linger_close(c.stream).await;
                return None;
            }
        }
        // The wait for this head may have spanned a reload: a request that was not yet
        // in flight when the config changed is served on the new one.
        let cc = w.current();
        match handle(&mut c, w, &cc).await {
            Next::KeepAlive => c.release_request(),
            Next::Close => {
                if c.cut {
                    return None;
                }
                // An error answer may leave the client's request (or the next one)
                // unread: close without a reset so the answer reaches it.
                if c.ctx.error.is_some() || !c.buf.is_empty() {
                    linger_close(c.stream).await;
                } else {
                    close(c.stream).await;
                }
                return None;
            }
            Next::Tunnel(up, idle) => {
                let (up_stream, up_buf) = up.into_parts();
                Box::pin(tunnel::run(c.stream, c.buf, up_stream, up_buf, idle)).await;
                return None;
            }
        }
        if w.draining.get() {
            close(c.stream).await;
            return None;
        }
    }
}

/// Ends a connection whose last response (if any) is complete. Over TLS that takes a
/// close_notify first (bounded in time): without one, a client may not trust that a
/// close-delimited body ended where it did (RFC 9112 §9.8).
async fn close(mut stream: Stream) {
    if stream.is_tls() {
        let _ = monoio::time::timeout(
            std::time::Duration::from_secs(1),
            monoio::io::AsyncWriteRent::shutdown(&mut stream),
        )
        .await;
    }
}

async fn read_head(c: &mut ClientConn, w: &Worker, cc: &CoreConfig) -> HeadOutcome {
    let grow = w.buffer_size();
    if c.buf.is_empty() {
        if w.draining.get() {
            return HeadOutcome::Close;
        }
        // Idle keep-alive wait: ends on the first byte, the keep-alive time-out, or drain.
        let idle = cc.keepalive_timeout();
        let got = match &mut c.stream {
            Stream::Plain(tcp) => {
                let hold = cc.config.limits.idle_buffer_hold.get();
                let give = |b| w.give_buffer(b);
                let take = || w.take_buffer();
                monoio::select! {
                    r = idle_read(tcp, &mut c.buf, grow, idle, hold, give, take) => r.is_ok(),
                    _ = w.drain_notify.notified() => return HeadOutcome::Close,
                }
            }
            _ => monoio::select! {
                r = monoio::time::timeout(idle, read_more(&mut c.stream, &mut c.buf, grow)) => {
                    matches!(r, Ok(Ok(n)) if n > 0)
                }
                _ = w.drain_notify.notified() => return HeadOutcome::Close,
            },
        };
        if !got {
            return HeadOutcome::Close;
        }
    }
    let deadline = Instant::now() + cc.config.limits.header_read_timeout.get();
    loop {
        match c.head.parse(&mut c.buf, &cc.head_limits) {
            Ok(Status::Complete(())) => return HeadOutcome::Ready,
            Ok(Status::Partial) => {}
            Err(e) => return HeadOutcome::Reject(ProxyError::BadRequest(e)),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return HeadOutcome::Reject(ProxyError::HeaderTimeout);
        }
        match read_some(&mut c.stream, &mut c.buf, grow, left).await {
            Ok(_) => {}
            Err(ReadError::Timeout) => return HeadOutcome::Reject(ProxyError::HeaderTimeout),
            Err(_) => return HeadOutcome::Close,
        }
    }
}

async fn handle(c: &mut ClientConn, w: &Worker, cc: &CoreConfig) -> Next {
    let started = begin(c);
    let max_req = cc.config.limits.max_requests_per_connection;
    let keep = c.head.conn.keep_alive && (max_req == 0 || c.served < max_req) && !w.draining.get();
    let next = dispatch(c, w, cc, keep).await;
    finish(c, w, cc, started);
    next
}

/// Starts a request's bookkeeping; returns its start time for [`finish`].
pub(crate) fn begin(c: &mut ClientConn) -> Instant {
    let started = Instant::now();
    c.ctx.reset(started);
    c.served += 1;
    c.ctx.bytes_received = c.head.buf.len() as u64;
    started
}

/// Runs a parsed request through the chain and answers it: locally, by proxy, or on an
/// LLM route. `keep`: the connection may serve another request after this one.
pub(crate) async fn dispatch(c: &mut ClientConn, w: &Worker, cc: &CoreConfig, keep: bool) -> Next {
    if c.head.method == Method::Connect {
        write_error(c, cc, ProxyError::MethodNotAllowed, true).await;
        Next::Close
    } else if matches!(c.head.framing, BodyFraming::Length(n) if n > cc.config.limits.max_body_bytes)
    {
        // Refused before a byte of the body is read (and before any 100 Continue).
        write_error(c, cc, ProxyError::BodyTooLarge, true).await;
        Next::Close
    } else {
        let mut flow = cc.chain.on_request_head(&mut c.ctx, &c.head);
        if c.ctx.limits.await_exchange {
            let again = |ctx: &mut _| cc.chain.recheck_limits(ctx, &c.head);
            flow =
                crate::redis::recheck_after_exchange(cc.redis.as_deref(), &mut c.ctx, flow, again)
                    .await;
        }
        match flow {
            Flow::Respond(resp) => {
                let keep = keep && discard_buffered_body(c);
                if write_local(c, cc, &resp, !keep).await && keep {
                    Next::KeepAlive
                } else {
                    Next::Close
                }
            }
            Flow::Continue => {
                let action = c.ctx.route.map(|r| cc.chain.route(r).action);
                match action {
                    // Boxed: see `serve_connection`.
                    Some(RouteAction::Proxy { cluster }) => {
                        Box::pin(proxy::forward(c, w, cc, &cc.clusters[cluster], keep)).await
                    }
                    Some(RouteAction::Llm) => Box::pin(crate::llm::handle(c, w, cc, keep)).await,
                    // Validation guarantees a local route ends in a response filter.
                    _ => {
                        write_error(c, cc, ProxyError::NoUpstream, !keep).await;
                        if keep {
                            Next::KeepAlive
                        } else {
                            Next::Close
                        }
                    }
                }
            }
        }
    }
}

/// Ends every request, whatever became of it: route metrics, auth failures, the chain's
/// `on_log` (rate limits settle there) and the access log.
pub(crate) fn finish(c: &mut ClientConn, w: &Worker, cc: &CoreConfig, started: Instant) {
    let now = Instant::now();
    c.ctx.finished = Some(now);
    let rm = c
        .ctx
        .route
        .map(|r| &cc.route_metrics[r])
        .unwrap_or(&cc.unrouted);
    rm.record(c.ctx.status, now - started);
    if let Some(reason) = c.ctx.auth_failure {
        w.metrics.auth_failures.note(reason);
    }
    // Every request ends here, logged or not: rate limits settle in `on_log`.
    cc.chain
        .on_log(&mut c.ctx, &c.head, &mut w.log_buf.borrow_mut());
    if cc.chain.access_log {
        w.flush_log(false);
    }
}

/// A request answered locally must have its body consumed to keep the connection in
/// sync. If the whole body is already buffered, skip it; otherwise the connection closes.
pub(crate) fn discard_buffered_body(c: &mut ClientConn) -> bool {
    match c.head.framing {
        BodyFraming::None => true,
        BodyFraming::Length(n) if (n as usize) <= c.buf.len() => {
            c.buf.advance(n as usize);
            true
        }
        _ => false,
    }
}
