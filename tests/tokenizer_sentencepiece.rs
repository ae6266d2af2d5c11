//! The SentencePiece port against Python `sentencepiece` 0.2.3 on the sdist's own test models
//! (fetched by tools/fetch_sentencepiece_testdata.sh: two unigram models and one BPE model) and the
//! tiny mT5 model: 1,200 generated strings (whitespace, NFKC cases, literal specials, emoji, CJK,
//! random Unicode) per model, plus 600 piece sequences to decode.

use std::ffi::OsStr;
use std::path::PathBuf;

use serde_json::Value;
use signcap_engine::decode::sentencepiece::SentencePieceModel;

/// Strings per run; `SIGNCAP_SP_STRINGS` and `SIGNCAP_SP_SEED` override for longer soak runs.
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

fn models() -> Vec<PathBuf> {
    vec![
        signcap_tests::shared_dir().join("reference/parity/tiny-mt5/spiece.model"),
        testdata_dir().join("botchan_en_unigram_1000.model"),
        testdata_dir().join("kyoto_ja_unigram_8000.model"),
        testdata_dir().join("botchan_en_bpe_1000.model"),
    ]
}

#[test]
fn encode_and_decode_equal_python_sentencepiece() {
    let models = models();
    let seed = std::env::var("SIGNCAP_SP_SEED").unwrap_or_else(|_| "7".into());
    let count: usize = std::env::var("SIGNCAP_SP_STRINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(STRINGS);
    let count_arg = count.to_string();
    let mut args: Vec<&OsStr> = vec![OsStr::new(&seed), OsStr::new(&count_arg)];
    args.extend(models.iter().map(|p| p.as_os_str()));
    let peer: Value =
        serde_json::from_slice(&signcap_tests::run_peer("sentencepiece_peer.py", &args)).unwrap();
    let strings: Vec<&str> = peer["strings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(strings.len(), count);
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
fn unsupported_model_types_are_refused_clearly() {
    // ModelProto { trainer_spec { model_type: WORD (3) } }
    let bytes = [0x12, 0x02, 0x18, 0x03];
    let path = std::path::Path::new("word.model");
    let err = SentencePieceModel::from_bytes(&bytes, path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("word.model") && err.contains("word"), "{err}");
}
