//! The rule diagnosis: risk, summary, ranked root-cause hypotheses and recommendations
//! from the batch's Top-K codes and the knowledge base. Pure and deterministic: the same
//! batch gives the same diagnosis, field for field.

use std::collections::BTreeMap;

use argus_pipeline::report::FinishedBatch;

use super::code::ecu_label;
use super::findings::{Finding, findings};
use super::kb::KnowledgeBase;
use super::model::{Diagnosis, DiagnosisSource, Hypothesis, Recommendation, RiskLevel, Statement};

/// Hypotheses and recommendations kept at most.
const MAX_HYPOTHESES: usize = 8;
const MAX_RECOMMENDATIONS: usize = 12;

/// The rule diagnosis of a batch.
pub fn diagnose(batch: &FinishedBatch, kb: &KnowledgeBase) -> Diagnosis {
    let found = findings(&batch.report.top_errors, kb);
    let risk = found.iter().map(|f| f.severity).max().unwrap_or(RiskLevel::Low);
    Diagnosis {
        source: DiagnosisSource::Rules,
        fallback_reason: None,
        model: None,
        risk,
        summary: summary(batch, &found, risk),
        hypotheses: hypotheses(&found),
        recommendations: recommendations(&found),
        similar_batches: Vec::new(),
    }
}

