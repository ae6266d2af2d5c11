//! Greedy search and decoding on the official code's real outputs (reference/parity): a decoder
//! that replays the recorded per-step logits of `Uni_Sign.generate(num_beams=1)` must reproduce
//! its greedy ids, and decoding the recorded greedy and beam ids must give the official texts.

use std::convert::Infallible;

use safetensors::SafeTensors;
use serde_json::Value;
use signcap_engine::decode::{MT5Tokenizer, SearchConfig, StepDecoder, greedy_search};

const TAGS: [&str; 6] = [
    "football_f32",
    "football_bf16",
    "football_lowhand_f32",
    "football_lowhand_bf16",
    "football_tiled300_f32",
    "football_tiled300_bf16",
];

/// Returns the recorded logits of step i at the i-th call (one hypothesis).
struct Replay {
    rows: Vec<Vec<f32>>,
    step: usize,
}

impl StepDecoder for Replay {
    type Error = Infallible;
    fn vocab_size(&self) -> usize {
        self.rows[0].len()
    }
    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, Infallible> {
        assert_eq!(tokens.len(), 1);
        let row = self.rows[self.step].clone();
        self.step += 1;
        Ok(row)
    }
    fn reorder(&mut self, _parents: &[usize]) -> Result<(), Infallible> {
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
fn greedy_replay_and_decodes_match_the_official_run() {
    let dir = signcap_tests::shared_dir().join("reference/parity");
    let tokenizer = MT5Tokenizer::from_spiece(&dir.join("tiny-mt5/spiece.model")).unwrap();
    for tag in TAGS {
        let json: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("expected_{tag}.json"))).unwrap(),
        )
        .unwrap();
        let bytes = std::fs::read(dir.join(format!("expected_{tag}.safetensors"))).unwrap();
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        let logits = tensors.tensor("greedy_step_logits").unwrap();
        let shape = logits.shape().to_vec();
        let values: Vec<f32> = logits
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let rows: Vec<Vec<f32>> = values.chunks_exact(shape[1]).map(<[f32]>::to_vec).collect();
        let steps = rows.len();

        let greedy_ids = ids(&json["greedy_ids"]);
        let config = SearchConfig {
            num_beams: 1,
            max_new_tokens: 20,
            ..SearchConfig::default()
        };
        let mut replay = Replay { rows, step: 0 };
        let g = greedy_search(&mut replay, &config).unwrap();
        assert_eq!(g.ids, greedy_ids, "{tag} greedy ids");
        assert_eq!(replay.step, steps, "{tag}: one step per recorded row");
        assert_eq!(
            g.finished_with_eos,
            json["greedy_finished_with_eos"].as_bool().unwrap(),
            "{tag}"
        );

        for (which, id_list) in [("greedy", greedy_ids), ("beam", ids(&json["beam_ids"]))] {
            let text = tokenizer.decode(&id_list, true, true).unwrap();
            assert_eq!(
                text,
                json[format!("{which}_text")].as_str().unwrap(),
                "{tag} {which}"
            );
            let raw = tokenizer.decode(&id_list, false, true).unwrap();
            assert_eq!(
                raw,
                json[format!("{which}_text_raw_decode")].as_str().unwrap(),
                "{tag} {which} raw"
            );
        }
        assert_eq!(
            tokenizer
                .encode(json["prompt_text"].as_str().unwrap())
                .unwrap(),
            ids(&json["prompt_ids"])
        );
    }
}
