//! The SentencePiece port against Python `sentencepiece` 0.2.3 on the sdist's own test models
//! (fetched by tools/fetch_sentencepiece_testdata.sh) and the tiny mT5 model: ≥1,000 generated
//! strings (whitespace, NFKC cases, literal specials, emoji, CJK, random Unicode) per model.

use std::ffi::OsStr;
use std::path::PathBuf;

use serde_json::Value;
use signcap_engine::decode::sentencepiece::SentencePieceModel;

const STRINGS: usize = 1200;

fn testdata_dir() -> PathBuf {
    let dir = std::env::var_os("SIGNCAP_SP_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| signcap_tests::repo_root().join("target/sentencepiece-testdata"));
    assert!(
        dir.join("botchan_en_unigram_1000.model").is_file(),
        "sentencepiece test models not found in {}: run tools/fetch_sentencepiece_testdata.sh",
        dir.display()
    );
    dir
}

fn unigram_models() -> Vec<PathBuf> {
    vec![
        signcap_tests::shared_dir().join("reference/parity/tiny-mt5/spiece.model"),
        testdata_dir().join("botchan_en_unigram_1000.model"),
        testdata_dir().join("kyoto_ja_unigram_8000.model"),
    ]
}

#[test]
fn encode_and_decode_equal_python_sentencepiece() {
    let models = unigram_models();
    let mut args: Vec<&OsStr> = vec![OsStr::new("7"), OsStr::new("1200")];
    args.extend(models.iter().map(|p| p.as_os_str()));
    let peer: Value =
        serde_json::from_slice(&signcap_tests::run_peer("sentencepiece_peer.py", &args)).unwrap();
    let strings: Vec<&str> = peer["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(strings.len(), STRINGS);
    for path in &models {
        let model = SentencePieceModel::from_file(path).unwrap();
        let expected = &peer["models"][path.to_str().unwrap()];
        let mut mismatches = Vec::new();
        for (text, (want_ids, want_pieces)) in strings.iter().zip(
            expected["ids"]
                .as_array()
                .unwrap()
                .iter()
                .zip(expected["pieces"].as_array().unwrap()),
        ) {
            let got = model.encode(text).unwrap();
            let ids: Vec<u64> = got.iter().map(|p| u64::from(p.id)).collect();
            let pieces: Vec<&str> = got.iter().map(|p| p.text.as_str()).collect();
            let want_ids: Vec<u64> = want_ids
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let want_pieces: Vec<&str> = want_pieces
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            if ids != want_ids || pieces != want_pieces {
                mismatches.push(format!(
                    "{text:?}: got {pieces:?} {ids:?}, want {want_pieces:?} {want_ids:?}"
                ));
            }
        }
        let cases = expected["decode_cases"].as_array().unwrap();
        let decoded = expected["decoded"].as_array().unwrap();
        for (case, want) in cases.iter().zip(decoded) {
            let pieces: Vec<&str> = case
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let got = model.decode_pieces(&pieces);
            if got != want.as_str().unwrap() {
                mismatches.push(format!("decode {pieces:?}: got {got:?}, want {want}"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{}: {} mismatches of {} strings + {} decodes:\n{}",
            path.display(),
            mismatches.len(),
            strings.len(),
            cases.len(),
            mismatches[..mismatches.len().min(20)].join("\n")
        );
    }
}

#[test]
fn bpe_model_is_refused_clearly() {
    let path = testdata_dir().join("botchan_en_bpe_1000.model");
    let err = SentencePieceModel::from_file(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("botchan_en_bpe_1000.model") && err.contains("BPE"),
        "{err}"
    );
}
