//! Controls beyond the player flow: every control has an accessible name, keyboard shortcuts,
//! hovering a keypoint names it, light and dark themes, settings saved to TOML.

mod support;

use std::sync::Arc;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use signcap::gui::App;
use signcap::gui::app::View;
use signcap::gui::pipeline::SourceRequest;
use signcap::gui::settings::{Settings, ThemeChoice};
use signcap_engine::source::FrameSource;
use support::*;

fn scripted_app() -> Harness<'static, App> {
    let mut options = engine_options();
    options.open_source = Arc::new(|_| Ok(Box::new(ScriptedClip::new(60)) as Box<dyn FrameSource>));
    options.make_estimator = Arc::new(|_| Ok(Box::new(ScriptedPose)));
    let mut harness = open_in(options, SourceRequest::File("scripted.mp4".into()));
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the first pose",
        |app| app.player.overlay_index == Some(0),
    );
    harness
}

#[test]
fn every_control_has_an_accessible_name() {
    let mut options = engine_options();
    options.list_cameras = Arc::new(|| Ok(vec![(0, "Test camera".into())]));
    let mut start = harness(options);
    start.run_steps(3);
    start.check_accessibility();

    let mut harness = scripted_app();
    harness.check_accessibility();
    harness.get_by_label("File").click();
    harness.run_steps(3);
    harness.check_accessibility();
    harness.get_by_label("Export .pose…").click();
    harness.run_steps(3);
    harness.get_by_label("File name");
    harness.check_accessibility();
    harness.get_by_label("Cancel").click();
    harness.run_steps(3);
    harness.get_by_label("File").click();
    harness.run_steps(3);
    harness.get_by_label("Settings…").click();
    harness.run_steps(3);
    harness.get_by_label("Pose threads");
    harness.check_accessibility();
    harness.state_mut().view = View::Normalized;
    harness.run_steps(3);
    harness.check_accessibility();
}

#[test]
fn keyboard_shortcuts_drive_the_player() {
    let mut harness = scripted_app();
    harness.key_press(egui::Key::ArrowRight);
    harness.step();
    assert_eq!(harness.state().player.displayed_index, 1);
    harness.key_press(egui::Key::ArrowRight);
    harness.step();
    harness.key_press(egui::Key::ArrowLeft);
    harness.step();
    assert_eq!(harness.state().player.displayed_index, 1);
    harness.key_press(egui::Key::Space);
    harness.step();
    assert!(harness.state().player.playing);
    step_until(&mut harness, Duration::from_secs(5), "playback", |app| {
        app.player.displayed_index > 5
    });
    harness.key_press(egui::Key::Space);
    harness.step();
    assert!(!harness.state().player.playing);
    harness.key_press(egui::Key::Home);
    harness.step();
    assert_eq!(harness.state().player.displayed_index, 0);
    harness.key_press(egui::Key::N);
    harness.step();
    assert_eq!(harness.state().view, View::Normalized);
}

#[test]
fn hovering_a_keypoint_shows_its_index_name_and_score() {
    let mut harness = scripted_app();
    harness.step();
    let app = harness.state();
    let placement = app.placement.expect("video drawn");
    let pose = app
        .pipeline()
        .and_then(|p| p.store.pose(0))
        .expect("pose of frame 0")
        .pose;
    // Keypoint 9 (left wrist) as the backend put it.
    let k = pose.keypoints_in_image[9];
    harness.hover_at(placement.screen_from_image(k.x, k.y));
    harness.run_steps(3);
    let hovered = harness.state().hovered.clone().expect("a hovered keypoint");
    assert_eq!(hovered.0, 9);
    assert_eq!(hovered.1, "left_wrist");
    assert!((hovered.2 - k.score).abs() < 1e-6);
    harness.get_by_label_contains("#9 left_wrist");
}

#[test]
fn theme_switch_changes_the_rendered_background_and_is_saved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    let mut options = engine_options();
    options.settings_path = Some(path.clone());
    options.settings.ui.theme = ThemeChoice::Dark;
    let mut harness = harness(options);
    harness.run_steps(3);
    let dark = *harness.render().unwrap().get_pixel(600, 600);
    harness.get_by_label("View").click();
    harness.run_steps(3);
    harness.get_by_label("Light theme").click();
    harness.run_steps(3);
    let light = *harness.render().unwrap().get_pixel(600, 600);
    let luma = |p: image::Rgba<u8>| u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2]);
    assert!(
        luma(light) > luma(dark) + 200,
        "dark {dark:?}, light {light:?}"
    );
    let saved = Settings::load(&path).unwrap();
    assert_eq!(saved.ui.theme, ThemeChoice::Light);
}
