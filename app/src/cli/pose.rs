//! `signcap pose`: video in, whole-body keypoints out (`.pose`, `.json` or `.pkl`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use signcap_engine::keypoints::{self, PoseSequence};
use signcap_engine::pose::{self, PoseBackendKind, PoseConfig};
use signcap_engine::source::{FrameSource, VideoFile};

/// Which pose backend to run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoseBackendArg {
    /// The embedded MediaPipe Holistic models.
    #[default]
    Mediapipe,
    /// RTMW/RTMPose whole-body with a YOLOX person detector (give --pose-model and --det-model).
    Rtmw,
}

/// Arguments of `signcap pose`.
#[derive(clap::Args, Debug)]
pub struct PoseArgs {
    /// The video to read.
    pub video: PathBuf,
    /// Where to write the keypoints; the extension picks the format: .pose (pose-format),
    /// .json or .pkl (Uni-Sign).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Which pose backend runs, with its files.
    #[command(flatten)]
    pub backend: PoseBackendArgs,
}

/// The pose-backend options shared by every command that reads video.
#[derive(clap::Args, Debug)]
pub struct PoseBackendArgs {
    /// Pose backend.
    #[arg(long, value_enum, default_value_t)]
    pub pose_backend: PoseBackendArg,
    /// Whole-body pose ONNX model (rtmw backend).
    #[arg(long)]
    pub pose_model: Option<PathBuf>,
    /// Person-detector ONNX model (rtmw backend).
    #[arg(long)]
    pub det_model: Option<PathBuf>,
    /// Folder of the MediaPipe ONNX models (mediapipe backend; default: the bundled ones).
    #[arg(long)]
    pub mediapipe_models: Option<PathBuf>,
    /// Threads per ONNX Runtime session.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// Runs the command.
pub fn run(args: PoseArgs) -> anyhow::Result<()> {
    // Check everything that can be checked before minutes of decoding.
    if !keypoints::is_pose_file(&args.output) {
        bail!(
            "{}: unknown pose file type (expected .pose, .json or .pkl)",
            args.output.display()
        );
    }
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!("{}: output folder does not exist", dir.display());
    }
    let sequence = extract_poses(&args.video, &args.backend.config()?)?;
    keypoints::write_pose_file(&args.output, &sequence)?;
    eprintln!(
        "wrote {} frames of keypoints to {}",
        sequence.frames.len(),
        args.output.display()
    );
    Ok(())
}

/// Whole-body keypoints of every frame of `video_path`, with a progress bar on a terminal.
pub fn extract_poses(video_path: &Path, config: &PoseConfig) -> anyhow::Result<PoseSequence> {
    let mut video = VideoFile::open(video_path)?;
    let mut estimator = pose::create_estimator(config)?;
    let info = video.info().clone();
    let progress = progress_bar(info.frame_count);
    let mut frames = Vec::with_capacity(info.frame_count.unwrap_or(0) as usize);
    // The backend may keep several frames under way; a decoding error ends the run and is
    // reported after it.
    let mut decode_error = None;
    let mut decoded = std::iter::from_fn(|| match video.next_frame() {
        Ok(frame) => frame,
        Err(e) => {
            decode_error = Some(e);
            None
        }
    });
    estimator
        .estimate_run(&mut decoded, &mut |frame, mut pose_frame, _| {
            pose_frame.time = frame.time;
            frames.push(pose_frame);
            progress.inc(1);
        })
        .with_context(|| format!("{}: frame {}", video_path.display(), frames.len()))?;
    if let Some(e) = decode_error {
        return Err(e.into());
    }
    progress.finish_and_clear();
    Ok(PoseSequence {
        width: info.width,
        height: info.height,
        fps: info.fps,
        frames,
    })
}

impl PoseBackendArgs {
    /// The pose configuration these options ask for; model files are checked by the backend.
    pub fn config(&self) -> anyhow::Result<PoseConfig> {
        let mut config = PoseConfig {
            threads: self.threads.max(1),
            ..PoseConfig::default()
        };
        match self.pose_backend {
            PoseBackendArg::Mediapipe => {
                config.backend = PoseBackendKind::Mediapipe;
                if let Some(dir) = &self.mediapipe_models {
                    if !dir.is_dir() {
                        bail!("{}: MediaPipe model folder not found", dir.display());
                    }
                    config.mediapipe_model_dir = dir.clone();
                }
            }
            PoseBackendArg::Rtmw => {
                config.backend = PoseBackendKind::Rtmw;
                config.rtmw_model = Some(model_file(self.pose_model.as_deref(), "--pose-model")?);
                config.det_model = Some(model_file(self.det_model.as_deref(), "--det-model")?);
            }
        }
        Ok(config)
    }
}

fn model_file(path: Option<&Path>, flag: &str) -> anyhow::Result<PathBuf> {
    match path {
        Some(path) => Ok(path.to_path_buf()),
        None => bail!("the rtmw backend needs {flag} FILE.onnx"),
    }
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub(crate) fn progress_bar(frames: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(frames, ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} frames  {per_sec}  eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
