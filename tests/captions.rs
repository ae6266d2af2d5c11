//! Caption files read back by independent parsers: Python `srt` 3.5.3 and `webvtt-py` 0.5.1
//! (through $SIGNCAP_PYTHON), and serde_json for the JSON file.

use serde_json::Value;
use signcap_engine::captions::{Caption, CaptionFormat, write_captions, write_captions_auto};

fn captions() -> Vec<Caption> {
    let texts = [
        "Hello, world!",
        "two\nlines",
        "escape & <b>tags</b> --> arrows",
        "中文字幕，标点？",
        "blank\n\n\nlines  squeezed ",
        "emoji 🤟 and accents café",
    ];
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| Caption {
            start: i as f64 * 2.25 + if i == 5 { 3600.0 + 61.0 } else { 0.0 },
            end: i as f64 * 2.25 + 1.9996 + if i == 5 { 3600.0 + 61.0 } else { 0.0 },
            text: t.to_string(),
            confidence: 0.5 + i as f32 / 20.0,
        })
        .collect()
}

/// The text the cue should show: non-blank lines, trimmed.
fn shown(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn srt_and_webvtt_parse_back_with_python_parsers() {
    let dir = tempfile::tempdir().unwrap();
    let srt_path = dir.path().join("out.srt");
    let vtt_path = dir.path().join("out.vtt");
    let caps = captions();
    write_captions_auto(&srt_path, &caps).unwrap();
    write_captions(&vtt_path, &caps, CaptionFormat::WebVtt).unwrap();
    let parsed: Value = serde_json::from_slice(&signcap_tests::run_peer(
        "captions_peer.py",
        &[srt_path.as_os_str(), vtt_path.as_os_str()],
    ))
    .unwrap();
    for kind in ["srt", "vtt"] {
        let cues = parsed[kind].as_array().unwrap();
        assert_eq!(cues.len(), caps.len(), "{kind}");
        for (cue, cap) in cues.iter().zip(&caps) {
            let start = cue["start"].as_f64().unwrap();
            let end = cue["end"].as_f64().unwrap();
            assert!(
                (start - cap.start).abs() <= 0.0005 + 1e-9,
                "{kind} start {start} vs {}",
                cap.start
            );
            assert!(
                (end - cap.end).abs() <= 0.0005 + 1e-9,
                "{kind} end {end} vs {}",
                cap.end
            );
            assert_eq!(cue["text"].as_str().unwrap(), shown(&cap.text), "{kind}");
        }
    }
    let indices: Vec<u64> = parsed["srt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, (1..=caps.len() as u64).collect::<Vec<_>>());
}

#[test]
fn json_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.json");
    let caps = captions();
    write_captions_auto(&path, &caps).unwrap();
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let back: Vec<Caption> = serde_json::from_value(value["captions"].clone()).unwrap();
    assert_eq!(back.len(), caps.len());
    for (b, c) in back.iter().zip(&caps) {
        // serde_json's default float parsing may be one ulp off.
        assert!((b.start - c.start).abs() < 1e-12 && (b.end - c.end).abs() < 1e-12);
        assert_eq!((&b.text, b.confidence), (&c.text, c.confidence));
    }
}

#[test]
fn bad_captions_and_paths_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_captions_auto(&dir.path().join("out.txt"), &captions())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("out.txt") && err.contains("unknown caption format"),
        "{err}"
    );
    let mut caps = captions();
    caps[2].end = f64::NAN;
    let err = write_captions_auto(&dir.path().join("out.srt"), &caps)
        .unwrap_err()
        .to_string();
    assert!(err.contains("caption 2"), "{err}");
    assert!(
        !dir.path().join("out.srt").exists(),
        "nothing written on error"
    );
    let err = write_captions_auto(&dir.path().join("missing/out.vtt"), &captions())
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing/out.vtt"), "{err}");
}
