//! Writing an event stream: chunked framing, one write per due event (events that are due
//! together go out in one write), pacing by `ttft` and `tps`, and the stream faults
//! (`reset-mid-stream`, `error-event`, `slow-drip`) applied after `fault_after` events.
//!
//! The client leaving is noticed when a write fails or, in a paced stream, by a peek at
//! the socket after each wait for a token's due time: within one token gap (or the TTFT)
//! of the close. It is counted (`streams_client_gone` in the stats) and, with `--record`,
//! stamped on the request's log entry.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::anthropic::MessagesSeq;
use super::openai::{ChatSeq, CompletionSeq};
use super::Gen;
use crate::h1::chunked::{encode_chunk, LAST_CHUNK};
use crate::mock::conn::Io;
use crate::mock::control::Fault;
use crate::mock::reqlog::now_us;
use crate::mock::send::{self, After};
use crate::mock::Worker;

/// One SSE event, framed.
#[derive(Debug, Clone)]
pub struct Piece {
    /// The event text including its blank line.
    pub bytes: String,
    /// It carries an output token (paced by tps).
    pub token: bool,
}

impl Piece {
    /// A token-carrying event.
    pub fn token(bytes: String) -> Self {
        Self { bytes, token: true }
    }

    /// Any other event.
    pub fn other(bytes: String) -> Self {
        Self {
            bytes,
            token: false,
        }
    }
}

/// Which API's sequence.
#[derive(Debug)]
pub enum Seq {
    /// OpenAI chat.
    Chat(ChatSeq),
    /// OpenAI legacy completions.
    Completion(CompletionSeq),
    /// Anthropic messages.
    Messages(MessagesSeq),
}

impl Seq {
    /// The next event, or `None` at the end.
    pub fn next(&mut self, g: &Gen) -> Option<Piece> {
        match self {
            Seq::Chat(s) => s.next(g),
            Seq::Completion(s) => s.next(g),
            Seq::Messages(s) => s.next(g),
        }
    }
}

/// A stream to write.
#[derive(Debug)]
pub struct StreamJob {
    /// The response head.
    pub head: Vec<u8>,
    /// The event sequence.
    pub seq: Seq,
    /// What the events are made from.
    pub gen: Gen,
    /// Delay before the head.
    pub delay: Duration,
    /// Time from the head to the first token.
    pub ttft: Duration,
    /// Time between tokens.
    pub gap: Duration,
    /// Fault to inject.
    pub fault: Option<Fault>,
    /// Events before the fault.
    pub fault_after: u32,
    /// Byte gap for slow drip.
    pub drip: Duration,
    /// The API-shaped error event.
    pub error_event: String,
    /// The request's entry in the request log (`--record`).
    pub log_seq: Option<u64>,
}

/// The SSE response head (chunked, not cacheable, not buffered by proxies).
pub fn head(close: bool) -> Vec<u8> {
    let mut h = String::from(
        "HTTP/1.1 200 OK\r\nServer: tollgate-mock\r\nContent-Type: text/event-stream\r\n\
         Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nTransfer-Encoding: chunked\r\n",
    );
    if close {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// How a stream ended, for the request log (`stream_end`) and the stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every event was sent.
    Complete,
    /// The client left first: a write failed, or the connection was found closed while
    /// the stream waited for a token's due time.
    ClientGone,
    /// `reset-mid-stream` ended it.
    Reset,
    /// `error-event` ended it.
    ErrorEvent,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Complete => "complete",
            Outcome::ClientGone => "client_gone",
            Outcome::Reset => "reset",
            Outcome::ErrorEvent => "error_event",
        }
    }
}

/// What a stream had sent when it ended.
#[derive(Debug, Default)]
struct Progress {
    events: u32,
    tokens: u32,
}

