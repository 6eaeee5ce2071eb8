//! One load worker thread: its connections, its share of the request budget and the rate,
//! and its [`Recorder`].
//!
//! Closed loop: each connection sends its next request as soon as the previous answer is
//! complete. Open loop: send times are fixed in advance (`start + i / rate`); an idle
//! connection takes the next slot, waits for it, and sends. Latency counts from the
//! intended time, so a stalled server cannot hide its stall by slowing the sender
//! (coordinated omission, as wrk2 corrects it). When a slot is already late and every
//! connection is busy, another connection is opened, up to this worker's share of `-c`.
//!
//! TLS: every HTTP/1.1 connection has a [`Connector`] (a session cache) of its own, like
//! a separate client that reconnects: with `--close` each handshake after its first
//! resumes the session of its previous one (a cache shared by many connections would run
//! out of single-use TLS 1.3 tickets when they reconnect together). The HTTP/2
//! connections of a worker share one connector.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::Client;
use super::h2client::{H2Conn, H2Template};
use super::live::LiveSlot;
use super::recorder::{record_us, ErrorKind, Recorder};
use crate::tls::client::{Connector, TlsPlan};

/// This worker's share of the run.
#[derive(Debug, Clone)]
pub struct Share {
    /// Worker index.
    pub index: usize,
    /// Connections (closed loop) or the most it may open (open loop).
    pub connections: usize,
    /// Requests it may send (`u64::MAX`: no count limit).
    pub requests: u64,
    /// Its share of the open-loop rate.
    pub rate: Option<f64>,
}

/// What all workers share, read-only.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where to connect.
    pub addr: std::net::SocketAddr,
    /// The requests to rotate through.
    pub requests: Vec<Vec<u8>>,
    /// The method is HEAD (responses have no body).
    pub head: bool,
    /// Run start.
    pub start: Instant,
    /// When sending stops (`None`: only the count limits).
    pub end: Option<Instant>,
    /// Per-request time limit.
    pub timeout: Duration,
    /// Grace after `end`.
    pub drain: Duration,
    /// Live counters.
    pub live: Arc<Vec<LiveSlot>>,
    /// HTTP/2: the request template (`None`: HTTP/1.1).
    pub h2: Option<H2Template>,
    /// HTTP/2: concurrent streams per connection.
    pub streams: usize,
    /// TLS (`https://`).
    pub tls: Option<TlsPlan>,
}

/// A task's way to the server: its own HTTP/1.1 connection, or a stream slot on a shared
/// HTTP/2 connection.
enum Conn {
    H1(Client),
    H2(Rc<H2Conn>),
}

struct Ctx {
    plan: Plan,
    share: Share,
    bodies: Vec<bytes::Bytes>,
    rec: RefCell<Recorder>,
    taken: Cell<u64>,
    rotate: Cell<usize>,
    tasks: Cell<usize>,
    h2_conns: Vec<Rc<H2Conn>>,
    /// TLS for the HTTP/2 connections (HTTP/1.1 clients have their own).
    tls: Option<Connector>,
}

impl Ctx {
    fn take_ticket(&self) -> bool {
        let t = self.taken.get();
        if t >= self.share.requests || self.plan.end.is_some_and(|e| Instant::now() >= e) {
            return false;
        }
        self.taken.set(t + 1);
        true
    }

    fn next_index(&self) -> usize {
        let i = self.rotate.get();
        self.rotate.set(i.wrapping_add(1));
        i
    }

    /// Task `n`'s connection: HTTP/2 tasks share connections round-robin.
    fn conn_for(&self, n: usize) -> Conn {
        if self.h2_conns.is_empty() {
            Conn::H1(Client::new(self.plan.tls.as_ref().map(Connector::new)))
        } else {
            Conn::H2(self.h2_conns[n % self.h2_conns.len()].clone())
        }
    }

