//! The centre views: the video with the keypoint overlay, and the normalised model input.

use eframe::egui_wgpu;
use egui::{Color32, Pos2, Rect, Vec2};
use signcap_engine::keypoints::{PoseFrame, unisign};

use crate::gui::app::{App, MAX_OVERLAY_LAG_FRAMES, VideoPlacement, View};
use crate::gui::inspect;
use crate::gui::overlay::{self, OverlayCallback};
use crate::gui::skeleton::{self, Group};

impl App {
    /// The view tabs, the source line, and the chosen view.
    pub(crate) fn centre_ui(&mut self, ui: &mut egui::Ui) {
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

    pub(crate) fn video_ui(&mut self, ui: &mut egui::Ui) {
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

    pub(crate) fn normalized_ui(&mut self, ui: &mut egui::Ui) {
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
}
