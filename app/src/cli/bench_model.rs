//! `signcap bench model`: the mT5-base translator (random weights, full size) timed next to
//! PyTorch on the same weights and inputs, plus a full-size parity check. Both sides time
//! their whole search (`generate`) for a fixed number of new tokens.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use candle_core::{DType, Device, Tensor};
use signcap_engine::decode::{SearchConfig, StepDecoder, generate};
use signcap_engine::model::{Mt5, Mt5Config, checkpoint::read_safetensors, load_mt5};

/// Arguments of `signcap bench model`.
#[derive(clap::Args, Debug)]
pub struct BenchModelArgs {
    /// Python with torch and transformers 4.40 (runs tools/bench_torch_mt5.py, which also
    /// writes the shared random weights).
    #[arg(long)]
    pub torch_python: PathBuf,
    /// Folder for the random weights and inputs (about 2.4 GB; reused between runs).
    #[arg(long, default_value = "/tmp/signcap-bench-model")]
    pub work_dir: PathBuf,
    /// Encoder lengths (prompt + frames), comma-separated.
    #[arg(long, default_value = "64,128,256", value_delimiter = ',')]
    pub encoder_lengths: Vec<usize>,
    /// New tokens per timed generation.
    #[arg(long, default_value_t = 20)]
    pub new_tokens: usize,
    /// Timed repeats after one warm-up (best is reported).
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    /// How signcap holds the mT5 matrices: `f32`, or `bf16` (rounded from the same random
    /// weights; f32 accumulation). The parity check is exact only for `f32`.
    #[arg(long, default_value = "f32")]
    pub weights: String,
    /// Threads for both sides (PyTorch `set_num_threads`; candle reads `RAYON_NUM_THREADS`).
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
}

/// Best wall time in ms of `repeats` runs after one warm-up.
fn best_ms(repeats: usize, mut run: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    run()?;
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        run()?;
        best = best.min(start.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(best)
}

/// Greedy decoding of exactly `n` tokens with `</s>` suppressed (as transformers'
/// `min_new_tokens` does); returns the ids (start token first) and the raw logits per step.
fn greedy_fixed(
    mt5: &Mt5,
    encoder_hidden_states: &Tensor,
    mask: &Tensor,
    n: usize,
) -> anyhow::Result<(Vec<u32>, Vec<Vec<f32>>)> {
    let config = mt5.config();
    let mut decoder = mt5.start_decoding(encoder_hidden_states, mask)?;
    let mut ids = vec![config.decoder_start_token_id];
    let mut all_logits = Vec::with_capacity(n);
    for _ in 0..n {
        let last = ids.last().copied().unwrap_or(config.decoder_start_token_id);
        let logits = decoder.step(&[last])?;
        let next = logits
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u32 != config.eos_token_id)
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i as u32)
            .context("empty vocabulary")?;
        ids.push(next);
        all_logits.push(logits);
    }
    Ok((ids, all_logits))
}

/// A decoder whose `</s>` logit is −∞, as transformers' `min_new_tokens` makes it, so a
/// search runs its full length on random weights.
struct SuppressEos<D> {
    inner: D,
    eos_token_id: u32,
}

impl<D: StepDecoder> StepDecoder for SuppressEos<D> {
    type Error = D::Error;

    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, D::Error> {
        let mut logits = self.inner.step(tokens)?;
        let vocab = self.inner.vocab_size();
        for row in logits.chunks_exact_mut(vocab.max(1)) {
            if let Some(eos) = row.get_mut(self.eos_token_id as usize) {
                *eos = f32::NEG_INFINITY;
            }
        }
        Ok(logits)
    }

    fn reorder(&mut self, parents: &[usize]) -> Result<(), D::Error> {
        self.inner.reorder(parents)
    }
}

/// The product's search (`generate`: greedy for 1 beam, else beam search with its
/// log-softmax, top-k and cache reorders) for exactly `n` new tokens.
fn search_fixed(
    mt5: &Mt5,
    encoder_hidden_states: &Tensor,
    mask: &Tensor,
    n: usize,
    num_beams: usize,
) -> anyhow::Result<()> {
    let config = mt5.config();
    let mut decoder = SuppressEos {
        inner: mt5.start_decoding(encoder_hidden_states, mask)?,
        eos_token_id: config.eos_token_id,
    };
    let search = SearchConfig {
        num_beams,
        max_new_tokens: n,
        decoder_start_token_id: config.decoder_start_token_id,
        eos_token_id: config.eos_token_id,
        ..SearchConfig::default()
    };
    let generation = generate(&mut decoder, &search)?;
    if generation.ids.len() != n + 1 {
        bail!(
            "the search produced {} tokens instead of {n}",
            generation.ids.len() - 1
        );
    }
    Ok(())
}

