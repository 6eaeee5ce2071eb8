//! One limit on one core: the keys this core has seen, each with its [`Bucket`], and the
//! rules for when to exchange with the [`SharedCell`].
//!
//! A core exchanges for a key only (1) when its allowance cannot cover a request, (2) on
//! its timer, at most once per sync interval, while the key holds allowance, debt or
//! unmet demand, (3) at once when a charge drives the key's balance below zero, and (4)
//! when the key leaves the map. Never otherwise: an admission from the allowance is a
//! comparison and a subtraction on this core's memory. A key that was refused because
//! the budget ran out is not exchanged again before a sync interval has passed.
//!
//! Memory: at most `max_keys_per_core` keys (least recently used evicted first), and a
//! key untouched for `idle_ttl_ms` is dropped on the timer. A key leaving gives its
//! allowance back and pushes its debt first; a ticket settled after its key left simply
//! finds a fresh bucket, which gives the refund back on the next tick.

use super::bucket::Bucket;
use super::cell::{Exchange, Grant, Reply, SharedCell};
use super::key::LimitKey;
use super::lru::LruMap;
use super::spec::{Denial, DenyReason, FailMode, LimitSpec, Quota};

/// Keys expired per tick at most, so a tick stays short after a burst of keys.
const EXPIRE_PER_TICK: usize = 256;
/// `Retry-After` of a concurrency limit: permits come back when requests end, which
/// nobody can predict.
const CONCURRENT_RETRY_MS: u64 = 1_000;

/// Counters for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShardStats {
    pub admitted: u64,
    pub refused: u64,
    pub exchanges: u64,
    pub unavailable: u64,
    pub evicted: u64,
    pub expired: u64,
}

/// An admission: the window its cost was taken from (settle against it) and the quota
/// for the response's `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    pub epoch: u64,
    pub quota: Quota,
}

#[derive(Debug)]
pub struct Shard<C> {
    spec: LimitSpec,
    cell: C,
    buckets: LruMap<Bucket>,
    dirty: Vec<LimitKey>,
    stats: ShardStats,
}

impl<C: SharedCell> Shard<C> {
    pub fn new(spec: LimitSpec, cell: C) -> Shard<C> {
        Shard {
            spec,
            cell,
            buckets: LruMap::new(),
            dirty: Vec::new(),
            stats: ShardStats::default(),
        }
    }

    pub fn spec(&self) -> &LimitSpec {
        &self.spec
    }
    pub fn stats(&self) -> ShardStats {
        self.stats
    }
    pub fn keys(&self) -> usize {
        self.buckets.len()
    }

    /// Admits `cost` units for `key` at `now`, or says why not. A cost of 0 (a token
    /// limit that reserves nothing) passes while the key's budget is not spent.
    pub fn admit(&mut self, key: LimitKey, cost: i64, now: u64) -> Result<Admitted, Denial> {
        let cost = cost.max(0);
        let spec = &self.spec;
        if cost > spec.limit {
            self.stats.refused += 1;
            let quota = quota(spec, None, now);
            return Err(deny(
                spec,
                DenyReason::TooLarge,
                quota,
                quota.reset_after_ms,
            ));
        }
        let Shard {
            spec,
            cell,
            buckets,
            dirty,
            stats,
        } = self;
        let b = bucket(spec, cell, stats, buckets, key, now);
        b.demand = b.demand.saturating_add(cost.max(1));
        mark_dirty(b, key, dirty);
        if !b.try_take(spec, cost) {
            let recent = now.saturating_sub(b.last_exchange) < spec.sync_interval_ms;
            let spent = b.starved || b.negative(spec);
            // Not while an exchange is out, nor again within an interval of one that
            // found the budget spent.
            let wait = b.in_flight || (spent && recent);
            if !wait {
                exchange(spec, cell, stats, b, key, now, cost);
            }
            if !b.try_take(spec, cost) && !credit(spec, b, cost) {
                stats.refused += 1;
                return Err(refusal(spec, b, now));
            }
        }
        stats.admitted += 1;
        Ok(Admitted {
            epoch: b.epoch,
            quota: quota(spec, Some(b), now),
        })
    }

    /// Settles an admission of `reserved` units in window `epoch` to its real cost
    /// `actual` (0 releases a concurrency permit or rolls back an admission).
    pub fn settle(&mut self, key: LimitKey, epoch: u64, reserved: i64, actual: i64, now: u64) {
        self.apply_charge(key, epoch, actual.saturating_sub(reserved), now);
    }

