//! `signcap convert`.

/// Arguments of `signcap convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {}

/// Runs the command.
pub fn run(_args: ConvertArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
