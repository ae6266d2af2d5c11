//! Greedy and beam search over a [`StepDecoder`], reproducing transformers 4.40 `generate()` as
//! Uni-Sign calls it (`num_beams=4, max_new_tokens=100`, length penalty 1, `early_stopping=False`):
//! the `BeamSearchScorer`/`BeamHypotheses` rules, f32 running scores, f64 hypothesis scores.

use rayon::prelude::*;

use super::{Generation, StepDecoder};

/// Settings of a search; [`Default`] is Uni-Sign's evaluation call.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchConfig {
    /// Beams; 1 means greedy search.
    pub num_beams: usize,
    /// Most tokens to generate after the start token.
    pub max_new_tokens: usize,
    /// Exponent of the length normalisation of finished hypotheses.
    pub length_penalty: f64,
    /// First decoder token (mT5: `<pad>` = 0).
    pub decoder_start_token_id: u32,
    /// End-of-sequence token (mT5: `</s>` = 1).
    pub eos_token_id: u32,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            num_beams: 4,
            max_new_tokens: 100,
            length_penalty: 1.0,
            decoder_start_token_id: 0,
            eos_token_id: 1,
        }
    }
}

/// Errors of a search.
#[derive(Debug, thiserror::Error)]
pub enum SearchError<E: std::error::Error + 'static> {
    /// The decoder failed.
    #[error("decoder step failed")]
    Decoder(#[source] E),
    /// The decoder returned the wrong number of logits.
    #[error("decoder returned {got} logits for {hypotheses} hypotheses of vocabulary {vocab_size}")]
    LogitsShape {
        /// Logits returned.
        got: usize,
        /// Hypotheses asked for.
        hypotheses: usize,
        /// The decoder's vocabulary size.
        vocab_size: usize,
    },
    /// The settings cannot run.
    #[error("invalid search settings: {0}")]
    Config(String),
}

/// Greedy search (`num_beams == 1`) or beam search, as `generate()` picks.
pub fn generate<D: StepDecoder>(
    decoder: &mut D,
    config: &SearchConfig,
) -> Result<Generation, SearchError<D::Error>> {
    if config.num_beams <= 1 {
        greedy_search(decoder, config)
    } else {
        beam_search(decoder, config)
    }
}

fn checked_step<D: StepDecoder>(
    decoder: &mut D,
    tokens: &[u32],
) -> Result<Vec<f32>, SearchError<D::Error>> {
    let vocab_size = decoder.vocab_size();
    let logits = decoder.step(tokens).map_err(SearchError::Decoder)?;
    if logits.len() != tokens.len() * vocab_size || vocab_size == 0 {
        return Err(SearchError::LogitsShape {
            got: logits.len(),
            hypotheses: tokens.len(),
            vocab_size,
        });
    }
    Ok(logits)
}

/// The terms of `log_softmax` of one row in f32: (max, ln Σ exp(x − max)); the log-probability
/// of x is x − max − ln Σ.
pub fn log_softmax_normalizer(logits: &[f32]) -> (f32, f32) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&x| (x - max).exp()).sum();
    (max, sum.ln())
}

/// A beam-search candidate: a live beam extended by one token.
#[derive(Clone, Copy)]
struct Candidate {
    score: f32,
    logprob: f32,
    beam: usize,
    token: u32,
}

/// Candidate order: higher score first, ties to the lower (beam, token).
fn by_rank(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then((a.beam, a.token).cmp(&(b.beam, b.token)))
}

/// The top `wanted` candidates of one beam, in rank order: its row is scanned once into a
/// small sorted buffer instead of sorting the vocabulary.
fn best_of_beam(
    beam: usize,
    beam_score: f32,
    logits: &[f32],
    (max, log_sum): (f32, f32),
    wanted: usize,
) -> Vec<Candidate> {
    let mut best: Vec<Candidate> = Vec::with_capacity(wanted + 1);
    // Score of the worst kept candidate once the buffer is full: anything strictly below it
    // cannot enter, which skips almost every token with one comparison.
    let mut threshold = f32::NEG_INFINITY;
    for (token, &x) in logits.iter().enumerate() {
        let logprob = x - max - log_sum;
        let score = beam_score + logprob;
        if score < threshold {
            continue;
        }
        let c = Candidate {
            score,
            logprob,
            beam,
            token: token as u32,
        };
        if best.len() == wanted && best.last().is_some_and(|worst| by_rank(&c, worst).is_ge()) {
            continue;
        }
        let at = best.partition_point(|e| by_rank(e, &c).is_lt());
        best.insert(at, c);
        best.truncate(wanted);
        if best.len() == wanted {
            threshold = best[wanted - 1].score;
        }
    }
    best
}

