//! Medians of the runs, ratios and targets, as markdown.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::load::Measurement;
use crate::scenarios::Scenario;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Tenantry,
    Baseline,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Tenantry => "tenantry",
            Target::Baseline => "baseline",
        }
    }
}

/// Throughput targets of issue 3.
const MIN_RATIO_GET_ADMISSION: f64 = 0.5;
const MIN_INGEST_EVENTS_PER_SECOND: f64 = 100_000.0;
const MIN_RATIO_INGEST: f64 = 0.4;
/// "About equal": the 10M tenant keeps at least this share of the 10k tenant's throughput.
const MIN_ANALYTICS_10M_OVER_10K: f64 = 0.8;

pub fn header(settings: &str) -> String {
    format!(
        "# tenantry-bench\n\n{settings}.\n\nThroughput and latency are medians over the runs; \
         ratio = tenantry / baseline.\n"
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.retain(|v| !v.is_nan());
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The measurements of one database.
pub struct Results {
    kind: &'static str,
    runs: BTreeMap<(usize, Target), Vec<Measurement>>,
}

/// Medians of one scenario on one server.
#[derive(Debug, Clone, Copy)]
struct Summary {
    throughput: f64,
    p50: f64,
    p99: f64,
    errors: u64,
}

impl Results {
    pub fn new(kind: &'static str) -> Results {
        Results {
            kind,
            runs: BTreeMap::new(),
        }
    }

    fn key(scenario: Scenario) -> usize {
        Scenario::ALL
            .iter()
            .position(|s| *s == scenario)
            .expect("every scenario is listed")
    }

    pub fn add(&mut self, scenario: Scenario, target: Target, measurement: Measurement) {
        self.runs
            .entry((Self::key(scenario), target))
            .or_default()
            .push(measurement);
    }

    fn summary(&self, scenario: Scenario, target: Target) -> Option<Summary> {
        let runs = self.runs.get(&(Self::key(scenario), target))?;
        Some(Summary {
            throughput: median(runs.iter().map(Measurement::throughput).collect()),
            p50: median(runs.iter().map(|m| m.latency_ms(0.5)).collect()),
            p99: median(runs.iter().map(|m| m.latency_ms(0.99)).collect()),
            errors: runs.iter().map(|m| m.errors).sum(),
        })
    }

    /// The markdown table of this database, with the verdict on each target.
    pub fn table(&self, scenarios: &[Scenario]) -> String {
        let title = match self.kind {
            "sqlite" => "SQLite",
            _ => "PostgreSQL",
        };
        let mut out = format!(
            "\n## {title}\n\n| scenario | unit | tenantry | baseline | ratio | tenantry p50 / p99 ms \
             | baseline p50 / p99 ms | errors (t / b) | target |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---|\n"
        );
        let mut notes = Vec::new();
        for &scenario in scenarios {
            let (Some(t), Some(b)) = (
                self.summary(scenario, Target::Tenantry),
                self.summary(scenario, Target::Baseline),
            ) else {
                continue;
            };
            let ratio = t.throughput / b.throughput;
            let verdict = match scenario {
                Scenario::Get | Scenario::Admission => format!(
                    "≥ 50% of baseline: {}",
                    met(ratio >= MIN_RATIO_GET_ADMISSION)
                ),
                Scenario::Ingest => format!(
                    "≥ 100,000 events/s: {}; ≥ 40% of baseline: {}",
                    met(t.throughput >= MIN_INGEST_EVENTS_PER_SECOND),
                    met(ratio >= MIN_RATIO_INGEST)
                ),
                Scenario::Analytics10k => String::new(),
                Scenario::Analytics10m => {
                    match self.summary(Scenario::Analytics10k, Target::Tenantry) {
                        Some(small) => {
                            let share = t.throughput / small.throughput;
                            let base_share = self
                                .summary(Scenario::Analytics10k, Target::Baseline)
                                .map_or(f64::NAN, |s| b.throughput / s.throughput);
                            notes.push(format!(
                                "Analytics, 10M vs 10k events: tenantry throughput ratio {share:.2}, \
                                 p50 latency ratio {:.2}; baseline throughput ratio {base_share:.2}.",
                                t.p50 / small.p50
                            ));
                            format!(
                                "≈ 10k (10M/10k = {share:.2}): {}",
                                met(share >= MIN_ANALYTICS_10M_OVER_10K)
                            )
                        }
                        None => String::new(),
                    }
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | {} / {} | {} |",
                scenario.label(),
                scenario.unit(),
                thousands(t.throughput),
                thousands(b.throughput),
                ratio,
                t.p50,
                t.p99,
                b.p50,
                b.p99,
                t.errors,
                b.errors,
                verdict
            );
        }
        for note in notes {
            let _ = write!(out, "\n{note}\n");
        }
        out
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

/// `12345.6` as `12,346`.
fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_owned();
    }
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_thousands() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
    }
}
