//! The summary of a `compare.sh` run: medians over rounds, ratios to a reference, and the
//! Markdown tables that go into RESULTS.md.
//!
//! Input: the run directory that compare.sh wrote, with `runs.tsv` (one line per load run:
//! scenario, target, round, the tollgate-load JSON file, CPU ticks of the proxy and of the
//! mock, clock ticks per second, and how busy the proxy's and the load generator's CPUs
//! were) and the JSON files it names. Output: Markdown on stdout, `summary.json` and
//! `summary.md` in the run directory.
//!
//! The JSON of tollgate-load is read as an untyped value, by the few keys used here, so a
//! new field there never breaks this. A missing figure reads as "n/a", never a panic.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// One load run, as listed in `runs.tsv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub scenario: String,
    pub target: String,
    pub round: u32,
    pub json: PathBuf,
    /// utime + stime of the proxy's processes over the run; `None` for the direct row.
    pub proxy_ticks: Option<u64>,
    pub mock_ticks: Option<u64>,
    pub clk_tck: u64,
    /// Busy share of the proxy's CPU and of the load generator's CPU over the run, 0..=100.
    pub proxy_cpu_busy: Option<f64>,
    pub load_cpu_busy: Option<f64>,
}

/// What one run measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub ok: u64,
    pub errors: u64,
    pub ok_per_s: f64,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub connections: Option<u64>,
    /// Proxy CPU per ok response, µs.
    pub cpu_us_per_req: Option<f64>,
    pub mock_cpu_us_per_req: Option<f64>,
    pub proxy_cpu_busy: Option<f64>,
    pub load_cpu_busy: Option<f64>,
    pub sse: Option<SseFigures>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseFigures {
    pub token_events: u64,
    pub ttft_p50_us: Option<f64>,
    pub ttft_p99_us: Option<f64>,
    pub itl_p50_us: Option<f64>,
    pub itl_p99_us: Option<f64>,
    pub itl_p999_us: Option<f64>,
    /// Proxy CPU per token event, µs.
    pub cpu_us_per_event: Option<f64>,
}

/// Medians over the rounds of one target in one scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub target: String,
    pub rounds: usize,
    pub ok_per_s: Option<f64>,
    pub ok_per_s_min: Option<f64>,
    pub ok_per_s_max: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub cpu_us_per_req: Option<f64>,
    pub mock_cpu_us_per_req: Option<f64>,
    pub proxy_cpu_busy: Option<f64>,
    pub load_cpu_busy: Option<f64>,
    pub errors: u64,
    pub connections: Option<u64>,
    pub ttft_p50_us: Option<f64>,
    pub ttft_p99_us: Option<f64>,
    pub itl_p50_us: Option<f64>,
    pub itl_p99_us: Option<f64>,
    pub itl_p999_us: Option<f64>,
    pub cpu_us_per_event: Option<f64>,
}

/// Parses `runs.tsv`; paths in it are relative to `dir`. Lines starting with `#` are
/// comments.
pub fn parse_runs(dir: &Path, tsv: &str) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for (i, line) in tsv.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 9 {
            bail!("runs.tsv line {}: {} fields, want 9", i + 1, f.len());
        }
        let opt_u64 = |s: &str| s.parse::<u64>().ok();
        let opt_f64 = |s: &str| s.parse::<f64>().ok();
        runs.push(Run {
            scenario: f[0].to_string(),
            target: f[1].to_string(),
            round: f[2]
                .parse()
                .with_context(|| format!("runs.tsv line {}: round", i + 1))?,
            json: dir.join(f[3]),
            proxy_ticks: opt_u64(f[4]),
            mock_ticks: opt_u64(f[5]),
            clk_tck: opt_u64(f[6]).filter(|&t| t > 0).unwrap_or(100),
            proxy_cpu_busy: opt_f64(f[7]),
            load_cpu_busy: opt_f64(f[8]),
        });
    }
    Ok(runs)
}

