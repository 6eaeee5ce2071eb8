//! A worker: one thread, pinned to one CPU, running one monoio runtime. It binds its own
//! SO_REUSEPORT listeners, accepts and serves connections, and runs a housekeeping tick
//! that picks up new config generations, syncs cluster health, flushes the access log
//! and drives draining, and a rate-limit timer ([`super::limits`]) that reconciles the
//! core's limits with their shared budgets every `rate_limits.sync.interval`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::control::{Control, Phase};
use super::core_config::CoreConfig;
use super::driver::{run_on_driver, Driver};
use super::listener::bind_reuseport;
use super::logsink::LogSink;
use super::notify::Notify;
use crate::metrics::WorkerMetrics;

/// Core-local state shared by a worker's tasks.
#[derive(Debug)]
pub struct Worker {
    pub id: usize,
    pub driver: Driver,
    pub control: Arc<Control>,
    pub metrics: Arc<WorkerMetrics>,
    current: RefCell<Rc<CoreConfig>>,
    pub draining: Cell<bool>,
    /// Wakes idle connections when draining starts.
    pub drain_notify: Notify,
    /// Wakes the accept loops when a connection closes (for `max_connections`).
    pub slot_notify: Notify,
    pub active: Cell<usize>,
    pub log_buf: RefCell<Vec<u8>>,
    log_sink: RefCell<LogSink>,
    buffers: RefCell<Vec<BytesMut>>,
    buffer_size: usize,
    buffer_pool: usize,
}

impl Worker {
    /// The config generation new requests use.
    pub fn current(&self) -> Rc<CoreConfig> {
        self.current.borrow().clone()
    }

    /// A read buffer from the worker's pool (or a new one).
    pub fn take_buffer(&self) -> BytesMut {
        self.buffers
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| BytesMut::with_capacity(self.buffer_size))
    }

    /// Returns a buffer to the pool when it is whole (no outstanding slices) and empty.
    pub fn give_buffer(&self, mut buf: BytesMut) {
        buf.clear();
        if buf.capacity() >= self.buffer_size && self.buffers.borrow().len() < self.buffer_pool {
            self.buffers.borrow_mut().push(buf);
        }
    }

    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    pub fn flush_log(&self, force: bool) {
        self.log_sink
            .borrow_mut()
            .flush(&mut self.log_buf.borrow_mut(), force);
    }

    fn tick(&self) {
        let gen_id = self.control.generation_id();
        if gen_id != self.current.borrow().generation {
            let gen = self.control.generation();
            match CoreConfig::build(&gen, &self.metrics, self.id) {
                Ok(cc) => {
                    if cc.config.access_log.path != self.current.borrow().config.access_log.path {
                        self.flush_log(true);
                        match LogSink::open(&cc.config.access_log.path) {
                            Ok(s) => *self.log_sink.borrow_mut() = s,
                            Err(e) => {
                                tracing::error!(error = %e, "cannot open access log; keeping the old one")
                            }
                        }
                    }
                    *self.current.borrow_mut() = Rc::new(cc);
                    tracing::debug!(
                        worker = self.id,
                        generation = gen.id,
                        "worker switched config"
                    );
                }
                Err(e) => {
                    tracing::error!(worker = self.id, error = %e, "worker cannot build config")
                }
            }
        }
        let now = Instant::now();
        let cc = self.current.borrow();
        for c in &cc.clusters {
            c.sync(now);
        }
        cc.llm.sync(now);
        drop(cc);
        self.flush_log(true);
        if self.control.phase() == Phase::Draining && !self.draining.get() {
            self.draining.set(true);
            self.drain_notify.notify_all();
            self.slot_notify.notify_all();
        }
    }
}

pub struct WorkerHandle {
    pub id: usize,
    ready: mpsc::Receiver<Result<(), String>>,
    pub join: std::thread::JoinHandle<()>,
}

impl WorkerHandle {
    pub fn wait_ready(&self) -> anyhow::Result<()> {
        match self.ready.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::anyhow!(e)),
            Err(_) => Err(anyhow::anyhow!("worker thread exited before it was ready")),
        }
    }
}

pub fn spawn(id: usize, cpu: usize, control: Arc<Control>) -> std::io::Result<WorkerHandle> {
    let (tx, rx) = mpsc::channel();
    let join = std::thread::Builder::new()
        .name(format!("tollgate-w{id}"))
        .spawn(move || {
            let cfg = control.config();
            if cfg.runtime.pin && !core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
            {
                tracing::warn!(
                    worker = id,
                    cpu,
                    "cannot pin worker to its CPU; running unpinned"
                );
            }
            let metrics = Arc::new(WorkerMetrics::new(id, cpu));
            control.register_worker(metrics.clone());
            let m2 = metrics.clone();
            let tx2 = tx.clone();
            let res = run_on_driver(
                cfg.runtime.driver,
                cfg.runtime.io_uring_entries,
                cfg.runtime.io_uring_defer_taskrun,
                id,
                |d| {
                    m2.set_driver(d);
                    tracing::info!(worker = id, cpu, driver = d.as_str(), "worker started");
                },
                move |driver| worker_main(id, driver, control, metrics, tx2),
            );
            if let Err(e) = res {
                let _ = tx.send(Err(e.to_string()));
            }
        })?;
    Ok(WorkerHandle {
        id,
        ready: rx,
        join,
    })
}