/// Writes the whole stream. The connection stays usable afterwards unless the request
/// asked to close or a fault ended it. When the request was recorded, its log entry gets
/// `stream_end`: `{"outcome", "t_us", "events", "tokens"}` (events and token events sent,
/// `t_us` when the mock saw the end).
pub async fn run(w: &Rc<Worker>, io: &mut Io, mut job: StreamJob) -> io::Result<After> {
    let mut progress = Progress::default();
    let res = write_events(io, &mut job, &mut progress).await;
    let outcome = match &res {
        Ok((outcome, _)) => *outcome,
        // A write to the client failed: it left (EPIPE, ECONNRESET).
        Err(_) => Outcome::ClientGone,
    };
    if outcome == Outcome::ClientGone {
        w.stats.stream_client_gone(w.index);
    }
    if let Some(seq) = job.log_seq {
        let end = json!({
            "outcome": outcome.name(), "t_us": now_us(),
            "events": progress.events, "tokens": progress.tokens,
        });
        w.log.annotate(w.index, seq, "stream_end", end);
    }
    res.map(|(_, after)| after)
}

async fn write_events(
    io: &mut Io,
    job: &mut StreamJob,
    progress: &mut Progress,
) -> io::Result<(Outcome, After)> {
    send::sleep(job.delay).await;
    let close = job.head.ends_with(b"Connection: close\r\n\r\n");
    let keep = if close {
        After::Close
    } else {
        After::KeepAlive
    };
    let drip = (job.fault == Some(Fault::SlowDrip)).then_some(job.drip);
    io.out.extend_from_slice(&job.head);
    let start = Instant::now();
    loop {
        let piece = job.seq.next(&job.gen);
        if progress.events == job.fault_after || piece.is_none() {
            match job.fault {
                Some(Fault::ResetMidStream) => {
                    write(io, drip).await?;
                    send::reset(io);
                    return Ok((Outcome::Reset, After::Close));
                }
                Some(Fault::ErrorEvent) => {
                    encode_chunk(&mut io.out, job.error_event.as_bytes());
                    io.out.extend_from_slice(LAST_CHUNK);
                    write(io, drip).await?;
                    // The body ended cleanly, so the connection stays usable.
                    return Ok((Outcome::ErrorEvent, keep));
                }
                _ => {}
            }
        }
        let Some(piece) = piece else { break };
        if piece.token {
            let offset = job
                .ttft
                .saturating_add(job.gap.saturating_mul(progress.tokens));
            // Capped inputs keep this far from overflow; never panic if it were.
            let due = start.checked_add(offset).unwrap_or(start);
            let now = Instant::now();
            if due > now {
                write(io, drip).await?;
                monoio::time::sleep(due - now).await;
                // One cheap look per wait, so a client that left is seen within a token
                // gap even though nothing is read while streaming.
                if peer_closed(io) {
                    return Ok((Outcome::ClientGone, After::Close));
                }
            }
            progress.tokens += 1;
        }
        encode_chunk(&mut io.out, piece.bytes.as_bytes());
        progress.events += 1;
    }
    io.out.extend_from_slice(LAST_CHUNK);
    write(io, drip).await?;
    Ok((Outcome::Complete, keep))
}

/// True when the client closed or reset the connection: a non-blocking peek (on the std
/// handle, so monoio's pending operations are untouched) finds end of stream or an error.
/// Bytes waiting (a pipelined request) mean it is still there.
fn peer_closed(io: &Io) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(&io.raw)
        .recv_with_flags(&mut byte, libc::MSG_PEEK | libc::MSG_DONTWAIT)
    {
        Ok(n) => n == 0,
        Err(e) => !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ),
    }
}

async fn write(io: &mut Io, drip: Option<Duration>) -> io::Result<()> {
    match drip {
        None => io.flush().await,
        Some(gap) => {
            let bytes = std::mem::take(&mut io.out);
            send::drip(io, &bytes, gap).await?;
            io.out = bytes;
            io.out.clear();
            Ok(())
        }
    }
}
