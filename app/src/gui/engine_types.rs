//! Temporary copies of the engine pipeline's types (`signcap_engine::pipeline`,
//! `signcap_engine::decode::translator`) until they land on main; deleted then.

use std::path::PathBuf;

use signcap_engine::decode::tokenizer::{MT5Tokenizer, TokenizerError};
use signcap_engine::model::{Language, ModelError, Mt5Config, UniSign, WeightPrecision};

/// The stages of the caption pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Frames from a file or camera.
    Capture,
    /// Whole-body keypoints per frame.
    Pose,
    /// Cuts the keypoint stream into utterance windows.
    Segmenter,
    /// Uni-Sign: windows to text.
    Translator,
}

impl Stage {
    /// Every stage in pipeline order.
    pub const ALL: [Stage; 4] = [
        Stage::Capture,
        Stage::Pose,
        Stage::Segmenter,
        Stage::Translator,
    ];

    /// The stage's name for people.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Capture => "capture",
            Stage::Pose => "pose",
            Stage::Segmenter => "segmenter",
            Stage::Translator => "translator",
        }
    }
}

/// A caption, provisional while its utterance is still being signed, final once it ended.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptionUpdate {
    /// Which utterance this caption is for (provisional and final share it).
    pub utterance: u64,
    /// Which window of the utterance was translated.
    pub window: usize,
    /// Start in seconds from the start of the source.
    pub start: f64,
    /// End in seconds from the start of the source.
    pub end: f64,
    /// The text.
    pub text: String,
    /// Log-probability of each generated token.
    pub token_logprobs: Vec<f32>,
    /// Mean token probability in [0, 1].
    pub confidence: f32,
    /// Other beams: text and confidence.
    pub alternatives: Vec<(String, f32)>,
    /// Whether the utterance has ended.
    pub is_final: bool,
}

/// What the translator loads and how it searches.
#[derive(Clone, Debug, PartialEq)]
pub struct TranslatorConfig {
    /// Uni-Sign checkpoint (.pth or .safetensors).
    pub checkpoint: PathBuf,
    /// mT5 folder (config.json, spiece.model or tokenizer.json).
    pub mt5_dir: PathBuf,
    /// Output language; `None` guesses from the checkpoint's name.
    pub language: Option<Language>,
    /// Beams (1 is greedy).
    pub beams: usize,
    /// Most tokens per caption.
    pub max_new_tokens: usize,
    /// Threads for the model (0: all cores).
    pub threads: usize,
}

/// Errors of loading the translator.
#[derive(Debug)]
pub enum TranslatorError {
    /// The model failed to load.
    Model(ModelError),
    /// The tokenizer failed to load.
    Tokenizer(TokenizerError),
    /// The mT5 folder has no tokenizer.
    NoTokenizer(PathBuf),
}

impl std::fmt::Display for TranslatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Model(e) => write!(f, "{e}"),
            Self::Tokenizer(e) => write!(f, "{e}"),
            Self::NoTokenizer(dir) => write!(
                f,
                "{}: no spiece.model or tokenizer.json in the mT5 folder",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for TranslatorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Model(e) => Some(e),
            Self::Tokenizer(e) => Some(e),
            Self::NoTokenizer(_) => None,
        }
    }
}

impl From<ModelError> for TranslatorError {
    fn from(e: ModelError) -> Self {
        Self::Model(e)
    }
}

impl From<TokenizerError> for TranslatorError {
    fn from(e: TokenizerError) -> Self {
        Self::Tokenizer(e)
    }
}

/// The loaded model and tokenizer.
pub struct Translator {
    /// The model.
    pub model: UniSign,
    /// The tokenizer.
    pub tokenizer: MT5Tokenizer,
}

impl Translator {
    /// Loads the mT5 configuration, the tokenizer and the checkpoint.
    pub fn load(config: &TranslatorConfig) -> Result<Self, TranslatorError> {
        let mt5 = Mt5Config::load(&config.mt5_dir)?;
        let spiece = config.mt5_dir.join("spiece.model");
        let json = config.mt5_dir.join("tokenizer.json");
        let tokenizer = if spiece.is_file() {
            MT5Tokenizer::from_spiece(&spiece)?
        } else if json.is_file() {
            MT5Tokenizer::from_tokenizer_json(&json)?
        } else {
            return Err(TranslatorError::NoTokenizer(config.mt5_dir.clone()));
        };
        let model = UniSign::load(&config.checkpoint, &mt5, WeightPrecision::Stored)?;
        Ok(Self { model, tokenizer })
    }
}
