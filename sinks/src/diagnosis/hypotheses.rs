//! Ranked root-cause hypotheses, scored the way a mechanic weighs evidence:
//!
//! 1. **Each code is evidence** worth ln(1 + its events): a code logged 1,712 times is
//!    strong evidence, one logged once is weak, but not 1,712 times weaker (a failing
//!    monitor is logged again on every run). A code counts half as much again when one of
//!    its knowledge-base `related_codes` is in the batch too: two monitors saw one fault.
//! 2. **A knowledge-base cause** of a code scores its likelihood grade (high 3, medium 2,
//!    low 1) × that code's evidence. Several codes naming the same cause add up.
//! 3. **A shared cause** of a family of codes (misfires on several cylinders, lost
//!    communication with several modules, several EVAP leak sizes, wrong ratio in several
//!    gears; [`FAMILIES`]) is put forward only when the family is broadly affected: at
//!    least two of its codes each have at least a quarter ([`MATERIAL_SHARE`]) of the
//!    events of the family's most frequent specific code (P0301-P0312 for misfires; the
//!    family's "any member" code, such as P0300 random misfire, counts as one of the two
//!    when it has that share too). It then scores as a high-likelihood
//!    cause of exactly those codes. One cylinder with 1,712 misfires and another with one
//!    is that cylinder's fault: its coil and plug come first, and no shared cause is offered.
//! 4. **A pointer code** that only says another module holds a code (P0700: "the TCM has
//!    a code") adds no cause when the code it points to is in the batch.
//!
//! Scores are divided by the best one (the first hypothesis scores 1) and rounded to three
//! decimals. Equal scores are ordered by: the higher likelihood grade first, then the
//! hypothesis resting on more codes, then the cause's text in byte order; never by the
//! knowledge base's order. Recommendations' "start with" is the first hypothesis of this
//! order that rests on the recommendation's code.

use std::collections::{BTreeMap, BTreeSet};

use super::findings::Finding;
use super::kb::Likelihood;
use super::model::Hypothesis;

/// Share of the family's most frequent code from which a code counts as "comparably affected".
pub const MATERIAL_SHARE: f64 = 0.25;

/// Codes that often share one cause.
pub struct Family {
    /// Inclusive ranges of knowledge-base codes (uppercase hex compares as text).
    pub members: &'static [(&'static str, &'static str)],
    /// The member that names no particular one (P0300 random misfire): shares are
    /// measured against the most frequent of the others, when there are any.
    pub broad: Option<&'static str>,
    /// What several of them point to.
    pub cause: &'static str,
}

pub const FAMILIES: [Family; 4] = [
    Family {
        members: &[("P0300", "P0312")],
        broad: Some("P0300"),
        cause: "Cause shared by several cylinders (fuel pressure, vacuum leak, ignition supply) rather than one cylinder's parts",
    },
    Family {
        members: &[("U0100", "U02FF")],
        broad: None,
        cause: "Shared CAN bus wiring, gateway or module power supply (several modules lost at once)",
    },
    Family {
        members: &[("P0440", "P0440"), ("P0442", "P0442"), ("P0455", "P0457")],
        broad: Some("P0440"),
        cause: "One leak in the EVAP system seen at several sizes: fuel cap seal and filler neck first, then a smoke test of the hoses",
    },
    Family {
        members: &[("P0730", "P0736")],
        broad: Some("P0730"),
        cause: "Line pressure or fluid problem common to several gears (fluid level and condition, pump, valve body)",
    },
];

/// Codes that only point at another module's code, and the codes they point at.
const POINTERS: [(&str, (&str, &str)); 1] = [("P0700", ("P0701", "P09FF"))];

/// A hypothesis being scored.
#[derive(Default)]
struct Candidate {
    weight: f64,
    best: Option<Likelihood>,
    /// Code → the evidence it brings, in words.
    codes: BTreeMap<String, String>,
    components: BTreeSet<String>,
    symptoms: BTreeSet<String>,
}

