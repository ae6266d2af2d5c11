//! The real app driven like a user: open, play, pause, scrub, toggle groups, switch to the
//! normalised view, export. Each step checks the widget state and the rendered pixels: the
//! keypoints appear where the pose backend put them, in the shader's confidence colour.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use signcap::gui::App;
use signcap::gui::app::View;
use signcap::gui::inspect;
use signcap::gui::overlay::{self, LOW_CONFIDENCE, POINT_RADIUS_POINTS};
use signcap::gui::skeleton::Group;
use signcap_engine::keypoints::unisign::{self, FrameSelection, NormalizedClip, Part};
use signcap_engine::keypoints::{PoseFrame, PoseSequence};
use signcap_engine::source::FrameSource;
use support::*;

/// Checks the rendered overlay against `pose`: every confident point of a shown group whose
/// centre is not under a later-drawn disc has the shader's colour for its score; points of
/// hidden groups do not. Returns how many points were checked each way.
fn check_overlay_pixels(harness: &mut Harness<'static, App>, pose: &PoseFrame) -> (usize, usize) {
    let image = harness.render().expect("offscreen render");
    let app = harness.state();
    let placement = app.placement.expect("the video was drawn");
    let ppp = image.width() as f32 / support::WINDOW[0];
    let radius_px = POINT_RADIUS_POINTS * ppp;
    let visible: Vec<(usize, egui::Pos2, f32)> = pose
        .keypoints_in_image
        .iter()
        .enumerate()
        .filter(|(i, k)| k.score > 0.0 && app.toggles.shows(Group::of(*i)))
        .map(|(i, k)| (i, placement.screen_from_image(k.x, k.y) * ppp, k.score))
        .collect();
    let (mut shown_checked, mut hidden_checked) = (0, 0);
    for (i, k) in pose.keypoints_in_image.iter().enumerate() {
        if k.score < LOW_CONFIDENCE {
            continue;
        }
        // The overlay is clipped to the video; MediaPipe places some confident points (hips)
        // below the frame, which are then rightly not drawn.
        let [width, height] = placement.image_size;
        if k.x < 0.0 || k.y < 0.0 || k.x >= width as f32 || k.y >= height as f32 {
            continue;
        }
        let at = placement.screen_from_image(k.x, k.y) * ppp;
        let Some(pixel) = image.get_pixel_checked(at.x as u32, at.y as u32).copied() else {
            continue;
        };
        // The topmost disc covering this pixel (discs are drawn in index order).
        let top = visible
            .iter()
            .rev()
            .find(|(_, centre, _)| centre.distance(at) < radius_px + 1.0);
        if app.toggles.shows(Group::of(i)) {
            let Some((_, centre, score)) = top else {
                panic!("keypoint {i} is shown but not in the visible list");
            };
            if centre.distance(at) > radius_px - 2.5 || *score < LOW_CONFIDENCE {
                continue; // under another disc's rim or ring: ambiguous
            }
            let expected = overlay::color_from_score(*score);
            assert!(
                color_distance(pixel, expected) <= 24,
                "keypoint {i} at {at:?}: pixel {pixel:?}, expected {expected:?}"
            );
            shown_checked += 1;
        } else if top.is_none() {
            let expected = overlay::color_from_score(k.score);
            assert!(
                color_distance(pixel, expected) > 24,
                "hidden keypoint {i} at {at:?} is still drawn: {pixel:?}"
            );
            hidden_checked += 1;
        }
    }
    (shown_checked, hidden_checked)
}

/// The displayed frame's pose, waiting until it is computed.
fn pose_of_displayed_frame(harness: &mut Harness<'static, App>) -> PoseFrame {
    step_until(
        harness,
        Duration::from_secs(60),
        "the displayed frame's pose",
        |app| {
            let index = app.player.displayed_index;
            app.player.overlay_index == Some(index)
                && app
                    .pipeline()
                    .is_some_and(|p| p.store.frame(index).is_some())
        },
    );
    harness.step();
    let app = harness.state();
    let index = app.player.displayed_index;
    app.pipeline()
        .and_then(|p| p.store.pose(index))
        .expect("pose in the store")
        .pose
}

/// Steps until the pipeline has stopped computing poses, then renders; retries when a pose
/// arrived during the render. Returns the image and the poses it was drawn from.
fn render_with_settled_poses(
    harness: &mut Harness<'static, App>,
) -> (image::RgbaImage, Vec<(u64, PoseFrame)>) {
    let count = |harness: &Harness<'static, App>| {
        harness
            .state()
            .pipeline()
            .map_or(0, |p| p.store.pose_count())
    };
    for _ in 0..20 {
        // Settled: no new pose for 0.5 s.
        let mut last = count(harness);
        let mut still_since = Instant::now();
        while still_since.elapsed() < Duration::from_millis(500) {
            step_for(harness, Duration::from_millis(50));
            let now = count(harness);
            if now != last {
                (last, still_since) = (now, Instant::now());
            }
        }
        harness.step();
        let image = harness.render().expect("offscreen render");
        if count(harness) == last {
            let poses = harness
                .state()
                .pipeline()
                .expect("open")
                .store
                .poses()
                .into_iter()
                .map(|(i, p)| (i, p.pose))
                .collect();
            return (image, poses);
        }
    }
    panic!("poses kept arriving for 20 tries");
}

