//! `tollgate`: run the gateway, or check a config.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use tollgate::config::{self, Config};
use tollgate::runtime::{self, Control};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "A thread-per-core API and AI gateway."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway. Without -c it serves the embedded default config on 127.0.0.1:8080.
    Run {
        /// The TOML config file.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Validate a config file and print it as resolved (defaults filled in).
    Check {
        /// The TOML config file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Inspect the host (read-only) and print what to change; see tuning/README.md.
    Tune {
        /// The TOML config file the checks should fit (default: the embedded one).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Exit with status 1 when any check warns.
        #[arg(long)]
        strict: bool,
    },
    /// Read an API key from standard input and print the `sha256:...` digest that goes
    /// in a consumer's `api_keys` (the config never holds the key itself).
    HashKey,
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Run { config } => run(config),
        Command::Check { config } => check(config),
        Command::Tune { config, strict } => tune(config, strict),
        Command::HashKey => hash_key(),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tollgate: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn check(path: PathBuf) -> anyhow::Result<std::process::ExitCode> {
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let base = config::base_dir(&path);
    match config::validate::parse_and_validate_all_in(&text, &path.display().to_string(), &base) {
        Ok(cfg) => {
            print!(
                "{}",
                toml::to_string(&cfg).context("rendering the resolved config")?
            );
            eprintln!("{}: ok", path.display());
            Ok(std::process::ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("{}: {} error(s)", path.display(), errors.len());
            Ok(std::process::ExitCode::from(1))
        }
    }
}

/// One line from stdin (without its line end, surrounding whitespace kept out too), its
/// digest to stdout. The key is never echoed.
fn hash_key() -> anyhow::Result<std::process::ExitCode> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the key from standard input")?;
    let key = line.trim();
    if key.is_empty() {
        anyhow::bail!("no key on standard input (e.g. `printf %s \"$KEY\" | tollgate hash-key`)");
    }
    println!(
        "{}",
        tollgate_filters::auth::format_key_hash(key.as_bytes())
    );
    Ok(std::process::ExitCode::SUCCESS)
}

fn tune(path: Option<PathBuf>, strict: bool) -> anyhow::Result<std::process::ExitCode> {
    let cfg = match &path {
        Some(p) => Some(config::load_file(p).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let report = tollgate::tune::inspect(cfg.as_ref());
    print!("{}", report.render());
    Ok(if strict && report.warnings() > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

fn run(path: Option<PathBuf>) -> anyhow::Result<std::process::ExitCode> {
    let cfg: Config = match &path {
        Some(p) => config::load_file(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => {
            tracing::info!("no config file given: serving the embedded default");
            config::load_str(config::EMBEDDED_DEFAULT, "<embedded>")
                .map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    tollgate::tune::check_cpus(&cfg).map_err(|e| anyhow::anyhow!(e))?;
    let admin_addr = cfg.admin.listen.clone();
    let control = Control::new(cfg, path.clone()).map_err(|e| anyhow::anyhow!(e))?;
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .context("installing signal handlers")?;
    tollgate::upstream::health::spawn_control_loop(control.clone())?;
    if !admin_addr.is_empty() {
        let a = tollgate::admin::spawn(control.clone(), &admin_addr)?;
        tracing::info!(admin = %a, "admin listening");
    }
    let workers = runtime::start(&control)?;
    let listen: Vec<String> = control
        .config()
        .listeners
        .iter()
        .map(|l| l.listen.clone())
        .collect();
    tracing::info!(workers = workers.len(), listeners = ?listen, "tollgate ready");

    for sig in signals.forever() {
        match sig {
            SIGHUP => match runtime::reload(&control) {
                Ok(gen) => tracing::info!(generation = gen, "config reloaded"),
                Err(e) => tracing::error!(error = %e, "config reload refused; old config kept"),
            },
            _ => break,
        }
    }
    drain(&control, workers, &mut signals);
    Ok(std::process::ExitCode::SUCCESS)
}

/// Stops accepting, lets in-flight requests finish up to `runtime.drain_timeout`, exits.
/// A second SIGTERM/SIGINT exits at once.
fn drain(
    control: &Arc<Control>,
    workers: Vec<runtime::WorkerHandle>,
    signals: &mut signal_hook::iterator::Signals,
) {
    let timeout = control.config().runtime.drain_timeout.get();
    tracing::info!(timeout_ms = timeout.as_millis() as u64, "draining");
    control.begin_drain();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if workers.iter().all(|w| w.join.is_finished()) {
            tracing::info!("drained; exiting");
            return;
        }
        if signals.pending().any(|s| s == SIGTERM || s == SIGINT) {
            tracing::warn!("second signal: exiting without waiting");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!("drain timeout reached with requests in flight; exiting");
}
