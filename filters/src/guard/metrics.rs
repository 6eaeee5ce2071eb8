//! The guard's counters: redactions by detector (`tollgate_guard_redactions_total{type}`)
//! and refused requests by rule (`tollgate_guard_rejections_total{rule}`).
//!
//! Same discipline as the core's per-worker metrics: each counter is written by one
//! thread only (the worker whose guard compiled it), with a load and a store, and read
//! by the admin thread at scrape time. A guard gets its counters when it is compiled
//! (on its worker, once per config generation), from a registry keyed by metric, label
//! and thread, so counters survive reloads and no two cores write one counter. The
//! registry's mutex is taken only then and at scrape, never per request.
#![allow(clippy::disallowed_types)] // the registry's mutex is control-plane only

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

/// A counter with one writer (see the module doc).
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Redactions,
    Rejections,
}

struct Series {
    metric: Metric,
    label: String,
    thread: ThreadId,
    counter: Arc<Counter>,
}

static REGISTRY: Mutex<Vec<Series>> = Mutex::new(Vec::new());

/// This thread's counter of `metric` with `label`, created on first use.
pub fn counter(metric: Metric, label: &str) -> Arc<Counter> {
    let thread = std::thread::current().id();
    let mut all = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = all
        .iter()
        .find(|s| s.metric == metric && s.thread == thread && s.label == label)
    {
        return s.counter.clone();
    }
    let counter = Arc::new(Counter::default());
    all.push(Series {
        metric,
        label: label.to_owned(),
        thread,
        counter: counter.clone(),
    });
    counter
}

/// The sum over threads of `metric` with `label`.
pub fn total(metric: Metric, label: &str) -> u64 {
    let all = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    all.iter()
        .filter(|s| s.metric == metric && s.label == label)
        .map(|s| s.counter.get())
        .sum()
}

/// Appends both counters, merged across workers, in the Prometheus text format. Writes
/// nothing while no route has a guard.
pub fn render(w: &mut String) {
    let all = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    for (metric, name, label, help) in [
        (
            Metric::Redactions,
            "tollgate_guard_redactions_total",
            "type",
            "Values replaced by placeholders in LLM requests, by detector.",
        ),
        (
            Metric::Rejections,
            "tollgate_guard_rejections_total",
            "rule",
            "LLM requests refused by a guard, by rule.",
        ),
    ] {
        let mut merged: Vec<(&str, u64)> = Vec::new();
        for s in all.iter().filter(|s| s.metric == metric) {
            match merged.iter_mut().find(|(l, _)| *l == s.label) {
                Some((_, n)) => *n += s.counter.get(),
                None => merged.push((&s.label, s.counter.get())),
            }
        }
        if merged.is_empty() {
            continue;
        }
        merged.sort_unstable();
        let _ = writeln!(w, "# HELP {name} {help}\n# TYPE {name} counter");
        for (l, n) in merged {
            let _ = writeln!(w, "{name}{{{label}=\"{}\"}} {n}", escape(l));
        }
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_per_thread_and_merged_at_render() {
        let label = "metrics-test-rule";
        let a = counter(Metric::Rejections, label);
        a.inc();
        assert!(Arc::ptr_eq(&a, &counter(Metric::Rejections, label)));
        std::thread::spawn(move || counter(Metric::Rejections, label).add(2))
            .join()
            .unwrap();
        assert_eq!(total(Metric::Rejections, label), 3);
        let mut page = String::new();
        render(&mut page);
        assert!(
            page.contains("tollgate_guard_rejections_total{rule=\"metrics-test-rule\"} 3"),
            "{page}"
        );
        assert!(page.contains("# TYPE tollgate_guard_rejections_total counter"));
    }
}
