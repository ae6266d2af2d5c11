//! Inspection: the normalised 69-point model input (body 9, hands 21 + 21, face 18) as the
//! Uni-Sign preprocessing produces it, and per-group confidence strips over the timeline.

use egui::{Color32, Pos2, Rect, Stroke, Vec2};
use signcap_engine::keypoints::PoseFrame;

use super::overlay::color_from_score;
use super::skeleton::Group;

/// Score at or below which Uni-Sign zeroes a point.
pub const SCORE_THRESHOLD: f64 = 0.3;

/// One group of the model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputGroup {
    /// 9 body nodes, box-normalised.
    Body,
    /// 21 left-hand nodes, relative to the wrist.
    LeftHand,
    /// 21 right-hand nodes, relative to the wrist.
    RightHand,
    /// 18 face nodes, relative to the nose tip.
    Face,
}

impl InputGroup {
    /// The four groups in model order.
    pub const ALL: [InputGroup; 4] = [
        InputGroup::Body,
        InputGroup::LeftHand,
        InputGroup::RightHand,
        InputGroup::Face,
    ];

    /// COCO-WholeBody indices of the group's nodes, in node order.
    pub fn keypoint_indices(self) -> Vec<usize> {
        match self {
            InputGroup::Body => vec![0, 3, 4, 5, 6, 7, 8, 9, 10],
            InputGroup::LeftHand => (91..112).collect(),
            InputGroup::RightHand => (112..133).collect(),
            InputGroup::Face => (23..=39)
                .step_by(2)
                .chain(83..=90)
                .chain(std::iter::once(53))
                .collect(),
        }
    }

    /// Edges between node ids of the group's graph.
    pub fn edges(self) -> Vec<(usize, usize)> {
        match self {
            InputGroup::Body => vec![
                (0, 1),
                (0, 2),
                (0, 3),
                (0, 4),
                (3, 5),
                (5, 7),
                (4, 6),
                (6, 8),
            ],
            InputGroup::LeftHand | InputGroup::RightHand => {
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
            InputGroup::Face => {
                let mut edges: Vec<(usize, usize)> = (0..8).map(|i| (i, i + 1)).collect();
                edges.extend((9..16).map(|i| (i, i + 1)));
                edges.push((16, 9));
                edges.extend((0..17).map(|i| (17, i)));
                edges
            }
        }
    }

    /// Human-readable label.
    pub fn label(self) -> &'static str {
        match self {
            InputGroup::Body => "Body (9)",
            InputGroup::LeftHand => "Left hand (21)",
            InputGroup::RightHand => "Right hand (21)",
            InputGroup::Face => "Face (18)",
        }
    }
}

/// One frame of the model input: per group, (x, y, score) triples in [-1, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct NormalizedFrame {
    /// Triples per group in [`InputGroup::ALL`] order.
    pub groups: [Vec<[f64; 3]>; 4],
}

