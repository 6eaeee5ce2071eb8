//! Carrying out answers that are more than "append bytes": a delay before the head, a
//! slow drip, a hang, a reset (SO_LINGER 0, then close: the kernel sends RST), a byte
//! echo tunnel after a 101, and paced LLM event streams.

use std::io;
use std::rc::Rc;
use std::time::Duration;

use super::conn::Io;
use super::llm::stream::StreamJob;
use super::Worker;

/// How to answer a request.
pub enum Plan {
    /// The answer is already in the output buffer.
    Sent {
        /// Close after writing it.
        close: bool,
    },
    /// Wait, then send.
    Delayed {
        /// Time before the first byte.
        delay: Duration,
        /// The whole response.
        bytes: Vec<u8>,
        /// Close afterwards.
        close: bool,
    },
    /// Wait, then send one byte per `gap`.
    Drip {
        /// Time before the first byte.
        delay: Duration,
        /// The whole response.
        bytes: Vec<u8>,
        /// Gap between bytes.
        gap: Duration,
        /// Close afterwards.
        close: bool,
    },
    /// Never answer; read and discard until the client leaves.
    Hang,
    /// Wait, send `bytes`, then reset the connection.
    Reset {
        /// Time before the first byte.
        delay: Duration,
        /// What to send before the reset.
        bytes: Vec<u8>,
    },
    /// Send the 101 head, then echo every byte back until the client closes.
    Tunnel {
        /// The 101 head.
        bytes: Vec<u8>,
    },
    /// A paced event stream.
    Stream(Box<StreamJob>),
}

/// What the connection does after a plan ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    /// Read the next request.
    KeepAlive,
    /// Close the connection.
    Close,
}

fn after(close: bool) -> After {
    if close {
        After::Close
    } else {
        After::KeepAlive
    }
}

/// Runs `plan` on the connection. Pending output is written first, so pipelined answers
/// stay in order.
pub async fn execute(w: &Rc<Worker>, io: &mut Io, plan: Plan) -> io::Result<After> {
    io.flush().await?;
    match plan {
        Plan::Sent { close } => Ok(after(close)),
        Plan::Delayed {
            delay,
            bytes,
            close,
        } => {
            sleep(delay).await;
            io.send(bytes).await?;
            Ok(after(close))
        }
        Plan::Drip {
            delay,
            bytes,
            gap,
            close,
        } => {
            sleep(delay).await;
            drip(io, &bytes, gap).await?;
            Ok(after(close))
        }
        Plan::Hang => {
            while io.fill().await? != 0 {
                io.pos = io.inb.len();
            }
            Ok(After::Close)
        }
        Plan::Reset { delay, bytes } => {
            sleep(delay).await;
            io.send(bytes).await?;
            reset(io);
            Ok(After::Close)
        }
        Plan::Tunnel { bytes } => {
            io.send(bytes).await?;
            tunnel(io).await?;
            Ok(After::Close)
        }
        Plan::Stream(job) => super::llm::stream::run(w, io, *job).await,
    }
}

/// Sleeps unless `d` is zero.
pub async fn sleep(d: Duration) {
    if !d.is_zero() {
        monoio::time::sleep(d).await;
    }
}

/// Writes `bytes` one byte per `gap`.
pub async fn drip(io: &mut Io, bytes: &[u8], gap: Duration) -> io::Result<()> {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            sleep(gap).await;
        }
        io.stream.write_all(vec![*b]).await.0?;
    }
    Ok(())
}

/// Arms SO_LINGER 0 so that closing the socket sends RST instead of FIN.
pub fn reset(io: &mut Io) {
    io.reset = true;
    let _ = socket2::SockRef::from(&io.raw).set_linger(Some(Duration::ZERO));
}

async fn tunnel(io: &mut Io) -> io::Result<()> {
    let pending = io.inb[io.pos..].to_vec();
    io.pos = io.inb.len();
    if !pending.is_empty() {
        io.send(pending).await?;
    }
    loop {
        io.inb.clear();
        io.pos = 0;
        if io.fill().await? == 0 {
            return Ok(());
        }
        let data = std::mem::take(&mut io.inb);
        let (res, mut data) = io.stream.write_all(data).await;
        data.clear();
        io.inb = data;
        res?;
    }
}
