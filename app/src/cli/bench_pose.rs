//! `signcap bench pose`: pose extraction on a clip, per stage, next to Python MediaPipe Holistic
//! on the same frames when it is installed. Decoding is timed on its own and left out of both
//! frame rates.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use signcap_engine::pose::{PoseBackendKind, PoseConfig, create_estimator};
use signcap_engine::source::Frame;

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
    fps: f64,
    frames: Vec<Arc<Vec<u8>>>,
    decode_ms: f64,
}

/// What the MediaPipe peer reported, or why it did not run.
enum Peer {
    Ran { fps: f64, frames: usize },
    Skipped(String),
}

/// Runs the command.
pub fn run(args: BenchPoseArgs) -> anyhow::Result<()> {
    let clip = decode_with_ffmpeg(&args.video, args.frames)?;
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
    for (index, rgb) in clip.frames.iter().enumerate() {
        let frame = Frame {
            index: index as u64,
            time: index as f64 / clip.fps,
            captured_at: Instant::now(),
            width: clip.width,
            height: clip.height,
            rgb: Arc::clone(rgb),
        };
        estimator
            .estimate(&frame)
            .with_context(|| format!("{}: frame {index}", args.video.display()))?;
        for (stage, ms) in estimator.last_stage_ms() {
            match stages.iter_mut().find(|(name, _)| *name == stage) {
                Some((_, sum)) => *sum += ms,
                None => stages.push((stage, ms)),
            }
        }
    }
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

/// Decodes up to `limit` frames to RGB24 with the ffmpeg CLI (rotation metadata ignored, so the
/// probed size is the frame size).
fn decode_with_ffmpeg(video: &Path, limit: Option<usize>) -> anyhow::Result<DecodedClip> {
    if !video.is_file() {
        bail!("{}: no such video file", video.display());
    }
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=width,height,avg_frame_rate", "-of", "csv=p=0"])
        .arg(video)
        .output()
        .context("running ffprobe (install ffmpeg)")?;
    if !probe.status.success() {
        bail!(
            "{}: ffprobe cannot read it: {}",
            video.display(),
            String::from_utf8_lossy(&probe.stderr).trim()
        );
    }
    let fields: Vec<String> = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .split(',')
        .map(str::to_owned)
        .collect();
    let [width, height, rate] = fields.as_slice() else {
        bail!("{}: no video stream", video.display());
    };
    let width: u32 = width
        .parse()
        .with_context(|| format!("{}: bad width {width:?}", video.display()))?;
    let height: u32 = height
        .parse()
        .with_context(|| format!("{}: bad height {height:?}", video.display()))?;
    let fps = match rate.split_once('/') {
        Some((num, den)) => num.parse::<f64>().unwrap_or(0.0) / den.parse::<f64>().unwrap_or(1.0),
        None => rate.parse().unwrap_or(0.0),
    };
    let fps = if fps.is_finite() && fps > 0.0 {
        fps
    } else {
        25.0
    };

    let started = Instant::now();
    let mut command = Command::new("ffmpeg");
    command
        .args(["-v", "error", "-nostdin", "-noautorotate", "-i"])
        .arg(video);
    if let Some(limit) = limit {
        command.args(["-frames:v", &limit.to_string()]);
    }
    let mut child = command
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running ffmpeg (install ffmpeg)")?;
    let mut stdout = child.stdout.take().context("ffmpeg stdout")?;
    let frame_bytes = width as usize * height as usize * 3;
    let mut frames = Vec::new();
    loop {
        let mut frame = vec![0u8; frame_bytes];
        match stdout.read_exact(&mut frame) {
            Ok(()) => frames.push(Arc::new(frame)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => {
                return Err(e).with_context(|| format!("{}: reading frames", video.display()));
            }
        }
        if limit.is_some_and(|limit| frames.len() >= limit) {
            break;
        }
    }
    drop(stdout);
    let output = child.wait_with_output().context("waiting for ffmpeg")?;
    if !output.status.success() && frames.is_empty() {
        bail!(
            "{}: ffmpeg cannot decode it: {}",
            video.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(DecodedClip {
        width,
        height,
        fps,
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