/// Greedy search: the arg-max token (first on ties) until `</s>` or the length limit.
pub fn greedy_search<D: StepDecoder>(
    decoder: &mut D,
    config: &SearchConfig,
) -> Result<Generation, SearchError<D::Error>> {
    let mut ids = vec![config.decoder_start_token_id];
    let mut token_logprobs = Vec::new();
    let mut finished_with_eos = false;
    let mut next = config.decoder_start_token_id;
    for _ in 0..config.max_new_tokens {
        let logits = checked_step(decoder, &[next])?;
        let mut best = 0;
        for (i, &x) in logits.iter().enumerate() {
            if x > logits[best] {
                best = i;
            }
        }
        let (max, log_sum) = log_softmax_normalizer(&logits);
        next = best as u32;
        ids.push(next);
        token_logprobs.push(logits[best] - max - log_sum);
        if next == config.eos_token_id {
            finished_with_eos = true;
            break;
        }
    }
    let sum: f64 = token_logprobs.iter().map(|&x| f64::from(x)).sum();
    let score = sum / (token_logprobs.len().max(1) as f64).powf(config.length_penalty);
    Ok(Generation {
        ids,
        token_logprobs,
        score: score as f32,
        finished_with_eos,
        alternatives: Vec::new(),
    })
}

/// A live beam: its tokens after the start token, their log-probabilities and the running sum.
#[derive(Clone)]
struct Beam {
    tokens: Vec<u32>,
    logprobs: Vec<f32>,
    score: f32,
}

/// A kept hypothesis (`BeamHypotheses.beams` entry).
struct Hypothesis {
    score: f64,
    tokens: Vec<u32>,
    logprobs: Vec<f32>,
    finished_with_eos: bool,
}

/// transformers' `BeamHypotheses`: the n best finished hypotheses.
struct Hypotheses {
    num_beams: usize,
    length_penalty: f64,
    beams: Vec<Hypothesis>,
    worst_score: f64,
}

impl Hypotheses {
    fn add(&mut self, hypothesis: Hypothesis, sum_logprobs: f32, generated_len: usize) {
        let score = f64::from(sum_logprobs) / (generated_len as f64).powf(self.length_penalty);
        if self.beams.len() < self.num_beams || score > self.worst_score {
            self.beams.push(Hypothesis {
                score,
                ..hypothesis
            });
            if self.beams.len() > self.num_beams {
                // Python sorts (score, index) pairs: the lowest score, then lowest index, goes.
                let mut order: Vec<usize> = (0..self.beams.len()).collect();
                order.sort_by(|&a, &b| self.beams[a].score.total_cmp(&self.beams[b].score));
                let worst = order[0];
                self.worst_score = self.beams[order[1]].score;
                self.beams.remove(worst);
            } else {
                self.worst_score = self.worst_score.min(score);
            }
        }
    }

    /// `is_done` with `early_stopping=False`.
    fn is_done(&self, best_sum_logprobs: f32, generated_len: usize) -> bool {
        if self.beams.len() < self.num_beams {
            return false;
        }
        let highest_attainable =
            f64::from(best_sum_logprobs) / (generated_len as f64).powf(self.length_penalty);
        self.worst_score >= highest_attainable
    }
}

