//! Greedy and beam search against transformers 4.40: a deterministic toy decoder (logits depend
//! only on the token history), identical to the one in tools/peers/beam_peer.py, whose results
//! transformers' own `BeamSearchScorer` produced (tests/data/search_transformers.json); plus
//! small cases derived by hand.

use std::convert::Infallible;

use serde_json::Value;
use signcap_engine::decode::{Generation, SearchConfig, StepDecoder, beam_search, greedy_search};

const VOCAB: usize = 40;
const EOS: u32 = 1;

/// The toy decoder of beam_peer.py: histories start with the start token.
struct Toy {
    salt: u64,
    histories: Vec<Vec<u32>>,
    steps: usize,
}

impl Toy {
    fn new(salt: u64) -> Self {
        Self {
            salt,
            histories: vec![Vec::new()],
            steps: 0,
        }
    }

    fn logits(&self, history: &[u32]) -> Vec<f32> {
        let mut s = self.salt;
        for &t in history {
            s = (s * 31 + u64::from(t) + 7) % 1_000_003;
        }
        let n = history.len() as f32 - 1.0;
        (0..VOCAB as u64)
            .map(|v| {
                let k = ((s * (v + 1) * 7919) % 997) * 64 + v;
                let mut x = k as f32 / 640.0f32;
                if v == u64::from(EOS) {
                    x += n * 1.5 - 6.0;
                }
                x
            })
            .collect()
    }
}

impl StepDecoder for Toy {
    type Error = Infallible;

