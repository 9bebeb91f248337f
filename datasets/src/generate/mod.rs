//! A deterministic synthetic fleet in the replay layout: what `argus gen` writes, and the
//! benchmarks' inputs. Same arguments, same bytes.
//!
//! One concern per file: [`codes`] holds the trouble codes (the knowledge base's generic
//! ones and manufacturer codes), [`vehicle`] a vehicle's profile, [`records`] the record
//! stream of a session, [`file`] writes one rec file, [`damage`] damages it, [`sink`]
//! hands the bytes to a writer thread, and [`fleet`] lays out batches.

pub mod codes;
pub mod damage;
pub mod file;
pub mod fleet;
pub mod records;
pub mod sink;
pub mod vehicle;

pub use damage::Damage;
pub use file::{Compression, FileParams, Written, write_file, write_file_with};
pub use fleet::{FleetSpec, FleetSummary, PlannedFile, generate_fleet_with, plan};
