//! Writing an event stream: chunked framing, one write per due event (events that are due
//! together go out in one write), pacing by `ttft` and `tps`, and the stream faults
//! (`reset-mid-stream`, `error-event`, `slow-drip`) applied after `fault_after` events.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::anthropic::MessagesSeq;
use super::openai::{ChatSeq, CompletionSeq};
use super::Gen;
use crate::h1::chunked::{encode_chunk, LAST_CHUNK};
use crate::mock::conn::Io;
use crate::mock::control::Fault;
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

/// Writes the whole stream. The connection stays usable afterwards unless the request
/// asked to close or a fault ended it.
pub async fn run(_w: &Rc<Worker>, io: &mut Io, mut job: StreamJob) -> io::Result<After> {
    send::sleep(job.delay).await;
    let close = job.head.ends_with(b"Connection: close\r\n\r\n");
    let drip = (job.fault == Some(Fault::SlowDrip)).then_some(job.drip);
    io.out.extend_from_slice(&job.head);
    let start = Instant::now();
    let mut events = 0u32;
    let mut tokens = 0u32;
    loop {
        let piece = job.seq.next(&job.gen);
        if events == job.fault_after || piece.is_none() {
            match job.fault {
                Some(Fault::ResetMidStream) => {
                    write(io, drip).await?;
                    send::reset(io);
                    return Ok(After::Close);
                }
                Some(Fault::ErrorEvent) => {
                    encode_chunk(&mut io.out, job.error_event.as_bytes());
                    io.out.extend_from_slice(LAST_CHUNK);
                    write(io, drip).await?;
                    // The body ended cleanly, so the connection stays usable.
                    return Ok(if close {
                        After::Close
                    } else {
                        After::KeepAlive
                    });
                }
                _ => {}
            }
        }
        let Some(piece) = piece else { break };
        if piece.token {
            let offset = job.ttft.saturating_add(job.gap.saturating_mul(tokens));
            // Capped inputs keep this far from overflow; never panic if it were.
            let due = start.checked_add(offset).unwrap_or(start);
            tokens += 1;
            let now = Instant::now();
            if due > now {
                write(io, drip).await?;
                monoio::time::sleep(due - now).await;
            }
        }
        encode_chunk(&mut io.out, piece.bytes.as_bytes());
        events += 1;
    }
    io.out.extend_from_slice(LAST_CHUNK);
    write(io, drip).await?;
    Ok(if close {
        After::Close
    } else {
        After::KeepAlive
    })
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
