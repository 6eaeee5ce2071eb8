//! Fail-open limits over a remote cell: a core that holds nothing for a key while its
//! exchange is out admits on credit instead of refusing or waiting. Instances over a
//! stand-in for Redis (a shared budget reached after half a round trip, answering after
//! a full one) with bursty traffic: per window the cluster admits at most `L` plus the
//! credit (`M · N · a_max`) plus what it admits in the two round trips after the budget
//! ran out, and a cold key is never refused for want of a round trip. (The unit test in
//! `shard/tests.rs` checks the credit's cap and that the store counts every unit.)

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::sim::{spec, Rng, KEY};
use crate::ratelimit::{Exchange, FailMode, Grant, InProcessCell, Kind, Reply, Shard, SharedCell};

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

/// Per window: (admitted, admitted within 2 RTT after the total first reached L).
fn run(
    instances: u32,
    cores: u32,
    limit: i64,
    k: u32,
    rtt: u64,
    pct: u64,
    seed: u64,
) -> (i64, Vec<(i64, i64)>, i64) {
    let n = instances * cores;
    let mut s = spec(Kind::Requests, limit, 1_000, cores, k, 5);
    s.fail = FailMode::Open;
    let store = InProcessCell::new(64);
    let outboxes: Vec<Rc<RefCell<Vec<Exchange>>>> = (0..n).map(|_| Rc::default()).collect();
    let mut shards: Vec<Shard<Outbox>> = outboxes
        .iter()
        .map(|o| Shard::new(s.clone(), Outbox(Rc::clone(o))))
        .collect();
    let mut flights: Vec<Flight> = Vec::new();
    let mut windows: BTreeMap<u64, (i64, Option<u64>, i64)> = BTreeMap::new();
    let mut rng = Rng(seed);
    let mut refused_cold = 0;
    for t in 0..3_000u64 {
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
        let (admitted, t0, lag) = windows.entry(e).or_default();
        // Bursts: every core is idle most of the time, then busy for a while.
        let busy = !(t / 50 + seed).is_multiple_of(3);
        for shard in shards.iter_mut() {
            if !busy || !rng.chance(pct) {
                continue;
            }
            let fresh = shard.keys() == 0;
            match shard.admit(KEY, 1, t) {
                Ok(_) => {
                    *admitted += 1;
                    if t0.is_some_and(|t0| t <= t0 + 2 * rtt) {
                        *lag += 1;
                    }
                    if *admitted >= limit && t0.is_none() {
                        *t0 = Some(t);
                    }
                }
                Err(_) if fresh && *admitted < limit / 2 => refused_cold += 1,
                Err(_) => {}
            }
        }
        for (c, sh) in shards.iter_mut().enumerate() {
            if t % 5 == c as u64 % 5 {
                sh.tick(t);
            }
        }
        for (core, o) in outboxes.iter().enumerate() {
            for ex in o.borrow_mut().drain(..) {
                flights.push(Flight {
                    core,
                    ex,
                    applied_at: t + (rtt / 2).max(1),
                    answered_at: t + rtt.max(2),
                    grant: None,
                });
            }
        }
    }
    let credit = i64::from(n) * s.max_allowance;
    (
        credit,
        windows.into_values().map(|(a, _, lag)| (a, lag)).collect(),
        refused_cold,
    )
}

#[test]
fn credit_keeps_fail_open_limits_within_the_bound() {
    // (instances, cores each, k, round trip ms, traffic %, seed)
    let cases = [
        (2, 2, 4, 2, 30, 21),
        (3, 2, 8, 6, 60, 22),
        (2, 4, 16, 20, 100, 23),
        (4, 2, 64, 30, 100, 24),
    ];
    for (instances, cores, k, rtt, pct, seed) in cases {
        let limit = 500;
        let (credit, windows, refused_cold) = run(instances, cores, limit, k, rtt, pct, seed);
        assert_eq!(refused_cold, 0, "a cold key waited for a round trip");
        for (e, (admitted, lag)) in windows.iter().enumerate() {
            assert!(
                *admitted <= limit + credit + lag,
                "window {e}: {admitted} admitted, bound {limit} + {credit} + {lag}"
            );
            assert!(
                *admitted + credit >= limit,
                "window {e}: {admitted} admitted, short of {limit} by more than {credit}"
            );
        }
    }
}
