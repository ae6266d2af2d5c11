//! Checkpoints: the official `.pth` (a `torch.save` zip holding `{'model': state_dict}`) and
//! the project's own safetensors, with every key accounted for.
//!
//! A key is either used by the model (shape checked), a known duplicate (the left-hand
//! modules are the right-hand ones; both `embed_tokens` are `shared`) verified equal, or a
//! BatchNorm step counter. RGB-branch keys and anything else are errors naming the key.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::ModelError;
use super::config::UniSignConfig;
use crate::keypoints::unisign::Part;

/// Key prefixes of the optional RGB branch, which this port does not implement.
const RGB_PREFIXES: [&str; 4] = [
    "rgb_support_backbone.",
    "rgb_proj.",
    "fusion_pose_rgb_",
    "fusion_gate.",
];

/// Whether `key` belongs to the RGB branch.
pub(crate) fn is_rgb_key(key: &str) -> bool {
    RGB_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The model's tensors by checkpoint key, deduplicated, in their stored dtype.
#[derive(Clone, Debug)]
pub struct Weights {
    /// The file they came from (for error messages).
    pub path: String,
    /// Tensors by key (only the keys the model uses).
    pub tensors: HashMap<String, Tensor>,
}

/// One expected key and its shape.
struct ExpectedKey {
    key: String,
    shape: Vec<usize>,
}

/// Every key the model uses, with shapes derived from the configuration.
fn expected_keys(config: &UniSignConfig) -> Vec<ExpectedKey> {
    let mut keys = Vec::new();
    let mut push = |key: String, shape: Vec<usize>| keys.push(ExpectedKey { key, shape });
    let pose = &config.pose;
    let hidden = pose.hidden_dim();
    let k = pose.partitions;
    for part in canonical_parts() {
        let name = part.name();
        let v = part.num_nodes();
        push(format!("proj_linear.{name}.weight"), vec![pose.proj_dim, 3]);
        push(format!("proj_linear.{name}.bias"), vec![pose.proj_dim]);
        let mut c_in = pose.proj_dim;
        for (i, &c_out) in pose.spatial_channels.iter().enumerate() {
            let block = format!("gcn_modules.{name}.layer{i}_0");
            push_gcn(&mut push, &block, c_in, c_out, k, v);
            if c_in != c_out {
                push(
                    format!("{block}.residual.0.weight"),
                    vec![c_out, c_in, 1, 1],
                );
                push(format!("{block}.residual.0.bias"), vec![c_out]);
                push_bn(&mut push, &format!("{block}.residual.1"), c_out);
            }
            c_in = c_out;
        }
        for j in 0..pose.temporal_blocks {
            let block = format!("fusion_gcn_modules.{name}.layer0_{j}");
            push_gcn(&mut push, &block, hidden, hidden, k, v);
            push(
                format!("{block}.tcn.0.weight"),
                vec![hidden, hidden, pose.temporal_kernel, 1],
            );
            push(format!("{block}.tcn.0.bias"), vec![hidden]);
            push_bn(&mut push, &format!("{block}.tcn.1"), hidden);
        }
    }
    let m = &config.mt5;
    push("part_para".into(), vec![4 * hidden]);
    push("pose_proj.weight".into(), vec![m.d_model, 4 * hidden]);
    push("pose_proj.bias".into(), vec![m.d_model]);

    let inner = m.inner_dim();
    push(
        "mt5_model.shared.weight".into(),
        vec![m.vocab_size, m.d_model],
    );
    let attention = |push: &mut dyn FnMut(String, Vec<usize>), prefix: &str, first: bool| {
        for p in ["q", "k", "v"] {
            push(format!("{prefix}.{p}.weight"), vec![inner, m.d_model]);
        }
        push(format!("{prefix}.o.weight"), vec![m.d_model, inner]);
        if first {
            push(
                format!("{prefix}.relative_attention_bias.weight"),
                vec![m.relative_attention_num_buckets, m.num_heads],
            );
        }
    };
    let feed_forward = |push: &mut dyn FnMut(String, Vec<usize>), prefix: &str| {
        push(format!("{prefix}.wi_0.weight"), vec![m.d_ff, m.d_model]);
        push(format!("{prefix}.wi_1.weight"), vec![m.d_ff, m.d_model]);
        push(format!("{prefix}.wo.weight"), vec![m.d_model, m.d_ff]);
    };
    for i in 0..m.num_layers {
        let b = format!("mt5_model.encoder.block.{i}.layer");
        attention(&mut push, &format!("{b}.0.SelfAttention"), i == 0);
        push(format!("{b}.0.layer_norm.weight"), vec![m.d_model]);
        feed_forward(&mut push, &format!("{b}.1.DenseReluDense"));
        push(format!("{b}.1.layer_norm.weight"), vec![m.d_model]);
    }
    push(
        "mt5_model.encoder.final_layer_norm.weight".into(),
        vec![m.d_model],
    );
    for i in 0..m.decoder_layers() {
        let b = format!("mt5_model.decoder.block.{i}.layer");
        attention(&mut push, &format!("{b}.0.SelfAttention"), i == 0);
        push(format!("{b}.0.layer_norm.weight"), vec![m.d_model]);
        attention(&mut push, &format!("{b}.1.EncDecAttention"), false);
        push(format!("{b}.1.layer_norm.weight"), vec![m.d_model]);
        feed_forward(&mut push, &format!("{b}.2.DenseReluDense"));
        push(format!("{b}.2.layer_norm.weight"), vec![m.d_model]);
    }
    push(
        "mt5_model.decoder.final_layer_norm.weight".into(),
        vec![m.d_model],
    );
    push(
        "mt5_model.lm_head.weight".into(),
        vec![m.vocab_size, m.d_model],
    );
    keys
}

/// The groups with their own weights; `left` reuses `right`.
fn canonical_parts() -> [Part; 3] {
    [Part::Body, Part::Right, Part::FaceAll]
}

fn push_gcn(
    push: &mut dyn FnMut(String, Vec<usize>),
    block: &str,
    c_in: usize,
    c_out: usize,
    k: usize,
    v: usize,
) {
    push(
        format!("{block}.gcn.conv.weight"),
        vec![k * c_out, c_in, 1, 1],
    );
    push(format!("{block}.gcn.conv.bias"), vec![k * c_out]);
    push(format!("{block}.gcn.A"), vec![k, v, v]);
    push_bn(push, &format!("{block}.gcn.bn"), c_out);
}

fn push_bn(push: &mut dyn FnMut(String, Vec<usize>), prefix: &str, c: usize) {
    for p in ["weight", "bias", "running_mean", "running_var"] {
        push(format!("{prefix}.{p}"), vec![c]);
    }
}

/// The key `key` duplicates, if it is one of the known shared-weight aliases.
fn duplicate_of(key: &str) -> Option<String> {
    for prefix in ["proj_linear", "gcn_modules", "fusion_gcn_modules"] {
        if let Some(rest) = key.strip_prefix(&format!("{prefix}.left.")) {
            return Some(format!("{prefix}.right.{rest}"));
        }
    }
    match key {
        "mt5_model.encoder.embed_tokens.weight" | "mt5_model.decoder.embed_tokens.weight" => {
            Some("mt5_model.shared.weight".to_owned())
        }
        _ => None,
    }
}

/// Where a tensor's bytes live in its file; equal locations mean one shared storage.
#[derive(Clone, Debug, PartialEq)]
struct StorageLocation {
    storage: String,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

/// One entry of a checkpoint file before it is read.
struct Entry {
    dtype: DType,
    shape: Vec<usize>,
    location: Option<StorageLocation>,
}

/// An opened checkpoint file.
enum Source {
    Pth(candle_core::pickle::PthTensors),
    Safetensors(HashMap<String, Tensor>),
}

/// Reads a checkpoint (`.pth` zip or safetensors, told apart by content), checks every key
/// against `config`, and returns the model's tensors in their stored dtype.
pub fn load_weights(path: &Path, config: &UniSignConfig) -> Result<Weights, ModelError> {
    let shown = path.display().to_string();
    let unreadable = |reason: String| ModelError::Unreadable {
        path: shown.clone(),
        reason,
    };
    let mut magic = [0u8; 4];
    {
        use std::io::Read;
        let mut file = std::fs::File::open(path).map_err(|source| ModelError::Io {
            path: shown.clone(),
            source,
        })?;
        file.read_exact(&mut magic)
            .map_err(|e| unreadable(format!("too short ({e})")))?;
    }
    let (source, entries) = if &magic == b"PK\x03\x04" {
        // candle's unpickler can panic on crafted data; a bad file must stay a clear error.
        let pth =
            std::panic::catch_unwind(|| candle_core::pickle::PthTensors::new(path, Some("model")))
                .map_err(|_| unreadable("malformed pickle data".into()))?
                .map_err(|e| unreadable(format!("not a readable torch.save file: {e}")))?;
        let mut entries = BTreeMap::new();
        for (key, info) in pth.tensor_infos() {
            entries.insert(
                key.clone(),
                Entry {
                    dtype: info.dtype,
                    shape: info.layout.dims().to_vec(),
                    location: Some(StorageLocation {
                        storage: info.path.clone(),
                        offset: info.layout.start_offset(),
                        shape: info.layout.dims().to_vec(),
                        stride: info.layout.stride().to_vec(),
                    }),
                },
            );
        }
        if entries.is_empty() {
            return Err(unreadable(
                "no tensors under the `model` key (expected torch.save({'model': state_dict}))"
                    .into(),
            ));
        }
        (Source::Pth(pth), entries)
    } else {
        let tensors = read_safetensors(path)?;
        let entries = tensors
            .iter()
            .map(|(k, t)| {
                (
                    k.clone(),
                    Entry {
                        dtype: t.dtype(),
                        shape: t.dims().to_vec(),
                        location: None,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        (Source::Safetensors(tensors), entries)
    };

    let expected = expected_keys(config);
    let expected_shapes: HashMap<&str, &[usize]> = expected
        .iter()
        .map(|e| (e.key.as_str(), e.shape.as_slice()))
        .collect();

    let mut rgb_keys = Vec::new();
    let mut duplicates = Vec::new();
    for (key, entry) in &entries {
        if let Some(shape) = expected_shapes.get(key.as_str()) {
            if entry.shape != *shape {
                return Err(ModelError::Shape {
                    path: shown,
                    key: key.clone(),
                    expected: shape.to_vec(),
                    found: entry.shape.clone(),
                });
            }
            if !matches!(
                entry.dtype,
                DType::F32 | DType::BF16 | DType::F16 | DType::F64
            ) {
                return Err(ModelError::Dtype {
                    path: shown,
                    key: key.clone(),
                    dtype: format!("{:?}", entry.dtype),
                });
            }
        } else if let Some(original) = duplicate_of(key) {
            duplicates.push((key.clone(), original));
        } else if let Some(bn) = key.strip_suffix(".num_batches_tracked") {
            // A BatchNorm step counter: training bookkeeping, unused at inference.
            if !expected_shapes.contains_key(format!("{bn}.running_mean").as_str())
                && !duplicate_of(&format!("{bn}.running_mean"))
                    .is_some_and(|o| expected_shapes.contains_key(o.as_str()))
            {
                return Err(ModelError::UnknownKey {
                    path: shown,
                    key: key.clone(),
                });
            }
        } else if is_rgb_key(key) {
            rgb_keys.push(key.clone());
        } else {
            return Err(ModelError::UnknownKey {
                path: shown,
                key: key.clone(),
            });
        }
    }
    if let Some(first) = rgb_keys.first() {
        return Err(ModelError::RgbBranch {
            path: shown,
            count: rgb_keys.len(),
            first: first.clone(),
        });
    }
    if let Some(missing) = expected.iter().find(|e| !entries.contains_key(&e.key)) {
        return Err(ModelError::MissingKey {
            path: shown,
            key: missing.key.clone(),
        });
    }

    let load = |key: &str| -> Result<Tensor, ModelError> {
        let tensor = match &source {
            Source::Pth(pth) => {
                let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pth.get(key)));
                let reason = |detail: String| ModelError::Unreadable {
                    path: shown.clone(),
                    reason: format!("key `{key}`: {detail}"),
                };
                read.map_err(|_| reason("malformed tensor storage".into()))?
                    .map_err(|e| reason(e.to_string()))?
            }
            Source::Safetensors(map) => map.get(key).cloned(),
        };
        tensor.ok_or_else(|| ModelError::MissingKey {
            path: shown.clone(),
            key: key.to_owned(),
        })
    };

    for (key, original) in &duplicates {
        let (Some(dup), Some(orig)) = (entries.get(key), entries.get(original)) else {
            return Err(ModelError::MissingKey {
                path: shown,
                key: original.clone(),
            });
        };
        if dup.shape != orig.shape {
            return Err(ModelError::Shape {
                path: shown,
                key: key.clone(),
                expected: orig.shape.clone(),
                found: dup.shape.clone(),
            });
        }
        // One storage in the file means one tensor; otherwise compare the values.
        let shared = dup.location.is_some() && dup.location == orig.location;
        if !shared && !tensors_equal(&load(key)?, &load(original)?)? {
            return Err(ModelError::DuplicateDiffers {
                path: shown,
                key: key.clone(),
                original: original.clone(),
            });
        }
    }

    let mut tensors = HashMap::with_capacity(expected.len());
    for e in &expected {
        tensors.insert(e.key.clone(), load(&e.key)?);
    }
    Ok(Weights {
        path: shown,
        tensors,
    })
}

/// Reads a safetensors file tensor by tensor (one copy of the data in memory), checking
/// the header and that the file holds exactly the bytes it declares.
pub fn read_safetensors(path: &Path) -> Result<HashMap<String, Tensor>, ModelError> {
    use std::io::{Read, Seek, SeekFrom};
    let shown = path.display().to_string();
    let io = |source: std::io::Error| ModelError::Io {
        path: shown.clone(),
        source,
    };
    let bad = |reason: String| ModelError::Unreadable {
        path: shown.clone(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .map_err(|e| bad(format!("neither a .pth zip nor safetensors ({e})")))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > 100_000_000 || header_len + 8 > file_len {
        return Err(bad(
            "neither a .pth zip nor safetensors (bad header length)".into(),
        ));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(io)?;
    let metadata: safetensors::tensor::Metadata = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("neither a .pth zip nor safetensors ({e})")))?;
    let data_start = 8 + header_len;
    let infos = metadata.tensors();
    let data_len = infos
        .values()
        .map(|i| i.data_offsets.1 as u64)
        .max()
        .unwrap_or(0);
    if data_start + data_len != file_len {
        return Err(bad(format!(
            "truncated or padded safetensors: header declares {} bytes, file has {}",
            data_start + data_len,
            file_len
        )));
    }
    let mut tensors = HashMap::with_capacity(infos.len());
    for (name, info) in infos {
        let dtype = DType::try_from(info.dtype).map_err(|e| bad(format!("key `{name}`: {e}")))?;
        let (start, end) = info.data_offsets;
        let mut bytes = vec![0u8; end - start];
        file.seek(SeekFrom::Start(data_start + start as u64))
            .map_err(io)?;
        file.read_exact(&mut bytes).map_err(io)?;
        let tensor = Tensor::from_raw_buffer(&bytes, dtype, &info.shape, &Device::Cpu)
            .map_err(|e| bad(format!("key `{name}`: {e}")))?;
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}

/// Exact equality of two tensors of one shape (bitwise on the stored dtype).
fn tensors_equal(a: &Tensor, b: &Tensor) -> Result<bool, ModelError> {
    if a.dtype() != b.dtype() {
        return Ok(false);
    }
    let ne = a
        .ne(b)?
        .to_dtype(DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()?;
    Ok(ne == 0)
}

impl Weights {
    /// Writes the tensors as safetensors (stored dtype kept), atomically.
    pub fn save_safetensors(&self, path: &Path) -> Result<(), ModelError> {
        let mut sorted: Vec<(&String, &Tensor)> = self.tensors.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let metadata = HashMap::from([("format".to_owned(), "signcap-unisign".to_owned())]);
        let bytes =
            safetensors::serialize(sorted, Some(metadata)).map_err(|e| ModelError::Unreadable {
                path: path.display().to_string(),
                reason: format!("cannot serialise: {e}"),
            })?;
        crate::fsutil::write_atomic(path, &bytes).map_err(|source| ModelError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// The stored dtype of the mT5 weights (f32 or bf16 for the official checkpoints).
    pub fn mt5_dtype(&self) -> Option<DType> {
        self.tensors
            .get("mt5_model.shared.weight")
            .map(|t| t.dtype())
    }
}

/// Random weights of the shapes `config` implies, for benchmarks and soaks where no trained
/// checkpoint may be shipped: matrices N(0, 1/√fan-in) (so activations keep their scale), norms
/// and BatchNorm scales 1, BatchNorm statistics 0 and 1, seeded. `dtype` is the storage dtype
/// (bf16 as released).
pub fn random_weights(
    config: &UniSignConfig,
    dtype: DType,
    seed: u64,
) -> Result<Weights, ModelError> {
    let device = candle_core::Device::Cpu;
    // candle's CPU device cannot be seeded: a small xorshift generator keeps runs repeatable.
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // 24 random bits in (0, 1).
        ((state >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    };
    let mut tensors = HashMap::new();
    for ExpectedKey { key, shape } in expected_keys(config) {
        let ones = key.ends_with("layer_norm.weight")
            || key.ends_with("running_var")
            || (key.contains(".bn.") || key.contains("residual.1") || key.contains("tcn.1"))
                && key.ends_with(".weight");
        let zeros = key.ends_with("running_mean") || key.ends_with(".bias") || key == "part_para";
        let tensor = if ones {
            Tensor::ones(shape.as_slice(), DType::F32, &device)?
        } else if zeros {
            Tensor::zeros(shape.as_slice(), DType::F32, &device)?
        } else {
            let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
            let std = 1.0 / (fan_in as f32).sqrt();
            let count: usize = shape.iter().product();
            // Box-Muller: two uniforms give one normal sample.
            let values: Vec<f32> = (0..count)
                .map(|_| {
                    let (u, v) = (uniform(), uniform());
                    std * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
                })
                .collect();
            Tensor::from_vec(values, shape.as_slice(), &device)?
        };
        tensors.insert(key, tensor.to_dtype(dtype)?);
    }
    Ok(Weights {
        path: "random weights".into(),
        tensors,
    })
}
