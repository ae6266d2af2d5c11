//! End to end as `signcap translate` runs it: the reference's own pose file (`.pkl`) read by
//! the pose-file reader, default frame selection, prompt from the tokenizer, beam 4, official
//! decode; the text must equal what the official code produced from the same poses.

use std::path::PathBuf;

use signcap_engine::decode::search::SearchConfig;
use signcap_engine::decode::tokenizer::MT5Tokenizer;
use signcap_engine::keypoints::read_pose_file;
use signcap_engine::keypoints::unisign::{self, FrameSelection, NormalizedClip};
use signcap_engine::model::{Language, Mt5Config, UniSign, WeightPrecision};

fn parity_dir() -> PathBuf {
    signcap_tests::shared_dir().join("reference/parity")
}

#[test]
fn football_pkl_translates_to_the_official_beam_text() {
    let pkl = signcap_tests::shared_dir().join("eval-media/unisign_pkl/ase_FOOTBALL.unisign.pkl");
    let sequence = read_pose_file(&pkl).unwrap();
    let input = unisign::preprocess(
        &NormalizedClip::from_sequence(&sequence),
        &FrameSelection::Uniform,
    )
    .unwrap();
    assert_eq!(input.num_frames(), 62);
    let config = Mt5Config::load(&parity_dir().join("tiny-mt5")).unwrap();
    let tokenizer = MT5Tokenizer::from_spiece(&parity_dir().join("tiny-mt5/spiece.model")).unwrap();
    for (tag, precision) in [
        ("f32", WeightPrecision::F32),
        ("bf16", WeightPrecision::Stored),
    ] {
        let model = UniSign::load(
            &parity_dir().join(format!("tiny_unisign_{tag}.pth")),
            &config,
            precision,
        )
        .unwrap();
        let translation = model
            .translate(
                &tokenizer,
                &input,
                Language::English,
                &SearchConfig::default(),
            )
            .unwrap();
        let sidecar: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(parity_dir().join(format!("expected_football_{tag}.json")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            translation.text,
            sidecar["beam_text"].as_str().unwrap(),
            "{tag}"
        );
        let want_ids: Vec<u32> = sidecar["beam_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(translation.generation.ids, want_ids, "{tag}");
        assert_eq!(
            translation.generation.token_logprobs.len(),
            want_ids.len() - 1,
            "{tag}"
        );
    }
}
