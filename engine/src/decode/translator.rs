//! [`Translator`]: a Uni-Sign checkpoint, its mT5 folder and the search settings, loaded once and
//! reused by the CLI, the app's caption stage and the trainer.
//!
//! Loading reads ~1.2 GB for the released checkpoints, so it belongs on a worker thread; the
//! errors say in the user's terms what is wrong with which file.

use std::path::{Path, PathBuf};

use crate::keypoints::PoseSequence;
use crate::keypoints::unisign::{self, FrameSelection, NormalizedClip, UniSignInput};
use crate::model::{Language, ModelError, Mt5Config, Translation, UniSign, WeightPrecision};

use super::search::SearchConfig;
use super::tokenizer::{MT5Tokenizer, TokenizerError};

/// What to load and how to search.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TranslatorConfig {
    /// Uni-Sign checkpoint: official pose-only `.pth` or converted `.safetensors`.
    pub checkpoint: PathBuf,
    /// mT5 folder with `config.json` and `spiece.model` (or `tokenizer.json`).
    pub mt5_dir: PathBuf,
    /// Output language; `None` takes it from the checkpoint's file name (English otherwise).
    pub language: Option<Language>,
    /// Beams of a final translation; 1 is greedy search.
    pub beams: usize,
    /// Most tokens to generate.
    pub max_new_tokens: usize,
    /// Threads for the model's matrix products (0: all cores).
    pub threads: usize,
    /// How the mT5 matrices are held.
    pub precision: WeightPrecision,
}

impl TranslatorConfig {
    /// The official search settings (beam 4, 100 new tokens) for these files.
    pub fn new(checkpoint: impl Into<PathBuf>, mt5_dir: impl Into<PathBuf>) -> Self {
        Self {
            checkpoint: checkpoint.into(),
            mt5_dir: mt5_dir.into(),
            language: None,
            beams: 4,
            max_new_tokens: 100,
            threads: 0,
            precision: WeightPrecision::Stored,
        }
    }

    /// The language used: the configured one, else the one the checkpoint's name implies.
    pub fn resolved_language(&self) -> Language {
        self.language.unwrap_or_else(|| {
            crate::model::hub::language_from_checkpoint_name(&self.checkpoint)
                .unwrap_or(Language::English)
        })
    }
}

/// Whether a checkpoint's file name says it classifies single signs (WLASL ISLR), whose
/// captions also list the other beams as alternatives.
pub fn is_isolated_sign_checkpoint(path: &Path) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase().contains("islr"))
        .unwrap_or(false)
}

/// Errors of loading a translator or translating.
#[derive(Debug, thiserror::Error)]
pub enum TranslatorError {
    /// The checkpoint file does not exist.
    #[error("{0}: no such checkpoint file")]
    MissingCheckpoint(PathBuf),
    /// The mT5 folder does not exist.
    #[error("{0}: no such mT5 folder")]
    MissingMt5Folder(PathBuf),
    /// The mT5 folder has no `config.json`.
    #[error(
        "{0}: this is not an mT5 folder (it has no config.json; use the folder of google/mt5-base with config.json and spiece.model)"
    )]
    NotMt5Folder(PathBuf),
    /// The mT5 folder has no tokenizer.
    #[error("{0}: the mT5 folder has no spiece.model or tokenizer.json")]
    NoTokenizer(PathBuf),
    /// The settings cannot run.
    #[error("{0}")]
    Settings(String),
    /// The model failed to load or run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The tokenizer failed.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// The pose clip cannot be preprocessed.
    #[error("{0}")]
    Preprocess(#[from] unisign::PreprocessError),
    /// The worker thread pool could not start.
    #[error("cannot start the translation threads: {0}")]
    Threads(String),
}

/// How hard to search: provisional captions take greedy search, final ones the configured beams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SearchMode {
    /// One beam.
    Greedy,
    /// The configured number of beams.
    Beam,
}

