//! The app: a thin egui view over the capture → pose pipeline.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eframe::egui_wgpu;
use egui::{Color32, Key, Modifiers, Pos2, Rect, RichText, Vec2};
use signcap_engine::keypoints::{PoseFrame, unisign};
use signcap_engine::pose::{PoseConfig, PoseError, PoseEstimator};
use signcap_engine::source::{self, FrameSource, SourceError, SourceInfo};

use super::export::{EXPORT_EXTENSIONS, ExportJob, export_frame};
use super::file_browser::{BrowserPurpose, FileBrowser, SystemDialog, SystemDialogOutcome};
use super::inspect::{self, NormalizedFrame};
use super::latency::LatencyStats;
use super::overlay::{self, GroupToggles, OverlayCallback, OverlayResources};
use super::pipeline::{
    CaptureCommand, EstimatorFactory, Pipeline, PipelineLimits, SourceOpener, SourceRequest,
    WorkerEvent,
};
use super::preview::CameraPreview;
use super::settings::{Settings, ThemeChoice};
use super::skeleton::{self, Group};

/// Lists cameras as (index to open, name); the app is given one so tests run without cameras.
pub type CameraLister = Arc<dyn Fn() -> Result<Vec<(u32, String)>, String> + Send + Sync>;

/// Speeds the player offers.
pub const SPEEDS: [f64; 6] = [0.25, 0.5, 1.0, 1.5, 2.0, 4.0];

/// A stale pose more than this many frames behind the video is not drawn.
const MAX_OVERLAY_LAG_FRAMES: u64 = 15;

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
}

impl AppOptions {
    /// The real engine parts with `settings`.
    pub fn with_engine(settings: Settings, settings_path: Option<PathBuf>) -> Self {
        Self {
            settings,
            settings_path,
            open: None,
            quit_after: None,
            open_source: Arc::new(open_engine_source),
            make_estimator: Arc::new(create_engine_estimator),
            list_cameras: Arc::new(list_engine_cameras),
        }
    }
}

/// Opens a file or a camera with the engine's sources.
pub fn open_engine_source(request: &SourceRequest) -> Result<Box<dyn FrameSource>, SourceError> {
    Ok(match request {
        SourceRequest::File(path) => Box::new(source::VideoFile::open(path)?),
        SourceRequest::Camera(index) => Box::new(source::Camera::open(*index)?),
    })
}

/// Builds the configured pose backend.
pub fn create_engine_estimator(config: &PoseConfig) -> Result<Box<dyn PoseEstimator>, PoseError> {
    signcap_engine::pose::create_estimator(config)
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
    options: AppOptions,
    /// Current settings (saved on change when there is a path).
    pub settings: Settings,
    pipeline: Option<Pipeline>,
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
    texture: Option<egui::TextureHandle>,
    texture_index: Option<u64>,
    has_wgpu_overlay: bool,
    limbs: Vec<(usize, usize)>,
    export: Option<ExportJob>,
    /// Last export result, for the status line and tests.
    pub last_export: Option<Result<PathBuf, String>>,
    browser: Option<FileBrowser>,
    system_dialog: Option<SystemDialog>,
    /// The desktop's dialog could not be shown once: the browser serves for this session.
    system_dialog_missing: bool,
    path_input: String,
    cameras: Option<Result<Vec<(u32, String)>, String>>,
    /// The start screen's live picture of the camera the user is looking at.
    preview: Option<CameraPreview>,
    settings_open: bool,
    requested_index: Option<u64>,
    started_at: Instant,
    frame_started: Option<Instant>,
    pose_ready: bool,
    pose_failed: bool,
    confidence_cache: (usize, Vec<[f64; 6]>),
    normalized_cache: Option<(usize, u64, Option<NormalizedFrame>)>,
}

