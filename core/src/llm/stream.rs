//! Relaying a stream: provider bytes in, SSE events scanned, converted, and written to
//! the client as they come, each read flushed at once (never the whole stream held).
//!
//! The commit point: the client's response head and the first events are held until
//! `commit_events` events (and `commit_bytes` bytes) are ready. Until then a provider
//! failure is invisible to the client and the caller may try the next deployment; after
//! it the client gets an error event in its own format and a cleanly ended stream.
//!
//! Back-pressure: the next provider read starts only when the client has taken the last
//! write, so a slow client slows the provider's reads down (the kernel's socket buffers
//! fill and TCP flow control reaches the provider) instead of growing our memory.
//!
//! Client disconnect: end of stream on the client's side means the client is gone, and
//! the provider connection is dropped at once (which cancels the generation on the
//! provider's side). A plain client socket is split for the relay and one read stays
//! armed on its read half from the first event to the last ([`Watch::Armed`]): an SSE
//! client sends nothing while it listens, so that read completes only when the client
//! leaves (or pipelines a request), and it costs one submission and one cancellation
//! per stream. Arming a readiness poll per provider read and cancelling it when the
//! provider answered first cost one io_uring cancel per token event, whose kernel cost
//! grows with the number of open streams (bench/RESULTS.md). TLS and HTTP/2 clients,
//! whose streams do not split that way, are watched for readability during provider
//! silences longer than `QUIET` ([`Watch::Quiet`]; for HTTP/2 that is a wait for
//! RST_STREAM and costs no system call).

use std::future::{Future, Pending};
use std::io;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use monoio::buf::{IoBufMut, SliceMut};
use monoio::io::{CancelHandle, CancelableAsyncReadRent, Canceller, Splitable};
use monoio::net::tcp::{TcpOwnedReadHalf, TcpOwnedWriteHalf};
use tollgate_proto::h1::{write_local_response_head, Version};
use tollgate_proto::sse::{SseItem, SseLimits, SseScanner};

use super::api::{write_stream_error, Dialect};
use super::convert::{Converter, Step};
use super::mock::MockStream;
use super::upstream::{BodyFail, BodyReader};
use crate::runtime::{CoreConfig, Worker};
use crate::server::conn::ClientConn;
use crate::server::io::{read_more, write_vec};
use crate::tls::Stream;
use crate::upstream::UpConn;

/// How long a provider may stay silent before a TLS or HTTP/2 client is watched for
/// leaving too.
const QUIET: Duration = Duration::from_millis(20);
/// Free space the client watch's read gets in the connection's buffer.
const WATCH_READ: usize = 2048;
/// The read buffer of a provider's stream. Its events are small and forwarded as they
/// come, so the connection's `limits.buffer_size` buffer (16 KiB by default) is let go
/// for the stream's length: at thousands of streams, a third of the gateway's memory.
/// A burst larger than this takes more than one read.
pub const STREAM_READ: usize = 4096;

/// Where the provider's bytes come from.
pub enum Source<'a> {
    Upstream {
        up: &'a mut UpConn,
        reader: BodyReader,
        grow: usize,
        idle: Duration,
    },
    Mock(MockStream),
}

