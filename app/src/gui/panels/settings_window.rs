//! The settings window: pose backend, its model files and threads.

use std::path::PathBuf;

use crate::gui::app::App;

impl App {
    pub(crate) fn settings_window(&mut self, ctx: &egui::Context) {
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
                ui.weak("The translation model is chosen in Model….");
                ui.weak("Pose settings apply to the next opened source.");
                if ui.button("Save settings").clicked() {
                    save = true;
                }
            });
        if save {
            self.save_settings();
        }
        self.settings_open = open;
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
