//! The menu bar, the notices under it, choosing files (desktop dialog or in-window browser),
//! dropped files, and the exports the File menu starts.

use std::path::{Path, PathBuf};

use egui::RichText;

use crate::gui::app::{App, View, apply_theme};
use crate::gui::export::{CAPTION_EXTENSIONS, EXPORT_EXTENSIONS, ExportJob, export_frame};
use crate::gui::file_browser::{BrowserPurpose, FileBrowser, SystemDialog, SystemDialogOutcome};
use crate::gui::pipeline::SourceRequest;
use crate::gui::settings::ThemeChoice;

impl App {
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

    /// Starts writing the final captions of the open recording to `path` (.srt, .vtt or
    /// .json by its extension).
    pub fn start_caption_export(&mut self, ctx: &egui::Context, path: PathBuf) {
        if self.captions.finals.is_empty() {
            self.notice("No captions to export yet.", true);
            return;
        }
        if self.export.is_some() {
            self.notice("An export is running already; wait for it to finish.", true);
            return;
        }
        let repaint_ctx = ctx.clone();
        match ExportJob::captions(path, self.captions.captions(), move || {
            repaint_ctx.request_repaint()
        }) {
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

    pub(crate) fn browse_start_dir(&self) -> PathBuf {
        self.settings
            .ui
            .recent_files
            .first()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_else(|| PathBuf::from("/"))
    }

    pub(crate) fn menu_ui(&mut self, ui: &mut egui::Ui) {
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
                let can_export_captions = self.export.is_none()
                    && !self.captions.finals.is_empty()
                    && self
                        .pipeline
                        .as_ref()
                        .is_some_and(|p| matches!(p.request, SourceRequest::File(_)));
                for ext in CAPTION_EXTENSIONS {
                    if ui
                        .add_enabled(
                            can_export_captions,
                            egui::Button::new(format!("Export captions .{ext}…")),
                        )
                        .clicked()
                    {
                        self.choose_file(ui.ctx(), BrowserPurpose::ExportCaptions(ext));
                    }
                }
                ui.separator();
                if ui
                    .add_enabled(self.is_open(), egui::Button::new("Close source (Ctrl+W)"))
                    .clicked()
                {
                    self.close();
                }
                if ui.button("Model…").clicked() {
                    self.model.open = true;
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

    pub(crate) fn notices_ui(&mut self, ui: &mut egui::Ui) {
        let mut dismissed = None;
        for (i, notice) in self.notices.iter().enumerate() {
            let color = if notice.is_error {
                ui.visuals().error_fg_color
            } else {
                ui.visuals().text_color()
            };
            // The button at the right edge: a long message wraps instead of pushing it out of
            // sight.
            ui.with_layout(egui::Layout::right_to_left(egui::Align::TOP), |ui| {
                if ui.small_button("Dismiss").clicked() {
                    dismissed = Some(i);
                }
                ui.with_layout(egui::Layout::left_to_right(egui::Align::TOP), |ui| {
                    ui.add(egui::Label::new(RichText::new(&notice.message).color(color)).wrap());
                });
            });
        }
        if let Some(i) = dismissed {
            self.notices.remove(i);
        }
    }

    /// Asks for a file for `purpose`: the desktop's dialog when enabled, else the in-window
    /// browser.
    pub(crate) fn choose_file(&mut self, ctx: &egui::Context, purpose: BrowserPurpose) {
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

    pub(crate) fn browser_window(&mut self, ctx: &egui::Context) {
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

    pub(crate) fn use_chosen_path(
        &mut self,
        ctx: &egui::Context,
        purpose: BrowserPurpose,
        path: PathBuf,
    ) {
        match purpose {
            BrowserPurpose::Open => self.open(ctx, SourceRequest::File(path)),
            BrowserPurpose::ExportClip(_) => self.start_export(ctx, path),
            BrowserPurpose::ExportFrame => self.export_current_frame(&path),
            BrowserPurpose::ExportCaptions(_) => self.start_caption_export(ctx, path),
            BrowserPurpose::ModelCheckpoint | BrowserPurpose::Mt5Folder => {
                self.use_model_path(ctx, purpose, path)
            }
        }
    }

    pub(crate) fn dropped_files(&mut self, ctx: &egui::Context) {
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
