//! The summary of a `bench/llm.sh` run: per target, medians over the alternating rounds;
//! what the gateway adds over the mock hit directly (the median of the per-round
//! differences, so that a slow round on a shared machine moves both sides of its own
//! difference); CPU per request and per token event; memory per open stream.
//!
//! Input: the run directory llm.sh wrote. `runs.tsv` has a header line (`#` then the
//! column names, tab-separated) and one line per load run; it names the tollgate-load
//! JSON, the gateway's `/metrics` before and after, and for stream runs a samples file
//! (`t_s rss_kb fds client_connections upstream_in_flight`, one line every 2 s).
//! Missing files and fields read as "n/a", never a panic.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::report::median;

/// One load run, as listed in `runs.tsv`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmRun {
    pub scenario: String,
    pub target: String,
    pub round: u32,
    /// Streams asked for (stream scenarios).
    pub streams: Option<u64>,
    /// tollgate-load's JSON: one per load process (stream runs use several).
    pub json: Vec<PathBuf>,
    /// utime + stime of the gateway over the run; `None` for `direct`.
    pub gw_ticks: Option<u64>,
    pub clk_tck: u64,
    pub gw_cpu_busy: Option<f64>,
    pub load_cpu_busy: Option<f64>,
    /// 1-minute load average just before the run.
    pub loadavg: Option<f64>,
    /// Wall time of the load run (all its loaders), s.
    pub wall_s: Option<f64>,
    pub rss_idle_kb: Option<f64>,
    pub rss_after_kb: Option<f64>,
    pub samples: Option<PathBuf>,
    pub metrics_before: Option<PathBuf>,
    pub metrics_after: Option<PathBuf>,
}

/// Columns every runs.tsv has (`wall_s` came later and may be missing).
const COLUMNS: [&str; 15] = [
    "scenario",
    "target",
    "round",
    "streams",
    "json",
    "gw_ticks",
    "clk_tck",
    "gw_cpu_busy",
    "load_cpu_busy",
    "loadavg",
    "rss_idle_kb",
    "rss_after_kb",
    "samples",
    "metrics_before",
    "metrics_after",
];

/// Parses `runs.tsv`: the header names the columns; paths are relative to `dir`; `-`
/// is "none".
pub fn parse_runs(dir: &Path, tsv: &str) -> Result<Vec<LlmRun>> {
    let mut lines = tsv.lines();
    let header = lines
        .next()
        .and_then(|l| l.strip_prefix('#'))
        .context("runs.tsv: no header line")?;
    let names: Vec<&str> = header.split('\t').map(str::trim).collect();
    let idx = |name: &str| names.iter().position(|n| *n == name);
    for c in COLUMNS {
        if idx(c).is_none() {
            bail!("runs.tsv: no column {c}");
        }
    }
    let mut runs = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != names.len() {
            bail!(
                "runs.tsv line {}: {} fields, want {}",
                i + 2,
                f.len(),
                names.len()
            );
        }
        let get = |name: &str| idx(name).map_or("-", |k| f[k]);
        let path = |name: &str| Some(get(name)).filter(|s| *s != "-").map(|s| dir.join(s));
        runs.push(LlmRun {
            scenario: get("scenario").to_string(),
            target: get("target").to_string(),
            round: get("round")
                .parse()
                .with_context(|| format!("runs.tsv line {}: round", i + 2))?,
            streams: get("streams").parse().ok(),
            json: get("json").split(',').map(|j| dir.join(j)).collect(),
            gw_ticks: get("gw_ticks").parse().ok(),
            clk_tck: get("clk_tck")
                .parse()
                .ok()
                .filter(|&t| t > 0)
                .unwrap_or(100),
            gw_cpu_busy: get("gw_cpu_busy").parse().ok(),
            load_cpu_busy: get("load_cpu_busy").parse().ok(),
            loadavg: get("loadavg").parse().ok(),
            wall_s: get("wall_s").parse().ok(),
            rss_idle_kb: get("rss_idle_kb").parse().ok(),
            rss_after_kb: get("rss_after_kb").parse().ok(),
            samples: path("samples"),
            metrics_before: path("metrics_before"),
            metrics_after: path("metrics_after"),
        });
    }
    Ok(runs)
}

