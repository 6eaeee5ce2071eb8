//! Streaming body copies between two connections (plain or TLS). Bytes are read once into the source's
//! pooled buffer and the same bytes (a split-off slice of that buffer) are written on:
//! no copy, no whole-body buffering. Chunked bodies keep their framing (pass-through,
//! validated by the scanner as they go) unless the receiver cannot take it.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tollgate_proto::h1::{ChunkedScanner, H1Error};

use super::io::{read_some, write_buf, ReadError};
use crate::tls::Stream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyError {
    /// The source stalled past the idle time-out.
    SrcTimeout,
    /// The source closed (or reset) before the body ended.
    SrcClosed,
    /// Writing to the destination failed.
    DstWrite,
    /// The body passed the size limit.
    TooLarge,
    /// The chunked framing is invalid.
    Framing(H1Error),
}

impl From<ReadError> for CopyError {
    fn from(e: ReadError) -> CopyError {
        match e {
            ReadError::Timeout => CopyError::SrcTimeout,
            ReadError::Closed | ReadError::Io => CopyError::SrcClosed,
        }
    }
}

/// A body's source: a socket and the buffer that may already hold the body's start.
pub struct Src<'a> {
    pub stream: &'a mut Stream,
    pub buf: &'a mut BytesMut,
    pub grow: usize,
    pub idle: Duration,
}

impl Src<'_> {
    async fn fill(&mut self) -> Result<(), CopyError> {
        if self.buf.is_empty() {
            read_some(self.stream, self.buf, self.grow, self.idle).await?;
        }
        Ok(())
    }
}

/// Forwards exactly `n` bytes. Returns the bytes copied.
pub async fn copy_length(src: &mut Src<'_>, dst: &mut Stream, n: u64) -> Result<u64, CopyError> {
    let mut left = n;
    while left > 0 {
        src.fill().await?;
        let k = (src.buf.len() as u64).min(left) as usize;
        let part = src.buf.split_to(k);
        write_buf(dst, part)
            .await
            .map_err(|_| CopyError::DstWrite)?;
        left -= k as u64;
    }
    Ok(n)
}

/// Forwards a chunked body in its original framing, validating it. `max` bounds the
/// body's *data* (as `Content-Length` would); the bytes on the wire, framing included,
/// are bounded by [`wire_limit`] so that tiny chunks with long extensions cannot send
/// far more than `max` upstream. Returns the bytes copied (framing included).
pub async fn copy_chunked(
    src: &mut Src<'_>,
    dst: &mut Stream,
    scanner: &mut ChunkedScanner,
    max: u64,
) -> Result<u64, CopyError> {
    let (mut wire, mut data) = (0u64, 0u64);
    let wire_max = wire_limit(max);
    loop {
        src.fill().await?;
        // Walk the buffered bytes with `decode` to count the data, then forward all of
        // what belongs to the body in one write.
        let mut consumed = 0;
        let mut done = false;
        if max == u64::MAX {
            // Unbounded (a response body): no need to count the data.
            let step = scanner.scan(src.buf).map_err(CopyError::Framing)?;
            consumed = step.consumed;
            done = step.done;
        }
        while consumed < src.buf.len() && !done {
            let step = scanner
                .decode(&src.buf[consumed..])
                .map_err(CopyError::Framing)?;
            if let Some(d) = step.data {
                data += d.len() as u64;
            }
            consumed += step.consumed;
            done = step.done;
            if step.consumed == 0 {
                break;
            }
        }
        wire += consumed as u64;
        if data > max || wire > wire_max {
            return Err(CopyError::TooLarge);
        }
        let part = src.buf.split_to(consumed);
        if !part.is_empty() {
            write_buf(dst, part)
                .await
                .map_err(|_| CopyError::DstWrite)?;
        }
        if done {
            return Ok(wire);
        }
    }
}

/// The most wire bytes a chunked body with `max` data bytes may take: twice the data
/// plus 64 KiB of framing and trailers.
pub fn wire_limit(max: u64) -> u64 {
    max.saturating_mul(2).saturating_add(64 * 1024)
}

/// Forwards only the data of a chunked body (for an HTTP/1.0 client, which gets a
/// close-delimited body instead). Returns the data bytes copied.
pub async fn copy_dechunked(
    src: &mut Src<'_>,
    dst: &mut Stream,
    scanner: &mut ChunkedScanner,
) -> Result<u64, CopyError> {
    let mut total = 0u64;
    loop {
        src.fill().await?;
        let step = scanner.decode(src.buf).map_err(CopyError::Framing)?;
        let mut part = src.buf.split_to(step.consumed);
        if let Some(d) = step.data {
            part.advance(d.start as usize);
            part.truncate(d.len());
            total += part.len() as u64;
            write_buf(dst, part)
                .await
                .map_err(|_| CopyError::DstWrite)?;
        }
        if step.done {
            return Ok(total);
        }
    }
}

/// Forwards until the source closes (a response without length framing).
pub async fn copy_until_close(src: &mut Src<'_>, dst: &mut Stream) -> Result<u64, CopyError> {
    let mut total = 0u64;
    loop {
        if src.buf.is_empty() {
            match read_some(src.stream, src.buf, src.grow, src.idle).await {
                Ok(_) => {}
                Err(ReadError::Closed) => return Ok(total),
                Err(e) => return Err(e.into()),
            }
        }
        let part = src.buf.split();
        total += part.len() as u64;
        write_buf(dst, part)
            .await
            .map_err(|_| CopyError::DstWrite)?;
    }
}