/// Beam search with transformers 4.40's rules: per step the top 2·beams candidates over
/// beams × vocabulary; an `</s>` candidate is kept as finished only when ranked below `beams`;
/// stop when `is_done`, or at the length limit where the live beams are finished too.
pub fn beam_search<D: StepDecoder>(
    decoder: &mut D,
    config: &SearchConfig,
) -> Result<Generation, SearchError<D::Error>> {
    let num_beams = config.num_beams;
    if num_beams < 2 {
        return Err(SearchError::Config(format!(
            "beam search needs at least 2 beams, got {num_beams}"
        )));
    }
    let vocab_size = decoder.vocab_size();
    let mut hypotheses = Hypotheses {
        num_beams,
        length_penalty: config.length_penalty,
        beams: Vec::new(),
        worst_score: 1e9,
    };
    // Every beam starts from the start token; all but the first start at −1e9 so the first
    // step expands beam 0 only. Their logits are identical, so the decoder runs one row.
    let mut beams: Vec<Beam> = (0..num_beams)
        .map(|i| Beam {
            tokens: Vec::new(),
            logprobs: Vec::new(),
            score: if i == 0 { 0.0 } else { -1e9 },
        })
        .collect();
    let mut rows = checked_step(decoder, &[config.decoder_start_token_id])?;
    let mut row_of_beam: Vec<usize> = vec![0; num_beams];
    let mut done = false;
    let candidates_wanted = 2 * num_beams;
    loop {
        // Top 2·beams of (beam score + token log-prob), ties to the lower (beam, token). Each
        // beam contributes at most 2·beams, so each row is scanned once (rows and beams in
        // parallel) instead of sorting beams × vocabulary entries.
        let normalizers: Vec<(f32, f32)> = rows
            .par_chunks_exact(vocab_size)
            .map(log_softmax_normalizer)
            .collect();
        let per_beam: Vec<Vec<Candidate>> = beams
            .par_iter()
            .enumerate()
            .map(|(b, beam)| {
                let row = row_of_beam[b];
                let logits = &rows[row * vocab_size..(row + 1) * vocab_size];
                best_of_beam(b, beam.score, logits, normalizers[row], candidates_wanted)
            })
            .collect();
        let mut candidates: Vec<Candidate> = per_beam.into_iter().flatten().collect();
        candidates.sort_by(by_rank);
        candidates.truncate(candidates_wanted);

        // `process`: cur_len counts the start token and the token being added.
        let generated_len = beams[0].tokens.len() + 1;
        let mut next_beams = Vec::with_capacity(num_beams);
        let mut parents = Vec::with_capacity(num_beams);
        for (rank, c) in candidates.iter().enumerate() {
            let (score, b, token, logprob) = (c.score, c.beam, c.token, c.logprob);
            if token == config.eos_token_id {
                if rank >= num_beams {
                    continue;
                }
                let beam = &beams[b];
                let mut tokens = beam.tokens.clone();
                tokens.push(token);
                let mut logprobs = beam.logprobs.clone();
                logprobs.push(logprob);
                hypotheses.add(
                    Hypothesis {
                        score: 0.0,
                        tokens,
                        logprobs,
                        finished_with_eos: true,
                    },
                    score,
                    generated_len,
                );
            } else {
                let beam = &beams[b];
                let mut next = beam.clone();
                next.tokens.push(token);
                next.logprobs.push(logprob);
                next.score = score;
                next_beams.push(next);
                parents.push(row_of_beam[b]);
            }
            if next_beams.len() == num_beams {
                break;
            }
        }
        if next_beams.len() < num_beams {
            return Err(SearchError::Config(format!(
                "fewer than {num_beams} candidates that are not </s>: vocabulary too small"
            )));
        }
        let best_candidate = candidates[0].score;
        done = done || hypotheses.is_done(best_candidate, generated_len);
        beams = next_beams;
        if done || generated_len >= config.max_new_tokens {
            break;
        }
        decoder.reorder(&parents).map_err(SearchError::Decoder)?;
        let tokens: Vec<u32> = beams.iter().map(|b| b.tokens[b.tokens.len() - 1]).collect();
        rows = checked_step(decoder, &tokens)?;
        row_of_beam = (0..num_beams).collect();
    }
    if !done {
        // `finalize`: the live beams join the finished ones, scored by their length.
        for beam in &beams {
            hypotheses.add(
                Hypothesis {
                    score: 0.0,
                    tokens: beam.tokens.clone(),
                    logprobs: beam.logprobs.clone(),
                    finished_with_eos: false,
                },
                beam.score,
                beam.tokens.len(),
            );
        }
    }
    // Python's stable sort then pop(): the highest score, the last added among equals.
    let mut ranked: Vec<&Hypothesis> = hypotheses.beams.iter().collect();
    ranked.reverse();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
    let best = *ranked
        .first()
        .ok_or_else(|| SearchError::Config("no hypothesis was produced".into()))?;
    let with_start = |tokens: &[u32]| {
        let mut ids = Vec::with_capacity(tokens.len() + 1);
        ids.push(config.decoder_start_token_id);
        ids.extend_from_slice(tokens);
        ids
    };
    Ok(Generation {
        ids: with_start(&best.tokens),
        token_logprobs: best.logprobs.clone(),
        score: best.score as f32,
        finished_with_eos: best.finished_with_eos,
        alternatives: ranked[1..]
            .iter()
            .map(|h| (with_start(&h.tokens), h.score as f32))
            .collect(),
    })
}