/// What one run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFigures {
    pub round: u32,
    pub ok: u64,
    pub errors: u64,
    /// Errors by kind (only kinds that happened).
    pub error_kinds: BTreeMap<String, u64>,
    pub ok_per_s: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub p999_us: Option<f64>,
    pub max_us: Option<f64>,
    /// Open loop: whether tollgate-load kept to the rate.
    pub kept_up: Option<bool>,
    pub gw_cpu_us_per_req: Option<f64>,
    /// Mean of the gateway's own `tollgate_llm_gateway_overhead_seconds` over the run, µs.
    pub own_overhead_us: Option<f64>,
    pub gw_cpu_busy: Option<f64>,
    pub load_cpu_busy: Option<f64>,
    pub loadavg: Option<f64>,
    /// Streams: event-stream figures.
    pub streams: Option<f64>,
    pub token_events: Option<f64>,
    pub ttft_p50_us: Option<f64>,
    pub itl_p50_us: Option<f64>,
    pub itl_p99_us: Option<f64>,
    pub itl_p999_us: Option<f64>,
    /// The highest ITL p99 of the load processes (the table shows their median).
    pub itl_p99_worst_part_us: Option<f64>,
    pub gw_cpu_us_per_event: Option<f64>,
    pub gw_cpu_ms_per_stream: Option<f64>,
    /// Most client connections the gateway had open at a sample.
    pub open_peak: Option<f64>,
    pub fds_peak: Option<f64>,
    pub rss_idle_kb: Option<f64>,
    /// RSS while the streams were open (median over the samples at the peak).
    pub rss_open_kb: Option<f64>,
    pub kib_per_stream: Option<f64>,
    /// The same from the largest RSS while the streams were open.
    pub kib_per_stream_max: Option<f64>,
    pub rss_after_kb: Option<f64>,
    /// Percent of the gateway's CPU used by other processes during the run (for
    /// `direct`, all of it): someone else's work skewing the figures.
    pub other_cpu0: Option<f64>,
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

/// Sum over all label sets of the samples of metric `name` in a Prometheus text page.
pub fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let bare = key.split('{').next().unwrap_or(key);
        if bare == name {
            if let Ok(v) = value.trim().parse::<f64>() {
                *found.get_or_insert(0.0) += v;
            }
        }
    }
    found
}

/// The mean of the gateway's own overhead histogram between two `/metrics` pages, µs.
pub fn own_overhead_us(before: &str, after: &str) -> Option<f64> {
    let name = "tollgate_llm_gateway_overhead_seconds";
    let d = |suffix: &str| {
        let key = format!("{name}_{suffix}");
        Some(metric_sum(after, &key)? - metric_sum(before, &key).unwrap_or(0.0))
    };
    let (sum, count) = (d("sum")?, d("count")?);
    (count > 0.0).then(|| sum / count * 1e6)
}

/// One sample line of a stream run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub rss_kb: f64,
    pub fds: f64,
    pub conns: f64,
}

pub fn parse_samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<f64> = l
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(f64::NAN))
                .collect();
            (f.len() >= 4 && f[1..4].iter().all(|x| x.is_finite())).then(|| Sample {
                rss_kb: f[1],
                fds: f[2],
                conns: f[3],
            })
        })
        .collect()
}

/// The samples of a stream run taken while (nearly) all its streams were open.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plateau {
    /// Most client connections at a sample.
    pub peak: f64,
    /// Median and largest RSS, and median connections, over the samples with at least
    /// 99 % of the peak's connections.
    pub rss_median_kb: f64,
    pub rss_max_kb: f64,
    pub conns: f64,
    /// Most descriptors at any sample.
    pub fds: f64,
}

pub fn plateau(samples: &[Sample]) -> Option<Plateau> {
    let peak = samples.iter().map(|s| s.conns).fold(0.0, f64::max);
    if peak <= 0.0 {
        return None;
    }
    let at_peak: Vec<&Sample> = samples.iter().filter(|s| s.conns >= 0.99 * peak).collect();
    Some(Plateau {
        peak,
        rss_median_kb: median(at_peak.iter().map(|s| Some(s.rss_kb)))?,
        rss_max_kb: at_peak.iter().map(|s| s.rss_kb).fold(0.0, f64::max),
        conns: median(at_peak.iter().map(|s| Some(s.conns)))?,
        fds: samples.iter().map(|s| s.fds).fold(0.0, f64::max),
    })
}

