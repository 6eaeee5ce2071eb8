//! One key's state on one core: the local allowance and what it learnt at its last
//! exchange. Plain data and arithmetic; [`super::Shard`] decides when to exchange.
//!
//! Invariants (checked with `debug_assert!` after each change):
//! - `balance` is the allowance this core holds for the window `epoch`: granted, minus
//!   admitted, minus charged after the fact, plus refunds. Negative is debt not yet
//!   pushed; an in-process cell takes it at once, so there it is negative only inside a
//!   call.
//! - after an exchange answered at once, `0 <= balance <= max(a_max, cost)`; only
//!   refunds and releases lift it above that, and the next exchange gives the excess
//!   back.

use super::cell::{Exchange, Grant};
use super::key::LimitKey;
use super::spec::LimitSpec;

#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub epoch: u64,
    pub balance: i64,
    /// Concurrency: permits of the previous generation released here, to give back.
    pub prev_returned: i64,
    /// Units asked for (admitted or not) since the last exchange: the rate signal.
    pub demand: i64,
    /// Moving average of demand, in units per second.
    pub rate: i64,
    pub last_exchange: u64,
    pub last_use: u64,
    /// The key's global `taken` as of the last answer (for `remaining` and negativity).
    pub taken_seen: i64,
    /// The last answer granted less than asked: the budget is (nearly) spent.
    pub starved: bool,
    /// An exchange is out and not answered yet (remote cells only).
    pub in_flight: bool,
    /// The cell could not answer the last exchange.
    pub cell_down: bool,
    /// On the shard's list of keys to visit on its timer.
    pub dirty: bool,
    /// Fail-open budget of this core for window `local_epoch`.
    pub local_taken: i64,
    pub local_epoch: u64,
}

impl Bucket {
    pub fn new(epoch: u64, now: u64) -> Bucket {
        Bucket {
            epoch,
            balance: 0,
            prev_returned: 0,
            demand: 0,
            rate: 0,
            // Never: the first exchange sees no rate and asks only for what it needs.
            last_exchange: 0,
            last_use: now,
            taken_seen: 0,
            starved: false,
            in_flight: false,
            cell_down: false,
            dirty: false,
            local_taken: 0,
            local_epoch: epoch,
        }
    }

    /// Moves to window `epoch` if it is later. A finished window's allowance is dropped
    /// (there is nothing to give it back to); debt not yet pushed (a remote cell's)
    /// carries into the new window, the stricter choice. For a concurrency limit the
    /// unused permits of the generation just ended are given back to it; anything
    /// older is gone with its table.
    pub fn roll(&mut self, spec: &LimitSpec, epoch: u64) {
        if epoch <= self.epoch {
            return;
        }
        let next_generation = !spec.kind.is_windowed() && epoch == self.epoch + 1;
        self.prev_returned = if next_generation {
            self.balance.max(0)
        } else {
            0
        };
        self.balance = self.balance.min(0);
        self.epoch = epoch;
        self.taken_seen = 0;
        self.starved = false;
    }

    /// The global budget is known to be below zero: refuse even what the local balance
    /// could cover (refunds may have lifted it).
    pub fn negative(&self, spec: &LimitSpec) -> bool {
        self.taken_seen > spec.limit
    }

    /// Admits `cost` from the local allowance if it covers it. A cost of 0 still needs
    /// one unit in hand: proof that the budget was not spent at the last exchange.
    pub fn try_take(&mut self, spec: &LimitSpec, cost: i64) -> bool {
        if self.balance >= cost.max(1) && !self.negative(spec) {
            self.balance -= cost;
            true
        } else {
            false
        }
    }

    /// Applies a charge known after the fact (negative: a refund) to window `epoch`.
    /// A refund of a finished window is dropped; a charge lands in the current one.
    /// Returns whether the balance went below zero (the debt must be pushed).
    pub fn charge(&mut self, spec: &LimitSpec, epoch: u64, amount: i64) -> bool {
        if epoch == self.epoch || amount > 0 {
            self.balance -= amount;
        } else if !spec.kind.is_windowed() && epoch + 1 == self.epoch {
            self.prev_returned -= amount;
        }
        self.balance < 0
    }