impl App {
    /// Builds the app; registers the overlay shader when eframe runs on wgpu.
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> Self {
        let has_wgpu_overlay = cc
            .wgpu_render_state
            .as_ref()
            .is_some_and(OverlayResources::register);
        let settings = options.settings.clone();
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
            normalized_cache: None,
            options,
        };
        if !has_wgpu_overlay {
            app.notice(
                "The wgpu renderer is not available: keypoints are drawn without the shader.",
                false,
            );
        }
        app.check_model_paths();
        if let Some(request) = app.options.open.clone() {
            app.open(&cc.egui_ctx, request);
        }
        app
    }

    fn notice(&mut self, message: impl Into<String>, is_error: bool) {
        let message = message.into();
        if is_error {
            tracing::warn!("{message}");
        }
        self.notices.push(Notice { message, is_error });
    }

    fn check_model_paths(&mut self) {
        let model = self.settings.model.clone();
        for (what, path) in [
            ("Uni-Sign checkpoint", model.checkpoint),
            ("tokenizer", model.tokenizer),
        ] {
            if let Some(path) = path.filter(|p| !p.exists()) {
                self.notice(
                    format!(
                        "{}: {what} not found; captions are off until it is fixed in Settings",
                        path.display()
                    ),
                    true,
                );
            }
        }
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
        self.pipeline = Some(Pipeline::start(
            request,
            open_source,
            self.options.make_estimator.clone(),
            self.settings.pose.clone(),
            limits,
            move || repaint_ctx.request_repaint(),
        ));
        self.player = PlayerState {
            speed: self.player.speed.max(0.05),
            ..PlayerState::default()
        };
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
        self.normalized_cache = None;
        self.latency = LatencyStats::default();
    }

    fn save_settings(&mut self) {
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

    /// Starts playback.
    pub fn play(&mut self) {
        if let Some(pipeline) = &self.pipeline {
            self.player.playing = true;
            pipeline.command(CaptureCommand::Play {
                speed: self.player.speed,
            });
        }
    }

    /// Pauses playback.
    pub fn pause(&mut self) {
        if let Some(pipeline) = &self.pipeline {
            self.player.playing = false;
            pipeline.command(CaptureCommand::Pause);
            // Frames already on their way are ignored; the clock resumes from what is shown.
            pipeline.command(CaptureCommand::Seek(self.player.displayed_index));
            self.requested_index = Some(self.player.displayed_index);
        }
    }

    /// Shows frame `index` (instantly when it is cached).
    pub fn seek(&mut self, index: u64) {
        let last = self.frame_count().unwrap_or(1).saturating_sub(1);
        let index = index.min(last);
        if let Some(pipeline) = &self.pipeline {
            self.player.displayed_index = index;
            self.requested_index = Some(index);
            pipeline.command(CaptureCommand::Seek(index));
        }
    }

    /// Pauses and moves by `delta` frames.
    pub fn step(&mut self, delta: i64) {
        self.pause();
        let target = self.player.displayed_index.saturating_add_signed(delta);
        self.seek(target);
    }

    /// Sets the playback speed.
    pub fn set_speed(&mut self, speed: f64) {
        self.player.speed = speed;
        if self.player.playing {
            self.play();
        }
    }

    /// The pose drawn for the displayed frame, with its frame index.
    pub fn overlay_pose(&self) -> Option<(u64, PoseFrame)> {
        let pipeline = self.pipeline.as_ref()?;
        let index = self.player.displayed_index;
        if let Some(stored) = pipeline.store.pose(index) {
            return Some((index, stored.pose));
        }
        let (pose_index, stored) = pipeline.store.pose_at_or_before(index)?;
        (index - pose_index <= MAX_OVERLAY_LAG_FRAMES).then_some((pose_index, stored.pose))
    }

    /// Starts exporting the whole clip to `path`.
    pub fn start_export(&mut self, ctx: &egui::Context, path: PathBuf) {
        let Some(pipeline) = &self.pipeline else {
            self.notice("Open a video before exporting.", true);
            return;
        };
        if !matches!(pipeline.request, SourceRequest::File(_)) {
            self.notice("Only recorded videos can be exported as a whole; use \"Export current frame\" for a camera.", true);
            return;
        }
        let repaint_ctx = ctx.clone();
        match ExportJob::start(
            path,
            pipeline.request.clone(),
            self.options.open_source.clone(),
            pipeline.pose_requests(),
            move || repaint_ctx.request_repaint(),
        ) {
            Ok(job) => self.export = Some(job),
            Err(e) => self.notice(format!("{e:#}"), true),
        }
    }

    /// Whether an export is running.
    pub fn is_exporting(&self) -> bool {
        self.export.is_some()
    }

    /// Writes the displayed frame's keypoints to `path`.
    pub fn export_current_frame(&mut self, path: &Path) {
        let (Some(info), Some((_, pose))) = (self.source_info.clone(), self.overlay_pose()) else {
            self.notice("No keypoints on the current frame to export yet.", true);
            return;
        };
        match export_frame(path, &info, &pose) {
            Ok(()) => {
                self.last_export = Some(Ok(path.to_path_buf()));
                self.notice(format!("Wrote {}", path.display()), false);
            }
            Err(e) => {
                let message = format!("{e:#}");
                self.last_export = Some(Err(message.clone()));
                self.notice(message, true);
            }
        }
    }

    /// Drains the workers' channels; runs once per UI frame before drawing.
    fn pump(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        let mut failures = Vec::new();
        let mut ended = false;
        if let Some(pipeline) = &self.pipeline {
            for event in pipeline.events.try_iter() {
                match event {
                    WorkerEvent::Opened(info) => self.source_info = Some(info),
                    WorkerEvent::PoseReady => self.pose_ready = true,
                    WorkerEvent::Failed { stage, message } => failures.push((stage, message)),
                    // Applied after the frames: the clip's last frame may be queued still.
                    WorkerEvent::Ended => ended = true,
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
                self.latency.record_capture(now - msg.captured_at);
                self.latency.record_displayed(now);
            }
            if ended {
                self.player.playing = false;
            }
            for msg in pipeline.poses_to_ui.try_iter() {
                self.latency.record_pose(
                    msg.finished_at - msg.captured_at,
                    msg.finished_at - msg.started_at,
                );
            }
            self.latency.record_queues(
                pipeline.frames_to_ui.len(),
                pipeline.pose_queue_len(),
                pipeline.poses_to_ui.len(),
            );
            self.latency.counters = Some(pipeline.counters.clone());
        }
        for (stage, message) in failures {
            let prefix = match stage {
                "pose" => "Pose estimation stopped",
                _ => "Video stopped",
            };
            self.notice(format!("{prefix}: {message}"), true);
            match stage {
                // Nothing was ever shown: back to the start screen, the message stays.
                "capture" if self.source_info.is_none() => self.close(),
                "capture" => self.player.playing = false,
                _ => self.pose_failed = true,
            }
        }
        // Texture for the displayed frame, straight from the store (no decoding here).
        if self.texture_index != Some(self.player.displayed_index)
            && let Some(stored) = self
                .pipeline
                .as_ref()
                .and_then(|p| p.store.frame(self.player.displayed_index))
        {
            let image = egui::ImageData::Color(stored.image.clone());
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
        if self.export.is_some() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let pressed = |key: Key| ctx.input_mut(|i| i.consume_key(Modifiers::NONE, key));
        if pressed(Key::Space) {
            if self.player.playing {
                self.pause();
            } else {
                self.play();
            }
        }
        if pressed(Key::ArrowRight) {
            self.step(1);
        }
        if pressed(Key::ArrowLeft) {
            self.step(-1);
        }
        if pressed(Key::Home) {
            self.seek(0);
        }
        if pressed(Key::N) {
            self.view = match self.view {
                View::Overlay => View::Normalized,
                View::Normalized => View::Overlay,
            };
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::O)) {
            self.choose_file(ctx, BrowserPurpose::Open);
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::W)) {
            self.close();
        }
    }

    fn browse_start_dir(&self) -> PathBuf {
        self.settings
            .ui
            .recent_files
            .first()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open video… (Ctrl+O)").clicked() {
                    self.choose_file(ui.ctx(), BrowserPurpose::Open);
                }
                ui.menu_button("Recent files", |ui| {
                    let recent = self.settings.ui.recent_files.clone();
                    if recent.is_empty() {
                        ui.label("None yet");
                    }
                    for path in recent {
                        if ui.button(path.display().to_string()).clicked() {
                            self.open(ui.ctx(), SourceRequest::File(path));
                        }
                    }
                });
                ui.separator();
                let can_export = self.is_open() && self.export.is_none();
                for ext in EXPORT_EXTENSIONS {
                    if ui
                        .add_enabled(can_export, egui::Button::new(format!("Export .{ext}…")))
                        .clicked()
                    {
                        self.choose_file(ui.ctx(), BrowserPurpose::ExportClip(ext));
                    }
                }
                if ui
                    .add_enabled(self.is_open(), egui::Button::new("Export current frame…"))
                    .clicked()
                {
                    self.choose_file(ui.ctx(), BrowserPurpose::ExportFrame);
                }
                ui.separator();
                if ui
                    .add_enabled(self.is_open(), egui::Button::new("Close source (Ctrl+W)"))
                    .clicked()
                {
                    self.close();
                }
                if ui.button("Settings…").clicked() {
                    self.settings_open = true;
                }
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("View", |ui| {
                ui.radio_value(&mut self.view, View::Overlay, "Video with keypoints");
                ui.radio_value(
                    &mut self.view,
                    View::Normalized,
                    "Normalised model input (N)",
                );
                ui.separator();
                let mut theme = self.settings.ui.theme;
                ui.radio_value(&mut theme, ThemeChoice::System, "System theme");
                ui.radio_value(&mut theme, ThemeChoice::Light, "Light theme");
                ui.radio_value(&mut theme, ThemeChoice::Dark, "Dark theme");
                if theme != self.settings.ui.theme {
                    self.settings.ui.theme = theme;
                    apply_theme(ui.ctx(), theme);
                    self.save_settings();
                }
            });
        });
    }

    fn notices_ui(&mut self, ui: &mut egui::Ui) {
        let mut dismissed = None;
        for (i, notice) in self.notices.iter().enumerate() {
            let color = if notice.is_error {
                ui.visuals().error_fg_color
            } else {
                ui.visuals().text_color()
            };
            ui.horizontal(|ui| {
                ui.label(RichText::new(&notice.message).color(color));
                if ui.small_button("Dismiss").clicked() {
                    dismissed = Some(i);
                }
            });
        }
        if let Some(i) = dismissed {
            self.notices.remove(i);
        }
    }

    fn start_screen_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("signcap");
        ui.label("Sign language to captions, offline. Open a video or pick a webcam.");
        ui.add_space(12.0);
        ui.columns(2, |columns| {
            let [left, right] = columns else {
                return;
            };
            left.strong("Open a video");
            if left.button("Open video… (Ctrl+O)").clicked() {
                self.choose_file(left.ctx(), BrowserPurpose::Open);
            }
            left.horizontal(|ui| {
                let label = ui.label("Path:");
                ui.text_edit_singleline(&mut self.path_input)
                    .labelled_by(label.id);
                if ui.button("Open path").clicked() && !self.path_input.trim().is_empty() {
                    let path = PathBuf::from(self.path_input.trim());
                    self.open(ui.ctx(), SourceRequest::File(path));
                }
            });
            left.label("…or drop a video file on this window.");
            left.add_space(8.0);
            left.strong("Recent files");
            let recent = self.settings.ui.recent_files.clone();
            if recent.is_empty() {
                left.weak("None yet");
            }
            for path in recent {
                if left.link(path.display().to_string()).clicked() {
                    self.open(left.ctx(), SourceRequest::File(path));
                }
            }

            right.strong("Webcam");
            if right.button("Refresh cameras").clicked() || self.cameras.is_none() {
                self.cameras = Some((self.options.list_cameras)());
            }
            match self.cameras.clone() {
                Some(Ok(cameras)) if cameras.is_empty() => {
                    right.label("No camera found. Connect one and press Refresh, or open a video.");
                }
                Some(Ok(cameras)) => {
                    for (index, name) in &cameras {
                        right.horizontal(|ui| {
                            let previewing =
                                self.preview.as_ref().is_some_and(|p| p.camera == *index);
                            if ui
                                .selectable_label(previewing, format!("Preview {name}"))
                                .clicked()
                            {
                                self.preview = if previewing {
                                    None
                                } else {
                                    let ctx = ui.ctx().clone();
                                    Some(CameraPreview::start(
                                        *index,
                                        self.options.open_source.clone(),
                                        move || ctx.request_repaint(),
                                    ))
                                };
                            }
                            if ui.button(format!("Use {name}")).clicked() {
                                self.open(ui.ctx(), SourceRequest::Camera(*index));
                            }
                        });
                    }
                    if let Some(preview) = &mut self.preview {
                        preview.pump(right.ctx());
                        let name = cameras
                            .iter()
                            .find(|(index, _)| *index == preview.camera)
                            .map_or("the camera", |(_, name)| name.as_str());
                        let width = right.available_width().min(480.0);
                        preview.ui(right, width, name);
                    }
                }
                Some(Err(message)) => {
                    right.colored_label(
                        right.visuals().error_fg_color,
                        format!("Cameras unavailable: {message}"),
                    );
                }
                None => {}
            }
        });
    }

    fn player_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = if self.player.playing { "Pause" } else { "Play" };
            if ui.button(label).clicked() {
                if self.player.playing {
                    self.pause();
                } else {
                    self.play();
                }
            }
            if ui.button("Previous frame").clicked() {
                self.step(-1);
            }
            if ui.button("Next frame").clicked() {
                self.step(1);
            }
            let speed_label = ui.label("Speed");
            let mut speed = self.player.speed;
            egui::ComboBox::from_id_salt("speed")
                .selected_text(format!("{speed}×"))
                .show_ui(ui, |ui| {
                    for s in SPEEDS {
                        ui.selectable_value(&mut speed, s, format!("{s}×"));
                    }
                })
                .response
                .labelled_by(speed_label.id);
            if speed != self.player.speed {
                self.set_speed(speed);
            }
            if let Some(count) = self.frame_count() {
                let last = count.saturating_sub(1);
                let mut position = self.player.displayed_index;
                let scrub_label = ui.label("Frame");
                ui.style_mut().spacing.slider_width = (ui.available_width() - 80.0).max(80.0);
                let response = ui
                    .add(egui::Slider::new(&mut position, 0..=last).show_value(true))
                    .labelled_by(scrub_label.id);
                if response.changed() {
                    self.seek(position);
                }
            } else if self.is_open() {
                ui.label(format!("Live frame {}", self.player.displayed_index));
            }
        });
        self.confidence_strip_ui(ui);
    }

    fn confidence_strip_ui(&mut self, ui: &mut egui::Ui) {
        let Some(pipeline) = &self.pipeline else {
            return;
        };
        let count = pipeline.store.pose_count();
        if count != self.confidence_cache.0 {
            let series = pipeline
                .store
                .group_scores()
                .into_iter()
                .map(|(i, m)| {
                    [
                        i as f64,
                        m[0].into(),
                        m[1].into(),
                        m[2].into(),
                        m[3].into(),
                        m[4].into(),
                    ]
                })
                .collect();
            self.confidence_cache = (count, series);
        }
        let series = &self.confidence_cache.1;
        let playhead = self.player.displayed_index as f64;
        let last = self
            .frame_count()
            .map_or(playhead, |n| n.saturating_sub(1) as f64);
        // One strip per group, stacked: strip g spans [g, g + 0.8] for confidence 0..1.
        let strip_of = |g: usize| (Group::ALL.len() - 1 - g) as f64;
        egui_plot::Plot::new("confidence-strip")
            .height(110.0)
            .include_x(0.0)
            .include_x(last.max(1.0))
            .include_y(-0.1)
            .include_y(Group::ALL.len() as f64)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .show_axes([true, false])
            .show_grid([true, false])
            .show(ui, |plot_ui| {
                for (g, group) in Group::ALL.iter().enumerate() {
                    let base = strip_of(g);
                    let color = inspect::group_color(*group);
                    let points: Vec<[f64; 2]> = series
                        .iter()
                        .map(|s| [s[0], base + 0.8 * s[g + 1]])
                        .collect();
                    plot_ui.line(
                        egui_plot::Line::new(format!("{} confidence", group.label()), points)
                            .color(color)
                            .fill(base as f32),
                    );
                    plot_ui.text(
                        egui_plot::Text::new(
                            group.label(),
                            egui_plot::PlotPoint::new(0.0, base + 0.45),
                            RichText::new(group.label()).small().color(color),
                        )
                        .anchor(egui::Align2::LEFT_CENTER),
                    );
                }
                plot_ui.vline(egui_plot::VLine::new("Playhead", playhead));
            });
    }

    fn side_panel_ui(&mut self, ui: &mut egui::Ui) {
        ui.heading("Keypoints");
        let before = self.toggles;
        ui.checkbox(&mut self.toggles.body, "Body");
        ui.checkbox(&mut self.toggles.feet, "Feet");
        ui.checkbox(&mut self.toggles.hands, "Hands");
        ui.checkbox(&mut self.toggles.face, "Face");
        if before != self.toggles {
            self.settings.ui.groups = self.toggles;
            self.save_settings();
        }
        ui.add_space(6.0);
        ui.strong("Confidence");
        legend_ui(ui);
        ui.add_space(6.0);
        match &self.hovered {
            Some((index, name, score)) => {
                ui.label(format!("#{index} {name}: {score:.2}"));
            }
            None => {
                ui.weak("Hover a keypoint for its name and score");
            }
        }
        ui.separator();
        ui.heading("Pipeline");
        if self.is_open()
            && !self.pose_ready
            && !self.pose_failed
            && self.player.overlay_index.is_none()
        {
            ui.weak("Pose backend loading…");
        }
        self.latency.ui(ui);
        let stages = self.player.overlay_index.and_then(|i| {
            self.pipeline
                .as_ref()
                .and_then(|p| p.store.pose(i))
                .map(|p| p.stage_ms)
        });
        if let Some(stages) = stages.filter(|s| !s.is_empty()) {
            ui.label("Pose backend stages (drawn frame):");
            for (stage, ms) in stages {
                ui.label(format!("  {stage}: {ms:.1} ms"));
            }
        }
        if let Some(job) = &self.export {
            ui.separator();
            ui.label(format!("Exporting {}", job.path.display()));
            ui.add(egui::ProgressBar::new(job.fraction()).show_percentage());
        }
    }

    fn video_ui(&mut self, ui: &mut egui::Ui) {
        let Some(info) = self.source_info.clone() else {
            ui.centered_and_justified(|ui| {
                ui.spinner();
            });
            return;
        };
        let Some(texture) = &self.texture else {
            ui.centered_and_justified(|ui| {
                ui.label("Waiting for the first frame…");
            });
            return;
        };
        let image_size = Vec2::new(info.width.max(1) as f32, info.height.max(1) as f32);
        let available = ui.available_size();
        let scale = (available.x / image_size.x)
            .min(available.y / image_size.y)
            .max(0.01);
        let (area, _) = ui.allocate_exact_size(available, egui::Sense::hover());
        let rect = Rect::from_center_size(area.center(), image_size * scale);
        let response = ui.interact(rect, ui.scope_id().with("video"), egui::Sense::hover());
        let painter = ui.painter_at(rect);
        painter.image(
            texture.id(),
            rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        let placement = VideoPlacement {
            rect,
            image_size: [info.width, info.height],
        };
        self.placement = Some(placement);
        let pose = self.overlay_pose();
        let point_count = pose.as_ref().map_or(0, |(_, p)| {
            p.keypoints_in_image
                .iter()
                .filter(|k| k.score > 0.0)
                .count()
        });
        response.widget_info(|| {
            egui::WidgetInfo::labeled(
                egui::Role::Image,
                true,
                format!(
                    "Video frame {} with {point_count} keypoints",
                    self.player.displayed_index
                ),
            )
        });
        self.hovered = None;
        let Some((_, pose)) = pose else {
            return;
        };
        let instances =
            overlay::overlay_instances(&pose.keypoints_in_image, &self.limbs, &self.toggles);
        if self.has_wgpu_overlay {
            ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                rect,
                OverlayCallback {
                    image_size: [image_size.x, image_size.y],
                    rect,
                    instances,
                },
            ));
        } else {
            for instance in &instances {
                let a = placement
                    .screen_from_image(instance.start_in_image[0], instance.start_in_image[1]);
                let color = overlay::color_from_score(instance.score);
                if instance.kind == 1 {
                    let b = placement
                        .screen_from_image(instance.end_in_image[0], instance.end_in_image[1]);
                    painter.line_segment([a, b], egui::Stroke::new(2.0, color));
                } else {
                    painter.circle_filled(a, overlay::POINT_RADIUS_POINTS, color);
                }
            }
        }
        if let Some(pointer) = response.hover_pos() {
            let nearest = pose
                .keypoints_in_image
                .iter()
                .enumerate()
                .filter(|(i, k)| k.score > 0.0 && self.toggles.shows(Group::of(*i)))
                .map(|(i, k)| {
                    (
                        i,
                        k,
                        placement.screen_from_image(k.x, k.y).distance(pointer),
                    )
                })
                .filter(|(_, _, d)| *d <= overlay::POINT_RADIUS_POINTS + 4.0)
                .min_by(|a, b| a.2.total_cmp(&b.2));
            if let Some((index, keypoint, _)) = nearest {
                let name = skeleton::keypoint_name(index);
                let text = format!("#{index} {name}\nscore {:.2}", keypoint.score);
                self.hovered = Some((index, name, keypoint.score));
                response.on_hover_text_at_pointer(text);
            }
        }
    }

    fn normalized_ui(&mut self, ui: &mut egui::Ui) {
        let (Some(pipeline), Some(info)) = (&self.pipeline, &self.source_info) else {
            return;
        };
        let index = self.player.displayed_index;
        let pose_count = pipeline.store.pose_count();
        let stale = self
            .normalized_cache
            .as_ref()
            .is_none_or(|(count, at, _)| *count != pose_count || *at != index);
        if stale {
            // Uni-Sign normalises over the whole clip; a live source uses its last 256 frames.
            let mut poses: Vec<(u64, PoseFrame)> = pipeline
                .store
                .poses()
                .into_iter()
                .map(|(i, p)| (i, p.pose))
                .collect();
            if info.frame_count.is_none() {
                let keep = poses.len().saturating_sub(256);
                poses.drain(..keep);
            }
            let near = inspect::model_input_near(&poses, info.width, info.height, index);
            self.normalized_cache = Some((pose_count, index, near));
        }
        let current = self
            .normalized_cache
            .as_ref()
            .and_then(|(_, _, f)| f.as_ref());
        match current {
            Some(frame) => ui.label(format!(
                "Model input frame {} of {} (video frame {}), from the {pose_count} frames with \
                 keypoints: root-normalised, scores <= {} masked.",
                frame.model_frame + 1,
                frame.model_frames,
                frame.video_index,
                unisign::SCORE_THRESHOLD
            )),
            None => ui.weak("No keypoints to normalise yet."),
        };
        inspect::normalized_view_ui(ui, current);
    }

    fn settings_window(&mut self, ctx: &egui::Context) {
        if !self.settings_open {
            return;
        }
        let mut open = true;
        let mut save = false;
        egui::Window::new("Settings")
            .open(&mut open)
            .show(ctx, |ui| {
                use signcap_engine::pose::PoseBackendKind;
                let pose = &mut self.settings.pose;
                ui.horizontal(|ui| {
                    let label = ui.label("Pose backend");
                    egui::ComboBox::from_id_salt("pose-backend")
                        .selected_text(format!("{:?}", pose.backend))
                        .show_ui(ui, |ui| {
                            ui.selectable_value(
                                &mut pose.backend,
                                PoseBackendKind::Mediapipe,
                                "MediaPipe",
                            );
                            ui.selectable_value(&mut pose.backend, PoseBackendKind::Rtmw, "RTMW");
                        })
                        .response
                        .labelled_by(label.id);
                });
                ui.horizontal(|ui| {
                    let label = ui.label("Pose threads");
                    ui.add(egui::DragValue::new(&mut pose.threads).range(1..=64))
                        .labelled_by(label.id);
                });
                path_field(ui, "MediaPipe model folder", &mut pose.mediapipe_model_dir);
                optional_path_field(ui, "RTMW model", &mut pose.rtmw_model);
                optional_path_field(ui, "Person detector", &mut pose.det_model);
                optional_path_field(ui, "ONNX Runtime library", &mut pose.ort_library);
                let model = &mut self.settings.model;
                optional_path_field(ui, "Uni-Sign checkpoint", &mut model.checkpoint);
                optional_path_field(ui, "Tokenizer", &mut model.tokenizer);
                ui.horizontal(|ui| {
                    let label = ui.label("Model threads");
                    ui.add(egui::DragValue::new(&mut model.threads).range(0..=64))
                        .labelled_by(label.id);
                });
                ui.weak("Pose settings apply to the next opened source.");
                if ui.button("Save settings").clicked() {
                    save = true;
                }
            });
        if save {
            self.save_settings();
            self.check_model_paths();
        }
        self.settings_open = open;
    }

    /// Asks for a file for `purpose`: the desktop's dialog when enabled, else the in-window
    /// browser.
    fn choose_file(&mut self, ctx: &egui::Context, purpose: BrowserPurpose) {
        let dir = self.browse_start_dir();
        if self.settings.ui.system_file_dialog && !self.system_dialog_missing {
            let ctx = ctx.clone();
            self.system_dialog = Some(SystemDialog::start(purpose, dir, move || {
                ctx.request_repaint()
            }));
        } else {
            self.browser = Some(FileBrowser::new(purpose, dir));
        }
    }

    fn browser_window(&mut self, ctx: &egui::Context) {
        let outcome = self
            .system_dialog
            .as_ref()
            .and_then(|d| Some((d.purpose, d.poll()?)));
        if let Some((purpose, outcome)) = outcome {
            self.system_dialog = None;
            match outcome {
                SystemDialogOutcome::Chosen(path) => self.use_chosen_path(ctx, purpose, path),
                SystemDialogOutcome::Cancelled => {}
                SystemDialogOutcome::Unavailable => {
                    self.notice(
                        "No system file dialog here (it needs xdg-desktop-portal or zenity): \
                         using the built-in browser.",
                        false,
                    );
                    self.system_dialog_missing = true;
                    self.browser = Some(FileBrowser::new(purpose, self.browse_start_dir()));
                }
            }
        }
        let Some(browser) = &mut self.browser else {
            return;
        };
        let Some(outcome) = browser.window(ctx) else {
            return;
        };
        let purpose = browser.purpose;
        self.browser = None;
        if let Some(path) = outcome {
            self.use_chosen_path(ctx, purpose, path);
        }
    }

    fn use_chosen_path(&mut self, ctx: &egui::Context, purpose: BrowserPurpose, path: PathBuf) {
        match purpose {
            BrowserPurpose::Open => self.open(ctx, SourceRequest::File(path)),
            BrowserPurpose::ExportClip(_) => self.start_export(ctx, path),
            BrowserPurpose::ExportFrame => self.export_current_frame(&path),
        }
    }

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| {
            i.raw
                .dropped_files
                .first()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
        });
        if let Some(path) = dropped {
            self.open(ctx, SourceRequest::File(path));
        }
    }
}