fn num(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

/// The figures of one run from its tollgate-load JSON and its CPU samples.
pub fn figures(run: &Run, load_json: &Value) -> Figures {
    let ok = num(load_json, &["ok"]).unwrap_or(0.0) as u64;
    let per = |ticks: Option<u64>, n: u64| {
        ticks
            .filter(|_| n > 0)
            .map(|t| t as f64 * 1e6 / run.clk_tck as f64 / n as f64)
    };
    let sse = load_json.get("sse").filter(|s| s.is_object()).map(|s| {
        let token_events = num(s, &["token_events"]).unwrap_or(0.0) as u64;
        SseFigures {
            token_events,
            ttft_p50_us: num(s, &["ttft_us", "p50"]),
            ttft_p99_us: num(s, &["ttft_us", "p99"]),
            itl_p50_us: num(s, &["inter_token_us", "p50"]),
            itl_p99_us: num(s, &["inter_token_us", "p99"]),
            itl_p999_us: num(s, &["inter_token_us", "p999"]),
            cpu_us_per_event: per(run.proxy_ticks, token_events),
        }
    });
    Figures {
        ok,
        errors: num(load_json, &["errors_total"]).unwrap_or(0.0) as u64,
        ok_per_s: num(load_json, &["ok_per_s"]).unwrap_or(0.0),
        p50_us: num(load_json, &["latency_us", "p50"]),
        p99_us: num(load_json, &["latency_us", "p99"]),
        connections: num(load_json, &["meta", "connections"]).map(|c| c as u64),
        cpu_us_per_req: per(run.proxy_ticks, ok),
        mock_cpu_us_per_req: per(run.mock_ticks, ok),
        proxy_cpu_busy: run.proxy_cpu_busy,
        load_cpu_busy: run.load_cpu_busy,
        sse,
    }
}

/// The median of the values present (mean of the middle two for an even count).
pub fn median(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut v: Vec<f64> = values
        .into_iter()
        .flatten()
        .filter(|x| x.is_finite())
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Medians of one target's rounds.
pub fn summarise(target: &str, rounds: &[Figures]) -> Summary {
    let m = |f: &dyn Fn(&Figures) -> Option<f64>| median(rounds.iter().map(f));
    let sse = |f: &dyn Fn(&SseFigures) -> Option<f64>| {
        median(rounds.iter().map(|r| r.sse.as_ref().and_then(f)))
    };
    let rates = rounds.iter().map(|r| r.ok_per_s);
    Summary {
        target: target.to_string(),
        rounds: rounds.len(),
        ok_per_s: m(&|r| Some(r.ok_per_s)),
        ok_per_s_min: rates.clone().reduce(f64::min),
        ok_per_s_max: rates.reduce(f64::max),
        p50_us: m(&|r| r.p50_us),
        p99_us: m(&|r| r.p99_us),
        cpu_us_per_req: m(&|r| r.cpu_us_per_req),
        mock_cpu_us_per_req: m(&|r| r.mock_cpu_us_per_req),
        proxy_cpu_busy: m(&|r| r.proxy_cpu_busy),
        load_cpu_busy: m(&|r| r.load_cpu_busy),
        errors: rounds.iter().map(|r| r.errors).sum(),
        connections: rounds.iter().find_map(|r| r.connections),
        ttft_p50_us: sse(&|s| s.ttft_p50_us),
        ttft_p99_us: sse(&|s| s.ttft_p99_us),
        itl_p50_us: sse(&|s| s.itl_p50_us),
        itl_p99_us: sse(&|s| s.itl_p99_us),
        itl_p999_us: sse(&|s| s.itl_p999_us),
        cpu_us_per_event: sse(&|s| s.cpu_us_per_event),
    }
}

/// What a scenario is, in words, for the table's heading.
pub fn describe(scenario: &str) -> &'static str {
    match scenario {
        "get" => "small GET, keep-alive (13-byte answer)",
        "post" => "16 KiB POST, keep-alive (13-byte answer)",
        "close" => "small GET, a new client connection per request (upstream keep-alive)",
        "sse" => "SSE streams (mock OpenAI chat completions, paced tokens)",
        "runtimes" => {
            "the minimal proxy loop per runtime (and Tollgate on each monoio driver), small GET keep-alive"
        }
        _ => "",
    }
}

/// The target the ratios are taken against.
pub fn reference(scenario: &str) -> &'static str {
    if scenario == "runtimes" {
        "monoio-uring"
    } else {
        "tollgate"
    }
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "n/a".to_string(), |x| format!("{x:.decimals$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "n/a".to_string(),
    }
}

fn diff(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:+.0}", a - b),
        _ => "n/a".to_string(),
    }
}

