//! Captions in the window: the model panel's errors (no model, a wrong mT5 folder, an RGB
//! checkpoint, a truncated checkpoint) each show one clear message while the player keeps
//! going; the tiny checkpoint loads and is remembered; the caption panel shows a provisional
//! caption greyed and then the final one; the caption track seeks; SRT and WebVTT exports
//! parse back with the Python `srt` and `webvtt-py` peers; the live transcript grows on disk.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use signcap::gui::App;
use signcap::gui::panels::model::{ModelState, NO_MODEL_HELP};
use signcap::gui::pipeline::{CaptionUpdate, SegmentSpan, SourceRequest};
use signcap::gui::settings::{ModelSettings, Settings, ThemeChoice};
use signcap_engine::source::FrameSource;
use support::*;

fn parity_dir() -> PathBuf {
    shared_dir().join("reference/parity")
}

fn tiny_checkpoint() -> PathBuf {
    parity_dir().join("tiny_unisign_bf16.pth")
}

fn tiny_mt5() -> PathBuf {
    parity_dir().join("tiny-mt5")
}

fn model(checkpoint: &Path, mt5_dir: &Path) -> ModelSettings {
    ModelSettings {
        checkpoint: Some(checkpoint.to_path_buf()),
        mt5_dir: Some(mt5_dir.to_path_buf()),
        ..ModelSettings::default()
    }
}

/// The app on a scripted 60-frame clip (25 fps) with scripted poses, dark theme, settings
/// saved to `settings_path` and transcripts written under `transcripts`.
fn scripted_app(settings_path: &Path, transcripts: &Path) -> Harness<'static, App> {
    let mut options = engine_options();
    options.settings.ui.theme = ThemeChoice::Dark;
    options.settings.captions.transcript_dir = Some(transcripts.to_path_buf());
    options.settings_path = Some(settings_path.to_path_buf());
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

fn caption(utterance: u64, start: f64, end: f64, text: &str, is_final: bool) -> CaptionUpdate {
    let now = std::time::Instant::now();
    CaptionUpdate {
        span: SegmentSpan {
            utterance,
            window: 0,
            start,
            end,
            first_index: (start * 25.0) as u64,
            last_index: (end * 25.0) as u64,
            is_final,
        },
        text: text.into(),
        ids: vec![0, 5, 1],
        token_logprobs: vec![-0.1, -0.2],
        confidence: 0.85,
        alternatives: Vec::new(),
        is_final,
        requested_at: now,
        ready_at: now,
        last_frame_captured_at: None,
    }
}

/// The player still plays: from frame 0, Play advances the frame; then Pause.
fn assert_player_plays(harness: &mut Harness<'static, App>) {
    harness.state_mut().seek(0);
    harness.step();
    harness.state_mut().play();
    step_until(harness, Duration::from_secs(10), "playback", |app| {
        app.player.displayed_index >= 5
    });
    harness.state_mut().pause();
    harness.step();
}

/// Loads `choice` and waits for the outcome; returns the notices that came with it.
fn load_and_wait(harness: &mut Harness<'static, App>, choice: ModelSettings) -> Vec<String> {
    let before = harness.state().notices.len();
    let ctx = harness.ctx.clone();
    harness.state_mut().load_model(&ctx, choice, true);
    step_until(harness, Duration::from_secs(60), "the model check", |app| {
        !app.model.is_checking()
    });
    harness.step();
    harness.state().notices[before..]
        .iter()
        .map(|n| n.message.clone())
        .collect()
}