fn path_field(ui: &mut egui::Ui, label: &str, path: &mut PathBuf) {
    ui.horizontal(|ui| {
        let label = ui.label(label);
        let mut text = path.display().to_string();
        if ui
            .text_edit_singleline(&mut text)
            .labelled_by(label.id)
            .changed()
        {
            *path = PathBuf::from(text);
        }
    });
}

fn optional_path_field(ui: &mut egui::Ui, label: &str, path: &mut Option<PathBuf>) {
    ui.horizontal(|ui| {
        let label = ui.label(label);
        let mut text = path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        if ui
            .text_edit_singleline(&mut text)
            .labelled_by(label.id)
            .changed()
        {
            *path = (!text.trim().is_empty()).then(|| PathBuf::from(text.trim()));
        }
    });
}

fn legend_ui(ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        for score in [0.0_f32, 0.25, 0.5, 0.75, 1.0] {
            let (rect, _) = ui.allocate_exact_size(Vec2::new(14.0, 14.0), egui::Sense::hover());
            ui.painter()
                .circle_filled(rect.center(), 6.0, overlay::color_from_score(score));
            ui.label(format!("{score:.2}"));
        }
    });
    ui.weak(format!(
        "Rings: score below {} (low confidence)",
        overlay::LOW_CONFIDENCE
    ));
}

fn apply_theme(ctx: &egui::Context, theme: ThemeChoice) {
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
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.view, View::Overlay, "Video with keypoints");
                ui.selectable_value(&mut self.view, View::Normalized, "Normalised model input");
                if let Some(info) = &self.source_info {
                    ui.weak(format!(
                        "{}: {}×{} at {:.2} fps",
                        info.name, info.width, info.height, info.fps
                    ));
                }
            });
            match self.view {
                View::Overlay => self.video_ui(ui),
                View::Normalized => self.normalized_ui(ui),
            }
        });
        self.settings_window(&ctx);
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
