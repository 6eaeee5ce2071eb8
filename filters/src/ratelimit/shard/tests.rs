use std::cell::RefCell;
use std::sync::Arc;

use super::*;
use crate::ratelimit::{Ask, InProcessCell, Kind, LimitId, Limiter, Usage};

type Cell = Arc<InProcessCell>;

fn shards(kind: Kind, limit: i64, window: u64, cores: u32) -> Vec<Shard<Cell>> {
    let spec = LimitSpec::new(kind, limit, window, cores);
    let cell = Arc::new(InProcessCell::new(1024));
    (0..cores)
        .map(|_| Shard::new(spec.clone(), Arc::clone(&cell)))
        .collect()
}

const K: LimitKey = LimitKey(5);

#[test]
fn a_hot_key_is_served_from_its_allowance() {
    let mut s = shards(Kind::Requests, 10_000, 60_000, 1);
    for _ in 0..1_000 {
        s[0].admit(K, 1, 0).unwrap();
    }
    // The allowance grows with the observed rate: a handful of exchanges, not 1,000.
    assert!(s[0].stats().exchanges <= 8, "{:?}", s[0].stats());
}

#[test]
fn a_cold_key_takes_only_what_its_request_needs() {
    let mut s = shards(Kind::Requests, 10, 60_000, 2);
    s[0].admit(K, 1, 0).unwrap();
    assert_eq!(s[0].buckets.get_mut(K).unwrap().balance, 0);
    for _ in 0..9 {
        s[1].admit(K, 1, 0).unwrap();
    }
    assert!(s[1].admit(K, 1, 0).is_err());
}

#[test]
fn an_idle_key_gives_back_on_the_timer_and_costs_nothing_after() {
    let mut s = shards(Kind::Requests, 100, 60_000, 2);
    for _ in 0..20 {
        s[0].admit(K, 1, 0).unwrap();
    }
    let held = s[0].buckets.get_mut(K).unwrap().balance;
    assert!(held > 0);
    // Core 1 cannot have what core 0 holds...
    let got = (0..100).filter(|_| s[1].admit(K, 1, 1).is_ok()).count();
    assert_eq!(got as i64, 80 - held);
    // ...until core 0's timer gives it back (no demand since its last exchange).
    s[0].tick(5);
    s[0].tick(10);
    assert_eq!(s[0].buckets.get_mut(K).unwrap().balance, 0);
    assert!(s[0].dirty.is_empty());
    let exchanges = s[0].stats().exchanges;
    s[0].tick(100);
    assert_eq!(s[0].stats().exchanges, exchanges);
    let more = (0..100).filter(|_| s[1].admit(K, 1, 20).is_ok()).count();
    assert_eq!(more as i64, held);
}

#[test]
fn idle_keys_expire_and_the_map_is_bounded() {
    let mut s = shards(Kind::Requests, 100, 60_000, 1);
    s[0].spec.max_keys_per_core = 3;
    for k in 0..10 {
        s[0].admit(LimitKey(k), 1, 0).unwrap();
        assert!(s[0].keys() <= 3);
    }
    assert_eq!(s[0].stats().evicted, 7);
    let ttl = s[0].spec.idle_ttl_ms;
    s[0].tick(ttl);
    assert_eq!(s[0].keys(), 0);
}

#[test]
fn a_charge_past_zero_refuses_until_the_window_ends() {
    let mut s = shards(Kind::TotalTokens, 100, 1_000, 2);
    let a = s[0].admit(K, 10, 100).unwrap();
    s[0].settle(K, a.epoch, 10, 250, 200);
    let d = s[0].admit(K, 1, 201).unwrap_err();
    assert_eq!(d.reason, DenyReason::Negative);
    assert_eq!(
        (d.retry_after_ms, d.quota.remaining, d.quota.limit),
        (799, 0, 100)
    );
    // The other core learns it at its first exchange.
    assert_eq!(
        s[1].admit(K, 1, 202).unwrap_err().reason,
        DenyReason::Negative
    );
    assert!(s[1].admit(K, 1, 1_000).is_ok());
}

