//! The Redis link against a real `redis-server` (started by each test on a free
//! loopback port): shards of two "instances" (each core its own link and connection,
//! as in the gateway) driven directly, one thread, on a monoio runtime.
//!
//! What is checked: the budget is exact across instances (never more than `L` admitted
//! for costs known up front, Redis's `taken` equal to what was admitted once the cores
//! gave back, and the limit reached within the tolerance); a concurrency limit's permits
//! across instances; Redis down (fail closed: refused; fail open: the local share),
//! then back (shared again); a flushed script cache; `AUTH`; a paused server (time-outs);
//! and that a caller can wait for a pending exchange's answer.
//!
//! Time: shards get a synthetic clock that starts at the beginning of the next hour
//! (so no window boundary falls inside a test) and advances with the real clock; Redis
//! keys expire a window after that, in the future.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tollgate::config::DriverChoice;
use tollgate::redis::link::run;
use tollgate::redis::{ConnectTo, LinkLimit, RedisLink, RedisMetrics, RedisSettings};
use tollgate::runtime::driver::run_on_driver;
use tollgate_filters::ratelimit::redis::key_name;
use tollgate_filters::ratelimit::{
    DenyReason, FailMode, Kind, LimitCell, LimitId, LimitKey, LimitSpec, RemoteExchange, Shard,
};
use tollgate_tests::RedisServer;

const WINDOW_MS: u64 = 3_600_000;
const KEY: LimitKey = LimitKey(0x5eed);

fn block_on<F: Future>(f: impl FnOnce() -> F) -> F::Output {
    run_on_driver(DriverChoice::Auto, 256, false, 0, |_| {}, |_| f()).expect("monoio runtime")
}

/// The synthetic clock: the start of the next hour, plus real time since `start`.
#[derive(Clone, Copy)]
struct Clock {
    base: u64,
    start: Instant,
}

impl Clock {
    fn new() -> Clock {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        Clock {
            base: (real / WINDOW_MS + 1) * WINDOW_MS,
            start: Instant::now(),
        }
    }
    fn now(&self) -> u64 {
        self.base + self.start.elapsed().as_millis() as u64
    }
    fn epoch(&self) -> u64 {
        self.base / WINDOW_MS
    }
}

fn settings(redis: &RedisServer, password: Option<&str>) -> RedisSettings {
    RedisSettings {
        connect: ConnectTo {
            addr: redis.addr().parse().unwrap(),
            connect_timeout: Duration::from_millis(200),
            auth: password.map(|p| (None, p.to_string())),
        },
        prefix: "tgtest".into(),
        call_timeout: Duration::from_millis(100),
    }
}

/// One core of one instance: its shard, and the link (own connection) it exchanges
/// through, with the link's task running.
struct Core {
    shard: Rc<RefCell<Shard<LimitCell>>>,
    link: Rc<RedisLink>,
    metrics: Arc<RedisMetrics>,
}

impl Core {
    fn new(settings: RedisSettings, spec: &LimitSpec, name: &str, clock: Clock) -> Core {
        let metrics = Arc::new(RedisMetrics::default());
        let limits = vec![LinkLimit {
            name: name.into(),
            fail: spec.fail,
        }];
        let link = RedisLink::new(settings, limits, metrics.clone());
        let cell: Rc<dyn RemoteExchange> = link.clone();
        let shard = Rc::new(RefCell::new(Shard::new(
            spec.clone(),
            LimitCell::Remote {
                limit: LimitId(0),
                cell,
            },
        )));
        let target = Rc::downgrade(&shard);
        monoio::spawn(run(link.clone(), move |answers| {
            let Some(s) = target.upgrade() else {
                return false;
            };
            let now = clock.now();
            for a in answers {
                s.borrow_mut().complete(&a.ex, a.grant, now);
            }
            true
        }));
        Core {
            shard,
            link,
            metrics,
        }
    }

    fn admit(&self, cost: i64, now: u64) -> Result<u64, DenyReason> {
        self.shard
            .borrow_mut()
            .admit(KEY, cost, now)
            .map(|a| a.epoch)
            .map_err(|d| d.reason)
    }
}

/// `instances x cores` cores for one limit.
fn cluster(redis: &RedisServer, spec: &LimitSpec, instances: usize, clock: Clock) -> Vec<Core> {
    (0..instances * spec.cores as usize)
        .map(|_| Core::new(settings(redis, None), spec, "rpm", clock))
        .collect()
}

fn spec(kind: Kind, limit: i64, cores: u32, fail: FailMode) -> LimitSpec {
    let mut s = LimitSpec::new(kind, limit, WINDOW_MS, cores);
    s.fail = fail;
    s
}

