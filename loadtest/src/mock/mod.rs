//! `tollgate-mock`: the upstream for benchmarks and end-to-end tests.
//!
//! Thread per core: each worker owns a monoio runtime and its own `SO_REUSEPORT` listener
//! on the same address; connections never move between workers. The plain answer is
//! formatted once at start and copied per request. Per-request behaviour comes from
//! `x-mock-*` headers ([`control`]); counters from `GET /__mock/stats` ([`stats`]).
//!
//! On start it prints `listening on ADDR` (the real port when `:0` was asked) on stdout.
//!
//! TLS (`--tls-cert`/`--tls-key` or `--tls-self-signed`): the same port then also takes TLS
//! connections, HTTP/1.1 or h2 inside (see [`crate::tls::server`]).

pub mod conn;
pub mod control;
pub mod echo;
pub mod faults;
pub mod h2;
pub mod listener;
pub mod llm;
pub mod plain;
pub mod reqlog;
pub mod route;
pub mod send;
pub mod stats;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use self::control::{DelaySpec, Fault};
use self::stats::Stats;
use crate::runtime::{self, Driver};

/// Command line of `tollgate-mock`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "tollgate-mock",
    version,
    about = "Mock upstream: plain HTTP, echo, LLM APIs, faults"
)]
pub struct MockArgs {
    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Worker threads (each with its own SO_REUSEPORT listener).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Pin workers to these CPUs, e.g. `0,1` or `2-3`.
    #[arg(long, value_parser = runtime::cpu_list_arg)]
    pub cpus: Option<runtime::CpuList>,
    /// Use epoll even where io_uring is available.
    #[arg(long)]
    pub epoll: bool,
    /// Status of the plain answer.
    #[arg(long, default_value_t = 200)]
    pub status: u16,
    /// Body size of the plain answer, in bytes.
    #[arg(long, default_value_t = 13)]
    pub body_size: usize,
    /// Extra header on plain answers, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// Chunked plain answers instead of Content-Length.
    #[arg(long)]
    pub chunked: bool,
    /// Delay before each answer: `N` ms or `MIN-MAX` ms (uniformly random).
    #[arg(long, default_value = "0", value_parser = parse_delay)]
    pub delay_ms: DelaySpec,
    /// Answer every path with the echo JSON.
    #[arg(long)]
    pub echo: bool,
    /// Fault injected into every request (same names as `x-mock-fault`).
    #[arg(long, value_parser = parse_fault)]
    pub fault: Option<Fault>,
    /// Events (or half the body) sent before `reset-mid-stream` / `error-event`.
    #[arg(long, default_value_t = 2)]
    pub fault_after: u32,
    /// Gap between bytes for `slow-drip`, in ms.
    #[arg(long, default_value_t = 10)]
    pub drip_ms: u64,
    /// LLM: time to first token, in ms.
    #[arg(long, default_value_t = 0)]
    pub ttft_ms: u64,
    /// LLM: tokens per second per stream (0: no pacing).
    #[arg(long, default_value_t = 0)]
    pub tps: u64,
    /// LLM: output tokens per answer (capped by the request's max_tokens).
    #[arg(long, default_value_t = 16)]
    pub tokens: u32,
    /// LLM: model ids listed by /v1/models (comma-separated).
    #[arg(long, default_value = "mock-gpt,mock-claude", value_delimiter = ',')]
    pub models: Vec<String>,
    /// LLM: embedding dimensions when the request names none.
    #[arg(long, default_value_t = 8)]
    pub embedding_dims: usize,
    /// Keep the last N requests per worker for `GET /__mock/requests` (0: off).
    #[arg(long, default_value_t = 0)]
    pub record: usize,
    /// Largest request body the mock keeps (echo, LLM), in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body: usize,
    /// TLS: certificate chain, PEM (leaf first). The port then takes TLS and cleartext.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub tls_cert: Option<String>,
    /// TLS: private key, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<String>,
    /// TLS with a self-signed certificate made at start (localhost, 127.0.0.1, ::1).
    #[arg(long)]
    pub tls_self_signed: bool,
    /// Write the self-signed certificate (PEM) here, for clients' `--cacert`; written before
    /// the `listening on` line. Without it the PEM goes to stderr.
    #[arg(long, requires = "tls_self_signed")]
    pub tls_cert_out: Option<String>,
}