fn summary(batch: &FinishedBatch, found: &[Finding<'_>], risk: RiskLevel) -> Statement {
    let report = &batch.report;
    if found.is_empty() {
        let text = match &batch.meta.failure {
            Some(why) if report.records == 0 => format!("Nothing to diagnose: {why}."),
            _ => format!("No error events in {} records: risk low.", report.records),
        };
        return Statement { text, codes: Vec::new() };
    }
    let mut by_count: Vec<&Finding<'_>> = found.iter().collect();
    by_count.sort_by(|a, b| b.top.count.cmp(&a.top.count).then_with(|| a.code().cmp(b.code())));
    let leading: Vec<&Finding<'_>> = by_count.into_iter().take(3).collect();
    let mut codes: Vec<String> = leading.iter().map(|f| f.code().to_owned()).collect();
    let listed = leading
        .iter()
        .map(|f| format!("{} ({}, {} events)", f.code(), f.title(), f.top.count))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = format!(
        "Risk {}: {} error events in {} records, {} distinct codes; most frequent: {listed}.",
        risk.as_str(),
        report.error_events,
        report.records,
        batch.code_counts.len(),
    );
    let worst: Vec<&Finding<'_>> = found.iter().filter(|f| f.severity == risk).collect();
    if risk >= RiskLevel::High {
        let names: Vec<&str> = worst.iter().map(|f| f.code()).collect();
        text.push_str(&format!(" Highest severity from {}.", names.join(", ")));
        codes.extend(names.iter().map(|c| (*c).to_owned()));
    }
    let emissions: Vec<&str> = found
        .iter()
        .filter(|f| f.entry.is_some_and(|e| e.flags.emissions_relevant))
        .map(|f| f.code())
        .collect();
    if !emissions.is_empty() {
        text.push_str(&format!(" Emissions-relevant (MIL): {}.", emissions.join(", ")));
        codes.extend(emissions.iter().map(|c| (*c).to_owned()));
    }
    codes.sort();
    codes.dedup();
    Statement { text, codes }
}

/// Causes from the knowledge base, weighted by likelihood × ln(1 + count) and merged when
/// several codes name the same cause; plus structural patterns the base cannot see.
fn hypotheses(found: &[Finding<'_>]) -> Vec<Hypothesis> {
    let mut causes: BTreeMap<String, (f64, Vec<String>)> = BTreeMap::new();
    let mut add = |cause: String, weight: f64, codes: &[&str]| {
        let e = causes.entry(cause).or_insert((0.0, Vec::new()));
        e.0 += weight;
        e.1.extend(codes.iter().map(|c| (*c).to_owned()));
    };
    for f in found {
        match f.entry {
            Some(entry) => {
                for c in &entry.common_causes {
                    add(c.cause.clone(), c.likelihood.weight() * f.weight(), &[f.code()]);
                }
            }
            None => add(
                format!("Fault behind {} {}: needs the manufacturer's documentation", f.title(), f.code()),
                f.weight(),
                &[f.code()],
            ),
        }
    }
    let network: Vec<&Finding<'_>> = found.iter().filter(|f| f.is_network()).collect();
    if network.len() >= 2 {
        let codes: Vec<&str> = network.iter().map(|f| f.code()).collect();
        let weight = 3.0 * network.iter().map(|f| f.weight()).sum::<f64>();
        add(
            "Shared CAN bus wiring or module power supply fault (several network codes at once)".into(),
            weight,
            &codes,
        );
    }
    let misfires: Vec<&Finding<'_>> = found.iter().filter(|f| f.is_misfire()).collect();
    if misfires.len() >= 2 {
        let codes: Vec<&str> = misfires.iter().map(|f| f.code()).collect();
        let weight = 3.0 * misfires.iter().map(|f| f.weight()).sum::<f64>();
        add(
            "Cause shared by several cylinders (fuel pressure, vacuum leak, ignition supply) rather than one cylinder's parts"
                .into(),
            weight,
            &codes,
        );
    }
    let top = causes.values().map(|(w, _)| *w).fold(0.0, f64::max);
    let mut ranked: Vec<Hypothesis> = causes
        .into_iter()
        .map(|(cause, (weight, mut codes))| {
            codes.sort();
            codes.dedup();
            Hypothesis { cause, score: round3(weight / top), codes }
        })
        .collect();
    // BTreeMap order makes ties deterministic (by cause text); the sort is stable.
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    ranked.truncate(MAX_HYPOTHESES);
    ranked
}

fn recommendations(found: &[Finding<'_>]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let flagged = |pred: fn(&Finding<'_>) -> bool| -> Vec<String> {
        let mut codes: Vec<String> = found.iter().filter(|f| pred(f)).map(|f| f.code().to_owned()).collect();
        codes.sort();
        codes
    };
    let limp = flagged(|f| f.entry.is_some_and(|e| e.flags.limp_mode_possible));
    if !limp.is_empty() {
        let priority = found.iter().filter(|f| limp.iter().any(|c| c == f.code())).map(|f| f.severity).max();
        out.push(Recommendation {
            action: "Limit driving until repaired: these faults can put the vehicle into limp mode.".into(),
            codes: limp,
            priority: priority.unwrap_or(RiskLevel::High),
            estimated_cost_eur: None,
            estimated_hours: None,
            diy_possible: None,
        });
    }
    for f in found {
        let rec = match f.entry {
            Some(entry) => {
                let first_cause =
                    entry.common_causes.iter().max_by_key(|c| c.likelihood).map(|c| c.cause.as_str());
                let start = first_cause.map(|c| format!("; start with: {c}")).unwrap_or_default();
                Recommendation {
                    action: format!("Diagnose {} ({}){start}.", f.code(), entry.title),
                    codes: vec![f.code().to_owned()],
                    priority: f.severity,
                    estimated_cost_eur: Some(entry.repair.estimated_cost_eur),
                    estimated_hours: Some(entry.repair.estimated_hours),
                    diy_possible: Some(entry.repair.diy_possible),
                }
            }
            None => Recommendation {
                action: format!(
                    "Read {} ({}) with the manufacturer's diagnostic tool; raised by {}.",
                    f.code(),
                    f.title(),
                    f.top.ecus.iter().map(|e| ecu_label(e)).collect::<Vec<_>>().join(", ")
                ),
                codes: vec![f.code().to_owned()],
                priority: f.severity,
                estimated_cost_eur: None,
                estimated_hours: None,
                diy_possible: None,
            },
        };
        out.push(rec);
    }
    let drive_cycle = flagged(|f| f.entry.is_some_and(|e| e.flags.drive_cycle_required));
    if !drive_cycle.is_empty() {
        out.push(Recommendation {
            action: "After the repair, complete a drive cycle so that the monitors of these codes run again."
                .into(),
            codes: drive_cycle,
            priority: RiskLevel::Low,
            estimated_cost_eur: None,
            estimated_hours: None,
            diy_possible: None,
        });
    }
    out.truncate(MAX_RECOMMENDATIONS);
    out
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
