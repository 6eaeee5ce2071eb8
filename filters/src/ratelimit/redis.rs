//! The Redis cell's wire contract, sans I/O: the Lua script that performs an exchange
//! atomically, the key names, the script's arguments, and the reading of its reply.
//! The connection that sends them, and the `SharedCell` that answers
//! [`Reply::Pending`](super::Reply::Pending) and hands the reply to
//! [`Shard::complete`](super::Shard::complete), are later work.
//!
//! Key: `{prefix}:{<limit>:<key hex>}:<epoch>`. The braces are a Redis Cluster hash tag,
//! so a concurrency limit's two generations (`KEYS[1]`, `KEYS[2]`) live in one slot.
//! The key hash must come from a [`KeyHasher`](super::KeyHasher) whose secret every
//! instance shares, or instances would name the same client differently.

use std::fmt::Write;

use super::cell::{Exchange, Grant};
use super::key::LimitKey;

/// The exchange, run by `EVALSHA` (loaded once per connection with `SCRIPT LOAD`).
///
/// - `KEYS[1]`: the budget of (limit, key, window); its value is `taken`, absent = 0.
/// - `KEYS[2]` (concurrency only): the previous generation's key. Its permits count
///   against the limit; `ARGV[6]` of them are given back to it first.
/// - `ARGV`: `limit`, `returned`, `charged`, `want`, `expire_at_ms`, `prev_returned`
///   (integers, [`script_args`]).
/// - Does, atomically (Redis runs a script alone):
///   `taken' = max(0, taken - returned + charged)`,
///   `granted = clamp(want, 0, limit - prev - taken')`, stores `taken' + granted`,
///   and sets the key to expire at `expire_at_ms` (a window after its window ends, so
///   a core a little behind still finds it). `DECRBY` on `KEYS[2]` keeps its expiry.
/// - Returns `{granted, taken' + granted + prev}` ([`parse_reply`]).
///
/// Numbers stay below 2^53 (limits are capped at 2^50), so Lua's doubles are exact.
pub const EXCHANGE_SCRIPT: &str = r#"
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
taken = math.max(0, taken - tonumber(ARGV[2]) + tonumber(ARGV[3]))
local prev = 0
if #KEYS > 1 then
  local back = tonumber(ARGV[6])
  if back > 0 and redis.call('EXISTS', KEYS[2]) == 1 then
    if redis.call('DECRBY', KEYS[2], back) < 0 then
      redis.call('SET', KEYS[2], 0, 'KEEPTTL')
    end
  end
  prev = math.max(0, tonumber(redis.call('GET', KEYS[2]) or '0'))
end
local granted = math.min(tonumber(ARGV[4]), tonumber(ARGV[1]) - prev - taken)
granted = math.max(0, granted)
taken = taken + granted
redis.call('SET', KEYS[1], string.format('%d', taken))
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return {granted, taken + prev}
"#;

/// Writes the Redis key of `key`'s budget in window `epoch` of limit `limit` into `out`
/// (cleared first).
pub fn key_name(out: &mut String, prefix: &str, limit: &str, key: LimitKey, epoch: u64) {
    out.clear();
    // Writing to a String cannot fail.
    let _ = write!(out, "{prefix}:{{{limit}:{:016x}}}:{epoch}", key.0);
}

/// `ARGV` of [`EXCHANGE_SCRIPT`] for `ex`.
pub fn script_args(ex: &Exchange) -> [i64; 6] {
    [
        ex.limit,
        ex.returned,
        ex.charged,
        ex.want,
        i64::try_from(ex.expires_at_ms).unwrap_or(i64::MAX),
        ex.prev_returned,
    ]
}

/// Reads the script's `{granted, taken}` as the answer to `ex`. A reply that does not
/// fit (a script of another version) is treated as no answer.
pub fn parse_reply(ex: &Exchange, granted: i64, taken: i64) -> Option<Grant> {
    if !(0..=ex.want).contains(&granted) || taken < 0 {
        return None;
    }
    Some(Grant {
        epoch: ex.epoch,
        granted,
        taken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex() -> Exchange {
        Exchange {
            key: LimitKey(0xab),
            epoch: 7,
            limit: 100,
            returned: 3,
            charged: 2,
            want: 10,
            prev_returned: 0,
            spans_prev: false,
            expires_at_ms: 9_000,
        }
    }

    #[test]
    fn names_keys_with_a_cluster_hash_tag() {
        let mut s = String::from("stale");
        key_name(&mut s, "tg:rl", "tpm", LimitKey(0xab), 7);
        assert_eq!(s, "tg:rl:{tpm:00000000000000ab}:7");
    }

    #[test]
    fn args_and_reply_round_trip() {
        let e = ex();
        assert_eq!(script_args(&e), [100, 3, 2, 10, 9_000, 0]);
        let g = parse_reply(&e, 10, 55).unwrap();
        assert_eq!((g.epoch, g.granted, g.taken), (7, 10, 55));
        assert_eq!(parse_reply(&e, 11, 55), None);
        assert_eq!(parse_reply(&e, -1, 55), None);
    }

    #[test]
    fn script_names_every_argument_it_documents() {
        for arg in [
            "ARGV[1]", "ARGV[2]", "ARGV[3]", "ARGV[4]", "ARGV[5]", "ARGV[6]",
        ] {
            assert!(EXCHANGE_SCRIPT.contains(arg), "{arg}");
        }
        assert!(EXCHANGE_SCRIPT.contains("PEXPIREAT"));
    }
}