async fn worker_main(
    id: usize,
    driver: Driver,
    control: Arc<Control>,
    metrics: Arc<WorkerMetrics>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let gen = control.generation();
    let cc = match CoreConfig::build(&gen, &metrics, id) {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(format!("building config: {e}")));
            return;
        }
    };
    let cfg = gen.config.clone();
    let sink = match LogSink::open(&cfg.access_log.path) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(format!(
                "opening access log {:?}: {e}",
                cfg.access_log.path
            )));
            return;
        }
    };
    let worker = Rc::new(Worker {
        id,
        driver,
        control: control.clone(),
        metrics,
        current: RefCell::new(Rc::new(cc)),
        draining: Cell::new(false),
        drain_notify: Notify::default(),
        slot_notify: Notify::default(),
        active: Cell::new(0),
        log_buf: RefCell::new(Vec::with_capacity(64 * 1024)),
        log_sink: RefCell::new(sink),
        buffers: RefCell::new(Vec::new()),
        buffer_size: cfg.limits.buffer_size,
        buffer_pool: cfg.limits.buffer_pool,
    });
    let mut listeners = Vec::new();
    for l in &cfg.listeners {
        let std_l = match bind_reuseport(&l.listen, l.backlog) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(format!(
                    "binding listener {:?} on {}: {e}",
                    l.name, l.listen
                )));
                return;
            }
        };
        match monoio::net::TcpListener::from_std(std_l) {
            Ok(ml) => listeners.push((
                ml,
                l.max_connections,
                Rc::new(Bound {
                    listen: l.listen.clone(),
                    tls: l.tls.is_some(),
                }),
            )),
            Err(e) => {
                let _ = ready.send(Err(format!("listener {}: {e}", l.listen)));
                return;
            }
        }
    }
    for (l, max, bound) in listeners {
        monoio::spawn(accept_loop(l, max, bound, worker.clone()));
    }
    monoio::spawn(super::limits::run(worker.clone()));
    let _ = ready.send(Ok(()));
    drop(ready);

    let tick = cfg.runtime.tick.get().max(Duration::from_millis(1));
    loop {
        monoio::time::sleep(tick).await;
        worker.tick();
        if worker.draining.get() && worker.active.get() == 0 {
            break;
        }
    }
    worker.flush_log(true);
    tracing::info!(worker = id, "worker drained");
}

/// What a listening socket was bound as at start (fixed until a restart).
#[derive(Debug)]
pub struct Bound {
    /// The listener's `listen` address, which finds its TLS in each generation.
    pub listen: String,
    /// It takes TLS (the TLS handshake runs before HTTP).
    pub tls: bool,
}

/// At most one "accept failed" warning per accept loop (a listener on a worker) per
/// this long.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(1);

async fn accept_loop(
    listener: monoio::net::TcpListener,
    max_connections: usize,
    bound: Rc<Bound>,
    worker: Rc<Worker>,
) {
    // The last accept-failure warning and the failures since, so that a descriptor
    // shortage (a retry every 10 ms) logs once a second, not a hundred times.
    let mut warned: Option<Instant> = None;
    let mut unlogged = 0u64;
    loop {
        if worker.draining.get() {
            return;
        }
        // At the limit, stop accepting: new connections wait in the kernel's backlog
        // instead of being accepted and starved.
        while worker.active.get() >= max_connections && !worker.draining.get() {
            worker.slot_notify.notified().await;
        }
        if worker.draining.get() {
            return;
        }
        let accepted = monoio::select! {
            r = listener.accept() => Some(r),
            _ = worker.drain_notify.notified() => None,
        };
        match accepted {
            None => return,
            Some(Ok((stream, peer))) => {
                worker.metrics.connections_accepted.inc();
                // Counted here, not when the task first runs: the loop checks the count
                // again before the new task has had a chance to run.
                worker.active.set(worker.active.get() + 1);
                monoio::spawn(crate::server::serve_connection(
                    stream,
                    peer,
                    bound.clone(),
                    worker.clone(),
                ));
            }
            Some(Err(e)) => {
                // EMFILE and friends: back off briefly rather than spin.
                worker.metrics.accept_errors.inc();
                let now = Instant::now();
                if warned.is_none_or(|t| now.duration_since(t) >= ACCEPT_WARN_EVERY) {
                    tracing::warn!(
                        worker = worker.id,
                        error = %e,
                        failed_since_last_warning = unlogged,
                        "accept failed; retrying every 10 ms (tollgate_accept_errors_total counts them)"
                    );
                    warned = Some(now);
                    unlogged = 0;
                } else {
                    unlogged += 1;
                }
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
