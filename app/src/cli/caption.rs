//! `signcap caption`: a video or pose file through the streaming pipeline (every frame, nothing
//! dropped) to captions in SRT, WebVTT or JSON. Without a model it still finds the signing
//! segments and writes them out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use signcap_engine::captions::{Caption, CaptionFormat, write_captions};
use signcap_engine::keypoints::{self, PoseSequence};
use signcap_engine::pipeline::captions::{Segmentation, SegmentSpan};
use signcap_engine::pipeline::{
    CaptionConfig, CaptionUpdate, CaptureMode, Pipeline, PipelineConfig, PipelineEvent,
    SegmentNotice, SegmenterConfig, SourceRequest, Stage, SystemClock, create_engine_estimator,
    open_engine_source,
};
use signcap_engine::source::SourceInfo;

use super::model_args::{ModelArgs, how_to_add_a_model};

/// How the input becomes utterances.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum SegmentsArg {
    /// From the hands' activity: each utterance its own caption.
    #[default]
    Auto,
    /// The whole input is one utterance (a clip of one sentence or sign).
    Whole,
}

/// Arguments of `signcap caption`.
#[derive(clap::Args, Debug)]
pub struct CaptionArgs {
    /// A video, or a pose file (.pose, .json, .pkl).
    pub input: PathBuf,
    /// Where to write the captions; the extension picks the format: .srt, .vtt or .json.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the keypoints of every frame here (.pose, .json or .pkl).
    #[arg(long)]
    pub keypoints: Option<PathBuf>,
    /// How the input becomes utterances.
    #[arg(long, value_enum, default_value_t)]
    pub segments: SegmentsArg,
    /// Seconds the hands must rest to end an utterance.
    #[arg(long)]
    pub rest_seconds: Option<f64>,
    /// Model files and search settings.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Pose backend for video input.
    #[command(flatten)]
    pub pose: super::pose::PoseBackendArgs,
}

/// One window of an utterance with its caption, if a model made one.
struct Row {
    span: SegmentSpan,
    caption: Option<CaptionUpdate>,
}

/// Runs the command.
pub fn run(args: CaptionArgs) -> anyhow::Result<()> {
    let format = CaptionFormat::from_path(&args.output).with_context(|| {
        format!(
            "{}: unknown caption format (use .srt, .vtt or .json)",
            args.output.display()
        )
    })?;
    for path in std::iter::once(&args.output).chain(args.keypoints.as_ref()) {
        check_output_folder(path)?;
    }
    if let Some(path) = &args.keypoints
        && !keypoints::is_pose_file(path)
    {
        bail!(
            "{}: unknown pose file type (expected .pose, .json or .pkl)",
            path.display()
        );
    }
    if !args.input.is_file() {
        bail!("{}: no such file", args.input.display());
    }
    // The model loads first: a bad checkpoint should fail before the clip is read.
    let translator = args.model.load()?;
    if translator.is_none() {
        eprintln!("{}", how_to_add_a_model());
    }
    let mut segmenter = SegmenterConfig::default();
    if let Some(rest) = args.rest_seconds {
        if !(rest.is_finite() && rest > 0.0) {
            bail!("--rest-seconds {rest}: expected seconds > 0");
        }
        segmenter.rest_seconds = rest;
    }
    let config = PipelineConfig {
        pose: args.pose.config()?,
        mode: Some(CaptureMode::Lossless),
        captions: Some(CaptionConfig {
            segmenter,
            segmentation: match args.segments {
                SegmentsArg::Auto => Segmentation::Auto,
                SegmentsArg::Whole => Segmentation::WholeClip,
            },
            translator: translator.clone(),
            provisional_interval: None,
        }),
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::start(
        SourceRequest::File(args.input.clone()),
        Arc::new(open_engine_source),
        Arc::new(create_engine_estimator),
        Arc::new(|_| ()),
        config,
        SystemClock::shared(),
        || {},
    );
    let (info, rows) = collect(&pipeline, &args.input)?;

    if let Some(path) = &args.keypoints {
        let frames = pipeline.store.poses().into_iter().map(|(_, p)| p.pose).collect();
        let sequence = PoseSequence {
            width: info.width,
            height: info.height,
            fps: info.fps,
            frames,
        };
        keypoints::write_pose_file(path, &sequence)?;
    }
    drop(pipeline);
    write_output(&args.output, format, &args.input, &info, &rows, translator.is_some())?;
    let captions = rows.iter().filter(|r| r.caption.is_some()).count();
    eprintln!(
        "{}: {} signing segment(s), {} caption(s) written to {}",
        args.input.display(),
        rows.len(),
        captions,
        args.output.display()
    );
    Ok(())
}

fn check_output_folder(path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!("{}: output folder does not exist", dir.display());
    }
    Ok(())
}