impl Source<'_> {
    async fn next(&mut self) -> Result<Option<Bytes>, BodyFail> {
        match self {
            Source::Upstream {
                up,
                reader,
                grow,
                idle,
            } => reader.next(up, *grow, *idle).await,
            Source::Mock(m) => Ok(m.next().await),
        }
    }

    /// After the last event: reads what is left of the body (its chunked terminator,
    /// usually already buffered) so the connection can be pooled again. Bounded in time:
    /// the client already has its answer.
    pub async fn drain(&mut self) {
        if let Source::Upstream {
            up, reader, grow, ..
        } = self
        {
            let budget = Duration::from_millis(100);
            let _ = monoio::time::timeout(budget, async {
                let mut left = 64 * 1024usize;
                while let Ok(Some(p)) = reader.next(up, *grow, budget).await {
                    left = left.saturating_sub(p.len());
                    if left == 0 {
                        break;
                    }
                }
            })
            .await;
        }
    }

    /// The provider connection can carry another request.
    pub fn reusable(&self) -> bool {
        match self {
            Source::Upstream { reader, .. } => reader.reusable(),
            Source::Mock(_) => false,
        }
    }
}

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayEnd {
    /// The stream finished and reached the client.
    Done,
    /// The client went away; the provider connection must be dropped.
    ClientGone,
    /// The provider failed before the commit point: nothing reached the client, the
    /// caller may fall back.
    FailedBeforeCommit {
        reason: &'static str,
        message: String,
    },
    /// The provider failed after the commit point: the client got an error event.
    FailedAfterCommit { reason: &'static str },
}

/// Timing the relay measures for metrics.
#[derive(Debug, Default)]
pub struct Timing {
    /// Time spent waiting for the provider's bytes.
    pub upstream_wait: Duration,
    /// When the first event with content went to the client.
    pub first_token: Option<Instant>,
    /// When the last one did.
    pub last_token: Option<Instant>,
}

/// The commit point and the time limits of a relay.
pub struct Commit {
    pub events: u32,
    pub bytes: u64,
    /// Until the commit: the attempt's time-out.
    pub first_deadline: Instant,
    /// The whole request's deadline.
    pub deadline: Instant,
}

/// The read armed on a plain client socket's read half, and what it gave.
struct Watched {
    res: io::Result<usize>,
    read: TcpOwnedReadHalf,
    buf: BytesMut,
}

/// Reads once from the client into `buf` (appending), until `stop` cancels it.
async fn watch_client(
    mut read: TcpOwnedReadHalf,
    mut buf: BytesMut,
    stop: CancelHandle,
) -> Watched {
    if buf.capacity() - buf.len() < WATCH_READ {
        buf.reserve(WATCH_READ);
    }
    let len = buf.len();
    let (res, b): (io::Result<usize>, SliceMut<BytesMut>) =
        read.cancelable_read(buf.slice_mut(len..), stop).await;
    Watched {
        res,
        read,
        buf: b.into_inner(),
    }
}

/// How a relay notices that its client left.
enum Watch<'a, W> {
    /// Plain socket: the read on its read half, in flight.
    Armed(Pin<&'a mut W>),
    /// Plain socket: that read completed with a pipelined request's bytes (moved to the
    /// connection's buffer). From here on a client that leaves is found by a failed
    /// write.
    Fired(Watched),
    /// TLS or HTTP/2: the stream's readiness, waited for while the provider is quiet;
    /// `false` once the client sent bytes (they wait in the buffer for the next request).
    Quiet(bool),
}

/// Where the relay's bytes to the client go.
enum Sink<'a> {
    /// The connection's stream (TLS, HTTP/2).
    Stream,
    /// A plain socket's write half, while its read half is watched.
    Half(&'a mut TcpOwnedWriteHalf),
}

/// What ended a wait for the provider.
enum Woke {
    Provider(Result<Option<Bytes>, BodyFail>),
    /// The watch's read on a plain socket completed.
    Watched(Watched),
    /// A TLS or HTTP/2 client's stream became readable.
    Readable,
}

#[allow(clippy::too_many_arguments)]
pub async fn relay(
    c: &mut ClientConn,
    w: &Worker,
    cc: &CoreConfig,
    src: &mut Source<'_>,
    conv: &mut Converter,
    client: Dialect,
    commit: &Commit,
    close: bool,
    timing: &mut Timing,
) -> RelayEnd {
    let Some(tcp) = c.stream.detach_plain() else {
        let mut watch = Watch::<Pending<Watched>>::Quiet(true);
        let mut sink = Sink::Stream;
        return pump(
            c, cc, src, conv, client, commit, close, timing, &mut sink, &mut watch,
        )
        .await;
    };
    let (read, mut write) = tcp.into_split();
    let stop = Canceller::new();
    // The request was read whole, so the connection's read buffer (`buffer_size`,
    // 16 KiB by default) would sit idle under the watch for the whole stream: at
    // thousands of streams, a third of the gateway's memory. The request head, parsed
    // in place, still points into it: the head's few hundred bytes are copied out so
    // that the buffer is really let go (to the worker's pool when it is whole, else
    // freed), and the watch reads into a small one. A full-size buffer is taken again
    // when the stream ends.
    let watch_buf = if c.buf.is_empty() {
        c.head.buf = Bytes::copy_from_slice(&c.head.buf);
        w.give_buffer(std::mem::take(&mut c.buf));
        BytesMut::with_capacity(WATCH_READ)
    } else {
        std::mem::take(&mut c.buf)
    };
    let armed = std::pin::pin!(watch_client(read, watch_buf, stop.handle()));
    let mut watch = Watch::Armed(armed);
    let mut sink = Sink::Half(&mut write);
    let end = pump(
        c, cc, src, conv, client, commit, close, timing, &mut sink, &mut watch,
    )
    .await;
    let read = match watch {
        Watch::Armed(armed) => {
            // Cancelled and waited for, not dropped: bytes that raced with the
            // cancellation (a pipelined request) come back with it instead of being lost.
            let _ = stop.cancel();
            let mut out = armed.await;
            c.buf = std::mem::take(&mut out.buf);
            Some(out.read)
        }
        Watch::Fired(out) => Some(out.read),
        Watch::Quiet(_) => None,
    };
    // The socket back whole, for the next request on the connection. (Reuniting
    // cannot fail with the halves of one split; if it did, the stream stays detached
    // and the connection ends.)
    if let Some(Ok(tcp)) = read.map(|r| r.reunite(write)) {
        c.stream = Stream::Plain(tcp);
    }
    if c.buf.capacity() < w.buffer_size() && !matches!(end, RelayEnd::ClientGone) {
        let mut full = w.take_buffer();
        full.extend_from_slice(&c.buf);
        c.buf = full;
    }
    end
}

/// The relay proper: provider reads, events converted and written, until the provider's
/// stream ends or the client leaves.
#[allow(clippy::too_many_arguments)]
async fn pump<W: Future<Output = Watched>>(
    c: &mut ClientConn,
    cc: &CoreConfig,
    src: &mut Source<'_>,
    conv: &mut Converter,
    client: Dialect,
    commit: &Commit,
    close: bool,
    timing: &mut Timing,
    sink: &mut Sink<'_>,
    watch: &mut Watch<'_, W>,
) -> RelayEnd {
    let grow = 4096;
    let mut scanner = SseScanner::new(SseLimits::default());
    // Bytes of the event in progress, and the client's bytes not yet written.
    let mut unit: Vec<u8> = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut committed = false;
    let chunked = c.head.version == Version::Http11;
    // Before the commit point the attempt's time-out bounds the waits (the caller may
    // still fall back); after it, the request's deadline. One timer for the relay,
    // moved once at the commit, rather than one per provider read.
    let deadline = monoio::time::sleep_until(commit.first_deadline.min(commit.deadline).into());
    let mut deadline = std::pin::pin!(deadline);
    // The loop ends with how the provider's stream ended: a step and, for a failure,
    // the reason for metrics.
    let (step, reason) = loop {
        let t0 = Instant::now();
        // The provider read stays pinned across a client wake-up: dropping it would
        // cancel a read the kernel may already have filled, losing the provider's bytes.
        let mut next = std::pin::pin!(src.next());
        let got = loop {
            let woke = match watch {
                Watch::Armed(w) => monoio::select! {
                    r = &mut next => Woke::Provider(r),
                    _ = &mut deadline => Woke::Provider(Err(BodyFail::Timeout)),
                    out = w.as_mut() => Woke::Watched(out),
                },
                Watch::Quiet(true) => {
                    // A provider that answers within `QUIET` is read without watching
                    // the client: a client that left is then found by the next write
                    // failing. Only a provider that keeps quiet longer gets the client
                    // watched too.
                    let quick = monoio::select! {
                        r = &mut next => Some(r),
                        _ = &mut deadline => Some(Err(BodyFail::Timeout)),
                        _ = monoio::time::sleep(QUIET) => None,
                    };
                    match quick {
                        Some(r) => Woke::Provider(r),
                        None => monoio::select! {
                            r = &mut next => Woke::Provider(r),
                            _ = c.stream.readable(false) => Woke::Readable,
                            _ = &mut deadline => Woke::Provider(Err(BodyFail::Timeout)),
                        },
                    }
                }
                Watch::Fired(_) | Watch::Quiet(false) => monoio::select! {
                    r = &mut next => Woke::Provider(r),
                    _ = &mut deadline => Woke::Provider(Err(BodyFail::Timeout)),
                },
            };
            match woke {
                Woke::Provider(r) => break r,
                // The client sent something: end of stream (gone), or a pipelined
                // request, which stays in the buffer for after this response.
                Woke::Watched(mut out) => {
                    c.buf = std::mem::take(&mut out.buf);
                    let gone = !matches!(out.res, Ok(n) if n > 0);
                    *watch = Watch::Fired(out);
                    if gone {
                        return RelayEnd::ClientGone;
                    }
                }
                Woke::Readable => match read_more(&mut c.stream, &mut c.buf, grow).await {
                    Ok(0) | Err(_) => return RelayEnd::ClientGone,
                    Ok(_) => *watch = Watch::Quiet(false),
                },
            }
        };
        timing.upstream_wait += t0.elapsed();
        let piece = match got {
            Ok(Some(p)) => p,
            Ok(None) => break (conv.finish(&mut pending), "stream_error"),
            Err(e) => {
                let m = format!("the provider's stream failed: {}", e.reason());
                break (Step::Error(m), e.reason());
            }
        };
        let before = conv.content_events;
        let mut step = Step::More;
        let mut off = 0;
        while off < piece.len() && step == Step::More {
            let s = match scanner.scan(&piece[off..]) {
                Ok(s) => s,
                Err(e) => {
                    step = Step::Error(format!("the provider's stream is invalid: {e}"));
                    break;
                }
            };
            unit.extend_from_slice(&piece[off..off + s.consumed]);
            off += s.consumed.max(1);
            match s.item {
                Some(SseItem::Event(ev)) => {
                    if ev.dispatched {
                        step = conv.event(ev.event.bytes, ev.data.bytes, &unit, &mut pending);
                    }
                    unit.clear();
                }
                Some(SseItem::Comment(_)) | Some(SseItem::CrLfTail) | None => {}
            }
        }
        if conv.content_events > before {
            let now = Instant::now();
            timing.first_token.get_or_insert(now);
            timing.last_token = Some(now);
        }
        if step != Step::More {
            break (step, "error_event");
        }
        if !committed {
            let ready =
                conv.events_out >= commit.events.max(1) && pending.len() as u64 >= commit.bytes;
            if !ready {
                continue;
            }
            if write_head(c, cc, chunked, close, sink).await.is_err() {
                return RelayEnd::ClientGone;
            }
            committed = true;
            deadline.as_mut().reset(commit.deadline.into());
        }
        if !pending.is_empty() && write_chunk(c, chunked, &mut pending, sink).await.is_err() {
            return RelayEnd::ClientGone;
        }
    };
    let end = finish(
        c,
        cc,
        client,
        step,
        committed,
        chunked,
        close,
        &mut pending,
        reason,
        sink,
    )
    .await;
    if end == RelayEnd::Done {
        src.drain().await;
    }
    end
}

/// Ends the relay after the provider's stream ended (`step` says how).
#[allow(clippy::too_many_arguments)]
async fn finish(
    c: &mut ClientConn,
    cc: &CoreConfig,
    client: Dialect,
    step: Step,
    committed: bool,
    chunked: bool,
    close: bool,
    pending: &mut Vec<u8>,
    reason: &'static str,
    sink: &mut Sink<'_>,
) -> RelayEnd {
    let failed = match step {
        Step::Error(message) => {
            if !committed {
                return RelayEnd::FailedBeforeCommit { reason, message };
            }
            write_stream_error(client, 502, &message, pending);
            Some(reason)
        }
        _ => None,
    };
    if !committed && write_head(c, cc, chunked, close, sink).await.is_err() {
        return RelayEnd::ClientGone;
    }
    if !pending.is_empty() && write_chunk(c, chunked, pending, sink).await.is_err() {
        return RelayEnd::ClientGone;
    }
    if chunked {
        c.out.clear();
        c.out.extend_from_slice(b"0\r\n\r\n");
        c.ctx.bytes_sent += 5;
        if send(c, sink).await.is_err() {
            return RelayEnd::ClientGone;
        }
    }
    match failed {
        Some(reason) => {
            c.ctx.error = Some("provider stream failed after the commit point");
            RelayEnd::FailedAfterCommit { reason }
        }
        None => RelayEnd::Done,
    }
}

/// The client's response head for a stream. Headers that keep intermediaries (nginx,
/// CDNs) from buffering the stream are set.
async fn write_head(
    c: &mut ClientConn,
    cc: &CoreConfig,
    chunked: bool,
    close: bool,
    sink: &mut Sink<'_>,
) -> io::Result<()> {
    cc.chain.on_response_head(&mut c.ctx, 200);
    let mut headers = vec![
        (
            Bytes::from_static(b"content-type"),
            Bytes::from_static(b"text/event-stream"),
        ),
        (
            Bytes::from_static(b"cache-control"),
            Bytes::from_static(b"no-cache"),
        ),
        (
            Bytes::from_static(b"x-accel-buffering"),
            Bytes::from_static(b"no"),
        ),
    ];
    if chunked {
        headers.push((
            Bytes::from_static(b"transfer-encoding"),
            Bytes::from_static(b"chunked"),
        ));
    }
    c.out.clear();
    write_local_response_head(
        200,
        &headers,
        &c.ctx.response_edits,
        None,
        close || !chunked,
        &mut c.out,
    );
    c.ctx.status = 200;
    c.ctx.bytes_sent += c.out.len() as u64;
    send(c, sink).await
}

async fn write_chunk(
    c: &mut ClientConn,
    chunked: bool,
    data: &mut Vec<u8>,
    sink: &mut Sink<'_>,
) -> io::Result<()> {
    // The guard's placeholders back to the originals (best effort: not across writes).
    tollgate_filters::guard::restore_in_place(&c.ctx.llm.redactions, data);
    c.out.clear();
    if chunked {
        c.out
            .extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        c.out.extend_from_slice(data);
        c.out.extend_from_slice(b"\r\n");
    } else {
        c.out.extend_from_slice(data);
    }
    data.clear();
    c.ctx.bytes_sent += c.out.len() as u64;
    send(c, sink).await
}

/// Writes `c.out` to the client.
async fn send(c: &mut ClientConn, sink: &mut Sink<'_>) -> io::Result<()> {
    match sink {
        Sink::Stream => write_vec(&mut c.stream, &mut c.out).await,
        Sink::Half(w) => write_vec(&mut **w, &mut c.out).await,
    }
}
