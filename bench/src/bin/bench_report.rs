//! `bench-report DIR`: the Markdown tables of a `compare.sh` run directory (medians over
//! rounds, ratios to Tollgate), printed and written to `DIR/summary.md` and
//! `DIR/summary.json`. compare.sh calls it at the end; run it again on an old directory
//! to re-print its tables.

use std::path::PathBuf;

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: bench-report RUN_DIR (a directory written by bench/compare.sh)")?;
    let (md, summary) = tollgate_bench::report::report_dir(&dir)?;
    std::fs::write(dir.join("summary.md"), &md)?;
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    print!("{md}");
    Ok(())
}
