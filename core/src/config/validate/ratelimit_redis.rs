//! Checks for `[rate_limits.redis]` (cluster mode): the address (IP:port or
//! localhost:port: workers resolve no names), the key prefix, the time-outs, `AUTH`
//! (`username` needs `password`), and `key_secret` (required: instances must hash keys
//! alike).
//!
//! One exception to "validation looks at the text only", as for LLM keys: an `env:NAME`
//! password or key secret whose variable is unset (or, for the secret, not 32 hex
//! digits) is refused here, so `tollgate check` run where the gateway will run catches
//! it before a reload does.

use tollgate_filters::ratelimit::RateLimitConfig;

use super::locate::KeyPath;
use super::Issues;

pub(super) fn check(issues: &mut Issues, rl: &RateLimitConfig) {
    let Some(redis) = &rl.redis else {
        return;
    };
    let root = KeyPath::root().key("rate_limits").key("redis");
    for (field, message) in redis.problems() {
        issues.at(&root.key(field), message);
    }
}

#[cfg(test)]
#[path = "ratelimit_redis_tests.rs"]
mod tests;