/// One translated clip with what a caption shows about it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TranslatedClip {
    /// Text, ids, per-token log-probabilities, prompt ids.
    pub translation: Translation,
    /// Geometric-mean token probability in [0, 1].
    pub confidence: f32,
    /// The frames of the clip the model saw (all of them up to 256).
    pub frame_indices: Vec<usize>,
    /// Other readings with their scores, best first (single-sign checkpoints, beam search).
    pub alternatives: Vec<(String, f32)>,
}

/// A loaded model with its tokenizer and settings.
pub struct Translator {
    model: UniSign,
    tokenizer: MT5Tokenizer,
    mt5_config: Mt5Config,
    config: TranslatorConfig,
    language: Language,
    prompt_ids: Vec<u32>,
    pool: rayon::ThreadPool,
}

impl std::fmt::Debug for Translator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Translator")
            .field("config", &self.config)
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

/// Loads the tokenizer of an mT5 folder: `spiece.model` first (the slow tokenizer the official
/// code uses), else `tokenizer.json`.
pub fn load_tokenizer(mt5_dir: &Path) -> Result<MT5Tokenizer, TranslatorError> {
    let spiece = mt5_dir.join("spiece.model");
    let json = mt5_dir.join("tokenizer.json");
    if spiece.is_file() {
        Ok(MT5Tokenizer::from_spiece(&spiece)?)
    } else if json.is_file() {
        Ok(MT5Tokenizer::from_tokenizer_json(&json)?)
    } else {
        Err(TranslatorError::NoTokenizer(mt5_dir.to_path_buf()))
    }
}

/// Reads and checks an mT5 folder: its `config.json` and tokenizer.
pub fn load_mt5_folder(mt5_dir: &Path) -> Result<(Mt5Config, MT5Tokenizer), TranslatorError> {
    if !mt5_dir.is_dir() {
        return Err(TranslatorError::MissingMt5Folder(mt5_dir.to_path_buf()));
    }
    if !mt5_dir.join("config.json").is_file() {
        return Err(TranslatorError::NotMt5Folder(mt5_dir.to_path_buf()));
    }
    let config = Mt5Config::load(mt5_dir)?;
    let tokenizer = load_tokenizer(mt5_dir)?;
    Ok((config, tokenizer))
}

impl Translator {
    /// Loads the mT5 folder and the checkpoint (the folder first: it is quick to check).
    pub fn load(config: &TranslatorConfig) -> Result<Self, TranslatorError> {
        let _span =
            tracing::info_span!("translator_load", checkpoint = %config.checkpoint.display())
                .entered();
        if config.beams == 0 {
            return Err(TranslatorError::Settings("beams must be at least 1".into()));
        }
        if config.max_new_tokens == 0 {
            return Err(TranslatorError::Settings(
                "max new tokens must be at least 1".into(),
            ));
        }
        let (mt5_config, tokenizer) = load_mt5_folder(&config.mt5_dir)?;
        if !config.checkpoint.is_file() {
            return Err(TranslatorError::MissingCheckpoint(
                config.checkpoint.clone(),
            ));
        }
        let model = UniSign::load(&config.checkpoint, &mt5_config, config.precision)?;
        Self::from_parts(model, tokenizer, config)
    }

