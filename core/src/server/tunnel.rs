//! The byte tunnel after `101 Switching Protocols` (WebSocket and the like): bytes
//! already buffered on either side are flushed first, then both directions are copied
//! until either side closes, or until no byte has moved either way for `idle`.

use std::cell::Cell;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};

use super::io::write_buf;
use crate::tls::Stream;

/// Either side may be TLS: each splits into a read and a write half over one session.
pub async fn run(
    mut client: Stream,
    client_buf: BytesMut,
    mut upstream: Stream,
    up_buf: BytesMut,
    idle: Duration,
) {
    if !client_buf.is_empty() && write_buf(&mut upstream, client_buf).await.is_err() {
        return;
    }
    if !up_buf.is_empty() && write_buf(&mut client, up_buf).await.is_err() {
        return;
    }
    let last = Cell::new(Instant::now());
    // An HTTP/2 stream never gets here (the bridge refuses a 101), and does not split.
    let (Ok((mut cr, mut cw)), Ok((mut ur, mut uw))) = (client.into_split(), upstream.into_split())
    else {
        return;
    };
    monoio::select! {
        _ = pump(&mut cr, &mut uw, &last) => {},
        _ = pump(&mut ur, &mut cw, &last) => {},
        _ = watchdog(&last, idle) => {},
    }
}

/// Copies one direction until end of stream or an error, noting each transfer in `last`.
async fn pump<R: AsyncReadRent, W: AsyncWriteRentExt>(r: &mut R, w: &mut W, last: &Cell<Instant>) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let (res, b) = r.read(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (res, b) = w.write_all(buf).await;
        buf = b;
        if res.is_err() {
            return;
        }
        buf.clear();
        last.set(Instant::now());
    }
}

/// Completes once nothing has moved for `idle`.
async fn watchdog(last: &Cell<Instant>, idle: Duration) {
    loop {
        let quiet = last.get().elapsed();
        if quiet >= idle {
            return;
        }
        monoio::time::sleep(idle - quiet).await;
    }
}