/// The Markdown table of one scenario.
pub fn markdown_table(scenario: &str, rows: &[Summary]) -> String {
    let refname = reference(scenario);
    let reference = rows.iter().find(|r| r.target == refname);
    let direct = rows.iter().find(|r| r.target == "direct");
    let mut out = String::new();
    let conns = rows
        .iter()
        .find_map(|r| r.connections)
        .map_or(String::new(), |c| format!(", {c} connections"));
    let _ = writeln!(out, "#### `{scenario}`: {}{conns}\n", describe(scenario));
    if scenario == "sse" {
        out.push_str(
            "| target | streams/s | TTFT p50 µs | TTFT p99 µs | inter-token p50 µs | inter-token p99 µs | ITL p99 − direct µs | CPU µs/token event | CPU µs/stream | CPU/stream ÷ tollgate | errors | proxy CPU busy % |\n",
        );
        out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for r in rows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.target,
                fmt_opt(r.ok_per_s, 0),
                fmt_opt(r.ttft_p50_us, 0),
                fmt_opt(r.ttft_p99_us, 0),
                fmt_opt(r.itl_p50_us, 0),
                fmt_opt(r.itl_p99_us, 0),
                if r.target == "direct" {
                    "—".to_string()
                } else {
                    diff(r.itl_p99_us, direct.and_then(|d| d.itl_p99_us))
                },
                fmt_opt(r.cpu_us_per_event, 1),
                fmt_opt(r.cpu_us_per_req, 0),
                ratio(r.cpu_us_per_req, reference.and_then(|t| t.cpu_us_per_req)),
                r.errors,
                fmt_opt(r.proxy_cpu_busy, 0),
            );
        }
        return out;
    }
    let _ = writeln!(
        out,
        "| target | req/s (median) | req/s min–max | p50 µs | p99 µs | CPU µs/req | req/s ÷ {refname} | CPU/req ÷ {refname} | p99 ÷ {refname} | errors | proxy CPU busy % | load CPU busy % |"
    );
    out.push_str(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let range = match (r.ok_per_s_min, r.ok_per_s_max) {
            (Some(a), Some(b)) => format!("{a:.0}–{b:.0}"),
            _ => "n/a".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.target,
            fmt_opt(r.ok_per_s, 0),
            range,
            fmt_opt(r.p50_us, 0),
            fmt_opt(r.p99_us, 0),
            fmt_opt(r.cpu_us_per_req, 1),
            ratio(r.ok_per_s, reference.and_then(|t| t.ok_per_s)),
            ratio(r.cpu_us_per_req, reference.and_then(|t| t.cpu_us_per_req)),
            ratio(r.p99_us, reference.and_then(|t| t.p99_us)),
            r.errors,
            fmt_opt(r.proxy_cpu_busy, 0),
            fmt_opt(r.load_cpu_busy, 0),
        );
    }
    out
}

fn summary_json(s: &Summary) -> Value {
    json!({
        "target": s.target, "rounds": s.rounds, "ok_per_s": s.ok_per_s,
        "ok_per_s_min": s.ok_per_s_min, "ok_per_s_max": s.ok_per_s_max,
        "p50_us": s.p50_us, "p99_us": s.p99_us, "cpu_us_per_req": s.cpu_us_per_req,
        "mock_cpu_us_per_req": s.mock_cpu_us_per_req, "proxy_cpu_busy": s.proxy_cpu_busy,
        "load_cpu_busy": s.load_cpu_busy, "errors": s.errors, "connections": s.connections,
        "ttft_p50_us": s.ttft_p50_us, "ttft_p99_us": s.ttft_p99_us,
        "itl_p50_us": s.itl_p50_us, "itl_p99_us": s.itl_p99_us, "itl_p999_us": s.itl_p999_us,
        "cpu_us_per_event": s.cpu_us_per_event,
    })
}