#[test]
fn a_refund_returns_to_the_local_allowance() {
    let mut s = shards(Kind::TotalTokens, 100, 1_000, 2);
    let a = s[0].admit(K, 60, 0).unwrap();
    s[0].settle(K, a.epoch, 60, 20, 1);
    let before = s[0].stats().exchanges;
    s[0].admit(K, 40, 2).unwrap();
    assert_eq!(s[0].stats().exchanges, before);
    // A refund of a window that is over is dropped.
    let b = s[0].admit(K, 30, 3).unwrap();
    s[0].settle(K, b.epoch, 30, 0, 1_001);
    assert_eq!(s[0].buckets.get_mut(K).unwrap().balance, 0);
}

#[test]
fn a_cost_above_the_limit_can_never_pass() {
    let mut s = shards(Kind::Spend, 1_000_000, 86_400_000, 1);
    let d = s[0].admit(K, 1_000_001, 0).unwrap_err();
    assert_eq!(d.reason, DenyReason::TooLarge);
}

#[test]
fn quota_reports_limit_remaining_and_reset() {
    let mut s = shards(Kind::Requests, 10, 1_000, 1);
    let a = s[0].admit(K, 1, 250).unwrap();
    assert_eq!(
        a.quota,
        Quota {
            limit: 10,
            remaining: 9,
            reset_after_ms: 750
        }
    );
    let mut c = shards(Kind::Concurrent, 2, 3_600_000, 1);
    c[0].admit(K, 1, 0).unwrap();
    c[0].admit(K, 1, 0).unwrap();
    let d = c[0].admit(K, 1, 0).unwrap_err();
    assert_eq!((d.quota.reset_after_ms, d.retry_after_ms), (0, 1_000));
}

#[test]
fn check_all_admits_all_or_none() {
    let mut lim = Limiter::new();
    let mut req = shards(Kind::Requests, 1, 60_000, 1);
    let mut tok = shards(Kind::TotalTokens, 100, 60_000, 1);
    let r = lim.push(req.remove(0));
    let t = lim.push(tok.remove(0));
    let asks = [
        Ask {
            limit: t,
            key: K,
            cost: 30,
        },
        Ask {
            limit: r,
            key: K,
            cost: 1,
        },
    ];
    let mut tickets = Vec::new();
    let (tight, q) = lim.check_all(&asks, 0, &mut tickets).unwrap().unwrap();
    assert_eq!((tight, q.remaining), (r, 0));
    assert_eq!(tickets.len(), 2);
    // The request limit refuses the next one: its token reservation is rolled back.
    let refused = lim.check_all(&asks, 1, &mut tickets).unwrap_err();
    assert_eq!(refused.limit, r);
    assert_eq!(tickets.len(), 2);
    let usage = Usage {
        input_tokens: Some(5),
        output_tokens: Some(15),
        spend_micros: None,
    };
    lim.finish(&mut tickets, &usage, 2);
    assert!(tickets.is_empty());
    // 20 used (the rolled-back 30 and the settled 10 came back): 80 left.
    let only_tokens = [Ask {
        limit: t,
        key: K,
        cost: 80,
    }];
    assert!(lim.check_all(&only_tokens, 3, &mut tickets).is_ok());
    assert_eq!(lim.stats(LimitId(1)).refused, 0);
}

/// A remote cell: answers later, through `complete`.
struct Later {
    sent: RefCell<Vec<Exchange>>,
    inner: InProcessCell,
}

impl SharedCell for Later {
    const IMMEDIATE: bool = false;
    fn exchange(&self, ex: &Exchange) -> Reply {
        self.sent.borrow_mut().push(*ex);
        Reply::Pending
    }
}