/// A copy of the tiny checkpoint as safetensors with one RGB-branch key added, as an
/// RGB-trained Uni-Sign checkpoint has.
fn write_rgb_checkpoint(path: &Path) {
    use signcap_engine::model::{Mt5Config, PoseEncoderConfig, UniSignConfig, load_weights};
    let config = UniSignConfig {
        pose: PoseEncoderConfig::default(),
        mt5: Mt5Config::load(&tiny_mt5()).expect("tiny mT5 config"),
    };
    let weights = load_weights(&tiny_checkpoint(), &config).expect("tiny weights");
    let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = weights
        .tensors
        .iter()
        .map(|(key, tensor)| {
            let values: Vec<f32> = tensor
                .to_dtype(candle_core::DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1())
                .expect("tensor values");
            (
                key.clone(),
                tensor.dims().to_vec(),
                bytemuck::cast_slice(&values).to_vec(),
            )
        })
        .collect();
    let rgb: Vec<f32> = (0..8 * 4).map(|i| i as f32 / 32.0).collect();
    named.push((
        "rgb_proj.weight".into(),
        vec![8, 4],
        bytemuck::cast_slice(&rgb).to_vec(),
    ));
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = named
        .iter()
        .map(|(key, shape, bytes)| {
            (
                key.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("tensor view"),
            )
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).expect("write the RGB checkpoint");
}

#[test]
fn model_errors_each_show_one_clear_message_and_the_player_keeps_going() {
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("settings.toml");
    let mut harness = scripted_app(&settings_path, dir.path());

    // No model: the panel says what to get and where, without an error.
    assert!(matches!(harness.state().model.state, ModelState::NotChosen));
    harness.get_by_label_contains("https://huggingface.co/ZechengLi19/Uni-Sign");
    harness.get_by_label_contains("https://huggingface.co/google/mt5-base");
    assert!(NO_MODEL_HELP.contains("keypoints work without it"));
    assert!(harness.state().notices.is_empty());

    let truncated = dir.path().join("truncated_unisign.pth");
    let bytes = std::fs::read(tiny_checkpoint()).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let rgb = dir.path().join("rgb_unisign.safetensors");
    write_rgb_checkpoint(&rgb);
    let missing = dir.path().join("no_such_checkpoint.pth");

    let cases: [(ModelSettings, &[&str]); 4] = [
        (
            model(&missing, &tiny_mt5()),
            &["no_such_checkpoint.pth", "does not exist"],
        ),
        (
            model(&tiny_checkpoint(), &parity_dir()),
            &["this is not an mT5 folder (no config.json)"],
        ),
        (
            model(&truncated, &tiny_mt5()),
            &["truncated_unisign.pth", "truncated or corrupt"],
        ),
        (
            model(&rgb, &tiny_mt5()),
            &[
                "rgb_unisign.safetensors",
                "needs the RGB branch, which signcap does not run yet; use a pose_only checkpoint",
            ],
        ),
    ];
    for (choice, expected) in cases {
        let messages = load_and_wait(&mut harness, choice);
        assert_eq!(messages.len(), 1, "one message each: {messages:?}");
        let message = &messages[0];
        assert!(
            expected.iter().all(|part| message.contains(part)),
            "{message:?} lacks {expected:?}"
        );
        assert!(harness.state().notices.last().is_some_and(|n| n.is_error));
        assert!(matches!(harness.state().model.state, ModelState::Failed(_)));
        // Shown in the window, once.
        assert_eq!(
            harness.get_all_by_label(message).count(),
            1,
            "{message} shown once"
        );
        assert_player_plays(&mut harness);
        harness.get_by_label("Dismiss").click();
        harness.run_steps(2);
        assert!(
            harness.state().notices.is_empty(),
            "{:?}",
            harness.state().notices
        );
    }
    // None of the failures was remembered.
    assert_eq!(
        Settings::load(&settings_path).unwrap().model.checkpoint,
        None
    );

    // The tiny checkpoint loads without a message and is remembered.
    let messages = load_and_wait(&mut harness, model(&tiny_checkpoint(), &tiny_mt5()));
    assert!(messages.is_empty(), "{messages:?}");
    assert!(
        matches!(harness.state().model.state, ModelState::Ready(..)),
        "{:?}",
        harness.state().model.state
    );
    let saved = Settings::load(&settings_path).unwrap().model;
    assert_eq!(saved.checkpoint, Some(tiny_checkpoint()));
    assert_eq!(saved.mt5_dir, Some(tiny_mt5()));
    assert_eq!(saved.beams, 4);
    assert_eq!(saved.provisional_interval_ms, 700);
}

#[test]
fn the_model_window_chooses_a_checkpoint_through_the_file_browser() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = engine_options();
    options.settings_path = Some(dir.path().join("settings.toml"));
    // The mT5 folder was chosen before; only the checkpoint is missing.
    options.settings.model.mt5_dir = Some(tiny_mt5());
    let mut harness = harness(options);
    harness.run_steps(2);
    harness.get_by_label("Model…").click();
    harness.run_steps(3);
    harness.get_by_label("Choose checkpoint…").click();
    harness.run_steps(3);
    let name_field = harness.get_by_role_and_label(Role::TextInput, "File name");
    name_field.focus();
    name_field.set_text_value_accesskit(&tiny_checkpoint().display().to_string());
    harness.step();
    harness.get_by_label("Choose").click();
    harness.step();
    step_until(&mut harness, Duration::from_secs(60), "the model", |app| {
        !app.model.is_checking()
    });
    assert!(
        matches!(harness.state().model.state, ModelState::Ready(..)),
        "{:?}; notices {:?}",
        harness.state().model.state,
        harness.state().notices
    );
    harness.run_steps(2);
    harness.get_by_label_contains("Loaded ");
    harness.check_accessibility();
}

