//! One attempt's exchange with an HTTP/2 upstream: the request as one stream of a
//! pooled connection (`upstream/h2pool.rs`), the response back to the client as
//! HTTP/1.1 (which `h2/bridge.rs` turns into HTTP/2 again for an HTTP/2 client).
//!
//! 1. The head the HTTP/1.1 path would send (`c.up_out`: filter edits and forwarding
//!    fields applied, hop-by-hop fields gone) becomes the HTTP/2 request
//!    (`h2/convert.rs`).
//! 2. The client's body follows as DATA, as the endpoint's flow-control window allows:
//!    a length-delimited body as it is, a chunked one de-chunked, its trailers as
//!    HTTP/2 trailers. A body already buffered whole is copied, so that a retry can
//!    send it again.
//! 3. The response head, within `first_byte_timeout` of the body's end, is written as
//!    an HTTP/1.1 head and parsed by the same parser as an HTTP/1.1 upstream's, so the
//!    chain, `retry.on_status`, passive health and the client's head are handled as on
//!    the HTTP/1.1 path.
//! 4. The body goes to the client frame by frame (window credit returns to the endpoint
//!    only once the client took the bytes): as it is under the upstream's
//!    `content-length`, else chunked, with the HTTP/2 trailers as chunked trailers.
//!
//! Retry safety (on top of `proxy.rs`'s rules): a stream the endpoint refused
//! (RST_STREAM REFUSED_STREAM) or did not process (beyond a GOAWAY's last stream id)
//! was never seen by the application (RFC 9113 §8.7), so it is retried whenever the
//! body can be sent again (none, or buffered whole), idempotent or not. Any other
//! failure before the response head is retried for idempotent requests without a body,
//! as over HTTP/1.1.

use std::future::poll_fn;
use std::io::Write;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use h2::{Reason, SendStream};
use tollgate_proto::h1::{
    write_response_head, BodyFraming, H1Error, ResponseForwarding, ResponseFraming, Status, Version,
};

use super::conn::ClientConn;
use super::error::ProxyError;
use super::io::{read_some, write_buf, write_vec, ReadError};
use super::proxy::{Next, Retry};
use crate::h2::convert;
use crate::runtime::{CoreConfig, Worker};
use crate::upstream::{Cluster, H2Lease};

/// A buffered body that went to the endpoint counts as received from the client when
/// the request fails for good after it (a request with a body is not retried then).
/// Those that succeed count it once no retry can follow, further down.
fn count_buffered(c: &mut ClientConn, buffered: &Option<Bytes>) {
    if let Some(b) = buffered {
        c.ctx.bytes_received += b.len() as u64;
    }
}

/// How a request body failed on its way to the endpoint.
enum BodyError {
    /// The client's side: the request fails with this error (not retried).
    Client(ProxyError),
    /// The endpoint's window stayed shut past the cluster's `idle_timeout`.
    Stalled,
    /// The stream or connection failed while sending; the response (an early answer,
    /// or the reason) tells more.
    Upstream,
}

