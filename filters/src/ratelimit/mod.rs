//! Rate limits, token and spend quotas, and concurrency limits: per-core buckets that
//! draw allowances from a shared budget lazily (DESIGN.md §1.2, §5).
//!
//! # What a limit means
//!
//! A limit is `L` units per fixed window of `W` (seconds to days), per key. Windows are
//! aligned to the Unix epoch: window `e` is `[e·W, (e+1)·W)` in wall-clock ms, the same
//! on every core and every instance (a day window starts at 00:00 UTC). "`L` per window"
//! bounds the units admitted *within each such window*; it is not a sliding bound: a
//! client may use `L` at the end of one window and `L` at the start of the next, so any
//! span of length `W` that straddles a boundary can see up to `2L`.
//!
//! Units are what the [`Kind`] counts: requests (cost 1), LLM tokens (input, output or
//! total: only the amount charged differs), spend (integer micro-dollars), or permits
//! for a concurrency limit (no window; see below). Keys are opaque hashes
//! ([`LimitKey`], built by [`KeyBuilder`] from consumer, group, route, model, client IP
//! or a header's value).
//!
//! Why fixed windows and not a sliding window or GCRA: a window's budget is one integer
//! per key (`taken`), which can be handed out in exact pieces. That is what lets each
//! core hold a share of it and stay exact without talking to the others, lets charges
//! known only after the response (tokens, spend) subtract from the same integer, gives
//! every core and instance the same reset time for `RateLimit-Reset`, and makes the
//! Redis state one key per window that expires by itself. A GCRA's state is a
//! theoretical arrival time that moves with every admission; splitting it into
//! per-core shares makes the error depend on the rates. The price is the boundary burst
//! above; a shorter window (or a second, shorter limit) bounds it.
//!
//! # The algorithm
//!
//! Per key and window the shared cell ([`SharedCell`]) holds `taken`: allowance handed
//! out plus debt pushed, minus allowance given back. Each core holds, per key, a local
//! `balance` ([`Shard`]). A request of cost `c` is admitted iff `balance >= c` (and the
//! key is not known to be below zero); the core subtracts `c` from its own memory and is
//! done. When the balance cannot cover a request, the core *exchanges* with the cell: it
//! gives back its balance and asks for `want`; the cell applies, atomically,
//!
//! ```text
//! taken' = max(0, taken - returned + charged)
//! granted = clamp(want, 0, L - taken')        taken'' = taken' + granted
//! ```
//!
//! ([`exchange_budget`]). `want` adapts to the key's rate on this core: about two sync
//! intervals of its observed demand (a moving average), at least the request's cost,
//! at most `a_max = max(1, ⌊L / (N·k)⌋)` (`N` cores, `k = share_divisor`, default 4).
//! A cold key asks for exactly what its request needs and keeps nothing; a hot key asks
//! for enough to last about two intervals. On a timer (every sync interval `I`, default
//! 5 ms) a core exchanges each key that holds allowance, debt or unmet demand: an idle
//! key gives everything back and is then clean (nothing to visit, nothing held), and
//! after `idle_ttl` it leaves the core's bounded map.
//!
//! Charges known after the fact (tokens from the usage, spend, a settle above the
//! reservation) subtract from the balance and may drive it below zero; the core then
//! exchanges at once, pushing the debt into `taken`. An answer with `taken > L` tells
//! the core the key is below zero: it refuses the key until the window ends, or until a
//! later exchange finds budget again. Admission may reserve an estimate
//! ([`Ticket`]) and settle to the real cost later: the difference is a charge or a
//! refund; a refund of a window that is over is dropped.
//!
//! # Bounds (one instance, `N` cores, in-process cell)
//!
//! Let `A` be the units admitted in a window, `R` the refunds applied in it, `C` the
//! charges beyond reservations applied in it, and `U = A - R + C` the window's total.
//! The accounting identity is `taken = U + Σ balances`, with every balance `>= 0`
//! outside a call (debt is pushed at once), and a grant never lifts `taken` above `L`.
//!
//! - **B1, exact up front.** `A - R <= L`. When costs are known at admission (requests,
//!   concurrency, tokens or spend whose reservation is never exceeded) the instance
//!   never admits more than `L` in a window: over-admission 0. Proof: every admitted
//!   unit was granted first, and grants stop at `L`.
//! - **B2, over-admission after the fact.** `U <= L + C`: charges beyond the
//!   reservation can push the total past `L` (no limiter can refuse a cost already
//!   incurred). From the moment `U >= L`, no core is granted anything
//!   (`taken = U + Σ balances >= L`), so the instance admits at most what the cores
//!   already hold, each at most `a_max`:
//!
//!   ```text
//!   over-admission per instance  <=  N · a_max  =  N · max(1, ⌊L / (N·k)⌋)  <=  max(N, L/k)
//!   ```
//!
//!   units (plus refunds applied after that moment, which lowered `U` first). With a
//!   reservation of at least 1 unit per request, that is also at most `N · a_max`
//!   requests admitted after the budget ran out. A limit that reserves nothing (cost 0)
//!   bounds the count of such requests by nothing; pair it with a requests or
//!   concurrency limit.
//! - **Tolerance.** Under demand above `L` that lasts to the window's end, with every
//!   core's timer running, `A >= L - N · a_max - (c_max - 1)`: what is not admitted is
//!   at most what cores hold unused or gave back within a timer period of the window's
//!   end, and a partial grant smaller than the request at hand (`c_max` the largest
//!   cost).
//! - **Concurrency** (a semaphore with per-core shares of permits; release = a refund).
//!   In flight `<= L` at every instant (B1). It may refuse while other cores hold
//!   unused permits (up to `a_max` each, plus what they released since their last
//!   timer) until their next timer gives them back (`<= I`). Its in-process
//!   table rotates every `window` (default 1 h) to bound memory; the previous
//!   generation's permits keep counting, so a permit held across two rotations (longer
//!   than one `window`) stops counting: set `window` above the longest request.
//! - **Remaining** ([`Quota::remaining`]) is approximate: this core's balance plus the
//!   global remainder at its last exchange; high by at most the other cores' use since
//!   their last exchanges.
//!
//! The property tests in `tests/` drive `N` simulated cores (random arrivals, random
//! timer phases, one hot core, charges after the fact) over one in-process cell and
//! check B1, B2 and the tolerance against an oracle that sees every admission; seeded
//! scenarios replay named cases; a threaded test checks B1 and the concurrency bound
//! with real threads; `tests/remote.rs` checks the bound across instances below.
//!
//! # Why the hot path touches nothing shared
//!
//! An admission from the balance is a hash lookup in the core's own map and an integer
//! comparison: no lock, no atomic, no cache line another core writes. The cell is
//! touched only by exchanges: per key and core at most once per `I` on the timer, plus
//! when the balance runs dry. A hot key asks for two intervals' worth, so it runs dry
//! about once per interval whatever its rate, until `a_max` binds (rate above
//! `a_max / 2I`, i.e. the window's budget drains in under about `2k·N` intervals); a
//! cold key (under one request per interval) exchanges on each request, which is what
//! keeps it exact without stranding allowance on idle keys. The in-process exchange is
//! a few loads and one CAS on the key's own slot ([`InProcessCell`]).
//!
//! # Across instances: Redis
//!
//! A Redis cell implements [`SharedCell`] with `IMMEDIATE = false`: `exchange` queues
//! the exchange on the core's Redis connection (`EVALSHA` of
//! [`redis::EXCHANGE_SCRIPT`], which applies the same rule atomically and sets the key
//! to expire a window after its window ends) and answers [`Reply::Pending`]; the
//! worker hands the reply to [`Shard::complete`] (or `None` on error or time-out, which
//! applies the limit's [`FailMode`]). During the round trip the core keeps what it
//! held up to its `want` and goes on admitting from it, so no request waits for Redis
//! in the common case. Calls per hot key are at most `M · N / I` per second for `M`
//! instances (plus the dry exchanges above), whatever the request rate.
//!
//! When a core holds nothing for a key and its exchange is out ([`Shard::awaiting`]),
//! the limit's policy decides: failing closed, the request is refused here and the
//! gateway may wait for the answer and ask again ([`LimitCtx::await_exchange`]; the
//! wait is the connection driver's, `core/src/redis/`); failing open, the shard admits
//! on credit: the balance goes below zero by at most `max(a_max, cost)` while the last
//! answer left budget, and the debt is pushed with the answer. The credit adds at most
//! `a_max` per core and key to the bounds below (B1 then holds only up to `M · N ·
//! a_max`).
//!
//! Across `M` instances B1 still holds (Redis hands out grants atomically, and a core
//! keeps at most its `want`). B2 gains a term for the round trip `RTT`: a debt waits
//! for an exchange already out (`<= RTT`), then travels to Redis (`RTT/2`), and what
//! Redis granted before it arrived reaches its core `RTT/2` later. So, with `T(d)` the
//! units the cluster admits in `d` ms after the window's total reaches `L`:
//!
//! ```text
//! over-admission across M instances  <=  M · N · a_max  +  T(2 · RTT)
//! ```
//!
//! (the cores' allowances, plus two round trips of traffic; `tests/remote.rs` checks
//! it with a simulated store). Clock skew between instances moves their window
//! boundaries by the skew; keep clocks synchronised (NTP).
//!
//! # In the gateway
//!
//! `[rate_limits]` of the config is a [`RateLimitConfig`]. The control plane builds a
//! [`RateLimitShared`] per config generation (the key hasher and one in-process cell
//! per limit; a reload carries the cell of every limit that did not change, so budgets
//! survive it). Each worker compiles its own [`RateLimits`] from it: a [`Limiter`]
//! over [`LimitCell`]s (in-process, or a remote cell the core crate provides through
//! [`RemoteExchange`]), which puts a [`RateLimitFilter`] on every route a limit applies
//! to, and which the worker's limit timer ticks every sync interval. `gate.rs` holds
//! the phases (request head; `on_llm_request` for token, spend and per-model limits;
//! the settle in `on_log`, which runs for every request) and the keys, `reserve.rs` the
//! LLM reservations and settles, `answer.rs` the 429 and its fields.
//!
//! The bounds above, for an operator, in one line each (`N` workers, `k` =
//! `sync.share_divisor`, `a_max = max(1, ⌊L / (N·k)⌋)`):
//!
//! ```text
//! requests, concurrency, reservations never exceeded   over-admission 0 (B1)
//! charges after the fact (tokens, spend), one instance <= N · a_max units (B2)
//! while a reloaded generation still serves requests    <= (N + N_old) · a_max
//! M instances sharing Redis                            <= M · N · a_max + T(2 · RTT)
//! ```
//!
//! `T(2·RTT)` is what the cluster admits in two Redis round trips: with a round trip
//! under half the sync interval (0.1-1 ms on a LAN against the default 5 ms), less
//! than one sync interval's traffic across the instances.
//!
//! No I/O here, and no clock below the filter: the filter reads the clock once per
//! phase ([`unix_ms`]) and every function below it takes `now` (ms since the Unix
//! epoch).

mod answer;
mod bucket;
mod cell;
mod config;
mod counters;
mod gate;
mod in_process;
mod key;
mod limiter;
mod lru;
pub mod redis;
mod reserve;
mod shard;
mod shared;
mod spec;
#[cfg(test)]
mod tests;

pub use cell::{exchange_budget, Exchange, Grant, Reply, SharedCell};
pub use config::{key_char, parse_redis_address, resolve_secret, KeySecret, RedisConfig};
pub use config::{InvalidLimit, KeyPart, LimitConfig, RateLimitConfig, Span, SyncConfig};
pub use counters::{CounterValues, LimitCounters};
pub use gate::{unix_ms, LimitCtx, RateLimitFilter, RateLimits};
pub use in_process::InProcessCell;
pub use key::{KeyBuilder, KeyHasher, LimitKey};
pub use limiter::{Ask, LimitId, Limiter, Refused, Ticket, Usage};
pub use shard::{Admitted, Shard, ShardStats};
pub use shared::{LimitCell, RateLimitShared, RemoteExchange, RemoteFor};
pub use spec::{max_allowance, Denial, DenyReason, FailMode, Kind, LimitSpec, Quota, MAX_LIMIT};
