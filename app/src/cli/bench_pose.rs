//! `signcap bench pose`.

/// Arguments of `signcap bench pose`.
#[derive(clap::Args, Debug)]
pub struct BenchPoseArgs {}

/// Runs the command.
pub fn run(_args: BenchPoseArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
