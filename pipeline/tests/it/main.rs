//! The pipeline's integration tests: whole dataflows on local files.

mod commit;
mod common;
mod durable;
mod fleet;
mod progress;
mod source;
mod whole_file;