    /// Charges `amount` units known only after the fact (negative: refunds) to `key`.
    pub fn charge(&mut self, key: LimitKey, amount: i64, now: u64) {
        let epoch = self.spec.epoch(now);
        self.apply_charge(key, epoch, amount, now);
    }

    fn apply_charge(&mut self, key: LimitKey, epoch: u64, amount: i64, now: u64) {
        if amount == 0 {
            return;
        }
        let Shard {
            spec,
            cell,
            buckets,
            dirty,
            stats,
        } = self;
        let b = bucket(spec, cell, stats, buckets, key, now);
        mark_dirty(b, key, dirty);
        if b.charge(spec, epoch, amount) && !b.in_flight {
            exchange(spec, cell, stats, b, key, now, 0);
        }
    }

    /// The timer, every sync interval: reconcile the keys that hold allowance, debt or
    /// unmet demand, and drop keys idle for `idle_ttl_ms`.
    pub fn tick(&mut self, now: u64) {
        let Shard {
            spec,
            cell,
            buckets,
            dirty,
            stats,
        } = self;
        let mut i = 0;
        while i < dirty.len() {
            let key = dirty[i];
            // A key that left the map, or a leftover entry of a key that is clean.
            let Some(b) = buckets.get_mut(key).filter(|b| b.dirty) else {
                dirty.swap_remove(i);
                continue;
            };
            b.roll(spec, spec.epoch(now));
            let due = now.saturating_sub(b.last_exchange) >= spec.sync_interval_ms;
            if due && !b.in_flight && b.needs_visit() {
                exchange(spec, cell, stats, b, key, now, 0);
            }
            if b.needs_visit() {
                i += 1;
            } else {
                b.dirty = false;
                dirty.swap_remove(i);
            }
        }
        for _ in 0..EXPIRE_PER_TICK {
            match buckets.oldest() {
                Some((key, b)) if now.saturating_sub(b.last_use) >= spec.idle_ttl_ms => {
                    flush(spec, cell, stats, b, key, now);
                    buckets.remove(key);
                    stats.expired += 1;
                }
                _ => break,
            }
        }
    }

    /// Whether an exchange for `key` is out (a remote cell's round trip): a refusal of
    /// a fail-closed limit may turn into an admission once it is answered, so a caller
    /// that can wait for the answer may ask again then.
    pub fn awaiting(&mut self, key: LimitKey) -> bool {
        self.buckets.get_mut(key).is_some_and(|b| b.in_flight)
    }

    /// Gives back everything this core holds for every key, and forgets the keys: the
    /// shard is being replaced (a new config generation) or dropped.
    pub fn release_all(&mut self, now: u64) {
        let Shard {
            spec,
            cell,
            buckets,
            dirty,
            stats,
        } = self;
        while let Some((key, b)) = buckets.oldest() {
            flush(spec, cell, stats, b, key, now);
            buckets.remove(key);
        }
        dirty.clear();
    }

    /// The answer to an exchange that a remote cell took as [`Reply::Pending`]; `None`
    /// when the store could not answer. Debt charged while the exchange was out is
    /// pushed at once.
    pub fn complete(&mut self, ex: &Exchange, grant: Option<Grant>, now: u64) {
        let Shard {
            spec,
            cell,
            buckets,
            stats,
            ..
        } = self;
        // A key evicted meanwhile loses the grant: under-admission, never over.
        if let Some(b) = buckets.get_mut(ex.key).filter(|b| b.in_flight) {
            b.roll(spec, spec.epoch(now));
            match grant {
                Some(g) => b.apply(spec, ex, g),
                None => unavailable(spec, stats, b, ex),
            }
            if b.balance < 0 && !b.in_flight && !b.cell_down {
                exchange(spec, cell, stats, b, ex.key, now, 0);
            }
        }
    }
}

/// The key's bucket, made most recently used (inserted, evicting the least recently used
/// key past `max_keys_per_core`, when new), rolled to the current window. Takes the
/// shard's fields apart so the caller can go on using the others with the bucket.
fn bucket<'a, C: SharedCell>(
    spec: &LimitSpec,
    cell: &C,
    stats: &mut ShardStats,
    buckets: &'a mut LruMap<Bucket>,
    key: LimitKey,
    now: u64,
) -> &'a mut Bucket {
    let epoch = spec.epoch(now);
    if !buckets.contains(key) {
        while buckets.len() >= spec.max_keys_per_core.max(1) {
            let Some((old, b)) = buckets.oldest() else {
                break;
            };
            flush(spec, cell, stats, b, old, now);
            buckets.remove(old);
            stats.evicted += 1;
        }
        buckets.insert(key, Bucket::new(epoch, now));
    }
    // Invariant: found or just inserted.
    let b = buckets.get_touch(key).expect("bucket present");
    b.roll(spec, epoch);
    b.last_use = now;
    b
}