    /// The allowance to ask for: about two sync intervals of this key's observed rate,
    /// at most `a_max`, and at least `cost` (what the request at hand needs). An idle
    /// key (`cost == 0`, no demand since the last exchange) asks for nothing.
    fn want(&self, spec: &LimitSpec, cost: i64) -> i64 {
        if cost == 0 && self.demand == 0 {
            return 0;
        }
        let interval = i64::try_from(spec.sync_interval_ms).unwrap_or(i64::MAX);
        let by_rate = self.rate.saturating_mul(interval).saturating_mul(2) / 1000 + 1;
        by_rate.min(spec.max_allowance).max(cost)
    }

    /// Prepares an exchange at `now` for a request of `cost` (0 on the timer): updates
    /// the rate, hands over all debt and the balance, and asks for [`Bucket::want`].
    /// For a `remote` cell the core keeps what it holds up to that want, asks only for
    /// the rest, and goes on admitting from what it kept during the round trip.
    pub fn plan(
        &mut self,
        spec: &LimitSpec,
        key: LimitKey,
        now: u64,
        cost: i64,
        remote: bool,
    ) -> Exchange {
        let elapsed =
            i64::try_from(now.saturating_sub(self.last_exchange).max(1)).unwrap_or(i64::MAX);
        let instant = self.demand.saturating_mul(1000) / elapsed;
        self.rate = (self.rate / 2).saturating_add(instant / 2);
        let want = self.want(spec, cost);
        let keep = if remote {
            self.balance.clamp(0, want)
        } else {
            0
        };
        let want = want - keep;
        self.demand = 0;
        self.last_exchange = now;
        let returned = (self.balance - keep).max(0);
        let charged = (-self.balance).max(0);
        self.balance += charged - returned;
        let prev_returned = std::mem::take(&mut self.prev_returned).max(0);
        self.in_flight = true;
        debug_assert!(self.balance >= 0);
        Exchange {
            key,
            epoch: self.epoch,
            limit: spec.limit,
            returned,
            charged,
            want,
            prev_returned,
            spans_prev: !spec.kind.is_windowed(),
            expires_at_ms: spec.window_end(self.epoch.saturating_add(1)),
        }
    }

    /// Takes in a cell's answer to the exchange `ex`.
    pub fn apply(&mut self, spec: &LimitSpec, ex: &Exchange, grant: Grant) {
        self.in_flight = false;
        self.cell_down = false;
        if grant.epoch > self.epoch {
            self.roll(spec, grant.epoch);
        }
        if grant.epoch == self.epoch {
            self.balance += grant.granted;
            self.taken_seen = grant.taken;
            self.starved = grant.granted < ex.want;
        }
    }

    /// The fail-open answer: the same rule as the cell, on this core's local share.
    pub fn apply_local(&mut self, spec: &LimitSpec, ex: &Exchange) {
        if self.local_epoch != self.epoch {
            self.local_epoch = self.epoch;
            self.local_taken = 0;
        }
        let share = spec.local_share();
        let (granted, taken) =
            super::cell::exchange_budget(self.local_taken, share, ex.returned, ex.charged, ex.want);
        self.local_taken = taken;
        let grant = Grant {
            epoch: self.epoch,
            granted,
            // Scaled to the whole limit, for `remaining` and negativity.
            taken: taken.saturating_mul(i64::from(spec.cores)),
        };
        self.apply(spec, ex, grant);
    }

    /// Whether the timer still has something to do for this key.
    pub fn needs_visit(&self) -> bool {
        self.balance != 0 || self.prev_returned != 0 || self.demand > 0 || self.in_flight
    }

    /// `RateLimit-Remaining`, approximate (see [`super::Quota`]).
    pub fn remaining(&self, spec: &LimitSpec) -> u64 {
        let r = spec.limit - self.taken_seen + self.balance.max(0);
        u64::try_from(r.clamp(0, spec.limit)).unwrap_or(0)
    }
}