#[test]
fn a_remote_cell_answers_later_and_the_core_keeps_serving() {
    let spec = LimitSpec::new(Kind::Requests, 1_000, 60_000, 1);
    let later = Later {
        sent: RefCell::default(),
        inner: InProcessCell::new(64),
    };
    let mut s = Shard::new(spec, later);
    // Dry: the exchange goes out and this request is refused meanwhile.
    assert!(s.admit(K, 1, 0).is_err());
    let ex = s.cell.sent.borrow_mut().pop().unwrap();
    let Reply::Ready(g) = s.cell.inner.exchange(&ex) else {
        panic!()
    };
    s.complete(&ex, Some(g), 1);
    assert!(s.admit(K, 1, 1).is_ok());
    // Once hot, a dry exchange keeps what it holds and asks only for the rest.
    for t in 2..200 {
        let _ = s.admit(K, 1, t);
        let sent: Vec<Exchange> = s.cell.sent.borrow_mut().drain(..).collect();
        for ex in sent {
            assert_eq!(ex.returned, 0);
            let Reply::Ready(g) = s.cell.inner.exchange(&ex) else {
                panic!()
            };
            s.complete(&ex, Some(g), t);
        }
    }
    assert!(s.stats().admitted > 150, "{:?}", s.stats());
    // No answer: the limit fails closed.
    let _ = s.admit(K, 1_000, 300);
    let ex = s.cell.sent.borrow_mut().pop().unwrap();
    s.complete(&ex, None, 301);
    assert_eq!(
        s.admit(K, 1_000, 302).unwrap_err().reason,
        DenyReason::Unavailable
    );
}

#[test]
fn a_fail_open_remote_limit_admits_on_credit_during_the_round_trip() {
    let mut spec = LimitSpec::new(Kind::Requests, 40, 60_000, 1);
    spec.fail = FailMode::Open;
    spec.max_allowance = 4;
    let later = Later {
        sent: RefCell::default(),
        inner: InProcessCell::new(64),
    };
    let mut s = Shard::new(spec, later);
    let answer = |s: &mut Shard<Later>, now: u64| {
        let sent: Vec<Exchange> = s.cell.sent.borrow_mut().drain(..).collect();
        for ex in sent {
            let Reply::Ready(g) = s.cell.inner.exchange(&ex) else {
                panic!()
            };
            s.complete(&ex, Some(g), now);
        }
    };
    // A cold key is admitted at once, on credit, up to a_max while its exchange is out.
    for _ in 0..4 {
        assert!(s.admit(K, 1, 0).is_ok());
    }
    assert!(s.awaiting(K));
    assert_eq!(s.admit(K, 1, 0).unwrap_err().reason, DenyReason::Exhausted);
    // The answer covers part of the debt; the rest is pushed at once, so the store
    // counts every admitted unit.
    answer(&mut s, 1);
    answer(&mut s, 1);
    assert_eq!(s.cell.inner.exchange(&probe()), Reply::Ready(grant(4)));
    // Once an answer says the budget is spent, no more credit.
    let mut admitted = 4;
    for t in 2..400 {
        if s.admit(K, 1, t).is_ok() {
            admitted += 1;
        }
        answer(&mut s, t);
        s.tick(t);
        answer(&mut s, t);
    }
    assert!(admitted <= 40 + 4, "{admitted} admitted");
    assert!(admitted >= 40 - 4, "{admitted} admitted");
    // Fail closed: no credit, the request is refused while the exchange is out.
    let mut spec = LimitSpec::new(Kind::Requests, 40, 60_000, 1);
    spec.fail = FailMode::Closed;
    let mut c = Shard::new(
        spec,
        Later {
            sent: RefCell::default(),
            inner: InProcessCell::new(64),
        },
    );
    assert!(c.admit(K, 1, 0).is_err());
    assert!(c.awaiting(K));
}

/// An exchange of nothing, to read a key's `taken` from the store.
fn probe() -> Exchange {
    Exchange {
        key: K,
        epoch: 0,
        limit: 40,
        returned: 0,
        charged: 0,
        want: 0,
        prev_returned: 0,
        spans_prev: false,
        expires_at_ms: 120_000,
    }
}

fn grant(taken: i64) -> Grant {
    Grant {
        epoch: 0,
        granted: 0,
        taken,
    }
}
