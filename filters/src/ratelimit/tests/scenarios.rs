//! Named, seeded scenarios (sozu-style simulations): each replays the same traffic on
//! every run and checks the bounds of the module doc, plus the behaviour the scenario
//! is named for.

use std::collections::HashMap;
use std::sync::Arc;

use super::sim::{spec, Arrival, Rng, Sim, KEY};
use crate::ratelimit::{DenyReason, FailMode, InProcessCell, Kind, LimitKey, Shard, SharedCell};

/// Core 0 takes five requests a ms; seven neighbours one every 50 ms.
#[test]
fn hot_core_with_idle_neighbours() {
    let mut rng = Rng(1);
    let s = spec(Kind::Requests, 1_000, 1_000, 8, 4, 5);
    let mut arr = Vec::new();
    for at in 0..3_000 {
        for _ in 0..5 {
            arr.push(Arrival {
                at,
                core: 0,
                cost: 1,
                actual: 1,
                duration: 0,
            });
        }
        for core in 1..8 {
            if rng.chance(2) {
                arr.push(Arrival {
                    at,
                    core,
                    cost: 1,
                    actual: 1,
                    duration: 0,
                });
            }
        }
    }
    let mut sim = Sim::regular(s);
    sim.run(&arr, 3_000);
    for (e, t) in &sim.windows {
        assert!(t.admitted <= 1_000, "window {e}: {t:?}");
        assert!(t.admitted >= 1_000 - sim.bound(), "window {e}: {t:?}");
    }
    // The hot core exchanges about once per sync interval (its timer, also while it is
    // refused) plus once per `a_max` admitted, whatever its request rate (15,000 asks).
    let hot = sim.cores[0].stats();
    let a_max = sim.spec.max_allowance;
    assert_eq!(a_max, 31);
    assert!(
        hot.exchanges <= 3_000 / 5 + hot.admitted / a_max as u64 + 3,
        "{hot:?}"
    );
    assert!(hot.admitted + hot.refused == 15_000, "{hot:?}");
}

/// A fixed window bounds each window, not every span of its length: a burst that
/// straddles a boundary may get up to `2L`.
#[test]
fn window_boundary_burst() {
    let s = spec(Kind::Requests, 100, 1_000, 4, 4, 5);
    let arr: Vec<Arrival> = (900..1_100)
        .flat_map(|at| {
            (0..4).map(move |core| Arrival {
                at,
                core,
                cost: 1,
                actual: 1,
                duration: 0,
            })
        })
        .collect();
    let mut sim = Sim::regular(s);
    sim.run(&arr, 2_000);
    let (w0, w1) = (sim.windows[&0], sim.windows[&1]);
    assert_eq!((w0.admitted, w1.admitted), (100, 100), "{w0:?} {w1:?}");
}

/// Token limit, every core hot: requests reserve 10 tokens and really use 10 to 200,
/// known when the stream ends. The total passes `L`; what is admitted after that stays
/// within `N · a_max`, the key is refused as negative until the window ends, and the
/// next window starts afresh.
#[test]
fn streaming_tokens_past_zero() {
    let mut rng = Rng(3);
    let s = spec(Kind::OutputTokens, 4_000, 1_000, 4, 4, 5);
    let mut arr = Vec::new();
    for at in 0..2_000 {
        for core in 0..4 {
            if rng.chance(30) {
                let actual = i64::try_from(rng.range(10, 200)).unwrap();
                let duration = rng.range(20, 100);
                arr.push(Arrival {
                    at,
                    core,
                    cost: 10,
                    actual,
                    duration,
                });
            }
        }
    }
    let mut sim = Sim::regular(s.clone());
    sim.run(&arr, 2_000);
    for (e, t) in &sim.windows {
        assert!(
            t.excess <= sim.bound(),
            "window {e}: {t:?} bound {}",
            sim.bound()
        );
        assert!(t.total() > 4_000, "the scenario must pass L: {t:?}");
        assert!(t.ok > 20, "window {e} starts afresh: {t:?}");
    }
    let d = sim.cores[1].admit(KEY, 10, 1_990).unwrap_err();
    assert_eq!(d.reason, DenyReason::Negative);
    assert_eq!(d.retry_after_ms, 10);
    assert_eq!(d.quota.remaining, 0);
}

