//! `signcap bench live`: a clip streamed at its own frame rate through the whole live pipeline
//! (real pose stage, segmenter, translator) with full-size mT5-base-shaped random weights, bf16
//! as released. Reports the pose rate held, the spacing of provisional captions, the time from
//! the end of signing to the final caption (greedy and beam search) and peak memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use candle_core::DType;
use signcap_engine::decode::tokenizer::MT5Tokenizer;
use signcap_engine::decode::translator::{Translator, TranslatorConfig};
use signcap_engine::model::checkpoint::random_weights;
use signcap_engine::model::{
    Mt5Config, PoseEncoderConfig, UniSign, UniSignConfig, WeightPrecision,
};
use signcap_engine::pipeline::paced::PacedSource;

use crate::gui::latency::percentile;
use signcap_engine::pipeline::{
    CaptionConfig, CaptureMode, Pipeline, PipelineConfig, PipelineEvent, SegmentNotice,
    SegmenterConfig, SourceRequest, SystemClock, create_engine_estimator, open_engine_source,
};

/// Arguments of `signcap bench live`.
#[derive(clap::Args, Debug)]
pub struct BenchLiveArgs {
    /// The clip to stream (played as a camera at its frame rate).
    pub video: PathBuf,
    /// Times the clip plays back to back (each pass is one or more utterances).
    #[arg(long, default_value_t = 3)]
    pub passes: usize,
    /// Beam counts to measure, comma-separated (1 is greedy).
    #[arg(long, default_value = "1,4", value_delimiter = ',')]
    pub beams: Vec<usize>,
    /// Most new tokens per caption: random weights never say `</s>`, so every caption runs to
    /// this length (a typical sentence is 10-20 tokens).
    #[arg(long, default_value_t = 16)]
    pub max_new_tokens: usize,
    /// Milliseconds between provisional re-translations.
    #[arg(long, default_value_t = 700)]
    pub provisional_ms: u64,
    /// Threads for the model (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub model_threads: usize,
    /// Folder for the synthetic tokenizer.
    #[arg(long, default_value = "/tmp/signcap-bench-live")]
    pub work_dir: PathBuf,
    /// Pose backend.
    #[command(flatten)]
    pub pose: super::pose::PoseBackendArgs,
}

/// Figures of one streamed run.
struct RunFigures {
    beams: usize,
    pose_fps: f64,
    source_fps: f64,
    utterances: usize,
    provisional_gaps_ms: Vec<f32>,
    final_after_window_ms: Vec<f32>,
    dropped_before_pose: u64,
}

/// Runs the command.
pub fn run(args: BenchLiveArgs) -> anyhow::Result<()> {
    if args.beams.is_empty() || args.beams.contains(&0) {
        bail!("--beams needs counts of at least 1");
    }
    if !args.video.is_file() {
        bail!("{}: no such file", args.video.display());
    }
    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("cannot make {}", args.work_dir.display()))?;
    let tokenizer_path = args.work_dir.join("tokenizer.json");
    let mt5 = Mt5Config::mt5_base();
    write_synthetic_tokenizer(&tokenizer_path, mt5.vocab_size)?;
    let config = UniSignConfig {
        pose: PoseEncoderConfig::default(),
        mt5,
    };
    eprintln!("bench live: making mT5-base-shaped random weights (bf16)…");
    let weights = random_weights(&config, DType::BF16, 7)?;
    let model = UniSign::from_weights(&weights, &config, WeightPrecision::Stored)?;
    drop(weights);
    println!("cpu: {}", super::machine::cpu_model());
    println!(
        "clip: {}, {} passes, max {} new tokens, provisional every {} ms",
        args.video.display(),
        args.passes,
        args.max_new_tokens,
        args.provisional_ms
    );
    let mut translator_config =
        TranslatorConfig::new("random-mt5-base.safetensors", &args.work_dir);
    translator_config.max_new_tokens = args.max_new_tokens;
    translator_config.threads = args.model_threads;
    let mut figures = Vec::new();
    let mut model = Some(model);
    for &beams in &args.beams {
        translator_config.beams = beams;
        let translator = Arc::new(Translator::from_parts(
            model.take().context("model moved")?,
            MT5Tokenizer::from_tokenizer_json(&tokenizer_path)?,
            &translator_config,
        )?);
        figures.push(stream(&args, translator.clone())?);
        model = Some(
            Arc::try_unwrap(translator)
                .map_err(|_| anyhow::anyhow!("the pipeline kept the model"))?
                .into_model(),
        );
    }
    for f in &figures {
        let ms = |values: &[f32], p: f64| percentile(values, p).unwrap_or(0.0);
        let (p50, p95) = (
            ms(&f.final_after_window_ms, 0.5),
            ms(&f.final_after_window_ms, 0.95),
        );
        println!(
            "beams {}: pose {:.1} fps held (source {:.2} fps, {} frames dropped before pose); {} utterances; provisional gap p50 {:.0} ms, max {:.0} ms; final caption after the window's last frame p50 {:.0} ms, p95 {:.0} ms",
            f.beams,
            f.pose_fps,
            f.source_fps,
            f.dropped_before_pose,
            f.utterances,
            ms(&f.provisional_gaps_ms, 0.5),
            ms(&f.provisional_gaps_ms, 1.0),
            p50,
            p95,
        );
    }
    if let Some(rss) = super::machine::peak_rss_mb() {
        println!("peak RSS: {rss:.0} MB");
    }
    Ok(())
}

