//! Small I/O helpers over monoio's ownership-passing API: reads append into a `BytesMut`
//! (grown, or compacted in place when its slices have been released), writes hand a
//! buffer to the stream and get it back. Generic over the stream, so plain TCP and TLS
//! (`crate::tls::Stream`) go through the same code.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelableAsyncReadRent, Canceller,
};
use monoio::net::TcpStream;

/// Keep at least this much free space before a read.
const MIN_READ: usize = 2048;

/// Makes room for a read when less than `MIN_READ` is free: for `size` bytes in all
/// (at least `MIN_READ` more) while fewer are buffered and do not fit yet, else for
/// `size` more.
///
/// Asked for `size` in all, `BytesMut::reserve` can move what is left of a consumed
/// buffer (the partial event or head after the last whole one) to the front of the
/// allocation it already has, once the pieces split off it are gone and the leftover
/// is no longer than the consumed front. Asked for `size` more, it doubled the
/// allocation whenever anything was left: 16 KiB more per long-lived stream, for
/// nothing. A buffer already holding `size` unconsumed bytes (a long head) grows by
/// `size` at a time. A caller reading a body of known length passes that length: once
/// the rest of it fits, nothing is reserved (a reserve there would double the
/// allocation).
fn make_room(buf: &mut BytesMut, size: usize) {
    let len = buf.len();
    let free = buf.capacity() - len;
    if free >= MIN_READ {
        return;
    }
    if len < size {
        if free < size - len {
            buf.reserve((size - len).max(MIN_READ));
        }
    } else {
        buf.reserve(size.max(MIN_READ));
    }
}

/// Reads once, appending to `buf`, which is given room for `size` bytes in all (see
/// [`make_room`]). `Ok(0)` is end of stream.
pub async fn read_more<S: AsyncReadRent>(
    stream: &mut S,
    buf: &mut BytesMut,
    size: usize,
) -> io::Result<usize> {
    make_room(buf, size);
    // monoio reads into a buffer from its start (`write_ptr`) and then sets its length to
    // what was read: bytes already buffered (a partial head, the start of a body) would
    // be overwritten. A slice from the end of them makes the read append.
    let len = buf.len();
    let b = std::mem::take(buf).slice_mut(len..);
    let (res, b) = stream.read(b).await;
    *buf = b.into_inner();
    res
}

/// Free space of the small buffer an idle keep-alive connection waits in once it gave
/// its full-size one back (see [`idle_read`]).
const IDLE_READ: usize = 2048;

/// The idle keep-alive wait on a plain socket: one read, appended to `buf` (empty
/// when called), within `idle`. The read waits in `buf` for `hold`; a connection idle
/// longer gives `buf` back to the worker's pool (through `give`) and waits in a
/// `IDLE_READ`-byte buffer, so that thousands of idle clients do not hold a
/// `limits.buffer_size` buffer each (nginx frees its buffers the same way). The bytes
/// that end the wait are then moved into a full-size buffer from `take`. The read is
/// cancelled and waited for, never dropped, so bytes that raced with the cancellation
/// are kept. A zero `hold` never gives the buffer back.
pub async fn idle_read(
    tcp: &mut TcpStream,
    buf: &mut BytesMut,
    size: usize,
    idle: Duration,
    hold: Duration,
    give: impl FnOnce(BytesMut),
    take: impl FnOnce() -> BytesMut,
) -> Result<usize, ReadError> {
    let hold = if hold.is_zero() { idle } else { hold.min(idle) };
    make_room(buf, size);
    let (res, cancelled) = {
        let stop = Canceller::new();
        let len = buf.len();
        let mut read = std::pin::pin!(
            tcp.cancelable_read(std::mem::take(buf).slice_mut(len..), stop.handle())
        );
        let first = monoio::select! {
            r = &mut read => Some(r),
            _ = monoio::time::sleep(hold) => None,
        };
        let cancelled = first.is_none();
        let (res, b) = match first {
            Some(r) => r,
            None => {
                let _ = stop.cancel();
                read.await
            }
        };
        *buf = b.into_inner();
        (res, cancelled)
    };
    match res {
        Ok(0) => return Err(ReadError::Closed),
        Ok(n) => return Ok(n),
        // Not cancelled: a real failure.
        Err(_) if !cancelled => return Err(ReadError::Io),
        // Cancelled: nothing arrived within `hold`.
        Err(_) => {}
    }
    let left = idle.saturating_sub(hold);
    if left.is_zero() {
        return Err(ReadError::Timeout);
    }
    give(std::mem::take(buf));
    let small = BytesMut::with_capacity(IDLE_READ);
    let (res, small) = match monoio::time::timeout(left, tcp.read(small)).await {
        Err(_) => return Err(ReadError::Timeout),
        Ok(r) => r,
    };
    match res {
        Ok(0) => Err(ReadError::Closed),
        Ok(n) => {
            *buf = take();
            buf.extend_from_slice(&small);
            Ok(n)
        }
        Err(_) => Err(ReadError::Io),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    Timeout,
    Closed,
    Io,
}

/// `read_more` with a time-out and end of stream as an error. After a time-out `buf`
/// is lost (left empty): callers close the connection then.
pub async fn read_some<S: AsyncReadRent>(
    stream: &mut S,
    buf: &mut BytesMut,
    size: usize,
    timeout: Duration,
) -> Result<usize, ReadError> {
    match monoio::time::timeout(timeout, read_more(stream, buf, size)).await {
        Err(_) => Err(ReadError::Timeout),
        Ok(Ok(0)) => Err(ReadError::Closed),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(_)) => Err(ReadError::Io),
    }
}

