//! Inspection: the normalised 69-point model input (body 9, hands 21 + 21, face 18) as the
//! Uni-Sign preprocessing produces it, and per-group confidence strips over the timeline.

use egui::{Color32, Pos2, Rect, Stroke, Vec2};
use signcap_engine::keypoints::unisign::{FrameSelection, NormalizedClip, Part, preprocess};
use signcap_engine::keypoints::{PoseFrame, PoseSequence};

use super::overlay::color_from_score;
use super::skeleton::Group;

/// The model input of one frame: per group, (x, y, score) triples in [-1, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct NormalizedFrame {
    /// Triples per group in [`Part::ALL`] order.
    pub groups: [Vec<[f64; 3]>; 4],
    /// Index of this frame among the model's frames.
    pub model_frame: usize,
    /// Number of model frames.
    pub model_frames: usize,
    /// The video frame it comes from.
    pub video_index: u64,
}

/// Edges between node ids of a group's graph (unisign-architecture.md §3).
pub fn part_edges(part: Part) -> Vec<(usize, usize)> {
    match part {
        Part::Body => vec![
            (0, 1),
            (0, 2),
            (0, 3),
            (0, 4),
            (3, 5),
            (5, 7),
            (4, 6),
            (6, 8),
        ],
        Part::Left | Part::Right => {
            let mut edges = Vec::new();
            for finger in 0..5 {
                let first = 1 + finger * 4;
                edges.push((0, first));
                for joint in 0..3 {
                    edges.push((first + joint, first + joint + 1));
                }
            }
            edges
        }
        Part::FaceAll => {
            let mut edges: Vec<(usize, usize)> = (0..8).map(|i| (i, i + 1)).collect();
            edges.extend((9..16).map(|i| (i, i + 1)));
            edges.push((16, 9));
            edges.extend((0..17).map(|i| (17, i)));
            edges
        }
    }
}

/// Human-readable label of a group.
pub fn part_label(part: Part) -> &'static str {
    match part {
        Part::Body => "Body (9)",
        Part::Left => "Left hand (21)",
        Part::Right => "Right hand (21)",
        Part::FaceAll => "Face (18)",
    }
}

/// Runs the engine's Uni-Sign preprocessing over `poses` (the clip so far, in frame order)
/// with the model's default frame selection, and returns the model frame nearest to
/// `video_index`. `None` when there is nothing to normalise.
pub fn model_input_near(
    poses: &[(u64, PoseFrame)],
    width: u32,
    height: u32,
    video_index: u64,
) -> Option<NormalizedFrame> {
    let sequence = PoseSequence {
        width,
        height,
        fps: 0.0,
        frames: poses.iter().map(|(_, p)| p.clone()).collect(),
    };
    let clip = NormalizedClip::from_sequence(&sequence);
    let input = preprocess(&clip, &FrameSelection::Uniform).ok()?;
    let model_frame = input
        .frame_indices
        .iter()
        .enumerate()
        .filter_map(|(m, &raw)| poses.get(raw).map(|(i, _)| (m, *i)))
        .min_by_key(|(_, i)| i.abs_diff(video_index))?;
    let groups = Part::ALL.map(|part| {
        (0..part.num_nodes())
            .map(|node| input.part(part).triple(model_frame.0, node))
            .collect()
    });
    Some(NormalizedFrame {
        groups,
        model_frame: model_frame.0,
        model_frames: input.num_frames(),
        video_index: model_frame.1,
    })
}

