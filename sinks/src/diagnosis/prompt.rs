//! The LLM's prompt and the parsing of its answer. The prompt carries a pruned summary of
//! the batch (its Top-K codes with their counts, ECUs and knowledge-base entries, and the
//! rule engine's risk), never raw log records. The answer must be one JSON object with a
//! summary, hypotheses and recommendations, each citing codes of this batch.

use std::collections::BTreeMap;

use argus_pipeline::report::FinishedBatch;
use serde::Deserialize;
use serde_json::json;

use super::findings::findings;
use super::kb::KnowledgeBase;
use super::model::{Diagnosis, DiagnosisSource, Hypothesis, Recommendation, Statement};

const SYSTEM: &str = "You are an automotive diagnostics assistant. You receive the error codes a vehicle \
logged in one upload batch, with their counts, the ECUs that raised them and reference data. Answer with \
one JSON object and nothing else: {\"summary\": string, \"summary_codes\": [code], \"hypotheses\": \
[{\"cause\": string, \"confidence\": number 0..1, \"codes\": [code]}], \"recommendations\": [{\"action\": \
string, \"codes\": [code]}]}. Rank hypotheses most likely first. Every code you cite must be one of the \
batch's codes, spelled exactly as given.";

/// The chat messages for a batch (system, user).
pub fn messages(batch: &FinishedBatch, rules: &Diagnosis, kb: &KnowledgeBase) -> [serde_json::Value; 2] {
    let codes: Vec<serde_json::Value> = findings(&batch.report.top_errors, kb)
        .iter()
        .map(|f| {
            let reference = f.entry.map(|e| {
                json!({
                    "title": e.title,
                    "description": e.description,
                    "common_causes": e.common_causes.iter()
                        .map(|c| json!({"cause": c.cause, "likelihood": c.likelihood.as_str()}))
                        .collect::<Vec<_>>(),
                    "affected_components": e.affected_components,
                    "related_codes": e.related_codes,
                    "flags": {"mil": e.flags.mil, "emissions_relevant": e.flags.emissions_relevant,
                              "limp_mode_possible": e.flags.limp_mode_possible},
                    "repair": {"estimated_cost_eur": e.repair.estimated_cost_eur,
                               "estimated_hours": e.repair.estimated_hours},
                })
            });
            json!({
                "code": f.code(),
                "count": f.top.count,
                "evidence": f.evidence(),
                "persistent": f.persistent,
                "ecus": f.top.ecus,
                "kind": f.kind.describe(),
                "severity": f.severity.as_str(),
                "reference": reference,
            })
        })
        .collect();
    let user = json!({
        "records": batch.report.records,
        "error_events": batch.report.error_events,
        "distinct_codes": batch.code_counts.len(),
        "rule_risk": rules.risk.as_str(),
        "top_codes": codes,
    });
    [json!({"role": "system", "content": SYSTEM}), json!({"role": "user", "content": user.to_string()})]
}

#[derive(Debug, Deserialize)]
struct Answer {
    summary: String,
    #[serde(default)]
    summary_codes: Vec<String>,
    hypotheses: Vec<AnswerHypothesis>,
    recommendations: Vec<AnswerRecommendation>,
}

