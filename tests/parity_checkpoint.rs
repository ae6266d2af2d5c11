//! Checkpoint reading against the fixture's own key list (`keys.tsv`, written by PyTorch):
//! every key accounted for, dtypes as stored, safetensors round trip, and clear errors for
//! broken files.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use signcap_engine::model::{
    ModelError, Mt5Config, PoseEncoderConfig, UniSignConfig, load_weights,
};

fn parity_dir() -> PathBuf {
    signcap_tests::shared_dir().join("reference/parity")
}

fn config() -> UniSignConfig {
    UniSignConfig {
        pose: PoseEncoderConfig::default(),
        mt5: Mt5Config::load(&parity_dir().join("tiny-mt5")).unwrap(),
    }
}

struct KeyRow {
    shape: Vec<usize>,
    dtype_f32: String,
    dtype_bf16: String,
    shares_with: String,
}

/// `keys.tsv`: key → shape, dtypes in both checkpoints, storage sharing.
fn keys_tsv() -> BTreeMap<String, KeyRow> {
    let text = std::fs::read_to_string(parity_dir().join("keys.tsv")).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let shape = if cols[2] == "scalar" {
            vec![]
        } else {
            cols[2].split('x').map(|d| d.parse().unwrap()).collect()
        };
        rows.insert(
            cols[1].to_owned(),
            KeyRow {
                shape,
                dtype_f32: cols[3].to_owned(),
                dtype_bf16: cols[4].to_owned(),
                shares_with: cols.get(5).copied().unwrap_or("").to_owned(),
            },
        );
    }
    rows
}

fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "float32",
        DType::BF16 => "bfloat16",
        DType::I64 => "int64",
        _ => "other",
    }
}

#[test]
fn every_official_key_is_used_or_a_verified_duplicate_or_a_bn_counter() {
    let rows = keys_tsv();
    assert_eq!(rows.len(), 397);
    for tag in ["f32", "bf16"] {
        let path = parity_dir().join(format!("tiny_unisign_{tag}.pth"));
        let weights = load_weights(&path, &config()).unwrap();
        // Keys sharing one storage (left = right, embed_tokens = shared) form a group;
        // exactly one key of each group is loaded.
        let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (key, row) in &rows {
            if !row.shares_with.is_empty() && !key.ends_with("num_batches_tracked") {
                groups
                    .entry(row.shares_with.as_str())
                    .or_default()
                    .push(key);
            }
        }
        let in_group: std::collections::HashSet<&str> = groups
            .iter()
            .flat_map(|(root, members)| std::iter::once(*root).chain(members.iter().copied()))
            .collect();
        let mut used = 0;
        for (root, members) in &groups {
            let loaded: Vec<&str> = std::iter::once(*root)
                .chain(members.iter().copied())
                .filter(|k| weights.tensors.contains_key(*k))
                .collect();
            assert_eq!(
                loaded.len(),
                1,
                "{tag}: storage group of {root}: loaded {loaded:?}"
            );
            used += 1;
        }
        for (key, row) in &rows {
            if key.ends_with("num_batches_tracked") {
                assert!(!weights.tensors.contains_key(key));
                continue;
            }
            let Some(t) = weights.tensors.get(key) else {
                assert!(in_group.contains(key.as_str()), "{tag}: {key} not loaded");
                continue;
            };
            assert_eq!(t.dims(), row.shape.as_slice(), "{key}");
            let want = if tag == "f32" {
                &row.dtype_f32
            } else {
                &row.dtype_bf16
            };
            assert_eq!(dtype_name(t.dtype()), want, "{key}");
            if !in_group.contains(key.as_str()) {
                used += 1;
            }
        }
        assert_eq!(
            used,
            weights.tensors.len(),
            "{tag}: loaded keys not in keys.tsv"
        );
    }
}

#[test]
fn bf16_checkpoint_reads_as_the_f32_one_rounded() {
    let f32w = load_weights(&parity_dir().join("tiny_unisign_f32.pth"), &config()).unwrap();
    let bf16w = load_weights(&parity_dir().join("tiny_unisign_bf16.pth"), &config()).unwrap();
    for (key, b) in &bf16w.tensors {
        let rounded = f32w.tensors[key].to_dtype(DType::BF16).unwrap();
        let differing = rounded
            .ne(b)
            .unwrap()
            .to_dtype(DType::U32)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<u32>()
            .unwrap();
        assert_eq!(differing, 0, "{key}");
    }
}

fn save(tensors: HashMap<String, Tensor>, path: &Path) {
    signcap_engine::model::Weights {
        path: String::new(),
        tensors,
    }
    .save_safetensors(path)
    .unwrap();
}

