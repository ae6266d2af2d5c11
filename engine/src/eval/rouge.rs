//! ROUGE-L F1 as the `rouge` 1.0.1 package computes it
//! (`Rouge().get_scores(hyps, refs, avg=True)['rouge-l']['f']`), quirks included: sentences
//! split on `.`, words split on single spaces, and "summary-level" LCS over *sets* of words.

use std::collections::HashSet;

use super::bleu::py_split;

/// Why a pair cannot be scored (the package raises on these).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RougeError {
    /// The hypothesis has no sentence (empty, or only dots).
    #[error("hypothesis is empty")]
    EmptyHypothesis,
    /// The reference has no sentence.
    #[error("reference is empty")]
    EmptyReference,
}

/// `[" ".join(s.split()) for s in text.split(".") if len(s) > 0]`.
fn sentences(text: &str) -> Vec<String> {
    text.split('.')
        .filter(|s| !s.is_empty())
        .map(|s| py_split(s).collect::<Vec<_>>().join(" "))
        .collect()
}

/// The words of the sentences, each sentence split on single spaces (`_split_into_words`).
fn words(sentences: &[String]) -> Vec<&str> {
    sentences.iter().flat_map(|s| s.split(' ')).collect()
}

/// The words of the LCS of `x` and `y`, recovered with the package's tie-breaking
/// (`_recon_lcs`: diagonal on a match, else up when strictly longer, else left).
fn lcs_words<'a>(x: &[&'a str], y: &[&str]) -> Vec<&'a str> {
    let (n, m) = (x.len(), y.len());
    let width = m + 1;
    let mut table = vec![0u32; (n + 1) * (m + 1)];
    for i in 1..=n {
        for j in 1..=m {
            table[i * width + j] = if x[i - 1] == y[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        if x[i - 1] == y[j - 1] {
            out.push(x[i - 1]);
            i -= 1;
            j -= 1;
        } else if table[(i - 1) * width + j] > table[i * width + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    out.reverse();
    out
}

/// ROUGE-L F of one pair (`rouge_l_summary_level` with `exclusive=True`).
pub fn rouge_l_f(hyp: &str, reference: &str) -> Result<f64, RougeError> {
    let hyp_sentences = sentences(hyp);
    let ref_sentences = sentences(reference);
    if hyp_sentences.is_empty() {
        return Err(RougeError::EmptyHypothesis);
    }
    if ref_sentences.is_empty() {
        return Err(RougeError::EmptyReference);
    }
    let ref_words: HashSet<&str> = words(&ref_sentences).into_iter().collect();
    let hyp_words: HashSet<&str> = words(&hyp_sentences).into_iter().collect();
    let mut union: HashSet<&str> = HashSet::new();
    for ref_sentence in &ref_sentences {
        let reference_words: Vec<&str> = ref_sentence.split(' ').collect();
        for hyp_sentence in &hyp_sentences {
            let evaluated_words: Vec<&str> = hyp_sentence.split(' ').collect();
            union.extend(lcs_words(&reference_words, &evaluated_words));
        }
    }
    let llcs = union.len() as f64;
    let recall = llcs / ref_words.len() as f64;
    let precision = llcs / hyp_words.len() as f64;
    Ok(2.0 * ((precision * recall) / (precision + recall + 1e-8)))
}

/// Mean ROUGE-L F over pairs (`avg=True`), as a fraction (×100 for percent).
pub fn mean_rouge_l_f<S: AsRef<str>, T: AsRef<str>>(
    hyps: &[S],
    refs: &[T],
) -> Result<f64, (usize, RougeError)> {
    let mut sum = 0.0;
    for (index, (hyp, reference)) in hyps.iter().zip(refs).enumerate() {
        sum += rouge_l_f(hyp.as_ref(), reference.as_ref()).map_err(|e| (index, e))?;
    }
    Ok(sum / hyps.len().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_sentences_score_one() {
        let f = rouge_l_f("the cat sat", "the cat sat").unwrap();
        assert!((f - 1.0).abs() < 1e-7);
    }

    #[test]
    fn dots_only_is_an_empty_hypothesis() {
        assert_eq!(rouge_l_f("..", "a"), Err(RougeError::EmptyHypothesis));
    }
}
