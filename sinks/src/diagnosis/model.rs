//! What a diagnosis says: the document stored in `diagnoses.document` and served with the
//! report. Every statement names the codes it rests on.

use serde::{Deserialize, Serialize};

/// How bad the batch looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }

    /// One level up (critical stays critical).
    pub fn raised(self) -> Self {
        match self {
            RiskLevel::Low => RiskLevel::Medium,
            RiskLevel::Medium => RiskLevel::High,
            RiskLevel::High | RiskLevel::Critical => RiskLevel::Critical,
        }
    }
}

/// Who wrote the diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiagnosisSource {
    Rules,
    Llm,
}

impl DiagnosisSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosisSource::Rules => "rules",
            DiagnosisSource::Llm => "llm",
        }
    }
}

/// A sentence and the codes it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    pub text: String,
    pub codes: Vec<String>,
}

/// A candidate root cause; hypotheses are ranked by `score` (higher first, ties as
/// `hypotheses.rs` documents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub cause: String,
    /// Relative weight in [0, 1] among this diagnosis' hypotheses.
    pub score: f64,
    pub codes: Vec<String>,
    /// What the batch shows for it, code by code ("P0301-00: 1712 events over 58 min, high
    /// likelihood"). Empty in documents written before it existed.
    #[serde(default)]
    pub evidence: String,
    /// The knowledge base's affected components of the codes it rests on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// The knowledge base's symptoms of those codes (the current base lists none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<String>,
}

/// Something to do, with the knowledge base's repair estimate when one is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub action: String,
    pub codes: Vec<String>,
    pub priority: RiskLevel,
    /// Estimated repair cost in EUR, `[low, high]`.
    pub estimated_cost_eur: Option<[f64; 2]>,
    /// Estimated labour in hours, `[low, high]`.
    pub estimated_hours: Option<[f64; 2]>,
    pub diy_possible: Option<bool>,
}

/// A stored batch whose code-count vector is close to this one's (cosine similarity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarBatch {
    pub batch_id: String,
    pub score: f64,
}

/// A batch's diagnosis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub source: DiagnosisSource,
    /// Why the LLM answer was not used, when an LLM is configured and was not used.
    pub fallback_reason: Option<String>,
    /// The LLM model that wrote it, for `source = llm`.
    pub model: Option<String>,
    pub risk: RiskLevel,
    pub summary: Statement,
    pub hypotheses: Vec<Hypothesis>,
    pub recommendations: Vec<Recommendation>,
    /// Filled by the store when the diagnosis is written (it searches the stored batches).
    pub similar_batches: Vec<SimilarBatch>,
}
