//! The HTTP/2 connection task: the h2 crate's server connection, driven on this core,
//! and a task per request stream.
//!
//! The connection task owns the h2 `Connection` and polls it without pause (accepting
//! streams is what drives its I/O). Each accepted stream runs in its own task on the
//! same core ([`stream_task`]): the request path of `server/h1.rs` over the stream's
//! HTTP/1.1 view (`bridge.rs`), raced against the client resetting the stream before
//! the response began, which cancels the upstream work at once (Rapid Reset costs the
//! gateway one parse per stream, not one upstream request).
//!
//! The connection ends with GOAWAY: `NO_ERROR` on drain or after `http2.idle_timeout`
//! without streams (graceful: streams in flight finish), `ENHANCE_YOUR_CALM` when the
//! frame guard trips (abrupt), or whatever h2 decided on a protocol error.

use std::cell::Cell;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use tollgate_proto::h1::{H1Error, Status};
use tollgate_proto::h2::{FloodLimits, FrameScanner, Stop};

use super::bridge::{synthesize, H2Stream};
use super::io::{GuardState, H2Io, Transport};
use crate::config::Http2;
use crate::metrics::H2Error;
use crate::runtime::Worker;
use crate::server::conn::ClientConn;
use crate::server::h1::{begin, dispatch, finish};
use crate::server::ProxyError;
use crate::tls::Stream;

/// How long a connection that must close (drain, flood) may take to send its GOAWAY
/// and let streams in flight finish (drain) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

fn flood_limits(cfg: &Http2) -> FloodLimits {
    let f = &cfg.flood;
    FloodLimits {
        settings: f.settings,
        ping: f.ping,
        priority: f.priority,
        window_update: f.window_update,
        empty_frames: f.empty_frames,
        rst_stream: f.rst_stream,
        new_streams: f.new_streams,
        continuation_per_block: f.continuation_per_block,
    }
}

fn builder(cfg: &Http2) -> h2::server::Builder {
    let mut b = h2::server::Builder::new();
    b.max_concurrent_streams(cfg.max_concurrent_streams)
        .max_header_list_size(cfg.max_header_list_size)
        .max_frame_size(cfg.max_frame_size)
        .initial_window_size(cfg.stream_window)
        .initial_connection_window_size(cfg.connection_window)
        .max_send_buffer_size(cfg.max_send_buffer)
        .max_pending_accept_reset_streams(cfg.max_pending_accept_resets)
        .max_local_error_reset_streams(Some(cfg.max_local_error_resets));
    b
}

