//! The Uni-Sign model: pose encoder (ST-GCN per body part) and mT5, loaded from official checkpoints.

pub mod checkpoint;
pub mod config;
pub mod hub;
pub mod kernels;
pub mod linear;
pub mod mt5;
pub mod pose_encoder;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

pub use checkpoint::{Weights, load_weights};
pub use config::{Mt5Config, PoseEncoderConfig, UniSignConfig};
pub use mt5::{Mt5, Mt5Decoder};
pub use pose_encoder::{PoseEncoder, PoseEncoderOutput};

use crate::keypoints::unisign::UniSignInput;

/// Errors of model loading and inference.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written (the OS error is the source).
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be written (the OS error is the source).
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint this reader understands.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A configuration file is invalid.
    #[error("{path}: invalid configuration: {reason}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint has a key the model does not know.
    #[error("{path}: unexpected key `{key}`")]
    UnknownKey {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
    /// The checkpoint lacks a key the model needs.
    #[error("{path}: missing key `{key}`")]
    MissingKey {
        /// The file.
        path: String,
        /// The key.
        key: String,
    },
    /// A tensor has the wrong shape for the configuration.
    #[error("{path}: key `{key}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor has a non-float dtype.
    #[error("{path}: key `{key}` has dtype {dtype}, expected a float tensor")]
    Dtype {
        /// The file.
        path: String,
        /// The key.
        key: String,
        /// The dtype found.
        dtype: String,
    },
    /// A key that must duplicate another (shared weights) holds different values.
    #[error("{path}: key `{key}` should equal `{original}` (shared weights) but differs")]
    DuplicateDiffers {
        /// The file.
        path: String,
        /// The duplicate key.
        key: String,
        /// The key it should equal.
        original: String,
    },
    /// The checkpoint carries the RGB branch.
    #[error(
        "{path}: RGB branch not yet supported ({count} RGB keys, e.g. `{first}`); use a pose-only checkpoint"
    )]
    RgbBranch {
        /// The file.
        path: String,
        /// How many RGB keys.
        count: usize,
        /// The first of them.
        first: String,
    },
    /// The input does not fit the model.
    #[error("model input: {0}")]
    Input(String),
    /// A tensor operation failed.
    #[error("tensor computation: {0}")]
    Compute(#[from] candle_core::Error),
    /// The tokenizer failed (prompt or output text).
    #[error("tokenizer")]
    Tokenizer(#[from] crate::decode::tokenizer::TokenizerError),
    /// The search failed.
    #[error("search")]
    Search(#[from] Box<crate::decode::search::SearchError<ModelError>>),
}

/// The result of translating one clip.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Translation {
    /// Decoded text (special tokens skipped, transformers' clean-up applied).
    pub text: String,
    /// Ids, per-token log-probabilities, score.
    pub generation: crate::decode::Generation,
    /// Prompt ids fed before the pose tokens.
    pub prompt_ids: Vec<u32>,
}

/// The prompt prepended to the pose tokens: `Translate sign language video to {lang}: `.
pub fn prompt_text(language: Language) -> String {
    format!(
        "Translate sign language video to {}: ",
        match language {
            Language::Chinese => "Chinese",
            Language::English => "English",
        }
    )
}

/// Output language of a checkpoint (it picks the prompt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// CSL checkpoints.
    Chinese,
    /// ASL checkpoints (WLASL, How2Sign, OpenASL).
    English,
}

/// How the mT5 weight matrices are held in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightPrecision {
    /// Widened to f32 (exactly the reference's CPU path).
    F32,
    /// As stored in the checkpoint (bf16 for the released ones), f32 accumulation.
    #[default]
    Stored,
}

/// Loads only the mT5 part (keys under `mt5_model.`) from a safetensors file, for benchmarks
/// and mT5-only checks; `dtype` is the dtype of the weight matrices (f32 or bf16).
pub fn load_mt5(path: &Path, config: &Mt5Config, dtype: DType) -> Result<Mt5, ModelError> {
    let tensors = checkpoint::read_safetensors(path)?;
    let vb = VarBuilder::from_tensors(tensors, dtype, &Device::Cpu);
    Mt5::load(&vb.pp("mt5_model"), config).map_err(|e| match e {
        ModelError::Compute(e) => ModelError::Unreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        },
        other => other,
    })
}

/// What the encoder saw and produced for one clip.
#[derive(Clone, Debug)]
pub struct Encoded {
    /// Pose-encoder outputs.
    pub pose: PoseEncoderOutput,
    /// Prompt embeddings followed by pose tokens, (1, P+T, d_model).
    pub inputs_embeds: Tensor,
    /// (1, P+T) of ones (batch of one, no padding).
    pub attention_mask: Tensor,
    /// mT5 `encoder_last_hidden_state`, (1, P+T, d_model).
    pub encoder_hidden_states: Tensor,
}