/// The exchange of one request on `lease`, to endpoint `ep`. `head_len`: the length of
/// the HTTP/1.1 head in `c.up_out`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn exchange(
    c: &mut ClientConn,
    w: &Worker,
    cc: &CoreConfig,
    cluster: &Cluster,
    lease: &mut H2Lease,
    ep: usize,
    head_len: usize,
    idempotent: bool,
    body_buffered: bool,
    keep: bool,
) -> Result<Next, (ProxyError, Retry)> {
    let limits = &cc.config.limits;
    let te = c.head.header("te").is_some_and(convert::wants_trailers);
    let req = convert::request(
        &c.up_out[..head_len],
        cluster.tls.is_some(),
        &cluster.default_host,
        te,
    )
    .map_err(|e| (ProxyError::BadRequest(e), Retry::No))?;

    // 1. The head; a body buffered whole is copied (a retry sends it again).
    let buffered: Option<Bytes> = match c.head.framing {
        BodyFraming::None | BodyFraming::Length(0) => None,
        BodyFraming::Length(n) if body_buffered => {
            Some(Bytes::copy_from_slice(&c.buf[..n as usize]))
        }
        _ => None,
    };
    let no_body = matches!(c.head.framing, BodyFraming::None | BodyFraming::Length(0));
    // Nothing of the body is lost by a failure before the response: it can go again.
    let replayable = no_body || buffered.is_some();
    let (response, mut send) = match lease.send.send_request(req, no_body) {
        Ok(r) => r,
        Err(e) => {
            // The connection is going away or gone: nothing was sent on it.
            if e.is_go_away() || e.is_io() || e.is_remote() {
                lease.mark_closed();
                return Err((ProxyError::UpstreamClosed, Retry::Safe));
            }
            tracing::warn!(cluster = %cluster.name, error = %e, "HTTP/2 request refused by h2");
            return Err((ProxyError::BadRequest(H1Error::Malformed), Retry::No));
        }
    };
    cluster.metrics.h2_streams.inc();

    // 2. The body.
    let idle = cluster.cfg.idle_timeout.get();
    let mut body_complete = true;
    let sent = match (&buffered, c.head.framing) {
        (_, BodyFraming::None | BodyFraming::Length(0)) => Ok(0),
        (Some(b), _) => send_flow(&mut send, b.clone(), true, idle)
            .await
            .map(|_| b.len() as u64),
        (None, BodyFraming::Length(n)) => {
            send_length(c, limits, &mut send, n, w.buffer_size(), idle).await
        }
        (None, BodyFraming::Chunked) => {
            send_chunked(c, limits, &mut send, w.buffer_size(), idle).await
        }
    };
    match sent {
        Ok(n) => {
            if buffered.is_none() {
                c.ctx.bytes_received += n;
            }
        }
        Err(BodyError::Client(e)) => {
            send.send_reset(Reason::CANCEL);
            return Err((e, Retry::No));
        }
        Err(BodyError::Stalled) => {
            send.send_reset(Reason::CANCEL);
            cluster.metrics.timeouts.inc();
            cluster.report_failure(ep, Instant::now());
            count_buffered(c, &buffered);
            return Err((ProxyError::FirstByteTimeout, Retry::No));
        }
        // The endpoint may have answered early (and reset the rest of the body): see
        // what the response says. The client's unread body rules out keep-alive.
        Err(BodyError::Upstream) => body_complete = false,
    }

    // 3. The response head.
    let t_sent = Instant::now();
    let first_byte = cluster.cfg.first_byte_timeout.get();
    let resp = match monoio::time::timeout(first_byte, response).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            if e.is_go_away() || e.is_io() {
                lease.mark_closed();
            }
            let refused = e.is_remote()
                && ((e.is_reset() && e.reason() == Some(Reason::REFUSED_STREAM)) || e.is_go_away());
            if refused {
                tracing::debug!(cluster = %cluster.name, error = %e, "upstream did not process the stream");
                return Err((ProxyError::UpstreamClosed, retry_if(replayable)));
            }
            cluster.report_failure(ep, Instant::now());
            tracing::debug!(cluster = %cluster.name, error = %e, "upstream stream failed before its response");
            count_buffered(c, &buffered);
            return Err((ProxyError::UpstreamClosed, retry_if(idempotent)));
        }
        Err(_) => {
            send.send_reset(Reason::CANCEL);
            cluster.metrics.timeouts.inc();
            cluster.report_failure(ep, Instant::now());
            count_buffered(c, &buffered);
            return Err((ProxyError::FirstByteTimeout, retry_if(idempotent)));
        }
    };
    c.ctx.upstream_first_byte = Some(t_sent.elapsed());
    let (parts, mut recv) = resp.into_parts();
    let mut head = BytesMut::with_capacity(512);
    convert::response_head(
        &parts,
        recv.is_end_stream(),
        c.head.method == tollgate_proto::h1::Method::Head,
        c.head.version == Version::Http11,
        &mut head,
    );
    drop(parts);
    match c.resp.parse(&mut head, &cc.head_limits, c.head.method) {
        Ok(Status::Complete(())) => {}
        Ok(Status::Partial) | Err(_) => {
            cluster.metrics.bad_responses.inc();
            cluster.report_failure(ep, Instant::now());
            tracing::warn!(cluster = %cluster.name, "upstream HTTP/2 response head refused");
            count_buffered(c, &buffered);
            return Err((ProxyError::BadResponse(H1Error::Malformed), Retry::No));
        }
    }
    let status = c.resp.status;
    if idempotent && cluster.cfg.retry.on_status.contains(&status) {
        // As on the HTTP/1.1 path: reported only when the retry is granted.
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
    // No retry from here on: the buffered body is the endpoint's now.
    if let Some(b) = &buffered {
        c.buf.advance(b.len());
        c.ctx.bytes_received += b.len() as u64;
    }

    // 4. The response to the client.
    let until_close = c.resp.framing == ResponseFraming::UntilClose;
    let close_client = !keep || w.draining.get() || until_close || !body_complete;
    cc.chain.on_response_head(&mut c.ctx, status);
    c.out.clear();
    let rf = ResponseForwarding {
        via: cc.forwarding.via.then_some(cc.via),
        close: close_client,
        upgrade: false,
        strip_framing: false,
    };
    write_response_head(&c.resp, &c.ctx.response_edits, &rf, &mut c.out);
    c.ctx.status = status;
    c.ctx.bytes_sent += c.out.len() as u64;
    if write_vec(&mut c.stream, &mut c.out).await.is_err() {
        c.ctx.error = Some("client closed during response");
        return Ok(Next::Close);
    }
    let next = if close_client {
        Next::Close
    } else {
        Next::KeepAlive
    };
    if c.resp.framing == ResponseFraming::None {
        return Ok(next);
    }
    let chunked = c.resp.framing == ResponseFraming::Chunked;
    loop {
        let data = match monoio::time::timeout(idle, recv.data()).await {
            Ok(Some(Ok(d))) => d,
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                tracing::debug!(cluster = %cluster.name, error = %e, "upstream stream failed during its body");
                return Ok(cut(c, "upstream reset during body"));
            }
            Err(_) => {
                cluster.metrics.timeouts.inc();
                return Ok(cut(c, "upstream body timed out"));
            }
        };
        let n = data.len();
        if n == 0 {
            continue;
        }
        let written = if chunked {
            c.out.clear();
            let _ = write!(c.out, "{n:x}\r\n");
            c.out.extend_from_slice(&data);
            c.out.extend_from_slice(b"\r\n");
            c.ctx.bytes_sent += c.out.len() as u64;
            write_vec(&mut c.stream, &mut c.out).await
        } else {
            c.ctx.bytes_sent += n as u64;
            write_buf(&mut c.stream, data).await
        };
        if written.is_err() {
            c.ctx.error = Some("client closed during response");
            return Ok(Next::Close);
        }
        // The window opens again only once the client took the bytes.
        let _ = recv.flow_control().release_capacity(n);
    }
    if chunked {
        let trailers = match monoio::time::timeout(idle, recv.trailers()).await {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                tracing::debug!(cluster = %cluster.name, error = %e, "upstream stream failed at its trailers");
                return Ok(cut(c, "upstream reset during body"));
            }
            Err(_) => {
                cluster.metrics.timeouts.inc();
                return Ok(cut(c, "upstream body timed out"));
            }
        };
        c.out.clear();
        convert::last_chunk(trailers.as_ref(), &mut c.out);
        c.ctx.bytes_sent += c.out.len() as u64;
        if write_vec(&mut c.stream, &mut c.out).await.is_err() {
            c.ctx.error = Some("client closed during response");
            return Ok(Next::Close);
        }
    }
    Ok(next)
}

