//! Helpers for the GUI tests: building the real app in an offscreen wgpu harness, stepping it
//! until a condition holds, and test doubles behind the engine's traits where the real part
//! cannot exist here (a camera) or must misbehave on purpose.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use signcap::gui::pipeline::SourceRequest;
use signcap::gui::settings::Settings;
use signcap::gui::{App, AppOptions};
use signcap_engine::keypoints::{Keypoint, PoseFrame};
use signcap_engine::pose::{PoseError, PoseEstimator};
use signcap_engine::source::{Frame, FrameSource, SourceError, SourceInfo};

/// Window size of every harness.
pub const WINDOW: [f32; 2] = [1200.0, 760.0];

/// The shared reference folder (`../shared` beside the checkout, or `$SIGNCAP_SHARED`).
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("SIGNCAP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    assert!(
        dir.join("eval-media").is_dir(),
        "shared material not found at {} (set SIGNCAP_SHARED)",
        dir.display()
    );
    dir
}

/// A real clip from eval-media.
pub fn clip(name: &str) -> PathBuf {
    shared_dir().join("eval-media/videos").join(name)
}

/// Options with the real engine parts and in-memory settings; files are chosen in the
/// in-window browser, which the tests can drive.
pub fn engine_options() -> AppOptions {
    let mut settings = Settings::default();
    settings.ui.system_file_dialog = false;
    AppOptions::with_engine(settings, None)
}

/// Builds the real app offscreen on wgpu (lavapipe here).
pub fn harness(options: AppOptions) -> Harness<'static, App> {
    Harness::builder()
        .with_size(WINDOW)
        .wgpu()
        .build_eframe(move |cc| App::new(cc, options))
}

/// Steps the app (with real time passing, since workers are threads) until `done` holds.
pub fn step_until(
    harness: &mut Harness<'static, App>,
    timeout: Duration,
    what: &str,
    done: impl Fn(&App) -> bool,
) {
    let start = Instant::now();
    loop {
        harness.step();
        if done(harness.state()) {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; notices: {:?}",
            harness.state().notices
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Largest per-channel difference between a rendered pixel and a colour.
pub fn color_distance(a: image::Rgba<u8>, b: egui::Color32) -> i32 {
    (0..3)
        .map(|c| (i32::from(a[c]) - i32::from([b.r(), b.g(), b.b()][c])).abs())
        .max()
        .unwrap_or(0)
}

/// Steps for `duration` of real time.
pub fn step_for(harness: &mut Harness<'static, App>, duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether any notice in the window contains all of `parts`.
pub fn has_notice(app: &App, parts: &[&str]) -> bool {
    app.notices
        .iter()
        .any(|n| parts.iter().all(|p| n.message.contains(p)))
}

/// A source of synthetic grey frames that fails with a camera error after `fail_after` frames.
pub struct FailingCamera {
    info: SourceInfo,
    next_index: u64,
    fail_after: u64,
}

impl FailingCamera {
    /// A 320×240 "camera" at 30 fps.
    pub fn new(fail_after: u64) -> Self {
        Self {
            info: SourceInfo {
                name: "Test camera".into(),
                width: 320,
                height: 240,
                fps: 30.0,
                frame_count: None,
                duration: None,
            },
            next_index: 0,
            fail_after,
        }
    }
}

impl FrameSource for FailingCamera {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.next_index >= self.fail_after {
            return Err(SourceError::Camera {
                name: self.info.name.clone(),
                reason: "device unplugged".into(),
            });
        }
        std::thread::sleep(Duration::from_millis(33));
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(Frame {
            index,
            time: index as f64 / self.info.fps,
            captured_at: Instant::now(),
            width: self.info.width,
            height: self.info.height,
            rgb: Arc::new(vec![60; (self.info.width * self.info.height * 3) as usize]),
        }))
    }

    fn seek(&mut self, _frame_index: u64) -> Result<(), SourceError> {
        Err(SourceError::NotSeekable(self.info.name.clone()))
    }
}

/// A pose backend that finds nothing (for tests about the video path only).
pub struct NothingFound;

impl PoseEstimator for NothingFound {
    fn estimate(&mut self, frame: &Frame) -> Result<PoseFrame, PoseError> {
        Ok(PoseFrame::empty(frame.time))
    }

    fn reset(&mut self) {}
}

/// A keypoint with this score.
pub fn keypoint(x: f32, y: f32, score: f32) -> Keypoint {
    Keypoint { x, y, score }
}

/// Opens `request` in a fresh app with `options`.
pub fn open_in(options: AppOptions, request: SourceRequest) -> Harness<'static, App> {
    let mut options = options;
    options.open = Some(request);
    harness(options)
}

/// A seekable "file" of `frame_count` synthetic frames (each a flat grey that changes with the
/// index) for tests of the player itself.
pub struct ScriptedClip {
    info: SourceInfo,
    next_index: u64,
}

impl ScriptedClip {
    /// A 320×240 clip at 25 fps.
    pub fn new(frame_count: u64) -> Self {
        Self {
            info: SourceInfo {
                name: "scripted clip".into(),
                width: 320,
                height: 240,
                fps: 25.0,
                frame_count: Some(frame_count),
                duration: Some(frame_count as f64 / 25.0),
            },
            next_index: 0,
        }
    }
}

impl FrameSource for ScriptedClip {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if Some(self.next_index) >= self.info.frame_count {
            return Ok(None);
        }
        let index = self.next_index;
        self.next_index += 1;
        let grey = 40 + (index % 40) as u8;
        Ok(Some(Frame {
            index,
            time: index as f64 / self.info.fps,
            captured_at: Instant::now(),
            width: self.info.width,
            height: self.info.height,
            rgb: Arc::new(vec![
                grey;
                (self.info.width * self.info.height * 3) as usize
            ]),
        }))
    }

    fn seek(&mut self, frame_index: u64) -> Result<(), SourceError> {
        self.next_index = frame_index;
        Ok(())
    }
}

/// A pose backend that places a body whose position moves with the frame index, confident
/// (0.9) body points and low-confidence (0.2) left-hand points.
pub struct ScriptedPose;

impl PoseEstimator for ScriptedPose {
    fn estimate(&mut self, frame: &Frame) -> Result<PoseFrame, PoseError> {
        let mut pose = PoseFrame::empty(frame.time);
        let shift = (frame.index % 50) as f32;
        for i in 0..17 {
            pose.keypoints_in_image[i] = keypoint(
                60.0 + shift + (i % 5) as f32 * 40.0,
                30.0 + (i / 5) as f32 * 50.0,
                0.9,
            );
        }
        for i in 91..112 {
            pose.keypoints_in_image[i] = keypoint(40.0 + (i - 91) as f32 * 12.0, 220.0, 0.2);
        }
        Ok(pose)
    }

    fn reset(&mut self) {}
}
