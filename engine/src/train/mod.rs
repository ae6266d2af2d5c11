//! Fine-tuning on the user's own clips: the official Uni-Sign training step in candle autograd.
//!
//! [`batch`] collates clips as the official loader does (repeated-last-frame padding, frame
//! masks, targets tokenised with padding ignored); [`forward`] and [`seq2seq`] are the
//! differentiable train-mode forward of the pose encoder and mT5 with the label-smoothed loss;
//! [`optim`] is timm's AdamW grouping, global-norm clipping and the cosine schedule;
//! [`trainer`] owns the parameters, optimizer state and gradient accumulation.

pub mod batch;
pub mod checkpoint;
pub mod forward;
pub mod optim;
pub mod params;
pub mod rng;
pub mod seq2seq;
pub mod trainer;

pub use batch::{Batch, TrainSample, collate};
pub use params::{ParamStore, Trainable};
pub use trainer::{StepReport, TrainConfig, Trainer};

/// Errors of training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Loading the model failed.
    #[error("model")]
    Model(#[from] crate::model::ModelError),
    /// A tensor operation failed.
    #[error("tensor computation: {0}")]
    Compute(#[from] candle_core::Error),
    /// Tokenising a target failed.
    #[error("tokenizer")]
    Tokenizer(#[from] crate::decode::tokenizer::TokenizerError),
    /// Preprocessing a clip failed.
    #[error("clip `{name}`: {source}")]
    Preprocess {
        /// The clip.
        name: String,
        /// The cause.
        source: crate::keypoints::unisign::PreprocessError,
    },
    /// The batch or configuration is unusable.
    #[error("training input: {0}")]
    Input(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A training checkpoint is malformed.
    #[error("{path}: {reason}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}
