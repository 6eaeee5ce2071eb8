//! A fast token-count estimate for text, for when a provider reports no usage (a stream
//! cut short, a provider that never reports it) and for pre-flight quota checks.
//!
//! The OpenAI tokenizers (and most BPE tokenizers since) first cut text with a regex into
//! pieces (a word with the space before it, up to three digits, a run of punctuation, a
//! run of whitespace) and never merge across those cuts. [`estimate`] makes the same cuts
//! in one pass over the bytes and prices each piece by class and length (see `segment`
//! and `weights`): a common English word is one token, a long or rare one a few, three
//! digits one, a CJK character about one. It allocates nothing and reads each byte once.
//!
//! Measured error against the real tokenizers (tiktoken-rs 0.12.1), estimate over real
//! count minus one. The weights were fitted on the first set; the second was written
//! after the fit and not tuned against. `cargo test -p tollgate-proto --test
//! token_estimate -- --nocapture` prints these tables; the test holds every set's
//! aggregate within ±10% and every sample within ±25%.
//!
//! | fitted on | cl100k real | est. | error | o200k real | est. | error |
//! | --- | ---: | ---: | ---: | ---: | ---: | ---: |
//! | arabic | 423 | 418 | -1.2% | 167 | 163 | -2.4% |
//! | chat_turns | 411 | 426 | +3.6% | 407 | 413 | +1.5% |
//! | chinese | 338 | 335 | -0.9% | 220 | 222 | +0.9% |
//! | code_js | 325 | 354 | +8.9% | 339 | 341 | +0.6% |
//! | code_python | 497 | 517 | +4.0% | 497 | 499 | +0.4% |
//! | code_rust | 542 | 563 | +3.9% | 545 | 548 | +0.6% |
//! | emoji_chat | 129 | 122 | -5.4% | 119 | 114 | -4.2% |
//! | english_prose | 383 | 399 | +4.2% | 379 | 385 | +1.6% |
//! | english_technical | 374 | 412 | +10.2% | 374 | 392 | +4.8% |
//! | french | 250 | 252 | +0.8% | 206 | 220 | +6.8% |
//! | german | 282 | 266 | -5.7% | 217 | 220 | +1.4% |
//! | hindi | 532 | 550 | +3.4% | 154 | 155 | +0.6% |
//! | japanese | 324 | 308 | -4.9% | 216 | 215 | -0.5% |
//! | json_api | 413 | 421 | +1.9% | 413 | 410 | -0.7% |
//! | korean | 324 | 320 | -1.2% | 188 | 181 | -3.7% |
//! | logs | 503 | 502 | -0.2% | 503 | 496 | -1.4% |
//! | markdown | 275 | 284 | +3.3% | 278 | 276 | -0.7% |
//! | numbers | 502 | 485 | -3.4% | 499 | 480 | -3.8% |
//! | russian | 380 | 380 | +0.0% | 216 | 217 | +0.5% |
//! | spanish | 231 | 232 | +0.4% | 195 | 204 | +4.6% |
//! | **all** | 7438 | 7546 | +1.5% | 6132 | 6151 | +0.3% |
//!
//! | held out | cl100k real | est. | error | o200k real | est. | error |
//! | --- | ---: | ---: | ---: | ---: | ---: | ---: |
//! | chinese_tech | 198 | 216 | +9.1% | 146 | 144 | -1.4% |
//! | code_go | 406 | 434 | +6.9% | 407 | 425 | +4.4% |
//! | config_yaml | 230 | 228 | -0.9% | 230 | 221 | -3.9% |
//! | english_news | 166 | 182 | +9.6% | 165 | 174 | +5.5% |
//! | html | 298 | 306 | +2.7% | 299 | 301 | +0.7% |
//! | italian | 194 | 180 | -7.2% | 168 | 156 | -7.1% |
//! | portuguese | 154 | 150 | -2.6% | 123 | 131 | +6.5% |
//! | sql | 183 | 194 | +6.0% | 183 | 191 | +4.4% |
//! | support_chat | 211 | 224 | +6.2% | 203 | 217 | +6.9% |
//! | tool_call | 187 | 182 | -2.7% | 185 | 178 | -3.8% |
//! | ukrainian | 270 | 212 | -21.5% | 153 | 119 | -22.2% |
//! | **all** | 2497 | 2508 | +0.4% | 2262 | 2257 | -0.2% |
//!
//! So: within ±2% over a mixed corpus, within ±10% for one text in English, code, JSON,
//! the major European languages, Russian, Arabic, Hindi and CJK. Known weak spot:
//! languages that share a script with a better-represented one (Ukrainian read with
//! Russian's weights) come out low, by about a fifth.
//!
//! Invariants: the estimate of a text is the sum of the estimates of its pieces, never
//! zero for non-empty text; any bytes are accepted (invalid UTF-8 counts one token per
//! byte, as byte-level BPE would give at most); nothing here panics or allocates.
//!
//! What it is not: a tokenizer. Chat formats add a few tokens per message (role markers)
//! that the schema code adds on top; models from other vendors use other vocabularies,
//! for which [`Vocab::Cl100k`] is a stand-in of the same order of magnitude.

