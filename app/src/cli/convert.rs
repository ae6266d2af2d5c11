//! `signcap convert`: an official Uni-Sign `.pth` to the project's safetensors (or a
//! safetensors file re-checked and re-written).

use std::path::PathBuf;

use signcap_engine::model::{Mt5Config, PoseEncoderConfig, UniSignConfig, load_weights};

/// Arguments of `signcap convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// Checkpoint to read: the official `.pth` (torch.save zip) or safetensors.
    pub input: PathBuf,
    /// Safetensors file to write (`.safetensors`).
    pub output: PathBuf,
    /// mT5 folder or `config.json` the checkpoint was trained with; google/mt5-base when omitted.
    #[arg(long)]
    pub mt5: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: ConvertArgs) -> anyhow::Result<()> {
    let ext = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    if ext != "safetensors" {
        anyhow::bail!(
            "{}: only .safetensors output is supported (writing .pth is not implemented)",
            args.output.display()
        );
    }
    let mt5 = match &args.mt5 {
        Some(dir) => Mt5Config::load(dir)?,
        None => Mt5Config::mt5_base(),
    };
    let config = UniSignConfig {
        pose: PoseEncoderConfig::default(),
        mt5,
    };
    let weights = load_weights(&args.input, &config)?;
    weights.save_safetensors(&args.output)?;
    let dtype = weights
        .mt5_dtype()
        .map(|d| format!("{d:?}"))
        .unwrap_or_else(|| "?".into());
    println!(
        "{} → {}: {} tensors ({dtype}), every key of the input accounted for",
        args.input.display(),
        args.output.display(),
        weights.tensors.len()
    );
    Ok(())
}
