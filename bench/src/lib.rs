//! Tollgate's benchmarks.
//!
//! - `benches/`: criterion micro-benchmarks of the hot paths (h1 head parse and
//!   serialise, chunked scan, SSE scan, filter chain per request). Run with `cargo bench -p
//!   tollgate-bench`.
//! - `compare.sh`: the side-by-side macro benchmark (Tollgate, nginx, HAProxy, and the
//!   mock upstream directly) with tollgate-load, in alternating rounds on one machine.
//! - [`proxy_loop`] and the `runtime-cmp` binary: the same minimal HTTP/1.1 keep-alive
//!   proxy loop on monoio (io_uring: a plain ring and Tollgate's ring flags; epoll) and
//!   glommio, so that the choice of runtime rests on a measured figure
//!   (`compare.sh --scenario runtimes`).
//! - [`report`] and the `bench-report` binary: medians, ratios and the Markdown tables
//!   of a compare.sh run.
//! - [`llm_report`] and the `llm-report` binary: the tables of an `llm.sh` run (the LLM
//!   gateway's overhead over calling the provider directly, and the cost of holding many
//!   SSE streams).
//!
//! Nothing here is used by the gateway itself.

pub mod llm_report;
pub mod proxy_loop;
pub mod report;
