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
    worker: usize,
    on_start: impl FnOnce(Driver),
    make: F,
) -> std::io::Result<Fut::Output>
where
    F: FnOnce(Driver) -> Fut,
    Fut: Future,
{
    if choice != DriverChoice::Epoll {
        match RuntimeBuilder::<IoUringDriver>::new()
            .with_entries(entries)
            .enable_timer()
            .build()
        {
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
