//! `tollgate-mock`: see `tollgate_load::mock` and loadtest/README.md.

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // Each connection holds two descriptors (see mock::listener); take all the OS allows.
    let _ = rlimit::utils::increase_nofile_limit(u64::MAX);
    tollgate_load::mock::run(tollgate_load::mock::MockArgs::parse())
}
