//! Deterministic reply text and the mock's token-count rules.
//!
//! - The seed of a reply is the FNV-1a 64 hash of the last user message's text (all of its
//!   text parts, concatenated); choice `c` of `n` uses seed + c.
//! - Output token `k` is a word from [`WORDS`], chosen by a SplitMix64 of (seed, k); the
//!   reply text is the words joined by single spaces. One word = one token = one content
//!   delta in a stream.
//! - Prompt tokens = the number of whitespace-separated words in all message text (the
//!   system prompt included, tool definitions not), or in the `prompt` / `input` of
//!   completions and embeddings.

use serde_json::Value;

/// The reply vocabulary.
pub const WORDS: [&str; 64] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "gate", "toll", "proxy", "stream",
    "token", "core", "thread", "ring", "byte", "frame", "event", "model", "route", "cache",
    "limit", "quota", "budget", "filter", "chain", "socket", "buffer", "header", "body", "chunk",
    "delta", "usage", "prompt", "reply", "mock", "bench", "latency", "rate", "burst", "window",
    "shard", "pool", "queue", "edge",
];

/// FNV-1a, 64 bit.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Word `k` of the reply with `seed`.
pub fn word(seed: u64, k: u32) -> &'static str {
    let i = splitmix(seed ^ splitmix(u64::from(k))) % WORDS.len() as u64;
    WORDS[i as usize]
}

/// The content of token `k` as it appears in a stream delta (space-prefixed after the first).
pub fn delta(seed: u64, k: u32) -> String {
    if k == 0 {
        word(seed, 0).to_string()
    } else {
        format!(" {}", word(seed, k))
    }
}

/// The whole reply of `tokens` words.
pub fn reply(seed: u64, tokens: u32) -> String {
    (0..tokens).map(|k| delta(seed, k)).collect()
}

/// Whitespace-separated words in `s`.
pub fn count_words(s: &str) -> u64 {
    s.split_whitespace().count() as u64
}

/// The text of a message `content`: a string, or the `text` of each part of an array.
pub fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Prompt tokens of a chat/messages request: words of `system` and of every message.
pub fn prompt_tokens_of_messages(req: &Value) -> u64 {
    let system = req.get("system").map(content_text).unwrap_or_default();
    let messages = req.get("messages").and_then(Value::as_array);
    count_words(&system)
        + messages
            .into_iter()
            .flatten()
            .map(|m| {
                m.get("content")
                    .map(content_text)
                    .map_or(0, |t| count_words(&t))
            })
            .sum::<u64>()
}

/// Text of the last `user` message (empty when there is none).
pub fn last_user_text(req: &Value) -> String {
    req.get("messages")
        .and_then(Value::as_array)
        .and_then(|ms| {
            ms.iter()
                .rev()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        })
        .and_then(|m| m.get("content"))
        .map(content_text)
        .unwrap_or_default()
}

/// Strings of a `prompt` / `input` field: a string or an array of strings.
pub fn input_strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_are_deterministic() {
        let s = fnv1a(b"hello");
        assert_eq!(reply(s, 5), reply(s, 5));
        assert_ne!(reply(s, 5), reply(s + 1, 5));
        assert_eq!(count_words(&reply(s, 5)), 5);
        assert!(reply(s, 3).starts_with(word(s, 0)));
    }

    #[test]
    fn prompt_counts() {
        let req = json!({
            "system": "be brief",
            "messages": [
                {"role": "user", "content": "one two three"},
                {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
                {"role": "user", "content": [{"type": "text", "text": "five six"}, {"type": "image"}]}
            ]
        });
        assert_eq!(prompt_tokens_of_messages(&req), 8);
        assert_eq!(last_user_text(&req), "five six");
        assert_eq!(input_strings(Some(&json!(["a b", "c"]))), vec!["a b", "c"]);
    }
}