/// The whole user flow on an opened source with at least 40 frames.
fn drive_player(harness: &mut Harness<'static, App>, export_path: &Path) {
    step_until(
        harness,
        Duration::from_secs(30),
        "the source to open",
        |app| app.source_info.is_some(),
    );
    let frame_count = harness.state().frame_count().expect("a file has a length");
    assert!(frame_count >= 40, "clip too short: {frame_count}");

    // First frame with its keypoints.
    let pose = pose_of_displayed_frame(harness);
    let (shown, _) = check_overlay_pixels(harness, &pose);
    assert!(shown >= 5, "only {shown} keypoints could be checked");
    harness.get_by_label_contains("Video frame 0 with");

    // Play, then pause.
    harness.get_by_label("Play").click();
    step_until(
        harness,
        Duration::from_secs(10),
        "playback to advance",
        |app| app.player.playing && app.player.displayed_index >= 10,
    );
    harness.get_by_label("Pause").click();
    harness.step();
    assert!(!harness.state().player.playing);
    let paused_at = harness.state().player.displayed_index;
    step_for(harness, Duration::from_millis(300));
    assert_eq!(
        harness.state().player.displayed_index,
        paused_at,
        "paused player moved"
    );
    let pose = pose_of_displayed_frame(harness);
    check_overlay_pixels(harness, &pose);

    // Scrub back to a frame seen during play: instant from the caches.
    let target = paused_at / 2;
    harness
        .get_by_role_and_label(Role::Slider, "Frame")
        .set_value_accesskit(target as f64);
    harness.step();
    harness.step();
    let app = harness.state();
    assert_eq!(app.player.displayed_index, target);
    assert!(
        app.pipeline()
            .is_some_and(|p| p.store.frame(target).is_some()),
        "scrubbed-to frame was not cached"
    );
    let pose = pose_of_displayed_frame(harness);
    let (shown, _) = check_overlay_pixels(harness, &pose);
    assert!(shown >= 5);

    // Frame step.
    harness.get_by_label("Next frame").click();
    harness.step();
    assert_eq!(harness.state().player.displayed_index, target + 1);

    // Hide the body: its points disappear, the hands stay.
    harness.get_by_label("Body").click();
    harness.step();
    assert!(!harness.state().toggles.body);
    let pose = pose_of_displayed_frame(harness);
    let (_, hidden) = check_overlay_pixels(harness, &pose);
    assert!(
        hidden >= 3,
        "only {hidden} hidden body points could be checked"
    );
    harness.get_by_label("Body").click();
    harness.step();
    assert!(harness.state().toggles.body);

    // The normalised model input.
    harness.get_by_label("Normalised model input").click();
    harness.step();
    assert_eq!(harness.state().view, View::Normalized);
    // The panel normalises over every pose computed so far, and poses ahead of the playhead
    // keep arriving while paused: render only from a pose set that held still across the
    // render, so the panel and the check below see the same clip.
    let (image, poses) = render_with_settled_poses(harness);
    let ppp = image.width() as f32 / support::WINDOW[0];
    let app = harness.state();
    let info = app.source_info.clone().expect("open");
    let clip = NormalizedClip::from_sequence(&PoseSequence {
        width: info.width,
        height: info.height,
        fps: info.fps,
        frames: poses.iter().map(|(_, p)| p.clone()).collect(),
    });
    let input = unisign::preprocess(&clip, &FrameSelection::Uniform).expect("model input");
    let displayed = app.player.displayed_index;
    let model_frame = input
        .frame_indices
        .iter()
        .position(|&raw| poses[raw].0 == displayed)
        .expect("the displayed frame is a model frame (clip under 256 frames)");
    let body: Vec<[f64; 3]> = (0..9)
        .map(|node| input.part(Part::Body).triple(model_frame, node))
        .collect();
    let confident = body.iter().filter(|t| t[2] > 0.0).count();
    let label = format!(
        "Normalised {}: {confident} points",
        inspect::part_label(Part::Body)
    );
    let rect = harness.get_by_label(&label).rect();
    let mut checked = 0;
    for (n, t) in body.iter().enumerate().filter(|(_, t)| t[2] > 0.0) {
        let at = inspect::screen_from_normalized(rect, t);
        let isolated = body
            .iter()
            .enumerate()
            .filter(|(m, u)| *m != n && u[2] > 0.0)
            .all(|(_, u)| inspect::screen_from_normalized(rect, u).distance(at) > 7.0);
        if !isolated {
            continue;
        }
        let pixel = *image.get_pixel((at.x * ppp) as u32, (at.y * ppp) as u32);
        let expected = overlay::color_from_score(t[2] as f32);
        assert!(
            color_distance(pixel, expected) <= 24,
            "node {n}: {pixel:?} vs {expected:?}"
        );
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} normalised body nodes checked");
    harness.get_by_label("Video with keypoints").click();
    harness.step();

    // Export the clip's keypoints as JSON from the menu.
    harness.get_by_label("File").click();
    harness.run_steps(3);
    harness.get_by_label("Export .json…").click();
    harness.run_steps(3);
    let name_field = harness.get_by_role_and_label(Role::TextInput, "File name");
    name_field.focus();
    name_field.set_text_value_accesskit(&export_path.display().to_string());
    harness.step();
    harness.get_by_label("Export").click();
    step_until(harness, Duration::from_secs(120), "the export", |app| {
        app.last_export.is_some() && !app.is_exporting()
    });
    let app = harness.state();
    assert_eq!(
        app.last_export.clone().expect("export finished"),
        Ok(export_path.to_path_buf())
    );
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export_path).expect("exported file")).expect("json");
    let frames = exported["frames"].as_array().expect("frames");
    assert_eq!(frames.len() as u64, frame_count);
    let store = &app.pipeline().expect("open").store;
    for (index, frame) in frames.iter().enumerate() {
        let cached = store
            .pose(index as u64)
            .expect("every frame's pose is cached after export");
        let points = frame["keypoints"].as_array().expect("keypoints");
        assert_eq!(points.len(), 133);
        for (k, point) in cached.pose.keypoints_in_image.iter().zip(points) {
            let x = point[0].as_f64().expect("x");
            assert!(
                (x - f64::from(k.x)).abs() < 1e-3,
                "frame {index}: {x} vs {}",
                k.x
            );
        }
    }
}

