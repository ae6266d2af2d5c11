//! `signcap translate`.

/// Arguments of `signcap translate`.
#[derive(clap::Args, Debug)]
pub struct TranslateArgs {}

/// Runs the command.
pub fn run(_args: TranslateArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
