//! Cluster mode for rate limits: each core's connection to Redis, where the global
//! budgets live when `[rate_limits.redis]` is set (DESIGN.md §5, "a Redis key across
//! instances").
//!
//! # What it owns
//!
//! - [`conn`]: one TCP connection (monoio) with the handshake (`AUTH`, `SCRIPT LOAD`)
//!   and pipelined round trips, every wait bounded by a time-out.
//! - [`link`]: [`RedisLink`], one per core and config generation: the remote cell
//!   (`RemoteExchange`) the generation's shards hand their exchanges to, and the task
//!   that sends them and hands the answers back to the shards; reconnects with
//!   back-off; up/down state and its log lines.
//! - [`metrics`]: the `tollgate_ratelimit_redis_*` series.
//!
//! The exchange itself (the Lua script, key names, arguments, reading the answer) is
//! sans-I/O in `tollgate_filters::ratelimit::redis`; RESP2 is `tollgate_proto::resp`.
//!
//! # Invariants
//!
//! - Thread per core: a link, its queue and its connection belong to one worker (`Rc`,
//!   `RefCell`, `Cell`); nothing here locks or is shared with another core. The only
//!   process-wide state is a count of links that are down, so that "Redis is down" is
//!   logged once, not once per worker.
//! - No Redis call on a request's path: an exchange is queued (a `Vec` push) and the
//!   request goes on. Exchanges are made by a shard only on its sync timer (each key at
//!   most once per interval) or when a core's allowance for a key runs dry, so calls per
//!   hot key and instance are at most about `cores / sync interval` per second whatever
//!   the request rate.
//! - Bounded: the queue (`MAX_QUEUED`, past it the limit's policy applies), each
//!   pipeline (`MAX_PIPELINE` exchanges), each reply (`resp::Limits`), each wait
//!   (`connect_timeout`, `call_timeout`), the reconnection rate (back-off up to 1 s).
//! - An exchange Redis did not answer is handed back as `None`; the shard applies the
//!   limit's `on_unavailable` policy to it. While the link is down, exchanges are not
//!   queued at all: the policy applies at once.

pub mod conn;
pub mod link;
pub mod metrics;

use std::time::Instant;

use tollgate_filters::{Flow, RequestCtx};

pub use conn::{ConnectTo, RedisError};
pub use link::{spawn, Answer, LinkLimit, RedisLink, RedisSettings};
pub use metrics::RedisMetrics;

/// Tries a request waiting for exchanges gets at most (the first check included).
const MAX_TRIES: u32 = 4;

/// On a request's path, the one place it may wait for Redis: a fail-closed limit
/// refused it only because this core holds nothing for the key and its exchange is out
/// (`ctx.limits.await_exchange`, set by the rate-limit filter). Then this waits for
/// the exchanges queued so far to be answered and runs `again` (the route's filters
/// from its rate-limit filter on). Several requests may wait on one exchange whose
/// grant covers only some of them; the others wait for the next, until `MAX_TRIES`
/// tries or [`RedisLink::max_wait`] (a reconnection plus a round trip) in all. The last
/// try's outcome is final (a refusal then is counted). Otherwise `first` stands.
pub async fn recheck_after_exchange(
    link: Option<&RedisLink>,
    ctx: &mut RequestCtx,
    first: Flow,
    mut again: impl FnMut(&mut RequestCtx) -> Flow,
) -> Flow {
    if !std::mem::take(&mut ctx.limits.await_exchange) {
        return first;
    }
    drop(first);
    let Some(link) = link else {
        ctx.limits.no_wait = true;
        let flow = again(ctx);
        ctx.limits.no_wait = false;
        return flow;
    };
    let deadline = Instant::now() + link.max_wait();
    let mut tries = 1;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        link.settled(link.queued_seq(), left).await;
        tries += 1;
        ctx.limits.no_wait = tries >= MAX_TRIES || Instant::now() >= deadline;
        let flow = again(ctx);
        if !std::mem::take(&mut ctx.limits.await_exchange) {
            // A later phase (the LLM one) may wait again.
            ctx.limits.no_wait = false;
            return flow;
        }
    }
}
