//! The shared cell: the one place where cores (and instances) meet, and only on an
//! exchange, never per request.
//!
//! A cell holds, per key and window, `taken`: the units handed out as allowances plus
//! the debts pushed by cores, minus the allowances given back. Every exchange applies
//! [`exchange_budget`] to it atomically. Three things implement that rule: the
//! in-process cell (a CAS loop on an `AtomicI64`, [`super::InProcessCell`]), the Redis
//! script ([`super::redis::EXCHANGE_SCRIPT`]), and a shard's local-only budget when the
//! cell is unavailable and the limit fails open.

use std::sync::Arc;

use super::key::LimitKey;

/// One reconciliation of a core's allowance for one key with the global budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    pub key: LimitKey,
    /// The window the core's allowance, debt and returns belong to.
    pub epoch: u64,
    /// `L`, sent with every exchange so that a changed limit applies at once.
    pub limit: i64,
    /// Unused allowance given back (`>= 0`).
    pub returned: i64,
    /// Debt pushed: charges known after the fact that the core's allowance did not
    /// cover (`>= 0`).
    pub charged: i64,
    /// Allowance asked for (`>= 0`; 0 only gives back and pushes).
    pub want: i64,
    /// Concurrency only: permits of the previous generation given back.
    pub prev_returned: i64,
    /// Concurrency only: permits still out in the previous generation count against
    /// this one.
    pub spans_prev: bool,
    /// When the window's state may be forgotten (ms since the Unix epoch): the window's
    /// end plus one window. A remote cell sets its keys to expire then.
    pub expires_at_ms: u64,
}

/// A cell's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The window the grant belongs to. Newer than the exchange's when the cell has
    /// already moved on (a core whose clock read a few µs earlier, at a boundary); the
    /// core then adopts it.
    pub epoch: u64,
    pub granted: i64,
    /// The key's `taken` after the exchange (plus the previous generation's permits when
    /// `spans_prev`): `L - taken` is the global remainder, negative after debts.
    pub taken: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The cell answered at once (in-process).
    Ready(Grant),
    /// The answer comes later through [`super::Shard::complete`] (a remote cell).
    Pending,
    /// The cell cannot answer: its table is full, or the store is unreachable. The
    /// exchange's returns and debt are lost to it (they only ever make it stricter); the
    /// shard applies its [`super::FailMode`].
    Unavailable,
}

/// The global budget of every limit's keys. Implementations are shared by all cores
/// (`Send + Sync`), and each core calls them only on an exchange.
pub trait SharedCell {
    /// Whether [`SharedCell::exchange`] always answers [`Reply::Ready`]. A cell that
    /// answers later lets a core keep part of its allowance during the round trip.
    const IMMEDIATE: bool;

    /// [`SharedCell::IMMEDIATE`] for this value: a cell that is one of several kinds
    /// (an enum over an in-process and a remote cell) says which it is.
    #[inline]
    fn is_immediate(&self) -> bool {
        Self::IMMEDIATE
    }

    fn exchange(&self, ex: &Exchange) -> Reply;
}

impl<T: SharedCell> SharedCell for Arc<T> {
    const IMMEDIATE: bool = T::IMMEDIATE;

    #[inline]
    fn is_immediate(&self) -> bool {
        (**self).is_immediate()
    }

    #[inline]
    fn exchange(&self, ex: &Exchange) -> Reply {
        (**self).exchange(ex)
    }
}

/// The rule every cell applies atomically: take back `returned`, add `charged`, then
/// grant `want` while the budget lasts. Returns `(granted, taken after)`.
///
/// `granted <= max(0, limit - taken')` with `taken' = taken - returned + charged`, so a
/// grant never lifts `taken` above `limit`; only debt does. `taken` never goes below
/// zero (returns give back only what was granted; the clamp makes a stray return
/// stricter, never looser).
#[inline]
pub fn exchange_budget(
    taken: i64,
    limit: i64,
    returned: i64,
    charged: i64,
    want: i64,
) -> (i64, i64) {
    debug_assert!(returned >= 0 && charged >= 0 && want >= 0);
    let t = taken
        .saturating_sub(returned)
        .saturating_add(charged)
        .max(0);
    let granted = want.min(limit.saturating_sub(t)).max(0);
    (granted, t + granted)
}

#[cfg(test)]
mod tests {
    use super::exchange_budget;

    #[test]
    fn grants_what_is_left_and_no_more() {
        // (taken, limit, returned, charged, want) -> (granted, taken after)
        let table = [
            ((0, 10, 0, 0, 4), (4, 4)),
            ((8, 10, 0, 0, 4), (2, 10)),
            ((10, 10, 0, 0, 4), (0, 10)),
            ((10, 10, 3, 0, 4), (3, 10)),
            ((10, 10, 3, 5, 4), (0, 12)),
            ((12, 10, 0, 0, 4), (0, 12)),
            ((5, 10, 0, 0, 0), (0, 5)),
            ((2, 10, 5, 0, 0), (0, 0)),
        ];
        for ((t, l, r, c, w), want) in table {
            assert_eq!(exchange_budget(t, l, r, c, w), want, "{t} {l} {r} {c} {w}");
        }
    }
}
