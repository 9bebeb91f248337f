//! The data Argus is tried on, in one crate beside the files it owns
//! (`datasets/dtc-knowledge-base.jsonl`, `datasets/sample/`):
//!
//! - [`kb`]: the DTC knowledge base, embedded once and parsed once per process; the
//!   diagnosis reads it, and the generator draws vehicles' codes and texts from it.
//! - [`generate`]: the deterministic synthetic fleet of `argus gen` (realistic vehicles,
//!   damaged files), which also writes the benchmarks' inputs and the sample.
//! - [`small_batch`]: tiny batches of a few hundred records for tests and benchmarks that
//!   need many batches fast rather than realistic ones.
//!
//! It depends on the parser alone (its writer), so that every crate may use it.

pub mod generate;
pub mod kb;
pub mod small_batch;

pub use kb::KnowledgeBase;
pub use small_batch::SmallBatch;
