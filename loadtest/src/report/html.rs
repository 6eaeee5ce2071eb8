//! The report as one self-contained HTML page: the latency percentile curve (x: percentile
//! on the usual HdrHistogram log scale, y: latency) and throughput over time (ok and errors
//! per second), both inline SVG, plus the text report. No scripts, no external files.

use std::fmt::Write;

use super::text::fmt_us;
use super::Report;

const W: f64 = 760.0;
const H: f64 = 300.0;
const PAD: f64 = 50.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn polyline(points: &[(f64, f64)], color: &str) -> String {
    let pts: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    format!(
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
        pts.join(" ")
    )
}

fn frame(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"11\">\
         <text x=\"{PAD}\" y=\"16\" font-size=\"14\">{}</text>\
         <line x1=\"{PAD}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#444\"/>\
         <line x1=\"{PAD}\" y1=\"30\" x2=\"{PAD}\" y2=\"{y0}\" stroke=\"#444\"/>",
        esc(title),
        y0 = H - PAD,
        x1 = W - 20.0
    )
}

/// The latency percentile plot.
pub fn latency_svg(r: &Report) -> String {
    let mut s = frame("Latency by percentile");
    let pts = &r.latency_percentiles;
    let max_y = pts.iter().map(|p| p.1).max().unwrap_or(1).max(1) as f64;
    let max_x = 6.0; // log10(1 / (1 - 0.999999))
    let x_of = |p: f64| {
        let v = if p >= 100.0 {
            max_x
        } else {
            (1.0 / (1.0 - p / 100.0)).log10().min(max_x)
        };
        PAD + v / max_x * (W - PAD - 20.0)
    };
    let y_of = |us: f64| (H - PAD) - us / max_y * (H - PAD - 30.0);
    for (label, p) in [
        ("0%", 0.0),
        ("90%", 90.0),
        ("99%", 99.0),
        ("99.9%", 99.9),
        ("99.99%", 99.99),
        ("99.999%", 99.999),
    ] {
        let x = x_of(p);
        let _ = write!(s, "<line x1=\"{x:.1}\" y1=\"30\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>", H - PAD, H - PAD + 16.0);
    }
    for i in 0..=4 {
        let v = max_y * f64::from(i) / 4.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            PAD - 4.0,
            y_of(v) + 4.0,
            fmt_us(v as u64)
        );
    }
    let line: Vec<(f64, f64)> = pts
        .iter()
        .map(|(p, us)| (x_of(*p), y_of(*us as f64)))
        .collect();
    s.push_str(&polyline(&line, "#1f6feb"));
    s.push_str("</svg>");
    s
}

/// The throughput-over-time plot.
pub fn throughput_svg(r: &Report) -> String {
    let mut s = frame("Completions per second (blue: ok, red: errors)");
    let secs = &r.per_second;
    let n = secs.len().max(2) as f64;
    let max_y = secs
        .iter()
        .map(|x| x.ok.max(x.errors))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x_of = |i: f64| PAD + i / (n - 1.0) * (W - PAD - 20.0);
    let y_of = |v: f64| (H - PAD) - v / max_y * (H - PAD - 30.0);
    for i in 0..=4 {
        let v = max_y * f64::from(i) / 4.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{v:.0}</text>",
            PAD - 4.0,
            y_of(v) + 4.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} s</text>",
        W - 20.0,
        H - PAD + 16.0,
        secs.len()
    );
    let ok: Vec<(f64, f64)> = secs
        .iter()
        .map(|x| (x_of(x.t as f64), y_of(x.ok as f64)))
        .collect();
    let err: Vec<(f64, f64)> = secs
        .iter()
        .map(|x| (x_of(x.t as f64), y_of(x.errors as f64)))
        .collect();
    s.push_str(&polyline(&ok, "#1f6feb"));
    s.push_str(&polyline(&err, "#d1242f"));
    s.push_str("</svg>");
    s
}

impl Report {
    /// The whole page.
    pub fn to_html(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tollgate-load: {}</title></head>\
             <body style=\"font-family:sans-serif\"><h1>tollgate-load</h1>{}<br>{}<pre>{}</pre></body></html>\n",
            esc(&self.meta.url),
            latency_svg(self),
            throughput_svg(self),
            esc(&self.to_text())
        )
    }
}
