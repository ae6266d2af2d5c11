//! Checks of model files that need no record: checkpoint headers and mT5 folders.

use std::io::Read;
use std::path::Path;

use super::{HubError, io_error};
use crate::model::{ModelError, Mt5Config};

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
        .filter(|(k, _, _)| crate::model::checkpoint::is_rgb_key(k))
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
