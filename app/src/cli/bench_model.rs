//! `signcap bench model`.

/// Arguments of `signcap bench model`.
#[derive(clap::Args, Debug)]
pub struct BenchModelArgs {}

/// Runs the command.
pub fn run(_args: BenchModelArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
