//! Several instances over one remote cell with a round trip: a stand-in for Redis that
//! queues each exchange, applies it to a shared budget half a round trip later (the
//! store's view) and answers after a full one. Checks the cross-instance bound of the
//! module doc: exact up front, and after the fact at most `M · N · a_max` plus what the
//! cluster admits in two round trips.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::sim::{spec, Rng, WindowTotals, KEY};
use crate::ratelimit::{Exchange, Grant, InProcessCell, Kind, Reply, Shard, SharedCell};

/// Exchanges sent by one core, answered by the driver.
#[derive(Default)]
struct Outbox(Rc<RefCell<Vec<Exchange>>>);

impl SharedCell for Outbox {
    const IMMEDIATE: bool = false;
    fn exchange(&self, ex: &Exchange) -> Reply {
        self.0.borrow_mut().push(*ex);
        Reply::Pending
    }
}

struct Flight {
    core: usize,
    ex: Exchange,
    applied_at: u64,
    answered_at: u64,
    grant: Option<Grant>,
}

/// `instances x cores` shards with share divisor `k`, a round trip of `rtt` ms, traffic
/// at `percent` per core and ms; requests reserve 5 and use 5 to 60, settled 10 to 50 ms
/// later. Returns per window the totals and the units admitted in the two round trips
/// after the total first reached `L`.
fn run(
    instances: u32,
    cores: u32,
    limit: i64,
    k: u32,
    rtt: u64,
    percent: u64,
    seed: u64,
) -> (i64, Vec<(WindowTotals, i64)>) {
    let n = instances * cores;
    let s = spec(Kind::TotalTokens, limit, 1_000, cores, k, 5);
    let store = InProcessCell::new(64);
    let outboxes: Vec<Rc<RefCell<Vec<Exchange>>>> = (0..n).map(|_| Rc::default()).collect();
    let mut shards: Vec<Shard<Outbox>> = outboxes
        .iter()
        .map(|o| Shard::new(s.clone(), Outbox(Rc::clone(o))))
        .collect();
    let mut flights: Vec<Flight> = Vec::new();
    let mut open: Vec<(u64, usize, u64, i64)> = Vec::new();
    let mut windows: BTreeMap<u64, (WindowTotals, Option<u64>, i64)> = BTreeMap::new();
    let mut rng = Rng(seed);
    for t in 0..3_000u64 {
        // The store applies exchanges that reached it, cores take in answers.
        for f in flights.iter_mut().filter(|f| f.applied_at == t) {
            if let Reply::Ready(g) = store.exchange(&f.ex) {
                f.grant = Some(g);
            }
        }
        let mut i = 0;
        while i < flights.len() {
            if flights[i].answered_at == t {
                let f = flights.swap_remove(i);
                shards[f.core].complete(&f.ex, f.grant, t);
            } else {
                i += 1;
            }
        }
        let e = s.epoch(t);
        let (w, t0, lag) = windows.entry(e).or_default();
        // Settles due now: charges beyond the reservation.
        let mut j = 0;
        while j < open.len() {
            if open[j].0 == t {
                let (_, core, epoch, actual) = open.swap_remove(j);
                shards[core].settle(KEY, epoch, 5, actual, t);
                w.charges += actual - 5;
                if w.total() >= limit && t0.is_none() {
                    *t0 = Some(t);
                }
            } else {
                j += 1;
            }
        }
        for (core, shard) in shards.iter_mut().enumerate() {
            if !rng.chance(percent) {
                continue;
            }
            if let Ok(a) = shard.admit(KEY, 5, t) {
                let before = w.total();
                w.excess += (before + 5 - limit.max(before)).clamp(0, 5);
                w.admitted += 5;
                if t0.is_some_and(|t0| t <= t0 + 2 * rtt) {
                    *lag += 5;
                }
                if w.total() >= limit && t0.is_none() {
                    *t0 = Some(t);
                    *lag += 5;
                }
                let actual = i64::try_from(rng.range(5, 60)).unwrap();
                open.push((t + rng.range(10, 50), core, a.epoch, actual));
            }
        }
        for (c, sh) in shards.iter_mut().enumerate() {
            if t % 5 == c as u64 % 5 {
                sh.tick(t);
            }
        }
        for (core, o) in outboxes.iter().enumerate() {
            for ex in o.borrow_mut().drain(..) {
                let half = (rtt / 2).max(1);
                flights.push(Flight {
                    core,
                    ex,
                    applied_at: t + half,
                    answered_at: t + rtt.max(2),
                    grant: None,
                });
            }
        }
    }
    let bound = i64::from(n) * s.max_allowance;
    (
        bound,
        windows.into_values().map(|(w, _, lag)| (w, lag)).collect(),
    )
}

#[test]
fn instances_share_one_budget_within_the_bound() {
    // (instances, cores each, k, round trip ms, traffic %, seed)
    let cases = [
        (2, 2, 4, 2, 25, 11),
        (3, 2, 4, 6, 25, 12),
        (2, 4, 4, 20, 25, 13),
        (2, 2, 64, 20, 100, 14),
        (4, 2, 128, 30, 100, 15),
        (2, 4, 32, 10, 100, 16),
    ];
    for (instances, cores, k, rtt, pct, seed) in cases {
        let (bound, windows) = run(instances, cores, 3_000, k, rtt, pct, seed);
        for (e, (w, lag)) in windows.iter().enumerate() {
            assert!(w.admitted <= 3_000, "window {e}: {w:?}");
            assert!(w.total() > 3_000, "the scenario must pass L: {w:?}");
            assert!(
                w.excess <= bound + lag,
                "window {e}: {w:?} bound {bound} + lag {lag}"
            );
        }
    }
}