/// One view of several tollgate-load JSONs of the same run (load processes that shared
/// it): counts and rates are summed; percentiles are the median over the processes
/// (each saw a like share of the same streams; their histograms are not in the JSON);
/// `max` is the largest; `kept_up` holds when it held for all.
pub fn merge_parts(parts: &[Value]) -> Value {
    match parts {
        [] => Value::Null,
        [one] => one.clone(),
        _ => {
            let sum = |path: &[&str]| -> Value {
                let v: Vec<f64> = parts.iter().filter_map(|p| num(p, path)).collect();
                if v.is_empty() {
                    Value::Null
                } else {
                    json!(v.iter().sum::<f64>())
                }
            };
            let med = |path: &[&str]| json!(median(parts.iter().map(|p| num(p, path))));
            let max =
                |path: &[&str]| json!(parts.iter().filter_map(|p| num(p, path)).reduce(f64::max));
            let pct = |key: &str| {
                json!({
                    "p50": med(&[key, "p50"]), "p99": med(&[key, "p99"]),
                    "p999": med(&[key, "p999"]), "max": max(&[key, "max"]),
                })
            };
            let mut errors = serde_json::Map::new();
            for p in parts {
                for (k, v) in p
                    .get("errors")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let n = errors.get(k).and_then(Value::as_u64).unwrap_or(0);
                    errors.insert(k.clone(), json!(n + v.as_u64().unwrap_or(0)));
                }
            }
            let kept_up: Option<bool> = parts
                .iter()
                .map(|p| p.get("open_loop")?.get("kept_up")?.as_bool())
                .collect::<Option<Vec<bool>>>()
                .map(|k| k.iter().all(|&b| b));
            let sse_parts: Vec<&Value> = parts
                .iter()
                .filter_map(|p| p.get("sse"))
                .filter(|s| s.is_object())
                .collect();
            let sse = if sse_parts.is_empty() {
                Value::Null
            } else {
                let sse_med = |path: &[&str]| json!(median(sse_parts.iter().map(|s| num(s, path))));
                let sse_sum =
                    |key: &str| json!(sse_parts.iter().filter_map(|s| num(s, &[key])).sum::<f64>());
                json!({
                    "streams": sse_sum("streams"), "finished": sse_sum("finished"),
                    "token_events": sse_sum("token_events"),
                    "ttft_us": {"p50": sse_med(&["ttft_us", "p50"]), "p99": sse_med(&["ttft_us", "p99"])},
                    "inter_token_us": {
                        "p50": sse_med(&["inter_token_us", "p50"]),
                        "p99": sse_med(&["inter_token_us", "p99"]),
                        "p999": sse_med(&["inter_token_us", "p999"]),
                        "max": json!(sse_parts.iter().filter_map(|s| num(s, &["inter_token_us", "max"])).reduce(f64::max)),
                    },
                })
            };
            json!({
                "meta": parts[0].get("meta").cloned().unwrap_or(Value::Null),
                "sent": sum(&["sent"]), "ok": sum(&["ok"]), "errors_total": sum(&["errors_total"]),
                "errors": errors, "ok_per_s": sum(&["ok_per_s"]),
                "latency_us": pct("latency_us"),
                "open_loop": kept_up.map(|k| json!({"kept_up": k})),
                "sse": sse,
            })
        }
    }
}

fn read(path: Option<&PathBuf>) -> Option<String> {
    std::fs::read_to_string(path?).ok()
}

