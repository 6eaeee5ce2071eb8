//! The crate's only `unsafe`: views of monoio's owned I/O buffers as byte slices.
//!
//! monoio's `AsyncReadRent`/`AsyncWriteRent` hand a stream a buffer of any type that
//! implements `IoBuf`/`IoBufMut`, described by raw pointers (the kernel writes into it
//! with io_uring). A TLS stream does not pass the buffer to the kernel: it copies
//! plaintext between the buffer and rustls, which needs the bytes as a slice. The traits'
//! contracts make that sound; these two functions are the whole of it, so the rest of the
//! crate stays free of `unsafe` (the crate's lints deny it; only this module allows it).
#![allow(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

use monoio::buf::{IoBuf, IoBufMut};

/// The initialised bytes of an owned buffer (what a write sends).
pub fn bytes<T: IoBuf>(buf: &T) -> &[u8] {
    // SAFETY: `IoBuf`'s contract: `read_ptr` points to `bytes_init` initialised bytes
    // that the buffer owns (and that stay put while it is not mutated). The shared borrow
    // of `buf` keeps it alive and unmutated for as long as the slice lives.
    unsafe { std::slice::from_raw_parts(buf.read_ptr(), buf.bytes_init()) }
}

/// Copies as much of `src` as fits into `buf`, where a read would put it (from
/// `write_ptr`, as monoio's socket reads do), marks it initialised and returns the count.
pub fn fill<T: IoBufMut>(buf: &mut T, src: &[u8]) -> usize {
    let n = src.len().min(buf.bytes_total());
    // SAFETY: `IoBufMut`'s contract: `write_ptr` is valid for writes of `bytes_total`
    // bytes, and `n` is at most that. `src` cannot overlap the buffer's memory: the buffer
    // is exclusively borrowed here, so no shared slice into it can exist. After the copy
    // the first `n` bytes from `write_ptr` are initialised, which is what `set_init`
    // requires.
    unsafe {
        buf.write_ptr().copy_from_nonoverlapping(src.as_ptr(), n);
        buf.set_init(n);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_writes_from_the_start_like_a_socket_read_and_bytes_views_it() {
        let mut v: Vec<u8> = Vec::with_capacity(4);
        assert_eq!(fill(&mut v, b"hello"), 4);
        assert_eq!(bytes(&v), b"hell");
        // A slice from the end of the initialised part appends, as callers do.
        let mut b = bytes::BytesMut::with_capacity(8);
        b.extend_from_slice(b"ab");
        let mut s = monoio::buf::IoBufMut::slice_mut(b, 2..);
        assert_eq!(fill(&mut s, b"cd"), 2);
        assert_eq!(&s.into_inner()[..], b"abcd");
    }
}
