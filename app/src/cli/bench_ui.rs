//! `signcap bench ui`.

/// Arguments of `signcap bench ui`.
#[derive(clap::Args, Debug)]
pub struct BenchUiArgs {}

/// Runs the command.
pub fn run(_args: BenchUiArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