/// Largest luma of the pixels inside `rect` (points) of `image`.
fn brightest_luma(image: &image::RgbaImage, rect: egui::Rect) -> u32 {
    let ppp = image.width() as f32 / WINDOW[0];
    let mut best = 0;
    for y in (rect.top() * ppp) as u32..(rect.bottom() * ppp) as u32 {
        for x in (rect.left() * ppp) as u32..(rect.right() * ppp) as u32 {
            if let Some(p) = image.get_pixel_checked(x, y) {
                best = best.max((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3);
            }
        }
    }
    best
}

#[test]
fn provisional_caption_is_greyed_then_final_goes_to_history_transcript_and_copy() {
    let dir = tempfile::tempdir().unwrap();
    let transcripts = dir.path().join("transcripts");
    let settings_path = dir.path().join("settings.toml");
    let mut harness = scripted_app(&settings_path, &transcripts);
    let (weak, strong) = {
        let style = harness.ctx.global_style();
        let visuals = &style.visuals;
        let luma = |c: egui::Color32| (u32::from(c.r()) + u32::from(c.g()) + u32::from(c.b())) / 3;
        (
            luma(visuals.weak_text_color()),
            luma(visuals.strong_text_color()),
        )
    };
    assert!(strong > weak + 60, "theme: weak {weak}, strong {strong}");

    harness
        .state_mut()
        .receive_caption(caption(0, 0.4, 1.2, "HELLO provisional", false));
    harness.run_steps(2);
    let rect = harness.get_by_label("HELLO provisional").rect();
    let image = harness.render().unwrap();
    let provisional = brightest_luma(&image, rect);
    assert!(
        provisional <= weak + 12,
        "provisional text is greyed: brightest {provisional}, weak {weak}, strong {strong}"
    );
    assert!(harness.state().transcript.is_none(), "nothing final yet");

    harness
        .state_mut()
        .receive_caption(caption(0, 0.4, 1.3, "HELLO final", true));
    harness.run_steps(2);
    assert!(harness.query_by_label("HELLO provisional").is_none());
    // The current line and the history line.
    let lines: Vec<egui::Rect> = harness
        .get_all_by_label("HELLO final")
        .map(|n| n.rect())
        .collect();
    assert_eq!(lines.len(), 2, "current line and history");
    let image = harness.render().unwrap();
    let current = brightest_luma(&image, lines[0]);
    assert!(
        current + 12 >= strong,
        "final text is strong: brightest {current}, strong {strong}"
    );
    harness.get_by_label_contains("0:00.4–0:01.3");

    // The live transcript holds the final caption as soon as it came.
    let path = harness
        .state()
        .transcript
        .as_ref()
        .expect("transcript")
        .path
        .clone();
    assert!(path.starts_with(&transcripts));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.ends_with("00:00:00.400 --> 00:00:01.300  HELLO final\n"),
        "{text}"
    );
    harness
        .state_mut()
        .receive_caption(caption(1, 1.5, 2.2, "WORLD", true));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.ends_with("00:00:01.500 --> 00:00:02.200  WORLD\n"),
        "{text}"
    );

    // Copy all puts every final line on the clipboard.
    harness.run_steps(2);
    harness.get_by_label("Copy all").click();
    harness.step();
    let copied: Vec<String> = harness
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        copied,
        ["00:00:00.400 --> 00:00:01.300  HELLO final\n00:00:01.500 --> 00:00:02.200  WORLD\n"]
    );

    // High contrast: white on black, saved.
    harness.get_by_label("High contrast").click();
    harness.run_steps(3);
    assert!(
        Settings::load(&settings_path)
            .unwrap()
            .captions
            .high_contrast
    );
    let rect = harness.get_all_by_label("WORLD").next().unwrap().rect();
    let image = harness.render().unwrap();
    assert!(brightest_luma(&image, rect) >= 250);
    let ppp = image.width() as f32 / WINDOW[0];
    let corner = image.get_pixel(
        ((rect.left() - 3.0) * ppp) as u32,
        ((rect.top() - 3.0) * ppp) as u32,
    );
    assert!(
        corner[0] < 8 && corner[1] < 8 && corner[2] < 8,
        "{corner:?}"
    );
}

