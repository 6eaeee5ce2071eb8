//! Unit tests of the LLM router, its config, usage pricing; the reset-header parser's
//! tests are in `cooldown.rs` beside it (they reach its private parsers).

mod config;
mod keys;
mod plan;
mod resolve;
mod usage;

use std::sync::Arc;

use serde::Deserialize;

use super::{LlmConfig, LlmRouter, LlmShared, ModelId};

#[derive(Deserialize)]
struct Doc {
    llm: LlmConfig,
}

/// Parses the `[llm]` table of `text` or panics.
fn parse(text: &str) -> LlmConfig {
    match toml::from_str::<Doc>(text) {
        Ok(doc) => doc.llm,
        Err(e) => panic!("test config does not parse: {e}\n{text}"),
    }
}

/// The one cluster tests know, `c`.
fn clusters(name: &str) -> Option<usize> {
    (name == "c").then_some(0)
}

/// A router on its own shared state.
fn router(text: &str, seed: u64) -> LlmRouter {
    let cfg = parse(text);
    let shared = Arc::new(LlmShared::new(&cfg));
    LlmRouter::build(&cfg, shared, &clusters, seed).unwrap_or_else(|e| panic!("{e}"))
}

fn id(r: &LlmRouter, name: &str) -> ModelId {
    r.model_id(name.as_bytes())
        .unwrap_or_else(|| panic!("no model {name}"))
}
