//! A batch page's diagnosis: risk, summary, ranked hypotheses, recommendations with their
//! cost ranges, the codes they cite with the knowledge base's description, and the
//! similar batches. Every text here may come from an LLM: maud escapes all of it.

use std::collections::BTreeSet;

use argus_pipeline::report::BatchReport;
use argus_sinks::diagnosis::code::CodeKind;
use argus_sinks::diagnosis::kb::KnowledgeBase;
use argus_sinks::diagnosis::{Diagnosis, DiagnosisSource};
use maud::{Markup, html};

use super::format;
use super::parts::risk_badge;

pub fn section(diagnosis: &Diagnosis, report: Option<&BatchReport>) -> Markup {
    html! {
        section #diagnosis aria-labelledby="diagnosis-heading" {
            h2 #diagnosis-heading { "Diagnosis" }
            p.risk { "Risk: " (risk_badge(diagnosis.risk)) " " span.muted { (source(diagnosis)) } }
            p.summary-text { (diagnosis.summary.text) " " (cited(&diagnosis.summary.codes)) }
            @if !diagnosis.hypotheses.is_empty() {
                h3 { "Hypotheses, most likely first" }
                ol #hypotheses {
                    @for h in &diagnosis.hypotheses {
                        li { (h.cause) " " span.muted { "(" (format!("{:.0} %", h.score * 100.0)) ")" } " " (cited(&h.codes)) }
                    }
                }
            }
            @if !diagnosis.recommendations.is_empty() {
                h3 { "Recommendations" }
                div.table-wrap {
                    table #recommendations {
                        thead { tr { th scope="col" { "Action" } th scope="col" { "Priority" } th scope="col" { "Cost" }
                            th scope="col" { "Labour" } th scope="col" { "DIY" } th scope="col" { "Codes" } } }
                        tbody {
                            @for r in &diagnosis.recommendations {
                                tr {
                                    td { (r.action) }
                                    td { (risk_badge(r.priority)) }
                                    td { @match r.estimated_cost_eur { Some(c) => (format::range(c, "EUR")), None => span.muted { "unknown" } } }
                                    td { @match r.estimated_hours { Some(h) => (format::range(h, "h")), None => span.muted { "unknown" } } }
                                    td { @match r.diy_possible { Some(true) => "yes", Some(false) => "no", None => span.muted { "unknown" } } }
                                    td { (cited(&r.codes)) }
                                }
                            }
                        }
                    }
                }
            }
            (code_descriptions(diagnosis, report))
            h3 { "Similar batches" }
            @if diagnosis.similar_batches.is_empty() {
                p.empty { "No stored batch has similar codes." }
            } @else {
                ul #similar {
                    @for s in &diagnosis.similar_batches {
                        li { a href=(format!("/batches/{}", s.batch_id)) { code { (s.batch_id) } }
                            " " span.muted { "similarity " (format!("{:.2}", s.score)) } }
                    }
                }
            }
        }
    }
}

fn source(diagnosis: &Diagnosis) -> String {
    match (diagnosis.source, &diagnosis.model, &diagnosis.fallback_reason) {
        (DiagnosisSource::Llm, Some(model), _) => format!("written by the LLM {model}"),
        (DiagnosisSource::Llm, None, _) => "written by an LLM".to_owned(),
        (DiagnosisSource::Rules, _, Some(reason)) => format!("by the rule engine ({reason})"),
        (DiagnosisSource::Rules, _, None) => "by the rule engine".to_owned(),
    }
}

/// Codes as links to their description below.
fn cited(codes: &[String]) -> Markup {
    html! {
        @if !codes.is_empty() {
            span.codes {
                @for code in codes { a.code href=(format!("#kb-{code}")) { code { (code) } } " " }
            }
        }
    }
}

/// What each code on the page means: the knowledge base's title and description where
/// it knows the code, else what the code's structure says.
fn code_descriptions(diagnosis: &Diagnosis, report: Option<&BatchReport>) -> Markup {
    let mut codes: BTreeSet<&str> = BTreeSet::new();
    codes.extend(report.into_iter().flat_map(|r| r.top_errors.iter().map(|e| e.code.as_str())));
    codes.extend(diagnosis.summary.codes.iter().map(String::as_str));
    codes.extend(diagnosis.hypotheses.iter().flat_map(|h| h.codes.iter().map(String::as_str)));
    codes.extend(diagnosis.recommendations.iter().flat_map(|r| r.codes.iter().map(String::as_str)));
    let kb = KnowledgeBase::embedded();
    html! {
        @if !codes.is_empty() {
            h3 { "Codes" }
            dl.codes #code-descriptions {
                @for code in codes {
                    @let kind = CodeKind::parse(code);
                    dt id=(format!("kb-{code}")) { code { (code) } }
                    @match kind.base().and_then(|base| kb.get(base)) {
                        Some(entry) => dd { strong { (entry.title) } ". " (entry.description) },
                        None => dd { (kind.describe()) " (not in the knowledge base)" },
                    }
                }
            }
        }
    }
}