#[test]
fn scripted_clip_full_flow() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = engine_options();
    options.open_source = Arc::new(|_| Ok(Box::new(ScriptedClip::new(60)) as Box<dyn FrameSource>));
    options.make_estimator = Arc::new(|_| Ok(Box::new(ScriptedPose)));
    let mut harness = open_in(
        options,
        signcap::gui::pipeline::SourceRequest::File("scripted.mp4".into()),
    );
    drive_player(&mut harness, &dir.path().join("scripted.json"));
}

#[test]
fn real_clip_full_flow_with_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = harness(engine_options());
    harness.run_steps(2);
    // Open through the start screen, as a user would.
    let path = clip("ase_FOOTBALL.mp4");
    let field = harness.get_by_role_and_label(Role::TextInput, "Path:");
    field.focus();
    field.set_text_value_accesskit(&path.display().to_string());
    harness.step();
    harness.get_by_label("Open path").click();
    harness.step();
    assert!(harness.state().is_open());
    drive_player(&mut harness, &dir.path().join("football.json"));
}

#[test]
fn pose_file_opens_and_draws_the_recorded_keypoints() {
    let path = shared_dir().join("eval-media/poses/ase_FOOTBALL.cocowholebody133.pose");
    let recorded = signcap_engine::keypoints::read_pose_file(&path).expect("readable pose file");
    let mut options = engine_options();
    // A pose file needs no pose model: one that cannot load must not matter.
    options.settings.pose.mediapipe_model_dir = "/nonexistent".into();
    let mut harness = open_in(
        options,
        signcap::gui::pipeline::SourceRequest::File(path.clone()),
    );
    step_until(
        &mut harness,
        Duration::from_secs(20),
        "the first frame",
        |app| app.player.overlay_index == Some(0) && app.placement.is_some(),
    );
    let info = harness.state().source_info.clone().expect("open");
    assert_eq!((info.width, info.height), (recorded.width, recorded.height));
    assert_eq!(info.frame_count, Some(recorded.frames.len() as u64));
    let (shown, _) = check_overlay_pixels(&mut harness, &recorded.frames[0]);
    assert!(shown >= 10, "only {shown} keypoints checked");
    harness
        .get_by_role_and_label(Role::Slider, "Frame")
        .set_value_accesskit(40.0);
    harness.run_steps(3);
    step_until(&mut harness, Duration::from_secs(10), "frame 40", |app| {
        app.player.overlay_index == Some(40)
    });
    harness.step();
    let (shown, _) = check_overlay_pixels(&mut harness, &recorded.frames[40]);
    assert!(shown >= 10, "only {shown} keypoints checked");
    assert!(
        harness.state().notices.is_empty(),
        "{:?}",
        harness.state().notices
    );
}

#[test]
fn opening_a_second_video_builds_a_working_pose_backend_again() {
    let mut harness = harness(engine_options());
    for name in ["ase_HOUSE.mp4", "ase_DIFFERENT.mp4"] {
        let ctx = harness.ctx.clone();
        harness.state_mut().open(
            &ctx,
            signcap::gui::pipeline::SourceRequest::File(clip(name)),
        );
        step_until(&mut harness, Duration::from_secs(60), name, |app| {
            app.player.overlay_index == Some(0) || !app.notices.is_empty()
        });
        assert!(
            harness.state().notices.is_empty(),
            "{name}: {:?}",
            harness.state().notices
        );
    }
}