/// Writes all of `out` and clears it, keeping its capacity.
pub async fn write_vec<S: AsyncWriteRent>(stream: &mut S, out: &mut Vec<u8>) -> io::Result<()> {
    let v = std::mem::take(out);
    let (res, mut v) = stream.write_all(v).await;
    v.clear();
    *out = v;
    res.map(|_| ())
}

/// Writes all of an owned buffer (a `Bytes` or `BytesMut` slice of a read buffer).
pub async fn write_buf<S: AsyncWriteRent, B: IoBuf>(stream: &mut S, buf: B) -> io::Result<()> {
    let (res, _) = stream.write_all(buf).await;
    res.map(|_| ())
}

/// Closes a connection that may still have unread input without resetting it: a close
/// with unread bytes sends RST, and an RST can destroy the error response still in
/// flight to the client. So: shut down our side, then read and discard until the client
/// closes, it stays quiet for 500 ms, 2 s pass, or 1 MiB was discarded (nginx calls
/// this a lingering close). Over TLS the shutdown sends close_notify first.
pub async fn linger_close<S: AsyncReadRent + AsyncWriteRent>(mut stream: S) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer whose front was handed out and released keeps its allocation: the rest
    /// moves to the front instead of the allocation doubling.
    #[test]
    fn make_room_reuses_a_consumed_buffer() {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        buf.extend_from_slice(&[b'x'; 16 * 1024 - 1000]);
        buf.extend_from_slice(b"partial");
        let whole = buf.split_to(16 * 1024 - 1000).freeze();
        drop(whole);
        assert!(buf.capacity() - buf.len() < MIN_READ);
        make_room(&mut buf, 16 * 1024);
        assert_eq!(&buf[..], b"partial");
        assert!(buf.capacity() - buf.len() >= MIN_READ);
        assert!(buf.capacity() <= 16 * 1024, "grew to {}", buf.capacity());
    }

    /// A piece still held elsewhere: a new allocation of the asked size, not double.
    #[test]
    fn make_room_with_a_piece_still_held() {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        buf.extend_from_slice(&[b'x'; 16 * 1024 - 1000]);
        buf.extend_from_slice(b"partial");
        let held = buf.split_to(16 * 1024 - 1000).freeze();
        make_room(&mut buf, 16 * 1024);
        assert_eq!(&buf[..], b"partial");
        assert!(buf.capacity() - buf.len() >= MIN_READ);
        assert!(buf.capacity() <= 16 * 1024, "grew to {}", buf.capacity());
        assert_eq!(held.len(), 16 * 1024 - 1000);
    }

    /// A body longer than the buffer gets room for all of it in one go, and the last
    /// read before it is complete does not ask for the whole length again.
    #[test]
    fn make_room_for_more_than_the_buffer() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"head");
        make_room(&mut buf, 100_000);
        assert!(buf.capacity() >= 100_000);
        assert_eq!(&buf[..], b"head");
        let cap = buf.capacity();
        buf.resize(cap - 100, b'x');
        make_room(&mut buf, cap);
        assert_eq!(buf.capacity(), cap, "the last 100 bytes fit already");
    }
}