/// Draws the four groups of `frame` side by side, each in its own [-1, 1] square.
pub fn normalized_view_ui(ui: &mut egui::Ui, frame: Option<&NormalizedFrame>) {
    let available = ui.available_size();
    let side = ((available.x - 30.0) / 4.0)
        .min(available.y - 24.0)
        .max(40.0);
    ui.horizontal(|ui| {
        for (g, group) in Part::ALL.iter().enumerate() {
            ui.vertical(|ui| {
                ui.label(part_label(*group));
                let (response, painter) =
                    ui.allocate_painter(Vec2::splat(side), egui::Sense::hover());
                let rect = response.rect;
                painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
                let grid = Stroke::new(1.0, ui.visuals().weak_text_color().gamma_multiply(0.4));
                painter.line_segment([rect.center_top(), rect.center_bottom()], grid);
                painter.line_segment([rect.left_center(), rect.right_center()], grid);
                let points = frame.and_then(|f| f.groups.get(g));
                let shown = points.map_or(0, |p| p.iter().filter(|t| t[2] > 0.0).count());
                response.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Image,
                        true,
                        format!("Normalised {}: {shown} points", part_label(*group)),
                    )
                });
                let Some(points) = points else {
                    return;
                };
                let to_screen = |t: &[f64; 3]| screen_from_normalized(rect, t);
                for (a, b) in part_edges(*group) {
                    let (Some(ta), Some(tb)) = (points.get(a), points.get(b)) else {
                        continue;
                    };
                    if ta[2] > 0.0 && tb[2] > 0.0 {
                        let color = color_from_score(ta[2].min(tb[2]) as f32).gamma_multiply(0.7);
                        painter
                            .line_segment([to_screen(ta), to_screen(tb)], Stroke::new(1.5, color));
                    }
                }
                for t in points.iter().filter(|t| t[2] > 0.0) {
                    painter.circle_filled(to_screen(t), 3.0, color_from_score(t[2] as f32));
                }
            });
        }
    });
}

/// Screen position of a normalised (x, y) in [-1, 1] inside `rect`.
pub fn screen_from_normalized(rect: Rect, triple: &[f64; 3]) -> Pos2 {
    Pos2::new(
        rect.center().x + (triple[0] as f32) * rect.width() / 2.0,
        rect.center().y + (triple[1] as f32) * rect.height() / 2.0,
    )
}

/// Mean confidence per overlay group of one frame.
pub fn mean_scores(pose: &PoseFrame) -> [f32; 5] {
    Group::ALL.map(|group| {
        let range = group.range();
        let n = range.len() as f32;
        range
            .filter_map(|i| pose.keypoints_in_image.get(i))
            .map(|k| k.score)
            .sum::<f32>()
            / n
    })
}

/// Colours of the groups in the confidence strip.
pub fn group_color(group: Group) -> Color32 {
    match group {
        Group::Body => Color32::from_rgb(66, 135, 245),
        Group::Feet => Color32::from_rgb(160, 160, 160),
        Group::Face => Color32::from_rgb(200, 120, 220),
        Group::LeftHand => Color32::from_rgb(240, 150, 40),
        Group::RightHand => Color32::from_rgb(40, 190, 170),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signcap_engine::keypoints::Keypoint;

    #[test]
    fn edges_stay_within_their_groups() {
        for part in Part::ALL {
            for (a, b) in part_edges(part) {
                assert!(
                    a < part.num_nodes() && b < part.num_nodes(),
                    "{part:?} {a}-{b}"
                );
            }
        }
    }

    #[test]
    fn picks_the_model_frame_of_the_displayed_video_frame() {
        let poses: Vec<(u64, PoseFrame)> = (0..5u64)
            .map(|i| {
                let mut frame = PoseFrame::empty(i as f64);
                for (n, k) in [0usize, 3, 4, 5, 6, 7, 8, 9, 10].into_iter().enumerate() {
                    frame.keypoints_in_image[k] = Keypoint {
                        x: 100.0 + 10.0 * n as f32 + i as f32,
                        y: 50.0 + 20.0 * n as f32,
                        score: 0.9,
                    };
                }
                (10 + i * 2, frame)
            })
            .collect();
        let near = model_input_near(&poses, 320, 240, 15).expect("input");
        assert_eq!(near.model_frames, 5);
        assert_eq!(near.video_index, 14);
        assert_eq!(near.model_frame, 2);
        assert!(near.groups[0].iter().all(|t| t[2] > 0.0));
    }
}
