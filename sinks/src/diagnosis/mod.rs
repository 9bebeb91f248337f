//! The diagnosis of a batch: a deterministic rule engine over the DTC knowledge base
//! ([`rules`]), and an optional LLM step with a daily token budget and fallbacks
//! ([`Diagnoser`]). Similar past batches are searched by the store when it writes the
//! diagnosis (see `Store::write_batch_with_offsets`).

pub mod code;
mod engine;
mod findings;
mod hypotheses;
pub mod llm;
mod model;
mod prompt;
mod risk;
pub mod rules;

/// The knowledge base lives with the data it is built from; the diagnosis reads it there.
pub use argus_datasets::kb;
pub use engine::{Diagnoser, utc_day};
pub use hypotheses::MATERIAL_SHARE;
pub use llm::{ConfigError, LlmConfig};
pub use model::{Diagnosis, DiagnosisSource, Hypothesis, Recommendation, RiskLevel, SimilarBatch, Statement};
pub use risk::{PERSISTENT_EVENTS, PERSISTENT_SPAN_NS};