/// Serves an HTTP/2 client connection until it closes. `prefix`: bytes already read
/// from it (the preface, sniffed on an h2c listener).
pub async fn serve(stream: Stream, prefix: Bytes, peer: SocketAddr, w: &Rc<Worker>) {
    let cc = w.current();
    let cfg = &cc.config.http2;
    let tls = stream.is_tls();
    let transport = match Transport::new(stream, cfg.io, w.buffer_size()) {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "cannot set up the socket for HTTP/2; closing");
            return;
        }
    };
    let guard = Rc::new(GuardState::default());
    let scanner = FrameScanner::new(flood_limits(cfg));
    let io = H2Io::new(transport, prefix, scanner, guard.clone());
    w.metrics.h2.connections.inc();

    let handshake = builder(cfg).handshake::<_, Bytes>(io);
    let mut conn = monoio::select! {
        r = monoio::time::timeout(cfg.preface_timeout.get(), handshake) => match r {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "HTTP/2 handshake failed");
                w.metrics.h2.error(if e.is_io() { H2Error::Io } else { H2Error::Protocol });
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "no HTTP/2 preface within http2.preface_timeout; closing");
                w.metrics.h2.error(H2Error::PrefaceTimeout);
                return;
            }
        },
        _ = w.drain_notify.notified() => return,
    };

    let live = Rc::new(Live::default());
    let idle = cfg.idle_timeout.get();
    let mut idle_since = Some(Instant::now());
    let mut closing: Option<Instant> = None;
    // One timer for the connection, moved when its deadline changes (not one per pass
    // of the loop, which runs per stream and per wake-up).
    let far = Duration::from_secs(3600);
    let mut armed = Instant::now() + idle;
    let mut timer = std::pin::pin!(monoio::time::sleep_until(armed.into()));
    loop {
        // A connection told to go away (drain, idle) lets its streams in flight finish
        // (on drain within runtime.drain_timeout, which ends the process anyway): h2
        // ends it (accept gives None) after the last. With none left, it gets
        // CLOSE_GRACE for the GOAWAY exchange.
        let deadline = match (closing, idle_since) {
            (Some(at), _) => at + CLOSE_GRACE,
            (None, Some(since)) => since + idle,
            // Streams open: nothing to time, so keep a far deadline, moved only when
            // half of it is gone.
            (None, None) if armed > Instant::now() + far / 2 => armed,
            (None, None) => Instant::now() + far,
        };
        if deadline != armed {
            armed = deadline;
            timer.as_mut().reset(armed.into());
        }
        monoio::select! {
            r = conn.accept() => match r {
                Some(Ok((req, respond))) => {
                    w.metrics.h2.streams.inc();
                    live.open();
                    idle_since = None;
                    monoio::spawn(stream_task(req, respond, peer, tls, w.clone(), live.clone()));
                }
                Some(Err(e)) => {
                    if e.is_io() {
                        tracing::debug!(%peer, error = %e, "HTTP/2 connection lost");
                        w.metrics.h2.error(H2Error::Io);
                    } else if e.reason() == Some(Reason::ENHANCE_YOUR_CALM) && !e.is_remote() {
                        // h2's own abuse limits: resets before accept (Rapid Reset),
                        // resets for the client's errors (MadeYouReset), CONTINUATION
                        // runs, header blocks far over max_header_list_size.
                        tracing::warn!(%peer, error = %e, "HTTP/2 connection closed: over an h2 abuse limit; GOAWAY ENHANCE_YOUR_CALM");
                        w.metrics.h2.error(H2Error::Limits);
                    } else {
                        tracing::info!(%peer, error = %e, "HTTP/2 connection closed on a protocol error");
                        w.metrics.h2.error(H2Error::Protocol);
                    }
                    break;
                }
                None => break,
            },
            _ = tripped(&guard) => {
                match guard.tripped.get().expect("tripped") {
                    Stop::Flood(t) => {
                        tracing::warn!(%peer, frame = t.kind.key(), count = t.count, limit = t.limit,
                            "HTTP/2 flood: over http2.flood.{} in one second; GOAWAY ENHANCE_YOUR_CALM", t.kind.key());
                        w.metrics.h2.flood(t.kind);
                        conn.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
                    }
                    Stop::Violation(v) => {
                        let reason = Reason::from(v.code);
                        tracing::info!(%peer, error = v.what, "HTTP/2 connection closed on a protocol error; GOAWAY {reason:?}");
                        w.metrics.h2.error(H2Error::Protocol);
                        conn.abrupt_shutdown(reason);
                    }
                }
                // Write the GOAWAY (reads are stopped), within the grace.
                let _ = monoio::time::timeout(CLOSE_GRACE, poll_fn(|cx| conn.poll_closed(cx))).await;
                break;
            },
            _ = w.drain_notify.notified(), if closing.is_none() => {
                conn.graceful_shutdown();
                closing = Some(Instant::now());
            },
            // The last stream ended: the idle time starts now. Without this branch the
            // loop would sleep its hour-long wait, as nothing else completes for a
            // client that stays silent after its last response.
            _ = live.until_none(), if idle_since.is_none() && closing.is_none() => {
                idle_since = Some(Instant::now());
            },
            _ = &mut timer => {
                if closing.is_some() {
                    if live.count() == 0 {
                        break;
                    }
                    // Streams are still answering: look again after another grace.
                    closing = Some(Instant::now());
                } else if live.count() == 0 {
                    tracing::debug!(%peer, "HTTP/2 connection idle past http2.idle_timeout; GOAWAY");
                    conn.graceful_shutdown();
                    closing = Some(Instant::now());
                } else {
                    idle_since = None;
                }
            },
        }
        if live.count() == 0 && idle_since.is_none() && closing.is_none() {
            idle_since = Some(Instant::now());
        }
        if w.draining.get() && closing.is_none() {
            conn.graceful_shutdown();
            closing = Some(Instant::now());
        }
    }
}

