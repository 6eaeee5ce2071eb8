//! Several limits on one core, checked together: a request is admitted only if every
//! limit that applies to it admits it.
//!
//! [`Limiter::check_all`] admits limit by limit in the order asked; at the first refusal
//! it rolls back the admissions it already made (each is refunded to its core's local
//! allowance: no exchange, nothing shared touched) and returns the refusal. The tickets
//! of an admission go into a vector the caller owns and reuses, so a check allocates
//! nothing once the vector and the key maps are warm.

use super::cell::{Exchange, Grant, SharedCell};
use super::key::LimitKey;
use super::shard::{Shard, ShardStats};
use super::spec::{Denial, Kind, Quota};

/// A limit's place in its [`Limiter`] (the order of the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitId(pub u16);

/// One limit that applies to a request: which, under what key, for how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub limit: LimitId,
    pub key: LimitKey,
    /// Units taken at admission: 1 for requests and concurrency, the reservation for
    /// tokens and spend (0 reserves nothing: see the module doc).
    pub cost: i64,
}

/// An admission to settle when the request ends (tokens and spend known, permit
/// released). Plain data, kept in the request's context.
#[must_use = "a ticket must be settled: a concurrency permit is held until it is"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub limit: LimitId,
    pub key: LimitKey,
    pub epoch: u64,
    pub reserved: i64,
}

/// The refusal of one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub limit: LimitId,
    pub denial: Denial,
}

/// What a finished request really cost; `None` where it is not known (the reservation
/// then stands).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub spend_micros: Option<i64>,
}

impl Usage {
    /// The real cost for a limit of `kind` that reserved `reserved`.
    pub fn actual(&self, kind: Kind, reserved: i64) -> i64 {
        let total = match (self.input_tokens, self.output_tokens) {
            (Some(i), Some(o)) => Some(i.saturating_add(o)),
            _ => None,
        };
        let known = match kind {
            Kind::Requests => Some(reserved),
            Kind::Concurrent => Some(0),
            Kind::InputTokens => self.input_tokens,
            Kind::OutputTokens => self.output_tokens,
            Kind::TotalTokens => total,
            Kind::Spend => self.spend_micros,
        };
        known.unwrap_or(reserved).max(0)
    }
}

/// The limits of one core.
#[derive(Debug)]
pub struct Limiter<C> {
    shards: Vec<Shard<C>>,
}

impl<C: SharedCell> Limiter<C> {
    pub fn new() -> Limiter<C> {
        Limiter { shards: Vec::new() }
    }

    pub fn push(&mut self, shard: Shard<C>) -> LimitId {
        self.shards.push(shard);
        LimitId(u16::try_from(self.shards.len() - 1).expect("fewer than 65536 limits"))
    }

    pub fn shard(&self, id: LimitId) -> &Shard<C> {
        &self.shards[usize::from(id.0)]
    }

    pub fn stats(&self, id: LimitId) -> ShardStats {
        self.shard(id).stats()
    }

    /// Admits the request under every ask, or none. On success the tickets are pushed
    /// onto `tickets` and the quota closest to running out is returned (for the
    /// `RateLimit-*` headers of the response); `None` when `asks` is empty.
    pub fn check_all(
        &mut self,
        asks: &[Ask],
        now: u64,
        tickets: &mut Vec<Ticket>,
    ) -> Result<Option<(LimitId, Quota)>, Refused> {
        let start = tickets.len();
        let mut tightest: Option<(LimitId, Quota)> = None;
        for ask in asks {
            let shard = &mut self.shards[usize::from(ask.limit.0)];
            match shard.admit(ask.key, ask.cost, now) {
                Ok(a) => {
                    tickets.push(Ticket {
                        limit: ask.limit,
                        key: ask.key,
                        epoch: a.epoch,
                        reserved: ask.cost.max(0),
                    });
                    if tightest.is_none_or(|(_, q)| tighter(&a.quota, &q)) {
                        tightest = Some((ask.limit, a.quota));
                    }
                }
                Err(denial) => {
                    for t in tickets.drain(start..) {
                        let s = &mut self.shards[usize::from(t.limit.0)];
                        s.settle(t.key, t.epoch, t.reserved, 0, now);
                    }
                    return Err(Refused {
                        limit: ask.limit,
                        denial,
                    });
                }
            }
        }
        Ok(tightest)
    }

    /// Settles one ticket to its real cost.
    pub fn settle(&mut self, t: Ticket, actual: i64, now: u64) {
        let s = &mut self.shards[usize::from(t.limit.0)];
        s.settle(t.key, t.epoch, t.reserved, actual, now);
    }

    /// Settles every ticket of a finished request from its usage, and empties the list.
    pub fn finish(&mut self, tickets: &mut Vec<Ticket>, usage: &Usage, now: u64) {
        for t in tickets.drain(..) {
            let s = &mut self.shards[usize::from(t.limit.0)];
            let actual = usage.actual(s.spec().kind, t.reserved);
            s.settle(t.key, t.epoch, t.reserved, actual, now);
        }
    }

    /// A charge with no admission behind it (spend recorded by another path).
    pub fn charge(&mut self, limit: LimitId, key: LimitKey, amount: i64, now: u64) {
        self.shards[usize::from(limit.0)].charge(key, amount, now);
    }

    /// The core's timer: call every sync interval.
    pub fn tick(&mut self, now: u64) {
        for s in &mut self.shards {
            s.tick(now);
        }
    }

    /// Hands a remote cell's answer to the limit that asked ([`Shard::complete`]).
    pub fn complete(&mut self, limit: LimitId, ex: &Exchange, grant: Option<Grant>, now: u64) {
        self.shards[usize::from(limit.0)].complete(ex, grant, now);
    }

    /// Whether an exchange of `limit` for `key` is out ([`Shard::awaiting`]).
    pub fn awaiting(&mut self, limit: LimitId, key: LimitKey) -> bool {
        self.shards
            .get_mut(usize::from(limit.0))
            .is_some_and(|s| s.awaiting(key))
    }

    /// Gives back everything every limit holds on this core ([`Shard::release_all`]).
    pub fn release_all(&mut self, now: u64) {
        for s in &mut self.shards {
            s.release_all(now);
        }
    }

    pub fn len(&self) -> usize {
        self.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }
}

impl<C: SharedCell> Default for Limiter<C> {
    fn default() -> Self {
        Limiter::new()
    }
}

/// Whether `a` is closer to running out than `b` (a smaller share remaining).
fn tighter(a: &Quota, b: &Quota) -> bool {
    u128::from(a.remaining) * u128::from(b.limit) < u128::from(b.remaining) * u128::from(a.limit)
}