#[test]
fn safetensors_round_trip_keeps_values_and_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let weights = load_weights(&parity_dir().join("tiny_unisign_bf16.pth"), &config()).unwrap();
    let out = dir.path().join("tiny.safetensors");
    weights.save_safetensors(&out).unwrap();
    let back = load_weights(&out, &config()).unwrap();
    assert_eq!(back.tensors.len(), weights.tensors.len());
    for (key, t) in &weights.tensors {
        let b = &back.tensors[key];
        assert_eq!(b.dtype(), t.dtype(), "{key}");
        let same = t
            .ne(b)
            .unwrap()
            .to_dtype(DType::U32)
            .unwrap()
            .sum_all()
            .unwrap();
        assert_eq!(same.to_scalar::<u32>().unwrap(), 0, "{key}");
    }
}

/// Writes the bf16 weights with `edit` applied and returns the load error.
fn load_edited(edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> (String, ModelError) {
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = load_weights(&parity_dir().join("tiny_unisign_bf16.pth"), &config())
        .unwrap()
        .tensors;
    edit(&mut tensors);
    let path = dir.path().join("edited.safetensors");
    save(tensors, &path);
    let err = load_weights(&path, &config()).unwrap_err();
    (path.display().to_string(), err)
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let (path, err) = load_edited(|t| {
        t.insert("mystery.weight".into(), t["part_para"].clone());
    });
    let msg = err.to_string();
    assert!(matches!(err, ModelError::UnknownKey { .. }), "{msg}");
    assert!(
        msg.contains(&path) && msg.contains("mystery.weight"),
        "{msg}"
    );
}

#[test]
fn missing_key_is_an_error_naming_it() {
    let (_, err) = load_edited(|t| {
        t.remove("mt5_model.decoder.block.1.layer.2.DenseReluDense.wo.weight");
    });
    assert!(
        err.to_string()
            .contains("missing key `mt5_model.decoder.block.1.layer.2.DenseReluDense.wo.weight`"),
        "{err}"
    );
}

#[test]
fn wrong_shape_is_an_error_naming_key_and_shapes() {
    let (_, err) = load_edited(|t| {
        let w = t["pose_proj.weight"].narrow(1, 0, 512).unwrap();
        t.insert("pose_proj.weight".into(), w);
    });
    let msg = err.to_string();
    assert!(
        msg.contains("pose_proj.weight") && msg.contains("[768, 512]"),
        "{msg}"
    );
}

#[test]
fn rgb_branch_keys_are_reported_as_unsupported() {
    let (_, err) = load_edited(|t| {
        t.insert(
            "rgb_proj.bias".into(),
            t["part_para"].narrow(0, 0, 256).unwrap(),
        );
        t.insert(
            "fusion_gate.2.bias".into(),
            t["part_para"].narrow(0, 0, 1).unwrap(),
        );
    });
    assert!(
        err.to_string().contains("RGB branch not yet supported"),
        "{err}"
    );
}

#[test]
fn a_left_hand_duplicate_that_differs_is_an_error() {
    let (_, err) = load_edited(|t| {
        let w = (&t["proj_linear.right.weight"] + 1.0).unwrap();
        t.insert("proj_linear.left.weight".into(), w);
    });
    assert!(
        err.to_string()
            .contains("`proj_linear.left.weight` should equal `proj_linear.right.weight`"),
        "{err}"
    );
}

#[test]
fn truncated_and_foreign_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let pth = std::fs::read(parity_dir().join("tiny_unisign_bf16.pth")).unwrap();
    let good = dir.path().join("good.safetensors");
    load_weights(&parity_dir().join("tiny_unisign_bf16.pth"), &config())
        .unwrap()
        .save_safetensors(&good)
        .unwrap();
    let st = std::fs::read(&good).unwrap();
    let cases = [
        ("truncated.safetensors", st[..st.len() - 100].to_vec()),
        ("header-only.safetensors", st[..1000].to_vec()),
        ("truncated.pth", pth[..pth.len() / 2].to_vec()),
        ("tiny.pth", pth[..2].to_vec()),
        ("text.pth", b"this is not a checkpoint at all".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = load_weights(&path, &config()).unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
    let missing = dir.path().join("absent.pth");
    let err = load_weights(&missing, &config()).unwrap_err();
    assert!(err.to_string().contains("absent.pth"), "{err}");
}

#[test]
fn a_config_that_does_not_match_the_checkpoint_names_the_key() {
    let mut cfg = config();
    cfg.mt5.d_ff = 64;
    let err = load_weights(&parity_dir().join("tiny_unisign_f32.pth"), &cfg).unwrap_err();
    assert!(
        err.to_string().contains("DenseReluDense.wi_0.weight"),
        "{err}"
    );
}
