//! The official model files: their catalogue on the Hugging Face hub, the local cache folder,
//! checks of files on disk, and (in [`download`]) fetching them with resume and checksums.
//!
//! Cache layout: `<cache>/<owner>--<name>/<file>` (the mT5 folder `<cache>/google--mt5-base` is
//! usable as `--mt5` as it is), with `<file>.part` while downloading and `<file>.meta.json`
//! beside each finished file holding its sha256, size and source (see [`FileRecord`]).

pub mod download;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use download::{Downloaded, Downloader, Progress, endpoint_from_env};

use super::{Language, ModelError, Mt5Config};

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
    #[error(
        "{url}: download interrupted after {bytes} bytes ({cause}); run the command again to resume"
    )]
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

/// What is kept beside each finished download as `<file>.meta.json`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileRecord {
    /// sha256 of the file, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether the server announced the sha256 (`true`) or it was computed on arrival.
    pub sha256_from_server: bool,
    /// Where it came from.
    pub url: String,
    /// The file's modification time (ns since 1970) when its sha256 last matched.
    pub verified_mtime_ns: Option<u64>,
}

/// `<file>.meta.json` for `path`.
pub fn record_path(path: &Path) -> PathBuf {
    with_suffix(path, ".meta.json")
}

/// `<file>.part` for `path`.
pub fn part_path(path: &Path) -> PathBuf {
    with_suffix(path, ".part")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> HubError + '_ {
    move |source| HubError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads the record beside `path`, if there is one.
pub fn read_record(path: &Path) -> Result<Option<FileRecord>, HubError> {
    let record = record_path(path);
    let text = match std::fs::read_to_string(&record) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&record)(e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| HubError::Invalid {
            path: record.display().to_string(),
            reason: format!("unreadable record: {e}"),
        })
}

/// Writes the record beside `path` atomically.
pub fn write_record(path: &Path, record: &FileRecord) -> Result<(), HubError> {
    let target = record_path(path);
    let json = serde_json::to_vec_pretty(record).map_err(|e| HubError::Invalid {
        path: target.display().to_string(),
        reason: e.to_string(),
    })?;
    crate::fsutil::write_atomic(&target, &json).map_err(io_error(&target))
}

/// sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, HubError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mtime_ns(meta: &std::fs::Metadata) -> Option<u64> {
    let since = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    u64::try_from(since.as_nanos()).ok()
}

/// The state of one cached file, found without reading its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// Neither the file nor a partial download.
    Missing,
    /// A partial download of this many bytes.
    Partial {
        /// Bytes so far.
        bytes: u64,
    },
    /// Present without a record (put there by hand): its checksum is unknown.
    Unrecorded {
        /// Size in bytes.
        size: u64,
    },
    /// Its sha256 matched the record and it has not been modified since.
    Verified {
        /// Size in bytes.
        size: u64,
    },
    /// Recorded, but modified since it was last checked (or never checked): run verify.
    Unchecked {
        /// Size in bytes.
        size: u64,
    },
    /// Its size differs from the record's.
    SizeMismatch {
        /// Size on disk.
        size: u64,
        /// Size recorded.
        expected: u64,
    },
}

/// The status of `path` from its metadata and record.
pub fn file_status(path: &Path) -> Result<FileStatus, HubError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(match std::fs::metadata(part_path(path)) {
                Ok(part) => FileStatus::Partial { bytes: part.len() },
                Err(_) => FileStatus::Missing,
            });
        }
        Err(e) => return Err(io_error(path)(e)),
    };
    let size = meta.len();
    Ok(match read_record(path)? {
        None => FileStatus::Unrecorded { size },
        Some(r) if r.size != size => FileStatus::SizeMismatch {
            size,
            expected: r.size,
        },
        Some(r) if r.verified_mtime_ns.is_some() && r.verified_mtime_ns == mtime_ns(&meta) => {
            FileStatus::Verified { size }
        }
        Some(_) => FileStatus::Unchecked { size },
    })
}

