//! CSLR word error rate as the Uni-Sign reference computes it: a weighted edit distance
//! (deletion 3, insertion 3, substitution 4), one backtraced alignment, WER = (S+D+I)/N over
//! the corpus. The reference stores its DP table as uint8 and overflows past 255; this one
//! does not, so long sentences may differ from the reference's (wrong) figures.

use super::bleu::py_split;

const COST_DEL: u32 = 3;
const COST_INS: u32 = 3;
const COST_SUB: u32 = 4;

/// Alignment counts of one sentence or a whole corpus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WerCounts {
    /// Correct words.
    pub correct: u64,
    /// Substitutions.
    pub substitutions: u64,
    /// Deletions (reference words missing from the hypothesis).
    pub deletions: u64,
    /// Insertions (extra hypothesis words).
    pub insertions: u64,
    /// Reference words.
    pub reference_words: u64,
}

impl WerCounts {
    /// Errors: substitutions + deletions + insertions.
    pub fn errors(&self) -> u64 {
        self.substitutions + self.deletions + self.insertions
    }

    /// WER in percent (0 for an empty reference).
    pub fn wer(&self) -> f64 {
        if self.reference_words == 0 {
            0.0
        } else {
            100.0 * self.errors() as f64 / self.reference_words as f64
        }
    }

    fn add(&mut self, other: WerCounts) {
        self.correct += other.correct;
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
        self.reference_words += other.reference_words;
    }
}

/// Aligns one hypothesis to one reference (both split on whitespace).
pub fn align(reference: &str, hypothesis: &str) -> WerCounts {
    let r: Vec<&str> = py_split(reference).collect();
    let h: Vec<&str> = py_split(hypothesis).collect();
    let width = h.len() + 1;
    let mut d = vec![0u32; (r.len() + 1) * width];
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j as u32 * COST_INS;
    }
    for i in 1..=r.len() {
        d[i * width] = i as u32 * COST_DEL;
        for j in 1..=h.len() {
            d[i * width + j] = if r[i - 1] == h[j - 1] {
                d[(i - 1) * width + j - 1]
            } else {
                let substitute = d[(i - 1) * width + j - 1] + COST_SUB;
                let insert = d[i * width + j - 1] + COST_INS;
                let delete = d[(i - 1) * width + j] + COST_DEL;
                substitute.min(insert).min(delete)
            };
        }
    }
    let mut counts = WerCounts {
        reference_words: r.len() as u64,
        ..WerCounts::default()
    };
    let (mut x, mut y) = (r.len(), h.len());
    // Same preference order as the reference backtrace: match, substitution, insertion,
    // deletion.
    while x > 0 || y > 0 {
        let here = d[x * width + y];
        if x >= 1 && y >= 1 && here == d[(x - 1) * width + y - 1] && r[x - 1] == h[y - 1] {
            counts.correct += 1;
            x -= 1;
            y -= 1;
        } else if x >= 1 && y >= 1 && here == d[(x - 1) * width + y - 1] + COST_SUB {
            counts.substitutions += 1;
            x -= 1;
            y -= 1;
        } else if y >= 1 && here == d[x * width + y - 1] + COST_INS {
            counts.insertions += 1;
            y -= 1;
        } else {
            counts.deletions += 1;
            x = x.saturating_sub(1);
        }
    }
    counts
}

/// Corpus WER counts: the sentence counts summed.
pub fn corpus_wer<S: AsRef<str>, T: AsRef<str>>(hyps: &[S], refs: &[T]) -> WerCounts {
    let mut total = WerCounts::default();
    for (hyp, reference) in hyps.iter().zip(refs) {
        total.add(align(reference.as_ref(), hyp.as_ref()));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_error_kind() {
        let c = align("a b c d", "a x c d e");
        assert_eq!((c.substitutions, c.deletions, c.insertions), (1, 0, 1));
        let c = align("a b c", "a c");
        assert_eq!((c.substitutions, c.deletions, c.insertions), (0, 1, 0));
        assert!((corpus_wer(&["a c"], &["a b c"]).wer() - 100.0 / 3.0).abs() < 1e-9);
    }
}
