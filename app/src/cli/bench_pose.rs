//! `signcap bench pose`: pose extraction on a clip, per stage, next to Python MediaPipe Holistic
//! on the same frames when it is installed. Decoding is timed on its own and left out of both
//! frame rates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use signcap_engine::pose::{PoseBackendKind, PoseConfig, create_estimator};
use signcap_engine::source::{Frame, FrameSource, VideoFile};

/// The MediaPipe version the peer must be (the legacy Holistic solution the backend mirrors).
const MEDIAPIPE_VERSION: &str = "0.10.21";

/// Pose backend choices on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Backend {
    /// MediaPipe Holistic converted to ONNX (embedded).
    Mediapipe,
    /// RTMW/RTMPose with a YOLOX detector (`--rtmw-model`, `--det-model`).
    Rtmw,
}

/// Arguments of `signcap bench pose`.
#[derive(clap::Args, Debug)]
pub struct BenchPoseArgs {
    /// Video file to decode and run.
    pub video: PathBuf,
    /// Pose backend to time.
    #[arg(long, value_enum, default_value_t = Backend::Mediapipe)]
    pub backend: Backend,
    /// Frames to run from the start of the clip (default: all).
    #[arg(long)]
    pub frames: Option<usize>,
    /// RTMW/RTMPose whole-body ONNX (backend rtmw).
    #[arg(long)]
    pub rtmw_model: Option<PathBuf>,
    /// YOLOX person-detector ONNX (backend rtmw).
    #[arg(long)]
    pub det_model: Option<PathBuf>,
    /// Folder of the MediaPipe ONNX models (backend mediapipe; default: the embedded ones).
    #[arg(long)]
    pub mediapipe_model_dir: Option<PathBuf>,
    /// Intra-op threads per ONNX session.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Python for the MediaPipe peer (default: $SIGNCAP_PYTHON, then python3).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Do not run the MediaPipe peer.
    #[arg(long)]
    pub no_peer: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Frames decoded up front so that decoding stays out of the timed loops.
struct DecodedClip {
    width: u32,
    height: u32,
    frames: Vec<Frame>,
    decode_ms: f64,
}

/// What the MediaPipe peer reported, or why it did not run.
enum Peer {
    Ran { fps: f64, frames: usize },
    Skipped(String),
}

/// Runs the command.
pub fn run(args: BenchPoseArgs) -> anyhow::Result<()> {
    let clip = decode_clip(&args.video, args.frames)?;
    if clip.frames.is_empty() {
        bail!("{}: no frames decoded", args.video.display());
    }
    let n = clip.frames.len();

    let mut config = PoseConfig {
        backend: match args.backend {
            Backend::Mediapipe => PoseBackendKind::Mediapipe,
            Backend::Rtmw => PoseBackendKind::Rtmw,
        },
        rtmw_model: args.rtmw_model.clone(),
        det_model: args.det_model.clone(),
        ..PoseConfig::default()
    };
    if let Some(dir) = &args.mediapipe_model_dir {
        config.mediapipe_model_dir = dir.clone();
    }
    if let Some(threads) = args.threads {
        config.threads = threads;
    }
    let load_started = Instant::now();
    let mut estimator = create_estimator(&config).context("loading the pose backend")?;
    let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;

    // Stage sums in the order the backend reports them.
    let mut stages: Vec<(&'static str, f64)> = Vec::new();
    let started = Instant::now();
    // As `signcap pose` runs: frames stamped as they enter, several under way at once.
    let mut frames = clip.frames.iter().map(|frame| Frame {
        captured_at: Instant::now(),
        ..frame.clone()
    });
    estimator
        .estimate_run(&mut frames, &mut |_, _, stage_ms| {
            for &(stage, ms) in stage_ms {
                match stages.iter_mut().find(|(name, _)| *name == stage) {
                    Some((_, sum)) => *sum += ms,
                    None => stages.push((stage, ms)),
                }
            }
        })
        .with_context(|| format!("{}", args.video.display()))?;
    let loop_s = started.elapsed().as_secs_f64();
    let ours_fps = n as f64 / loop_s;

    let peer = if args.no_peer {
        Peer::Skipped("--no-peer".into())
    } else {
        mediapipe_peer(args.python.as_deref(), &args.video, n)
    };

    let backend = format!("{:?}", args.backend).to_lowercase();
    if args.json {
        let (peer_fps, ratio, peer_note) = match &peer {
            Peer::Ran { fps, .. } => (Some(*fps), Some(ours_fps / fps), None),
            Peer::Skipped(why) => (None, None, Some(why.clone())),
        };
        let report = serde_json::json!({
            "video": args.video,
            "backend": backend,
            "width": clip.width,
            "height": clip.height,
            "frames": n,
            "threads": config.threads,
            "load_ms": load_ms,
            "decode_ms_per_frame": clip.decode_ms / n as f64,
            "stage_ms_per_frame": stages
                .iter()
                .map(|(stage, sum)| (stage.to_string(), serde_json::json!(sum / n as f64)))
                .collect::<serde_json::Map<_, _>>(),
            "ms_per_frame": loop_s * 1000.0 / n as f64,
            "fps": ours_fps,
            "mediapipe_python_fps": peer_fps,
            "ratio_vs_mediapipe": ratio,
            "mediapipe_python_skipped": peer_note,
        });
        println!("{report}");
        return Ok(());
    }

    println!(
        "{}: {}x{}, {n} frames; backend {backend}, {} thread(s) per session",
        args.video.display(),
        clip.width,
        clip.height,
        config.threads
    );
    println!(
        "  decode (ffmpeg, not counted) {:>8.2} ms/frame",
        clip.decode_ms / n as f64
    );
    println!("  model load (not counted)     {load_ms:>8.1} ms");
    for (stage, sum) in &stages {
        println!("  {stage:<28} {:>8.2} ms/frame", sum / n as f64);
    }
    println!(
        "  total                        {:>8.2} ms/frame  = {ours_fps:.1} fps",
        loop_s * 1000.0 / n as f64
    );
    match peer {
        Peer::Ran { fps, frames } => {
            println!(
                "  MediaPipe Holistic {MEDIAPIPE_VERSION} (Python, {frames} frames) {fps:.1} fps"
            );
            println!("  ratio ours / MediaPipe      {:>8.2}x", ours_fps / fps);
        }
        Peer::Skipped(why) => println!("  MediaPipe peer skipped: {why}"),
    }
    Ok(())
}

/// Decodes up to `limit` frames with the engine's ffmpeg source, timing only the decoding.
fn decode_clip(video: &Path, limit: Option<usize>) -> anyhow::Result<DecodedClip> {
    let started = Instant::now();
    let mut source = VideoFile::open(video)?;
    let info = source.info().clone();
    let mut frames = Vec::new();
    while limit.is_none_or(|limit| frames.len() < limit) {
        match source.next_frame()? {
            Some(frame) => frames.push(frame),
            None => break,
        }
    }
    Ok(DecodedClip {
        width: info.width,
        height: info.height,
        frames,
        decode_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// Runs tools/bench_mediapipe.py on the same first `frames` frames when the Python has
/// MediaPipe 0.10.21.
fn mediapipe_peer(python: Option<&Path>, video: &Path, frames: usize) -> Peer {
    let python = python.map(Path::to_path_buf).unwrap_or_else(|| {
        std::env::var_os("SIGNCAP_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("python3"))
    });
    let version = Command::new(&python)
        .args(["-c", "import mediapipe; print(mediapipe.__version__)"])
        .output();
    match version {
        Ok(out) if out.status.success() => {
            let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if found != MEDIAPIPE_VERSION {
                return Peer::Skipped(format!(
                    "{} has mediapipe {found}, the peer is {MEDIAPIPE_VERSION}",
                    python.display()
                ));
            }
        }
        _ => {
            return Peer::Skipped(format!(
                "{} has no mediapipe (run scripts/setup.sh --peers)",
                python.display()
            ));
        }
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/bench_mediapipe.py");
    let output = Command::new(&python)
        .arg(&script)
        .arg(video)
        .args(["--frames", &frames.to_string()])
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            return Peer::Skipped(format!(
                "{} failed: {}",
                script.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Err(e) => return Peer::Skipped(format!("{}: {e}", python.display())),
    };
    let report: serde_json::Value = match serde_json::from_slice(&output.stdout) {
        Ok(report) => report,
        Err(e) => return Peer::Skipped(format!("{}: unreadable output: {e}", script.display())),
    };
    match (report["fps"].as_f64(), report["frames"].as_u64()) {
        (Some(fps), Some(frames)) => Peer::Ran {
            fps,
            frames: frames as usize,
        },
        _ => Peer::Skipped(format!("{}: no fps in {report}", script.display())),
    }
}
