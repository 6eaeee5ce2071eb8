//! A core's link to Redis for one config generation's limits: the queue of exchanges
//! that its shards handed over ([`RemoteExchange`]), and the task that sends them.
//!
//! A shard's exchange lands in [`RedisLink::exchange`], which only pushes it on the
//! queue and wakes the task ([`Reply::Pending`]), or answers [`Reply::Unavailable`] at
//! once while Redis is known down (or the queue is full), so the limit's policy applies
//! without a wait. The task ([`spawn`]) drains the queue in pipelined round trips of
//! `EVALSHA` and hands each answer, in order, to the generation's limits
//! ([`RateLimits::complete`]), `None` for what Redis did not answer.
//!
//! States of the link, as cells see them: *up* (or not yet tried): exchanges queue;
//! *down* (the last connection attempt failed): exchanges answer `Unavailable`. A round
//! trip that fails on an open connection drops the connection and fails that round
//! trip's exchanges, but is not "down" yet: the task reconnects at once, and only a
//! failed connection attempt marks the link down. While down it retries with back-off
//! (50 ms doubling to 1 s). Going down and coming back are logged once per process
//! (the first worker to see it), and every worker's state is in
//! `tollgate_ratelimit_redis_up`.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_filters::ratelimit::redis::{key_name, parse_reply, script_args};
use tollgate_filters::ratelimit::{
    unix_ms, Exchange, FailMode, Grant, LimitId, RateLimitConfig, RateLimits, RemoteExchange, Reply,
};
use tollgate_proto::resp::{Command, Value};

use super::conn::{Conn, ConnectTo, RedisError};
use super::metrics::RedisMetrics;
use crate::runtime::notify::Notify;

/// Exchanges a link queues at most; past it, exchanges answer `Unavailable` (a core
/// that cannot keep up with its keys applies the policy rather than grow a queue).
pub const MAX_QUEUED: usize = 65_536;
/// Exchanges per pipelined round trip.
pub const MAX_PIPELINE: usize = 256;
const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How often an idle task checks that its generation is still alive.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// Where to connect and how to name keys: `[rate_limits.redis]`, resolved.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub connect: ConnectTo,
    pub prefix: String,
    pub call_timeout: Duration,
}

impl RedisSettings {
    /// Resolves the config (reads `env:` secrets now).
    pub fn from_config(c: &tollgate_filters::ratelimit::RedisConfig) -> Result<Self, String> {
        use tollgate_filters::ratelimit::{parse_redis_address, resolve_secret};
        let addr = parse_redis_address(&c.address)?;
        let auth = match &c.password {
            Some(p) => Some((
                c.username.clone(),
                resolve_secret(p).map_err(|e| format!("rate_limits.redis.password: {e}"))?,
            )),
            None => None,
        };
        Ok(RedisSettings {
            connect: ConnectTo {
                addr,
                connect_timeout: Duration::from_millis(c.connect_timeout.0),
                auth,
            },
            prefix: c.prefix.clone(),
            call_timeout: Duration::from_millis(c.call_timeout.0),
        })
    }
}

/// What the link knows of one limit: its key names, and its policy (for metrics).
#[derive(Debug, Clone)]
pub struct LinkLimit {
    pub name: Box<str>,
    pub fail: FailMode,
}

impl LinkLimit {
    /// The limits of `cfg`, indexed like their [`LimitId`]s.
    pub fn all(cfg: &RateLimitConfig) -> Vec<LinkLimit> {
        cfg.limits
            .iter()
            .map(|l| LinkLimit {
                name: l.display_name().into(),
                fail: l.on_unavailable.unwrap_or(cfg.sync.on_unavailable),
            })
            .collect()
    }
}

/// One queued exchange, and then its answer.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub limit: LimitId,
    pub ex: Exchange,
    pub grant: Option<Grant>,
}

#[derive(Debug)]
pub struct RedisLink {
    settings: RedisSettings,
    limits: Box<[LinkLimit]>,
    queue: RefCell<Vec<Answer>>,
    /// Something was queued.
    wake: Notify,
    /// A round trip's answers were handed over (or failed).
    settled: Notify,
    /// Exchanges queued, and exchanges answered or failed, since the link was made.
    queued_seq: Cell<u64>,
    settled_seq: Cell<u64>,
    down: Cell<bool>,
    metrics: Arc<RedisMetrics>,
}

impl RedisLink {
    pub fn new(
        settings: RedisSettings,
        limits: Vec<LinkLimit>,
        metrics: Arc<RedisMetrics>,
    ) -> Rc<RedisLink> {
        Rc::new(RedisLink {
            settings,
            limits: limits.into(),
            queue: RefCell::new(Vec::new()),
            wake: Notify::default(),
            settled: Notify::default(),
            queued_seq: Cell::new(0),
            settled_seq: Cell::new(0),
            down: Cell::new(false),
            metrics,
        })
    }

