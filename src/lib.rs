//! The library behind the `argus` command: one module per subcommand, and what they share
//! (argument parsers, logging, the progress display).

pub mod args;
pub mod generate;
pub mod inspect;
pub mod live;
pub mod logging;
pub mod migrate;
pub mod pipeline;
pub mod progress;
pub mod prune;
pub mod prune_objects;
pub mod publish;
pub mod replay;
pub mod runtime;
pub mod serve;
pub mod upload;
