//! Per-core keep-alive pool of upstream connections, one LIFO stack per endpoint (the
//! most recently used connection is the warmest and the least likely to have been
//! closed by the upstream's idle timer).
//!
//! A connection is plain or TLS ([`Stream`]). TLS connections need no key of their own
//! beyond the endpoint: the name sent as SNI and the ALPN offer are the same for every
//! connection to an endpoint within a generation (the cluster's `tls.sni` or the
//! endpoint's host, and the ALPN of its `protocol`), and a reload builds new pools.
//!
//! The per-endpoint connection count (`pool.max_per_endpoint`) is shared with the
//! cluster's HTTP/2 connections (`h2pool.rs`), which take their [`Slot`] here too.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::tls::Stream;

/// An upstream connection with its own read buffer. Dropping it closes the socket and
/// frees its slot in the endpoint's connection count.
#[derive(Debug)]
pub struct UpConn {
    pub stream: Stream,
    pub buf: BytesMut,
    pub endpoint: usize,
    pub addr: SocketAddr,
    /// Came from the pool rather than a fresh connect.
    pub reused: bool,
    idle_since: Instant,
    _slot: Slot,
}

impl UpConn {
    /// Moves what is buffered into a new buffer of `size` bytes when the current one is
    /// larger, letting the large one go (it is freed once no piece of it is held).
    pub fn shrink_buffer(&mut self, size: usize) {
        if self.buf.capacity() > size && self.buf.len() <= size {
            let mut small = BytesMut::with_capacity(size);
            small.extend_from_slice(&self.buf);
            self.buf = small;
        }
    }

    /// The socket and its buffer, for a tunnel. The tunnel is no longer a pooled
    /// connection, so its slot in the endpoint's count is released here.
    pub fn into_parts(self) -> (Stream, BytesMut) {
        (self.stream, self.buf)
    }
}

/// A taken place in an endpoint's connection count, freed on drop.
#[derive(Debug)]
pub struct Slot(Rc<Cell<usize>>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

#[derive(Debug)]
pub struct Pool {
    idle: RefCell<Vec<Vec<UpConn>>>,
    open: Vec<Rc<Cell<usize>>>,
    max_idle: usize,
    max_per_endpoint: usize,
    idle_expiry: Duration,
    buffer_size: usize,
}

impl Pool {
    pub fn new(
        endpoints: usize,
        max_idle: usize,
        max_per_endpoint: usize,
        idle_expiry: Duration,
        buffer_size: usize,
    ) -> Pool {
        Pool {
            idle: RefCell::new((0..endpoints).map(|_| Vec::new()).collect()),
            open: (0..endpoints).map(|_| Rc::new(Cell::new(0))).collect(),
            max_idle,
            max_per_endpoint,
            idle_expiry,
            buffer_size,
        }
    }

    /// A pooled connection to `endpoint`, if one is idle and fresh.
    pub fn checkout(&self, endpoint: usize, now: Instant) -> Option<UpConn> {
        let mut idle = self.idle.borrow_mut();
        let stack = idle.get_mut(endpoint)?;
        while let Some(mut c) = stack.pop() {
            if now.saturating_duration_since(c.idle_since) < self.idle_expiry {
                c.reused = true;
                return Some(c);
            }
        }
        None
    }

    /// Whether another connection to `endpoint` may be opened (`pool.max_per_endpoint`).
    pub fn can_open(&self, endpoint: usize) -> bool {
        self.open
            .get(endpoint)
            .is_some_and(|n| n.get() < self.max_per_endpoint)
    }

    /// Wraps a freshly connected stream, counting it against the endpoint's limit.
    pub fn adopt(&self, stream: Stream, endpoint: usize, addr: SocketAddr, now: Instant) -> UpConn {
        let open = self.open[endpoint].clone();
        open.set(open.get() + 1);
        self.adopt_slot(stream, endpoint, addr, now, Slot(open))
    }

    /// Takes a place in the endpoint's connection count for a connection about to be
    /// opened, if the count is under `pool.max_per_endpoint`.
    pub fn try_slot(&self, endpoint: usize) -> Option<Slot> {
        let open = self.open.get(endpoint)?;
        if open.get() >= self.max_per_endpoint {
            return None;
        }
        open.set(open.get() + 1);
        Some(Slot(open.clone()))
    }

    /// Wraps a freshly connected stream that already holds its `slot`.
    pub fn adopt_slot(
        &self,
        stream: Stream,
        endpoint: usize,
        addr: SocketAddr,
        now: Instant,
        slot: Slot,
    ) -> UpConn {
        UpConn {
            stream,
            buf: BytesMut::with_capacity(self.buffer_size),
            endpoint,
            addr,
            reused: false,
            idle_since: now,
            _slot: slot,
        }
    }

    /// Returns a connection whose last exchange completed cleanly. Dropped instead when
    /// its buffer holds unread bytes (the upstream sent more than the response) or the
    /// idle stack is full.
    pub fn checkin(&self, mut conn: UpConn, now: Instant) {
        if !conn.buf.is_empty() {
            return;
        }
        let mut idle = self.idle.borrow_mut();
        let Some(stack) = idle.get_mut(conn.endpoint) else {
            return;
        };
        if stack.len() < self.max_idle {
            conn.idle_since = now;
            stack.push(conn);
        }
    }

    /// Closes idle connections older than `pool.idle_expiry` (housekeeping tick).
    pub fn expire(&self, now: Instant) {
        for stack in self.idle.borrow_mut().iter_mut() {
            stack.retain(|c| now.saturating_duration_since(c.idle_since) < self.idle_expiry);
        }
    }

    pub fn idle_count(&self) -> usize {
        self.idle.borrow().iter().map(Vec::len).sum()
    }
}
