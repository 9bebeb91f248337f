//! `argus migrate` (being built).

use std::process::ExitCode;

/// Arguments of `argus migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {}

pub fn run(_args: MigrateArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("argus migrate is not built yet")
}