/// The whole Uni-Sign model (pose-only).
#[derive(Clone, Debug)]
pub struct UniSign {
    /// Pose encoder.
    pub pose_encoder: PoseEncoder,
    /// mT5.
    pub mt5: Mt5,
    /// Configuration.
    pub config: UniSignConfig,
    device: Device,
}

impl UniSign {
    /// Builds the model from checked weights. Activations are always f32; `precision` picks
    /// whether the mT5 matrices are widened to f32 or kept as stored (bf16 halves the bytes
    /// each decoding step reads, with f32 accumulation).
    pub fn from_weights(
        weights: &Weights,
        config: &UniSignConfig,
        precision: WeightPrecision,
    ) -> Result<Self, ModelError> {
        let device = Device::Cpu;
        let vb = VarBuilder::from_tensors(weights.tensors.clone(), DType::F32, &device);
        let mt5_dtype = match precision {
            WeightPrecision::F32 => DType::F32,
            WeightPrecision::Stored => match weights.mt5_dtype() {
                Some(DType::BF16) => DType::BF16,
                _ => DType::F32,
            },
        };
        let mt5_vb = VarBuilder::from_tensors(weights.tensors.clone(), mt5_dtype, &device);
        Ok(Self {
            pose_encoder: PoseEncoder::load(&vb, &config.pose, config.mt5.d_model)?,
            mt5: Mt5::load(&mt5_vb.pp("mt5_model"), &config.mt5)?,
            config: config.clone(),
            device,
        })
    }

    /// Loads a checkpoint (`.pth` or safetensors) for the given mT5 `config.json`.
    pub fn load(
        checkpoint: &Path,
        mt5_config: &Mt5Config,
        precision: WeightPrecision,
    ) -> Result<Self, ModelError> {
        let config = UniSignConfig {
            pose: PoseEncoderConfig::default(),
            mt5: mt5_config.clone(),
        };
        let weights = load_weights(checkpoint, &config)?;
        Self::from_weights(&weights, &config, precision)
    }

    /// The preprocessed clip as the four (1, T, V, 3) f32 part tensors.
    pub fn part_tensors(&self, input: &UniSignInput) -> Result<[Tensor; 4], ModelError> {
        let t = input.num_frames();
        let make = |i: usize| -> Result<Tensor, ModelError> {
            let part = &input.parts[i];
            let values: Vec<f32> = part.values.iter().map(|&v| v as f32).collect();
            Ok(Tensor::from_vec(
                values,
                (1, t, part.part.num_nodes(), 3),
                &self.device,
            )?)
        };
        Ok([make(0)?, make(1)?, make(2)?, make(3)?])
    }

    /// Pose encoder, prompt, mT5 encoder for one clip.
    pub fn encode(&self, parts: &[Tensor; 4], prompt_ids: &[u32]) -> Result<Encoded, ModelError> {
        let pose = self.pose_encoder.forward(parts)?;
        let prompt = self.mt5.embed(prompt_ids)?;
        let inputs_embeds = Tensor::cat(&[&prompt, &pose.pose_tokens], 1)?;
        let len = inputs_embeds.dim(1)?;
        let attention_mask = Tensor::ones((1, len), DType::F32, &self.device)?;
        let encoder_hidden_states = self.mt5.encode(&inputs_embeds, &attention_mask)?;
        Ok(Encoded {
            pose,
            inputs_embeds,
            attention_mask,
            encoder_hidden_states,
        })
    }

    /// Preprocessed clip → text: pose encoder, prompt, mT5 encoder, search, decode.
    pub fn translate(
        &self,
        tokenizer: &crate::decode::tokenizer::MT5Tokenizer,
        input: &UniSignInput,
        language: Language,
        search: &crate::decode::search::SearchConfig,
    ) -> Result<Translation, ModelError> {
        let prompt_ids = tokenizer.encode(&prompt_text(language))?;
        let parts = self.part_tensors(input)?;
        let encoded = self.encode(&parts, &prompt_ids)?;
        let mut decoder = self.decoder(&encoded)?;
        let generation = crate::decode::search::generate(&mut decoder, search).map_err(Box::new)?;
        let text = tokenizer.decode(&generation.ids, true, true)?;
        Ok(Translation {
            text,
            generation,
            prompt_ids,
        })
    }

    /// A step decoder over an encoded clip.
    pub fn decoder<'a>(&'a self, encoded: &Encoded) -> Result<Mt5Decoder<'a>, ModelError> {
        self.mt5
            .start_decoding(&encoded.encoder_hidden_states, &encoded.attention_mask)
    }
}
