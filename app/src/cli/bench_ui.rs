//! `signcap bench ui`: plays a clip in the real app, rendered offscreen on wgpu, at the clip's
//! own pace, and prints the app's own latency-panel figures: UI frame time and how many frames
//! the overlay trails the video.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use egui_kittest::Harness;

use crate::gui::latency::percentile;
use crate::gui::pipeline::SourceRequest;
use crate::gui::settings::{Settings, default_settings_path};
use crate::gui::{App, AppOptions};

/// Arguments of `signcap bench ui`.
#[derive(clap::Args, Debug)]
pub struct BenchUiArgs {
    /// Video to play.
    pub video: PathBuf,
    /// How many times to play the clip through.
    #[arg(long, default_value_t = 3)]
    pub loops: u32,
    /// UI frame rate to drive the app at (a monitor's refresh rate).
    #[arg(long, default_value_t = 60.0)]
    pub ui_fps: f64,
    /// Window size in points.
    #[arg(long, default_value_t = 1200.0)]
    pub width: f32,
    /// Window height in points.
    #[arg(long, default_value_t = 760.0)]
    pub height: f32,
    /// Also render offscreen (wgpu) and read the image back on every UI frame. Off by default:
    /// the readback costs far more than presenting to a window.
    #[arg(long)]
    pub render_every_frame: bool,
}

/// UI frame time p99 target in milliseconds.
const UI_FRAME_P99_TARGET_MS: f32 = 33.0;
/// Most frames the overlay may trail the video.
const OVERLAY_LAG_TARGET_FRAMES: u64 = 2;

