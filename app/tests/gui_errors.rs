//! The window under failure: no camera, a camera that dies mid-stream, a corrupt video and a
//! missing pose model each show a clear message in the window, and the app stays responsive.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::kittest::Queryable as _;
use signcap::gui::pipeline::SourceRequest;
use signcap_engine::source::FrameSource;
use support::*;

/// The app still reacts to input: the "Dismiss" button removes the first notice, and a UI
/// frame takes well under a frame period.
fn assert_responsive(harness: &mut egui_kittest::Harness<'static, signcap::gui::App>) {
    let before = harness.state().notices.len();
    assert!(before > 0);
    harness.get_all_by_label("Dismiss").next().unwrap().click();
    harness.step();
    harness.step();
    assert_eq!(harness.state().notices.len(), before - 1);
    let start = Instant::now();
    harness.step();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "a UI step took {:?}",
        start.elapsed()
    );
}

#[test]
fn no_camera_says_so_on_the_start_screen() {
    let mut options = engine_options();
    options.list_cameras = Arc::new(|| Ok(Vec::new()));
    let mut harness = harness(options);
    harness.run_steps(3);
    harness.get_by_label_contains("No camera found");
    // Still usable: the file side of the start screen answers.
    harness.get_by_label("Open path");
    assert!(!harness.state().is_open());
}

#[test]
fn camera_failing_mid_stream_shows_the_error_and_keeps_the_last_frame() {
    let mut options = engine_options();
    options.list_cameras = Arc::new(|| Ok(vec![(0, "Test camera".into())]));
    options.open_source = Arc::new(|request| match request {
        SourceRequest::Camera(0) => Ok(Box::new(FailingCamera::new(5)) as Box<dyn FrameSource>),
        other => panic!("unexpected request {other:?}"),
    });
    options.make_estimator = Arc::new(|_| Ok(Box::new(NothingFound)));
    let mut harness = harness(options);
    harness.run_steps(2);
    harness.get_by_label("Use Test camera").click();
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the camera error",
        |app| has_notice(app, &["Test camera", "device unplugged"]),
    );
    let app = harness.state();
    assert!(
        app.is_open(),
        "the source view stays open after the failure"
    );
    assert_eq!(
        app.player.displayed_index, 4,
        "the last good frame stays on screen"
    );
    assert_responsive(&mut harness);
}

#[test]
fn corrupt_video_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.mp4");
    // An mp4 header followed by garbage.
    let mut bytes = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec();
    bytes.extend((0..4096u32).map(|i| (i * 7919 % 251) as u8));
    std::fs::write(&path, bytes).unwrap();
    let mut options = engine_options();
    options.make_estimator = Arc::new(|_| Ok(Box::new(NothingFound)));
    let mut harness = open_in(options, SourceRequest::File(path.clone()));
    let name = path.display().to_string();
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the decode error",
        |app| has_notice(app, &[&name]),
    );
    let message = &harness.state().notices[0].message;
    assert!(
        !message.contains("not available in this build"),
        "{message}"
    );
    eprintln!("shown: {message}");
    assert!(harness.get_all_by_label_contains("corrupt.mp4").count() >= 1);
    assert_responsive(&mut harness);
}

#[test]
fn missing_pose_model_names_the_path_while_video_keeps_playing() {
    let mut options = engine_options();
    options.settings.pose.mediapipe_model_dir = "/nonexistent/signcap-models".into();
    options.open_source =
        Arc::new(|_| Ok(Box::new(FailingCamera::new(u64::MAX)) as Box<dyn FrameSource>));
    let mut harness = open_in(options, SourceRequest::Camera(0));
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the model error",
        |app| has_notice(app, &["/nonexistent/signcap-models"]),
    );
    harness.get_by_label_contains("Pose estimation stopped");
    let shown = harness.state().player.displayed_index;
    step_until(&mut harness, Duration::from_secs(5), "more frames", |app| {
        app.player.displayed_index > shown + 3
    });
    assert_responsive(&mut harness);
}

/// Where the desktop has no file dialog to show (no xdg-desktop-portal on a session bus, no
/// zenity), "Open video…" says so and opens the in-window browser instead.
#[test]
fn without_a_system_file_dialog_the_built_in_browser_opens() {
    let has_session_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    let has_zenity = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("zenity").is_file()));
    if has_session_bus || has_zenity {
        eprintln!("skipped: this desktop can show a real file dialog");
        return;
    }
    let mut options = engine_options();
    options.settings.ui.system_file_dialog = true;
    let mut harness = harness(options);
    harness.run_steps(2);
    harness.get_by_label("Open video… (Ctrl+O)").click();
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the fallback notice",
        |app| has_notice(app, &["No system file dialog"]),
    );
    harness.run_steps(2);
    harness.get_by_label("File name");
    assert_responsive(&mut harness);
}
