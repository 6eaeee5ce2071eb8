//! `runtime-cmp`: the minimal keep-alive proxy loop of `tollgate_bench::proxy_loop` on one
//! runtime, one thread, until killed. Pin it with `taskset`; `compare.sh --scenario
//! runtimes` starts it in front of tollgate-mock and loads it with tollgate-load.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tollgate_bench::proxy_loop::{glommio_rt, monoio_rt, ProxyConfig, Runtime};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Minimal HTTP/1.1 keep-alive proxy loop on one runtime (for comparing runtimes)"
)]
struct Args {
    /// `monoio-uring`, `monoio-uring-tuned`, `monoio-epoll` or `glommio`
    #[arg(long)]
    runtime: String,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The upstream to forward to (one pooled connection per request in flight)
    #[arg(long)]
    upstream: SocketAddr,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(runtime) = Runtime::from_name(&args.runtime) else {
        eprintln!(
            "runtime-cmp: unknown runtime {:?} (monoio-uring, monoio-uring-tuned, monoio-epoll, glommio)",
            args.runtime
        );
        return ExitCode::from(2);
    };
    let cfg = ProxyConfig {
        listen: args.listen,
        upstream: args.upstream,
    };
    println!(
        "runtime-cmp: {} listening on {} -> {}",
        runtime.name(),
        cfg.listen,
        cfg.upstream
    );
    let res = match runtime {
        Runtime::Glommio => glommio_rt::run(cfg),
        _ => monoio_rt::run(runtime, cfg),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("runtime-cmp: {}: {e}", runtime.name());
            ExitCode::FAILURE
        }
    }
}
