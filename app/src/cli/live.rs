//! `signcap live`: captions from a webcam (or a recorded clip played as one) in the terminal,
//! provisional lines as the signing goes on and a final line when it ends, with a transcript
//! file that grows line by line.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use signcap_engine::pipeline::paced::PacedSource;
use signcap_engine::pipeline::{
    CaptionConfig, CaptureMode, Pipeline, PipelineConfig, PipelineEvent, SegmentNotice,
    SourceRequest, SystemClock, create_engine_estimator, open_engine_source,
};

use super::model_args::{ModelArgs, how_to_add_a_model};

/// Arguments of `signcap live`.
#[derive(clap::Args, Debug)]
pub struct LiveArgs {
    /// Camera index in the device list.
    #[arg(long, default_value_t = 0, conflicts_with = "video")]
    pub camera: u32,
    /// Play this video at its frame rate as if it were a camera instead.
    #[arg(long)]
    pub video: Option<PathBuf>,
    /// Append each final caption to this file as it is made.
    #[arg(long)]
    pub transcript: Option<PathBuf>,
    /// Milliseconds between provisional re-translations while signing.
    #[arg(long, default_value_t = 700)]
    pub provisional_ms: u64,
    /// Model files and search settings.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Pose backend.
    #[command(flatten)]
    pub pose: super::pose::PoseBackendArgs,
}

/// Runs the command until the source ends.
pub fn run(args: LiveArgs) -> anyhow::Result<()> {
    if args.provisional_ms == 0 {
        bail!("--provisional-ms must be at least 1");
    }
    let translator = args.model.load()?;
    if translator.is_none() {
        eprintln!("{}", how_to_add_a_model());
    }
    let mut transcript = match &args.transcript {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the transcript {}", path.display()))?,
        ),
        None => None,
    };
    let clock = SystemClock::shared();
    let request = match &args.video {
        Some(path) => SourceRequest::File(path.clone()),
        None => SourceRequest::Camera(args.camera),
    };
    let paced_clock = clock.clone();
    let config = PipelineConfig {
        pose: args.pose.config()?,
        mode: Some(CaptureMode::Live),
        captions: Some(CaptionConfig {
            translator,
            provisional_interval: Some(Duration::from_millis(args.provisional_ms)),
            ..CaptionConfig::default()
        }),
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::start(
        request,
        Arc::new(move |request| {
            let source = open_engine_source(request)?;
            Ok(match request {
                SourceRequest::File(_) => {
                    Box::new(PacedSource::new(source, paced_clock.clone(), Some(1))) as _
                }
                SourceRequest::Camera(_) => source,
            })
        }),
        Arc::new(create_engine_estimator),
        Arc::new(|_| ()),
        config,
        clock,
        || {},
    );
    let terminal = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut failure = None;
    for event in pipeline.events.iter() {
        match event {
            PipelineEvent::Opened(info) => eprintln!("live: {} at {:.2} fps", info.name, info.fps),
            PipelineEvent::Segment(SegmentNotice::Started { start, .. }) if terminal => {
                write!(out, "\r\x1b[2K[{start:7.2}s] …")?;
                out.flush()?;
            }
            PipelineEvent::Caption(update) if !update.is_final => {
                if terminal {
                    write!(
                        out,
                        "\r\x1b[2K[{:7.2}s] {} …",
                        update.span.start, update.text
                    )?;
                    out.flush()?;
                } else {
                    writeln!(
                        out,
                        "provisional [{:.2}s] {}",
                        update.span.start, update.text
                    )?;
                }
            }
            PipelineEvent::Caption(update) => {
                let line = format!(
                    "[{:.2}–{:.2}s] {} ({:.0}%)",
                    update.span.start,
                    update.span.end,
                    update.text,
                    update.confidence * 100.0
                );
                if terminal {
                    writeln!(out, "\r\x1b[2K{line}")?;
                } else {
                    writeln!(out, "final {line}")?;
                }
                if let Some(file) = &mut transcript {
                    // Flushed per line, so a crash loses nothing already said.
                    writeln!(file, "{line}")
                        .and_then(|()| file.flush())
                        .with_context(|| "cannot append to the transcript".to_string())?;
                }
            }
            PipelineEvent::Failed { message, .. } => {
                // The source or pose failing ends the stream; say it once, after the captions
                // of what was signed before it.
                failure.get_or_insert(message);
            }
            PipelineEvent::Finished => break,
            _ => {}
        }
    }
    drop(pipeline);
    match failure {
        Some(message) => bail!("{message}"),
        None => Ok(()),
    }
}