impl MockArgs {
    /// The TLS certificate source, when TLS is on.
    pub fn tls_source(&self) -> Option<crate::tls::server::CertSource> {
        use crate::tls::server::CertSource;
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(CertSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => self.tls_self_signed.then_some(CertSource::SelfSigned),
        }
    }
}

fn parse_delay(s: &str) -> Result<DelaySpec, String> {
    DelaySpec::parse(s.as_bytes()).ok_or_else(|| format!("bad delay `{s}`: use N or MIN-MAX"))
}

fn parse_fault(s: &str) -> Result<Fault, String> {
    Fault::parse(s.as_bytes()).ok_or_else(|| {
        format!(
            "unknown fault `{s}`: 429, 500, 503, hang, reset-mid-stream, error-event, slow-drip"
        )
    })
}

/// What every worker needs to know (cloned per worker).
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Plain status.
    pub status: u16,
    /// Plain body size.
    pub body_size: usize,
    /// Extra plain headers.
    pub headers: Vec<String>,
    /// Chunked plain answers.
    pub chunked: bool,
    /// Default delay.
    pub delay: DelaySpec,
    /// Echo every path.
    pub echo_all: bool,
    /// Default fault.
    pub fault: Option<Fault>,
    /// Default fault-after.
    pub fault_after: u32,
    /// Default drip gap.
    pub drip_ms: u64,
    /// LLM defaults.
    pub llm: llm::LlmConfig,
    /// Body limit.
    pub max_body: usize,
}

impl From<&MockArgs> for MockConfig {
    fn from(a: &MockArgs) -> Self {
        Self {
            status: a.status,
            body_size: a.body_size,
            headers: a.headers.clone(),
            chunked: a.chunked,
            delay: a.delay_ms,
            echo_all: a.echo,
            fault: a.fault,
            fault_after: a.fault_after,
            drip_ms: a.drip_ms.min(control::MAX_MS),
            llm: llm::LlmConfig {
                ttft_ms: a.ttft_ms.min(control::MAX_MS),
                tps: a.tps,
                tokens: a.tokens.min(control::MAX_TOKENS),
                models: a.models.clone(),
                embedding_dims: a.embedding_dims,
            },
            max_body: a.max_body,
        }
    }
}

/// One worker's state: its config copy, the preformatted answer, its stats slot, a buffer
/// pool and an RNG. Lives in an `Rc`; never crosses threads.
pub struct Worker {
    /// Configuration.
    pub cfg: MockConfig,
    /// This worker's index (its stats slot).
    pub index: usize,
    /// Shared counters (this worker writes only its slot).
    pub stats: Arc<Stats>,
    /// Recorded requests (`--record`).
    pub log: Arc<reqlog::RequestLog>,
    /// The driver in use.
    pub driver: Driver,
    /// The default plain answer.
    pub preformatted: plain::Preformatted,
    /// TLS, when on (shared configuration and ticketer).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pool: RefCell<Vec<Vec<u8>>>,
    rng: Cell<u64>,
}

