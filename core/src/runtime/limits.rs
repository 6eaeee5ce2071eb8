//! A worker's rate-limit timer: every `rate_limits.sync.interval` (default 5 ms) it
//! runs [`RateLimits::tick`] on this core's limits, which reconciles the keys that hold
//! allowance, debt or unmet demand with the shared budget and lets idle keys expire. A
//! key nobody uses is clean after one tick and costs nothing after that; with no limits
//! configured the task only looks for a new config generation once per `runtime.tick`.
//!
//! The limits of an older generation are ticked too while requests admitted on it are
//! still running (it holds allowance and owes settles); they give everything back when
//! the last of those requests ends and the generation is dropped. The task holds them
//! weakly, so it never keeps an old generation alive.

use std::rc::{Rc, Weak};
use std::time::Duration;

use tollgate_filters::ratelimit::{unix_ms, RateLimits};

use super::Worker;

pub(super) async fn run(worker: Rc<Worker>) {
    let mut current: Option<Rc<RateLimits>> = None;
    let mut older: Vec<Weak<RateLimits>> = Vec::new();
    loop {
        let cc = worker.current();
        let latest = cc.rate_limits.clone();
        let idle = cc.config.runtime.tick.get().max(Duration::from_millis(1));
        drop(cc);
        let same = match (&current, &latest) {
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            if let Some(prev) = current.take() {
                older.push(Rc::downgrade(&prev));
            }
            current = latest;
        }
        let now = unix_ms();
        if let Some(rl) = &current {
            rl.tick(now);
        }
        older.retain(|w| match w.upgrade() {
            Some(rl) => {
                rl.tick(now);
                true
            }
            None => false,
        });
        let wait = current.as_ref().map_or(idle, |rl| {
            Duration::from_millis(rl.sync_interval_ms().max(1))
        });
        monoio::time::sleep(wait).await;
    }
}
