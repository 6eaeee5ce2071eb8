//! Fixture-driven tests of `tollgate_proto::llm`: every translation direction against
//! fixtures written from the providers' documented formats (`tests/fixtures/llm/`),
//! round trips, and the refusals.
//!
//! Fixture naming: `<case>.openai.json` and `<case>.anthropic.json` are the two sides of
//! one case; translating either side must give the other, except where
//! `<case>.<side>_back.json` exists, which is what the trip back gives when the first
//! side is not in canonical form (a default filled in, a dropped hint, a field renamed).

mod refusals;
mod requests;
mod responses;
mod robustness;
mod streams;
mod support;
