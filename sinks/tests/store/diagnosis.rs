//! The rule diagnosis: risk from flags and counts, citations, fallbacks for codes outside
//! the knowledge base, and determinism. Pure: no database.

use argus_sinks::diagnosis::kb::KnowledgeBase;
use argus_sinks::diagnosis::{Diagnoser, Diagnosis, PERSISTENT_EVENTS, PERSISTENT_SPAN_NS, RiskLevel};

use crate::common::fixtures::{synthetic, synthetic_over, vector_batches};

fn rules(codes: &[(&str, u64)]) -> Diagnosis {
    Diagnoser::rules_only().rules(&synthetic("d", "WVW00000000000000", codes))
}

/// Every code logged over `span_ns` between its first and last event.
fn rules_over(codes: &[(&str, u64)], span_ns: u64) -> Diagnosis {
    Diagnoser::rules_only().rules(&synthetic_over("d", "VIN", codes, span_ns))
}

#[test]
fn risk_follows_the_class_and_persistence() {
    let drive = PERSISTENT_SPAN_NS;
    let n = PERSISTENT_EVENTS;
    // P0301: MIL, no limp mode → medium, persistent or not.
    assert_eq!(rules(&[("P0301-00", 5)]).risk, RiskLevel::Medium);
    assert_eq!(rules_over(&[("P0301-00", 1712)], drive).risk, RiskLevel::Medium);
    // U0100: limp mode possible → medium; persistent → high, never critical.
    assert_eq!(rules(&[("U0100-87", 3)]).risk, RiskLevel::Medium);
    assert_eq!(rules_over(&[("U0100-87", n), ("APP-07E0-1", 1)], drive).risk, RiskLevel::High);
    // A burst is not persistence: a thousand events within a second, or too few events.
    assert_eq!(rules(&[("U0100-87", 1000)]).risk, RiskLevel::Medium);
    assert_eq!(rules_over(&[("U0100-87", n - 1)], drive).risk, RiskLevel::Medium);
    assert_eq!(rules_over(&[("U0100-87", n)], drive - 1).risk, RiskLevel::Medium);
    // A safety system (ABS wheel speed sensor): high; persistent → critical.
    assert_eq!(rules(&[("C0035-00", 3)]).risk, RiskLevel::High);
    assert_eq!(rules_over(&[("C0035-00", n)], drive).risk, RiskLevel::Critical);
    // Outside the base: an application error is low, a manufacturer DTC medium.
    assert_eq!(rules_over(&[("APP-07E0-1", 500)], drive).risk, RiskLevel::Low);
    assert_eq!(rules_over(&[("B1123-00", 500)], drive).risk, RiskLevel::Medium);
    assert_eq!(rules(&[]).risk, RiskLevel::Low);
}

#[test]
fn only_a_broadly_affected_family_suggests_a_shared_cause() {
    // One cylinder dominates: its own parts first, no shared cause at all.
    let d = rules(&[("P0301-00", 1712), ("P0302-00", 1)]);
    assert!(d.hypotheses[0].cause.contains("cylinder 1"), "{:?}", d.hypotheses[0]);
    assert_eq!(d.hypotheses[0].codes, ["P0301-00"]);
    assert!(!d.hypotheses.iter().any(|h| h.cause.contains("several cylinders")), "{:#?}", d.hypotheses);
    // Ties are broken by the documented key, not by the knowledge base's order: coil and
    // plug are both "high" for one code, so the cause's text decides.
    assert_eq!(d.hypotheses[0].cause, "Ignition coil for cylinder 1 failed");
    assert_eq!(d.hypotheses[1].cause, "Spark plug for cylinder 1 worn or fouled");
    assert_eq!(d.hypotheses[1].score, 1.0);
    // A random-misfire code logged once beside a dominant cylinder does not make it shared.
    let d = rules(&[("P0301-00", 1712), ("P0300-00", 1)]);
    assert!(!d.hypotheses.iter().any(|h| h.cause.contains("several cylinders")), "{:#?}", d.hypotheses);
    let d = rules(&[("P0301-00", 1712), ("P0302-00", 1)]);
    let p0301 = d.recommendations.iter().find(|r| r.codes == ["P0301-00"]).expect("P0301 recommendation");
    assert!(p0301.action.ends_with("start with: Ignition coil for cylinder 1 failed."), "{}", p0301.action);

    // Two cylinders comparably affected, or P0300 with a cylinder: the shared cause leads.
    for codes in [[("P0301-00", 400), ("P0302-00", 300)], [("P0300-00", 500), ("P0304-00", 200)]] {
        let d = rules(&codes);
        assert!(d.hypotheses[0].cause.contains("several cylinders"), "{codes:?}: {:#?}", d.hypotheses);
        assert_eq!(d.hypotheses[0].codes.len(), 2);
        assert_eq!(d.hypotheses[0].components, ["fuel_injector", "ignition_coil", "spark_plug"]);
    }
}

#[test]
fn related_codes_corroborate_each_other() {
    // P0456 names P0442 as related: together, each weighs half as much again as alone,
    // enough to put P0456's fuel-cap cause above an unrelated code with more events.
    let alone = rules(&[("P0456-00", 30), ("P0420-00", 40)]);
    assert!(alone.hypotheses[0].codes == ["P0420-00"], "{:#?}", alone.hypotheses);
    let together = rules(&[("P0456-00", 30), ("P0420-00", 40), ("P0442-00", 2)]);
    let cap =
        together.hypotheses.iter().position(|h| h.cause == "Fuel cap seal hardened or worn").expect("cap");
    let catalyst =
        together.hypotheses.iter().position(|h| h.cause == "Catalyst aged or contaminated").expect("cat");
    assert!(cap < catalyst, "{:#?}", together.hypotheses);
}

#[test]
fn every_statement_cites_codes_of_the_batch() {
    let codes = [
        ("P0301-00", 150),
        ("P0302-00", 60),
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
    // Shared causes: two lost-communication codes and two misfire codes, each with a
    // material share of its family's events.
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