    /// Whether the last connection attempt failed (exchanges answer `Unavailable`).
    pub fn is_down(&self) -> bool {
        self.down.get()
    }

    /// Exchanges queued so far: [`RedisLink::settled`] waits for this many to settle.
    pub fn queued_seq(&self) -> u64 {
        self.queued_seq.get()
    }

    /// Waits until the exchanges queued before `seq` was read have been answered (or
    /// failed), at most `max`. Returns whether they were.
    pub async fn settled(&self, seq: u64, max: Duration) -> bool {
        let deadline = Instant::now() + max;
        while self.settled_seq.get() < seq && !self.down.get() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = monoio::time::timeout(left, self.settled.notified()).await;
        }
        self.settled_seq.get() >= seq
    }

    /// The longest a request may wait for an exchange: a reconnection, then a round
    /// trip.
    pub fn max_wait(&self) -> Duration {
        self.settings.connect.connect_timeout + self.settings.call_timeout
    }

    fn fallback(&self, limit: LimitId) {
        let i = match self.limits.get(usize::from(limit.0)).map(|l| l.fail) {
            Some(FailMode::Open) => 0,
            _ => 1,
        };
        self.metrics.fallbacks[i].inc();
    }

    fn set_down(&self, err: &RedisError) {
        self.metrics.error(err.kind());
        self.metrics.set_up(false);
        if !self.down.replace(true) {
            let addr = self.settings.connect.addr;
            if DOWN_LINKS.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(%addr, error = %err, "rate-limit Redis is down: limits apply their on_unavailable policy");
            } else {
                tracing::debug!(%addr, error = %err, "rate-limit Redis is down (seen by another worker too)");
            }
        }
    }

    fn set_up(&self) {
        self.metrics.set_up(true);
        self.metrics.connects.inc();
        if self.down.replace(false) && DOWN_LINKS.fetch_sub(1, Ordering::Relaxed) == 1 {
            let addr = self.settings.connect.addr;
            tracing::info!(%addr, "rate-limit Redis is reachable again: limits are shared again");
        }
    }
}

/// Links that are down, in this process: the first to go down and the last to come
/// back log it, the others only at debug level.
static DOWN_LINKS: AtomicUsize = AtomicUsize::new(0);

