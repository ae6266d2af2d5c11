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
    let period = Duration::from_secs_f64(1.0 / args.ui_fps);
    let mut step_and_render_ms = Vec::new();
    let play_start = Instant::now();
    let mut first_pass_lags: Vec<f32> = Vec::new();
    for pass in 0..args.loops {
        harness.state_mut().seek(0);
        harness.state_mut().play();
        let mut next_tick = Instant::now();
        loop {
            let t = Instant::now();
            harness.step();
            harness
                .render()
                .map_err(|e| anyhow::anyhow!("offscreen render failed: {e}"))?;
            step_and_render_ms.push(t.elapsed().as_secs_f32() * 1000.0);
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
            first_pass_lags = lag_frames(&harness.state().latency.all_overlay_lag_frames);
        }
    }
    let played = play_start.elapsed();
    let app = harness.state();
    let stats = &app.latency;
    let ui_ms = &stats.all_ui_frame_ms;
    let lags = lag_frames(&stats.all_overlay_lag_frames);
    let counters = app.pipeline().map(|p| p.counters.clone());
    let fmt = |v: Option<f32>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
    println!("played {:.2} s", played.as_secs_f64());
    println!(
        "UI frame (app's latency panel, CPU): p50 {} ms, p99 {} ms, max {} ms over {} frames",
        fmt(percentile(ui_ms, 0.5)),
        fmt(percentile(ui_ms, 0.99)),
        fmt(percentile(ui_ms, 1.0)),
        ui_ms.len()
    );
    println!(
        "UI frame incl. offscreen wgpu render and readback: p50 {} ms, p99 {} ms",
        fmt(percentile(&step_and_render_ms, 0.5)),
        fmt(percentile(&step_and_render_ms, 0.99)),
    );
    println!(
        "overlay behind video, first pass (poses computed live): p50 {} frames, p99 {} frames, max {} frames over {} UI frames",
        fmt(percentile(&first_pass_lags, 0.5)),
        fmt(percentile(&first_pass_lags, 0.99)),
        fmt(percentile(&first_pass_lags, 1.0)),
        first_pass_lags.len()
    );
    println!(
        "overlay behind video, all passes: p50 {} frames, p99 {} frames, max {} frames over {} UI frames",
        fmt(percentile(&lags, 0.5)),
        fmt(percentile(&lags, 0.99)),
        fmt(percentile(&lags, 1.0)),
        lags.len()
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
    let ui_ok = percentile(ui_ms, 0.99).is_some_and(|p| p <= UI_FRAME_P99_TARGET_MS);
    let lag_ok = lags.iter().all(|&l| l <= OVERLAY_LAG_TARGET_FRAMES as f32);
    println!(
        "targets: UI frame p99 <= {UI_FRAME_P99_TARGET_MS} ms: {}; overlay <= {OVERLAY_LAG_TARGET_FRAMES} frames behind: {}",
        if ui_ok { "met" } else { "MISSED" },
        if lag_ok { "met" } else { "MISSED" }
    );
    Ok(())
}

fn lag_frames(lags: &[u64]) -> Vec<f32> {
    lags.iter().map(|&l| l as f32).collect()
}