#[test]
fn clicking_a_caption_on_the_track_seeks_to_its_start_and_captions_export() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = scripted_app(&dir.path().join("settings.toml"), dir.path());
    let captions = [
        caption(0, 0.2, 0.9, "FIRST sign", true),
        caption(1, 1.2, 2.0, "second, with <tags> & more", true),
    ];
    for c in &captions {
        harness.state_mut().receive_caption(c.clone());
    }
    harness.run_steps(2);
    // 1.2 s at 25 fps.
    harness.get_by_label_contains("Caption at 0:01.2").click();
    step_until(&mut harness, Duration::from_secs(5), "the seek", |app| {
        app.player.displayed_index == 30
    });
    harness.run_steps(2);
    harness
        .get_all_by_label_contains("Caption at 0:00.2")
        .next()
        .unwrap()
        .click();
    step_until(&mut harness, Duration::from_secs(5), "the seek", |app| {
        app.player.displayed_index == 5
    });

    // Export .srt and .vtt from the File menu, then parse them back with the peers.
    let mut written = Vec::new();
    for ext in ["srt", "vtt"] {
        let path = dir.path().join(format!("captions.{ext}"));
        harness.get_by_label("File").click();
        harness.run_steps(3);
        harness
            .get_by_label(&format!("Export captions .{ext}…"))
            .click();
        harness.run_steps(3);
        let name_field = harness.get_by_role_and_label(Role::TextInput, "File name");
        name_field.focus();
        name_field.set_text_value_accesskit(&path.display().to_string());
        harness.step();
        harness.get_by_label("Export").click();
        step_until(&mut harness, Duration::from_secs(20), "the export", |app| {
            app.last_export
                .as_ref()
                .is_some_and(|r| r.as_ref() == Ok(&path))
                && !app.is_exporting()
        });
        written.push(path);
    }
    let parsed: serde_json::Value = serde_json::from_slice(&signcap_tests::run_peer(
        "captions_peer.py",
        &[written[0].as_os_str(), written[1].as_os_str()],
    ))
    .unwrap();
    for kind in ["srt", "vtt"] {
        let cues = parsed[kind].as_array().unwrap();
        assert_eq!(cues.len(), captions.len(), "{kind}: {parsed}");
        for (cue, c) in cues.iter().zip(&captions) {
            assert!(
                (cue["start"].as_f64().unwrap() - c.span.start).abs() < 1e-6,
                "{kind}"
            );
            assert!(
                (cue["end"].as_f64().unwrap() - c.span.end).abs() < 1e-6,
                "{kind}"
            );
            assert_eq!(cue["text"].as_str().unwrap(), c.text, "{kind}");
        }
    }
}