    /// A translator over a model already in memory (random weights in benches, a model being
    /// trained); `config` gives the search settings and language, its paths only name things.
    pub fn from_parts(
        model: UniSign,
        tokenizer: MT5Tokenizer,
        config: &TranslatorConfig,
    ) -> Result<Self, TranslatorError> {
        let language = config.resolved_language();
        let prompt_ids = tokenizer.encode(&crate::model::prompt_text(language))?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.threads)
            .thread_name(|i| format!("signcap-model-{i}"))
            .build()
            .map_err(|e| TranslatorError::Threads(e.to_string()))?;
        Ok(Self {
            mt5_config: model.config.mt5.clone(),
            model,
            tokenizer,
            config: config.clone(),
            language,
            prompt_ids,
            pool,
        })
    }

    /// The settings it was loaded with.
    pub fn config(&self) -> &TranslatorConfig {
        &self.config
    }

    /// The output language (it picks the prompt).
    pub fn language(&self) -> Language {
        self.language
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &MT5Tokenizer {
        &self.tokenizer
    }

    /// The model.
    pub fn model(&self) -> &UniSign {
        &self.model
    }

    /// Gives the model back (to hand it to another translator with other settings).
    pub fn into_model(self) -> UniSign {
        self.model
    }

    /// The prompt ids fed before the pose tokens.
    pub fn prompt_ids(&self) -> &[u32] {
        &self.prompt_ids
    }

    /// The search settings of `mode`.
    pub fn search_config(&self, mode: SearchMode) -> SearchConfig {
        SearchConfig {
            num_beams: match mode {
                SearchMode::Greedy => 1,
                SearchMode::Beam => self.config.beams,
            },
            max_new_tokens: self.config.max_new_tokens,
            decoder_start_token_id: self.mt5_config.decoder_start_token_id,
            eos_token_id: self.mt5_config.eos_token_id,
            ..SearchConfig::default()
        }
    }

    /// Keypoints → preprocessed model input (uniform subsampling past 256 frames).
    pub fn preprocess(&self, sequence: &PoseSequence) -> Result<UniSignInput, TranslatorError> {
        let clip = NormalizedClip::from_sequence(sequence);
        Ok(unisign::preprocess(&clip, &FrameSelection::Uniform)?)
    }

    /// Translates a preprocessed clip.
    pub fn translate_input(
        &self,
        input: &UniSignInput,
        mode: SearchMode,
    ) -> Result<TranslatedClip, TranslatorError> {
        let _span = tracing::info_span!("translate", frames = input.num_frames(), ?mode).entered();
        let search = self.search_config(mode);
        let translation = self.pool.install(|| {
            self.model
                .translate(&self.tokenizer, input, self.language, &search)
        })?;
        let confidence = translation.generation.confidence();
        // A single-sign classifier's other beams are the signs it found next most likely.
        let alternatives = if is_isolated_sign_checkpoint(&self.config.checkpoint) {
            translation
                .generation
                .alternatives
                .iter()
                .map(|(ids, score)| Ok((self.tokenizer.decode(ids, true, true)?, *score)))
                .collect::<Result<Vec<_>, TokenizerError>>()?
        } else {
            Vec::new()
        };
        Ok(TranslatedClip {
            translation,
            confidence,
            frame_indices: input.frame_indices.clone(),
            alternatives,
        })
    }

    /// Translates a keypoint clip (a file, or a segment of a stream).
    pub fn translate_sequence(
        &self,
        sequence: &PoseSequence,
        mode: SearchMode,
    ) -> Result<TranslatedClip, TranslatorError> {
        let input = self.preprocess(sequence)?;
        self.translate_input(&input, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_follows_the_official_file_names() {
        for (name, language) in [
            ("csl_daily_pose_only_slt.pth", Language::Chinese),
            ("wlasl_pose_only_islr.pth", Language::English),
            ("my_own_model.safetensors", Language::English),
        ] {
            let config = TranslatorConfig::new(name, "mt5");
            assert_eq!(config.resolved_language(), language, "{name}");
        }
        assert!(is_isolated_sign_checkpoint(Path::new(
            "wlasl_pose_only_islr.pth"
        )));
        assert!(!is_isolated_sign_checkpoint(Path::new(
            "how2sign_pose_only_slt.pth"
        )));
    }

    #[test]
    fn a_folder_without_config_is_not_an_mt5_folder() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_mt5_folder(dir.path()).unwrap_err();
        assert!(matches!(err, TranslatorError::NotMt5Folder(_)), "{err}");
        let err = load_mt5_folder(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(err, TranslatorError::MissingMt5Folder(_)), "{err}");
    }
}
