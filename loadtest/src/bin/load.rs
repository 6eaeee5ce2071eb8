//! `tollgate-load`: see `tollgate_load::load` and loadtest/README.md.

use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let _ = rlimit::utils::increase_nofile_limit(u64::MAX);
    let args = tollgate_load::load::args::LoadArgs::parse();
    if let Err(e) = tollgate_load::load::run(args) {
        eprintln!("tollgate-load: {e:#}");
        std::process::exit(2);
    }
}