impl Drop for RedisLink {
    fn drop(&mut self) {
        if self.down.get() {
            DOWN_LINKS.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl RemoteExchange for RedisLink {
    fn exchange(&self, limit: LimitId, ex: &Exchange) -> Reply {
        let mut q = self.queue.borrow_mut();
        if self.down.get() || q.len() >= MAX_QUEUED {
            self.fallback(limit);
            return Reply::Unavailable;
        }
        q.push(Answer {
            limit,
            ex: *ex,
            grant: None,
        });
        drop(q);
        self.queued_seq.set(self.queued_seq.get() + 1);
        self.wake.notify_all();
        Reply::Pending
    }
}

/// Starts the task that serves `link` for the generation `limits` on this core. It
/// ends once `limits` is dropped, after sending what the generation gave back.
pub fn spawn(link: Rc<RedisLink>, limits: Weak<RateLimits>) {
    monoio::spawn(run(link, move |answers: &[Answer]| {
        let Some(l) = limits.upgrade() else {
            return false;
        };
        let now = unix_ms();
        for a in answers {
            l.complete(a.limit, &a.ex, a.grant, now);
        }
        true
    }));
}

/// The task: `apply` takes each round trip's answers (and is called with none to ask
/// whether the target still lives: `false` ends the task).
pub async fn run(link: Rc<RedisLink>, mut apply: impl FnMut(&[Answer]) -> bool) {
    let mut conn: Option<Conn> = None;
    let mut sha = String::new();
    let mut retry_at = Instant::now();
    let mut backoff = BACKOFF_FIRST;
    let mut batch: Vec<Answer> = Vec::with_capacity(MAX_PIPELINE);
    let mut key = String::new();
    loop {
        let alive = apply(&[]);
        if !alive && link.queue.borrow().is_empty() {
            return;
        }
        if conn.is_none() && Instant::now() >= retry_at {
            match Conn::open(&link.settings.connect).await {
                Ok(c) => {
                    sha.clone_from(&c.sha);
                    conn = Some(c);
                    link.set_up();
                    backoff = BACKOFF_FIRST;
                }
                Err(e) => {
                    link.set_down(&e);
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    // Nothing queues while down; fail what was queued before.
                    fail_queued(&link, &mut batch, &mut apply);
                }
            }
        }
        let queued = !link.queue.borrow().is_empty();
        if !alive && (!queued || conn.is_none()) {
            return;
        }
        let Some(c) = conn.as_mut().filter(|_| queued) else {
            let wait = if conn.is_none() {
                retry_at.saturating_duration_since(Instant::now())
            } else {
                IDLE_CHECK
            };
            monoio::select! {
                _ = link.wake.notified() => {}
                _ = monoio::time::sleep(wait) => {}
            }
            continue;
        };
        {
            let mut q = link.queue.borrow_mut();
            let n = q.len().min(MAX_PIPELINE);
            batch.extend(q.drain(..n));
        }
        let result = round_trip(c, &link, &sha, &mut batch, &mut key).await;
        // Replies read before a failure are answers all the same; the rest stay `None`.
        if let Err(e) = result {
            link.metrics.error(e.kind());
            tracing::debug!(error = %e, "rate-limit Redis round trip failed; reconnecting");
            conn = None;
        }
        settle(&link, &mut batch, &mut apply);
    }
}

/// Hands a round trip's answers over and wakes whoever waits for them.
fn settle(link: &RedisLink, batch: &mut Vec<Answer>, apply: &mut impl FnMut(&[Answer]) -> bool) {
    for a in batch.iter().filter(|a| a.grant.is_none()) {
        link.fallback(a.limit);
    }
    apply(batch);
    link.settled_seq
        .set(link.settled_seq.get() + batch.len() as u64);
    batch.clear();
    link.settled.notify_all();
}

fn fail_queued(
    link: &RedisLink,
    batch: &mut Vec<Answer>,
    apply: &mut impl FnMut(&[Answer]) -> bool,
) {
    loop {
        {
            let mut q = link.queue.borrow_mut();
            if q.is_empty() {
                return;
            }
            batch.extend(q.drain(..));
        }
        // Completing may queue again (debt pushed at once); the link is down now, so
        // those answer `Unavailable` and the loop ends.
        settle(link, batch, apply);
    }
}

/// Sends `batch` as one pipeline and fills in each grant. A reply `NOSCRIPT` (Redis
/// lost its script cache: a restart or `SCRIPT FLUSH`) loads the script again and sends
/// those exchanges once more; they had not run.
async fn round_trip(
    c: &mut Conn,
    link: &RedisLink,
    sha: &str,
    batch: &mut [Answer],
    key: &mut String,
) -> Result<(), RedisError> {
    let mut todo: Vec<usize> = (0..batch.len()).collect();
    for attempt in 0..2 {
        for &i in &todo {
            encode(c.out(), link, sha, &batch[i], key);
        }
        link.metrics.calls.add(todo.len() as u64);
        let mut noscript = Vec::new();
        let metrics = &link.metrics;
        c.round_trip(todo.len(), link.settings.call_timeout, |n, v| {
            let a = &mut batch[todo[n]];
            a.grant = read_grant(&a.ex, v);
            if v.is_error_code(b"NOSCRIPT") {
                noscript.push(todo[n]);
            } else if a.grant.is_none() {
                metrics.error("reply");
                tracing::debug!(reply = ?v, "rate-limit Redis refused an exchange");
            }
        })
        .await?;
        if noscript.is_empty() {
            break;
        }
        link.metrics.error("noscript");
        if attempt == 0 {
            c.reload_script(link.settings.call_timeout).await?;
        }
        todo = noscript;
    }
    Ok(())
}

/// `EVALSHA sha numkeys key [prev_key] limit returned charged want expire_at prev_returned`.
fn encode(out: &mut Vec<u8>, link: &RedisLink, sha: &str, a: &Answer, key: &mut String) {
    let name = link
        .limits
        .get(usize::from(a.limit.0))
        .map_or("unknown", |l| &l.name);
    let prefix = &link.settings.prefix;
    let two = a.ex.spans_prev && a.ex.epoch > 0;
    let nkeys: usize = if two { 2 } else { 1 };
    let mut cmd = Command::new(out, 3 + nkeys + 6)
        .arg(b"EVALSHA")
        .arg(sha.as_bytes())
        .int(nkeys as i64);
    key_name(key, prefix, name, a.ex.key, a.ex.epoch);
    cmd = cmd.arg(key.as_bytes());
    if two {
        key_name(key, prefix, name, a.ex.key, a.ex.epoch - 1);
        cmd = cmd.arg(key.as_bytes());
    }
    for v in script_args(&a.ex) {
        cmd = cmd.int(v);
    }
    cmd.finish();
}

/// The script's `{granted, taken}`, as the answer to `ex`.
fn read_grant(ex: &Exchange, v: &Value<'_>) -> Option<Grant> {
    match v {
        Value::Array(items) if items.len() == 2 => {
            parse_reply(ex, items[0].as_int()?, items[1].as_int()?)
        }
        _ => None,
    }
}
