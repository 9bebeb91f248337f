//! One finding per Top-K code: what the knowledge base (or the code's structure) says about
//! it, and how severe it is in this batch.
//!
//! Severity of a code: from its knowledge-base flags (limp mode possible → high; MIL or
//! emissions-relevant → medium; else low), or, without an entry, from its structure (a
//! network or a manufacturer/reserved DTC → medium, since its effect is unknown; an
//! application error → low). A persistent code (at least [`PERSISTENT_EVENTS`] events in
//! the batch) is one level worse. Status bits are not used: reports do not carry them, and
//! only DTCs whose test-failed bit was set are error events at all (rec-format.md), so each
//! counted DTC was failing when it was logged.

use argus_pipeline::report::TopError;

use super::code::{CodeKind, System};
use super::kb::{KbEntry, KnowledgeBase};
use super::model::RiskLevel;

/// Events of one code in one batch from which the code counts as persistent.
pub const PERSISTENT_EVENTS: u64 = 100;

/// What is known of one of the batch's top codes.
#[derive(Debug, Clone)]
pub struct Finding<'a> {
    pub top: &'a TopError,
    pub kind: CodeKind,
    pub entry: Option<&'a KbEntry>,
    pub severity: RiskLevel,
}

impl<'a> Finding<'a> {
    pub fn new(top: &'a TopError, kb: &'a KnowledgeBase) -> Self {
        let kind = CodeKind::parse(&top.code);
        let entry = kind.base().and_then(|base| kb.get(base));
        let base = match (entry, &kind) {
            (Some(e), _) if e.flags.limp_mode_possible => RiskLevel::High,
            (Some(e), _) if e.flags.mil || e.flags.emissions_relevant => RiskLevel::Medium,
            (Some(_), _) => RiskLevel::Low,
            (None, CodeKind::Dtc { .. }) => RiskLevel::Medium,
            (None, _) => RiskLevel::Low,
        };
        let severity = if top.count >= PERSISTENT_EVENTS { base.raised() } else { base };
        Finding { top, kind, entry, severity }
    }

    pub fn code(&self) -> &'a str {
        &self.top.code
    }

    /// The knowledge base's title, or what the structure says.
    pub fn title(&self) -> String {
        match self.entry {
            Some(e) => e.title.clone(),
            None => self.kind.describe(),
        }
    }

    pub fn is_network(&self) -> bool {
        matches!(self.kind, CodeKind::Dtc { system: System::Network, .. })
    }

    /// Misfire codes P0300-P0312 (random and per cylinder).
    pub fn is_misfire(&self) -> bool {
        self.kind.base().is_some_and(|b| ("P0300"..="P0312").contains(&b))
    }

    /// How much this code weighs in the batch: grows with its count, slowly.
    pub fn weight(&self) -> f64 {
        (1.0 + self.top.count as f64).ln()
    }
}

/// Findings for the batch's top codes, most severe first, then by count, then by code.
pub fn findings<'a>(top: &'a [TopError], kb: &'a KnowledgeBase) -> Vec<Finding<'a>> {
    let mut all: Vec<Finding<'a>> = top.iter().map(|t| Finding::new(t, kb)).collect();
    all.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then(b.top.count.cmp(&a.top.count)).then_with(|| a.code().cmp(b.code()))
    });
    all
}
