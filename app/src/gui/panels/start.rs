//! The start screen: open a video (dialog, path, recent files, drop) or pick a webcam with a
//! live preview; the translation model's state.

use std::path::PathBuf;

use crate::gui::app::App;
use crate::gui::file_browser::BrowserPurpose;
use crate::gui::pipeline::SourceRequest;
use crate::gui::preview::CameraPreview;

impl App {
    pub(crate) fn start_screen_ui(&mut self, ui: &mut egui::Ui) {
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
        ui.add_space(12.0);
        ui.strong("Translation model");
        self.model_status_ui(ui);
    }
}
