//! Small I/O helpers over monoio's ownership-passing API: reads append into a `BytesMut`
//! (grown, or compacted in place when its slices have been released), writes hand a
//! buffer to the kernel and get it back.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

/// Keep at least this much free space before a read.
const MIN_READ: usize = 2048;

/// Reads once, appending to `buf`. `Ok(0)` is end of stream.
pub async fn read_more(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    grow: usize,
) -> io::Result<usize> {
    if buf.capacity() - buf.len() < MIN_READ {
        buf.reserve(grow.max(MIN_READ));
    }
    // monoio reads into a buffer from its start (`write_ptr`) and then sets its length to
    // what was read: bytes already buffered (a partial head, the start of a body) would
    // be overwritten. A slice from the end of them makes the read append.
    let len = buf.len();
    let b = std::mem::take(buf).slice_mut(len..);
    let (res, b) = stream.read(b).await;
    *buf = b.into_inner();
    res
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    Timeout,
    Closed,
    Io,
}

/// `read_more` with a time-out and end of stream as an error. After a time-out `buf`
/// is lost (left empty): callers close the connection then.
pub async fn read_some(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    grow: usize,
    timeout: Duration,
) -> Result<usize, ReadError> {
    match monoio::time::timeout(timeout, read_more(stream, buf, grow)).await {
        Err(_) => Err(ReadError::Timeout),
        Ok(Ok(0)) => Err(ReadError::Closed),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(_)) => Err(ReadError::Io),
    }
}

/// Writes all of `out` and clears it, keeping its capacity.
pub async fn write_vec(stream: &mut TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    let v = std::mem::take(out);
    let (res, mut v) = stream.write_all(v).await;
    v.clear();
    *out = v;
    res.map(|_| ())
}

/// Writes all of an owned buffer (a `Bytes` or `BytesMut` slice of a read buffer).
pub async fn write_buf<B: IoBuf>(stream: &mut TcpStream, buf: B) -> io::Result<()> {
    let (res, _) = stream.write_all(buf).await;
    res.map(|_| ())
}

/// Closes a connection that may still have unread input without resetting it: a close
/// with unread bytes sends RST, and an RST can destroy the error response still in
/// flight to the client. So: shut down our side, then read and discard until the client
/// closes, it stays quiet for 500 ms, 2 s pass, or 1 MiB was discarded (nginx calls
/// this a lingering close).
pub async fn linger_close(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    let mut buf = vec![0u8; 16 * 1024];
    let mut discarded = 0usize;
    while discarded < 1 << 20 {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        let wait = left.min(Duration::from_millis(500));
        match monoio::time::timeout(wait, stream.read(buf)).await {
            Ok((Ok(n), b)) if n > 0 => {
                discarded += n;
                buf = b;
            }
            _ => return,
        }
    }
}
