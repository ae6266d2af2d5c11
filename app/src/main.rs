//! `signcap`: with no subcommand opens the desktop app; subcommands run headless.

use clap::{Parser, Subcommand};
use signcap::{cli, gui};

#[derive(Parser)]
#[command(
    name = "signcap",
    version,
    about = "Offline sign-language captions from video and webcams"
)]
struct Cli {
    #[command(flatten)]
    gui: gui::GuiArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Extract whole-body keypoints from a video into .pose, .json or .pkl.
    Pose(cli::pose::PoseArgs),
    /// Translate a video or pose file into text with a Uni-Sign checkpoint.
    Translate(cli::translate::TranslateArgs),
    /// Caption a video or pose file: signing segments and their translations as SRT, WebVTT or JSON.
    Caption(cli::caption::CaptionArgs),
    /// Live captions from a webcam in the terminal.
    Live(cli::live::LiveArgs),
    /// Convert checkpoints between the official .pth and safetensors.
    Convert(cli::convert::ConvertArgs),
    /// Score predictions against references as the Uni-Sign evaluation does.
    Eval(cli::eval::EvalArgs),
    /// Benchmarks against the named Python peers.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Pose extraction per stage, and MediaPipe Holistic's own fps when installed.
    Pose(cli::bench_pose::BenchPoseArgs),
    /// Encoder and decoder time per token next to PyTorch.
    Model(cli::bench_model::BenchModelArgs),
    /// The whole live pipeline on a clip at its frame rate with mT5-base-shaped weights.
    Live(cli::bench_live::BenchLiveArgs),
    /// UI frame times and overlay lag while playing a clip.
    Ui(cli::bench_ui::BenchUiArgs),
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => gui::run(cli.gui),
        Some(Command::Pose(a)) => cli::pose::run(a),
        Some(Command::Translate(a)) => cli::translate::run(a),
        Some(Command::Caption(a)) => cli::caption::run(a),
        Some(Command::Live(a)) => cli::live::run(a),
        Some(Command::Convert(a)) => cli::convert::run(a),
        Some(Command::Eval(a)) => cli::eval::run(a),
        Some(Command::Bench(BenchCommand::Pose(a))) => cli::bench_pose::run(a),
        Some(Command::Bench(BenchCommand::Model(a))) => cli::bench_model::run(a),
        Some(Command::Bench(BenchCommand::Live(a))) => cli::bench_live::run(a),
        Some(Command::Bench(BenchCommand::Ui(a))) => cli::bench_ui::run(a),
    };
    if let Err(e) = result {
        // One clear line: the error and its causes, never a panic or a backtrace.
        let mut line = format!("error: {e}");
        for cause in e.chain().skip(1) {
            line.push_str(&format!(": {cause}"));
        }
        eprintln!("{line}");
        std::process::exit(1);
    }
}