/// `signcap --open CLIP --checkpoint CKPT --mt5 DIR` on a real clip (its recorded MediaPipe
/// keypoints, so the test spends its time on captions rather than pose estimation) with the
/// tiny checkpoint: the model loads, Play, a provisional caption and then a final one appear,
/// and the final one is on the timeline's caption track.
#[test]
fn real_clip_with_the_tiny_checkpoint_gets_provisional_then_final_captions() {
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        gui: signcap::gui::GuiArgs,
    }
    let dir = tempfile::tempdir().unwrap();
    let clip_path = shared_dir().join("eval-media/poses/ase_FOOTBALL.cocowholebody133.pose");
    let cli = Cli::try_parse_from([
        "signcap".as_ref(),
        "--open".as_ref(),
        clip_path.as_os_str(),
        "--checkpoint".as_ref(),
        tiny_checkpoint().as_os_str(),
        "--mt5".as_ref(),
        tiny_mt5().as_os_str(),
    ])
    .expect("arguments");
    let mut settings = Settings::default();
    settings.ui.system_file_dialog = false;
    settings.captions.transcript_dir = Some(dir.path().to_path_buf());
    // Provisional captions as often as the model allows, so a short utterance gets some.
    settings.model.provisional_interval_ms = 100;
    // Two beams: the beam path at a fraction of the default four's time on a shared CPU.
    settings.model.beams = 2;
    let settings_path = dir.path().join("settings.toml");
    let options = cli
        .gui
        .options(settings, Some(settings_path.clone()))
        .unwrap();
    let mut harness = harness(options);
    // The tiny model's random weights emit pieces of any script in mT5's vocabulary, and this
    // machine has no CJK font: boxes are fine here (the harness panics on them by default).
    harness
        .ctx
        .set_missing_glyph_policy(egui::MissingGlyphPolicy::Tofu);
    step_until(
        &mut harness,
        Duration::from_secs(60),
        "the tiny model and the clip",
        |app| {
            matches!(app.model.state, ModelState::Ready(..))
                && app.source_info.is_some()
                && app.player.overlay_index.is_some()
        },
    );
    // A model given on the command line is for this run only.
    assert_eq!(
        Settings::load(&settings_path).unwrap().model.checkpoint,
        None
    );
    // The bottom panels take a frame to grow to the caption track of the reopened source;
    // the click goes where the button is once they have.
    harness.run_steps(2);
    harness.get_by_label("Play").click();
    harness.step();
    assert!(harness.state().player.playing, "Play starts playback");
    let mut provisional_seen_at: Option<usize> = None;
    let mut steps = 0;
    let start = std::time::Instant::now();
    while harness.state().captions.finals.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no final caption; notices {:?}; counters {:?}; frame {}",
            harness.state().notices,
            harness.state().pipeline().map(|p| &p.counters),
            harness.state().player.displayed_index
        );
        harness.step();
        steps += 1;
        if provisional_seen_at.is_none() && harness.state().captions.provisional.is_some() {
            provisional_seen_at = Some(steps);
            eprintln!(
                "provisional after {:?} at frame {}",
                start.elapsed(),
                harness.state().player.displayed_index
            );
            // Shown greyed in the caption panel.
            let text = harness.state().captions.provisional.clone().unwrap().text;
            if !text.trim().is_empty() {
                harness
                    .get_all_by_label(&text)
                    .next()
                    .expect("provisional line");
            }
        }
        // Real time passes for the worker threads; the loop's condition decides.
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "final after {:?}, frame {}, playing {}",
        start.elapsed(),
        harness.state().player.displayed_index,
        harness.state().player.playing
    );
    assert!(
        provisional_seen_at.is_some(),
        "a provisional caption came before the first final"
    );
    harness.run_steps(2);
    let app = harness.state();
    let first = app.captions.finals[0].clone();
    assert!(first.is_final && first.span.end >= first.span.start);
    assert!(app.notices.is_empty(), "{:?}", app.notices);
    let label = format!(
        "Caption at {}",
        signcap::gui::panels::captions::short_time(first.span.start)
    );
    harness.get_by_label_contains(&label);
    // The transcript already holds it.
    let transcript = app.transcript.as_ref().expect("transcript").path.clone();
    let text = std::fs::read_to_string(transcript).unwrap();
    assert!(text.contains(&signcap::gui::panels::captions::transcript_line(&first)));
}
