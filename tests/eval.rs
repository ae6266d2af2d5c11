//! `signcap eval`'s metrics on the official Uni-Sign outputs: the figures of
//! shared/reference/README.md, and agreement with sacrebleu 1.4.2 / rouge 1.0.1 run on the
//! same files through $SIGNCAP_PYTHON.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use signcap_engine::eval::{self, Language, Paired};

fn out_dir() -> PathBuf {
    signcap_tests::shared_dir().join("reference/unisign-out")
}

fn paired(hyp: &Path, reference: &Path) -> Paired {
    let hyps = eval::read_samples(hyp).unwrap();
    let refs = eval::read_samples(reference).unwrap();
    eval::pair_samples(hyps, refs, hyp, reference).unwrap()
}

fn set(name: &str) -> (PathBuf, PathBuf) {
    (
        out_dir().join(format!("{name}_tmp_pres.txt")),
        out_dir().join(format!("{name}_tmp_refs.txt")),
    )
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The table in shared/reference/README.md, to two decimals.
#[test]
fn reproduces_the_reference_table() {
    let cases = [
        (
            "eval_csl_daily_pose_only_test",
            Language::Zh,
            1176,
            [53.87, 40.99, 32.09, 25.70],
            55.00,
        ),
        (
            "eval_how2sign_pose_only_test",
            Language::En,
            2349,
            [39.38, 26.44, 19.22, 14.50],
            34.51,
        ),
    ];
    for (name, language, sentences, bleu, rouge) in cases {
        let (hyp, reference) = set(name);
        let report = eval::evaluate_slt(&paired(&hyp, &reference), language).unwrap();
        assert_eq!(report.sentences, sentences, "{name}");
        for (n, (&got, &want)) in report.bleu.iter().zip(&bleu).enumerate() {
            assert_eq!(round2(got), want, "{name} BLEU-{}", n + 1);
        }
        assert_eq!(round2(report.rouge_l), rouge, "{name} ROUGE-L");
    }
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

/// Same numbers as the Python packages on every set shipped (dev included), and per-sentence
/// ROUGE-L for every sample.
#[test]
fn agrees_with_sacrebleu_and_rouge() {
    for (name, language, lang) in [
        ("eval_csl_daily_pose_only_test", Language::Zh, "zh"),
        ("eval_csl_daily_pose_only_dev", Language::Zh, "zh"),
        ("eval_how2sign_pose_only_test", Language::En, "en"),
    ] {
        let (hyp, reference) = set(name);
        let peer: Value = serde_json::from_slice(&signcap_tests::run_peer(
            "eval_peer.py",
            &[OsStr::new(lang), hyp.as_os_str(), reference.as_os_str()],
        ))
        .unwrap();
        let p = paired(&hyp, &reference);
        let report = eval::evaluate_slt(&p, language).unwrap();
        let details = &report.bleu_details;
        assert_eq!(details.sys_len, peer["sys_len"].as_u64().unwrap(), "{name}");
        assert_eq!(details.ref_len, peer["ref_len"].as_u64().unwrap(), "{name}");
        for n in 0..4 {
            assert_eq!(
                details.correct[n],
                peer["counts"][n].as_u64().unwrap(),
                "{name}"
            );
            assert_eq!(
                details.total[n],
                peer["totals"][n].as_u64().unwrap(),
                "{name}"
            );
            assert_close(
                &format!("{name} BLEU-{}", n + 1),
                report.bleu[n],
                peer["bleu"][n].as_f64().unwrap(),
            );
        }
        assert_close(
            &format!("{name} ROUGE-L"),
            report.rouge_l,
            peer["rouge_l"].as_f64().unwrap(),
        );
        let (hyps, refs): (Vec<String>, Vec<String>) = match language {
            Language::Zh => (
                p.hyps.iter().map(|h| eval::chinese_prediction(h)).collect(),
                p.refs.iter().map(|r| eval::chinese_reference(r)).collect(),
            ),
            Language::En => (p.hyps.clone(), p.refs.clone()),
        };
        let each = peer["rouge_l_each"].as_array().unwrap();
        assert_eq!(each.len(), hyps.len());
        for (i, want) in each.iter().enumerate() {
            let got = eval::rouge_l_f(&hyps[i], &refs[i]).unwrap();
            assert_close(
                &format!("{name} ROUGE-L of {}", p.names[i]),
                got,
                want.as_f64().unwrap(),
            );
        }
    }
}

/// Crafted texts that exercise the tokenizer and ROUGE quirks (dots, digits, dashes, entities,
/// repeated words, multi-sentence), scored by both sides as plain line files.
#[test]
fn agrees_with_peers_on_crafted_text() {
    let hyps = [
        "Hello, world! It's 3.5 degrees.",
        "the the the cat . on the mat",
        "A-B 1-2 3,000 x.y &amp; &quot;q&quot;",
        "one. two. three.",
        "Mr. Smith went to Washington... twice",
        "no overlap at all",
        "  leading and trailing spaces  ",
        "tabs\tand\tnewlines are spaces",
        "Numbers 12-34, 5.6 and 7,8.",
        "(parentheses) [brackets] {braces} <angle>",
    ];
    let refs = [
        "Hello world, it is 3.5 degrees.",
        "the cat sat on the mat.",
        "A - B 1 - 2 3,000 x. y & \"q\"",
        "one two. three four.",
        "Mr. Smith went to Washington twice.",
        "something different entirely",
        "leading and trailing spaces",
        "tabs and newlines are spaces",
        "Numbers 12 - 34, 5.6 and 7, 8.",
        "parentheses brackets braces angle",
    ];
    let dir = tempfile::tempdir().unwrap();
    let hyp_path = dir.path().join("hyp.txt");
    let ref_path = dir.path().join("ref.txt");
    std::fs::write(&hyp_path, hyps.join("\n")).unwrap();
    std::fs::write(&ref_path, refs.join("\n")).unwrap();
    let peer: Value = serde_json::from_slice(&signcap_tests::run_peer(
        "eval_peer.py",
        &[OsStr::new("en"), hyp_path.as_os_str(), ref_path.as_os_str()],
    ))
    .unwrap();
    let report = eval::evaluate_slt(&paired(&hyp_path, &ref_path), Language::En).unwrap();
    for n in 0..4 {
        assert_close(
            &format!("BLEU-{}", n + 1),
            report.bleu[n],
            peer["bleu"][n].as_f64().unwrap(),
        );
    }
    assert_close("ROUGE-L", report.rouge_l, peer["rouge_l"].as_f64().unwrap());
    for (i, want) in peer["rouge_l_each"].as_array().unwrap().iter().enumerate() {
        assert_close(
            &format!("ROUGE-L {i}"),
            eval::rouge_l_f(hyps[i], refs[i]).unwrap(),
            want.as_f64().unwrap(),
        );
    }
}

#[test]
fn mismatched_samples_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let hyp = dir.path().join("pres.txt");
    let reference = dir.path().join("refs.txt");
    std::fs::write(&hyp, "sample: a, prediction: x\nsample: b, prediction: y\n").unwrap();
    std::fs::write(
        &reference,
        "sample: a, ground-truth: x\nsample: c, ground-truth: z\n",
    )
    .unwrap();
    let err = eval::pair_samples(
        eval::read_samples(&hyp).unwrap(),
        eval::read_samples(&reference).unwrap(),
        &hyp,
        &reference,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("pres.txt") && err.contains("refs.txt") && err.contains(" b"),
        "{err}"
    );

    std::fs::write(&reference, "x\ny\nz\n").unwrap();
    let err = eval::pair_samples(
        eval::read_samples(&hyp).unwrap(),
        eval::read_samples(&reference).unwrap(),
        &hyp,
        &reference,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("names its samples"), "{err}");

    std::fs::write(&hyp, "sample: a, prediction: x\nnot a sample line\n").unwrap();
    let err = eval::read_samples(&hyp).unwrap_err().to_string();
    assert!(err.contains("pres.txt:2"), "{err}");
}

#[test]
fn islr_and_cslr_scores() {
    // ISLR: 3 of 4 right; classes "a" (2/2), "b" (1/1), "c" (0/1) → P-C (1 + 1 + 0) / 3.
    let p = Paired {
        names: vec!["1".into(), "2".into(), "3".into(), "4".into()],
        hyps: vec!["a".into(), "a".into(), "b".into(), "b".into()],
        refs: vec!["a".into(), "a".into(), "b".into(), "c".into()],
    };
    let r = eval::evaluate_islr(&p).unwrap();
    assert_eq!((r.samples, r.classes), (4, 3));
    assert_close("P-I", r.per_instance, 75.0);
    assert_close("P-C", r.per_class, 200.0 / 3.0);
    // CSLR: one substitution over 6 reference glosses.
    let p = Paired {
        names: vec!["1".into(), "2".into()],
        hyps: vec!["A X C".into(), "D E F".into()],
        refs: vec!["A B C".into(), "D E F".into()],
    };
    let r = eval::evaluate_cslr(&p).unwrap();
    assert_eq!(r.counts.substitutions, 1);
    assert_close("WER", r.wer, 100.0 / 6.0);
}
