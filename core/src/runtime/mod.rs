//! Workers and the control plane.
//!
//! [`start`] spawns one worker thread per configured CPU, pins it, and gives it its own
//! monoio runtime on the chosen driver ([`driver`]). Workers share nothing on the hot
//! path; they meet the rest of the process only through [`Control`], which they read on
//! their housekeeping tick.

pub mod control;
mod core_config;
pub mod driver;
mod limits;
mod listener;
mod logsink;
pub mod notify;
mod worker;

pub use control::{Control, Phase};
pub use core_config::CoreConfig;
pub use driver::Driver;
pub use worker::{Bound, Worker, WorkerHandle};

use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;

/// The CPUs workers run on, in order: the configured list, or every CPU this process
/// may run on.
pub fn worker_cpus(cfg: &Config) -> Vec<usize> {
    let online: Vec<usize> = core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_default();
    let online = if online.is_empty() {
        (0..std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1))
            .collect()
    } else {
        online
    };
    let cpus = if cfg.runtime.cpus.is_empty() {
        online
    } else {
        cfg.runtime.cpus.clone()
    };
    let n = if cfg.runtime.workers == 0 {
        cpus.len()
    } else {
        cfg.runtime.workers
    };
    (0..n).map(|i| cpus[i % cpus.len()]).collect()
}

/// Starts the workers and returns their handles once every worker has bound its
/// listeners (so a caller that prints "ready" is telling the truth).
pub fn start(control: &Arc<Control>) -> anyhow::Result<Vec<WorkerHandle>> {
    let cfg = control.config();
    let cpus = worker_cpus(&cfg);
    let mut handles = Vec::with_capacity(cpus.len());
    for (id, cpu) in cpus.into_iter().enumerate() {
        let h = worker::spawn(id, cpu, control.clone())
            .with_context(|| format!("starting worker {id} on CPU {cpu}"))?;
        handles.push(h);
    }
    for h in &handles {
        h.wait_ready()
            .with_context(|| format!("worker {} failed to start", h.id))?;
    }
    Ok(handles)
}

/// Reloads the config file into a new generation. The file is validated as a whole (its
/// TLS files read and checked), the chain trial-built and the TLS files loaded before
/// anything changes; on any error the old config stays. Listener and worker changes need
/// a restart (logged when seen; turning TLS on or off on a listener is refused).
pub fn reload(control: &Control) -> Result<u64, String> {
    let Some(path) = control.config_path.as_ref() else {
        control.note_failed_reload();
        return Err("running on the embedded default config; there is no file to reload".into());
    };
    let cfg = match crate::config::load_file(path) {
        Ok(c) => c,
        Err(e) => {
            control.note_failed_reload();
            return Err(e.to_string());
        }
    };
    let names: Vec<&str> = cfg.clusters.iter().map(|c| c.name.as_str()).collect();
    if let Err(e) =
        tollgate_filters::Chain::build_with_auth(&cfg.routes, &cfg.auth_inputs(), false, &|n| {
            names.iter().position(|c| *c == n)
        })
    {
        control.note_failed_reload();
        return Err(e.to_string());
    }
    let old = control.config();
    // Each worker's sockets were bound at start, as TLS or plain: that cannot flip.
    for l in &cfg.listeners {
        if let Some(o) = old.listeners.iter().find(|o| o.listen == l.listen) {
            if o.tls.is_some() != l.tls.is_some() {
                control.note_failed_reload();
                return Err(format!(
                    "listener {:?} ({}): turning TLS {} needs a restart",
                    l.name,
                    l.listen,
                    if l.tls.is_some() { "on" } else { "off" }
                ));
            }
        }
    }
    let old_listeners: Vec<&str> = old.listeners.iter().map(|l| l.listen.as_str()).collect();
    let new_listeners: Vec<&str> = cfg.listeners.iter().map(|l| l.listen.as_str()).collect();
    if old_listeners != new_listeners || old.runtime.workers != cfg.runtime.workers {
        tracing::warn!("listener or worker changes take effect only after a restart");
    }
    if let Err(e) = control.install(cfg) {
        control.note_failed_reload();
        return Err(e);
    }
    Ok(control.generation_id())
}
