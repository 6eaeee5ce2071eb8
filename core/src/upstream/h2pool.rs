//! Per-core pool of HTTP/2 connections to a cluster's endpoints (`protocol = "h2"`,
//! `"h2c"`, and the connections of an `"auto"` cluster whose endpoint chose `h2`).
//!
//! One connection multiplexes many requests, one stream each: a request leases a
//! stream on the first live connection of its endpoint with room, where room is the
//! smaller of `http2.max_concurrent_streams` and the endpoint's own
//! SETTINGS_MAX_CONCURRENT_STREAMS (known before the connection is pooled, see
//! `h2/client.rs`). When every connection is full another is opened, within
//! `pool.max_per_endpoint` (the count the HTTP/1.1 pool uses too); at that limit a
//! request queues on the least busy connection, where h2 holds its stream until one
//! ends (bounded by `first_byte_timeout`).
//!
//! Requests that find no room while a connection is being opened wait for that one
//! (up to as many as it will take) instead of each opening their own: a burst of N
//! requests on a cold pool opens one connection, not N. A connect whose request goes
//! away (the client left) hands the job to its waiters.
//!
//! A connection leaves the pool when its task saw it end (GOAWAY, I/O or protocol
//! error), when opening a stream on it failed, or after `pool.idle_expiry` without a
//! stream (housekeeping tick). Dropping the pool's handle lets h2 close it with GOAWAY
//! once its last stream is done.
//!
//! Reuse is keyed by endpoint alone: the SNI name and ALPN offer are fixed per endpoint
//! for a config generation, and a reload builds new pools (see `tls/client.rs`).

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;

use super::connect::{self, ConnectError};
use super::pool::{Slot, UpConn};
use super::Cluster;
use crate::config::{Http2Io, Protocol};
use crate::h2::client::{handshake, ConnState};
use crate::runtime::notify::Notify;
use crate::tls::client::negotiated_h2;

/// One pooled HTTP/2 connection.
#[derive(Debug)]
struct H2Conn {
    send: SendRequest<Bytes>,
    state: Rc<ConnState>,
    /// Streams leased now.
    active: Cell<usize>,
    idle_since: Cell<Instant>,
    addr: SocketAddr,
    _slot: Slot,
}

impl H2Conn {
    fn live(&self) -> bool {
        !self.state.closed.get()
    }

    fn has_room(&self, max: usize) -> bool {
        self.active.get() < max.min(self.send.current_max_send_streams())
    }
}

/// A stream's place on a pooled connection: holds the connection open and counts
/// against its streams until dropped.
#[derive(Debug)]
pub struct H2Lease {
    conn: Rc<H2Conn>,
    /// This request's handle to open its stream.
    pub send: SendRequest<Bytes>,
    /// The connection served requests before this one.
    pub reused: bool,
}

impl H2Lease {
    pub fn addr(&self) -> SocketAddr {
        self.conn.addr
    }

    /// Opening a stream failed: the connection is going away or gone, so no request
    /// is sent on it again.
    pub fn mark_closed(&self) {
        self.conn.state.closed.set(true);
    }
}

impl Drop for H2Lease {
    fn drop(&mut self) {
        let n = self.conn.active.get().saturating_sub(1);
        self.conn.active.set(n);
        if n == 0 {
            self.conn.idle_since.set(Instant::now());
        }
    }
}

/// How a connect that others waited on ended.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// Pooled: lease from it.
    Ready,
    /// The endpoint of an `auto` cluster chose HTTP/1.1: each waiter opens its own.
    Http1,
    Failed(ConnectError),
    /// The connecting request went away before the end; a waiter takes over.
    Abandoned,
}

#[derive(Debug, Default)]
struct Pending {
    waiters: Cell<usize>,
    outcome: Cell<Option<Outcome>>,
    done: Notify,
}

/// The connect in progress, from its registration to its outcome; dropped early (the
/// connecting request was cancelled) it tells the waiters it was abandoned.
struct Connecting<'a> {
    pool: &'a H2Pool,
    ep: usize,
    pending: Rc<Pending>,
}

impl Connecting<'_> {
    fn finish(self, outcome: Outcome) {
        self.pending.outcome.set(Some(outcome));
        // Drop runs next: it unregisters and wakes the waiters.
    }
}

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        if self.pending.outcome.get().is_none() {
            self.pending.outcome.set(Some(Outcome::Abandoned));
        }
        if let Some(e) = self.pool.eps.borrow_mut().get_mut(self.ep) {
            e.pending.retain(|p| !Rc::ptr_eq(p, &self.pending));
        }
        self.pending.done.notify_all();
    }
}

