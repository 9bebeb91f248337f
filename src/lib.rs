//! The library behind the `argus` command: one module per subcommand.

pub mod generate;
pub mod inspect;
pub mod logging;
pub mod migrate;
pub mod progress;
pub mod replay;
