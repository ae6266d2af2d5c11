//! The official model files: their catalogue on the Hugging Face hub, the local cache folder,
//! checks of files on disk, and (in [`download`]) fetching them with resume and checksums.
//!
//! Cache layout: `<cache>/<owner>--<name>/<file>` (the mT5 folder `<cache>/google--mt5-base` is
//! usable as `--mt5` as it is), with `<file>.part` while downloading and `<file>.meta.json`
//! beside each finished file holding its sha256, size and source (see [`FileRecord`]).

pub mod download;
pub mod record;
pub mod verify;

use std::path::{Path, PathBuf};

pub use download::{Downloaded, Downloader, Progress, endpoint_from_env};
pub use record::{
    ChecksumCheck, FileRecord, FileStatus, check_checksum, file_status, part_path, read_record,
    record_path, sha256_file, write_record,
};
pub use verify::{
    CheckpointSummary, Container, Mt5Summary, check_checkpoint_header, check_mt5_folder,
};

use super::{Language, ModelError};

/// The hub repository of the released Uni-Sign checkpoints.
pub const UNISIGN_REPO: &str = "ZechengLi19/Uni-Sign";
/// The hub repository of the mT5 model Uni-Sign builds on (config and tokenizer).
pub const MT5_REPO: &str = "google/mt5-base";
/// The hub's address when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// The revision downloaded when none is given.
pub const DEFAULT_REVISION: &str = "main";

/// Errors of the model catalogue, cache, checks and downloads.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// No connection could be made (offline, DNS failure, refused, TLS failure).
    #[error("cannot reach {origin} (offline?): {cause}")]
    Unreachable {
        /// Scheme, host and port.
        origin: String,
        /// The transport's reason.
        cause: String,
    },
    /// The server has no such file.
    #[error("{url}: not found on the server (HTTP 404)")]
    NotFound {
        /// The address asked for.
        url: String,
    },
    /// The server answered with an unexpected status.
    #[error("{url}: the server answered HTTP {status}{hint}")]
    Status {
        /// The address asked for.
        url: String,
        /// The HTTP status.
        status: u16,
        /// A hint for common statuses (may be empty).
        hint: &'static str,
    },
    /// The server's answer does not make sense (e.g. a range that was not asked for).
    #[error("{url}: {reason}")]
    Protocol {
        /// The address asked for.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The transfer broke off; the `.part` file keeps what arrived.
    #[error("{url}: download interrupted after {bytes} bytes ({cause}); download again to resume")]
    Interrupted {
        /// The address asked for.
        url: String,
        /// Bytes in the `.part` file.
        bytes: u64,
        /// The transport's reason.
        cause: String,
    },
    /// The downloaded bytes do not have the checksum the server announced.
    #[error(
        "{path}: checksum mismatch: expected sha256 {expected}, got {actual}; the partial download was deleted"
    )]
    ChecksumMismatch {
        /// The file.
        path: String,
        /// The announced sha256.
        expected: String,
        /// The sha256 of the bytes received.
        actual: String,
    },
    /// The downloaded bytes do not have the size the server announced.
    #[error(
        "{path}: size mismatch: expected {expected} bytes, got {actual}; the partial download was deleted"
    )]
    SizeMismatch {
        /// The file.
        path: String,
        /// The announced size.
        expected: u64,
        /// The size received.
        actual: u64,
    },
    /// The endpoint is not an http(s) address.
    #[error("invalid endpoint `{endpoint}`: expected an http:// or https:// address")]
    Endpoint {
        /// The endpoint given.
        endpoint: String,
    },
    /// No cache folder can be derived from the environment.
    #[error("no model cache folder: set SIGNCAP_MODELS (neither XDG_CACHE_HOME nor HOME is set)")]
    NoCacheDir,
    /// A name that is not in the catalogue.
    #[error("unknown model `{name}`; the catalogue has: {known}")]
    UnknownModel {
        /// The name given.
        name: String,
        /// The catalogue's names.
        known: String,
    },
    /// A file is not what it should be.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Loading a configuration, tokenizer or checkpoint failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// What a checkpoint was trained for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Task {
    /// Sign language translation (sentences); the CSL-News pretraining stages too.
    Slt,
    /// Isolated sign recognition (one gloss per clip).
    Islr,
}

impl Task {
    /// The short name used in the paper.
    pub fn label(self) -> &'static str {
        match self {
            Task::Slt => "SLT",
            Task::Islr => "ISLR",
        }
    }
}

/// What a checkpoint reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Modality {
    /// Keypoints only: supported for translation.
    Pose,
    /// Keypoints and RGB crops: the RGB branch is not supported for translation yet.
    RgbPose,
}

impl Modality {
    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Modality::Pose => "pose",
            Modality::RgbPose => "rgb+pose",
        }
    }
}

/// One released Uni-Sign checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointInfo {
    /// File name in [`UNISIGN_REPO`].
    pub file: &'static str,
    /// Training stage (1, 2: CSL-News pretraining; 3: fine-tuning).
    pub stage: u8,
    /// Data set it was trained on last.
    pub dataset: &'static str,
    /// Task.
    pub task: Task,
    /// Inputs.
    pub modality: Modality,
    /// Output language (it picks the prompt).
    pub language: Language,
}

impl CheckpointInfo {
    /// The catalogue name: the file name without `.pth`.
    pub fn name(&self) -> &'static str {
        self.file.strip_suffix(".pth").unwrap_or(self.file)
    }

    /// Whether `signcap translate` can run it (pose-only).
    pub fn supported(&self) -> bool {
        self.modality == Modality::Pose
    }
}

