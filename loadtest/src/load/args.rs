//! Command line of `tollgate-load` and its checks: a run is always bounded (`-d` and/or
//! `-n`), the target is loopback only, bodies are read up front, and the TLS client
//! configuration is built (certificates read) before the run.

use std::time::Duration;

use clap::Parser;

use crate::runtime;
use crate::target::{parse_target, Target};
use crate::tls::client::TlsPlan;

/// Command line of `tollgate-load`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "tollgate-load",
    version,
    about = "HTTP load generator (closed and open loop, SSE-aware)"
)]
pub struct LoadArgs {
    /// Target URL, e.g. http://127.0.0.1:8080/path or https://localhost:8443/ (loopback
    /// only).
    #[arg(long)]
    pub url: String,
    /// Connections in total (open loop: the most it may open).
    #[arg(short = 'c', long, default_value_t = 16)]
    pub connections: usize,
    /// How long to run, e.g. 10s, 500ms, 2m.
    #[arg(short = 'd', long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// How many requests to send in total.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Worker threads (default: CPUs available, at most `-c`).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Pin workers to these CPUs, e.g. `0,1` or `2-3`.
    #[arg(long, value_parser = runtime::cpu_list_arg)]
    pub cpus: Option<runtime::CpuList>,
    /// Request method (default GET, or POST when a body is given).
    #[arg(short = 'm', long)]
    pub method: Option<String>,
    /// Request header `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(long, conflicts_with_all = ["body_file", "bodies_file"])]
    pub body: Option<String>,
    /// Request body read from a file.
    #[arg(long, conflicts_with = "bodies_file")]
    pub body_file: Option<String>,
    /// Many bodies, rotated: JSON lines, or blocks separated by blank lines.
    #[arg(long)]
    pub bodies_file: Option<String>,
    /// Open loop: requests per second in total (latency from the intended send time).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Time limit per request, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// After `-d` ends, how long requests in flight may still finish (then: `unfinished`).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Send `Connection: close` (a new connection per request).
    #[arg(long)]
    pub close: bool,
    /// No live progress line.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write all figures as JSON to this file.
    #[arg(long)]
    pub json: Option<String>,
    /// Write an HTML page (latency percentiles, throughput over time) to this file.
    #[arg(long)]
    pub html: Option<String>,
    /// Use epoll even where io_uring is available.
    #[arg(long)]
    pub epoll: bool,
    /// HTTP/2 with prior knowledge (h2c) instead of HTTP/1.1.
    #[arg(long)]
    pub h2: bool,
    /// HTTP/2: concurrent streams per connection.
    #[arg(long, default_value_t = 1)]
    pub streams: usize,
    /// TLS: trust the CA certificates in this PEM file.
    #[arg(long, conflicts_with = "insecure")]
    pub cacert: Option<String>,
    /// TLS: do not verify the server certificate (self-signed test certificates).
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// TLS: ALPN ids to offer, in order, e.g. `h2,http/1.1`, or `none` (default: the
    /// protocol the run speaks, `h2` with --h2 else `http/1.1`).
    #[arg(long)]
    pub alpn: Option<String>,
    /// TLS: no session resumption (every handshake is a full one).
    #[arg(long)]
    pub no_resume: bool,
    /// TLS: pin the version, 1.2 or 1.3 (default: both, 1.3 preferred).
    #[arg(long, value_parser = crate::tls::Version::parse)]
    pub tls_version: Option<crate::tls::Version>,
}

