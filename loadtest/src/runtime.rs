//! Worker threads: one monoio runtime per thread, optionally pinned to a CPU.
//!
//! The driver is io_uring when the kernel allows it and epoll otherwise (monoio's
//! `FusionDriver`); `force_epoll` skips io_uring. Nothing here is shared between threads
//! once they start.
//!
//! The io_uring ring is set up like the gateway's (`core/src/runtime/driver.rs`): task
//! work runs when the worker asks for completions instead of interrupting it. That
//! matters beyond this process: on loopback, whoever sends to our sockets pays for
//! waking us, so a plain ring here makes the proxy under test spend an interrupt of our
//! CPU per message it sends us.

use std::future::Future;
use std::thread::JoinHandle;

/// Which I/O driver the workers run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// io_uring (monoio's `IoUringDriver`).
    IoUring,
    /// epoll (monoio's `LegacyDriver`).
    Epoll,
}

impl Driver {
    /// The driver `FusionDriver` will pick on this host, or epoll when forced.
    pub fn detect(force_epoll: bool) -> Driver {
        if !force_epoll && monoio::utils::detect_uring() {
            Driver::IoUring
        } else {
            Driver::Epoll
        }
    }

    /// A short name for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Driver::IoUring => "io_uring",
            Driver::Epoll => "epoll",
        }
    }

    /// Sockets handed to the epoll driver must be non-blocking; io_uring wants them blocking.
    pub fn wants_nonblocking(self) -> bool {
        self == Driver::Epoll
    }
}

const RING_ENTRIES: u32 = 4096;

/// COOP_TASKRUN + SINGLE_ISSUER + DEFER_TASKRUN: completions are reaped when this thread
/// waits for them, with no task-work interrupt per completion. Each worker thread builds
/// and alone uses its ring. Kernels before 6.1 refuse the flags; `block_on` then builds
/// a plain ring.
fn tuned_ring() -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    b.setup_coop_taskrun()
        .setup_single_issuer()
        .setup_defer_taskrun();
    b
}

/// Runs `make()` to completion on a fresh monoio runtime (timer enabled) on this thread.
pub fn block_on<F, Fut>(driver: Driver, make: F) -> std::io::Result<Fut::Output>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    match driver {
        Driver::IoUring => {
            let plain = || {
                monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                    .with_entries(RING_ENTRIES)
                    .enable_timer()
                    .build()
            };
            let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .with_entries(RING_ENTRIES)
                .uring_builder(tuned_ring())
                .enable_timer()
                .build()
                .or_else(|_| plain())?;
            Ok(rt.block_on(make()))
        }
        Driver::Epoll => {
            let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()?;
            Ok(rt.block_on(make()))
        }
    }
}

/// Starts one worker per element of `inputs`; worker `i` runs `make(i, inputs[i])` as its
/// root future. When `cpus` is not empty, worker `i` is pinned to `cpus[i % cpus.len()]`.
pub fn spawn_workers<I, T, F, Fut>(
    name: &str,
    inputs: Vec<I>,
    driver: Driver,
    cpus: &[usize],
    make: F,
) -> std::io::Result<Vec<JoinHandle<std::io::Result<T>>>>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(usize, I) -> Fut + Send + Clone + 'static,
    Fut: Future<Output = T>,
{
    let mut handles = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let make = make.clone();
        let cpu = if cpus.is_empty() {
            None
        } else {
            Some(cpus[i % cpus.len()])
        };
        let handle = std::thread::Builder::new()
            .name(format!("{name}-{i}"))
            .spawn(move || {
                if let Some(cpu) = cpu {
                    core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
                }
                block_on(driver, || make(i, input))
            })?;
        handles.push(handle);
    }
    Ok(handles)
}

/// A CPU list as given on the command line (`0,2-3`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// Parses a CPU list for clap.
pub fn cpu_list_arg(s: &str) -> Result<CpuList, String> {
    parse_cpu_list(s).map(CpuList)
}

/// Parses a CPU list such as `0,2-3`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("bad CPU list entry `{part}`");
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.trim().parse().map_err(|_| bad())?;
                let b: usize = b.trim().parse().map_err(|_| bad())?;
                if a > b || b - a > 4096 {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0,2-3").unwrap(), vec![0, 2, 3]);
        assert_eq!(parse_cpu_list("").unwrap(), Vec::<usize>::new());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }
}