/// The Uni-Sign `load_part_kp` normalisation of `frames` (one clip-level body box), in f64.
/// Coordinates are first divided by the frame size, as the pose files store them.
pub fn normalize_clip(frames: &[&PoseFrame], width: u32, height: u32) -> Vec<NormalizedFrame> {
    let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
    let triple = |frame: &PoseFrame, index: usize| -> [f64; 3] {
        frame.keypoints_in_image.get(index).map_or([0.0; 3], |k| {
            [f64::from(k.x) / w, f64::from(k.y) / h, f64::from(k.score)]
        })
    };
    let body_nodes = InputGroup::Body.keypoint_indices();
    // Clip-level square box over every confident body point (crop_scale).
    let valid = frames
        .iter()
        .flat_map(|f| body_nodes.iter().map(move |&i| triple(f, i)))
        .filter(|t| t[2] > SCORE_THRESHOLD);
    let mut bounds = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut valid_count = 0usize;
    for t in valid {
        bounds = (
            bounds.0.min(t[0]),
            bounds.1.min(t[1]),
            bounds.2.max(t[0]),
            bounds.3.max(t[1]),
        );
        valid_count += 1;
    }
    let scale = if valid_count < 4 {
        0.0
    } else {
        (bounds.2 - bounds.0).max(bounds.3 - bounds.1)
    };
    let (box_x, box_y) = (
        (bounds.0 + bounds.2 - scale) / 2.0,
        (bounds.1 + bounds.3 - scale) / 2.0,
    );
    let finish = |xy: [f64; 2], score: f64| -> [f64; 3] {
        let clipped = [
            xy[0].clamp(-1.0, 1.0),
            xy[1].clamp(-1.0, 1.0),
            score.clamp(-1.0, 1.0),
        ];
        if clipped[2] <= SCORE_THRESHOLD {
            [0.0; 3]
        } else {
            clipped
        }
    };
    frames
        .iter()
        .map(|frame| {
            let groups = InputGroup::ALL.map(|group| {
                let nodes = group.keypoint_indices();
                if scale == 0.0 {
                    return vec![[0.0; 3]; nodes.len()];
                }
                let root = match group {
                    InputGroup::Body => None,
                    InputGroup::LeftHand => Some(triple(frame, 91)),
                    InputGroup::RightHand => Some(triple(frame, 112)),
                    InputGroup::Face => Some(triple(frame, 53)),
                };
                nodes
                    .iter()
                    .map(|&i| {
                        let t = triple(frame, i);
                        match root {
                            None => finish(
                                [
                                    ((t[0] - box_x) / scale - 0.5) * 2.0,
                                    ((t[1] - box_y) / scale - 0.5) * 2.0,
                                ],
                                t[2],
                            ),
                            Some(r) => finish([(t[0] - r[0]) / scale, (t[1] - r[1]) / scale], t[2]),
                        }
                    })
                    .collect()
            });
            NormalizedFrame { groups }
        })
        .collect()
}

/// Draws the four groups of `frame` side by side, each in its own [-1, 1] square.
pub fn normalized_view_ui(ui: &mut egui::Ui, frame: Option<&NormalizedFrame>) {
    let available = ui.available_size();
    let side = ((available.x - 30.0) / 4.0)
        .min(available.y - 24.0)
        .max(40.0);
    ui.horizontal(|ui| {
        for (g, group) in InputGroup::ALL.iter().enumerate() {
            ui.vertical(|ui| {
                ui.label(group.label());
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
                        format!("Normalised {}: {shown} points", group.label()),
                    )
                });
                let Some(points) = points else {
                    return;
                };
                let to_screen = |t: &[f64; 3]| screen_from_normalized(rect, t);
                for (a, b) in group.edges() {
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
    fn model_input_has_69_nodes_and_face_root_is_nose_tip() {
        let total: usize = InputGroup::ALL
            .iter()
            .map(|g| g.keypoint_indices().len())
            .sum();
        assert_eq!(total, 69);
        assert_eq!(InputGroup::Face.keypoint_indices()[17], 53);
    }

    #[test]
    fn body_box_maps_extremes_to_minus_one_and_one_and_masks_low_scores() {
        let mut frame = PoseFrame::empty(0.0);
        let body = InputGroup::Body.keypoint_indices();
        for (n, &i) in body.iter().enumerate() {
            frame.keypoints_in_image[i] = Keypoint {
                x: 100.0 + 10.0 * n as f32,
                y: 50.0 + 20.0 * n as f32,
                score: 0.9,
            };
        }
        // float32(0.3) is above 0.3 in f64 and would be kept; 0.25 is masked.
        frame.keypoints_in_image[10].score = 0.25;
        let out = normalize_clip(&[&frame], 200, 200);
        let body_out = &out[0].groups[0];
        // y spans the larger extent: nodes 0..7 confident → y from 50 to 190.
        assert!((body_out[0][1] + 1.0).abs() < 1e-12, "{:?}", body_out[0]);
        assert!((body_out[7][1] - 1.0).abs() < 1e-12, "{:?}", body_out[7]);
        assert_eq!(body_out[8], [0.0; 3]);
    }
}