/// The stream tasks of a connection still running, and the connection task's waker to
/// call when the last one ends (its idle time starts then).
#[derive(Default)]
struct Live {
    count: Cell<usize>,
    none_left: Cell<Option<Waker>>,
}

impl Live {
    fn count(&self) -> usize {
        self.count.get()
    }

    fn open(&self) {
        self.count.set(self.count.get() + 1);
    }

    fn close(&self) {
        let n = self.count.get() - 1;
        self.count.set(n);
        if n == 0 {
            if let Some(w) = self.none_left.take() {
                w.wake();
            }
        }
    }

    /// Completes when no stream task is running.
    async fn until_none(&self) {
        poll_fn(|cx| {
            if self.count.get() == 0 {
                Poll::Ready(())
            } else {
                self.none_left.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// Completes once the frame guard has tripped. The guard wakes this task when it
/// trips (it runs inside this task's poll of the connection).
async fn tripped(guard: &GuardState) {
    poll_fn(|_| {
        if guard.tripped.get().is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// One request stream: the HTTP/1.1 request path over the stream's bridge.
async fn stream_task(
    req: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
    peer: SocketAddr,
    tls: bool,
    w: Rc<Worker>,
    live: Rc<Live>,
) {
    let cc = w.current();
    let (parts, recv) = req.into_parts();
    let mut buf = w.take_buffer();
    let mode = synthesize(&parts, recv.is_end_stream(), &mut buf);
    let head_request = parts.method == http::Method::HEAD;
    drop(parts);
    let send_timeout = cc.config.http2.send_timeout.get();
    let stream = H2Stream::new(recv, respond, mode, tls, head_request, send_timeout);
    let mut c = ClientConn::new(Stream::H2(stream.clone()), peer, buf);
    c.ctx.h2 = true;
    match c.head.parse(&mut c.buf, &cc.head_limits) {
        Ok(Status::Complete(())) => {
            let started = begin(&mut c);
            // The reset is looked at first: h2 hands out a stream that the client reset
            // in the same read as its HEADERS (Rapid Reset sends them together), and an
            // unbiased select polled the request path first half the time, which could
            // send the request upstream before it saw the reset.
            let next = monoio::select! {
                biased;
                _ = stream.reset_before_head() => None,
                n = dispatch(&mut c, &w, &cc, true) => Some(n),
            };
            if next.is_none() {
                w.metrics.h2.client_resets.inc();
                c.ctx.status = 499;
                c.ctx.error = Some("client reset the stream");
            }
            finish(&mut c, &w, &cc, started);
        }
        // The head we wrote is whole, so this is a field the HTTP/1.1 parser refuses.
        Ok(Status::Partial) => {
            refuse(&mut c, &w, ProxyError::BadRequest(H1Error::HeadTooLarge)).await
        }
        Err(e) => refuse(&mut c, &w, ProxyError::BadRequest(e)).await,
    }
    stream.finish(c.cut);
    c.release_request();
    let buf = std::mem::take(&mut c.buf);
    w.give_buffer(buf);
    live.close();
}

/// Answers a request whose head the HTTP/1.1 parser refused (as it would over
/// HTTP/1.1: 400, 414 or 431), counted and logged like one.
async fn refuse(c: &mut ClientConn, w: &Worker, e: ProxyError) {
    let cc = w.current();
    c.ctx.reset(Instant::now());
    let class = (e.status() / 100).clamp(1, 5) as usize - 1;
    w.metrics.rejected[class].inc();
    tracing::debug!(peer = %c.peer, error = e.reason(), "HTTP/2 request refused");
    crate::server::local::write_error(c, &cc, e, true).await;
}