/// The outcome of hashing a file against its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChecksumCheck {
    /// The sha256 matches the record (which now says so).
    Match {
        /// The sha256.
        sha256: String,
    },
    /// The sha256 differs from the record.
    Mismatch {
        /// Recorded.
        expected: String,
        /// Found.
        actual: String,
    },
    /// No record beside the file; this is its sha256.
    NoRecord {
        /// The sha256.
        sha256: String,
    },
}

/// Hashes `path` and compares it with its record; a match is noted in the record so that
/// [`file_status`] reports it as verified until the file changes.
pub fn check_checksum(path: &Path) -> Result<ChecksumCheck, HubError> {
    let _span = tracing::info_span!("check_checksum", path = %path.display()).entered();
    let record = read_record(path)?;
    let mtime = std::fs::metadata(path)
        .map_err(io_error(path))
        .map(|m| mtime_ns(&m))?;
    let actual = sha256_file(path)?;
    Ok(match record {
        None => ChecksumCheck::NoRecord { sha256: actual },
        Some(r) if r.sha256 != actual => ChecksumCheck::Mismatch {
            expected: r.sha256,
            actual,
        },
        Some(mut r) => {
            if r.verified_mtime_ns != mtime {
                r.verified_mtime_ns = mtime;
                write_record(path, &r)?;
            }
            ChecksumCheck::Match { sha256: actual }
        }
    })
}

/// The container of a checkpoint file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// The official `torch.save` zip.
    Pth,
    /// The project's safetensors.
    Safetensors,
}

/// What the header of a checkpoint says, read without loading its tensors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointSummary {
    /// The container.
    pub container: Container,
    /// Number of tensors.
    pub tensors: usize,
    /// Keys of the RGB branch (not supported for translation).
    pub rgb_keys: usize,
    /// The stored dtype of `mt5_model.shared.weight`.
    pub mt5_dtype: String,
    /// mT5 vocabulary size (rows of `mt5_model.shared.weight`).
    pub vocab_size: usize,
    /// mT5 width (columns of `mt5_model.shared.weight`; rows of `pose_proj.weight`).
    pub d_model: usize,
}

/// Checks a checkpoint's container and the keys that make it a Uni-Sign checkpoint, from its
/// header only (the tensors' bytes are not read; `load_weights` checks every key).
pub fn check_checkpoint_header(path: &Path) -> Result<CheckpointSummary, HubError> {
    let _span = tracing::info_span!("check_checkpoint_header", path = %path.display()).entered();
    let shown = path.display().to_string();
    let invalid = |reason: String| HubError::Invalid {
        path: shown.clone(),
        reason,
    };
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => invalid("too short to be a checkpoint".into()),
            _ => io_error(path)(e),
        })?;
    let (container, shapes): (Container, Vec<(String, String, Vec<usize>)>) = if &magic
        == b"PK\x03\x04"
    {
        // candle's unpickler can panic on crafted data; a bad file must stay a clear error.
        let pth =
            std::panic::catch_unwind(|| candle_core::pickle::PthTensors::new(path, Some("model")))
                .map_err(|_| invalid("malformed pickle data".into()))?
                .map_err(|e| invalid(format!("not a readable torch.save file: {e}")))?;
        let shapes = pth
            .tensor_infos()
            .iter()
            .map(|(k, i)| {
                (
                    k.clone(),
                    format!("{:?}", i.dtype),
                    i.layout.dims().to_vec(),
                )
            })
            .collect();
        (Container::Pth, shapes)
    } else {
        (Container::Safetensors, safetensors_header(path)?)
    };
    let find = |key: &str| shapes.iter().find(|(k, _, _)| k == key);
    let Some((_, dtype, shared)) = find("mt5_model.shared.weight") else {
        return Err(invalid(
            "not a Uni-Sign checkpoint: no `mt5_model.shared.weight`".into(),
        ));
    };
    let Some((_, _, proj)) = find("pose_proj.weight") else {
        return Err(invalid(
            "not a Uni-Sign checkpoint: no `pose_proj.weight`".into(),
        ));
    };
    if shared.len() != 2 || proj.len() != 2 || proj[0] != shared[1] {
        return Err(invalid(format!(
            "inconsistent widths: `mt5_model.shared.weight` {shared:?}, `pose_proj.weight` {proj:?}"
        )));
    }
    let rgb_keys = shapes
        .iter()
        .filter(|(k, _, _)| super::checkpoint::is_rgb_key(k))
        .count();
    Ok(CheckpointSummary {
        container,
        tensors: shapes.len(),
        rgb_keys,
        mt5_dtype: dtype.clone(),
        vocab_size: shared[0],
        d_model: shared[1],
    })
}

