//! The in-process shared cell: one per limit, shared by every core of the process.
//!
//! Per window there is one table of slots `{ ident: AtomicU64, taken: AtomicI64 }`,
//! open-addressed (linear probing, at most [`PROBES`] slots per key). A key claims a
//! slot by a CAS of `ident` from empty to its hash and keeps it for the whole window;
//! `taken` changes only by a CAS loop that applies [`exchange_budget`]. Nothing is ever
//! removed from a table, which is what makes it safe without a lock: every thread
//! looking for a key walks the same probe sequence, sees the same occupied slots, and
//! the first empty one is claimed by exactly one of them, so a key never has two slots
//! (two budgets). When a key's probe sequence is full, it goes on in an overflow table
//! twice as large, created once by a CAS; the chain's slots are capped by `max_keys`,
//! past which the cell answers [`Reply::Unavailable`].
//!
//! A new window gets a new table, installed by a CAS of the root (`arc-swap`); the old
//! one is freed when the last core that was inside it lets go of it. So idle keys cost
//! nothing past their window, and memory is bounded by about two windows' keys. Its
//! size is taken from the live keys of the window before. The previous window's table
//! is kept reachable for one window: returns and debts of a core that is a few µs
//! behind land in the window they belong to, and a concurrency limit (whose "window" is
//! a generation) counts the permits still out in the previous generation.
//!
//! Cost of an exchange: a load of the root, a few `ident` loads on the key's probe
//! sequence, one CAS on `taken`. No lock anywhere; a table is allocated once per
//! window (growing tables a few times more), on an exchange, never per request.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use super::cell::{exchange_budget, Exchange, Grant, Reply, SharedCell};

/// Slots one key may probe in a table before going on to the overflow table.
const PROBES: usize = 16;
/// The smallest table.
const MIN_SLOTS: usize = 64;
/// `ident` of an empty slot; a key hashing to it is stored as [`ZERO_KEY`].
const EMPTY: u64 = 0;
const ZERO_KEY: u64 = 0x9e37_79b9_7f4a_7c15;

/// The global budgets of one limit's keys, for every core of this process.
#[derive(Debug)]
pub struct InProcessCell {
    root: ArcSwapOption<EpochTable>,
    max_slots: usize,
}

#[derive(Debug)]
struct EpochTable {
    epoch: u64,
    slots: Box<[Slot]>,
    /// `64 - log2(slots.len())`: the shift that maps a hash to its home slot.
    shift: u32,
    claimed: AtomicUsize,
    overflow: ArcSwapOption<EpochTable>,
    /// Slots the overflow chain after this table may still allocate.
    spare: usize,
    /// The previous window's table; cleared when this one is replaced.
    prev: ArcSwapOption<EpochTable>,
}

#[derive(Debug, Default)]
struct Slot {
    ident: AtomicU64,
    taken: AtomicI64,
}

impl InProcessCell {
    /// A cell for at most about `max_keys` keys per window.
    pub fn new(max_keys: usize) -> InProcessCell {
        InProcessCell {
            root: ArcSwapOption::const_empty(),
            // Twice the keys (tables are at most half full before they overflow),
            // capped so the arithmetic cannot overflow.
            max_slots: max_keys.clamp(MIN_SLOTS / 2, 1 << 30).next_power_of_two() * 2,
        }
    }

    /// Keys with a slot in the current window.
    pub fn live_keys(&self) -> usize {
        self.root.load_full().map_or(0, |t| t.live())
    }

    /// The table of window `epoch`, or of a later one if the cell has moved on.
    fn table_for(&self, epoch: u64) -> Arc<EpochTable> {
        loop {
            let cur = self.root.load_full();
            if let Some(t) = cur.as_ref().filter(|t| t.epoch >= epoch) {
                return Arc::clone(t);
            }
            let cap = cur.as_ref().map_or(MIN_SLOTS, |t| {
                t.live()
                    .saturating_mul(2)
                    .next_power_of_two()
                    .max(MIN_SLOTS)
            });
            let cap = cap.min(self.max_slots);
            let new = Arc::new(EpochTable::new(epoch, cap, self.max_slots - cap));
            if let Some(t) = cur.as_ref().filter(|t| t.epoch + 1 == epoch) {
                new.prev.store(Some(Arc::clone(t)));
            }
            let was = self.root.compare_and_swap(&cur, Some(Arc::clone(&new)));
            if ptr(&was) == ptr(&cur) {
                // Keep at most two windows reachable.
                if let Some(old) = &cur {
                    old.prev.store(None);
                }
                return new;
            }
        }
    }
}

fn ptr(t: &Option<Arc<EpochTable>>) -> *const EpochTable {
    t.as_ref().map_or(std::ptr::null(), Arc::as_ptr)
}

impl SharedCell for InProcessCell {
    const IMMEDIATE: bool = true;