const fn ckpt(
    file: &'static str,
    stage: u8,
    dataset: &'static str,
    task: Task,
    modality: Modality,
    language: Language,
) -> CheckpointInfo {
    CheckpointInfo {
        file,
        stage,
        dataset,
        task,
        modality,
        language,
    }
}

/// The released checkpoints (architecture notes §13).
pub const CHECKPOINTS: [CheckpointInfo; 8] = {
    use Language::{Chinese, English};
    use Modality::{Pose, RgbPose};
    use Task::{Islr, Slt};
    [
        ckpt("csl_stage1_weight.pth", 1, "CSL-News", Slt, Pose, Chinese),
        ckpt(
            "csl_stage2_weight.pth",
            2,
            "CSL-News",
            Slt,
            RgbPose,
            Chinese,
        ),
        ckpt(
            "csl_daily_rgb_pose_slt.pth",
            3,
            "CSL-Daily",
            Slt,
            RgbPose,
            Chinese,
        ),
        ckpt(
            "csl_daily_pose_only_slt.pth",
            3,
            "CSL-Daily",
            Slt,
            Pose,
            Chinese,
        ),
        ckpt(
            "wlasl_rgb_pose_islr.pth",
            3,
            "WLASL-2000",
            Islr,
            RgbPose,
            English,
        ),
        ckpt(
            "wlasl_pose_only_islr.pth",
            3,
            "WLASL-2000",
            Islr,
            Pose,
            English,
        ),
        ckpt(
            "how2sign_pose_only_slt.pth",
            3,
            "How2Sign",
            Slt,
            Pose,
            English,
        ),
        ckpt(
            "openasl_pose_only_slt.pth",
            3,
            "OpenASL",
            Slt,
            Pose,
            English,
        ),
    ]
};

/// One file of the mT5 folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mt5File {
    /// File name in [`MT5_REPO`].
    pub file: &'static str,
    /// Whether translation needs it.
    pub required: bool,
}

/// The mT5 folder's files: the configuration and tokenizer (the weights are in each checkpoint).
pub const MT5_FILES: [Mt5File; 5] = [
    Mt5File {
        file: "config.json",
        required: true,
    },
    Mt5File {
        file: "spiece.model",
        required: true,
    },
    Mt5File {
        file: "tokenizer_config.json",
        required: false,
    },
    Mt5File {
        file: "special_tokens_map.json",
        required: false,
    },
    Mt5File {
        file: "generation_config.json",
        required: false,
    },
];

/// The catalogue entry called `name` (with or without `.pth`).
pub fn checkpoint(name: &str) -> Result<&'static CheckpointInfo, HubError> {
    let stem = name.strip_suffix(".pth").unwrap_or(name);
    CHECKPOINTS
        .iter()
        .find(|c| c.name() == stem)
        .ok_or_else(|| HubError::UnknownModel {
            name: name.to_owned(),
            known: CHECKPOINTS.map(|c| c.name()).join(", "),
        })
}

/// The output language implied by a checkpoint's file name: the catalogue's entry when the
/// stem is a released name (`.pth` or converted `.safetensors`), else the data-set prefix
/// (`csl` → Chinese; `wlasl`, `how2sign`, `openasl`, `youtube` → English).
pub fn language_from_checkpoint_name(path: &Path) -> Option<Language> {
    let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
    if let Some(info) = CHECKPOINTS.iter().find(|c| c.name() == stem) {
        return Some(info.language);
    }
    if stem.starts_with("csl") {
        Some(Language::Chinese)
    } else if ["wlasl", "how2sign", "openasl", "youtube", "asl"]
        .iter()
        .any(|p| stem.starts_with(p))
    {
        Some(Language::English)
    } else {
        None
    }
}

/// The default cache folder: `$SIGNCAP_MODELS`, else `$XDG_CACHE_HOME/signcap/models`, else
/// `$HOME/.cache/signcap/models`.
pub fn default_cache_dir() -> Result<PathBuf, HubError> {
    cache_dir_from(|name| std::env::var_os(name))
}

/// [`default_cache_dir`] over any source of environment variables (empty ones count as unset).
pub fn cache_dir_from(
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, HubError> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("SIGNCAP_MODELS") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("signcap/models"));
    }
    var("HOME")
        .map(|home| PathBuf::from(home).join(".cache/signcap/models"))
        .ok_or(HubError::NoCacheDir)
}

/// Maps an I/O error on `path` to [`HubError::Io`].
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> HubError + '_ {
    move |source| HubError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The model cache folder.
#[derive(Clone, Debug)]
pub struct ModelCache {
    root: PathBuf,
}

impl ModelCache {
    /// A cache at `root` (created on first download).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The cache at [`default_cache_dir`].
    pub fn from_env() -> Result<Self, HubError> {
        default_cache_dir().map(Self::new)
    }

    /// The cache folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one hub repository: `owner/name` → `<cache>/owner--name`.
    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.root.join(repo.replace('/', "--"))
    }

    /// Where `file` of `repo` lives.
    pub fn file_path(&self, repo: &str, file: &str) -> PathBuf {
        self.repo_dir(repo).join(file)
    }

    /// Where a released checkpoint lives.
    pub fn checkpoint_path(&self, info: &CheckpointInfo) -> PathBuf {
        self.file_path(UNISIGN_REPO, info.file)
    }

    /// The mT5 folder (usable as `--mt5`).
    pub fn mt5_dir(&self) -> PathBuf {
        self.repo_dir(MT5_REPO)
    }
}

#[cfg(test)]
mod tests;
