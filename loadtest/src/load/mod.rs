//! `tollgate-load`: the load generator.
//!
//! Thread per core: each worker thread runs its own monoio runtime, connections and
//! [`recorder::Recorder`]; the main thread only prints the progress line (from per-worker
//! [`live`] slots) and merges the recorders at the end. Every run is bounded by `-d` and/or
//! `-n`, every request by `--timeout`, and requests still in flight `--drain` after `-d`
//! are counted as `unfinished`, so `sent == ok + errors` always holds.

pub mod args;
pub mod client;
pub mod h2client;
pub mod live;
pub mod recorder;
pub mod request;
pub mod tls;
pub mod worker;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use self::args::{LoadArgs, RunConfig};
use self::live::LiveSlot;
use self::recorder::Recorder;
use self::worker::{Plan, Share};
use crate::report::tls::TlsMeta;
use crate::report::{Meta, Report};
use crate::runtime::{self, Driver};

/// Splits `total` into `parts` shares that differ by at most one.
pub fn split(total: u64, parts: usize) -> Vec<u64> {
    let parts = parts.max(1) as u64;
    (0..parts)
        .map(|i| total / parts + u64::from(i < total % parts))
        .collect()
}

/// Runs the load described by `args`, prints the report, writes the files asked for.
pub fn run(args: LoadArgs) -> anyhow::Result<Report> {
    let cfg = args::check(&args).map_err(anyhow::Error::msg)?;
    let driver = Driver::detect(args.epoll);
    let (report, _merged) = execute(
        &cfg,
        driver,
        args.cpus.as_ref().map_or(&[][..], |c| &c.0),
        args.quiet,
    )?;
    print!("{}", report.to_text());
    std::io::stdout().flush()?;
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).map_err(|e| anyhow::anyhow!("cannot write {path}: {e}"))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, report.to_html())
            .map_err(|e| anyhow::anyhow!("cannot write {path}: {e}"))?;
    }
    Ok(report)
}

/// Runs the workers and merges their figures.
pub fn execute(
    cfg: &RunConfig,
    driver: Driver,
    cpus: &[usize],
    quiet: bool,
) -> anyhow::Result<(Report, Recorder)> {
    let threads = cfg.threads;
    let conns = split(cfg.connections as u64, threads);
    let reqs = cfg.requests.map(|n| split(n, threads));
    let live: Arc<Vec<LiveSlot>> = Arc::new((0..threads).map(|_| LiveSlot::default()).collect());
    // Give the threads a moment to start so that the first second is not cut short.
    let start = Instant::now() + Duration::from_millis(20);
    let plan = Plan {
        addr: cfg.target.addr,
        requests: cfg.requests_bytes.clone(),
        head: cfg.method == "HEAD",
        start,
        end: cfg.duration.map(|d| start + d),
        timeout: cfg.timeout,
        drain: cfg.drain,
        live: live.clone(),
        h2: cfg.h2.clone(),
        streams: cfg.streams,
        tls: cfg.tls.clone(),
    };
    let shares: Vec<Share> = (0..threads)
        .map(|i| Share {
            index: i,
            connections: conns[i] as usize,
            requests: reqs.as_ref().map_or(u64::MAX, |r| r[i]),
            rate: cfg
                .rate
                .map(|r| r * conns[i] as f64 / cfg.connections as f64),
        })
        .collect();
    let handles = runtime::spawn_workers("load", shares, driver, cpus, move |_, share| {
        let plan = plan.clone();
        async move {
            let now = Instant::now();
            if plan.start > now {
                monoio::time::sleep(plan.start - now).await;
            }
            worker::run(plan, share).await
        }
    })?;
    let mut last_print = Instant::now();
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
        if !quiet && last_print.elapsed() >= Duration::from_secs(1) {
            last_print = Instant::now();
            let (sent, ok, errors) = live::totals(&live);
            let secs = start.elapsed().as_secs_f64().max(1e-3);
            eprint!(
                "\r[{secs:6.1}s] sent {sent:>10}  ok {ok:>10}  errors {errors:>8}  {:>10.0} req/s ",
                (ok + errors) as f64 / secs
            );
        }
    }
    if !quiet {
        eprintln!();
    }
    let elapsed = start.elapsed();
    let mut merged = Recorder::default();
    for h in handles {
        match h.join() {
            Ok(Ok(rec)) => merged.merge(&rec),
            Ok(Err(e)) => return Err(anyhow::anyhow!("a load worker failed to start: {e}")),
            Err(_) => anyhow::bail!("a load worker panicked"),
        }
    }
    let meta = Meta {
        url: cfg.url.clone(),
        method: cfg.method.clone(),
        connections: cfg.connections,
        threads,
        protocol: match (cfg.h2.is_some(), cfg.tls.is_some()) {
            (true, false) => "h2c",
            (true, true) => "h2",
            (false, _) => "http/1.1",
        }
        .to_string(),
        tls: cfg.tls.as_ref().map(|t| TlsMeta {
            alpn_offered: t.alpn_offer(),
            resumption: t.resumes(),
            verified: t.verifies(),
        }),
        streams: if cfg.h2.is_some() { cfg.streams } else { 1 },
        driver: driver.name().to_string(),
        rate: cfg.rate,
        duration_limit_s: cfg.duration.map(|d| d.as_secs_f64()),
        request_limit: cfg.requests,
        elapsed_s: elapsed.as_secs_f64(),
    };
    Ok((Report::build(meta, &merged), merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        assert_eq!(split(10, 3), vec![4, 3, 3]);
        assert_eq!(split(2, 4), vec![1, 1, 0, 0]);
        assert_eq!(split(7, 1).iter().sum::<u64>(), 7);
    }
}
