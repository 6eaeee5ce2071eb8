//! `llm-report DIR`: the Markdown tables of a `bench/llm.sh` run directory (medians over
//! rounds, what the gateway adds over the mock hit directly, CPU and memory per request
//! and per stream), printed and written to `DIR/summary.md` and `DIR/summary.json`.
//! llm.sh calls it at the end; run it again on an old directory to re-print its tables.

use std::path::PathBuf;

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: llm-report RUN_DIR (a directory written by bench/llm.sh)")?;
    let (md, summary) = tollgate_bench::llm_report::report_dir(&dir)?;
    std::fs::write(dir.join("summary.md"), &md)?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    print!("{md}");
    Ok(())
}
