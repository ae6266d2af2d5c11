//! The mT5 tokenizer against the reference fixture: ids and decodes of transformers' slow
//! `T5Tokenizer(legacy=False)` on the tiny mT5 `spiece.model` (200 strings).

use serde_json::Value;
use signcap_engine::decode::MT5Tokenizer;
use signcap_engine::decode::sentencepiece::SentencePieceModel;

fn parity_dir() -> std::path::PathBuf {
    signcap_tests::shared_dir().join("reference/parity")
}

fn fixture_items() -> Vec<Value> {
    let path = parity_dir().join("tokenizer_fixture.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    fixture["items"].as_array().unwrap().clone()
}

fn ids_of(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn spiece_ids_equal_slow_t5_tokenizer() {
    let tokenizer = MT5Tokenizer::from_spiece(&parity_dir().join("tiny-mt5/spiece.model")).unwrap();
    let items = fixture_items();
    assert_eq!(items.len(), 200);
    let mut mismatches = Vec::new();
    for item in &items {
        let text = item["text"].as_str().unwrap();
        let ids = tokenizer.encode(text).unwrap();
        if ids != ids_of(&item["ids"]) {
            mismatches.push(format!("{text:?}: got {ids:?}, want {}", item["ids"]));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn decodes_equal_slow_t5_tokenizer() {
    let tokenizer = MT5Tokenizer::from_spiece(&parity_dir().join("tiny-mt5/spiece.model")).unwrap();
    let mut mismatches = Vec::new();
    for item in fixture_items() {
        let ids = ids_of(&item["ids"]);
        for (field, skip, cleanup) in [
            ("decode", false, true),
            ("decode_skip_special_tokens", true, true),
            ("decode_skip_special_no_cleanup", true, false),
        ] {
            let got = tokenizer.decode(&ids, skip, cleanup).unwrap();
            let want = item[field].as_str().unwrap();
            if got != want {
                mismatches.push(format!(
                    "{field} of {:?}: got {got:?}, want {want:?}",
                    item["text"]
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn prompt_ids_match_the_parity_run() {
    // The English prompt of the parity run, tokenised by the official code (expected_*.json).
    let tokenizer = MT5Tokenizer::from_spiece(&parity_dir().join("tiny-mt5/spiece.model")).unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(parity_dir().join("expected_football_f32.json")).unwrap(),
    )
    .unwrap();
    let prompt = expected["prompt_text"].as_str().unwrap();
    assert_eq!(
        tokenizer.encode(prompt).unwrap(),
        ids_of(&expected["prompt_ids"])
    );
}

/// The fast tokenizer built from `spiece.model` behaves as transformers' conversion
/// (`tiny-mt5-tokenizer.json`): same ids as the fixture's fast column.
#[test]
fn fast_conversion_matches_transformers() {
    let model = SentencePieceModel::from_file(&parity_dir().join("tiny-mt5/spiece.model")).unwrap();
    let built = model.to_fast_tokenizer().unwrap();
    let loaded =
        MT5Tokenizer::from_tokenizer_json(&parity_dir().join("tiny-mt5-tokenizer.json")).unwrap();
    let mut mismatches = Vec::new();
    for item in fixture_items() {
        let text = item["text"].as_str().unwrap();
        let want = if item["fast_ids_equal"].as_bool().unwrap() {
            ids_of(&item["ids"])
        } else {
            ids_of(&item["fast_ids"])
        };
        let from_built = built.encode(text, true).unwrap().get_ids().to_vec();
        let from_json = loaded.encode(text).unwrap();
        if from_built != want || from_json != want {
            mismatches.push(format!(
                "{text:?}: built {from_built:?}, json {from_json:?}, want {want:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn bad_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.model");
    let err = MT5Tokenizer::from_spiece(&missing).unwrap_err().to_string();
    assert!(err.contains("nope.model"), "{err}");
    let garbage = dir.path().join("garbage.model");
    std::fs::write(&garbage, b"\xff\xff\xff\xff not a protobuf").unwrap();
    let err = MT5Tokenizer::from_spiece(&garbage).unwrap_err().to_string();
    assert!(err.contains("garbage.model"), "{err}");
    let tokenizer = MT5Tokenizer::from_spiece(&parity_dir().join("tiny-mt5/spiece.model")).unwrap();
    let err = tokenizer
        .decode(&[5, 5000], true, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("5000"), "{err}");
}
