//! The app: state, the workers it drains each frame, and the router that lays out the panels
//! (`super::panels`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui::{Pos2, Rect};
use signcap_engine::source::{self, SourceInfo};

use super::export::ExportJob;
use super::file_browser::{FileBrowser, SystemDialog};
use super::inspect::NormalizedFrame;
use super::latency::LatencyStats;
use super::overlay::{GroupToggles, OverlayResources};
use super::panels::captions::{CaptionLog, Transcript};
use super::panels::model::ModelPanel;
use super::pipeline::{
    self, CaptionConfig, CaptureCommand, EstimatorFactory, Pipeline, PipelineConfig, PipelineEvent,
    PipelineLimits, SourceOpener, SourceRequest, Stage, frame_image,
};
use super::preview::CameraPreview;
use super::settings::{ModelSettings, Settings, ThemeChoice};
use super::skeleton;

/// Lists cameras as (index to open, name); the app is given one so tests run without cameras.
pub type CameraLister = Arc<dyn Fn() -> Result<Vec<(u32, String)>, String> + Send + Sync>;

/// Speeds the player offers.
pub const SPEEDS: [f64; 6] = [0.25, 0.5, 1.0, 1.5, 2.0, 4.0];

/// A stale pose more than this many frames behind the video is not drawn.
pub(crate) const MAX_OVERLAY_LAG_FRAMES: u64 = 15;

/// How the app is built: settings, what to open, and the engine parts it runs.
#[derive(Clone)]
pub struct AppOptions {
    /// Settings to start with.
    pub settings: Settings,
    /// Where settings are saved; `None` keeps them in memory only (tests).
    pub settings_path: Option<PathBuf>,
    /// Source to open at start.
    pub open: Option<SourceRequest>,
    /// Close the window after this long.
    pub quit_after: Option<Duration>,
    /// Opens video files and cameras.
    pub open_source: SourceOpener,
    /// Builds pose backends.
    pub make_estimator: EstimatorFactory,
    /// Lists cameras.
    pub list_cameras: CameraLister,
    /// A model for this run only (`--checkpoint`, `--mt5`), not saved; `None` loads the
    /// settings' model.
    pub model: Option<ModelSettings>,
    /// The pipeline's clock (provisional-caption pacing); tests may drive their own.
    pub clock: Arc<dyn pipeline::Clock>,
}

impl AppOptions {
    /// The real engine parts with `settings`.
    pub fn with_engine(settings: Settings, settings_path: Option<PathBuf>) -> Self {
        Self {
            settings,
            settings_path,
            open: None,
            quit_after: None,
            open_source: Arc::new(pipeline::open_engine_source),
            make_estimator: Arc::new(pipeline::create_engine_estimator),
            list_cameras: Arc::new(list_engine_cameras),
            model: None,
            clock: pipeline::SystemClock::shared(),
        }
    }
}

/// Cameras the engine finds, as (index to open, name).
pub fn list_engine_cameras() -> Result<Vec<(u32, String)>, String> {
    source::list_cameras()
        .map(|cameras| cameras.into_iter().map(|c| (c.index, c.name)).collect())
        .map_err(|e| e.to_string())
}

/// Which view fills the centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The video with the keypoint overlay.
    Overlay,
    /// The normalised 69-point model input.
    Normalized,
}

/// A message for the user in the window.
#[derive(Clone, Debug)]
pub struct Notice {
    /// What happened.
    pub message: String,
    /// Errors are red, information is not.
    pub is_error: bool,
}

/// The player's state.
#[derive(Clone, Debug, Default)]
pub struct PlayerState {
    /// Whether the clock runs.
    pub playing: bool,
    /// Playback speed factor.
    pub speed: f64,
    /// Index of the frame on screen.
    pub displayed_index: u64,
    /// Index of the frame whose pose is drawn (may trail `displayed_index`).
    pub overlay_index: Option<u64>,
}

/// Where the overlay was drawn on the last frame (for hover, tests and benches).
#[derive(Clone, Copy, Debug)]
pub struct VideoPlacement {
    /// The video's rectangle in points.
    pub rect: Rect,
    /// Source image size in pixels.
    pub image_size: [u32; 2],
}

impl VideoPlacement {
    /// Screen position (points) of an image pixel position.
    pub fn screen_from_image(&self, x: f32, y: f32) -> Pos2 {
        Pos2::new(
            self.rect.min.x + x / self.image_size[0].max(1) as f32 * self.rect.width(),
            self.rect.min.y + y / self.image_size[1].max(1) as f32 * self.rect.height(),
        )
    }
}

