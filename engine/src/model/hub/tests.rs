use std::collections::HashMap;
use std::ffi::OsString;

use candle_core::{DType, Device, Tensor};

use super::*;
use crate::model::Mt5Config;

#[test]
fn catalogue_matches_the_release_table() {
    // Architecture notes §13: the RGB+pose files are stage 2 and the two `rgb_pose` ones.
    let rgb: Vec<&str> = CHECKPOINTS
        .iter()
        .filter(|c| c.modality == Modality::RgbPose)
        .map(|c| c.file)
        .collect();
    assert_eq!(
        rgb,
        [
            "csl_stage2_weight.pth",
            "csl_daily_rgb_pose_slt.pth",
            "wlasl_rgb_pose_islr.pth"
        ]
    );
    for c in &CHECKPOINTS {
        let zh = c.file.starts_with("csl");
        assert_eq!(c.language == Language::Chinese, zh, "{}", c.file);
        assert_eq!(c.task == Task::Islr, c.file.contains("islr"), "{}", c.file);
        assert_eq!(c.supported(), !rgb.contains(&c.file));
        assert_eq!(checkpoint(c.name()).unwrap(), c);
        assert_eq!(checkpoint(c.file).unwrap(), c);
    }
    let required: Vec<&str> = MT5_FILES
        .iter()
        .filter(|f| f.required)
        .map(|f| f.file)
        .collect();
    assert_eq!(required, ["config.json", "spiece.model"]);
}

#[test]
fn unknown_names_list_the_catalogue() {
    let e = checkpoint("csl_daily").unwrap_err().to_string();
    assert!(e.contains("unknown model `csl_daily`"), "{e}");
    assert!(e.contains("openasl_pose_only_slt"), "{e}");
}

#[test]
fn language_follows_the_file_name() {
    let lang = |p: &str| language_from_checkpoint_name(Path::new(p));
    assert_eq!(
        lang("/m/csl_daily_pose_only_slt.pth"),
        Some(Language::Chinese)
    );
    assert_eq!(
        lang("how2sign_pose_only_slt.safetensors"),
        Some(Language::English)
    );
    assert_eq!(lang("WLASL_pose_only_islr.pth"), Some(Language::English));
    assert_eq!(
        lang("csl_finetuned_by_me.safetensors"),
        Some(Language::Chinese)
    );
    assert_eq!(lang("openasl_step900.pth"), Some(Language::English));
    assert_eq!(lang("best_checkpoint.pth"), None);
}

#[test]
fn cache_folder_precedence() {
    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }
    let all = [
        ("SIGNCAP_MODELS", "/m"),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/h"),
    ];
    assert_eq!(cache_dir_from(env(&all)).unwrap(), Path::new("/m"));
    let xdg = [
        ("SIGNCAP_MODELS", ""),
        ("XDG_CACHE_HOME", "/x"),
        ("HOME", "/h"),
    ];
    assert_eq!(
        cache_dir_from(env(&xdg)).unwrap(),
        Path::new("/x/signcap/models")
    );
    assert_eq!(
        cache_dir_from(env(&[("HOME", "/h")])).unwrap(),
        Path::new("/h/.cache/signcap/models")
    );
    assert!(matches!(
        cache_dir_from(env(&[])),
        Err(HubError::NoCacheDir)
    ));
    let cache = ModelCache::new("/c");
    assert_eq!(
        cache.checkpoint_path(&CHECKPOINTS[3]),
        Path::new("/c/ZechengLi19--Uni-Sign/csl_daily_pose_only_slt.pth")
    );
    assert_eq!(cache.mt5_dir(), Path::new("/c/google--mt5-base"));
}