/// Parses `10s`, `500ms`, `2m`, `1h`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("bad duration `{s}`"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "us" => n / 1_000_000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in `{s}` (use ms, s, m, h)")),
    };
    if !secs.is_finite() || !(0.0..=86_400.0 * 7.0).contains(&secs) {
        return Err(format!("duration `{s}` out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A checked run description.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Where to send.
    pub target: Target,
    /// The URL as given.
    pub url: String,
    /// Connections in total.
    pub connections: usize,
    /// Worker threads.
    pub threads: usize,
    /// Duration limit.
    pub duration: Option<Duration>,
    /// Request limit.
    pub requests: Option<u64>,
    /// Open-loop rate.
    pub rate: Option<f64>,
    /// Per-request time limit.
    pub timeout: Duration,
    /// Grace after the duration.
    pub drain: Duration,
    /// Method.
    pub method: String,
    /// The full request(s), preformatted.
    pub requests_bytes: Vec<Vec<u8>>,
    /// HTTP/2 request template when `--h2`.
    pub h2: Option<super::h2client::H2Template>,
    /// HTTP/2 streams per connection.
    pub streams: usize,
    /// TLS client configuration for `https://`.
    pub tls: Option<TlsPlan>,
}

/// Reads bodies and checks the arguments.
pub fn check(a: &LoadArgs) -> Result<RunConfig, String> {
    if a.duration.is_none() && a.requests.is_none() {
        return Err("give -d DURATION and/or -n REQUESTS: a run must stop by itself".into());
    }
    if a.duration.is_some_and(|d| d.is_zero()) || a.requests == Some(0) {
        return Err("-d and -n must be greater than zero".into());
    }
    if a.connections == 0 {
        return Err("-c must be at least 1".into());
    }
    if let Some(r) = a.rate {
        if !(r.is_finite() && (0.001..=100_000_000.0).contains(&r)) {
            return Err("--rate must be between 0.001 and 100000000 requests/s".into());
        }
    }
    let target = parse_target(&a.url)?;
    let (tls, speak_h2) = match super::tls::options(a, &target)? {
        Some(opts) => {
            let (plan, h2) = super::tls::plan(opts, &target)?;
            (Some(plan), h2)
        }
        None => (None, a.h2),
    };
    let bodies = read_bodies(a)?;
    let method = a
        .method
        .clone()
        .unwrap_or_else(|| if bodies.is_some() { "POST" } else { "GET" }.to_string());
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("bad method `{method}`"));
    }
    for h in &a.headers {
        let ok = h
            .split_once(':')
            .is_some_and(|(n, _)| !n.trim().is_empty() && !n.contains(' '));
        if !ok || h.contains(['\r', '\n']) {
            return Err(format!("bad header `{h}`: use `Name: value`"));
        }
    }
    let mut headers = a.headers.clone();
    if a.close {
        headers.push("Connection: close".into());
    }
    let requests_bytes = match &bodies {
        None => vec![super::request::format(&method, &target, &headers, None)],
        Some(list) => list
            .iter()
            .map(|b| super::request::format(&method, &target, &headers, Some(b)))
            .collect(),
    };
    if a.streams == 0 || a.streams > 10_000 {
        return Err("--streams must be between 1 and 10000".into());
    }
    let h2 = if speak_h2 {
        let t = super::h2client::H2Template::new(
            &method,
            target.scheme(),
            &target.authority(),
            &target.path,
            &a.headers,
            bodies.as_deref(),
        )?;
        Some(t)
    } else {
        None
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = a.threads.unwrap_or(cpus).clamp(1, a.connections);
    Ok(RunConfig {
        target,
        url: a.url.clone(),
        connections: a.connections,
        threads,
        duration: a.duration,
        requests: a.requests,
        rate: a.rate,
        timeout: a.timeout,
        drain: a.drain,
        method,
        requests_bytes,
        h2,
        streams: a.streams,
        tls,
    })
}

fn read_bodies(a: &LoadArgs) -> Result<Option<Vec<Vec<u8>>>, String> {
    if let Some(b) = &a.body {
        return Ok(Some(vec![b.clone().into_bytes()]));
    }
    let read = |p: &str| std::fs::read(p).map_err(|e| format!("cannot read `{p}`: {e}"));
    if let Some(p) = &a.body_file {
        return Ok(Some(vec![read(p)?]));
    }
    let Some(p) = &a.bodies_file else {
        return Ok(None);
    };
    let text = String::from_utf8(read(p)?).map_err(|_| format!("`{p}` is not UTF-8"))?;
    let bodies = split_bodies(&text);
    if bodies.is_empty() {
        return Err(format!("`{p}` holds no bodies"));
    }
    Ok(Some(bodies))
}

/// JSON lines when every non-empty line is a JSON value; else blocks between blank lines.
pub fn split_bodies(text: &str) -> Vec<Vec<u8>> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.is_empty()
        && lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    {
        return lines.iter().map(|l| l.trim().as_bytes().to_vec()).collect();
    }
    let mut out = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(cur.join("\n").into_bytes());
                cur.clear();
            }
        } else {
            cur.push(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn bodies_files() {
        assert_eq!(split_bodies("{\"a\":1}\n\n{\"b\":2}\n").len(), 2);
        let blocks = split_bodies("line one\nline two\n\n\nsecond\n");
        assert_eq!(
            blocks,
            vec![b"line one\nline two".to_vec(), b"second".to_vec()]
        );
    }

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        LoadArgs::command().debug_assert();
        let a = LoadArgs::parse_from([
            "tollgate-load",
            "--url",
            "http://127.0.0.1:1/",
            "-n",
            "1",
            "--cpus",
            "0-1",
        ]);
        assert_eq!(a.cpus.unwrap().0, vec![0, 1]);
    }

    #[test]
    fn a_run_must_be_bounded() {
        let a = LoadArgs::parse_from(["tollgate-load", "--url", "http://127.0.0.1:1/"]);
        assert!(check(&a).unwrap_err().contains("-d"));
        let a = LoadArgs::parse_from(["tollgate-load", "--url", "http://10.1.2.3/", "-n", "1"]);
        assert!(check(&a).unwrap_err().contains("loopback"));
        let a = LoadArgs::parse_from([
            "tollgate-load",
            "--url",
            "http://127.0.0.1:1/",
            "-n",
            "1",
            "--body",
            "x",
        ]);
        assert_eq!(check(&a).unwrap().method, "POST");
    }

    #[test]
    fn tls_flags() {
        let parse = |extra: &[&str]| {
            let mut v = vec!["tollgate-load", "-n", "1"];
            v.extend_from_slice(extra);
            check(&LoadArgs::parse_from(v))
        };
        assert!(parse(&["--url", "http://127.0.0.1:1/", "-k"])
            .unwrap_err()
            .contains("https://"));
        assert!(parse(&["--url", "https://127.0.0.1:1/"])
            .unwrap_err()
            .contains("--cacert"));
        let c = parse(&["--url", "https://localhost:1/", "-k", "--h2"]).unwrap();
        assert_eq!(c.tls.unwrap().alpn_offer(), vec!["h2"]);
        assert!(c
            .h2
            .unwrap()
            .uri
            .to_string()
            .starts_with("https://localhost:1/"));
        let c = parse(&["--url", "https://[::1]:1/", "-k", "--alpn", "none"]).unwrap();
        assert!(c.tls.unwrap().alpn_offer().is_empty());
        let not_spoken = parse(&["--url", "https://127.0.0.1:1/", "-k", "--alpn", "spdy/3"]);
        assert!(not_spoken.unwrap_err().contains("--h2"));
        // Offering h2 without --h2 probes the server first (here: nobody listens).
        let probe = parse(&[
            "--url",
            "https://127.0.0.1:1/",
            "-k",
            "--alpn",
            "h2,http/1.1",
        ]);
        assert!(probe.unwrap_err().contains("probe"));
        assert!(parse(&["--url", "https://127.0.0.1:1/", "--cacert", "/nonexistent"]).is_err());
    }
}
