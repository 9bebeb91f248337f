//! The library behind the `argus` command: one module per subcommand.

pub mod gen;
pub mod inspect;
pub mod logging;
