//! Model configuration: the mT5 `config.json` as transformers writes it, and the Uni-Sign
//! pose-encoder hyper-parameters.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ModelError;

/// The fields of an HF `MT5Config` (`config.json`) that inference needs. Unknown fields are
/// ignored, as transformers does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mt5Config {
    /// Vocabulary rows of `shared` and `lm_head`.
    pub vocab_size: usize,
    /// Model width.
    pub d_model: usize,
    /// Width of one attention head; the inner attention width is `num_heads × d_kv`.
    pub d_kv: usize,
    /// Width of the gated feed-forward layer.
    pub d_ff: usize,
    /// Encoder blocks.
    pub num_layers: usize,
    /// Decoder blocks (transformers: defaults to `num_layers`).
    #[serde(default)]
    pub num_decoder_layers: Option<usize>,
    /// Attention heads.
    pub num_heads: usize,
    /// Relative-position buckets (both directions together in the encoder).
    pub relative_attention_num_buckets: usize,
    /// Distance beyond which relative positions share the last bucket.
    #[serde(default = "default_max_distance")]
    pub relative_attention_max_distance: usize,
    /// RMSNorm epsilon.
    pub layer_norm_epsilon: f64,
    /// Feed-forward kind; only `gated-gelu` (mT5) is supported.
    pub feed_forward_proj: String,
    /// Whether `lm_head` is tied to `shared`; mT5 unties them.
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    /// Padding token id.
    #[serde(default)]
    pub pad_token_id: u32,
    /// End-of-sequence token id.
    #[serde(default = "default_eos")]
    pub eos_token_id: u32,
    /// First decoder input token.
    #[serde(default)]
    pub decoder_start_token_id: u32,
}

fn default_max_distance() -> usize {
    128
}
fn default_true() -> bool {
    true
}
fn default_eos() -> u32 {
    1
}

impl Mt5Config {
    /// The google/mt5-base configuration.
    pub fn mt5_base() -> Self {
        Self {
            vocab_size: 250_112,
            d_model: 768,
            d_kv: 64,
            d_ff: 2048,
            num_layers: 12,
            num_decoder_layers: Some(12),
            num_heads: 12,
            relative_attention_num_buckets: 32,
            relative_attention_max_distance: 128,
            layer_norm_epsilon: 1e-6,
            feed_forward_proj: "gated-gelu".to_owned(),
            tie_word_embeddings: false,
            pad_token_id: 0,
            eos_token_id: 1,
            decoder_start_token_id: 0,
        }
    }

    /// Reads `config.json` (a file, or the file of that name inside a folder) and checks
    /// that this implementation supports it.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let file = if path.is_dir() {
            path.join("config.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| ModelError::Io {
            path: file.display().to_string(),
            source,
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|e| ModelError::Config {
            path: file.display().to_string(),
            reason: e.to_string(),
        })?;
        config.validate().map_err(|reason| ModelError::Config {
            path: file.display().to_string(),
            reason,
        })?;
        Ok(config)
    }

    /// Checks the fields this implementation relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.feed_forward_proj != "gated-gelu" {
            return Err(format!(
                "feed_forward_proj `{}` is not supported (mT5 uses `gated-gelu`)",
                self.feed_forward_proj
            ));
        }
        if self.tie_word_embeddings {
            return Err("tie_word_embeddings true is not supported (mT5 unties lm_head)".into());
        }
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("d_kv", self.d_kv),
            ("d_ff", self.d_ff),
            ("num_layers", self.num_layers),
            ("num_heads", self.num_heads),
            (
                "relative_attention_num_buckets",
                self.relative_attention_num_buckets,
            ),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be positive"));
        }
        if self.relative_attention_num_buckets < 4 {
            return Err("relative_attention_num_buckets must be at least 4".into());
        }
        Ok(())
    }

    /// Decoder blocks.
    pub fn decoder_layers(&self) -> usize {
        self.num_decoder_layers.unwrap_or(self.num_layers)
    }

    /// Inner attention width: `num_heads × d_kv` (not necessarily `d_model`).
    pub fn inner_dim(&self) -> usize {
        self.num_heads * self.d_kv
    }
}

/// The Uni-Sign pose-encoder hyper-parameters (the official defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PoseEncoderConfig {
    /// Output width of `proj_linear` (the first GCN input).
    pub proj_dim: usize,
    /// Output channels of the spatial chain's blocks.
    pub spatial_channels: Vec<usize>,
    /// Blocks in the temporal chain (all at the last spatial width).
    pub temporal_blocks: usize,
    /// Temporal kernel size of the temporal chain.
    pub temporal_kernel: usize,
    /// Adjacency partitions (distance strategy: 2).
    pub partitions: usize,
    /// BatchNorm epsilon.
    pub batch_norm_eps: f64,
}

impl Default for PoseEncoderConfig {
    fn default() -> Self {
        Self {
            proj_dim: 64,
            spatial_channels: vec![64, 128, 256],
            temporal_blocks: 3,
            temporal_kernel: 5,
            partitions: 2,
            batch_norm_eps: 1e-5,
        }
    }
}

impl PoseEncoderConfig {
    /// Width of each group's features (the last spatial width, `hidden_dim` in the reference).
    pub fn hidden_dim(&self) -> usize {
        self.spatial_channels
            .last()
            .copied()
            .unwrap_or(self.proj_dim)
    }
}

/// The whole model's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UniSignConfig {
    /// Pose encoder.
    #[serde(default)]
    pub pose: PoseEncoderConfig,
    /// mT5.
    pub mt5: Mt5Config,
}
