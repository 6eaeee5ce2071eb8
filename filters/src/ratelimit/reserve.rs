//! What an LLM request reserves at admission, and what it really cost when it ends.
//!
//! The reservation of a token or spend limit with `reserve = true` is the prompt's
//! estimate plus the most the answer may use:
//!
//! - prompt: a token per 4 bytes of the whole request body. English text runs close to
//!   that (the estimator's tables in proto/src/tokens), and the JSON around the text
//!   (keys, quotes, roles) counts too, so the reservation runs a little above the prompt:
//!   the settle at the end gives the difference back. The byte count is free, where the
//!   estimator's pass over the body was the largest cost of a token limit's admission
//!   (bench/RESULTS.md, "Auth and rate limits: overhead").
//! - answer: the body's top-level `max_completion_tokens`, else `max_tokens`, else
//!   `max_output_tokens` (OpenAI's newer name, Anthropic's required one, the Responses
//!   API's); 0 when none is given (only the prompt is reserved then, and the rest is
//!   charged when the usage is known). Read by walking the top-level members without
//!   decoding anything.
//! - spend: those tokens at the model's price (USD per million tokens is micro-dollars
//!   per token), rounded up to a whole micro-dollar; nothing for a model without a
//!   price.
//!
//! The settle charges the usage the LLM layer counted (exact from the provider, or its
//! estimate where the provider gave none), and the cost it priced, rounded up to a
//! micro-dollar. A request that produced no usage (every attempt failed, a refusal
//! after admission) cost nothing.

use tollgate_proto::llm::raw::{Member, Members};

use super::limiter::Usage;
use super::spec::{Kind, MAX_LIMIT};
use crate::llm::Price;
use crate::RequestCtx;

/// The sizes a reservation is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Estimate {
    pub prompt: u64,
    pub max_output: u64,
}

impl Estimate {
    pub fn of(body: &[u8], _model: &str) -> Estimate {
        Estimate {
            prompt: (body.len() as u64).div_ceil(4),
            max_output: max_output_tokens(body).unwrap_or(0),
        }
    }

    /// What a limit of `kind` reserves, in its units.
    pub fn cost(&self, kind: Kind, price: Option<&Price>) -> i64 {
        let tokens = match kind {
            Kind::Requests | Kind::Concurrent => return 1,
            Kind::InputTokens => self.prompt,
            Kind::OutputTokens => self.max_output,
            Kind::TotalTokens => self.prompt.saturating_add(self.max_output),
            Kind::Spend => {
                let Some(p) = price else { return 0 };
                return micros(self.prompt as f64 * p.input + self.max_output as f64 * p.output);
            }
        };
        i64::try_from(tokens).unwrap_or(MAX_LIMIT).min(MAX_LIMIT)
    }
}

/// USD per million tokens times tokens, or USD times a million: micro-dollars, rounded
/// up (a charge is never rounded away), capped far below overflow. A value a rounding
/// error above a whole number (`0.024 * 1e6` is `24000.000000000004`) is that number.
fn micros(x: f64) -> i64 {
    if x.is_finite() && x > 0.0 {
        let x = x - x * 1e-12;
        (x.ceil().min(MAX_LIMIT as f64)) as i64
    } else {
        0
    }
}

/// The top-level answer cap of an LLM request body, if it has one.
pub(crate) fn max_output_tokens(body: &[u8]) -> Option<u64> {
    let open = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let (mut max_tokens, mut max_completion, mut max_output) = (None, None, None);
    for m in Members::new(body, open).ok()? {
        let Member { key, value } = m.ok()?;
        let slot = match &body[key] {
            b"\"max_tokens\"" => &mut max_tokens,
            b"\"max_completion_tokens\"" => &mut max_completion,
            b"\"max_output_tokens\"" => &mut max_output,
            _ => continue,
        };
        *slot = std::str::from_utf8(&body[value]).ok()?.parse().ok();
    }
    max_completion.or(max_tokens).or(max_output)
}

/// What a finished request cost, from what the LLM layer put in its context.
pub(crate) fn usage_of(ctx: &RequestCtx) -> Usage {
    if !ctx.llm.active {
        return Usage::default();
    }
    match ctx.llm.usage {
        Some(u) => Usage {
            input_tokens: Some(i64::try_from(u.input).unwrap_or(MAX_LIMIT)),
            output_tokens: Some(i64::try_from(u.output).unwrap_or(MAX_LIMIT)),
            spend_micros: Some(ctx.llm.cost.map_or(0, |usd| micros(usd * 1e6))),
        },
        None => Usage {
            input_tokens: Some(0),
            output_tokens: Some(0),
            spend_micros: Some(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_top_level_answer_cap_only() {
        let cases: [(&str, Option<u64>); 7] = [
            (r#"{"model":"m","max_tokens":100}"#, Some(100)),
            (r#" {"max_tokens": 5, "max_completion_tokens": 7}"#, Some(7)),
            (r#"{"max_output_tokens":9}"#, Some(9)),
            (r#"{"metadata":{"max_tokens":5},"model":"m"}"#, None),
            (r#"{"messages":[{"content":"\"max_tokens\": 5"}]}"#, None),
            (r#"{"max_tokens":"lots"}"#, None),
            (r#"not json"#, None),
        ];
        for (body, want) in cases {
            assert_eq!(max_output_tokens(body.as_bytes()), want, "{body}");
        }
    }

    #[test]
    fn costs_by_kind() {
        let e = Estimate {
            prompt: 10,
            max_output: 100,
        };
        let price = Price {
            input: 2.0,
            output: 0.5,
            cached_input: 2.0,
            cache_write: 2.0,
        };
        assert_eq!(e.cost(Kind::Requests, None), 1);
        assert_eq!(e.cost(Kind::InputTokens, None), 10);
        assert_eq!(e.cost(Kind::OutputTokens, None), 100);
        assert_eq!(e.cost(Kind::TotalTokens, None), 110);
        // 10 x 2 + 100 x 0.5 micro-dollars.
        assert_eq!(e.cost(Kind::Spend, Some(&price)), 70);
        assert_eq!(e.cost(Kind::Spend, None), 0);
        assert_eq!(micros(0.2), 1);
        assert_eq!(micros(0.024 * 1e6), 24_000);
        assert_eq!(micros(24_000.5), 24_001);
        assert_eq!(micros(-1.0), 0);
        assert_eq!(micros(f64::NAN), 0);
    }
}
