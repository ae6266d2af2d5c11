//! `signcap translate`: a video (through the pose stage) or a pose file through the Uni-Sign preprocessing, pose encoder and mT5
//! to text, with the official search settings by default (beam 4, 100 new tokens).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use signcap_engine::decode::search::SearchConfig;
use signcap_engine::decode::tokenizer::MT5Tokenizer;
use signcap_engine::keypoints::unisign::{self, FrameSelection, NormalizedClip};
use signcap_engine::keypoints::{is_pose_file, read_pose_file};
use signcap_engine::model::{Language, Mt5Config, UniSign, WeightPrecision};

/// Output language (it picks the prompt; it must match the checkpoint).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LangArg {
    /// English (WLASL, How2Sign, OpenASL checkpoints).
    En,
    /// Chinese (CSL checkpoints).
    Zh,
}

/// Output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    /// The text only.
    Text,
    /// Text, ids, per-token log-probabilities, score and frame selection.
    Json,
}

/// How the mT5 matrices are held.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum WeightsArg {
    /// As stored (bf16 for the released checkpoints), f32 accumulation.
    Stored,
    /// Widened to f32.
    F32,
}

/// Arguments of `signcap translate`.
#[derive(clap::Args, Debug)]
pub struct TranslateArgs {
    /// A video, or a pose file (.pose, .json, .pkl).
    pub input: PathBuf,
    /// Uni-Sign checkpoint: official pose-only `.pth` or converted `.safetensors`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// mT5 folder with `config.json` and `spiece.model` (or `tokenizer.json`).
    #[arg(long)]
    pub mt5: PathBuf,
    /// Output language.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: LangArg,
    /// Beams; 1 is greedy search.
    #[arg(long, default_value_t = 4)]
    pub beams: usize,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 100)]
    pub max_new_tokens: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: FormatArg,
    /// How the mT5 matrices are held.
    #[arg(long, value_enum, default_value = "stored")]
    pub weights: WeightsArg,
    /// Pose backend for video input.
    #[command(flatten)]
    pub pose: super::pose::PoseBackendArgs,
}

fn load_tokenizer(mt5_dir: &Path) -> anyhow::Result<MT5Tokenizer> {
    let spiece = mt5_dir.join("spiece.model");
    let json = mt5_dir.join("tokenizer.json");
    if spiece.is_file() {
        Ok(MT5Tokenizer::from_spiece(&spiece)?)
    } else if json.is_file() {
        Ok(MT5Tokenizer::from_tokenizer_json(&json)?)
    } else {
        bail!(
            "{}: no spiece.model or tokenizer.json in the mT5 folder",
            mt5_dir.display()
        )
    }
}

/// Runs the command.
pub fn run(args: TranslateArgs) -> anyhow::Result<()> {
    if args.beams == 0 {
        bail!("--beams must be at least 1");
    }
    let config = Mt5Config::load(&args.mt5)?;
    let tokenizer = load_tokenizer(&args.mt5)?;
    let precision = match args.weights {
        WeightsArg::Stored => WeightPrecision::Stored,
        WeightsArg::F32 => WeightPrecision::F32,
    };
    let model = UniSign::load(&args.checkpoint, &config, precision)?;
    // The model loads first: a bad checkpoint should fail before minutes of pose extraction.
    let sequence = if is_pose_file(&args.input) {
        read_pose_file(&args.input)?
    } else {
        super::pose::extract_poses(&args.input, &args.pose.config()?)?
    };
    let clip = NormalizedClip::from_sequence(&sequence);
    let input = unisign::preprocess(&clip, &FrameSelection::Uniform)
        .with_context(|| format!("preprocessing {}", args.input.display()))?;
    let language = match args.lang {
        LangArg::En => Language::English,
        LangArg::Zh => Language::Chinese,
    };
    let search_config = SearchConfig {
        num_beams: args.beams,
        max_new_tokens: args.max_new_tokens,
        decoder_start_token_id: config.decoder_start_token_id,
        eos_token_id: config.eos_token_id,
        ..SearchConfig::default()
    };
    let translation = model.translate(&tokenizer, &input, language, &search_config)?;
    let generation = &translation.generation;
    let text = &translation.text;

    let mut out = std::io::stdout().lock();
    match args.format {
        FormatArg::Text => writeln!(out, "{text}")?,
        FormatArg::Json => {
            let json = serde_json::json!({
                "text": text,
                "ids": generation.ids,
                "token_logprobs": generation.token_logprobs,
                "score": generation.score,
                "finished_with_eos": generation.finished_with_eos,
                "confidence": generation.confidence(),
                "num_frames": sequence.frames.len(),
                "frame_indices": input.frame_indices,
                "prompt_ids": translation.prompt_ids,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        }
    }
    Ok(())
}
