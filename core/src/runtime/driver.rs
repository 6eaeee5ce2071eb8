//! The I/O driver a worker runs: io_uring where the kernel lets us set it up, else epoll.
//!
//! io_uring can be unavailable for many reasons (seccomp filters in containers, an old
//! kernel, `kernel.io_uring_disabled`, RLIMIT_MEMLOCK too small for the rings). Rather than
//! guess, each worker tries to build an io_uring runtime and falls back to monoio's
//! epoll ("legacy") driver on any error, logging why. `runtime.driver` forces either.

use std::future::Future;

use monoio::{IoUringDriver, LegacyDriver, RuntimeBuilder};

use crate::config::DriverChoice;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    IoUring,
    Epoll,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::IoUring => "io_uring",
            Driver::Epoll => "epoll",
        }
    }
}

/// Builds a runtime for `choice` and runs `make()`'s future on it to completion.
/// `on_start` learns which driver was picked before the future starts.
pub fn run_on_driver<F, Fut>(
    choice: DriverChoice,
    entries: u32,
    defer_taskrun: bool,
    worker: usize,
    on_start: impl FnOnce(Driver),
    make: F,
) -> std::io::Result<Fut::Output>
where
    F: FnOnce(Driver) -> Fut,
    Fut: Future,
{
    if choice != DriverChoice::Epoll {
        let plain = || {
            RuntimeBuilder::<IoUringDriver>::new()
                .with_entries(entries)
                .enable_timer()
                .build()
        };
        let built = if defer_taskrun {
            RuntimeBuilder::<IoUringDriver>::new()
                .with_entries(entries)
                .uring_builder(tuned_ring())
                .enable_timer()
                .build()
                .or_else(|e| {
                    tracing::debug!(worker, error = %e, "io_uring task-run flags refused; plain ring");
                    plain()
                })
        } else {
            plain()
        };
        match built {
            Ok(mut rt) => {
                on_start(Driver::IoUring);
                return Ok(rt.block_on(make(Driver::IoUring)));
            }
            Err(e) if choice == DriverChoice::IoUring => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("io_uring was required by runtime.driver but cannot be set up: {e}"),
                ));
            }
            Err(e) => {
                tracing::warn!(worker, error = %e, "io_uring unavailable; falling back to epoll");
            }
        }
    }
    let mut rt = RuntimeBuilder::<LegacyDriver>::new()
        .enable_timer()
        .build()?;
    on_start(Driver::Epoll);
    Ok(rt.block_on(make(Driver::Epoll)))
}

/// Ring flags for a ring that one thread owns: task work runs when that thread asks for
/// completions (DEFER_TASKRUN, SINGLE_ISSUER) instead of interrupting it (COOP_TASKRUN),
/// which saves an IPI and a context switch per completion on busy sockets. Kernels
/// before 6.1 refuse them; the caller then builds a plain ring.
fn tuned_ring() -> io_uring::Builder {
    let mut b = io_uring::IoUring::builder();
    b.setup_coop_taskrun()
        .setup_single_issuer()
        .setup_defer_taskrun();
    b
}