#[derive(Debug, Default)]
struct Endpoint {
    conns: Vec<Rc<H2Conn>>,
    pending: Vec<Rc<Pending>>,
}

#[derive(Debug)]
pub struct H2Pool {
    eps: RefCell<Vec<Endpoint>>,
    /// `http2.max_concurrent_streams`.
    max_streams: usize,
    idle_expiry: Duration,
}

/// A connection for one request.
#[derive(Debug)]
pub enum Acquired {
    H2(H2Lease),
    /// An `auto` cluster's endpoint speaks HTTP/1.1 on this connection.
    H1(UpConn),
}

/// Why no connection could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquireError {
    Connect(ConnectError),
    /// The endpoint's connection limit is taken by connections that are not HTTP/2.
    PoolFull,
}

impl H2Pool {
    pub fn new(endpoints: usize, max_streams: u32, idle_expiry: Duration) -> H2Pool {
        H2Pool {
            eps: RefCell::new((0..endpoints).map(|_| Endpoint::default()).collect()),
            max_streams: (max_streams as usize).max(1),
            idle_expiry,
        }
    }

    /// A stream on a live connection to `ep`: one with room, or with `queue` the least
    /// busy one.
    fn lease(&self, ep: usize, queue: bool) -> Option<H2Lease> {
        let mut eps = self.eps.borrow_mut();
        let e = eps.get_mut(ep)?;
        e.conns.retain(|c| c.live());
        let conn = if queue {
            e.conns.iter().min_by_key(|c| c.active.get())
        } else {
            e.conns.iter().find(|c| c.has_room(self.max_streams))
        }?
        .clone();
        conn.active.set(conn.active.get() + 1);
        Some(H2Lease {
            send: conn.send.clone(),
            conn,
            reused: true,
        })
    }

    /// A connect in progress to `ep` that can take one more waiter.
    fn joinable(&self, ep: usize) -> Option<Rc<Pending>> {
        let eps = self.eps.borrow();
        eps.get(ep)?
            .pending
            .iter()
            .find(|p| p.outcome.get().is_none() && p.waiters.get() < self.max_streams)
            .cloned()
    }

    fn register(&self, ep: usize) -> Connecting<'_> {
        let pending = Rc::new(Pending::default());
        if let Some(e) = self.eps.borrow_mut().get_mut(ep) {
            e.pending.push(pending.clone());
        }
        Connecting {
            pool: self,
            ep,
            pending,
        }
    }

    fn insert(&self, ep: usize, conn: Rc<H2Conn>) {
        if let Some(e) = self.eps.borrow_mut().get_mut(ep) {
            e.conns.push(conn);
        }
    }

    /// Drops dead connections, and idle ones older than `pool.idle_expiry`
    /// (housekeeping tick).
    pub fn expire(&self, now: Instant) {
        for e in self.eps.borrow_mut().iter_mut() {
            e.conns.retain(|c| {
                c.live()
                    && (c.active.get() > 0
                        || now.saturating_duration_since(c.idle_since.get()) < self.idle_expiry)
            });
        }
    }

    /// Live connections to `ep` (for tests and status).
    pub fn connections(&self, ep: usize) -> usize {
        self.eps
            .borrow()
            .get(ep)
            .map_or(0, |e| e.conns.iter().filter(|c| c.live()).count())
    }
}

