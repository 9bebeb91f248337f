//! `argus replay` (being built).

use std::process::ExitCode;

/// Arguments of `argus replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {}

pub fn run(_args: ReplayArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("argus replay is not built yet")
}