#[test]
fn sha256_of_the_fips_test_vector() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("abc");
    std::fs::write(&p, b"abc").unwrap();
    assert_eq!(
        sha256_file(&p).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn status_follows_the_file_and_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("model.pth");
    assert_eq!(file_status(&p).unwrap(), FileStatus::Missing);
    std::fs::write(part_path(&p), b"half").unwrap();
    assert_eq!(file_status(&p).unwrap(), FileStatus::Partial { bytes: 4 });
    std::fs::remove_file(part_path(&p)).unwrap();
    std::fs::write(&p, b"abc").unwrap();
    assert_eq!(file_status(&p).unwrap(), FileStatus::Unrecorded { size: 3 });
    assert!(matches!(
        check_checksum(&p).unwrap(),
        ChecksumCheck::NoRecord { .. }
    ));
    let record = FileRecord {
        sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
        size: 3,
        sha256_from_server: true,
        url: "http://hub.example/x".into(),
        verified_mtime_ns: None,
    };
    write_record(&p, &record).unwrap();
    assert_eq!(file_status(&p).unwrap(), FileStatus::Unchecked { size: 3 });
    assert!(matches!(
        check_checksum(&p).unwrap(),
        ChecksumCheck::Match { .. }
    ));
    assert_eq!(file_status(&p).unwrap(), FileStatus::Verified { size: 3 });
    // Same size, other bytes: the modification time gives it away, the hash confirms.
    std::fs::write(&p, b"abd").unwrap();
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1))
        .unwrap();
    assert_eq!(file_status(&p).unwrap(), FileStatus::Unchecked { size: 3 });
    match check_checksum(&p).unwrap() {
        ChecksumCheck::Mismatch { expected, actual } => {
            assert_eq!(expected, record.sha256);
            assert_ne!(actual, expected);
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(&p, b"abcd").unwrap();
    assert_eq!(
        file_status(&p).unwrap(),
        FileStatus::SizeMismatch {
            size: 4,
            expected: 3
        }
    );
    std::fs::write(record_path(&p), b"{not json").unwrap();
    let e = file_status(&p).unwrap_err().to_string();
    assert!(
        e.contains("model.pth.meta.json") && e.contains("unreadable record"),
        "{e}"
    );
}

fn write_safetensors(path: &Path, shapes: &[(&str, &[usize])]) {
    let tensors: HashMap<String, Tensor> = shapes
        .iter()
        .map(|(k, s)| {
            (
                k.to_string(),
                Tensor::zeros(*s, DType::BF16, &Device::Cpu).unwrap(),
            )
        })
        .collect();
    candle_core::safetensors::save(&tensors, path).unwrap();
}

#[test]
fn checkpoint_header_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    write_safetensors(
        &good,
        &[
            ("mt5_model.shared.weight", &[10, 4]),
            ("pose_proj.weight", &[4, 8]),
            ("rgb_proj.weight", &[4, 2]),
        ],
    );
    let summary = check_checkpoint_header(&good).unwrap();
    assert_eq!(
        summary,
        CheckpointSummary {
            container: Container::Safetensors,
            tensors: 3,
            rgb_keys: 1,
            mt5_dtype: "BF16".into(),
            vocab_size: 10,
            d_model: 4,
        }
    );
    let wide = dir.path().join("wide.safetensors");
    write_safetensors(
        &wide,
        &[
            ("mt5_model.shared.weight", &[10, 4]),
            ("pose_proj.weight", &[6, 8]),
        ],
    );
    let e = check_checkpoint_header(&wide).unwrap_err().to_string();
    assert!(e.contains("wide.safetensors: inconsistent widths"), "{e}");
    let other = dir.path().join("other.safetensors");
    write_safetensors(&other, &[("weight", &[2])]);
    let e = check_checkpoint_header(&other).unwrap_err().to_string();
    assert!(e.contains("not a Uni-Sign checkpoint"), "{e}");
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let e = check_checkpoint_header(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.safetensors: truncated"), "{e}");
    let tiny = dir.path().join("tiny.pth");
    std::fs::write(&tiny, b"PK").unwrap();
    let e = check_checkpoint_header(&tiny).unwrap_err().to_string();
    assert!(e.contains("too short"), "{e}");
    let zip = dir.path().join("zip.pth");
    std::fs::write(&zip, b"PK\x03\x04 not really a zip").unwrap();
    let e = check_checkpoint_header(&zip).unwrap_err().to_string();
    assert!(e.contains("zip.pth: not a readable torch.save file"), "{e}");
}

#[test]
fn mt5_folder_needs_config_and_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let e = check_mt5_folder(dir.path()).unwrap_err().to_string();
    assert!(e.contains("config.json"), "{e}");
    let config = serde_json::to_string(&Mt5Config::mt5_base()).unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let e = check_mt5_folder(dir.path()).unwrap_err().to_string();
    assert!(e.contains("no spiece.model or tokenizer.json"), "{e}");
    std::fs::write(dir.path().join("spiece.model"), b"garbage").unwrap();
    let e = check_mt5_folder(dir.path()).unwrap_err();
    let mut line = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        line.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(
        line.contains("spiece.model is not a SentencePiece model"),
        "{line}"
    );
}