/// The signcap desktop app.
pub struct App {
    pub(crate) options: AppOptions,
    /// Current settings (saved on change when there is a path).
    pub settings: Settings,
    pub(crate) pipeline: Option<Pipeline>,
    /// What the open source said about itself.
    pub source_info: Option<SourceInfo>,
    /// Player state.
    pub player: PlayerState,
    /// Shown keypoint groups.
    pub toggles: GroupToggles,
    /// Which view fills the centre.
    pub view: View,
    /// Messages shown in the window.
    pub notices: Vec<Notice>,
    /// Latency, queue and frame-time figures.
    pub latency: LatencyStats,
    /// Where the video was drawn last frame.
    pub placement: Option<VideoPlacement>,
    /// The keypoint under the pointer: (index, name, score).
    pub hovered: Option<(usize, String, f32)>,
    pub(crate) texture: Option<egui::TextureHandle>,
    pub(crate) texture_index: Option<u64>,
    pub(crate) has_wgpu_overlay: bool,
    pub(crate) limbs: Vec<(usize, usize)>,
    pub(crate) export: Option<ExportJob>,
    /// Last export result, for the status line and tests.
    pub last_export: Option<Result<PathBuf, String>>,
    pub(crate) browser: Option<FileBrowser>,
    pub(crate) system_dialog: Option<SystemDialog>,
    /// The desktop's dialog could not be shown once: the browser serves for this session.
    pub(crate) system_dialog_missing: bool,
    pub(crate) path_input: String,
    pub(crate) cameras: Option<Result<Vec<(u32, String)>, String>>,
    /// The start screen's live picture of the camera the user is looking at.
    pub(crate) preview: Option<CameraPreview>,
    pub(crate) settings_open: bool,
    pub(crate) requested_index: Option<u64>,
    pub(crate) started_at: Instant,
    pub(crate) frame_started: Option<Instant>,
    pub(crate) pose_ready: bool,
    pub(crate) pose_failed: bool,
    pub(crate) confidence_cache: (usize, Vec<[f64; 6]>),
    /// Mean confidence per keypoint group of each pose scored so far, by frame index.
    pub(crate) group_scores: std::collections::BTreeMap<u64, [f32; 5]>,
    pub(crate) normalized_cache: Option<(usize, u64, Option<NormalizedFrame>)>,
    /// The translation model and its panel.
    pub model: ModelPanel,
    /// Captions of the open source.
    pub captions: CaptionLog,
    /// The live transcript of the open source, once its first final caption came.
    pub transcript: Option<Transcript>,
    pub(crate) transcript_failed: bool,
}

