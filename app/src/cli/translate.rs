//! `signcap translate`: a video (through the pose stage) or a pose file through the Uni-Sign
//! preprocessing, pose encoder and mT5 to text, with the official search settings by default
//! (beam 4, 100 new tokens).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use signcap_engine::decode::translator::{SearchMode, Translator};
use signcap_engine::keypoints::{PoseSequence, is_pose_file, read_pose_file};

use super::model_args::ModelArgs;

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// The text only.
    Text,
    /// Text, ids, per-token log-probabilities, score and frame selection.
    Json,
}

/// Arguments of `signcap translate`.
#[derive(clap::Args, Debug)]
pub struct TranslateArgs {
    /// A video, or a pose file (.pose, .json, .pkl).
    pub input: PathBuf,
    /// Model files and search settings.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Only these frames, `FIRST:LAST` (0-based, inclusive), as `signcap caption` reports them.
    #[arg(long, value_parser = parse_frame_range)]
    pub frames: Option<(usize, usize)>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
    /// Pose backend for video input.
    #[command(flatten)]
    pub pose: super::pose::PoseBackendArgs,
}

fn parse_frame_range(text: &str) -> Result<(usize, usize), String> {
    let (first, last) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}`: expected FIRST:LAST"))?;
    let first: usize = first
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: FIRST is not a frame number"))?;
    let last: usize = last
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: LAST is not a frame number"))?;
    if last < first {
        return Err(format!("`{text}`: LAST comes before FIRST"));
    }
    Ok((first, last))
}

/// Runs the command.
pub fn run(args: TranslateArgs) -> anyhow::Result<()> {
    let Some(config) = args.model.config()? else {
        bail!("{}", super::model_args::how_to_add_a_model());
    };
    // The model loads first: a bad checkpoint should fail before minutes of pose extraction.
    let translator = Translator::load(&config)?;
    let mut sequence = if is_pose_file(&args.input) {
        read_pose_file(&args.input)?
    } else {
        super::pose::extract_poses(&args.input, &args.pose.config()?)?
    };
    if let Some((first, last)) = args.frames {
        sequence = frame_range(sequence, first, last)
            .with_context(|| format!("{}: --frames {first}:{last}", args.input.display()))?;
    }
    let mode = if config.beams > 1 {
        SearchMode::Beam
    } else {
        SearchMode::Greedy
    };
    let clip = translator
        .translate_sequence(&sequence, mode)
        .with_context(|| format!("translating {}", args.input.display()))?;
    let translation = &clip.translation;
    let generation = &translation.generation;
    let mut out = std::io::stdout().lock();
    match args.format {
        FormatArg::Text => writeln!(out, "{}", translation.text)?,
        FormatArg::Json => {
            let json = serde_json::json!({
                "text": translation.text,
                "ids": generation.ids,
                "token_logprobs": generation.token_logprobs,
                "score": generation.score,
                "finished_with_eos": generation.finished_with_eos,
                "confidence": clip.confidence,
                "alternatives": clip.alternatives,
                "num_frames": sequence.frames.len(),
                "frame_indices": clip.frame_indices,
                "prompt_ids": translation.prompt_ids,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        }
    }
    Ok(())
}

fn frame_range(mut sequence: PoseSequence, first: usize, last: usize) -> anyhow::Result<PoseSequence> {
    let count = sequence.frames.len();
    if last >= count {
        bail!("the clip has {count} frames (0 to {})", count.saturating_sub(1));
    }
    sequence.frames = sequence.frames.drain(first..=last).collect();
    Ok(sequence)
}