    /// Most concurrent tasks: connections, times streams for HTTP/2.
    fn max_tasks(&self) -> usize {
        if self.plan.h2.is_some() {
            self.share.connections * self.plan.streams.max(1)
        } else {
            self.share.connections
        }
    }

    fn second(&self) -> usize {
        self.plan.start.elapsed().as_secs() as usize
    }
}

/// Runs this worker's share to the end and returns its figures.
pub async fn run(plan: Plan, share: Share) -> Recorder {
    let bodies = plan
        .requests
        .iter()
        .map(|r| bytes::Bytes::from(r.clone()))
        .collect();
    let h2_conns = if plan.h2.is_some() {
        (0..share.connections).map(|_| H2Conn::new()).collect()
    } else {
        Vec::new()
    };
    let tls = plan
        .tls
        .as_ref()
        .filter(|_| plan.h2.is_some())
        .map(Connector::new);
    let ctx = Rc::new(Ctx {
        tls,
        plan,
        share,
        bodies,
        rec: RefCell::new(Recorder::default()),
        taken: Cell::new(0),
        rotate: Cell::new(0),
        tasks: Cell::new(0),
        h2_conns,
    });
    if let Some(rate) = ctx.share.rate {
        let sched = Rc::new(Schedule {
            next: Cell::new(0),
            interval: Duration::from_secs_f64(1.0 / rate),
        });
        if ctx.max_tasks() > 0 {
            ctx.tasks.set(1);
            monoio::spawn(open_conn(ctx.clone(), sched, ctx.conn_for(0)));
        }
    } else {
        let n = ctx.max_tasks();
        ctx.tasks.set(n);
        for i in 0..n {
            monoio::spawn(closed_conn(ctx.clone(), ctx.conn_for(i)));
        }
    }
    // Every task is bounded (count, duration + drain, per-request timeout), so this ends.
    while ctx.tasks.get() > 0 {
        monoio::time::sleep(Duration::from_millis(2)).await;
    }
    let rec = ctx.rec.borrow().clone();
    rec
}

/// Counts a connection task down when it ends.
struct TaskGuard(Rc<Ctx>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.tasks.set(self.0.tasks.get().saturating_sub(1));
    }
}

async fn closed_conn(ctx: Rc<Ctx>, mut client: Conn) {
    let _guard = TaskGuard(ctx.clone());
    while ctx.take_ticket() {
        let t0 = Instant::now();
        one(&ctx, &mut client, t0, t0).await;
    }
}

struct Schedule {
    next: Cell<u64>,
    interval: Duration,
}

async fn open_conn(ctx: Rc<Ctx>, sched: Rc<Schedule>, mut client: Conn) {
    let _guard = TaskGuard(ctx.clone());
    loop {
        let i = sched.next.get();
        let offset = sched
            .interval
            .checked_mul(u32::try_from(i).unwrap_or(u32::MAX));
        let Some(intended) = offset.and_then(|o| ctx.plan.start.checked_add(o)) else {
            return;
        };
        let over = |e: Instant| intended >= e || Instant::now() >= e;
        if i >= ctx.share.requests || ctx.plan.end.is_some_and(over) {
            return;
        }
        sched.next.set(i + 1);
        let now = Instant::now();
        if intended > now {
            // The timer wheel has millisecond ticks and rounds up: wake up to 1 ms early
            // rather than late, and send at once.
            let wait = intended - now;
            if wait > Duration::from_millis(1) {
                monoio::time::sleep(wait - Duration::from_millis(1)).await;
            }
        } else if now - intended > Duration::from_millis(1) && ctx.tasks.get() < ctx.max_tasks() {
            // Behind schedule with every connection busy: open one more.
            let n = ctx.tasks.get();
            ctx.tasks.set(n + 1);
            monoio::spawn(open_conn(ctx.clone(), sched.clone(), ctx.conn_for(n)));
        }
        let sent_at = Instant::now();
        let lag = sent_at.saturating_duration_since(intended);
        {
            let mut rec = ctx.rec.borrow_mut();
            if lag > Duration::from_millis(1) {
                rec.late_sends += 1;
            }
            rec.max_lag_us = rec.max_lag_us.max(lag.as_micros() as u64);
        }
        ctx.taken.set(ctx.taken.get() + 1);
        // Early (timer slack): count from the actual send; late: from the intended time.
        one(&ctx, &mut client, intended.min(sent_at), sent_at).await;
    }
}

