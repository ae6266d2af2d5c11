//! The mT5 tokenizer against transformers 4.40's own slow `T5Tokenizer(legacy=False)` (through
//! $SIGNCAP_PYTHON) on the tiny mT5 folder: ids of 1,500 generated strings and the three decode
//! variants of 1,500 id sequences (the encodings plus random ids with specials anywhere).

use std::ffi::OsStr;

use serde_json::Value;
use signcap_engine::decode::MT5Tokenizer;

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn encode_and_decode_equal_transformers_slow_tokenizer() {
    let folder = signcap_tests::shared_dir().join("reference/parity/tiny-mt5");
    // SIGNCAP_T5_SEED / SIGNCAP_T5_STRINGS override for longer soak runs.
    let seed = std::env::var("SIGNCAP_T5_SEED").unwrap_or_else(|_| "11".into());
    let count: usize = std::env::var("SIGNCAP_T5_STRINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let count_arg = count.to_string();
    let peer: Value = serde_json::from_slice(&signcap_tests::run_peer(
        "t5_tokenizer_peer.py",
        &[
            OsStr::new(&seed),
            OsStr::new(&count_arg),
            folder.as_os_str(),
        ],
    ))
    .unwrap();
    let tokenizer = MT5Tokenizer::from_spiece(&folder.join("spiece.model")).unwrap();
    let mut mismatches = Vec::new();
    let strings = peer["strings"].as_array().unwrap();
    assert_eq!(strings.len(), count);
    for (text, want) in strings.iter().zip(peer["ids"].as_array().unwrap()) {
        let text = text.as_str().unwrap();
        let got = tokenizer.encode(text).unwrap();
        if got != u32s(want) {
            mismatches.push(format!("encode {text:?}: got {got:?}, want {want}"));
        }
    }
    let cases = peer["id_cases"].as_array().unwrap();
    assert_eq!(cases.len(), count);
    for (field, skip, cleanup) in [
        ("decode", false, true),
        ("decode_skip", true, true),
        ("decode_skip_no_cleanup", true, false),
    ] {
        for (case, want) in cases.iter().zip(peer[field].as_array().unwrap()) {
            let ids = u32s(case);
            let got = tokenizer.decode(&ids, skip, cleanup).unwrap();
            if got != want.as_str().unwrap() {
                mismatches.push(format!("{field} {ids:?}: got {got:?}, want {want}"));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}
