//! Text generation: the mT5 tokenizer, greedy and beam search.

pub mod search;
pub mod sentencepiece;
pub mod tokenizer;

pub use search::{SearchConfig, SearchError, beam_search, generate, greedy_search};
pub use tokenizer::{MT5Tokenizer, TokenizerError};

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
}