/// The figures of one run from its files (the JSON of each of its load processes).
pub fn figures(
    run: &LlmRun,
    parts: &[Value],
    samples: &[Sample],
    own_overhead: Option<f64>,
) -> RunFigures {
    let merged = merge_parts(parts);
    let load = &merged;
    let itl_p99_worst_part_us = parts
        .iter()
        .filter_map(|p| num(p, &["sse", "inter_token_us", "p99"]))
        .reduce(f64::max);
    let ok = num(load, &["ok"]).unwrap_or(0.0) as u64;
    let cpu_us = run.gw_ticks.map(|t| t as f64 * 1e6 / run.clk_tck as f64);
    let per = |n: Option<f64>| match (cpu_us, n) {
        (Some(c), Some(n)) if n > 0.0 => Some(c / n),
        _ => None,
    };
    let error_kinds = load
        .get("errors")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default();
    let sse = load.get("sse").filter(|s| s.is_object());
    let s = |path: &[&str]| sse.and_then(|s| num(s, path));
    let token_events = s(&["token_events"]);
    let streams = s(&["streams"]);
    let plat = plateau(samples);
    let per_stream = |rss: fn(&Plateau) -> f64| match (plat, run.rss_idle_kb) {
        (Some(p), Some(idle)) if p.conns > 0.0 => Some((rss(&p) - idle) / p.conns),
        _ => None,
    };
    // Other work on the gateway's CPU: how busy it was, less the gateway's own share.
    // Runs from before runs.tsv had wall_s: the longest load process's own time.
    let wall_s = run.wall_s.or_else(|| {
        parts
            .iter()
            .filter_map(|p| num(p, &["meta", "elapsed_s"]))
            .reduce(f64::max)
    });
    let other_cpu0 = match (run.gw_cpu_busy, wall_s) {
        (Some(busy), _) if run.target == "direct" => Some(busy),
        (Some(busy), Some(wall)) if wall > 0.0 => {
            cpu_us.map(|c| (busy - 100.0 * c / 1e6 / wall).max(0.0))
        }
        _ => None,
    };
    RunFigures {
        round: run.round,
        ok,
        errors: num(load, &["errors_total"]).unwrap_or(0.0) as u64,
        error_kinds,
        ok_per_s: num(load, &["ok_per_s"]),
        p50_us: num(load, &["latency_us", "p50"]),
        p99_us: num(load, &["latency_us", "p99"]),
        p999_us: num(load, &["latency_us", "p999"]),
        max_us: num(load, &["latency_us", "max"]),
        kept_up: load
            .get("open_loop")
            .and_then(|o| o.get("kept_up"))
            .and_then(Value::as_bool),
        gw_cpu_us_per_req: per(Some(ok as f64)),
        own_overhead_us: own_overhead,
        gw_cpu_busy: run.gw_cpu_busy,
        load_cpu_busy: run.load_cpu_busy,
        loadavg: run.loadavg,
        streams,
        token_events,
        ttft_p50_us: s(&["ttft_us", "p50"]),
        itl_p50_us: s(&["inter_token_us", "p50"]),
        itl_p99_us: s(&["inter_token_us", "p99"]),
        itl_p999_us: s(&["inter_token_us", "p999"]),
        itl_p99_worst_part_us,
        gw_cpu_us_per_event: per(token_events),
        gw_cpu_ms_per_stream: per(streams).map(|us| us / 1000.0),
        open_peak: plat.map(|p| p.peak),
        fds_peak: plat.map(|p| p.fds),
        rss_idle_kb: run.rss_idle_kb,
        rss_open_kb: plat.map(|p| p.rss_median_kb),
        kib_per_stream: per_stream(|p| p.rss_median_kb),
        kib_per_stream_max: per_stream(|p| p.rss_max_kb),
        other_cpu0,
        rss_after_kb: run.rss_after_kb,
    }
}

/// Medians of one target's rounds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetSummary {
    pub target: String,
    pub rounds: Vec<RunFigures>,
}

type Field = fn(&RunFigures) -> Option<f64>;

impl TargetSummary {
    pub fn med(&self, f: Field) -> Option<f64> {
        median(self.rounds.iter().map(f))
    }

    pub fn errors(&self) -> (u64, BTreeMap<String, u64>) {
        let mut kinds = BTreeMap::new();
        for r in &self.rounds {
            for (k, n) in &r.error_kinds {
                *kinds.entry(k.clone()).or_insert(0) += n;
            }
        }
        (self.rounds.iter().map(|r| r.errors).sum(), kinds)
    }

    /// `field` of this target less `field` of `direct`, round by round: (median, min, max).
    pub fn added(&self, direct: &TargetSummary, f: Field) -> Option<(f64, f64, f64)> {
        let diffs: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|r| {
                let d = direct.rounds.iter().find(|d| d.round == r.round)?;
                Some(f(r)? - f(d)?)
            })
            .collect();
        let m = median(diffs.iter().copied().map(Some))?;
        let lo = diffs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = diffs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((m, lo, hi))
    }
}

fn fmt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "n/a".into(), |x| format!("{x:.decimals$}"))
}

fn fmt_added(v: Option<(f64, f64, f64)>) -> String {
    v.map_or_else(
        || "n/a".into(),
        |(m, lo, hi)| format!("{m:+.0} ({lo:+.0} … {hi:+.0})"),
    )
}

fn fmt_errors(s: &TargetSummary) -> String {
    let (total, kinds) = s.errors();
    if total == 0 {
        return "0".into();
    }
    let k: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("{total} ({})", k.join(", "))
}

fn label(target: &str) -> &str {
    match target {
        "direct" => "direct (mock)",
        "gateway" => "gateway → mock (openai provider)",
        "builtin" => "gateway, built-in mock provider",
        "nginx" => "nginx → mock (plain proxy, no LLM work)",
        t => t,
    }
}

