//! One finding per Top-K code: what the knowledge base (or the code's structure) says about
//! it, the batch's evidence for it, and how severe it is in this batch ([`super::risk`]).
//!
//! Status bits are not used: reports do not carry them, and only DTCs whose test-failed bit
//! was set are error events at all (rec-format.md), so each counted DTC was failing when it
//! was logged.

use argus_pipeline::report::TopError;

use super::code::CodeKind;
use super::kb::{KbEntry, KnowledgeBase};
use super::model::RiskLevel;
use super::risk::{FaultClass, is_persistent};

/// What is known of one of the batch's top codes.
#[derive(Debug, Clone)]
pub struct Finding<'a> {
    pub top: &'a TopError,
    pub kind: CodeKind,
    pub entry: Option<&'a KbEntry>,
    pub class: FaultClass,
    /// At least `PERSISTENT_EVENTS` events spread over `PERSISTENT_SPAN_NS` (risk.rs).
    pub persistent: bool,
    pub severity: RiskLevel,
    /// Another top code of the batch is among this one's knowledge-base `related_codes`
    /// (or names this one among its own): two monitors saw one fault.
    pub corroborated: bool,
}

impl<'a> Finding<'a> {
    pub fn new(top: &'a TopError, kb: &'a KnowledgeBase) -> Self {
        let kind = CodeKind::parse(&top.code);
        let entry = kind.base().and_then(|base| kb.get(base));
        let class = FaultClass::of(entry, &kind);
        let persistent = is_persistent(top.count, top.first_ts_ns, top.last_ts_ns);
        let severity = class.severity(persistent);
        Finding { top, kind, entry, class, persistent, severity, corroborated: false }
    }

    pub fn code(&self) -> &'a str {
        &self.top.code
    }

    /// The knowledge-base key (`P0301`), for DTCs.
    pub fn base(&self) -> Option<&str> {
        self.kind.base()
    }

    /// The knowledge base's title, or what the structure says.
    pub fn title(&self) -> String {
        match self.entry {
            Some(e) => e.title.clone(),
            None => self.kind.describe(),
        }
    }

    /// How much this code weighs as evidence: ln(1 + events), half as much again when
    /// corroborated. The logarithm because an ECU logs a failing monitor again and again:
    /// a thousand events are stronger evidence than ten, not a hundred times stronger.
    pub fn weight(&self) -> f64 {
        let events = (1.0 + self.top.count as f64).ln();
        if self.corroborated { 1.5 * events } else { events }
    }

    /// "1712 events over 58 min", the evidence in words.
    pub fn evidence(&self) -> String {
        let span = self.top.last_ts_ns.saturating_sub(self.top.first_ts_ns);
        let events =
            if self.top.count == 1 { "1 event".to_owned() } else { format!("{} events", self.top.count) };
        match (self.top.count, span) {
            (0..=1, _) => events,
            (_, 0..1_000_000_000) => format!("{events} within a second"),
            _ => format!("{events} over {}", duration_words(span)),
        }
    }
}

/// Findings for the batch's top codes, most severe first, then by count, then by code.
pub fn findings<'a>(top: &'a [TopError], kb: &'a KnowledgeBase) -> Vec<Finding<'a>> {
    let mut all: Vec<Finding<'a>> = top.iter().map(|t| Finding::new(t, kb)).collect();
    let bases: Vec<Option<String>> = all.iter().map(|f| f.base().map(str::to_owned)).collect();
    let names =
        |f: &Finding<'_>, other: &str| f.entry.is_some_and(|e| e.related_codes.iter().any(|r| r == other));
    for i in 0..all.len() {
        let corroborated = bases.iter().enumerate().any(|(j, other)| match (other, &bases[i]) {
            (Some(other), Some(mine)) if i != j && other != mine => {
                names(&all[i], other) || names(&all[j], mine)
            }
            _ => false,
        });
        all[i].corroborated = corroborated;
    }
    all.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(b.top.count.cmp(&a.top.count)).then_with(|| a.code().cmp(b.code()))
    });
    all
}

/// A duration as a mechanic would say it: "4 s", "58 min", "3 h 10 min", "2 days 5 h".
pub fn duration_words(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} min", s / 60),
        3_600..=86_399 if s % 3_600 < 60 => format!("{} h", s / 3_600),
        3_600..=86_399 => format!("{} h {} min", s / 3_600, s % 3_600 / 60),
        _ => {
            let (days, hours) = (s / 86_400, s % 86_400 / 3_600);
            let days = if days == 1 { "1 day".to_owned() } else { format!("{days} days") };
            if hours == 0 { days } else { format!("{days} {hours} h") }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::duration_words;

    #[test]
    fn durations_in_words() {
        let s = 1_000_000_000;
        assert_eq!(duration_words(4 * s), "4 s");
        assert_eq!(duration_words(58 * 60 * s + 7 * s), "58 min");
        assert_eq!(duration_words(3 * 3_600 * s + 600 * s), "3 h 10 min");
        assert_eq!(duration_words(7_200 * s), "2 h");
        assert_eq!(duration_words(86_400 * s + 3_600 * s), "1 day 1 h");
        assert_eq!(duration_words(3 * 86_400 * s), "3 days");
    }
}