/// One request on `client`: `origin` is where latency counts from, `sent_at` when it went.
async fn one(ctx: &Ctx, client: &mut Conn, origin: Instant, sent_at: Instant) {
    let p = &ctx.plan;
    ctx.rec.borrow_mut().sent += 1;
    p.live[ctx.share.index].sent();
    let run_limit = p.end.map(|e| e + p.drain);
    let own_limit = sent_at + p.timeout;
    let (deadline, limit_kind) = match run_limit {
        Some(r) if r < own_limit => (r, ErrorKind::Unfinished),
        _ => (own_limit, ErrorKind::Timeout),
    };
    let i = ctx.next_index();
    let work = async {
        match (&mut *client, &p.h2) {
            (Conn::H2(conn), Some(tpl)) => {
                let tls = ctx.tls.as_ref();
                conn.exchange(p.addr, tls, tpl, i, origin, &ctx.rec).await
            }
            (Conn::H1(c), _) => {
                c.ensure_connected(p.addr, &ctx.rec).await?;
                let req = ctx.bodies[i % ctx.bodies.len()].clone();
                c.exchange(req, p.head, origin, &ctx.rec).await
            }
            (Conn::H2(_), None) => Err(ErrorKind::Parse),
        }
    };
    let wait = deadline.saturating_duration_since(Instant::now());
    let outcome = match monoio::time::timeout(wait, work).await {
        Ok(r) => r,
        Err(_) => Err(limit_kind),
    };
    if let Err(ErrorKind::Connect | ErrorKind::Tls) = outcome {
        // Do not spin on a refused port or a failing handshake: a closed loop would turn
        // it into millions of errors a second.
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
    record(ctx, client, outcome, origin, sent_at);
}

fn record(
    ctx: &Ctx,
    client: &mut Conn,
    outcome: Result<super::client::Response, ErrorKind>,
    origin: Instant,
    sent_at: Instant,
) {
    let p = &ctx.plan;
    let second = ctx.second();
    let mut rec = ctx.rec.borrow_mut();
    match outcome {
        Ok(resp) => {
            let now = Instant::now();
            record_us(&mut rec.latency, now - origin);
            if ctx.share.rate.is_some() {
                record_us(&mut rec.service, now - sent_at);
            }
            record_us(&mut rec.ttfb, resp.ttfb);
            *rec.status.entry(resp.status).or_default() += 1;
            rec.body_bytes += resp.body_bytes;
            let mut kind = match resp.status {
                400..=499 => Some(ErrorKind::Status4xx),
                500..=599 => Some(ErrorKind::Status5xx),
                _ => None,
            };
            if let Some(f) = &resp.stream {
                rec.stream(f, resp.ttfb, resp.body_bytes);
                if f.error_event && kind.is_none() {
                    kind = Some(ErrorKind::StreamError);
                }
            }
            match kind {
                Some(k) => {
                    rec.error(k, second);
                    p.live[ctx.share.index].error();
                }
                None => {
                    rec.success(second);
                    p.live[ctx.share.index].ok();
                }
            }
        }
        Err(kind) => {
            // An HTTP/1.1 connection in an unknown state is dropped; an HTTP/2 connection
            // outlives a failed stream (its driver task drops it when it really fails).
            if let Conn::H1(c) = client {
                c.disconnect();
            }
            rec.error(kind, second);
            p.live[ctx.share.index].error();
        }
    }
}