fn kept_up(s: &TargetSummary) -> String {
    let n = s.rounds.iter().filter(|r| r.kept_up == Some(true)).count();
    format!("{n}/{}", s.rounds.len())
}

/// The Markdown tables of the overhead scenario.
pub fn overhead_tables(rows: &[TargetSummary], meta: &Value) -> String {
    let mut out = String::new();
    let rate = num(meta, &["rate"]).map_or("?".into(), |r| format!("{r:.0}"));
    let secs = num(meta, &["duration_limit_s"]).map_or("?".into(), |d| format!("{d:.0}"));
    let rounds = rows.iter().map(|r| r.rounds.len()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "#### `overhead`: open loop at {rate} non-streaming chat completions/s, {secs} s per run, medians of {rounds} alternating rounds\n"
    );
    out.push_str("| target | ok/s | p50 µs | p99 µs | p99.9 µs | max µs | kept to the rate | gateway CPU µs/req | tollgate_llm_gateway_overhead_seconds, mean µs | errors | CPU0 busy % | CPU0 other work % | CPU1 busy % | load avg before |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            label(&r.target),
            fmt(r.med(|f| f.ok_per_s), 0),
            fmt(r.med(|f| f.p50_us), 0),
            fmt(r.med(|f| f.p99_us), 0),
            fmt(r.med(|f| f.p999_us), 0),
            fmt(r.med(|f| f.max_us), 0),
            kept_up(r),
            fmt(r.med(|f| f.gw_cpu_us_per_req), 1),
            fmt(r.med(|f| f.own_overhead_us), 1),
            fmt_errors(r),
            fmt(r.med(|f| f.gw_cpu_busy), 0),
            fmt(r.med(|f| f.other_cpu0), 0),
            fmt(r.med(|f| f.load_cpu_busy), 0),
            fmt(r.med(|f| f.loadavg), 2),
        );
    }
    if let Some(direct) = rows.iter().find(|r| r.target == "direct") {
        out.push_str("\nAdded over `direct` at the same arrival rate: median of the per-round differences (min … max over rounds), µs.\n\n");
        out.push_str("| target − direct | p50 | p99 | p99.9 |\n| --- | ---: | ---: | ---: |\n");
        for r in rows.iter().filter(|r| r.target != "direct") {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                label(&r.target),
                fmt_added(r.added(direct, |f| f.p50_us)),
                fmt_added(r.added(direct, |f| f.p99_us)),
                fmt_added(r.added(direct, |f| f.p999_us)),
            );
        }
    }
    out
}

/// The Markdown table of one stream scenario.
pub fn stream_table(scenario: &str, rows: &[TargetSummary]) -> String {
    let mut out = String::new();
    let what = scenario
        .strip_prefix("streams-")
        .and_then(|p| {
            let v: Vec<&str> = p.split('x').collect();
            (v.len() == 3).then(|| {
                format!(
                    "{} concurrent SSE streams asked for, {} tokens/s each, {} tokens per stream (one stream per connection)",
                    v[0], v[1], v[2]
                )
            })
        })
        .unwrap_or_default();
    let rounds = rows.iter().map(|r| r.rounds.len()).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "#### `{scenario}`: {what}; medians of {rounds} alternating rounds\n"
    );
    out.push_str("| target | streams | open at peak | ITL p50 µs | ITL p99 µs | ITL p99.9 µs | ITL p50 − direct µs | ITL p99 − direct µs | TTFT p50 ms | gateway CPU µs/token event | gateway CPU ms/stream | RSS idle MiB | RSS open MiB | KiB per open stream | KiB per open stream, largest sample | RSS after MiB | errors | CPU0 busy % | CPU0 other work % | CPU1 busy % | load avg before |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
    let direct = rows.iter().find(|r| r.target == "direct");
    let mib = |v: Option<f64>| fmt(v.map(|k| k / 1024.0), 1);
    for r in rows {
        let added = |f: Field| match direct {
            Some(d) if r.target != "direct" => fmt_added(r.added(d, f)),
            _ => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            label(&r.target),
            fmt(r.med(|f| f.streams), 0),
            fmt(r.med(|f| f.open_peak), 0),
            fmt(r.med(|f| f.itl_p50_us), 0),
            fmt(r.med(|f| f.itl_p99_us), 0),
            fmt(r.med(|f| f.itl_p999_us), 0),
            added(|f| f.itl_p50_us),
            added(|f| f.itl_p99_us),
            fmt(r.med(|f| f.ttft_p50_us).map(|u| u / 1000.0), 1),
            fmt(r.med(|f| f.gw_cpu_us_per_event), 1),
            fmt(r.med(|f| f.gw_cpu_ms_per_stream), 2),
            mib(r.med(|f| f.rss_idle_kb).filter(|_| r.target != "direct")),
            mib(r.med(|f| f.rss_open_kb).filter(|_| r.target != "direct")),
            fmt(r.med(|f| f.kib_per_stream).filter(|_| r.target != "direct"), 1),
            fmt(r.med(|f| f.kib_per_stream_max).filter(|_| r.target != "direct"), 1),
            mib(r.med(|f| f.rss_after_kb).filter(|_| r.target != "direct")),
            fmt_errors(r),
            fmt(r.med(|f| f.gw_cpu_busy), 0),
            fmt(r.med(|f| f.other_cpu0), 0),
            fmt(r.med(|f| f.load_cpu_busy), 0),
            fmt(r.med(|f| f.loadavg), 2),
        );
    }
    out
}

