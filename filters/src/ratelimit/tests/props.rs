//! Property tests of the bounds in the module doc, over random arrival patterns, random
//! timer periods and phases, a hot core, and charges after the fact.

use proptest::prelude::*;

use super::sim::{spec, Arrival, Rng, Sim};
use crate::ratelimit::Kind;

/// Random arrivals over `span` ms on `cores` cores; `hot` extra shares of them go to
/// core 0. Each reserves `1..=cmax`, really costs `cost + extra` (`extra` may be
/// negative: a refund) and ends after `0..=dmax` ms.
fn arrivals(
    cores: usize,
    hot: usize,
    span: u64,
    n: usize,
    cmax: i64,
    extra: std::ops::RangeInclusive<i64>,
    dmax: u64,
) -> impl Strategy<Value = Vec<Arrival>> {
    let one = (0..span, 0..cores + hot, 1..=cmax, extra, 0..=dmax);
    prop::collection::vec(one, 0..n).prop_map(move |v| {
        let mut v: Vec<Arrival> = v
            .into_iter()
            .map(|(at, core, cost, extra, duration)| Arrival {
                at,
                core: if core >= cores { 0 } else { core },
                cost,
                actual: (cost + extra).max(0),
                duration,
            })
            .collect();
        v.sort_by_key(|a| a.at);
        v
    })
}

/// A limit and its tuning: `(cores, L, k, W, I)` and per-core timers `(period, phase)`
/// with periods of one to two sync intervals.
fn setup() -> impl Strategy<Value = (u32, i64, u32, u64, u64, Vec<(u64, u64)>)> {
    (1u32..=8, 1i64..=400, 1u32..=8, 40u64..=300, 1u64..=10).prop_flat_map(|(n, l, k, w, i)| {
        let timer = (i..=2 * i, 0..2 * i);
        let timers = prop::collection::vec(timer, n as usize);
        (Just(n), Just(l), Just(k), Just(w), Just(i), timers)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// B1: `A - R <= L` in every window, whatever the charges; and `U <= L + C`.
    #[test]
    fn admitted_never_exceeds_the_limit(
        (n, l, k, w, i, timers) in setup(),
        arr in arrivals(8, 16, 900, 600, 6, -6..=20, 120),
    ) {
        let arr = on_cores(arr, n);
        let mut sim = Sim::new(spec(Kind::TotalTokens, l, w, n, k, i), timers);
        sim.run(&arr, 900 + w);
        for (e, t) in &sim.windows {
            prop_assert!(t.admitted - t.refunds <= l, "window {e}: {t:?} L={l}");
            prop_assert!(t.total() <= l + t.charges, "window {e}: {t:?} L={l}");
        }
    }

    /// B2: with charges beyond the reservation (no refunds), what is admitted once the
    /// window's total has reached `L` is at most `N · a_max`.
    #[test]
    fn over_admission_after_the_fact_is_bounded(
        (n, l, k, w, i, timers) in setup(),
        arr in arrivals(8, 16, 600, 700, 4, 0..=40, 80),
    ) {
        let arr = on_cores(arr, n);
        let mut sim = Sim::new(spec(Kind::OutputTokens, l, w, n, k, i), timers);
        sim.run(&arr, 600 + w);
        let bound = sim.bound();
        for (e, t) in &sim.windows {
            prop_assert!(t.excess <= bound, "window {e}: {t:?} L={l} bound={bound}");
            prop_assert!(t.admitted <= l, "window {e}: {t:?}");
            prop_assert!(t.total() <= l + t.charges, "window {e}: {t:?}");
        }
    }

    /// Tolerance: under demand above `L` to the window's end (core 0 busy every ms,
    /// the others at a random rate), every window admits at least
    /// `L - N · a_max - (c_max - 1)`.
    #[test]
    fn steady_load_reaches_the_limit(
        (n, k, i, timers) in setup().prop_map(|(n, _, k, _, i, t)| (n, k, i, t)),
        (w, other_pct, cmax, seed) in (100u64..=300, 0u64..=100, 1i64..=4, any::<u64>()),
        l_frac in 1u64..=100,
    ) {
        // Core 0 alone asks for at least `w` units a window: keep L at most half that.
        let l = i64::try_from((w / 2 * l_frac / 100).max(1)).unwrap();
        let windows = 3;
        let mut rng = Rng(seed);
        let mut arr = Vec::new();
        for at in 0..windows * w {
            for core in 0..n as usize {
                if core == 0 || rng.chance(other_pct) {
                    let cost = i64::try_from(rng.range(1, cmax as u64)).unwrap();
                    arr.push(Arrival { at, core, cost, actual: cost, duration: 0 });
                }
            }
        }
        let mut sim = Sim::new(spec(Kind::Requests, l, w, n, k, i), timers);
        sim.run(&arr, windows * w);
        let floor = l - sim.bound() - (cmax - 1);
        for (e, t) in &sim.windows {
            prop_assert!(t.admitted >= floor, "window {e}: {t:?} L={l} floor={floor}");
            prop_assert!(t.admitted <= l, "window {e}: {t:?}");
        }
    }

    /// Concurrency: never more than `L` in flight, and every permit comes back.
    #[test]
    fn concurrency_never_exceeds_the_limit(
        (n, l, k, _w, i, timers) in setup(),
        arr in arrivals(8, 8, 500, 400, 1, -1..=-1, 150),
    ) {
        let l = l.min(40);
        let arr: Vec<Arrival> = on_cores(arr, n)
            .into_iter()
            .map(|a| Arrival { actual: 0, ..a })
            .collect();
        let mut sim = Sim::new(spec(Kind::Concurrent, l, 3_600_000, n, k, i), timers);
        sim.run(&arr, 700);
        prop_assert!(sim.max_in_flight <= l, "max in flight {} > L={l}", sim.max_in_flight);
        prop_assert_eq!(sim.in_flight, 0);
        // Idle cores give their permits back on their timers; then one core can take
        // them all.
        for (c, core) in sim.cores.iter_mut().enumerate() {
            core.tick(1_000 + c as u64);
            core.tick(2_000);
        }
        let took = (0..l + 1)
            .filter(|_| sim.cores[0].admit(super::sim::KEY, 1, 2_001).is_ok())
            .count();
        prop_assert_eq!(took as i64, l);
    }
}

/// Folds arrivals generated for 8 cores onto `n` (core 0 keeps its extra share).
fn on_cores(arr: Vec<Arrival>, n: u32) -> Vec<Arrival> {
    arr.into_iter()
        .map(|a| Arrival {
            core: a.core % n as usize,
            ..a
        })
        .collect()
}