impl Worker {
    /// A worker for slot `index`.
    pub fn new(
        cfg: MockConfig,
        index: usize,
        stats: Arc<Stats>,
        log: Arc<reqlog::RequestLog>,
        driver: Driver,
    ) -> Self {
        let preformatted =
            plain::Preformatted::new(cfg.status, cfg.body_size, &cfg.headers, cfg.chunked);
        Self {
            cfg,
            index,
            stats,
            log,
            driver,
            preformatted,
            tls: None,
            pool: RefCell::new(Vec::new()),
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1)),
        }
    }

    /// A 16 KiB buffer from the pool.
    pub fn take_buf(&self) -> Vec<u8> {
        self.pool
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(16 * 1024))
    }

    /// Returns a buffer; oversized ones and those beyond 1024 pooled are dropped.
    pub fn put_buf(&self, mut b: Vec<u8>) {
        let mut pool = self.pool.borrow_mut();
        if b.capacity() <= 64 * 1024 && pool.len() < 1024 {
            b.clear();
            pool.push(b);
        }
    }

    /// A delay drawn from `spec`.
    pub fn pick_delay(&self, spec: DelaySpec) -> Duration {
        if spec.is_zero() {
            return Duration::ZERO;
        }
        let span = spec.max_ms - spec.min_ms;
        let extra = if span == 0 {
            0
        } else {
            self.next_u64() % (span + 1)
        };
        Duration::from_millis(spec.min_ms + extra)
    }

    fn next_u64(&self) -> u64 {
        // xorshift64*: enough for jitter.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Runs the mock until killed.
pub fn run(args: MockArgs) -> anyhow::Result<()> {
    let threads = args.threads.max(1);
    let driver = Driver::detect(args.epoll);
    let tls = match args.tls_source() {
        None => None,
        Some(source) => {
            let tls = crate::tls::server::config(&source).map_err(anyhow::Error::msg)?;
            if let Some(pem) = &tls.self_signed_pem {
                match &args.tls_cert_out {
                    Some(path) => std::fs::write(path, pem)
                        .map_err(|e| anyhow::anyhow!("cannot write {path}: {e}"))?,
                    None => eprint!("tollgate-mock: self-signed certificate:\n{pem}"),
                }
            }
            Some(tokio_rustls::TlsAcceptor::from(tls.config))
        }
    };
    let tls_note = if tls.is_some() { ", tls" } else { "" };
    let sockets = listener::bind_all(args.listen, threads)?;
    let local = sockets[0]
        .local_addr()?
        .as_socket()
        .ok_or_else(|| anyhow::anyhow!("not an inet socket"))?;
    let stats = Stats::new(threads);
    let log = reqlog::RequestLog::new(threads, args.record);
    let cfg = MockConfig::from(&args);
    let handles = runtime::spawn_workers(
        "mock",
        sockets,
        driver,
        args.cpus.as_ref().map_or(&[][..], |c| &c.0),
        move |i, sock| {
            let mut worker = Worker::new(cfg.clone(), i, stats.clone(), log.clone(), driver);
            worker.tls = tls.clone();
            listener::accept_loop(sock, worker)
        },
    )?;
    println!(
        "listening on {local} ({threads} threads, {}{tls_note})",
        driver.name()
    );
    std::io::stdout().flush()?;
    for h in handles {
        match h.join() {
            Ok(Ok(Err(e))) | Ok(Err(e)) => return Err(e.into()),
            Ok(Ok(Ok(()))) => {}
            Err(_) => anyhow::bail!("a mock worker panicked"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        MockArgs::command().debug_assert();
        let a = MockArgs::parse_from([
            "tollgate-mock",
            "--cpus",
            "1",
            "--delay-ms",
            "1-5",
            "--fault",
            "hang",
        ]);
        assert_eq!(a.cpus.as_ref().unwrap().0, vec![1]);
        assert_eq!(
            a.delay_ms,
            DelaySpec {
                min_ms: 1,
                max_ms: 5
            }
        );
        assert_eq!(a.fault, Some(Fault::Hang));
        assert_eq!(a.models, vec!["mock-gpt", "mock-claude"]);
        assert!(a.tls_source().is_none());
        let a = MockArgs::parse_from(["tollgate-mock", "--tls-self-signed"]);
        assert!(a.tls_source().is_some());
        assert!(MockArgs::try_parse_from(["tollgate-mock", "--tls-cert", "c.pem"]).is_err());
        assert!(MockArgs::try_parse_from(["tollgate-mock", "--tls-cert-out", "c.pem"]).is_err());
    }
}
