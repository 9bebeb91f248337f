//! `argus gen` (being built: see issue 2).

use std::process::ExitCode;

/// Arguments of `argus gen`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {}

pub fn run(_args: GenArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("argus gen is not built yet")
}
