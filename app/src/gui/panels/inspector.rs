//! The inspector on the right: keypoint groups, the confidence legend, the hovered keypoint,
//! the latency panel and export progress.

use egui::Vec2;

use crate::gui::app::App;
use crate::gui::overlay;

impl App {
    pub(crate) fn side_panel_ui(&mut self, ui: &mut egui::Ui) {
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
