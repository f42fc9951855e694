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
/// Webhook delivery to one endpoint on loopback.
const MIN_WEBHOOKS_PER_SECOND: f64 = 1_000.0;
/// Emitting events costs a hooked scenario at most 10% of its ratio.
const MIN_HOOKED_OVER_PLAIN: f64 = 0.9;
/// A dialect's GET of a tenant against v1's: the shape mapping costs no second query.
const MIN_DIALECT_OVER_V1: f64 = 0.9;

pub fn header(settings: &str) -> String {
    format!(
        "# tenantry-bench\n\n{settings}.\n\nThroughput and latency are medians over the runs. \
         The ratio is tenantry / baseline per run (the two measured back to back): its median, \
         with the lowest and highest in parentheses.\n"
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

    /// Tenantry over the baseline (or `over` over `under`) run by run, since the two of
    /// one run were measured back to back: the median, the lowest and the highest.
    fn paired_ratio(
        &self,
        over: (Scenario, Target),
        under: (Scenario, Target),
    ) -> Option<(f64, f64, f64)> {
        let over = self.runs.get(&(Self::key(over.0), over.1))?;
        let under = self.runs.get(&(Self::key(under.0), under.1))?;
        let ratios: Vec<f64> = over
            .iter()
            .zip(under)
            .map(|(o, u)| o.throughput() / u.throughput())
            .collect();
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((median(ratios), low, high))
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
            "\n## {title}\n\n| scenario | unit | tenantry | baseline | ratio (runs) | tenantry p50 / p99 ms \
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
            let Some((ratio, low, high)) =
                self.paired_ratio((scenario, Target::Tenantry), (scenario, Target::Baseline))
            else {
                continue;
            };
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
                Scenario::GetMrassistant | Scenario::GetTrieve => {
                    let v1 = (Scenario::Get, Target::Tenantry);
                    match self.paired_ratio((scenario, Target::Tenantry), v1) {
                        Some((share, share_low, share_high)) => {
                            notes.push(format!(
                                "{}: {share:.2} of tenantry's v1 GET (runs \
                                 {share_low:.2}–{share_high:.2}).",
                                scenario.label()
                            ));
                            format!(
                                "≥ 90% of v1 GET ({share:.2}): {}",
                                met(share >= MIN_DIALECT_OVER_V1)
                            )
                        }
                        None => String::new(),
                    }
                }
                Scenario::AdmissionHooked | Scenario::IngestHooked => {
                    let plain = scenario.unhooked().expect("a hooked scenario");
                    match self.paired_ratio((plain, Target::Tenantry), (plain, Target::Baseline)) {
                        Some((plain_ratio, plain_low, plain_high)) => {
                            let cost = ratio / plain_ratio;
                            notes.push(format!(
                                "Emission cost, {}: ratio {plain_ratio:.2} \
                                 ({plain_low:.2}–{plain_high:.2}) without an endpoint, \
                                 {ratio:.2} ({low:.2}–{high:.2}) with one taking every event; \
                                 hooked / plain = {cost:.2}.",
                                plain.label()
                            ));
                            format!(
                                "≥ 90% of unhooked ratio ({cost:.2}): {}",
                                met(cost >= MIN_HOOKED_OVER_PLAIN)
                            )
                        }
                        None => String::new(),
                    }
                }
                Scenario::Webhooks => format!(
                    "≥ 1,000 hooks/s: {}",
                    met(t.throughput >= MIN_WEBHOOKS_PER_SECOND)
                ),
                Scenario::WebhooksHung => {
                    let alone = (Scenario::Webhooks, Target::Tenantry);
                    match self.paired_ratio((scenario, Target::Tenantry), alone) {
                        // The bar is the answering endpoint's own: its deliveries keep
                        // going at the outbox's rate while the other's hang.
                        Some((share, _, _)) => format!(
                            "≥ 1,000 hooks/s beside a hung endpoint ({share:.2} of alone): {}",
                            met(t.throughput >= MIN_WEBHOOKS_PER_SECOND)
                        ),
                        None => String::new(),
                    }
                }
                Scenario::Analytics10m => {
                    let small = (Scenario::Analytics10k, Target::Tenantry);
                    let big = (Scenario::Analytics10m, Target::Tenantry);
                    match (
                        self.paired_ratio(big, small),
                        self.summary(small.0, small.1),
                    ) {
                        (Some((share, share_low, share_high)), Some(small)) => {
                            let base_share = self
                                .paired_ratio(
                                    (Scenario::Analytics10m, Target::Baseline),
                                    (Scenario::Analytics10k, Target::Baseline),
                                )
                                .map_or(f64::NAN, |r| r.0);
                            notes.push(format!(
                                "Analytics, 10M vs 10k events: tenantry throughput ratio \
                                 {share:.2} (runs {share_low:.2}–{share_high:.2}), p50 latency \
                                 ratio {:.2}; baseline throughput ratio {base_share:.2}.",
                                t.p50 / small.p50
                            ));
                            format!(
                                "≈ 10k (10M/10k = {share:.2}): {}",
                                met(share >= MIN_ANALYTICS_10M_OVER_10K)
                            )
                        }
                        _ => String::new(),
                    }
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.2} ({:.2}–{:.2}) | {} / {} | {} / {} | {} / {} | {} |",
                scenario.label(),
                scenario.unit(),
                thousands(t.throughput),
                thousands(b.throughput),
                ratio,
                low,
                high,
                ms(t.p50),
                ms(t.p99),
                ms(b.p50),
                ms(b.p99),
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

/// A latency, or a dash where none was measured (webhook runs time the whole run only).
fn ms(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "–".to_owned()
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
pub fn thousands(value: f64) -> String {
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