#[derive(Debug, Deserialize)]
struct AnswerHypothesis {
    cause: String,
    #[serde(default)]
    confidence: Option<f64>,
    codes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct AnswerRecommendation {
    action: String,
    codes: Vec<String>,
}

/// Turns the model's message content into a diagnosis, or says why it cannot. The risk
/// stays the rule engine's (it is computed from counts and flags, not judged); repair
/// estimates come from the knowledge base entries of the codes a recommendation cites.
pub fn parse_answer(
    content: &str,
    batch: &FinishedBatch,
    rules: &Diagnosis,
    kb: &KnowledgeBase,
    model: &str,
) -> Result<Diagnosis, String> {
    let body = strip_fence(content);
    let answer: Answer =
        serde_json::from_str(body).map_err(|e| format!("not the expected JSON object: {e}"))?;
    if answer.summary.trim().is_empty() {
        return Err("empty summary".into());
    }
    // The model may cite `P0301` for the batch's `P0301-00`: map both spellings.
    let mut known: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &batch.report.top_errors {
        known.entry(t.code.as_str()).or_default().push(&t.code);
        if let Some((base, _)) = t.code.split_once('-').filter(|_| !t.code.starts_with("APP-")) {
            known.entry(base).or_default().push(&t.code);
        }
    }
    let cite = |codes: &[String], what: &str| -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for c in codes {
            let full = known
                .get(c.as_str())
                .ok_or_else(|| format!("{what} cites {c:?}, not a code of the batch"))?;
            out.extend(full.iter().map(|s| (*s).to_owned()));
        }
        if out.is_empty() {
            return Err(format!("{what} cites no code"));
        }
        out.sort();
        out.dedup();
        Ok(out)
    };
    let summary_codes = if answer.summary_codes.is_empty() {
        rules.summary.codes.clone()
    } else {
        cite(&answer.summary_codes, "summary")?
    };
    let found = findings(&batch.report.top_errors, kb);
    let mut hypotheses = Vec::new();
    let n = answer.hypotheses.len().max(1) as f64;
    for (i, h) in answer.hypotheses.into_iter().enumerate() {
        let codes = cite(&h.codes, "a hypothesis")?;
        // Without a confidence, rank order stands in for one.
        let score = h.confidence.filter(|c| (0.0..=1.0).contains(c)).unwrap_or(1.0 - i as f64 / n);
        // The evidence and components are the batch's and the base's, not the model's words.
        let cited: Vec<_> = found.iter().filter(|f| codes.iter().any(|c| c == f.code())).collect();
        let evidence =
            cited.iter().map(|f| format!("{}: {}", f.code(), f.evidence())).collect::<Vec<_>>().join("; ");
        let mut components: Vec<String> = cited
            .iter()
            .filter_map(|f| f.entry)
            .flat_map(|e| e.affected_components.iter().cloned())
            .collect();
        components.sort();
        components.dedup();
        hypotheses.push(Hypothesis {
            cause: h.cause,
            score,
            codes,
            evidence,
            components,
            symptoms: Vec::new(),
        });
    }
    let mut recommendations = Vec::new();
    for r in answer.recommendations {
        let codes = cite(&r.codes, "a recommendation")?;
        let cited: Vec<_> = found.iter().filter(|f| codes.iter().any(|c| c == f.code())).collect();
        let entries: Vec<_> = cited.iter().filter_map(|f| f.entry).collect();
        let span = |get: fn(&super::kb::Repair) -> [f64; 2]| {
            (!entries.is_empty()).then(|| {
                let lo = entries.iter().map(|e| get(&e.repair)[0]).fold(f64::INFINITY, f64::min);
                let hi = entries.iter().map(|e| get(&e.repair)[1]).fold(0.0, f64::max);
                [lo, hi]
            })
        };
        recommendations.push(Recommendation {
            action: r.action,
            priority: cited.iter().map(|f| f.severity).max().unwrap_or(rules.risk),
            estimated_cost_eur: span(|r| r.estimated_cost_eur),
            estimated_hours: span(|r| r.estimated_hours),
            diy_possible: (!entries.is_empty()).then(|| entries.iter().all(|e| e.repair.diy_possible)),
            codes,
        });
    }
    if hypotheses.is_empty() || recommendations.is_empty() {
        return Err("no hypotheses or no recommendations".into());
    }
    Ok(Diagnosis {
        source: DiagnosisSource::Llm,
        fallback_reason: None,
        model: Some(model.to_owned()),
        risk: rules.risk,
        summary: Statement { text: answer.summary, codes: summary_codes },
        hypotheses,
        recommendations,
        similar_batches: Vec::new(),
    })
}

/// Models often wrap JSON in a Markdown fence despite being told not to.
fn strip_fence(content: &str) -> &str {
    let t = content.trim();
    let Some(inner) = t.strip_prefix("```") else { return t };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.strip_suffix("```").unwrap_or(inner).trim()
}