/// Every hypothesis of the batch, ranked (see the module doc); callers truncate.
pub fn ranked(found: &[Finding<'_>]) -> Vec<Hypothesis> {
    let mut causes: BTreeMap<String, Candidate> = BTreeMap::new();
    for f in found {
        if !pointed_at(f, found).is_empty() {
            continue;
        }
        let evidence = f.evidence();
        match f.entry {
            Some(entry) => {
                for c in &entry.common_causes {
                    let h = causes.entry(c.cause.clone()).or_default();
                    h.weight += c.likelihood.weight() * f.weight();
                    h.best = h.best.max(Some(c.likelihood));
                    h.codes.insert(
                        f.code().to_owned(),
                        format!("{evidence}, {} likelihood", c.likelihood.as_str()),
                    );
                    h.components.extend(entry.affected_components.iter().cloned());
                    h.symptoms.extend(entry.symptoms.iter().cloned());
                }
            }
            None => {
                let cause = format!(
                    "Fault behind {} {}: needs the manufacturer's documentation",
                    f.title(),
                    f.code()
                );
                let h = causes.entry(cause).or_default();
                h.weight += f.weight();
                h.codes.insert(f.code().to_owned(), evidence);
            }
        }
    }
    for family in &FAMILIES {
        let affected = comparably_affected(family, found);
        if affected.len() < 2 {
            continue;
        }
        let h = causes.entry(family.cause.to_owned()).or_default();
        h.weight += Likelihood::High.weight() * affected.iter().map(|f| f.weight()).sum::<f64>();
        h.best = Some(Likelihood::High);
        let mut shared: Option<BTreeSet<String>> = None;
        for f in &affected {
            h.codes.insert(f.code().to_owned(), format!("{}, comparably affected", f.evidence()));
            let components: BTreeSet<String> =
                f.entry.map(|e| e.affected_components.iter().cloned().collect()).unwrap_or_default();
            shared = Some(match shared {
                None => components,
                Some(s) => s.intersection(&components).cloned().collect(),
            });
        }
        h.components.extend(shared.unwrap_or_default());
    }

    let top = causes.values().map(|h| h.weight).fold(0.0, f64::max);
    let mut out: Vec<(Option<Likelihood>, Hypothesis)> = causes
        .into_iter()
        .map(|(cause, h)| {
            let evidence =
                h.codes.iter().map(|(code, why)| format!("{code}: {why}")).collect::<Vec<_>>().join("; ");
            let hypothesis = Hypothesis {
                cause,
                score: round3(h.weight / top),
                codes: h.codes.into_keys().collect(),
                evidence,
                components: h.components.into_iter().collect(),
                symptoms: h.symptoms.into_iter().collect(),
            };
            (h.best, hypothesis)
        })
        .collect();
    out.sort_by(|(la, a), (lb, b)| {
        b.score
            .total_cmp(&a.score)
            .then(lb.cmp(la))
            .then(b.codes.len().cmp(&a.codes.len()))
            .then_with(|| a.cause.cmp(&b.cause))
    });
    out.into_iter().map(|(_, h)| h).collect()
}

/// The family's codes present with a material share of its most frequent code's events.
fn comparably_affected<'f, 'a>(family: &Family, found: &'f [Finding<'a>]) -> Vec<&'f Finding<'a>> {
    let members: Vec<&Finding<'a>> = found
        .iter()
        .filter(|f| f.base().is_some_and(|b| family.members.iter().any(|(lo, hi)| (*lo..=*hi).contains(&b))))
        .collect();
    let specific = members.iter().filter(|f| f.base() != family.broad).map(|f| f.top.count).max();
    let most = specific.or_else(|| members.iter().map(|f| f.top.count).max()).unwrap_or(0);
    members.into_iter().filter(|f| f.top.count as f64 >= MATERIAL_SHARE * most as f64).collect()
}

/// The batch's codes that a pointer code (P0700) points at; empty for any other code.
/// A pointer whose target is in the batch says nothing more than its target.
pub fn pointed_at<'f>(f: &Finding<'_>, found: &'f [Finding<'_>]) -> Vec<&'f str> {
    let Some(base) = f.base() else { return Vec::new() };
    let Some((_, (lo, hi))) = POINTERS.iter().find(|(pointer, _)| *pointer == base) else {
        return Vec::new();
    };
    found.iter().filter(|o| o.base().is_some_and(|b| (*lo..=*hi).contains(&b))).map(|o| o.code()).collect()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