    fn vocab_size(&self) -> usize {
        VOCAB
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, Infallible> {
        assert_eq!(
            tokens.len(),
            self.histories.len(),
            "one token per live hypothesis"
        );
        self.steps += 1;
        let mut out = Vec::with_capacity(tokens.len() * VOCAB);
        for (history, &t) in self.histories.iter_mut().zip(tokens) {
            history.push(t);
        }
        for history in &self.histories {
            out.extend(self.logits(history));
        }
        Ok(out)
    }

    fn reorder(&mut self, parents: &[usize]) -> Result<(), Infallible> {
        self.histories = parents.iter().map(|&p| self.histories[p].clone()).collect();
        Ok(())
    }
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn matches_transformers_beam_search_scorer() {
    let path = signcap_tests::repo_root().join("tests/data/search_transformers.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 160);
    let mut failures = Vec::new();
    for case in cases {
        let salt = case["salt"].as_u64().unwrap();
        let config = SearchConfig {
            num_beams: case["num_beams"].as_u64().unwrap() as usize,
            max_new_tokens: case["max_new_tokens"].as_u64().unwrap() as usize,
            ..SearchConfig::default()
        };
        let beam = beam_search(&mut Toy::new(salt), &config).unwrap();
        let want_ids = ids(&case["beam_ids"]);
        let want_score = case["beam_score"].as_f64().unwrap();
        let eos_end = want_ids.last() == Some(&EOS) && want_ids.len() <= config.max_new_tokens + 1;
        if beam.ids != want_ids
            || (f64::from(beam.score) - want_score).abs() > 1e-5
            || beam.finished_with_eos != eos_end
        {
            failures.push(format!(
                "beam salt {salt} {config:?}: got {:?} {} {}, want {want_ids:?} {want_score}",
                beam.ids, beam.score, beam.finished_with_eos
            ));
        }
        // The per-token log-probs add up to the score × generated length.
        let sum: f64 = beam.token_logprobs.iter().map(|&x| f64::from(x)).sum();
        let len = beam.ids.len() - 1;
        assert_eq!(beam.token_logprobs.len(), len);
        assert!((sum / len as f64 - f64::from(beam.score)).abs() < 1e-4);

        let greedy = greedy_search(&mut Toy::new(salt), &config).unwrap();
        let want_greedy = ids(&case["greedy_ids"]);
        let want_logprobs = case["greedy_logprobs"].as_array().unwrap();
        let logprobs_close = greedy.token_logprobs.len() == want_logprobs.len()
            && greedy
                .token_logprobs
                .iter()
                .zip(want_logprobs)
                .all(|(g, w)| (f64::from(*g) - w.as_f64().unwrap()).abs() < 1e-5);
        if greedy.ids != want_greedy || !logprobs_close {
            failures.push(format!(
                "greedy salt {salt}: got {:?}, want {want_greedy:?}",
                greedy.ids
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A decoder with a fixed next-token distribution per history, given as probabilities.
struct Table(Vec<(Vec<u32>, [f32; 4])>, Vec<Vec<u32>>);

impl StepDecoder for Table {
    type Error = Infallible;
    fn vocab_size(&self) -> usize {
        4
    }
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, Infallible> {
        let mut out = Vec::new();
        for (history, &t) in self.1.iter_mut().zip(tokens) {
            history.push(t);
            let probs = self
                .0
                .iter()
                .find(|(h, _)| h == history)
                .map(|(_, p)| *p)
                .unwrap_or([0.01, 0.97, 0.01, 0.01]);
            out.extend(probs.iter().map(|p| p.ln()));
        }
        Ok(out)
    }
    fn reorder(&mut self, parents: &[usize]) -> Result<(), Infallible> {
        self.1 = parents.iter().map(|&p| self.1[p].clone()).collect();
        Ok(())
    }
}

/// Greedy takes token 2 (0.6) then gets stuck with 0.3; beam search finds 3 then 2 (0.4 · 0.9).
#[test]
fn beam_beats_greedy_by_hand() {
    let table: Vec<(Vec<u32>, [f32; 4])> = vec![
        (vec![0], [0.0, 0.0, 0.6, 0.4]),
        (vec![0, 2], [0.3, 0.3, 0.2, 0.2]),
        (vec![0, 3], [0.01, 0.04, 0.9, 0.05]),
    ];
    let config = SearchConfig {
        num_beams: 2,
        max_new_tokens: 5,
        ..SearchConfig::default()
    };
    // 0 probabilities give −inf logits; keep them tiny instead.
    let table: Vec<(Vec<u32>, [f32; 4])> = table
        .into_iter()
        .map(|(h, p)| (h, p.map(|x: f32| x.max(1e-6))))
        .collect();
    let greedy = greedy_search(&mut Table(table.clone(), vec![Vec::new()]), &config).unwrap();
    assert_eq!(&greedy.ids[..2], &[0, 2]);
    let beam: Generation = beam_search(&mut Table(table, vec![Vec::new()]), &config).unwrap();
    // [0, 3, 2, </s>]: log(0.4) + log(0.9) + log(0.97) over 3 tokens beats every path via 2.
    assert_eq!(beam.ids, vec![0, 3, 2, 1]);
    assert!(beam.finished_with_eos);
    let want = ((0.4f64).ln() + (0.9f64).ln() + (0.97f64).ln()) / 3.0;
    assert!(
        (f64::from(beam.score) - want).abs() < 1e-4,
        "{} vs {want}",
        beam.score
    );
    // The other beam is kept as the alternative: a different sequence, scored lower, in the
    // same id space (start token first).
    assert_eq!(beam.alternatives.len(), 1, "{:?}", beam.alternatives);
    let (other_ids, other_score) = &beam.alternatives[0];
    assert_eq!(other_ids[0], 0);
    assert_ne!(other_ids, &beam.ids);
    assert!(
        *other_score <= beam.score,
        "{other_score} vs {}",
        beam.score
    );
    assert!(greedy.alternatives.is_empty());
}

/// With `</s>` never likely the search runs to the limit and returns the live best beam.
#[test]
fn stops_at_max_new_tokens() {
    struct NoEos(usize);
    impl StepDecoder for NoEos {
        type Error = Infallible;
        fn vocab_size(&self) -> usize {
            5
        }
        fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, Infallible> {
            self.0 += 1;
            Ok(tokens
                .iter()
                .flat_map(|_| [0.0, -50.0, 3.0, 1.0, 0.5])
                .collect())
        }
        fn reorder(&mut self, _parents: &[usize]) -> Result<(), Infallible> {
            Ok(())
        }
    }
    let config = SearchConfig {
        max_new_tokens: 7,
        ..SearchConfig::default()
    };
    let mut decoder = NoEos(0);
    let g = beam_search(&mut decoder, &config).unwrap();
    assert_eq!(g.ids, vec![0, 2, 2, 2, 2, 2, 2, 2]);
    assert!(!g.finished_with_eos);
    assert_eq!(decoder.0, 7, "one decoder step per generated token");
}