fn round_json(f: &RunFigures) -> Value {
    json!({
        "round": f.round, "ok": f.ok, "errors": f.errors, "error_kinds": f.error_kinds,
        "ok_per_s": f.ok_per_s, "p50_us": f.p50_us, "p99_us": f.p99_us, "p999_us": f.p999_us,
        "max_us": f.max_us, "kept_up": f.kept_up, "gw_cpu_us_per_req": f.gw_cpu_us_per_req,
        "own_overhead_us": f.own_overhead_us, "gw_cpu_busy": f.gw_cpu_busy,
        "load_cpu_busy": f.load_cpu_busy, "loadavg": f.loadavg, "streams": f.streams,
        "token_events": f.token_events, "ttft_p50_us": f.ttft_p50_us,
        "itl_p50_us": f.itl_p50_us, "itl_p99_us": f.itl_p99_us, "itl_p999_us": f.itl_p999_us,
        "itl_p99_worst_part_us": f.itl_p99_worst_part_us,
        "gw_cpu_us_per_event": f.gw_cpu_us_per_event,
        "gw_cpu_ms_per_stream": f.gw_cpu_ms_per_stream, "open_peak": f.open_peak,
        "fds_peak": f.fds_peak, "rss_idle_kb": f.rss_idle_kb, "rss_open_kb": f.rss_open_kb,
        "kib_per_stream": f.kib_per_stream, "kib_per_stream_max": f.kib_per_stream_max,
        "rss_after_kb": f.rss_after_kb, "other_cpu0": f.other_cpu0,
    })
}