/// Lets the link tasks run for `ms`, ticking every core each sync interval.
async fn idle(cores: &[Core], clock: Clock, ms: u64) {
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until {
        for c in cores {
            c.shard.borrow_mut().tick(clock.now());
        }
        monoio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Offers `per_round[i]` requests to core `i` every millisecond for `ms`, ticking every
/// 5 ms; returns what each core admitted.
async fn load(cores: &[Core], per_round: &[usize], clock: Clock, ms: u64) -> Vec<i64> {
    let mut admitted = vec![0i64; cores.len()];
    let until = Instant::now() + Duration::from_millis(ms);
    let mut last_tick = 0;
    while Instant::now() < until {
        let now = clock.now();
        for (i, c) in cores.iter().enumerate() {
            for _ in 0..per_round[i] {
                if c.admit(1, now).is_ok() {
                    admitted[i] += 1;
                }
            }
        }
        if now >= last_tick + 5 {
            last_tick = now;
            for c in cores {
                c.shard.borrow_mut().tick(now);
            }
        }
        monoio::time::sleep(Duration::from_millis(1)).await;
    }
    admitted
}

fn budget_key(clock: Clock, epoch: u64) -> String {
    let mut k = String::new();
    key_name(&mut k, "tgtest", "rpm", KEY, epoch);
    let _ = clock;
    k
}

#[test]
fn two_instances_share_one_budget_exactly() {
    let redis = RedisServer::start();
    let clock = Clock::new();
    let l = 2_000;
    let s = spec(Kind::Requests, l, 2, FailMode::Closed);
    let a_max = s.max_allowance;
    block_on(|| async {
        let cores = cluster(&redis, &s, 2, clock);
        // Below the limit first: every request passes, and once the cores are idle they
        // have given back what they held, so Redis holds exactly what was admitted.
        let below = load(&cores, &[2, 1, 1, 0], clock, 150).await;
        let first: i64 = below.iter().sum();
        assert!(first > 200 && first < l, "{below:?}");
        let tracking: usize = cores.iter().map(|c| c.shard.borrow().keys()).sum();
        assert!(tracking > 0, "no core tracks the key");
        idle(&cores, clock, 100).await;
        assert_eq!(redis.get_int(&budget_key(clock, clock.epoch())), first);
        // Skewed demand above the limit: instance A's first core hot, the others warm
        // (about 13 requests per ms in all).
        let admitted = load(&cores, &[8, 2, 2, 1], clock, 1_500).await;
        let total: i64 = first + admitted.iter().sum::<i64>();
        assert!(total <= l, "admitted {total} > L = {l} ({admitted:?})");
        assert!(
            total >= l - 4 * a_max,
            "admitted {total}: more than 4 x a_max = {} short of L ({admitted:?})",
            4 * a_max
        );
        // Give back: with no demand, every core returns what it holds.
        idle(&cores, clock, 100).await;
        for c in &cores {
            assert!(!c.shard.borrow_mut().awaiting(KEY));
        }
        let taken = redis.get_int(&budget_key(clock, clock.epoch()));
        assert_eq!(taken, total, "Redis's taken must equal what was admitted");
        // Whatever was left is there to be taken, and no more.
        let more = load(&cores, &[1, 1, 1, 1], clock, 300).await;
        let total2: i64 = total + more.iter().sum::<i64>();
        assert!(total2 <= l && total2 >= l - 4 * a_max, "{total2}");
        let calls: u64 = cores.iter().map(|c| c.metrics.calls.get()).sum();
        assert!(calls > 0);
        assert_eq!(redis.command_calls("evalsha"), calls);
        let fallbacks: u64 = cores
            .iter()
            .map(|c| c.metrics.fallbacks.iter().map(|f| f.get()).sum::<u64>())
            .sum();
        assert_eq!(fallbacks, 0);
    });
}

#[test]
fn a_concurrency_limit_holds_across_instances() {
    let redis = RedisServer::start();
    let clock = Clock::new();
    let l = 8;
    let s = spec(Kind::Concurrent, l, 2, FailMode::Closed);
    block_on(|| async {
        let cores = cluster(&redis, &s, 2, clock);
        // Permits held per core: (epoch of the admission).
        let mut held: Vec<Vec<u64>> = vec![Vec::new(); cores.len()];
        let mut peak = 0;
        let mut granted = 0;
        let until = Instant::now() + Duration::from_millis(1_000);
        let mut step = 0u64;
        while Instant::now() < until {
            step += 1;
            let now = clock.now();
            for (i, c) in cores.iter().enumerate() {
                // Acquire on most steps, release one on some: demand above the limit.
                if !(step + i as u64).is_multiple_of(3) {
                    if let Ok(epoch) = c.admit(1, now) {
                        held[i].push(epoch);
                        granted += 1;
                    }
                } else if let Some(epoch) = held[i].pop() {
                    c.shard.borrow_mut().settle(KEY, epoch, 1, 0, now);
                }
                let in_flight: usize = held.iter().map(Vec::len).sum();
                assert!(in_flight <= l as usize, "{in_flight} permits out > {l}");
                peak = peak.max(in_flight);
            }
            if step.is_multiple_of(5) {
                for c in &cores {
                    c.shard.borrow_mut().tick(now);
                }
            }
            monoio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(peak >= l as usize / 2, "peak {peak}: permits stranded");
        assert!(
            granted > 4 * l,
            "released permits were not reused: {granted}"
        );
    });
}

#[test]
fn redis_down_fails_closed_and_sharing_resumes_when_it_is_back() {
    let mut redis = RedisServer::start();
    let clock = Clock::new();
    let l = 100_000;
    let mut s = spec(Kind::Requests, l, 2, FailMode::Closed);
    s.max_allowance = 20;
    block_on(|| async {
        let cores = cluster(&redis, &s, 1, clock);
        let before = load(&cores, &[3, 3], clock, 200).await;
        assert!(before.iter().all(|&n| n > 100), "{before:?}");
        redis.stop();
        // The next round trip fails, the reconnection too: the link is down.
        let until = Instant::now() + Duration::from_secs(3);
        while !cores.iter().all(|c| c.link.is_down()) {
            assert!(
                Instant::now() < until,
                "links did not notice Redis was down"
            );
            load(&cores, &[1, 1], clock, 20).await;
        }
        assert!(cores.iter().all(|c| c.metrics.up() == Some(false)));
        // Down and fail closed: what the cores still hold, then refused as unavailable.
        let mut reasons = Vec::new();
        for _ in 0..(2 * s.max_allowance + 10) {
            for c in &cores {
                if let Err(r) = c.admit(1, clock.now()) {
                    reasons.push(r);
                }
            }
        }
        assert!(!reasons.is_empty());
        assert!(
            reasons.iter().all(|r| *r == DenyReason::Unavailable),
            "{reasons:?}"
        );
        let closed: u64 = cores.iter().map(|c| c.metrics.fallbacks[1].get()).sum();
        assert!(closed > 0);
        // Back (empty: no persistence): within the back-off (at most 1 s) plus a round
        // trip, exchanges are answered again and counted in the new server.
        redis.restart();
        let until = Instant::now() + Duration::from_secs(3);
        loop {
            load(&cores, &[1, 1], clock, 50).await;
            if cores.iter().all(|c| !c.link.is_down()) {
                break;
            }
            assert!(Instant::now() < until, "links did not come back");
        }
        let after = load(&cores, &[3, 3], clock, 200).await;
        assert!(after.iter().all(|&n| n > 100), "{after:?}");
        idle(&cores, clock, 100).await;
        let taken = redis.get_int(&budget_key(clock, clock.epoch()));
        assert!(
            taken >= after.iter().sum::<i64>(),
            "taken {taken}, admitted {after:?}"
        );
        assert!(cores.iter().all(|c| c.metrics.up() == Some(true)));
        let connects: u64 = cores.iter().map(|c| c.metrics.connects.get()).sum();
        assert!(connects >= 4, "{connects}");
    });
}

#[test]
fn redis_down_fails_open_to_each_cores_local_share() {
    let mut redis = RedisServer::start();
    let clock = Clock::new();
    let l = 400;
    let mut s = spec(Kind::Requests, l, 2, FailMode::Open);
    // A small a_max, so that the bound when shared (L + 2 x 4 x a_max) is well below
    // what four local shares admit (2 L).
    s.max_allowance = 12;
    redis.stop();
    block_on(|| async {
        // Down from the start: every exchange is answered from the local share.
        let cores = cluster(&redis, &s, 2, clock);
        let admitted = load(&cores, &[5, 5, 5, 5], clock, 400).await;
        for n in &admitted {
            assert_eq!(*n, s.local_share(), "{admitted:?}");
        }
        assert!(cores.iter().all(|c| c.link.is_down()));
        let open: u64 = cores.iter().map(|c| c.metrics.fallbacks[0].get()).sum();
        assert!(open > 0);
        redis.restart();
        // Back: shared again. A new budget (the first window's state was local), so
        // what the cluster admits from now on stays within L.
        let until = Instant::now() + Duration::from_secs(3);
        while cores.iter().any(|c| c.link.is_down()) {
            assert!(Instant::now() < until, "links did not come back");
            idle(&cores, clock, 50).await;
        }
        let more = load(&cores, &[5, 5, 5, 5], clock, 400).await;
        idle(&cores, clock, 100).await;
        let taken = redis.get_int(&budget_key(clock, clock.epoch()));
        let total: i64 = more.iter().sum();
        assert!(taken <= l + 2 * 4 * s.max_allowance, "taken {taken}");
        assert!(total <= l + 2 * 4 * s.max_allowance, "{more:?}");
        assert!(total >= l / 2, "{more:?}: sharing did not resume");
    });
}

#[test]
fn a_flushed_script_cache_is_reloaded_without_losing_an_exchange() {
    let redis = RedisServer::start();
    let clock = Clock::new();
    let l = 100_000;
    let s = spec(Kind::Requests, l, 1, FailMode::Closed);
    block_on(|| async {
        let cores = cluster(&redis, &s, 1, clock);
        let mut total = load(&cores, &[2], clock, 100).await[0];
        for _ in 0..3 {
            assert_eq!(redis.command(&["SCRIPT", "FLUSH"]).text(), "OK");
            total += load(&cores, &[2], clock, 100).await[0];
        }
        idle(&cores, clock, 100).await;
        let m = &cores[0].metrics;
        assert!(m.errors[7].get() >= 1, "no NOSCRIPT seen");
        assert_eq!(m.fallbacks[1].get(), 0, "an exchange was lost");
        assert_eq!(m.connects.get(), 1, "reloading needs no new connection");
        assert_eq!(redis.get_int(&budget_key(clock, clock.epoch())), total);
    });
}

#[test]
fn auth_with_the_right_password_and_refused_with_a_wrong_one() {
    let redis = RedisServer::start_with(&["--requirepass", "s3cret"]);
    let clock = Clock::new();
    let s = spec(Kind::Requests, 1_000, 1, FailMode::Closed);
    block_on(|| async {
        let good = Core::new(settings(&redis, Some("s3cret")), &s, "rpm", clock);
        let bad = Core::new(settings(&redis, Some("wrong")), &s, "rpm", clock);
        let cores = [good, bad];
        let admitted = load(&cores, &[2, 2], clock, 200).await;
        assert!(admitted[0] > 100, "{admitted:?}");
        assert_eq!(admitted[1], 0);
        assert!(cores[1].link.is_down());
        assert!(
            cores[1].metrics.errors[4].get() >= 1,
            "no auth error counted"
        );
        assert_eq!(cores[0].metrics.up(), Some(true));
    });
}

#[test]
fn a_paused_server_times_out_and_the_link_recovers() {
    let redis = RedisServer::start();
    let clock = Clock::new();
    let l = 100_000;
    let mut s = spec(Kind::Requests, l, 1, FailMode::Closed);
    s.max_allowance = 20;
    block_on(|| async {
        let cores = cluster(&redis, &s, 1, clock);
        let before = load(&cores, &[2], clock, 100).await[0];
        assert!(before > 50);
        // Every command waits 600 ms: round trips (100 ms) and handshakes (200 ms) time
        // out, then the server answers again.
        redis.command(&["CLIENT", "PAUSE", "600", "ALL"]);
        let during = load(&cores, &[2], clock, 400).await[0];
        let m = &cores[0].metrics;
        assert!(m.errors[1].get() >= 1, "no time-out counted");
        assert!(m.fallbacks[1].get() >= 1);
        // What the core still held (at most a_max, plus one grant in flight) passed.
        assert!(
            during <= 2 * s.max_allowance,
            "{during} admitted while paused"
        );
        let until = Instant::now() + Duration::from_secs(3);
        loop {
            let n = load(&cores, &[2], clock, 100).await[0];
            if n > 50 && !cores[0].link.is_down() {
                break;
            }
            assert!(Instant::now() < until, "the link did not recover");
        }
        // Answers that came too late are lost to the core, never to the budget: Redis
        // counts at least what was admitted.
        idle(&cores, clock, 100).await;
        let taken = redis.get_int(&budget_key(clock, clock.epoch()));
        assert!(taken >= before + during, "taken {taken}");
    });
}

#[test]
fn a_request_can_wait_for_its_exchange() {
    let redis = RedisServer::start();
    let clock = Clock::new();
    let s = spec(Kind::Requests, 10, 1, FailMode::Closed);
    block_on(|| async {
        let cores = cluster(&redis, &s, 1, clock);
        let c = &cores[0];
        // A cold key on a fail-closed limit: nothing held, the exchange goes out.
        assert_eq!(c.admit(1, clock.now()), Err(DenyReason::Exhausted));
        assert!(c.shard.borrow_mut().awaiting(KEY));
        let seq = c.link.queued_seq();
        let t = Instant::now();
        assert!(c.link.settled(seq, c.link.max_wait()).await);
        assert!(
            t.elapsed() < Duration::from_millis(300),
            "{:?}",
            t.elapsed()
        );
        assert!(!c.shard.borrow_mut().awaiting(KEY));
        assert!(c.admit(1, clock.now()).is_ok());
    });
}
