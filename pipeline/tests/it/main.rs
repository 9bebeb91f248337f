//! The pipeline's integration tests: whole dataflows on local files.

mod common;
mod durable;
mod fleet;
mod source;
mod whole_file;
