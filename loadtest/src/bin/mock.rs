//! `tollgate-mock`: see `tollgate_load::mock` and loadtest/README.md.

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    tollgate_load::mock::run(tollgate_load::mock::MockArgs::parse())
}
