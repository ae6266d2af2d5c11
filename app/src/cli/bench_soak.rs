//! `signcap bench soak`: the live pipeline for minutes on a scripted camera (a real clip's
//! frames, decoded once, looped at 30 fps) with the real pose backend and a model: reports the
//! resident memory over time and whether every stage kept moving.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use signcap_engine::pipeline::paced::PacedSource;
use signcap_engine::pipeline::{
    CaptionConfig, CaptureMode, Pipeline, PipelineConfig, PipelineEvent, SegmentNotice,
    SourceRequest, SystemClock, create_engine_estimator,
};
use signcap_engine::source::{FrameSource, ScriptedSource, SourceInfo, VideoFile};

use super::model_args::ModelArgs;

/// Arguments of `signcap bench soak`.
#[derive(clap::Args, Debug)]
pub struct BenchSoakArgs {
    /// The clip whose frames the scripted camera loops.
    pub video: PathBuf,
    /// Minutes to run.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// Camera rate.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 30.0)]
    pub sample_seconds: f64,
    /// Model files (the tiny parity checkpoint is enough to exercise every stage).
    #[command(flatten)]
    pub model: ModelArgs,
    /// Pose backend.
    #[command(flatten)]
    pub pose: super::pose::PoseBackendArgs,
}

/// Runs the command.
pub fn run(args: BenchSoakArgs) -> anyhow::Result<()> {
    if !(args.minutes > 0.0 && args.fps > 0.0 && args.sample_seconds > 0.0) {
        bail!("--minutes, --fps and --sample-seconds must be positive");
    }
    let Some(translator) = args.model.load()? else {
        bail!("{}", super::model_args::how_to_add_a_model());
    };
    let mut video = VideoFile::open(&args.video)?;
    let mut frames = Vec::new();
    while let Some(frame) = video.next_frame()? {
        frames.push(frame);
    }
    let (width, height) = frames
        .first()
        .map(|f| (f.width, f.height))
        .with_context(|| format!("{}: no frames", args.video.display()))?;
    let info = SourceInfo {
        name: format!("scripted camera ({})", args.video.display()),
        width,
        height,
        fps: args.fps,
        frame_count: None,
        duration: None,
    };
    let clock = SystemClock::shared();
    let paced_clock = clock.clone();
    let pipeline: Pipeline<()> = Pipeline::start(
        SourceRequest::Camera(0),
        Arc::new(move |_| {
            let camera = ScriptedSource::new(info.clone(), frames.clone());
            Ok(Box::new(PacedSource::new(
                Box::new(camera),
                paced_clock.clone(),
                None,
            )) as Box<dyn FrameSource>)
        }),
        Arc::new(create_engine_estimator),
        Arc::new(|_| ()),
        PipelineConfig {
            pose: args.pose.config()?,
            mode: Some(CaptureMode::Live),
            captions: Some(CaptionConfig {
                translator: Some(translator),
                ..CaptionConfig::default()
            }),
            ..PipelineConfig::default()
        },
        clock,
        || {},
    );
    println!("cpu: {}", super::machine::cpu_model());
    let started = Instant::now();
    let total = Duration::from_secs_f64(args.minutes * 60.0);
    let sample_every = Duration::from_secs_f64(args.sample_seconds);
    let mut next_sample = started + sample_every;
    let (mut utterances, mut finals, mut provisional) = (0u64, 0u64, 0u64);
    let mut last = [0u64; 4];
    let mut samples_mb = Vec::new();
    let mut stuck = Vec::new();
    while started.elapsed() < total {
        match pipeline.events.recv_timeout(Duration::from_millis(100)) {
            Ok(PipelineEvent::Segment(SegmentNotice::Ended(_))) => utterances += 1,
            Ok(PipelineEvent::Caption(c)) if c.is_final => finals += 1,
            Ok(PipelineEvent::Caption(_)) => provisional += 1,
            Ok(PipelineEvent::Failed { stage, message }) => bail!("{stage}: {message}"),
            _ => {}
        }
        if Instant::now() >= next_sample {
            next_sample += sample_every;
            let c = &pipeline.counters;
            let now = [
                c.decoded.load(Ordering::Relaxed),
                c.poses_computed.load(Ordering::Relaxed),
                c.poses_segmented.load(Ordering::Relaxed),
                finals,
            ];
            let names = ["capture", "pose", "segmenter", "translator"];
            for (i, name) in names.iter().enumerate() {
                if now[i] == last[i] {
                    stuck.push(format!(
                        "{name} at {:.0} s",
                        started.elapsed().as_secs_f64()
                    ));
                }
            }
            last = now;
            let rss = super::machine::rss_mb().unwrap_or(0.0);
            samples_mb.push(rss);
            println!(
                "{:6.0} s  RSS {rss:7.1} MB  frames {}  poses {}  segmented {}  utterances {utterances}  finals {finals}  provisional {provisional}  dropped before pose {}",
                started.elapsed().as_secs_f64(),
                now[0],
                now[1],
                now[2],
                c.dropped_before_pose.load(Ordering::Relaxed),
            );
        }
    }
    drop(pipeline);
    if samples_mb.len() >= 3 {
        // The first sample includes the warm-up (model arenas, allocator pools).
        let settled = samples_mb[1];
        let peak = samples_mb[1..].iter().copied().fold(0.0, f64::max);
        let end = samples_mb[samples_mb.len() - 1];
        println!(
            "RSS after warm-up {settled:.1} MB, at the end {end:.1} MB ({:+.1} %), peak {peak:.1} MB",
            (end / settled - 1.0) * 100.0
        );
    }
    if stuck.is_empty() {
        println!(
            "every stage advanced in every {:.0} s window",
            args.sample_seconds
        );
    } else {
        println!(
            "stages that did not advance in a window: {}",
            stuck.join(", ")
        );
    }
    Ok(())
}