/// Drains the pipeline's events until every stage is done.
fn collect<D>(pipeline: &Pipeline<D>, input: &Path) -> anyhow::Result<(SourceInfo, Vec<Row>)> {
    let mut info = None;
    let mut rows: Vec<Row> = Vec::new();
    let mut progress = ProgressBar::hidden();
    loop {
        let event = match pipeline.events.recv_timeout(Duration::from_millis(100)) {
            Ok(event) => event,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                progress.set_position(pipeline.counters.poses_segmented.load(Ordering::Relaxed));
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                bail!("{}: the pipeline stopped before it finished", input.display())
            }
        };
        match event {
            PipelineEvent::Opened(opened) => {
                progress = super::pose::progress_bar(opened.frame_count);
                info = Some(opened);
            }
            PipelineEvent::Failed { stage, message } => {
                progress.finish_and_clear();
                return Err(match stage {
                    Stage::Translator => anyhow::anyhow!("translating {}: {message}", input.display()),
                    _ => anyhow::anyhow!("{message}"),
                });
            }
            PipelineEvent::Segment(SegmentNotice::Ended(span)) => rows.push(Row {
                span,
                caption: None,
            }),
            PipelineEvent::Caption(update) if update.is_final => {
                if let Some(row) = rows.iter_mut().find(|r| {
                    r.span.utterance == update.span.utterance && r.span.window == update.span.window
                }) {
                    row.caption = Some(update);
                }
            }
            PipelineEvent::Finished => break,
            PipelineEvent::PoseReady
            | PipelineEvent::Ended
            | PipelineEvent::Caption(_)
            | PipelineEvent::Segment(SegmentNotice::Started { .. }) => {}
        }
    }
    progress.finish_and_clear();
    let info = info.with_context(|| format!("{}: the source never opened", input.display()))?;
    rows.sort_by_key(|r| (r.span.first_index, r.span.window));
    Ok((info, rows))
}

fn write_output(
    path: &Path,
    format: CaptionFormat,
    input: &Path,
    info: &SourceInfo,
    rows: &[Row],
    with_model: bool,
) -> anyhow::Result<()> {
    if format == CaptionFormat::Json {
        let segments: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                let caption = row.caption.as_ref();
                serde_json::json!({
                    "start": row.span.start,
                    "end": row.span.end,
                    "text": caption.map(|c| c.text.as_str()),
                    "confidence": caption.map(|c| c.confidence),
                    "frames": [row.span.first_index, row.span.last_index],
                    "utterance": row.span.utterance,
                    "window": row.span.window,
                    "ids": caption.map(|c| &c.ids),
                    "token_logprobs": caption.map(|c| &c.token_logprobs),
                    "alternatives": caption.map(|c| &c.alternatives),
                })
            })
            .collect();
        let document = serde_json::json!({
            "source": input.display().to_string(),
            "fps": info.fps,
            "model": with_model,
            "segments": segments,
        });
        let text = serde_json::to_string_pretty(&document)?;
        signcap_engine::fsutil::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(());
    }
    let captions: Vec<Caption> = rows
        .iter()
        .map(|row| Caption {
            start: row.span.start,
            end: row.span.end,
            text: match &row.caption {
                Some(c) if !c.text.trim().is_empty() => c.text.clone(),
                Some(_) => "…".into(),
                None => "[signing]".into(),
            },
            confidence: row.caption.as_ref().map_or(0.0, |c| c.confidence),
        })
        .collect();
    write_captions(path, &captions, format)?;
    Ok(())
}
