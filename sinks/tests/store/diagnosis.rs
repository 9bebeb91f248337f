//! The rule diagnosis: risk from flags and counts, citations, fallbacks for codes outside
//! the knowledge base, and determinism. Pure: no database.

use argus_sinks::diagnosis::kb::KnowledgeBase;
use argus_sinks::diagnosis::{Diagnoser, Diagnosis, RiskLevel};

use crate::common::fixtures::{synthetic, vector_batches};

fn rules(codes: &[(&str, u64)]) -> Diagnosis {
    Diagnoser::rules_only().rules(&synthetic("d", "WVW00000000000000", codes))
}

#[test]
fn risk_follows_flags_and_persistence() {
    // P0301: MIL, no limp mode → medium; persistent → high.
    assert_eq!(rules(&[("P0301-00", 5)]).risk, RiskLevel::Medium);
    assert_eq!(rules(&[("P0301-00", 100)]).risk, RiskLevel::High);
    // U0100: limp mode possible → high; persistent → critical.
    assert_eq!(rules(&[("U0100-87", 3)]).risk, RiskLevel::High);
    assert_eq!(rules(&[("U0100-87", 150), ("APP-07E0-1", 1)]).risk, RiskLevel::Critical);
    // Outside the base: an application error is low, a manufacturer DTC medium.
    assert_eq!(rules(&[("APP-07E0-1", 3)]).risk, RiskLevel::Low);
    assert_eq!(rules(&[("B1123-00", 3)]).risk, RiskLevel::Medium);
    assert_eq!(rules(&[]).risk, RiskLevel::Low);
}

#[test]
fn every_statement_cites_codes_of_the_batch() {
    let codes = [
        ("P0301-00", 150),
        ("P0302-00", 20),
        ("U0100-87", 9),
        ("U0140-00", 4),
        ("B1123-00", 3),
        ("APP-07A0-42", 2),
    ];
    let d = rules(&codes);
    let known: Vec<&str> = codes.iter().map(|(c, _)| *c).collect();
    let cited = d.summary.codes.iter().chain(d.hypotheses.iter().flat_map(|h| &h.codes));
    for code in cited.chain(d.recommendations.iter().flat_map(|r| &r.codes)) {
        assert!(known.contains(&code.as_str()), "cites {code}");
    }
    assert!(d.hypotheses.iter().all(|h| !h.codes.is_empty() && (0.0..=1.0).contains(&h.score)));
    assert!(d.recommendations.iter().all(|r| !r.codes.is_empty()));
    assert_eq!(d.hypotheses[0].score, 1.0);
    assert!(d.hypotheses.windows(2).all(|w| w[0].score >= w[1].score), "ranked");
    // Structural hypotheses: two network codes, two misfire codes.
    assert!(d.hypotheses.iter().any(|h| h.cause.contains("CAN bus") && h.codes == ["U0100-87", "U0140-00"]));
    assert!(d.hypotheses.iter().any(|h| h.cause.contains("several cylinders")));
    // Knowledge-base codes carry repair estimates; the others say where to look.
    let p0301 = d.recommendations.iter().find(|r| r.codes == ["P0301-00"]).expect("P0301 recommendation");
    assert_eq!((p0301.estimated_cost_eur, p0301.estimated_hours), (Some([40.0, 800.0]), Some([0.3, 4.0])));
    let b1123 = d.recommendations.iter().find(|r| r.codes == ["B1123-00"]).expect("B1123 recommendation");
    assert!(b1123.action.contains("manufacturer-specific body code") && b1123.action.contains("07E0"));
    assert_eq!(b1123.estimated_cost_eur, None);
    let app = d.recommendations.iter().find(|r| r.codes == ["APP-07A0-42"]).expect("APP recommendation");
    assert!(app.action.contains("application error 42 of ECU 07A0"), "{}", app.action);
    // Limp mode first, as the most urgent advice.
    assert!(d.recommendations[0].action.contains("limp mode"));
    let kb = KnowledgeBase::embedded();
    let limp: Vec<&str> = known
        .iter()
        .copied()
        .filter(|c| kb.get(&c[..5]).is_some_and(|e| e.flags.limp_mode_possible))
        .collect();
    assert_eq!(d.recommendations[0].codes, limp);
    assert!(limp.contains(&"U0100-87"));
}

#[test]
fn deterministic_over_the_vectors() {
    let diagnoser = Diagnoser::rules_only();
    for batch in vector_batches() {
        let a = serde_json::to_string(&diagnoser.rules(&batch)).expect("json");
        let b = serde_json::to_string(&diagnoser.rules(&batch.clone())).expect("json");
        assert_eq!(a, b);
        let d = diagnoser.rules(&batch);
        if batch.report.top_errors.is_empty() {
            assert_eq!((d.risk, d.hypotheses.len()), (RiskLevel::Low, 0));
            assert!(
                d.summary.text.starts_with("Nothing to diagnose") || d.summary.text.starts_with("No error")
            );
        } else {
            assert!(d.summary.text.contains(&batch.report.top_errors[0].code), "{}", d.summary.text);
        }
    }
}