    fn exchange(&self, ex: &Exchange) -> Reply {
        let fp = match ex.key.0 {
            EMPTY => ZERO_KEY,
            k => k,
        };
        let table = self.table_for(ex.epoch);
        let prev = table.prev.load_full();
        let (returned, charged) = if table.epoch == ex.epoch {
            (ex.returned, ex.charged)
        } else {
            // The core is behind: its returns and debt belong to a window that is over.
            if let Some(p) = prev.as_ref().filter(|p| p.epoch == ex.epoch) {
                p.adjust(fp, ex.charged - ex.returned);
            }
            (0, 0)
        };
        let mut prev_taken = 0;
        if let Some(p) = prev.as_ref().filter(|p| p.epoch + 1 == table.epoch) {
            if ex.prev_returned > 0 && table.epoch == ex.epoch {
                p.adjust(fp, -ex.prev_returned);
            }
            if ex.spans_prev {
                prev_taken = p
                    .with_slot(fp, false, |s| s.taken.load(Ordering::Acquire))
                    .map_or(0, |t| t.max(0));
            }
        }
        let limit = ex.limit.saturating_sub(prev_taken);
        let grant = table.with_slot(fp, true, |s| {
            let mut t = s.taken.load(Ordering::Acquire);
            loop {
                let (g, after) = exchange_budget(t, limit, returned, charged, ex.want);
                match s
                    .taken
                    .compare_exchange_weak(t, after, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return (g, after),
                    Err(now) => t = now,
                }
            }
        });
        match grant {
            Some((granted, taken)) => Reply::Ready(Grant {
                epoch: table.epoch,
                granted,
                taken: taken + prev_taken,
            }),
            None => Reply::Unavailable,
        }
    }
}

impl EpochTable {
    fn new(epoch: u64, len: usize, spare: usize) -> EpochTable {
        debug_assert!(len.is_power_of_two());
        EpochTable {
            epoch,
            slots: (0..len).map(|_| Slot::default()).collect(),
            shift: 64 - len.trailing_zeros(),
            claimed: AtomicUsize::new(0),
            overflow: ArcSwapOption::const_empty(),
            spare,
            prev: ArcSwapOption::const_empty(),
        }
    }

    /// Keys claimed in this table and its overflow chain.
    fn live(&self) -> usize {
        let mut n = self.claimed.load(Ordering::Relaxed);
        let mut next = self.overflow.load_full();
        while let Some(t) = next {
            n += t.claimed.load(Ordering::Relaxed);
            next = t.overflow.load_full();
        }
        n
    }

    /// Runs `f` on the key's slot, claiming one if `claim`. `None`: the key has no slot
    /// (lookup), or there is no room left (claim).
    fn with_slot<R>(&self, fp: u64, claim: bool, f: impl FnOnce(&Slot) -> R) -> Option<R> {
        let mask = self.slots.len() - 1;
        let mut i = (fp.wrapping_mul(ZERO_KEY) >> self.shift) as usize & mask;
        for _ in 0..PROBES.min(self.slots.len()) {
            let s = &self.slots[i];
            let id = s.ident.load(Ordering::Acquire);
            if id == fp {
                return Some(f(s));
            }
            if id == EMPTY {
                if !claim {
                    return None;
                }
                match s
                    .ident
                    .compare_exchange(EMPTY, fp, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => {
                        self.claimed.fetch_add(1, Ordering::Relaxed);
                        return Some(f(s));
                    }
                    // Another thread claimed it for this very key.
                    Err(other) if other == fp => return Some(f(s)),
                    Err(_) => {}
                }
            }
            i = (i + 1) & mask;
        }
        self.next_table(claim)?.with_slot(fp, claim, f)
    }

    /// The overflow table, created (if `create`) when the chain has room for it.
    fn next_table(&self, create: bool) -> Option<Arc<EpochTable>> {
        if let Some(t) = self.overflow.load_full() {
            return Some(t);
        }
        let len = self.slots.len() * 2;
        if !create || len > self.spare {
            return None;
        }
        let new = Some(Arc::new(EpochTable::new(self.epoch, len, self.spare - len)));
        let none: Option<Arc<EpochTable>> = None;
        let was = self.overflow.compare_and_swap(&none, new.clone());
        match &*was {
            Some(theirs) => Some(Arc::clone(theirs)),
            None => new,
        }
    }

    /// Adds `delta` to a key's `taken` (never below zero). Best effort: a key without a
    /// slot and no room for one is skipped (only stale returns and debts come here).
    fn adjust(&self, fp: u64, delta: i64) {
        if delta == 0 {
            return;
        }
        self.with_slot(fp, delta > 0, |s| {
            let _ = s
                .taken
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                    Some(t.saturating_add(delta).max(0))
                });
        });
    }
}

#[cfg(test)]
#[path = "in_process/tests.rs"]
mod tests;