impl App {
    /// Builds the app; registers the overlay shader when eframe runs on wgpu.
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let has_wgpu_overlay = cc
            .wgpu_render_state
            .as_ref()
            .is_some_and(OverlayResources::register);
        let settings = options.settings.clone();
        let model_settings = settings.model.clone();
        apply_theme(&cc.egui_ctx, settings.ui.theme);
        let mut app = Self {
            toggles: settings.ui.groups,
            settings,
            pipeline: None,
            source_info: None,
            player: PlayerState {
                speed: 1.0,
                ..PlayerState::default()
            },
            view: View::Overlay,
            notices: Vec::new(),
            latency: LatencyStats::default(),
            placement: None,
            hovered: None,
            texture: None,
            texture_index: None,
            has_wgpu_overlay,
            limbs: skeleton::limbs(),
            export: None,
            last_export: None,
            browser: None,
            system_dialog: None,
            system_dialog_missing: false,
            path_input: String::new(),
            cameras: None,
            preview: None,
            settings_open: false,
            requested_index: Some(0),
            started_at: Instant::now(),
            frame_started: None,
            pose_ready: false,
            pose_failed: false,
            confidence_cache: (0, Vec::new()),
            group_scores: Default::default(),
            normalized_cache: None,
            model: ModelPanel::new(options.model.clone().unwrap_or(model_settings)),
            captions: CaptionLog::default(),
            transcript: None,
            transcript_failed: false,
            options,
        };
        if !has_wgpu_overlay {
            app.notice(
                "The wgpu renderer is not available: keypoints are drawn without the shader.",
                false,
            );
        }
        // A model chosen before loads at once, on a worker; one given for this run is not
        // saved.
        let choice = app.model.choice.clone();
        app.load_model(&cc.egui_ctx, choice, false);
        if let Some(request) = app.options.open.clone() {
            app.open(&cc.egui_ctx, request);
        }
        app
    }

    pub(crate) fn notice(&mut self, message: impl Into<String>, is_error: bool) {
        let message = message.into();
        if is_error {
            tracing::warn!("{message}");
        }
        self.notices.push(Notice { message, is_error });
    }

    /// Whether a source is open.
    pub fn is_open(&self) -> bool {
        self.pipeline.is_some()
    }

    /// The open pipeline.
    pub fn pipeline(&self) -> Option<&Pipeline> {
        self.pipeline.as_ref()
    }

    /// Opens `request`, replacing the current source.
    pub fn open(&mut self, ctx: &egui::Context, request: SourceRequest) {
        self.close();
        // A camera opens once at a time: the capture thread waits for the preview to let go
        // of it before opening anything.
        let open_source = match self.preview.take() {
            Some(preview) => {
                let preview = Mutex::new(Some(preview));
                let open_source = self.options.open_source.clone();
                let after_preview: SourceOpener = Arc::new(move |request| {
                    let released = preview
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .take();
                    if let Some(preview) = released {
                        preview.release();
                    }
                    open_source(request)
                });
                after_preview
            }
            None => self.options.open_source.clone(),
        };
        if let SourceRequest::File(path) = &request {
            self.settings.remember_recent(path);
            self.save_settings();
        }
        let repaint_ctx = ctx.clone();
        let limits = PipelineLimits {
            max_cached_frames: self.settings.player.max_cached_frames,
            decode_ahead: self.settings.player.decode_ahead,
            sync_delay_frames: self.settings.player.sync_delay_frames,
        };
        // Without a model the segmenter still finds utterances; with one they get captions.
        let translator = self.model.translator().map(|(_, t)| t.clone());
        let captions = CaptionConfig {
            translator,
            provisional_interval: Some(Duration::from_millis(
                self.model.choice.provisional_interval_ms.max(50),
            )),
            ..CaptionConfig::default()
        };
        self.pipeline = Some(Pipeline::start(
            request,
            open_source,
            self.options.make_estimator.clone(),
            Arc::new(frame_image),
            PipelineConfig {
                pose: self.settings.pose.clone(),
                limits,
                mode: None,
                captions: Some(captions),
            },
            self.options.clock.clone(),
            move || repaint_ctx.request_repaint(),
        ));
        self.player = PlayerState {
            speed: self.player.speed.max(0.05),
            ..PlayerState::default()
        };
    }

    /// Opens the open source again at the frame on screen, playing if it was: a new model
    /// takes effect in a new pipeline.
    pub(crate) fn reopen_at_same_frame(&mut self, ctx: &egui::Context) {
        let Some(request) = self.pipeline.as_ref().map(|p| p.request.clone()) else {
            return;
        };
        let (index, was_playing) = (self.player.displayed_index, self.player.playing);
        self.open(ctx, request);
        if index > 0
            && let Some(pipeline) = &self.pipeline
        {
            // The source's length is not known yet, so no clamping here: the capture stage
            // clamps.
            self.player.displayed_index = index;
            self.requested_index = Some(index);
            pipeline.command(CaptureCommand::Seek(index));
        }
        if was_playing {
            self.play();
        }
    }

    /// Closes the current source and forgets its frames.
    pub fn close(&mut self) {
        self.export = None;
        self.pipeline = None;
        self.source_info = None;
        self.texture_index = None;
        self.placement = None;
        self.pose_ready = false;
        self.pose_failed = false;
        self.confidence_cache = (0, Vec::new());
        self.group_scores.clear();
        self.normalized_cache = None;
        self.latency = LatencyStats::default();
        self.captions = CaptionLog::default();
        self.transcript = None;
        self.transcript_failed = false;
    }

    pub(crate) fn save_settings(&mut self) {
        let Some(path) = self.options.settings_path.clone() else {
            return;
        };
        if let Err(e) = self.settings.save(&path) {
            self.notice(format!("{e:#}"), true);
        }
    }

    /// Number of frames of the open file (`None` for live sources).
    pub fn frame_count(&self) -> Option<u64> {
        self.source_info.as_ref().and_then(|i| i.frame_count)
    }

    /// Drains the workers' channels; runs once per UI frame before drawing.
    pub(crate) fn pump(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        let mut failures = Vec::new();
        let mut captions = Vec::new();
        let mut ended = false;
        self.pump_model(ctx);
        if let Some(pipeline) = &self.pipeline {
            for event in pipeline.events.try_iter() {
                match event {
                    PipelineEvent::Opened(info) => self.source_info = Some(info),
                    PipelineEvent::PoseReady => self.pose_ready = true,
                    PipelineEvent::Failed { stage, message } => failures.push((stage, message)),
                    // Applied after the frames: the clip's last frame may be queued still.
                    PipelineEvent::Ended => ended = true,
                    PipelineEvent::Caption(update) => captions.push(update),
                    // Utterance bounds show through their captions.
                    PipelineEvent::Segment(_) | PipelineEvent::Finished => {}
                }
            }
            let live = self
                .source_info
                .as_ref()
                .is_some_and(|i| i.frame_count.is_none());
            for msg in pipeline.frames_to_ui.try_iter() {
                // A paused file shows only what was asked for, not frames still in flight.
                if !(live || self.player.playing || self.requested_index == Some(msg.index)) {
                    continue;
                }
                self.player.displayed_index = msg.index;
                self.latency
                    .record_stage(Stage::Capture, now - msg.captured_at, None);
                self.latency.record_displayed(now);
            }
            if ended {
                self.player.playing = false;
            }
            for msg in pipeline.poses_to_ui.try_iter() {
                self.latency.record_stage(
                    Stage::Pose,
                    msg.finished_at - msg.captured_at,
                    Some(msg.finished_at - msg.started_at),
                );
            }
            self.latency.record_queues(
                pipeline.frames_to_ui.len(),
                pipeline.pose_queue_len(),
                pipeline.poses_to_ui.len(),
            );
            self.latency.counters = Some(pipeline.counters.clone());
        }
        for update in captions {
            if let Some(captured_at) = update.last_frame_captured_at {
                self.latency.record_stage(
                    Stage::Segmenter,
                    update.requested_at.saturating_duration_since(captured_at),
                    None,
                );
                self.latency.record_stage(
                    Stage::Translator,
                    update.ready_at.saturating_duration_since(captured_at),
                    Some(
                        update
                            .ready_at
                            .saturating_duration_since(update.requested_at),
                    ),
                );
            }
            self.receive_caption(update);
        }
        for (stage, message) in failures {
            let prefix = match stage {
                Stage::Capture => "Video stopped",
                Stage::Pose => "Pose estimation stopped",
                Stage::Segmenter | Stage::Translator => "Captions stopped",
            };
            self.notice(format!("{prefix}: {message}"), true);
            match stage {
                // Nothing was ever shown: back to the start screen, the message stays.
                Stage::Capture if self.source_info.is_none() => self.close(),
                Stage::Capture => self.player.playing = false,
                Stage::Pose => self.pose_failed = true,
                Stage::Segmenter | Stage::Translator => {}
            }
        }
        // Texture for the displayed frame, straight from the store (no decoding here).
        if self.texture_index != Some(self.player.displayed_index)
            && let Some(stored) = self
                .pipeline
                .as_ref()
                .and_then(|p| p.store.frame(self.player.displayed_index))
        {
            let image = egui::ImageData::Color(stored.display.clone());
            match &mut self.texture {
                Some(texture) => texture.set(image, egui::TextureOptions::LINEAR),
                None => {
                    self.texture =
                        Some(ctx.load_texture("video-frame", image, egui::TextureOptions::LINEAR))
                }
            }
            self.texture_index = Some(self.player.displayed_index);
        }
        let overlay_index = self.overlay_pose().map(|(i, _)| i);
        self.player.overlay_index = overlay_index;
        if self.player.playing
            && let Some(i) = overlay_index
        {
            self.latency
                .record_overlay_lag(self.player.displayed_index.saturating_sub(i));
        }
        if let Some(job) = &mut self.export
            && let Some(result) = job.poll()
        {
            let path = job.path.clone();
            self.export = None;
            match result {
                Ok(()) => {
                    self.last_export = Some(Ok(path.clone()));
                    self.notice(format!("Exported {}", path.display()), false);
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    self.last_export = Some(Err(message.clone()));
                    self.notice(message, true);
                }
            }
        }
        if self.export.is_some() || self.model.is_checking() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }
}