fn retry_if(safe: bool) -> Retry {
    if safe {
        Retry::Safe
    } else {
        Retry::No
    }
}

/// The response has started: no error response is possible. Close the client
/// connection so that it sees a truncated response, never a wrong one.
fn cut(c: &mut ClientConn, why: &'static str) -> Next {
    c.cut = true;
    c.ctx.error = Some(why);
    Next::Close
}

/// Sends `data` as the endpoint's window allows; `end` ends the stream with it.
async fn send_flow(
    send: &mut SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
    idle: Duration,
) -> Result<(), BodyError> {
    loop {
        if data.is_empty() {
            if end {
                send.send_data(Bytes::new(), true)
                    .map_err(|_| BodyError::Upstream)?;
            }
            return Ok(());
        }
        send.reserve_capacity(data.len());
        // The window is usually open: only a wait for it needs the timer (as in
        // h2::bridge).
        let cap = match send.capacity() {
            0 => match monoio::time::timeout(idle, poll_fn(|cx| send.poll_capacity(cx))).await {
                Ok(Some(Ok(n))) => n,
                Ok(Some(Err(_)) | None) => return Err(BodyError::Upstream),
                Err(_) => return Err(BodyError::Stalled),
            },
            n => n,
        };
        if cap == 0 {
            continue;
        }
        let chunk = data.split_to(cap.min(data.len()));
        let last = end && data.is_empty();
        send.send_data(chunk, last)
            .map_err(|_| BodyError::Upstream)?;
        if last {
            return Ok(());
        }
    }
}