/// Runs the command.
pub fn run(args: BenchModelArgs) -> anyhow::Result<()> {
    let Some(&first_len) = args.encoder_lengths.first() else {
        bail!("--encoder-lengths is empty");
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/bench_torch_mt5.py");
    let lengths: Vec<String> = args.encoder_lengths.iter().map(|l| l.to_string()).collect();
    eprintln!("running the PyTorch peer (first run writes ~2.4 GB of random weights)…");
    let output = Command::new(&args.torch_python)
        .arg(&script)
        .arg("--out-dir")
        .arg(&args.work_dir)
        .args(["--encoder-lengths", &lengths.join(",")])
        .args(["--new-tokens", &args.new_tokens.to_string()])
        .args(["--repeats", &args.repeats.to_string()])
        .args(["--threads", &args.threads.to_string()])
        .output()
        .with_context(|| format!("starting {}", args.torch_python.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let torch: serde_json::Value = serde_json::from_slice(&output.stdout)
        .with_context(|| format!("reading the output of {}", script.display()))?;

    let config = Mt5Config::load(&args.work_dir.join("config.json"))?;
    let load_start = Instant::now();
    let dtype = match args.weights.as_str() {
        "f32" => DType::F32,
        "bf16" => DType::BF16,
        other => bail!("--weights {other}: expected f32 or bf16"),
    };
    let mt5 = load_mt5(
        &args.work_dir.join("mt5_base_random.safetensors"),
        &config,
        dtype,
    )?;
    let load_s = load_start.elapsed().as_secs_f64();
    let inputs = read_safetensors(&args.work_dir.join("inputs.safetensors"))?;

    let candle_threads = candle_core::utils::get_num_threads();
    if candle_threads != args.threads {
        eprintln!(
            "warning: signcap uses {candle_threads} threads (RAYON_NUM_THREADS), PyTorch {}; set RAYON_NUM_THREADS={} to compare like with like",
            args.threads, args.threads
        );
    }
    println!(
        "mT5-base (random weights), signcap weights {} ({:?} kernels, {candle_threads} threads), PyTorch {} f32 ({} threads), {} new tokens, best of {} after a warm-up; load {load_s:.1} s",
        args.weights,
        signcap_engine::model::kernels::Isa::selected(),
        torch["torch_version"].as_str().unwrap_or("?"),
        args.threads,
        args.new_tokens,
        args.repeats
    );
    println!("CPU: {}", super::machine::cpu_model());
    println!(
        "{:>7} | {:>23} | {:>27} | {:>27} | {:>8}",
        "enc len",
        "encoder ms (torch)",
        "greedy ms/token (torch)",
        "beam-4 ms/step (torch)",
        "beam/greedy"
    );
    for &len in &args.encoder_lengths {
        let embeds = inputs
            .get(&format!("inputs_embeds_{len}"))
            .with_context(|| format!("inputs.safetensors lacks inputs_embeds_{len}"))?;
        let mask = Tensor::ones((1, len), DType::F32, &Device::Cpu)?;
        let enc_ms = best_ms(args.repeats, || {
            mt5.encode(embeds, &mask)?;
            Ok(())
        })?;
        let hidden = mt5.encode(embeds, &mask)?;
        let greedy_ms = best_ms(args.repeats, || {
            search_fixed(&mt5, &hidden, &mask, args.new_tokens, 1)
        })? / args.new_tokens as f64;
        let beam_ms = best_ms(args.repeats, || {
            search_fixed(&mt5, &hidden, &mask, args.new_tokens, 4)
        })? / args.new_tokens as f64;
        let t = &torch["lengths"][len.to_string()];
        let f = |k: &str| t[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{len:>7} | {enc_ms:>9.1} ({:>7.1}) ×{:.2} | {greedy_ms:>11.1} ({:>7.1}) ×{:.2} | {beam_ms:>11.1} ({:>7.1}) ×{:.2} | {:>8.2}",
            f("encoder_ms"),
            enc_ms / f("encoder_ms"),
            f("greedy_ms_per_token"),
            greedy_ms / f("greedy_ms_per_token"),
            f("beam4_ms_per_step"),
            beam_ms / f("beam4_ms_per_step"),
            beam_ms / greedy_ms,
        );
        if len == first_len {
            let expected =
                read_safetensors(&args.work_dir.join(format!("expected_{len}.safetensors")))?;
            let (ids, logits) = greedy_fixed(&mt5, &hidden, &mask, args.new_tokens)?;
            let want_ids: Vec<u32> = t["greedy_ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_u64())
                        .map(|v| v as u32)
                        .collect()
                })
                .unwrap_or_default();
            let hidden_diff = max_abs(&hidden, &expected["encoder_last_hidden_state"])?;
            let want_logits = expected["greedy_step_logits"].to_dtype(DType::F32)?;
            let steps = want_logits.dim(0)?.min(logits.len());
            let ours = Tensor::from_vec(
                logits[..steps].concat(),
                (steps, config.vocab_size),
                &Device::Cpu,
            )?;
            let logits_diff = max_abs(&ours, &want_logits.narrow(0, 0, steps)?)?;
            println!(
                "full-size parity at length {len}: greedy ids {} ({} tokens); encoder max abs diff {hidden_diff:.2e}; first {steps} steps' logits max abs diff {logits_diff:.2e}",
                if ids == want_ids {
                    "identical"
                } else {
                    "DIFFER"
                },
                args.new_tokens
            );
        }
    }
    println!(
        "max RSS: signcap {:.0} MB, PyTorch {:.0} MB",
        super::machine::peak_rss_mb().unwrap_or(f64::NAN),
        torch["max_rss_mb"].as_f64().unwrap_or(f64::NAN)
    );
    Ok(())
}

fn max_abs(a: &Tensor, b: &Tensor) -> anyhow::Result<f32> {
    let d = (a.to_dtype(DType::F32)? - b.to_dtype(DType::F32)?)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    Ok(d)
}