/// Reads a run directory and returns the Markdown report and the JSON summary.
/// Scenarios and targets keep the order in which they first appear in `runs.tsv`.
pub fn report_dir(dir: &Path) -> Result<(String, Value)> {
    let tsv_path = dir.join("runs.tsv");
    let tsv = std::fs::read_to_string(&tsv_path)
        .with_context(|| format!("reading {}", tsv_path.display()))?;
    let runs = parse_runs(dir, &tsv)?;
    let mut order: Vec<(String, Vec<String>)> = Vec::new();
    let mut figs: BTreeMap<(String, String), Vec<Figures>> = BTreeMap::new();
    for run in &runs {
        let value = match std::fs::read_to_string(&run.json) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", run.json.display()))?,
            // A run whose load generator wrote nothing (it failed) counts as zero.
            Err(_) => Value::Null,
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
            .push(figures(run, &value));
    }
    let mut md = String::new();
    let mut summary = serde_json::Map::new();
    for (scenario, targets) in &order {
        let rows: Vec<Summary> = targets
            .iter()
            .map(|t| summarise(t, &figs[&(scenario.clone(), t.clone())]))
            .collect();
        md.push_str(&markdown_table(scenario, &rows));
        md.push('\n');
        summary.insert(
            scenario.clone(),
            Value::Array(rows.iter().map(summary_json).collect()),
        );
    }
    Ok((md, Value::Object(summary)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_missing() {
        assert_eq!(median([Some(3.0), Some(1.0), Some(2.0)]), Some(2.0));
        assert_eq!(
            median([Some(4.0), None, Some(1.0), Some(2.0), Some(3.0)]),
            Some(2.5)
        );
        assert_eq!(median([None, None]), None);
        assert_eq!(median([Some(f64::NAN), Some(1.0)]), Some(1.0));
    }

    fn run(ticks: Option<u64>) -> Run {
        Run {
            scenario: "get".into(),
            target: "tollgate".into(),
            round: 1,
            json: PathBuf::from("x.json"),
            proxy_ticks: ticks,
            mock_ticks: Some(50),
            clk_tck: 100,
            proxy_cpu_busy: Some(99.0),
            load_cpu_busy: None,
        }
    }

    #[test]
    fn figures_from_load_json() {
        let v = json!({
            "ok": 200000, "errors_total": 3, "ok_per_s": 40000.0,
            "meta": {"connections": 64},
            "latency_us": {"p50": 1500, "p99": 3000},
            "sse": {"token_events": 1000, "ttft_us": {"p50": 10, "p99": 20},
                    "inter_token_us": {"p50": 50000, "p99": 51000, "p999": 52000}}
        });
        let f = figures(&run(Some(400)), &v);
        assert_eq!(f.ok, 200_000);
        assert_eq!(f.errors, 3);
        // 400 ticks at 100/s = 4 s of CPU over 200k requests = 20 µs each.
        assert_eq!(f.cpu_us_per_req, Some(20.0));
        assert_eq!(f.mock_cpu_us_per_req, Some(2.5));
        assert_eq!(f.p99_us, Some(3000.0));
        let sse = f.sse.expect("sse figures");
        assert_eq!(sse.cpu_us_per_event, Some(4000.0));
        assert_eq!(sse.itl_p999_us, Some(52000.0));
        // A direct run has no proxy; a failed run has no JSON.
        assert_eq!(figures(&run(None), &v).cpu_us_per_req, None);
        assert_eq!(figures(&run(Some(1)), &Value::Null).ok, 0);
    }

    #[test]
    fn parses_runs_tsv() {
        let tsv = "# comment\nget\tnginx\t2\tget/nginx-2.json\t123\t45\t100\t97.5\t100.0\n\
                   get\tdirect\t2\tget/direct-2.json\t-\t45\t100\t3.0\t100.0\n";
        let runs = parse_runs(Path::new("/o"), tsv).expect("valid tsv");
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].json, PathBuf::from("/o/get/nginx-2.json"));
        assert_eq!(runs[0].proxy_ticks, Some(123));
        assert_eq!(runs[1].proxy_ticks, None);
        assert!(parse_runs(Path::new("/o"), "get\tx\n").is_err());
    }

    #[test]
    fn table_has_ratios_to_the_reference() {
        let row = |t: &str, rate: f64, cpu: f64| Summary {
            target: t.into(),
            rounds: 5,
            ok_per_s: Some(rate),
            ok_per_s_min: Some(rate),
            ok_per_s_max: Some(rate),
            p99_us: Some(1000.0),
            cpu_us_per_req: Some(cpu),
            ..Summary::default()
        };
        let md = markdown_table(
            "get",
            &[
                row("tollgate", 50_000.0, 20.0),
                row("nginx", 25_000.0, 40.0),
            ],
        );
        assert!(
            md.contains("| nginx | 25000 | 25000–25000 | n/a | 1000 | 40.0 | 0.50 | 2.00 | 1.00 |"),
            "{md}"
        );
        assert!(md.contains("| tollgate | 50000 |"));
    }
}
