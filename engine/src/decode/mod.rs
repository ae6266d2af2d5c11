//! Text generation: the mT5 tokenizer, greedy and beam search.

pub mod search;
pub mod sentencepiece;
pub mod tokenizer;
pub mod translator;

pub use search::{SearchConfig, SearchError, beam_search, generate, greedy_search};
pub use tokenizer::{MT5Tokenizer, TokenizerError};
pub use translator::{SearchMode, TranslatedClip, Translator, TranslatorConfig, TranslatorError};

/// A seq2seq decoder that the search algorithms drive one token at a time. The encoder side
/// (and its cross-attention keys and values) is fixed when the decoder is created.
pub trait StepDecoder {
    /// Error of a decoding step.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Number of logits per hypothesis.
    fn vocab_size(&self) -> usize;
    /// Appends one token to each live hypothesis (`tokens.len()` of them) and returns their
    /// next-token logits, row-major `tokens.len() × vocab_size`.
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, Self::Error>;
    /// Reorders the cached state: new hypothesis `i` continues old hypothesis `parents[i]`.
    fn reorder(&mut self, parents: &[usize]) -> Result<(), Self::Error>;
}

/// The result of a search.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Generation {
    /// Token ids, starting with the decoder start token.
    pub ids: Vec<u32>,
    /// Log-probability of each generated token (one fewer than `ids`).
    pub token_logprobs: Vec<f32>,
    /// Sequence score as transformers reports it (sum of log-probabilities / length^penalty).
    pub score: f32,
    /// Whether the sequence ended with `</s>` rather than at the length limit.
    pub finished_with_eos: bool,
    /// The other finished beams, best first: ids (from the start token) and score (beam search
    /// only; the alternatives of a single-sign classifier).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<(Vec<u32>, f32)>,
}

impl Generation {
    /// Geometric-mean probability of the generated tokens, exp(mean log-prob): a caption
    /// confidence in [0, 1] (0 when nothing was generated).
    pub fn confidence(&self) -> f32 {
        if self.token_logprobs.is_empty() {
            return 0.0;
        }
        let mean = self
            .token_logprobs
            .iter()
            .map(|&x| f64::from(x))
            .sum::<f64>()
            / self.token_logprobs.len() as f64;
        mean.exp() as f32
    }
}