/// Runs the command.
pub fn run(args: BenchUiArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.video.is_file(),
        "{}: no such video file",
        args.video.display()
    );
    anyhow::ensure!(args.ui_fps > 0.0, "--ui-fps must be positive");
    let settings = match default_settings_path() {
        Some(path) => Settings::load(&path)?,
        None => Settings::default(),
    };
    let mut options = AppOptions::with_engine(settings, None);
    options.open = Some(SourceRequest::File(args.video.clone()));
    let mut harness: Harness<'static, App> = Harness::builder()
        .with_size([args.width, args.height])
        .wgpu()
        .build_eframe(move |cc| App::new(cc, options));

    // Wait for the source and the first pose (model loading is not playback).
    let start = Instant::now();
    loop {
        harness.step();
        let app = harness.state();
        if let Some(notice) = app.notices.iter().find(|n| n.is_error) {
            anyhow::bail!("{}", notice.message);
        }
        if app.source_info.is_some() && app.player.overlay_index == Some(0) {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(120),
            "{}: no first frame with keypoints after 120 s",
            args.video.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let info = harness
        .state()
        .source_info
        .clone()
        .context("source closed")?;
    eprintln!(
        "bench ui: {} ({}x{}, {:.2} fps, {} frames), {} loops, UI at {} fps",
        args.video.display(),
        info.width,
        info.height,
        info.fps,
        info.frame_count.unwrap_or(0),
        args.loops,
        args.ui_fps
    );

    // Measure only playback: forget the loading frames.
    harness.state_mut().latency = Default::default();
    let frame_count = info.frame_count.unwrap_or(0);
    let period = Duration::from_secs_f64(1.0 / args.ui_fps);
    let mut step_ms = Vec::new();
    let play_start = Instant::now();
    let mut first_pass_lags: Vec<f32> = Vec::new();
    let mut first_pass_ui_ms: Vec<f32> = Vec::new();
    for pass in 0..args.loops {
        if pass == 1 {
            // Later passes play from the cache: let the pose stage finish the clip first, as
            // the player does when a file is opened and left for a moment.
            harness.state_mut().seek(0);
            let wait_start = Instant::now();
            while harness
                .state()
                .pipeline()
                .is_some_and(|p| (p.store.pose_count() as u64) < frame_count)
            {
                harness.step();
                anyhow::ensure!(
                    wait_start.elapsed() < Duration::from_secs(300),
                    "poses of the whole clip not computed after 300 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            eprintln!(
                "bench ui: all {frame_count} poses cached after {:.1} s more",
                wait_start.elapsed().as_secs_f64()
            );
            harness.state_mut().latency.all_overlay_lag_frames.clear();
            harness.state_mut().latency.all_ui_frame_ms.clear();
        }
        harness.state_mut().seek(0);
        harness.state_mut().play();
        let mut next_tick = Instant::now();
        loop {
            let t = Instant::now();
            harness.step();
            if args.render_every_frame {
                harness
                    .render()
                    .map_err(|e| anyhow::anyhow!("offscreen render failed: {e}"))?;
            }
            step_ms.push(t.elapsed().as_secs_f32() * 1000.0);
            let app = harness.state();
            if let Some(notice) = app.notices.iter().find(|n| n.is_error) {
                anyhow::bail!("{}", notice.message);
            }
            if !app.player.playing {
                break;
            }
            next_tick += period;
            let now = Instant::now();
            if next_tick > now {
                std::thread::sleep(next_tick - now);
            } else {
                next_tick = now;
            }
        }
        if pass == 0 {
            let latency = &harness.state().latency;
            first_pass_lags = lag_frames(&latency.all_overlay_lag_frames);
            first_pass_ui_ms = latency.all_ui_frame_ms.clone();
        }
    }
    let played = play_start.elapsed();
    let app = harness.state();
    let stats = &app.latency;
    let cached_ui_ms = &stats.all_ui_frame_ms;
    let cached_lags = lag_frames(&stats.all_overlay_lag_frames);
    let counters = app.pipeline().map(|p| p.counters.clone());
    let fmt = |v: Option<f32>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    let summary = |name: &str, values: &[f32], unit: &str| {
        println!(
            "{name}: p50 {} {unit}, p99 {} {unit}, max {} {unit} over {} UI frames",
            fmt(percentile(values, 0.5)),
            fmt(percentile(values, 0.99)),
            fmt(percentile(values, 1.0)),
            values.len()
        );
    };
    println!("played {:.2} s", played.as_secs_f64());
    summary(
        "UI frame, first pass (latency panel: building the UI)",
        &first_pass_ui_ms,
        "ms",
    );
    summary(
        "UI frame, cached passes (latency panel: building the UI)",
        cached_ui_ms,
        "ms",
    );
    summary(
        if args.render_every_frame {
            "harness step + offscreen render + readback"
        } else {
            "harness step (egui pass)"
        },
        &step_ms,
        "ms",
    );
    summary(
        "overlay behind video, first pass (poses computed live)",
        &first_pass_lags,
        "frames",
    );
    summary(
        "overlay behind video, cached passes",
        &cached_lags,
        "frames",
    );
    if let Some(c) = counters {
        use std::sync::atomic::Ordering::Relaxed;
        println!(
            "decoded {}, poses {}, dropped before pose {}, before screen {}, skipped by clock {}",
            c.decoded.load(Relaxed),
            c.poses_computed.load(Relaxed),
            c.dropped_before_pose.load(Relaxed),
            c.dropped_before_ui.load(Relaxed),
            c.skipped_by_clock.load(Relaxed)
        );
    }
    let all_ui: Vec<f32> = first_pass_ui_ms
        .iter()
        .chain(cached_ui_ms.iter())
        .copied()
        .collect();
    let lag_ok = |lags: &[f32]| lags.iter().all(|&l| l <= OVERLAY_LAG_TARGET_FRAMES as f32);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "targets: UI frame p99 <= {UI_FRAME_P99_TARGET_MS} ms: {}; overlay <= {OVERLAY_LAG_TARGET_FRAMES} frames behind: first pass {}, cached {}",
        verdict(percentile(&all_ui, 0.99).is_some_and(|p| p <= UI_FRAME_P99_TARGET_MS)),
        verdict(lag_ok(&first_pass_lags)),
        verdict(lag_ok(&cached_lags)),
    );
    Ok(())
}

fn lag_frames(lags: &[u64]) -> Vec<f32> {
    lags.iter().map(|&l| l as f32).collect()
}
