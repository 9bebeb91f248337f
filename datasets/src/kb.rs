//! The DTC knowledge base (`datasets/dtc-knowledge-base.jsonl`: 9,533 generic SAE J2012
//! codes from the CC0 obdex data set), embedded in the binary once and parsed once per
//! process on first use, for the diagnosis and the generator alike.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

const KB_JSONL: &str = include_str!("../dtc-knowledge-base.jsonl");

/// How likely a cause is, as the knowledge base grades it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Likelihood {
    Low,
    Medium,
    High,
}

impl Likelihood {
    pub fn as_str(self) -> &'static str {
        match self {
            Likelihood::Low => "low",
            Likelihood::Medium => "medium",
            Likelihood::High => "high",
        }
    }

    pub fn weight(self) -> f64 {
        match self {
            Likelihood::Low => 1.0,
            Likelihood::Medium => 2.0,
            Likelihood::High => 3.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Cause {
    pub cause: String,
    pub likelihood: Likelihood,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Repair {
    pub difficulty: String,
    pub diy_possible: bool,
    pub estimated_cost_eur: [f64; 2],
    pub estimated_hours: [f64; 2],
}

/// Absent flags are false (the data set omits most false ones).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct Flags {
    pub mil: bool,
    pub emissions_relevant: bool,
    pub drive_cycle_required: bool,
    pub limp_mode_possible: bool,
}

/// One code of the knowledge base.
#[derive(Debug, Clone, Deserialize)]
pub struct KbEntry {
    pub code: String,
    pub category: String,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub affected_components: Vec<String>,
    #[serde(default)]
    pub common_causes: Vec<Cause>,
    #[serde(default)]
    pub symptoms: Vec<String>,
    pub repair: Repair,
    #[serde(default)]
    pub flags: Flags,
    #[serde(default)]
    pub related_codes: Vec<String>,
}

/// The knowledge base, keyed by J2012 code without the failure-type byte (`P0301`).
#[derive(Debug)]
pub struct KnowledgeBase {
    /// In the file's order: the generator draws codes by position, so its output depends
    /// on this order.
    entries: Vec<KbEntry>,
    /// Position in `entries` by code (a repeated code: its last line).
    by_code: HashMap<String, usize>,
    /// Lines that did not parse.
    skipped: usize,
}

impl KnowledgeBase {
    /// The embedded knowledge base. A line that does not parse is skipped with a warning
    /// (a unit test checks that none does), so a bad line costs one code, not the service.
    pub fn embedded() -> &'static KnowledgeBase {
        static KB: LazyLock<KnowledgeBase> = LazyLock::new(|| {
            let kb = KnowledgeBase::parse(KB_JSONL);
            if kb.skipped > 0 {
                tracing::warn!(skipped = kb.skipped, "knowledge base lines that do not parse");
            }
            kb
        });
        &KB
    }

    /// Parses JSON Lines, skipping (and counting) the lines that do not parse.
    pub fn parse(jsonl: &str) -> KnowledgeBase {
        let mut kb = KnowledgeBase { entries: Vec::new(), by_code: HashMap::new(), skipped: 0 };
        for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<KbEntry>(line) {
                Ok(entry) => {
                    kb.by_code.insert(entry.code.clone(), kb.entries.len());
                    kb.entries.push(entry);
                }
                Err(_) => kb.skipped += 1,
            }
        }
        kb
    }

    /// The entry of a J2012 code without its failure-type byte (`P0301`).
    pub fn get(&self, base_code: &str) -> Option<&KbEntry> {
        self.by_code.get(base_code).map(|&i| &self.entries[i])
    }

    /// Every entry, in the file's order.
    pub fn entries(&self) -> &[KbEntry] {
        &self.entries
    }

    /// How many lines did not parse (none in the embedded base).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_embedded_base_parses() {
        let kb = KnowledgeBase::parse(KB_JSONL);
        assert_eq!(kb.skipped(), 0);
        assert_eq!(kb.len(), 9533);
        let misfire = kb.get("P0301").unwrap();
        assert_eq!(misfire.title, "Cylinder 1 Misfire Detected");
        assert!(misfire.flags.mil && !misfire.flags.limp_mode_possible);
        assert!(kb.get("P1234").is_none(), "manufacturer codes are not in the generic base");
    }
}