/// The client's next bytes, within `limits.body_read_timeout`.
async fn fill(c: &mut ClientConn, grow: usize, idle: Duration) -> Result<(), BodyError> {
    if !c.buf.is_empty() {
        return Ok(());
    }
    read_some(&mut c.stream, &mut c.buf, grow, idle)
        .await
        .map(|_| ())
        .map_err(client_read_error)
}

/// Streams a body of `n` bytes from the client. Returns the bytes sent.
async fn send_length(
    c: &mut ClientConn,
    limits: &crate::config::Limits,
    send: &mut SendStream<Bytes>,
    n: u64,
    grow: usize,
    idle: Duration,
) -> Result<u64, BodyError> {
    let mut left = n;
    while left > 0 {
        fill(c, grow, limits.body_read_timeout.get()).await?;
        let k = (c.buf.len() as u64).min(left) as usize;
        let part = c.buf.split_to(k).freeze();
        left -= k as u64;
        send_flow(send, part, left == 0, idle).await?;
    }
    Ok(n)
}

/// Streams a chunked body from the client, de-chunked, its trailers as HTTP/2
/// trailers, its data bounded by `limits.max_body_bytes`. Returns the wire bytes read.
async fn send_chunked(
    c: &mut ClientConn,
    limits: &crate::config::Limits,
    send: &mut SendStream<Bytes>,
    grow: usize,
    idle: Duration,
) -> Result<u64, BodyError> {
    let mut body = convert::Dechunk::new(limits.max_chunk_line, limits.max_head_bytes);
    let (mut wire, mut data_len) = (0u64, 0u64);
    loop {
        fill(c, grow, limits.body_read_timeout.get()).await?;
        let step = body
            .step(&c.buf)
            .map_err(|e| BodyError::Client(ProxyError::BadRequest(e)))?;
        let mut consumed = c.buf.split_to(step.consumed);
        wire += step.consumed as u64;
        if let Some(r) = step.data {
            consumed.truncate(r.end);
            consumed.advance(r.start);
            data_len += consumed.len() as u64;
            if data_len > limits.max_body_bytes {
                return Err(BodyError::Client(ProxyError::BodyTooLarge));
            }
            send_flow(send, consumed.freeze(), false, idle).await?;
        }
        if let Some(trailers) = step.trailers {
            if trailers.is_empty() {
                send_flow(send, Bytes::new(), true, idle).await?;
            } else {
                send.send_trailers(trailers)
                    .map_err(|_| BodyError::Upstream)?;
            }
            return Ok(wire);
        }
        if step.consumed == 0 && !c.buf.is_empty() {
            // The scanner keeps partial lines itself, so this does not happen; if it
            // did, waiting for more bytes is the answer (never a busy loop).
            read_some(
                &mut c.stream,
                &mut c.buf,
                grow,
                limits.body_read_timeout.get(),
            )
            .await
            .map_err(client_read_error)?;
        }
    }
}

fn client_read_error(e: ReadError) -> BodyError {
    BodyError::Client(match e {
        ReadError::Timeout => ProxyError::BodyTimeout,
        ReadError::Closed | ReadError::Io => ProxyError::ClientClosed,
    })
}
