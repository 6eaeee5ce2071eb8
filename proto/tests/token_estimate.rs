//! Measures `tokens::estimate` against the real tokenizers (tiktoken-rs, which bundles
//! the `cl100k_base` and `o200k_base` ranks) on the sample texts in `tests/data/`.
//!
//! `tokens/` is the set the estimator's weights were fitted on; `tokens_holdout/` was
//! written after the fit and never tuned against, so its figures are the honest ones.
//! Run with `-- --nocapture` to see the per-sample table.
//!
//! Bounds asserted, for each vocabulary and each set: the aggregate error (total
//! estimated over total real tokens) within ±10%, every sample within ±25%.

use std::path::Path;

use tiktoken_rs::CoreBPE;
use tollgate_proto::tokens::{estimate, Vocab};

const AGGREGATE_BOUND: f64 = 0.10;
const SAMPLE_BOUND: f64 = 0.25;

fn samples(set: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(set);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("directory entry").path();
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("UTF-8 sample");
            (name, text)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 10, "{set}: too few samples");
    out
}

/// Prints the table for one set and vocabulary; returns the aggregate error and the
/// worst sample.
fn measure(set: &str, vocab: Vocab, bpe: &CoreBPE) -> (f64, (String, f64)) {
    use std::fmt::Write;
    // One print per table, so that tests running in parallel do not interleave lines.
    let mut table = format!("\n{set}, {vocab:?}:\n");
    let _ = writeln!(
        table,
        "  {:<24} {:>7} {:>9} {:>7}",
        "sample", "real", "estimate", "error"
    );
    let (mut real_total, mut est_total) = (0usize, 0u64);
    let mut worst = (String::new(), 0.0f64);
    for (name, text) in samples(set) {
        let real = bpe.encode_ordinary(&text).len();
        let est = estimate(text.as_bytes(), vocab);
        let error = est as f64 / real as f64 - 1.0;
        let _ = writeln!(
            table,
            "  {name:<24} {real:>7} {est:>9} {:>+6.1}%",
            error * 100.0
        );
        real_total += real;
        est_total += est;
        if error.abs() > worst.1.abs() {
            worst = (name, error);
        }
    }
    let aggregate = est_total as f64 / real_total as f64 - 1.0;
    let _ = writeln!(
        table,
        "  {:<24} {real_total:>7} {est_total:>9} {:>+6.1}%",
        "all",
        aggregate * 100.0
    );
    print!("{table}");
    (aggregate, worst)
}

fn check(set: &str) {
    for (vocab, bpe) in [
        (
            Vocab::Cl100k,
            tiktoken_rs::cl100k_base().expect("cl100k_base"),
        ),
        (Vocab::O200k, tiktoken_rs::o200k_base().expect("o200k_base")),
    ] {
        let (aggregate, (name, error)) = measure(set, vocab, &bpe);
        assert!(
            aggregate.abs() <= AGGREGATE_BOUND,
            "{set} {vocab:?}: aggregate error {:+.1}%",
            aggregate * 100.0
        );
        assert!(
            error.abs() <= SAMPLE_BOUND,
            "{set} {vocab:?}: {name} off by {:+.1}%",
            error * 100.0
        );
    }
}

#[test]
fn fitted_set() {
    check("tokens");
}

#[test]
fn held_out_set() {
    check("tokens_holdout");
}
