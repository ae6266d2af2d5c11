//! The model options shared by `translate`, `caption` and `live`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use signcap_engine::decode::translator::{Translator, TranslatorConfig};
use signcap_engine::model::{Language, WeightPrecision};

/// Output language (it picks the prompt; it must match the checkpoint).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LangArg {
    /// English (WLASL, How2Sign, OpenASL checkpoints).
    En,
    /// Chinese (CSL checkpoints).
    Zh,
}

/// How the mT5 matrices are held.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum WeightsArg {
    /// As stored (bf16 for the released checkpoints), f32 accumulation.
    Stored,
    /// Widened to f32.
    F32,
}

/// Where the model files come from when no option names them.
pub const CHECKPOINT_ENV: &str = "SIGNCAP_CHECKPOINT";
/// The mT5 folder's environment variable.
pub const MT5_ENV: &str = "SIGNCAP_MT5";

/// Model files and search settings.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Uni-Sign checkpoint: official pose-only `.pth` or converted `.safetensors`
    /// (default: $SIGNCAP_CHECKPOINT, else the model the desktop app remembers).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// mT5 folder with `config.json` and `spiece.model` or `tokenizer.json` (default: $SIGNCAP_MT5).
    #[arg(long)]
    pub mt5: Option<PathBuf>,
    /// Output language (default: from the checkpoint's file name: `csl_*` Chinese, else English).
    #[arg(long, value_enum)]
    pub lang: Option<LangArg>,
    /// Beams of a final translation; 1 is greedy search.
    #[arg(long, default_value_t = 4)]
    pub beams: usize,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 100)]
    pub max_new_tokens: usize,
    /// How the mT5 matrices are held.
    #[arg(long, value_enum, default_value = "stored")]
    pub weights: WeightsArg,
    /// Threads for the model (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub model_threads: usize,
}

impl ModelArgs {
    /// The translator settings, or `None` when no checkpoint is named anywhere.
    pub fn config(&self) -> anyhow::Result<Option<TranslatorConfig>> {
        if self.beams == 0 {
            bail!("--beams must be at least 1");
        }
        let mut checkpoint = self
            .checkpoint
            .clone()
            .or_else(|| std::env::var_os(CHECKPOINT_ENV).map(PathBuf::from));
        let mut mt5 = self
            .mt5
            .clone()
            .or_else(|| std::env::var_os(MT5_ENV).map(PathBuf::from));
        // Last, the model the desktop app remembers.
        if checkpoint.is_none()
            && mt5.is_none()
            && let Some(path) = crate::gui::settings::default_settings_path()
            && path.is_file()
        {
            let settings = crate::gui::settings::Settings::load(&path)?;
            checkpoint = settings.model.checkpoint;
            mt5 = settings.model.mt5_dir;
        }
        let (checkpoint, mt5_dir) = match (checkpoint, mt5) {
            (None, None) => return Ok(None),
            (Some(checkpoint), Some(mt5)) => (checkpoint, mt5),
            (Some(_), None) => bail!("--checkpoint needs --mt5 DIR (or ${MT5_ENV}) too"),
            (None, Some(_)) => bail!("--mt5 needs --checkpoint FILE (or ${CHECKPOINT_ENV}) too"),
        };
        Ok(Some(TranslatorConfig {
            language: self.lang.map(|lang| match lang {
                LangArg::En => Language::English,
                LangArg::Zh => Language::Chinese,
            }),
            beams: self.beams,
            max_new_tokens: self.max_new_tokens,
            threads: self.model_threads,
            precision: match self.weights {
                WeightsArg::Stored => WeightPrecision::Stored,
                WeightsArg::F32 => WeightPrecision::F32,
            },
            ..TranslatorConfig::new(checkpoint, mt5_dir)
        }))
    }

    /// Loads the translator when a checkpoint is named.
    pub fn load(&self) -> anyhow::Result<Option<Arc<Translator>>> {
        match self.config()? {
            Some(config) => Ok(Some(Arc::new(Translator::load(&config)?))),
            None => Ok(None),
        }
    }
}

/// The one line that says how to add a model.
pub fn how_to_add_a_model() -> String {
    format!(
        "no model: give --checkpoint FILE --mt5 DIR (or set ${CHECKPOINT_ENV} and ${MT5_ENV}); \
         get a pose-only Uni-Sign checkpoint from https://huggingface.co/ZechengLi19/Uni-Sign and \
         the mT5 folder from https://huggingface.co/google/mt5-base"
    )
}