/// Key, dtype and shape of every tensor of a safetensors file, from its header.
fn safetensors_header(path: &Path) -> Result<Vec<(String, String, Vec<usize>)>, HubError> {
    let shown = path.display().to_string();
    let bad = |reason: String| HubError::Invalid {
        path: shown.clone(),
        reason: format!("neither a .pth zip nor safetensors ({reason})"),
    };
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let file_len = file.metadata().map_err(io_error(path))?.len();
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .map_err(|e| bad(e.to_string()))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > 100_000_000 || header_len + 8 > file_len {
        return Err(bad("bad header length".into()));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(io_error(path))?;
    let metadata: safetensors::tensor::Metadata =
        serde_json::from_slice(&header).map_err(|e| bad(e.to_string()))?;
    let infos = metadata.tensors();
    let declared = 8
        + header_len
        + infos
            .values()
            .map(|i| i.data_offsets.1 as u64)
            .max()
            .unwrap_or(0);
    if declared != file_len {
        return Err(HubError::Invalid {
            path: shown.clone(),
            reason: format!(
                "truncated or padded safetensors: header declares {declared} bytes, file has {file_len}"
            ),
        });
    }
    Ok(infos
        .into_iter()
        .map(|(k, i)| (k, format!("{:?}", i.dtype), i.shape.clone()))
        .collect())
}

/// What an mT5 folder holds.
#[derive(Clone, Debug)]
pub struct Mt5Summary {
    /// Its `config.json`.
    pub config: Mt5Config,
    /// Tokenizer vocabulary size.
    pub tokenizer_vocab: usize,
}

/// Loads an mT5 folder's `config.json` and tokenizer (`spiece.model`, else `tokenizer.json`)
/// and checks that they fit each other.
pub fn check_mt5_folder(dir: &Path) -> Result<Mt5Summary, HubError> {
    use crate::decode::tokenizer::MT5Tokenizer;
    let _span = tracing::info_span!("check_mt5_folder", dir = %dir.display()).entered();
    if !dir.is_dir() {
        return Err(HubError::Invalid {
            path: dir.display().to_string(),
            reason: "not a folder".into(),
        });
    }
    let config = Mt5Config::load(dir)?;
    let spiece = dir.join("spiece.model");
    let json = dir.join("tokenizer.json");
    let tokenizer = if spiece.is_file() {
        MT5Tokenizer::from_spiece(&spiece).map_err(ModelError::from)?
    } else if json.is_file() {
        MT5Tokenizer::from_tokenizer_json(&json).map_err(ModelError::from)?
    } else {
        return Err(HubError::Invalid {
            path: dir.display().to_string(),
            reason: "no spiece.model or tokenizer.json in the mT5 folder".into(),
        });
    };
    let tokenizer_vocab = tokenizer.vocab_size();
    if tokenizer_vocab > config.vocab_size {
        return Err(HubError::Invalid {
            path: dir.display().to_string(),
            reason: format!(
                "the tokenizer has {tokenizer_vocab} pieces but config.json's vocab_size is {}",
                config.vocab_size
            ),
        });
    }
    Ok(Mt5Summary {
        config,
        tokenizer_vocab,
    })
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