mod class;
mod segment;
mod weights;

pub use segment::{Segment, SegmentKind};
pub use weights::Script;
use weights::{Weights, CL100K, O200K};

/// The vocabulary to approximate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Vocab {
    /// `cl100k_base`: GPT-4, GPT-3.5-turbo, the text-embedding-3 models.
    Cl100k,
    /// `o200k_base`: GPT-4o, GPT-4.1, GPT-5, the o-series.
    #[default]
    O200k,
}

impl Vocab {
    /// The vocabulary of an OpenAI model name; `Cl100k` for names it does not know
    /// (older and non-OpenAI models are closer to it than to `o200k_base`).
    pub fn for_model(model: &str) -> Vocab {
        const O200K_PREFIXES: &[&str] = &["gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o"];
        let o_series =
            model.len() >= 2 && model.as_bytes()[0] == b'o' && model.as_bytes()[1].is_ascii_digit();
        if o_series || O200K_PREFIXES.iter().any(|p| model.starts_with(p)) {
            Vocab::O200k
        } else {
            Vocab::Cl100k
        }
    }

    pub(crate) fn weights(self) -> &'static Weights {
        match self {
            Vocab::Cl100k => &CL100K,
            Vocab::O200k => &O200K,
        }
    }
}

/// The estimated number of tokens in `text`.
///
/// Latin words are priced as English, then adjusted by how many of them carry accents:
/// the vocabularies hold fewer whole words of French, German or Spanish, whose longer
/// words therefore split into more pieces. The adjustment grows from none (under 2% of
/// the Latin words accented: English) to full (8% and more).
pub fn estimate(text: &[u8], vocab: Vocab) -> u64 {
    let weights = vocab.weights();
    let (mut milli, mut words, mut accented, mut long_letters) = (0u64, 0u64, 0u64, 0u64);
    segment::walk(text, weights, |segment| {
        milli += u64::from(segment.milli_tokens);
        if segment.kind == SegmentKind::Word(Script::Latin) {
            words += 1;
            accented += u64::from(segment.accented);
            long_letters += u64::from(segment.letters.saturating_sub(3));
        }
    });
    // The blend, in thousandths: (share of accented words - 2%) / 6%, clamped to [0, 1].
    let share = (accented * 1000).checked_div(words).unwrap_or(0);
    let blend = (share.saturating_sub(20) * 1000 / 60).min(1000);
    milli += long_letters * u64::from(weights.foreign_letter) * blend / 1000;
    // Rounded to the nearest token, and at least one for any text.
    let tokens = (milli + 500) / 1000;
    if text.is_empty() {
        0
    } else {
        tokens.max(1)
    }
}

/// Calls `f` with each piece of `text` and its price, in order; the pieces tile the
/// text. For calibration and for explaining an estimate.
pub fn for_each_segment(text: &[u8], vocab: Vocab, f: impl FnMut(Segment)) {
    segment::walk(text, vocab.weights(), f);
}

#[cfg(test)]
mod tests;