/// Reads a run directory and returns the Markdown report and the JSON summary (every
/// round of every target, so nothing is lost to the medians).
pub fn report_dir(dir: &Path) -> Result<(String, Value)> {
    let tsv_path = dir.join("runs.tsv");
    let tsv = std::fs::read_to_string(&tsv_path)
        .with_context(|| format!("reading {}", tsv_path.display()))?;
    let runs = parse_runs(dir, &tsv)?;
    let mut order: Vec<(String, Vec<String>)> = Vec::new();
    let mut figs: BTreeMap<(String, String), Vec<RunFigures>> = BTreeMap::new();
    let mut metas: BTreeMap<String, Value> = BTreeMap::new();
    for run in &runs {
        // A load process that wrote nothing (it failed) counts as zero.
        let parts: Vec<Value> = run
            .json
            .iter()
            .map(|j| {
                read(Some(j))
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null)
            })
            .collect();
        if let Some(m) = parts.first().and_then(|p| p.get("meta")) {
            metas
                .entry(run.scenario.clone())
                .or_insert_with(|| m.clone());
        }
        let samples = read(run.samples.as_ref()).map_or_else(Vec::new, |t| parse_samples(&t));
        let own = match (
            read(run.metrics_before.as_ref()),
            read(run.metrics_after.as_ref()),
        ) {
            (Some(b), Some(a)) if run.target != "direct" => own_overhead_us(&b, &a),
            _ => None,
        };
        match order.iter_mut().find(|(s, _)| *s == run.scenario) {
            Some((_, targets)) if !targets.contains(&run.target) => {
                targets.push(run.target.clone())
            }
            Some(_) => {}
            None => order.push((run.scenario.clone(), vec![run.target.clone()])),
        }
        figs.entry((run.scenario.clone(), run.target.clone()))
            .or_default()
            .push(figures(run, &parts, &samples, own));
    }
    let mut md = String::new();
    let mut summary = serde_json::Map::new();
    for (scenario, targets) in &order {
        let mut rows: Vec<TargetSummary> = targets
            .iter()
            .map(|t| TargetSummary {
                target: t.clone(),
                rounds: figs[&(scenario.clone(), t.clone())].clone(),
            })
            .collect();
        // direct, gateway, builtin, nginx: the order of the tables, whatever order they
        // ran in.
        let rank = |t: &str| {
            ["direct", "gateway", "builtin", "nginx"]
                .iter()
                .position(|x| *x == t)
                .unwrap_or(4)
        };
        rows.sort_by_key(|r| rank(&r.target));
        let meta = metas.get(scenario).cloned().unwrap_or(Value::Null);
        if scenario == "overhead" {
            md.push_str(&overhead_tables(&rows, &meta));
        } else {
            md.push_str(&stream_table(scenario, &rows));
        }
        md.push('\n');
        let per_target: serde_json::Map<String, Value> = rows
            .iter()
            .map(|r| {
                (
                    r.target.clone(),
                    Value::Array(r.rounds.iter().map(round_json).collect()),
                )
            })
            .collect();
        summary.insert(scenario.clone(), Value::Object(per_target));
    }
    Ok((md, Value::Object(summary)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "#scenario\ttarget\tround\tstreams\tjson\tgw_ticks\tclk_tck\tgw_cpu_busy\tload_cpu_busy\tloadavg\trss_idle_kb\trss_after_kb\tsamples\tmetrics_before\tmetrics_after";

    #[test]
    fn parses_runs_by_header() {
        let tsv = format!(
            "{HEADER}\noverhead\tgateway\t2\t-\toverhead/gateway-2.json\t250\t100\t31.5\t60.0\t0.84\t20000\t21000\t-\ta\tb\n"
        );
        let runs = parse_runs(Path::new("/o"), &tsv).expect("valid");
        assert_eq!(runs.len(), 1);
        let r = &runs[0];
        assert_eq!((r.round, r.streams, r.gw_ticks), (2, None, Some(250)));
        assert_eq!(r.json, vec![PathBuf::from("/o/overhead/gateway-2.json")]);
        assert_eq!(r.samples, None);
        assert_eq!(r.metrics_after, Some(PathBuf::from("/o/b")));
        assert!(parse_runs(Path::new("/o"), "#scenario\ttarget\n").is_err());
        assert!(parse_runs(Path::new("/o"), &format!("{HEADER}\nx\ty\n")).is_err());
    }

    #[test]
    fn metric_sums_over_labels_and_overhead_mean() {
        let before = "# TYPE x histogram\n\
            tollgate_llm_gateway_overhead_seconds_sum{model=\"a\"} 0.5\n\
            tollgate_llm_gateway_overhead_seconds_count{model=\"a\"} 1000\n";
        let after = "tollgate_llm_gateway_overhead_seconds_sum{model=\"a\"} 1.5\n\
            tollgate_llm_gateway_overhead_seconds_sum{model=\"b\"} 0.5\n\
            tollgate_llm_gateway_overhead_seconds_count{model=\"a\"} 11000\n\
            tollgate_llm_gateway_overhead_seconds_count{model=\"b\"} 10000\n";
        assert_eq!(
            metric_sum(after, "tollgate_llm_gateway_overhead_seconds_count"),
            Some(21000.0)
        );
        // (2.0 - 0.5) s over 20 000 requests = 75 µs.
        let m = own_overhead_us(before, after).expect("mean");
        assert!((m - 75.0).abs() < 1e-9, "{m}");
        assert_eq!(own_overhead_us(after, after), None);
    }

    #[test]
    fn plateau_takes_the_samples_at_the_peak() {
        let s = parse_samples("0\t20000\t30\t0\t0\n2\t300000\t19000\t9500\t9500\n4\t330000\t19900\t9950\t9950\n6\t332000\t19900\t9950\t9950\nbad line\n8\t40000\t40\t0\t0\n");
        assert_eq!(s.len(), 5);
        let p = plateau(&s).expect("plateau");
        assert_eq!((p.peak, p.conns, p.fds), (9950.0, 9950.0, 19900.0));
        assert_eq!((p.rss_median_kb, p.rss_max_kb), (331000.0, 332000.0));
        assert_eq!(plateau(&s[..1]), None);
    }

    fn fig(round: u32, p99: f64) -> RunFigures {
        RunFigures {
            round,
            p99_us: Some(p99),
            ..RunFigures::default()
        }
    }

    #[test]
    fn added_pairs_rounds() {
        let direct = TargetSummary {
            target: "direct".into(),
            rounds: vec![fig(1, 1000.0), fig(2, 5000.0), fig(3, 1200.0)],
        };
        let gw = TargetSummary {
            target: "gateway".into(),
            rounds: vec![fig(1, 1300.0), fig(2, 5100.0), fig(3, 1700.0)],
        };
        assert_eq!(gw.added(&direct, |f| f.p99_us), Some((300.0, 100.0, 500.0)));
        let md = overhead_tables(
            &[direct, gw],
            &json!({"rate": 5000.0, "duration_limit_s": 20.0}),
        );
        assert!(
            md.contains("| gateway → mock (openai provider) | n/a | +300 (+100 … +500) | n/a |"),
            "{md}"
        );
    }

    #[test]
    fn merges_load_processes() {
        let part = |ok: u64, p99: f64, unfinished: u64| {
            json!({
                "meta": {"rate": null}, "ok": ok, "errors_total": unfinished, "ok_per_s": 10.0,
                "errors": {"unfinished": unfinished, "timeout": 0},
                "latency_us": {"p50": 1.0, "p99": p99, "p999": p99, "max": p99},
                "sse": {"streams": ok, "finished": ok, "token_events": ok * 10,
                        "ttft_us": {"p50": 5.0, "p99": 9.0},
                        "inter_token_us": {"p50": 500.0, "p99": p99, "p999": p99, "max": p99}}
            })
        };
        let parts = [part(100, 510.0, 0), part(100, 530.0, 1), part(99, 520.0, 2)];
        let m = merge_parts(&parts);
        assert_eq!(num(&m, &["ok"]), Some(299.0));
        assert_eq!(num(&m, &["ok_per_s"]), Some(30.0));
        assert_eq!(m["errors"]["unfinished"], json!(3));
        assert_eq!(num(&m, &["sse", "token_events"]), Some(2990.0));
        assert_eq!(num(&m, &["sse", "inter_token_us", "p99"]), Some(520.0));
        assert_eq!(num(&m, &["sse", "inter_token_us", "max"]), Some(530.0));
        let run = LlmRun {
            round: 1,
            ..LlmRun::default()
        };
        let f = figures(&run, &parts, &[], None);
        assert_eq!(f.itl_p99_us, Some(520.0));
        assert_eq!(f.itl_p99_worst_part_us, Some(530.0));
        assert_eq!(f.errors, 3);
        assert_eq!(merge_parts(&parts[..1]), parts[0]);
    }

    #[test]
    fn figures_per_request_event_and_stream() {
        let run = LlmRun {
            target: "gateway".into(),
            round: 1,
            gw_ticks: Some(200),
            clk_tck: 100,
            rss_idle_kb: Some(20_000.0),
            ..LlmRun::default()
        };
        let load = json!({
            "ok": 1000, "errors_total": 2, "errors": {"timeout": 0, "unfinished": 2},
            "sse": {"streams": 1000, "token_events": 100000,
                    "inter_token_us": {"p50": 500000, "p99": 501000, "p999": 502000}}
        });
        let samples = parse_samples("0\t20000\t10\t0\t0\n2\t120000\t2010\t1000\t1000\n");
        let f = figures(&run, std::slice::from_ref(&load), &samples, None);
        // 2 s of CPU: 2000 µs per request, 20 µs per token event, 2 ms per stream.
        assert_eq!(f.gw_cpu_us_per_req, Some(2000.0));
        assert_eq!(f.gw_cpu_us_per_event, Some(20.0));
        assert_eq!(f.gw_cpu_ms_per_stream, Some(2.0));
        // (120000 - 20000) kB over 1000 streams.
        assert_eq!(f.kib_per_stream, Some(100.0));
        assert_eq!(f.kib_per_stream_max, Some(100.0));
        // No wall time: the other work on the gateway's CPU is unknown.
        assert_eq!(f.other_cpu0, None);
        let timed = LlmRun {
            wall_s: Some(10.0),
            gw_cpu_busy: Some(30.0),
            ..run.clone()
        };
        // 2 s of CPU in 10 s is 20 %; 30 % busy leaves 10 % for others.
        let o = figures(&timed, std::slice::from_ref(&load), &samples, None).other_cpu0;
        assert!((o.unwrap_or(0.0) - 10.0).abs() < 1e-9, "{o:?}");
        assert_eq!(f.error_kinds.get("unfinished"), Some(&2));
        assert!(!f.error_kinds.contains_key("timeout"));
    }
}