/// Ten thousand keys seen once or twice each: a core keeps at most `max_keys_per_core`
/// and every key's budget stays exact.
#[test]
fn many_cold_keys_stay_bounded() {
    let mut s = spec(Kind::Requests, 2, 60_000, 2, 4, 5);
    s.max_keys_per_core = 64;
    let cell = Arc::new(InProcessCell::new(1 << 14));
    let mut cores: Vec<_> = (0..2)
        .map(|_| Shard::new(s.clone(), Arc::clone(&cell)))
        .collect();
    let mut rng = Rng(4);
    let mut admitted: HashMap<u64, i64> = HashMap::new();
    for t in 0..20_000u64 {
        let key = rng.range(0, 9_999);
        let core = (rng.next() % 2) as usize;
        if cores[core].admit(LimitKey(key), 1, t).is_ok() {
            *admitted.entry(key).or_default() += 1;
        }
        if t % 5 == 0 {
            for c in &mut cores {
                c.tick(t);
            }
        }
        assert!(cores.iter().all(|c| c.keys() <= 64));
    }
    assert!(admitted.values().all(|&n| n <= 2));
    assert!(cores.iter().map(|c| c.stats().evicted).sum::<u64>() > 9_000);
}

/// Requests of up to 0.9 s under a concurrency limit whose table rotates every second:
/// permits out across a rotation still count, so in flight never passes `L`.
#[test]
fn concurrency_across_generations() {
    let mut rng = Rng(5);
    let s = spec(Kind::Concurrent, 16, 1_000, 4, 4, 5);
    let mut arr = Vec::new();
    for at in 0..5_000 {
        for core in 0..4 {
            if rng.chance(20) {
                arr.push(Arrival {
                    at,
                    core,
                    cost: 1,
                    actual: 0,
                    duration: rng.range(1, 900),
                });
            }
        }
    }
    let mut sim = Sim::regular(s);
    sim.run(&arr, 5_000);
    assert_eq!(sim.max_in_flight, 16);
    assert_eq!(sim.in_flight, 0);
}

/// A cell with room for a few keys: past it, a fail-closed limit refuses new keys and
/// a fail-open one lets each core admit `ceil(L / N)` a window on its own.
#[test]
fn full_cell_fails_as_configured() {
    for fail in [FailMode::Closed, FailMode::Open] {
        let mut s = spec(Kind::Requests, 10, 1_000, 2, 4, 5);
        s.fail = fail;
        let cell = Arc::new(InProcessCell::new(32));
        let mut cores: Vec<_> = (0..2)
            .map(|_| Shard::new(s.clone(), Arc::clone(&cell)))
            .collect();
        // Fill the cell's chain of tables with other keys.
        for k in 0..10_000u64 {
            let _ = cell.exchange(&crate::ratelimit::Exchange {
                key: LimitKey(k + 1_000_000),
                epoch: 0,
                limit: 10,
                returned: 0,
                charged: 0,
                want: 1,
                prev_returned: 0,
                spans_prev: false,
                expires_at_ms: 2_000,
            });
        }
        let took: usize = (0..40)
            .filter(|i| cores[i % 2].admit(LimitKey(7), 1, 10).is_ok())
            .count();
        match fail {
            FailMode::Closed => {
                assert_eq!(took, 0);
                let d = cores[0].admit(LimitKey(7), 1, 11).unwrap_err();
                assert_eq!(d.reason, DenyReason::Unavailable);
            }
            FailMode::Open => assert_eq!(took, 10),
        }
        assert!(cores[0].stats().unavailable > 0);
    }
}
