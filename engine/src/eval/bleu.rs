//! Corpus BLEU as sacrebleu 1.4.2 `corpus_bleu` computes it (13a tokenizer, `exp` smoothing,
//! one reference), reported cumulatively as BLEU-1..4 the way the Uni-Sign evaluation does.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

/// The n-gram order of BLEU.
pub const NGRAM_ORDER: usize = 4;

/// Sufficient statistics and scores of a corpus BLEU.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Bleu {
    /// Cumulative BLEU-1..4 in percent: BP · exp(mean of log p_1..p_n).
    pub cumulative: [f64; NGRAM_ORDER],
    /// Smoothed n-gram precisions in percent.
    pub precisions: [f64; NGRAM_ORDER],
    /// Matched n-grams per order.
    pub correct: [u64; NGRAM_ORDER],
    /// Hypothesis n-grams per order.
    pub total: [u64; NGRAM_ORDER],
    /// Brevity penalty.
    pub brevity_penalty: f64,
    /// Hypothesis length in tokens.
    pub sys_len: u64,
    /// Reference length in tokens.
    pub ref_len: u64,
}

/// Python's `str.isspace` (Unicode White_Space plus U+001C..U+001F).
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` with no arguments.
pub(crate) fn py_split(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_py_space).filter(|t| !t.is_empty())
}

macro_rules! regex {
    ($name:ident, $re:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| match Regex::new($re) {
            Ok(re) => re,
            Err(e) => unreachable!("constant regex {}: {e}", $re),
        });
    };
}

regex!(PUNCT, r"([\{-~\[-` -&\(-\+:-@/])");
regex!(PERIOD_COMMA_AFTER_NON_DIGIT, r"([^0-9])([\.,])");
regex!(PERIOD_COMMA_BEFORE_NON_DIGIT, r"([\.,])([^0-9])");
regex!(DASH_AFTER_DIGIT, r"([0-9])(-)");
regex!(SPACES, r"[\s\x1c-\x1f]+");

/// sacrebleu's `tokenize_13a` (mteval-v13a): splits off punctuation, periods and commas not
/// next to digits, and dashes after digits.
pub fn tokenize_13a(line: &str) -> String {
    let norm = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let norm = format!(" {norm} ");
    let norm = PUNCT.replace_all(&norm, " $1 ");
    let norm = PERIOD_COMMA_AFTER_NON_DIGIT.replace_all(&norm, "$1 $2 ");
    let norm = PERIOD_COMMA_BEFORE_NON_DIGIT.replace_all(&norm, " $1 $2");
    let norm = DASH_AFTER_DIGIT.replace_all(&norm, "$1 $2 ");
    let norm = SPACES.replace_all(&norm, " ");
    norm.trim_matches(is_py_space).to_string()
}

fn ngram_counts(tokens: &[&str]) -> HashMap<Vec<String>, u64> {
    let mut counts = HashMap::new();
    for n in 1..=NGRAM_ORDER {
        for window in tokens.windows(n) {
            let key: Vec<String> = window.iter().map(|t| t.to_string()).collect();
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

/// sacrebleu's `my_log`: log, with log(0) floored to −9999999999.
fn floored_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

/// `corpus_bleu(hyps, [refs], tokenize='13a', smooth_method='exp')`; `hyps` and `refs` pair
/// up by index and must have equal lengths (the caller checks).
pub fn corpus_bleu<S: AsRef<str>, T: AsRef<str>>(hyps: &[S], refs: &[T]) -> Bleu {
    let mut correct = [0u64; NGRAM_ORDER];
    let mut total = [0u64; NGRAM_ORDER];
    let (mut sys_len, mut ref_len) = (0u64, 0u64);
    for (hyp, reference) in hyps.iter().zip(refs) {
        let hyp = tokenize_13a(hyp.as_ref().trim_end_matches(is_py_space));
        let reference = tokenize_13a(reference.as_ref().trim_end_matches(is_py_space));
        let hyp_tokens: Vec<&str> = py_split(&hyp).collect();
        let ref_tokens: Vec<&str> = py_split(&reference).collect();
        sys_len += hyp_tokens.len() as u64;
        ref_len += ref_tokens.len() as u64;
        let ref_counts = ngram_counts(&ref_tokens);
        for (ngram, count) in ngram_counts(&hyp_tokens) {
            let n = ngram.len() - 1;
            correct[n] += count.min(ref_counts.get(&ngram).copied().unwrap_or(0));
            total[n] += count;
        }
    }
    let mut precisions = [0.0; NGRAM_ORDER];
    let mut smooth = 1.0;
    for n in 0..NGRAM_ORDER {
        if total[n] == 0 {
            break;
        }
        precisions[n] = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n] as f64)
        } else {
            100.0 * correct[n] as f64 / total[n] as f64
        };
    }
    let brevity_penalty = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut cumulative = [0.0; NGRAM_ORDER];
    for (n, score) in cumulative.iter_mut().enumerate() {
        let mean_log = precisions[..=n]
            .iter()
            .map(|&p| floored_log(p))
            .sum::<f64>()
            / (n + 1) as f64;
        *score = brevity_penalty * mean_log.exp();
    }
    Bleu {
        cumulative,
        precisions,
        correct,
        total,
        brevity_penalty,
        sys_len,
        ref_len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_13a_splits_like_mteval() {
        assert_eq!(
            tokenize_13a("Hello, world! It's 3.5."),
            "Hello , world ! It's 3.5 ."
        );
        assert_eq!(tokenize_13a("a &amp; b 1-2"), "a & b 1 - 2");
    }

    #[test]
    fn identical_corpus_scores_100() {
        let bleu = corpus_bleu(&["the cat sat on the mat"], &["the cat sat on the mat"]);
        for score in bleu.cumulative {
            assert!((score - 100.0).abs() < 1e-9);
        }
    }
}
