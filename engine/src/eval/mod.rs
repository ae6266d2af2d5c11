//! Metrics exactly as the Uni-Sign reference computes them (BLEU, ROUGE-L, WER, top-1), and
//! the prediction/reference files it writes.

pub mod bleu;
pub mod rouge;
pub mod wer;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use bleu::{Bleu, corpus_bleu, tokenize_13a};
pub use rouge::{RougeError, mean_rouge_l_f, rouge_l_f};
pub use wer::{WerCounts, corpus_wer};

/// Errors of reading or pairing evaluation files.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line does not follow the file's format.
    #[error("{path}:{line}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// Hypotheses and references do not pair up.
    #[error("{hyp} and {reference} do not match: {problem}")]
    Mismatch {
        /// The hypothesis file.
        hyp: PathBuf,
        /// The reference file.
        reference: PathBuf,
        /// What differs.
        problem: String,
    },
    /// A pair cannot be scored.
    #[error("sample {sample} cannot be scored")]
    Rouge {
        /// The sample name (or 1-based line number).
        sample: String,
        /// Why.
        source: RougeError,
    },
    /// There is nothing to score.
    #[error("no samples to score")]
    Empty,
}

/// One line of a prediction or reference file.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The sample name (`sample: NAME, …`), absent in plain files.
    pub name: Option<String>,
    /// The text.
    pub text: String,
}

/// Reads `sample: NAME, prediction: TEXT` / `sample: NAME, ground-truth: TEXT` lines (the
/// reference's `*_tmp_{pres,refs}.txt`) or, when the file has no such line, one sample per line.
pub fn read_samples(path: &Path) -> Result<Vec<Sample>, EvalError> {
    let content = std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let lines: Vec<&str> = content.lines().collect();
    let named = lines.iter().any(|l| l.starts_with("sample: "));
    if !named {
        return Ok(lines
            .into_iter()
            .map(|l| Sample {
                name: None,
                text: l.to_string(),
            })
            .collect());
    }
    let mut samples = Vec::with_capacity(lines.len());
    for (index, line) in lines.into_iter().enumerate() {
        let format_error = |problem: &str| EvalError::Format {
            path: path.to_path_buf(),
            line: index + 1,
            problem: problem.to_string(),
        };
        let rest = line
            .strip_prefix("sample: ")
            .ok_or_else(|| format_error("expected `sample: NAME, prediction: TEXT`"))?;
        let (name, text) = [", prediction: ", ", ground-truth: "]
            .iter()
            .filter_map(|sep| rest.find(sep).map(|at| (at, sep.len())))
            .min()
            .map(|(at, len)| (&rest[..at], &rest[at + len..]))
            .ok_or_else(|| {
                format_error("no `, prediction: ` or `, ground-truth: ` after the name")
            })?;
        samples.push(Sample {
            name: Some(name.to_string()),
            text: text.to_string(),
        });
    }
    Ok(samples)
}

/// Hypotheses and references paired up: by sample name when both files name their samples
/// (in the hypothesis file's order), else line by line.
#[derive(Clone, Debug, PartialEq)]
pub struct Paired {
    /// Sample names (1-based line numbers for plain files).
    pub names: Vec<String>,
    /// Hypotheses.
    pub hyps: Vec<String>,
    /// References.
    pub refs: Vec<String>,
}

/// Pairs hypotheses with references; every sample must appear exactly once on each side.
pub fn pair_samples(
    hyps: Vec<Sample>,
    refs: Vec<Sample>,
    hyp_path: &Path,
    ref_path: &Path,
) -> Result<Paired, EvalError> {
    let mismatch = |problem: String| EvalError::Mismatch {
        hyp: hyp_path.to_path_buf(),
        reference: ref_path.to_path_buf(),
        problem,
    };
    let hyp_named = hyps.iter().all(|s| s.name.is_some()) && !hyps.is_empty();
    let ref_named = refs.iter().all(|s| s.name.is_some()) && !refs.is_empty();
    if hyp_named != ref_named && !hyps.is_empty() && !refs.is_empty() {
        return Err(mismatch(
            "one file names its samples (`sample: …`) and the other does not".into(),
        ));
    }
    if !hyp_named {
        if hyps.len() != refs.len() {
            return Err(mismatch(format!(
                "{} hypotheses but {} references",
                hyps.len(),
                refs.len()
            )));
        }
        return Ok(Paired {
            names: (1..=hyps.len()).map(|i| i.to_string()).collect(),
            hyps: hyps.into_iter().map(|s| s.text).collect(),
            refs: refs.into_iter().map(|s| s.text).collect(),
        });
    }
    let mut by_name: HashMap<String, String> = HashMap::with_capacity(refs.len());
    for sample in refs {
        let name = sample.name.unwrap_or_default();
        if by_name.contains_key(&name) {
            return Err(mismatch(format!(
                "sample {name} appears twice in the references"
            )));
        }
        by_name.insert(name, sample.text);
    }
    let mut paired = Paired {
        names: Vec::with_capacity(hyps.len()),
        hyps: Vec::with_capacity(hyps.len()),
        refs: Vec::with_capacity(hyps.len()),
    };
    let mut missing = Vec::new();
    for sample in hyps {
        let name = sample.name.unwrap_or_default();
        match by_name.remove(&name) {
            Some(reference) => {
                paired.names.push(name);
                paired.hyps.push(sample.text);
                paired.refs.push(reference);
            }
            None if paired.names.contains(&name) => {
                return Err(mismatch(format!(
                    "sample {name} appears twice in the hypotheses"
                )));
            }
            None => missing.push(name),
        }
    }
    let list = |names: &[String]| {
        let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
        let more = names.len().saturating_sub(5);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    if !missing.is_empty() {
        return Err(mismatch(format!(
            "{} hypotheses have no reference: {}",
            missing.len(),
            list(&missing)
        )));
    }
    if !by_name.is_empty() {
        let mut unused: Vec<String> = by_name.into_keys().collect();
        unused.sort();
        return Err(mismatch(format!(
            "{} references have no hypothesis: {}",
            unused.len(),
            list(&unused)
        )));
    }
    Ok(paired)
}

/// The language of an SLT set, which decides the reference's text processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// Chinese (CSL-Daily): character-level scoring.
    Zh,
    /// Everything else: word-level, as written.
    En,
}

