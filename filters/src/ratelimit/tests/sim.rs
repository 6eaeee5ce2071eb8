//! A deterministic simulation: `N` cores, each a [`Shard`] over one shared
//! [`InProcessCell`], one key, time in 1 ms steps. An oracle sees every admission and
//! charge the moment it happens and keeps, per window, the quantities the bounds of the
//! module doc speak of.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ratelimit::{InProcessCell, Kind, LimitKey, LimitSpec, Shard};

pub(super) const KEY: LimitKey = LimitKey(42);

/// A request reaching `core` at `at`: it reserves `cost`, really costs `actual`, and is
/// settled `duration` ms later.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arrival {
    pub at: u64,
    pub core: usize,
    pub cost: i64,
    pub actual: i64,
    pub duration: u64,
}

/// Per window, as the oracle saw it.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct WindowTotals {
    /// `A`: units admitted.
    pub admitted: i64,
    /// `R`: refunds applied (settles below the reservation).
    pub refunds: i64,
    /// `C`: charges beyond reservations applied.
    pub charges: i64,
    /// The part of admissions beyond `L` of the running total `U = A - R + C`.
    pub excess: i64,
    /// Requests asked for, admitted.
    pub asked: u64,
    pub ok: u64,
}

impl WindowTotals {
    pub fn total(&self) -> i64 {
        self.admitted - self.refunds + self.charges
    }
}

#[derive(Debug, Clone, Copy)]
struct Open {
    due: u64,
    core: usize,
    epoch: u64,
    reserved: i64,
    actual: i64,
}

pub(super) struct Sim {
    pub spec: LimitSpec,
    pub cores: Vec<Shard<Arc<InProcessCell>>>,
    /// Per core: timer period and phase (ms).
    pub timers: Vec<(u64, u64)>,
    pub windows: BTreeMap<u64, WindowTotals>,
    /// Concurrency: permits out now, and the most seen at once.
    pub in_flight: i64,
    pub max_in_flight: i64,
    open: Vec<Open>,
}

impl Sim {
    pub fn new(spec: LimitSpec, timers: Vec<(u64, u64)>) -> Sim {
        let cell = Arc::new(InProcessCell::new(1024));
        let cores = (0..spec.cores)
            .map(|_| Shard::new(spec.clone(), Arc::clone(&cell)))
            .collect();
        Sim {
            spec,
            cores,
            timers,
            windows: BTreeMap::new(),
            in_flight: 0,
            max_in_flight: 0,
            open: Vec::new(),
        }
    }

    /// Timers every sync interval with staggered phases.
    pub fn regular(spec: LimitSpec) -> Sim {
        let i = spec.sync_interval_ms.max(1);
        let timers = (0..u64::from(spec.cores)).map(|c| (i, c % i)).collect();
        Sim::new(spec, timers)
    }

    /// Runs `arrivals` (sorted by `at`) until `end`, then settles what is still open.
    pub fn run(&mut self, arrivals: &[Arrival], end: u64) {
        let mut next = 0;
        for t in 0..end {
            self.step_settles(t);
            while next < arrivals.len() && arrivals[next].at <= t {
                self.arrive(arrivals[next], t);
                next += 1;
            }
            for c in 0..self.cores.len() {
                let (period, phase) = self.timers[c];
                if t % period.max(1) == phase % period.max(1) {
                    self.cores[c].tick(t);
                }
            }
        }
        self.step_settles(u64::MAX);
    }

    fn window(&mut self, t: u64) -> &mut WindowTotals {
        let e = self.spec.epoch(t);
        self.windows.entry(e).or_default()
    }

    fn arrive(&mut self, a: Arrival, t: u64) {
        let limit = self.spec.limit;
        let core = a.core % self.cores.len();
        let r = self.cores[core].admit(KEY, a.cost, t);
        let w = self.window(t);
        w.asked += 1;
        if let Ok(ok) = r {
            let before = w.total();
            w.excess += (before + a.cost - limit.max(before)).clamp(0, a.cost);
            w.admitted += a.cost;
            w.ok += 1;
            self.in_flight += a.cost;
            self.max_in_flight = self.max_in_flight.max(self.in_flight);
            self.open.push(Open {
                due: t + a.duration,
                core,
                epoch: ok.epoch,
                reserved: a.cost,
                actual: a.actual,
            });
        }
    }

    fn step_settles(&mut self, t: u64) {
        let mut i = 0;
        while i < self.open.len() {
            if self.open[i].due > t {
                i += 1;
                continue;
            }
            let o = self.open.swap_remove(i);
            let now = if t == u64::MAX { o.due } else { t };
            self.cores[o.core].settle(KEY, o.epoch, o.reserved, o.actual, now);
            self.in_flight -= o.reserved;
            let delta = o.actual - o.reserved;
            let here = self.spec.epoch(now);
            let windowed = self.spec.kind.is_windowed();
            let w = self.window(now);
            // Where the shard puts it: the current window, except a refund of a window
            // that is over, which is dropped.
            if windowed && (o.epoch == here || delta > 0) {
                if delta > 0 {
                    w.charges += delta;
                } else {
                    w.refunds -= delta;
                }
            }
        }
    }

    /// `N · a_max`: the over-admission bound of B2.
    pub fn bound(&self) -> i64 {
        self.spec.instance_bound()
    }
}

/// A spec for the simulations.
pub(super) fn spec(
    kind: Kind,
    limit: i64,
    window: u64,
    cores: u32,
    k: u32,
    interval: u64,
) -> LimitSpec {
    let mut s = LimitSpec::new(kind, limit, window, cores);
    s.max_allowance = crate::ratelimit::max_allowance(limit, cores, k);
    s.sync_interval_ms = interval;
    s.idle_ttl_ms = window.max(interval);
    s
}

/// SplitMix64: a small seeded generator for the named scenarios.
pub(super) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}