fn stream(args: &BenchLiveArgs, translator: Arc<Translator>) -> anyhow::Result<RunFigures> {
    let beams = translator.config().beams;
    let clock = SystemClock::shared();
    let paced_clock = clock.clone();
    let passes = args.passes.max(1);
    let pipeline: Pipeline<()> = Pipeline::start(
        SourceRequest::File(args.video.clone()),
        Arc::new(move |request| {
            let clip = open_engine_source(request)?;
            Ok(Box::new(PacedSource::new(clip, paced_clock.clone(), Some(passes))) as _)
        }),
        Arc::new(create_engine_estimator),
        Arc::new(|_| ()),
        PipelineConfig {
            pose: args.pose.config()?,
            mode: Some(CaptureMode::Live),
            captions: Some(CaptionConfig {
                segmenter: SegmenterConfig::default(),
                translator: Some(translator),
                provisional_interval: Some(Duration::from_millis(args.provisional_ms)),
                ..CaptionConfig::default()
            }),
            ..PipelineConfig::default()
        },
        clock,
        || {},
    );
    let started = Instant::now();
    let mut source_fps = 0.0;
    let mut last_provisional: Option<(u64, Instant)> = None;
    let mut provisional_gaps_ms = Vec::new();
    let mut final_after_window_ms = Vec::new();
    let mut utterances = 0;
    let mut pose_done_at = None;
    for event in pipeline.events.iter() {
        match event {
            PipelineEvent::Opened(info) => source_fps = info.fps,
            PipelineEvent::Failed { stage, message } => bail!("{stage}: {message}"),
            PipelineEvent::Segment(SegmentNotice::Started { .. }) => utterances += 1,
            PipelineEvent::Ended => pose_done_at = Some(Instant::now()),
            PipelineEvent::Caption(update) if !update.is_final => {
                if let Some((utterance, at)) = last_provisional
                    && utterance == update.span.utterance
                {
                    provisional_gaps_ms.push((update.ready_at - at).as_secs_f32() * 1000.0);
                }
                last_provisional = Some((update.span.utterance, update.ready_at));
            }
            PipelineEvent::Caption(update) => {
                if let Some(last) = update.last_frame_captured_at {
                    final_after_window_ms.push((update.ready_at - last).as_secs_f32() * 1000.0);
                }
                last_provisional = None;
            }
            PipelineEvent::Finished => break,
            _ => {}
        }
    }
    let elapsed = pose_done_at.unwrap_or_else(Instant::now) - started;
    let poses = pipeline.counters.poses_computed.load(Ordering::Relaxed);
    Ok(RunFigures {
        beams,
        pose_fps: poses as f64 / elapsed.as_secs_f64().max(1e-9),
        source_fps,
        utterances,
        provisional_gaps_ms,
        final_after_window_ms,
        dropped_before_pose: pipeline
            .counters
            .dropped_before_pose
            .load(Ordering::Relaxed),
    })
}

/// A real `tokenizers` Unigram tokenizer with mT5's special ids and `vocab_size` pieces: the
/// prompts' words, single characters, then filler pieces. The real mT5 vocabulary cannot be had
/// here; this one tokenizes the prompt into a similar number of pieces and decodes any id.
fn write_synthetic_tokenizer(path: &std::path::Path, vocab_size: usize) -> anyhow::Result<()> {
    let mut vocab: Vec<(String, f64)> = vec![
        ("<pad>".into(), 0.0),
        ("</s>".into(), 0.0),
        ("<unk>".into(), 0.0),
    ];
    for word in [
        "Translate",
        "sign",
        "language",
        "video",
        "to",
        "English",
        "Chinese",
    ] {
        vocab.push((format!("▁{word}"), -5.0));
    }
    for c in (b' '..=b'~').map(char::from) {
        vocab.push((c.to_string(), -8.0));
        vocab.push((format!("▁{c}"), -8.0));
    }
    let mut i = 0usize;
    while vocab.len() < vocab_size {
        vocab.push((format!("▁w{i}"), -12.0));
        i += 1;
    }
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            {"id": 0, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
        ],
        "normalizer": null,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}
        },
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": false}
    });
    std::fs::write(path, serde_json::to_vec(&json)?)
        .with_context(|| format!("cannot write {}", path.display()))
}