pub(crate) fn apply_theme(ctx: &egui::Context, theme: ThemeChoice) {
    ctx.set_theme(match theme {
        ThemeChoice::System => egui::ThemePreference::System,
        ThemeChoice::Light => egui::ThemePreference::Light,
        ThemeChoice::Dark => egui::ThemePreference::Dark,
    });
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.frame_started = Some(Instant::now());
        if let Some(limit) = self.options.quit_after {
            if self.started_at.elapsed() >= limit {
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            } else {
                ctx.request_repaint_after(limit.saturating_sub(self.started_at.elapsed()));
            }
        }
        self.dropped_files(ctx);
        self.shortcuts(ctx);
        self.pump(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        // The UI frame: draining the workers (logic) and building the UI.
        let ui_started = self.frame_started.take().unwrap_or_else(Instant::now);
        let ctx = ui.ctx().clone();
        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        if self.is_open() {
            egui::Panel::bottom("player").show(ui, |ui| self.player_ui(ui));
            egui::Panel::bottom("captions").show(ui, |ui| self.captions_ui(ui));
            egui::Panel::right("inspector")
                .default_size(250.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| self.side_panel_ui(ui));
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.notices_ui(ui);
            if !self.is_open() {
                self.start_screen_ui(ui);
                return;
            }
            self.centre_ui(ui);
        });
        self.settings_window(&ctx);
        self.model_window(&ctx);
        self.browser_window(&ctx);
        self.latency.record_ui_frame(ui_started.elapsed());
        if self.player.playing {
            ctx.request_repaint();
        }
    }

    fn on_exit(&mut self) {
        self.close();
        self.save_settings();
    }
}