/// CSL-Daily prediction as the reference scores it: spaces and newlines removed, then every
/// character separated by a space.
pub fn chinese_prediction(text: &str) -> String {
    split_chars(&text.replace([' ', '\n'], ""))
}

/// CSL-Daily reference as the reference scores it: `，`→`,`, `？`→`?`, spaces removed, then
/// character-split.
pub fn chinese_reference(text: &str) -> String {
    split_chars(&text.replace('，', ",").replace('？', "?").replace(' ', ""))
}

fn split_chars(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for (i, c) in text.chars().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// SLT scores in percent.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SltReport {
    /// Number of scored sentences.
    pub sentences: usize,
    /// Cumulative BLEU-1..4.
    pub bleu: [f64; 4],
    /// ROUGE-L F1 × 100.
    pub rouge_l: f64,
    /// The BLEU statistics.
    pub bleu_details: Bleu,
}

/// Scores translations as `translation_performance` does (with the CSL-Daily processing for
/// [`Language::Zh`]).
pub fn evaluate_slt(paired: &Paired, language: Language) -> Result<SltReport, EvalError> {
    if paired.hyps.is_empty() {
        return Err(EvalError::Empty);
    }
    let (hyps, refs): (Vec<String>, Vec<String>) = match language {
        Language::Zh => (
            paired.hyps.iter().map(|h| chinese_prediction(h)).collect(),
            paired.refs.iter().map(|r| chinese_reference(r)).collect(),
        ),
        Language::En => (paired.hyps.clone(), paired.refs.clone()),
    };
    let bleu = corpus_bleu(&hyps, &refs);
    let rouge = mean_rouge_l_f(&hyps, &refs).map_err(|(index, source)| EvalError::Rouge {
        sample: paired.names[index].clone(),
        source,
    })?;
    Ok(SltReport {
        sentences: hyps.len(),
        bleu: bleu.cumulative,
        rouge_l: rouge * 100.0,
        bleu_details: bleu,
    })
}

/// ISLR top-1 accuracy in percent.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IslrReport {
    /// Number of samples.
    pub samples: usize,
    /// Number of distinct reference classes.
    pub classes: usize,
    /// Per-instance top-1 (P-I): share of exact matches.
    pub per_instance: f64,
    /// Per-class top-1 (P-C): mean over classes of their accuracy.
    pub per_class: f64,
}

/// Scores isolated-sign predictions by exact string match.
pub fn evaluate_islr(paired: &Paired) -> Result<IslrReport, EvalError> {
    if paired.hyps.is_empty() {
        return Err(EvalError::Empty);
    }
    let mut per_class: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut hits = 0u64;
    for (hyp, reference) in paired.hyps.iter().zip(&paired.refs) {
        let entry = per_class.entry(reference.as_str()).or_default();
        entry.1 += 1;
        if hyp == reference {
            entry.0 += 1;
            hits += 1;
        }
    }
    let class_mean = per_class
        .values()
        .map(|&(h, n)| h as f64 / n as f64)
        .sum::<f64>()
        / per_class.len() as f64;
    Ok(IslrReport {
        samples: paired.hyps.len(),
        classes: per_class.len(),
        per_instance: 100.0 * hits as f64 / paired.hyps.len() as f64,
        per_class: 100.0 * class_mean,
    })
}

/// CSLR scores.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CslrReport {
    /// Number of sentences.
    pub sentences: usize,
    /// WER in percent.
    pub wer: f64,
    /// The alignment counts.
    pub counts: WerCounts,
}

/// Scores gloss sequences with the reference's weighted-alignment WER.
pub fn evaluate_cslr(paired: &Paired) -> Result<CslrReport, EvalError> {
    if paired.hyps.is_empty() {
        return Err(EvalError::Empty);
    }
    let counts = corpus_wer(&paired.hyps, &paired.refs);
    Ok(CslrReport {
        sentences: paired.hyps.len(),
        wer: counts.wer(),
        counts,
    })
}
