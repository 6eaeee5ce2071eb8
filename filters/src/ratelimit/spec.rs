//! A compiled limit ([`LimitSpec`]), the window arithmetic, and what an answer carries
//! back to the client ([`Quota`], [`Denial`]).
//!
//! Time is always an argument: `now` is milliseconds since the Unix epoch, read by the
//! caller (a worker reads its clock once per request). Windows are aligned to the Unix
//! epoch, so every core and every instance agree on where a window starts (a day window
//! runs from 00:00 UTC) without talking to each other.

use serde::{Deserialize, Serialize};

/// What a limit counts. Every kind is an amount of units taken from a budget; the kinds
/// differ only in what the caller passes as the cost and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Requests per window: each admission costs 1, known up front.
    Requests,
    /// Requests in flight: a permit per request, given back when it ends. No window; the
    /// budget is a semaphore (see the module doc for its own bound).
    Concurrent,
    /// Prompt tokens per window.
    InputTokens,
    /// Completion tokens per window.
    OutputTokens,
    /// Prompt plus completion tokens per window.
    TotalTokens,
    /// Spend per window, in integer micro-dollars (1 USD = 1_000_000).
    Spend,
}

impl Kind {
    /// Whether the budget renews every window (all but [`Kind::Concurrent`]).
    pub fn is_windowed(self) -> bool {
        !matches!(self, Kind::Concurrent)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Requests => "requests",
            Kind::Concurrent => "concurrent",
            Kind::InputTokens => "input_tokens",
            Kind::OutputTokens => "output_tokens",
            Kind::TotalTokens => "total_tokens",
            Kind::Spend => "spend",
        }
    }
}

/// What a shard does when the shared cell cannot answer (its table is full, or, for a
/// remote cell, the store is down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Keep limiting with a local-only budget: each core may admit `ceil(L / cores)` per
    /// window on its own. Across instances this admits up to `instances x L`.
    Open,
    /// Refuse what the local allowance cannot cover until the cell answers again.
    Closed,
}

/// The largest limit accepted: far below `i64::MAX`, so that sums of limits, debts and
/// allowances never come near overflow, and exact in a Lua (double) number.
pub const MAX_LIMIT: i64 = 1 << 50;

/// One limit, compiled for one process with `cores` workers. Cheap to clone; every core
/// holds a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSpec {
    pub kind: Kind,
    /// `L`: units per window, or permits for [`Kind::Concurrent`]. `1..=MAX_LIMIT`.
    pub limit: i64,
    /// `W` in ms. For [`Kind::Concurrent`] the generation period of the in-process table
    /// (how long a permit may stay out before it stops counting; see the module doc).
    pub window_ms: u64,
    /// How often a core reconciles a key it holds allowance for.
    pub sync_interval_ms: u64,
    /// `a_max`: the most allowance one core may hold for one key, `>= 1`.
    pub max_allowance: i64,
    /// Keys one core tracks for this limit before it evicts the least recently used.
    pub max_keys_per_core: usize,
    /// A key untouched this long is dropped from a core's map (its state returned first).
    pub idle_ttl_ms: u64,
    pub fail: FailMode,
    /// Workers in this process that may hold allowance for this limit.
    pub cores: u32,
}

impl LimitSpec {
    /// A spec with the default tuning: sync every 5 ms, `a_max = max(1, L / (4 x cores))`.
    pub fn new(kind: Kind, limit: i64, window_ms: u64, cores: u32) -> LimitSpec {
        let cores = cores.max(1);
        let limit = limit.clamp(1, MAX_LIMIT);
        LimitSpec {
            kind,
            limit,
            window_ms: window_ms.max(1),
            sync_interval_ms: 5,
            max_allowance: max_allowance(limit, cores, 4),
            max_keys_per_core: 65_536,
            idle_ttl_ms: 10_000,
            fail: FailMode::Closed,
            cores,
        }
    }

    /// The window `now` falls in: `floor(now / W)`.
    #[inline]
    pub fn epoch(&self, now: u64) -> u64 {
        now / self.window_ms
    }

    /// When window `epoch` ends (the first ms of the next one).
    #[inline]
    pub fn window_end(&self, epoch: u64) -> u64 {
        epoch.saturating_add(1).saturating_mul(self.window_ms)
    }

    /// The over-admission bound of one instance: `cores x a_max` (module doc, B2).
    pub fn instance_bound(&self) -> i64 {
        i64::from(self.cores).saturating_mul(self.max_allowance)
    }

    /// What one core may admit per window when the cell is unavailable and the limit
    /// fails open: `ceil(L / cores)`.
    pub fn local_share(&self) -> i64 {
        let cores = i64::from(self.cores);
        (self.limit + cores - 1) / cores
    }
}

/// `a_max = max(1, floor(L / (cores x k)))`: with `k = 4`, all cores together hold at most
/// a quarter of the budget at once.
pub fn max_allowance(limit: i64, cores: u32, share_divisor: u32) -> i64 {
    let d = i64::from(cores.max(1)).saturating_mul(i64::from(share_divisor.max(1)));
    (limit / d).max(1)
}

/// What a 429 (or a success's `RateLimit-*` headers) reports for one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// `RateLimit-Limit`: `L`.
    pub limit: u64,
    /// `RateLimit-Remaining`, approximate: this core's allowance plus the global
    /// remainder as of its last exchange. Other cores' use since then is not in it, so it
    /// may be high by up to `cores x a_max` plus one sync interval of their traffic.
    pub remaining: u64,
    /// `RateLimit-Reset`: ms until the window ends (0 for a concurrency limit).
    pub reset_after_ms: u64,
}

/// Why a request was refused. All map to 429 except as noted by the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The window's budget is spent (or held by other cores and not yet returned).
    Exhausted,
    /// Charges known after the fact drove the key's balance below zero.
    Negative,
    /// The cost alone exceeds the limit: no window can ever admit it.
    TooLarge,
    /// The shared cell cannot answer and the limit fails closed.
    Unavailable,
}

/// A refusal with what the response needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    pub reason: DenyReason,
    pub quota: Quota,
    /// `Retry-After`, in ms (round up to seconds for the header): the window's end when
    /// the budget is spent, one sync interval when allowance may come back sooner.
    pub retry_after_ms: u64,
}