/// A connection for one request to endpoint `ep` at `addr` of an HTTP/2 (or `auto`)
/// cluster; see the module doc. Connect failures are counted and reported to passive
/// health here, as in `connect.rs`.
pub async fn acquire(
    cluster: &Cluster,
    ep: usize,
    addr: SocketAddr,
    io: Http2Io,
    buffer_size: usize,
) -> Result<Acquired, AcquireError> {
    let pool = &cluster.h2;
    let auto = cluster.cfg.protocol == Protocol::Auto;
    loop {
        if let Some(l) = pool.lease(ep, false) {
            cluster.metrics.reuses.inc();
            return Ok(Acquired::H2(l));
        }
        if let Some(p) = pool.joinable(ep) {
            let outcome = {
                // Counted while waiting, also when the request goes away meanwhile.
                let _waiting = Waiting::new(&p);
                wait(&p).await
            };
            match outcome {
                Outcome::Failed(e) => return Err(AcquireError::Connect(e)),
                // Ready: lease from it; the others: try again from the top.
                Outcome::Ready | Outcome::Http1 | Outcome::Abandoned => {}
            }
            // An endpoint that answers HTTP/1.1 gets no more waiters' connects
            // funnelled through one: each opens its own below.
            if !matches!(outcome, Outcome::Http1) {
                continue;
            }
        }
        if auto {
            if let Some(c) = cluster.pool.checkout(ep, Instant::now()) {
                cluster.metrics.reuses.inc();
                return Ok(Acquired::H1(c));
            }
        }
        if let Some(slot) = cluster.pool.try_slot(ep) {
            let connecting = pool.register(ep);
            match open(cluster, ep, addr, io, buffer_size, slot).await {
                Ok(Opened::H2(conn)) => {
                    cluster.metrics.connects.inc();
                    pool.insert(ep, conn.clone());
                    connecting.finish(Outcome::Ready);
                    conn.active.set(conn.active.get() + 1);
                    return Ok(Acquired::H2(H2Lease {
                        send: conn.send.clone(),
                        conn,
                        reused: false,
                    }));
                }
                Ok(Opened::H1(up)) => {
                    cluster.metrics.connects.inc();
                    connecting.finish(Outcome::Http1);
                    return Ok(Acquired::H1(up));
                }
                Err(e) => {
                    connecting.finish(Outcome::Failed(e));
                    return Err(AcquireError::Connect(e));
                }
            }
        }
        // At the connection limit: queue on the least busy connection.
        return match pool.lease(ep, true) {
            Some(l) => {
                cluster.metrics.reuses.inc();
                Ok(Acquired::H2(l))
            }
            None => Err(AcquireError::PoolFull),
        };
    }
}

/// One request's place among a connect's waiters, given back on drop.
struct Waiting<'a>(&'a Pending);

impl<'a> Waiting<'a> {
    fn new(p: &'a Pending) -> Waiting<'a> {
        p.waiters.set(p.waiters.get() + 1);
        Waiting(p)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiters.set(self.0.waiters.get().saturating_sub(1));
    }
}

/// Waits for a connect in progress to end. The connect is bounded by the cluster's
/// `connect_timeout`, and its guard reports an abandoned one, so this ends too.
async fn wait(p: &Pending) -> Outcome {
    loop {
        if let Some(o) = p.outcome.get() {
            return o;
        }
        p.done.notified().await;
    }
}

enum Opened {
    H2(Rc<H2Conn>),
    H1(UpConn),
}

/// A new connection: TCP (and TLS), then the HTTP/2 handshake unless an `auto`
/// cluster's endpoint chose HTTP/1.1, all within `connect_timeout`.
async fn open(
    cluster: &Cluster,
    ep: usize,
    addr: SocketAddr,
    io: Http2Io,
    buffer_size: usize,
    slot: Slot,
) -> Result<Opened, ConnectError> {
    let limit = cluster.connect_timeout();
    let deadline = Instant::now() + limit;
    let stream = connect::open(cluster, ep, addr, limit).await?;
    if cluster.cfg.protocol == Protocol::Auto && !negotiated_h2(&stream) {
        let up = cluster
            .pool
            .adopt_slot(stream, ep, addr, Instant::now(), slot);
        return Ok(Opened::H1(up));
    }
    let left = deadline.saturating_duration_since(Instant::now());
    match handshake(
        stream,
        &cluster.cfg.http2,
        io,
        buffer_size,
        left.max(Duration::from_millis(1)),
        cluster.label.clone(),
    )
    .await
    {
        Ok((send, state)) => Ok(Opened::H2(Rc::new(H2Conn {
            send,
            state,
            active: Cell::new(0),
            idle_since: Cell::new(Instant::now()),
            addr,
            _slot: slot,
        }))),
        Err(e) => {
            cluster.metrics.connect_failures.inc();
            cluster.report_failure(ep, Instant::now());
            tracing::warn!(cluster = %cluster.name, %addr, error = %e, "upstream HTTP/2 handshake failed");
            Err(match e {
                crate::h2::client::HandshakeError::Timeout => {
                    cluster.metrics.timeouts.inc();
                    ConnectError::Timeout
                }
                _ => ConnectError::Failed,
            })
        }
    }
}
