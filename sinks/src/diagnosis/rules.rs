//! The rule diagnosis: risk (`risk.rs`), summary, ranked root-cause hypotheses
//! (`hypotheses.rs`) and recommendations from the batch's Top-K codes and the knowledge
//! base. Pure and deterministic: the same batch gives the same diagnosis, field for field.

use argus_pipeline::report::FinishedBatch;

use super::code::ecu_label;
use super::findings::{Finding, findings};
use super::hypotheses::{pointed_at, ranked};
use super::kb::KnowledgeBase;
use super::model::{Diagnosis, DiagnosisSource, Hypothesis, Recommendation, RiskLevel, Statement};
use super::risk::FaultClass;

/// Hypotheses and recommendations kept at most.
const MAX_HYPOTHESES: usize = 8;
const MAX_RECOMMENDATIONS: usize = 12;

/// The rule diagnosis of a batch.
pub fn diagnose(batch: &FinishedBatch, kb: &KnowledgeBase) -> Diagnosis {
    let found = findings(&batch.report.top_errors, kb);
    let risk = found.iter().map(|f| f.severity).max().unwrap_or(RiskLevel::Low);
    let mut hypotheses = ranked(&found);
    let recommendations = recommendations(&found, &hypotheses);
    hypotheses.truncate(MAX_HYPOTHESES);
    Diagnosis {
        source: DiagnosisSource::Rules,
        fallback_reason: None,
        model: None,
        risk,
        summary: summary(batch, &found, risk, hypotheses.first()),
        hypotheses,
        recommendations,
        similar_batches: Vec::new(),
    }
}

fn summary(
    batch: &FinishedBatch,
    found: &[Finding<'_>],
    risk: RiskLevel,
    best: Option<&Hypothesis>,
) -> Statement {
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
        .map(|f| format!("{} ({}, {})", f.code(), f.title(), f.evidence()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = format!(
        "Risk {}: {} error events in {} records, {} distinct codes; most frequent: {listed}.",
        risk.as_str(),
        report.error_events,
        report.records,
        batch.code_counts.len(),
    );
    if risk >= RiskLevel::Medium {
        let worst: Vec<String> = found
            .iter()
            .filter(|f| f.severity == risk)
            .take(3)
            .map(|f| {
                codes.push(f.code().to_owned());
                let persistence = if f.persistent { ", persistent" } else { "" };
                format!("{} ({}{persistence})", f.code(), f.class.describe())
            })
            .collect();
        text.push_str(&format!(" Risk from {}.", worst.join(", ")));
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
    if let Some(best) = best {
        text.push_str(&format!(" Most likely: {} ({}).", best.cause, best.codes.join(", ")));
        codes.extend(best.codes.iter().cloned());
    }
    codes.sort();
    codes.dedup();
    Statement { text, codes }
}

/// Safety and limp-mode advice first, then one per code (its "start with" is the first
/// ranked hypothesis resting on it), then the drive-cycle reminder.
fn recommendations(found: &[Finding<'_>], ranked: &[Hypothesis]) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let advice = |action: &str, pred: &dyn Fn(&Finding<'_>) -> bool, priority: Option<RiskLevel>| {
        let chosen: Vec<&Finding<'_>> = found.iter().filter(|f| pred(f)).collect();
        let mut codes: Vec<String> = chosen.iter().map(|f| f.code().to_owned()).collect();
        codes.sort();
        (!codes.is_empty()).then(|| Recommendation {
            action: action.to_owned(),
            codes,
            priority: priority.or_else(|| chosen.iter().map(|f| f.severity).max()).unwrap_or(RiskLevel::High),
            estimated_cost_eur: None,
            estimated_hours: None,
            diy_possible: None,
        })
    };
    out.extend(advice(
        "Have these braking, steering or restraint faults checked before driving on.",
        &|f| f.class == FaultClass::SafetySystem,
        None,
    ));
    out.extend(advice(
        "Limit driving until repaired: these faults can put the vehicle into limp mode.",
        &|f| f.entry.is_some_and(|e| e.flags.limp_mode_possible),
        None,
    ));
    for f in found {
        out.push(for_code(f, found, ranked));
    }
    out.extend(advice(
        "After the repair, complete a drive cycle so that the monitors of these codes run again.",
        &|f| f.entry.is_some_and(|e| e.flags.drive_cycle_required),
        Some(RiskLevel::Low),
    ));
    out.truncate(MAX_RECOMMENDATIONS);
    out
}

fn for_code(f: &Finding<'_>, found: &[Finding<'_>], ranked: &[Hypothesis]) -> Recommendation {
    let code = f.code();
    let Some(entry) = f.entry else {
        let ecus = f.top.ecus.iter().map(|e| ecu_label(e)).collect::<Vec<_>>().join(", ");
        return Recommendation {
            action: format!(
                "Read {code} ({}) with the manufacturer's diagnostic tool; raised by {ecus}.",
                f.title()
            ),
            codes: vec![code.to_owned()],
            priority: f.severity,
            estimated_cost_eur: None,
            estimated_hours: None,
            diy_possible: None,
        };
    };
    let targets = pointed_at(f, found);
    let action = if !targets.is_empty() {
        format!(
            "{code} ({}) only reports that the transmission module holds a code: diagnose the ones logged with it ({}).",
            entry.title,
            targets.join(", ")
        )
    } else {
        let start = ranked.iter().find(|h| h.codes.iter().any(|c| c == code));
        let start = start.map(|h| format!("; start with: {}", h.cause)).unwrap_or_default();
        format!("Diagnose {code} ({}){start}.", entry.title)
    };
    Recommendation {
        action,
        codes: vec![code.to_owned()],
        priority: f.severity,
        estimated_cost_eur: Some(entry.repair.estimated_cost_eur),
        estimated_hours: Some(entry.repair.estimated_hours),
        diy_possible: Some(entry.repair.diy_possible),
    }
}
