//! Controls beyond the player flow: every control has an accessible name, keyboard shortcuts,
//! hovering a keypoint names it, light and dark themes, settings saved to TOML.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// A camera of solid colour that counts how many instances are open at once.
struct CountedCamera {
    inner: FailingCamera,
    open_now: Arc<AtomicUsize>,
}

impl FrameSource for CountedCamera {
    fn info(&self) -> &signcap_engine::source::SourceInfo {
        self.inner.info()
    }
    fn next_frame(
        &mut self,
    ) -> Result<Option<signcap_engine::source::Frame>, signcap_engine::source::SourceError> {
        let frame = self.inner.next_frame()?;
        Ok(frame.map(|mut frame| {
            frame.rgb = Arc::new(PREVIEW_RGB.repeat((frame.width * frame.height) as usize));
            frame
        }))
    }
    fn seek(&mut self, index: u64) -> Result<(), signcap_engine::source::SourceError> {
        self.inner.seek(index)
    }
}

impl Drop for CountedCamera {
    fn drop(&mut self) {
        self.open_now.fetch_sub(1, Ordering::SeqCst);
    }
}

const PREVIEW_RGB: [u8; 3] = [200, 40, 160];

#[test]
fn the_start_screen_previews_a_camera_and_hands_it_to_the_player() {
    let open_now = Arc::new(AtomicUsize::new(0));
    let most_open = Arc::new(AtomicUsize::new(0));
    let mut options = engine_options();
    options.list_cameras = Arc::new(|| Ok(vec![(0, "Test camera".into())]));
    options.open_source = {
        let (open_now, most_open) = (open_now.clone(), most_open.clone());
        Arc::new(move |request| {
            assert_eq!(*request, SourceRequest::Camera(0));
            let now = open_now.fetch_add(1, Ordering::SeqCst) + 1;
            most_open.fetch_max(now, Ordering::SeqCst);
            Ok(Box::new(CountedCamera {
                inner: FailingCamera::new(u64::MAX),
                open_now: open_now.clone(),
            }) as Box<dyn FrameSource>)
        })
    };
    options.make_estimator = Arc::new(|_| Ok(Box::new(NothingFound)));
    let mut harness = harness(options);
    harness.run_steps(2);
    harness.get_by_label("Preview Test camera").click();
    let start = std::time::Instant::now();
    while harness.query_by_label("Preview of Test camera").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no preview picture"
        );
        step_for(&mut harness, Duration::from_millis(50));
    }
    assert!(
        !harness.state().is_open(),
        "previewing does not open the player"
    );
    let rect = harness.get_by_label("Preview of Test camera").rect();
    let image = harness.render().expect("offscreen render");
    let ppp = image.width() as f32 / WINDOW[0];
    let centre = rect.center();
    let pixel = image.get_pixel((centre.x * ppp) as u32, (centre.y * ppp) as u32);
    let expected = egui::Color32::from_rgb(PREVIEW_RGB[0], PREVIEW_RGB[1], PREVIEW_RGB[2]);
    assert!(
        color_distance(*pixel, expected) <= 6,
        "preview pixel {pixel:?}, camera colour {expected:?}"
    );

    harness.get_by_label("Use Test camera").click();
    step_until(
        &mut harness,
        Duration::from_secs(10),
        "the camera in the player",
        |app| app.player.displayed_index >= 3,
    );
    assert!(harness.state().is_open());
    assert_eq!(
        most_open.load(Ordering::SeqCst),
        1,
        "the preview must let go of the camera before the player opens it"
    );
}

#[test]
fn a_camera_that_cannot_open_says_so_in_the_preview() {
    let mut options = engine_options();
    options.list_cameras = Arc::new(|| Ok(vec![(0, "Test camera".into())]));
    options.open_source = Arc::new(|_| {
        Err(signcap_engine::source::SourceError::Camera {
            name: "Test camera".into(),
            reason: "busy in another app".into(),
        })
    });
    let mut harness = harness(options);
    harness.run_steps(2);
    harness.get_by_label("Preview Test camera").click();
    let start = std::time::Instant::now();
    while harness
        .query_by_label_contains("busy in another app")
        .is_none()
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no preview error"
        );
        step_for(&mut harness, Duration::from_millis(50));
    }
    assert!(!harness.state().is_open());
}