/// A fail-open limit whose exchange is out (a remote cell's round trip) admits on
/// credit rather than refuse or wait: the balance goes below zero, by at most
/// `max(a_max, cost)`, while the last answer left budget. The debt is pushed as soon as
/// the answer comes ([`Shard::complete`]), so Redis counts every unit. What this adds
/// to the over-admission bound (at most `a_max` per core and key, once the budget runs
/// out) is in the module doc.
fn credit(spec: &LimitSpec, b: &mut Bucket, cost: i64) -> bool {
    let room = b.in_flight
        && spec.fail == FailMode::Open
        && !b.starved
        && !b.cell_down
        && b.taken_seen < spec.limit
        && b.balance - cost >= -spec.max_allowance.max(cost);
    if room {
        b.balance -= cost;
    }
    room
}

fn mark_dirty(b: &mut Bucket, key: LimitKey, dirty: &mut Vec<LimitKey>) {
    if !b.dirty {
        b.dirty = true;
        dirty.push(key);
    }
}

/// One exchange for `b`, asking for enough to cover `cost` (0 on the timer).
fn exchange<C: SharedCell>(
    spec: &LimitSpec,
    cell: &C,
    stats: &mut ShardStats,
    b: &mut Bucket,
    key: LimitKey,
    now: u64,
    cost: i64,
) {
    // A remote cell answers after a round trip: keep what is likely to be used meanwhile.
    let ex = b.plan(spec, key, now, cost, !cell.is_immediate());
    stats.exchanges += 1;
    match cell.exchange(&ex) {
        Reply::Ready(g) => b.apply(spec, &ex, g),
        Reply::Pending => {}
        Reply::Unavailable => unavailable(spec, stats, b, &ex),
    }
}

fn unavailable(spec: &LimitSpec, stats: &mut ShardStats, b: &mut Bucket, ex: &Exchange) {
    stats.unavailable += 1;
    match spec.fail {
        FailMode::Open => b.apply_local(spec, ex),
        FailMode::Closed => {
            b.in_flight = false;
            b.starved = true;
            b.cell_down = true;
        }
    }
}

/// Gives back everything `b` holds before it leaves the map.
fn flush<C: SharedCell>(
    spec: &LimitSpec,
    cell: &C,
    stats: &mut ShardStats,
    b: &mut Bucket,
    key: LimitKey,
    now: u64,
) {
    b.roll(spec, spec.epoch(now));
    if !b.in_flight && (b.balance != 0 || b.prev_returned != 0) {
        b.demand = 0;
        exchange(spec, cell, stats, b, key, now, 0);
    }
}

fn quota(spec: &LimitSpec, b: Option<&Bucket>, now: u64) -> Quota {
    let reset_after_ms = if spec.kind.is_windowed() {
        spec.window_end(spec.epoch(now)).saturating_sub(now)
    } else {
        0
    };
    Quota {
        limit: u64::try_from(spec.limit).unwrap_or(0),
        remaining: b.map_or(0, |b| b.remaining(spec)),
        reset_after_ms,
    }
}

fn deny(spec: &LimitSpec, reason: DenyReason, quota: Quota, retry_after_ms: u64) -> Denial {
    let retry_after_ms = if spec.kind.is_windowed() {
        retry_after_ms
    } else {
        CONCURRENT_RETRY_MS
    };
    Denial {
        reason,
        quota,
        retry_after_ms: retry_after_ms.max(1),
    }
}

fn refusal(spec: &LimitSpec, b: &Bucket, now: u64) -> Denial {
    let q = quota(spec, Some(b), now);
    let (reason, retry) = if b.cell_down && b.starved && spec.fail == FailMode::Closed {
        (DenyReason::Unavailable, spec.sync_interval_ms)
    } else if b.negative(spec) {
        (DenyReason::Negative, q.reset_after_ms)
    } else if b.taken_seen >= spec.limit {
        (DenyReason::Exhausted, q.reset_after_ms)
    } else {
        // Budget is left but other cores hold it, or an exchange is out: soon.
        (DenyReason::Exhausted, spec.sync_interval_ms)
    };
    deny(spec, reason, q, retry)
}

#[cfg(test)]
#[path = "shard/tests.rs"]
mod tests;
