//! `signcap pose`.

/// Arguments of `signcap pose`.
#[derive(clap::Args, Debug)]
pub struct PoseArgs {}

/// Runs the command.
pub fn run(_args: PoseArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
