//! `argus inspect` (being built: see issue 2).

use std::process::ExitCode;

/// Arguments of `argus inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {}

pub fn run(_args: InspectArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("argus inspect is not built yet")
}
