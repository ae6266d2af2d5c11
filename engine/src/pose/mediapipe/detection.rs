//! SSD detectors (BlazePose person detector, BlazeFace): anchors, box decoding and weighted
//! non-maximum suppression, as MediaPipe's `SsdAnchorsCalculator`,
//! `TensorsToDetectionsCalculator` and `NonMaxSuppressionCalculator` (WEIGHTED) do them.

/// One decoded detection in tensor-normalised coordinates ([0, 1] across the input tensor).
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// Score after the sigmoid.
    pub score: f32,
    /// Box as (x_min, y_min, x_max, y_max).
    pub bounding_box: [f32; 4],
    /// Keypoints as (x, y).
    pub keypoints: Vec<(f32, f32)>,
}

/// The anchor layout and decoding options of one SSD model.
#[derive(Clone, Debug)]
pub struct SsdSpec {
    /// Side of the square input tensor.
    pub input_size: usize,
    /// Feature-map strides, one per layer.
    pub strides: &'static [usize],
    /// Keypoints per detection.
    pub num_keypoints: usize,
    /// Values per box row in the regressor output.
    pub num_coords: usize,
    /// Scores below this are dropped before suppression.
    pub min_score: f32,
    /// IoU above which detections are merged.
    pub min_suppression_iou: f32,
}

/// BlazePose's person detector (`pose_detection_cpu.pbtxt`).
pub const POSE_DETECTOR: SsdSpec = SsdSpec {
    input_size: 224,
    strides: &[8, 16, 32, 32, 32],
    num_keypoints: 4,
    num_coords: 12,
    min_score: 0.5,
    min_suppression_iou: 0.3,
};

/// BlazeFace short range (`face_detection_short_range.pbtxt`).
pub const FACE_DETECTOR: SsdSpec = SsdSpec {
    input_size: 128,
    strides: &[8, 16, 16, 16],
    num_keypoints: 6,
    num_coords: 16,
    min_score: 0.5,
    min_suppression_iou: 0.3,
};

/// The palm detector of MediaPipe's hand tracking (`palm_detection_cpu.pbtxt`, full model).
pub const PALM_DETECTOR: SsdSpec = SsdSpec {
    input_size: 192,
    strides: &[8, 16, 16, 16],
    num_keypoints: 7,
    num_coords: 18,
    min_score: 0.5,
    min_suppression_iou: 0.3,
};

impl SsdSpec {
    /// Anchor centres in tensor-normalised coordinates. With `fixed_anchor_size`, aspect ratio 1
    /// and the interpolated-scale anchor, every layer adds 2 anchors per cell, and consecutive
    /// layers with the same stride share one grid.
    pub fn anchors(&self) -> Vec<(f32, f32)> {
        let mut anchors = Vec::new();
        let mut layer = 0;
        while layer < self.strides.len() {
            let stride = self.strides[layer];
            let mut same_stride = 0;
            while layer < self.strides.len() && self.strides[layer] == stride {
                same_stride += 1;
                layer += 1;
            }
            let cells = self.input_size.div_ceil(stride);
            for y in 0..cells {
                for x in 0..cells {
                    let center = (
                        (x as f32 + 0.5) / cells as f32,
                        (y as f32 + 0.5) / cells as f32,
                    );
                    anchors.extend(std::iter::repeat_n(center, 2 * same_stride));
                }
            }
        }
        anchors
    }

    /// Decodes the raw regressor rows and score logits, then merges overlapping detections.
    /// Returns the detections best first.
    pub fn decode(&self, anchors: &[(f32, f32)], boxes: &[f32], scores: &[f32]) -> Vec<Detection> {
        let scale = self.input_size as f32;
        let mut detections = Vec::new();
        for (index, (&(anchor_x, anchor_y), &logit)) in anchors.iter().zip(scores).enumerate() {
            let score = 1.0 / (1.0 + (-logit.clamp(-100.0, 100.0)).exp());
            if score < self.min_score {
                continue;
            }
            let Some(row) = boxes.get(index * self.num_coords..(index + 1) * self.num_coords)
            else {
                break;
            };
            let center_x = row[0] / scale + anchor_x;
            let center_y = row[1] / scale + anchor_y;
            let width = row[2] / scale;
            let height = row[3] / scale;
            let keypoints = (0..self.num_keypoints)
                .map(|k| {
                    (
                        row[4 + 2 * k] / scale + anchor_x,
                        row[5 + 2 * k] / scale + anchor_y,
                    )
                })
                .collect();
            detections.push(Detection {
                score,
                bounding_box: [
                    center_x - width / 2.0,
                    center_y - height / 2.0,
                    center_x + width / 2.0,
                    center_y + height / 2.0,
                ],
                keypoints,
            });
        }
        weighted_non_max_suppression(detections, self.min_suppression_iou)
    }
}

fn intersection_over_union(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let width = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let height = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let intersection = width * height;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection;
    if union <= 0.0 {
        0.0
    } else {
        intersection / union
    }
}

/// Takes the best remaining detection, averages it with every remaining one that overlaps it by
/// more than `min_iou` (weighted by score, keeping the best score), and repeats.
pub fn weighted_non_max_suppression(
    mut detections: Vec<Detection>,
    min_iou: f32,
) -> Vec<Detection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut merged = Vec::new();
    while !detections.is_empty() {
        let best = detections[0].clone();
        let (overlapping, rest): (Vec<Detection>, Vec<Detection>) = detections
            .into_iter()
            .partition(|d| intersection_over_union(&best.bounding_box, &d.bounding_box) > min_iou);
        detections = rest;
        let total: f32 = overlapping.iter().map(|d| d.score).sum();
        let mut average = best.clone();
        if overlapping.len() > 1 && total > 0.0 {
            average.bounding_box = [0.0; 4];
            average.keypoints.iter_mut().for_each(|k| *k = (0.0, 0.0));
            for d in &overlapping {
                let weight = d.score / total;
                for (sum, value) in average.bounding_box.iter_mut().zip(d.bounding_box) {
                    *sum += weight * value;
                }
                for (sum, value) in average.keypoints.iter_mut().zip(&d.keypoints) {
                    sum.0 += weight * value.0;
                    sum.1 += weight * value.1;
                }
            }
        }
        merged.push(average);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_counts_match_the_model_outputs() {
        assert_eq!(POSE_DETECTOR.anchors().len(), 2254);
        assert_eq!(FACE_DETECTOR.anchors().len(), 896);
        assert_eq!(PALM_DETECTOR.anchors().len(), 2016);
    }

    #[test]
    fn overlapping_detections_merge_by_score() {
        let a = Detection {
            score: 0.9,
            bounding_box: [0.0, 0.0, 1.0, 1.0],
            keypoints: vec![(0.0, 0.0)],
        };
        let b = Detection {
            score: 0.3,
            bounding_box: [0.1, 0.0, 1.1, 1.0],
            keypoints: vec![(1.0, 1.0)],
        };
        let far = Detection {
            score: 0.6,
            bounding_box: [5.0, 5.0, 6.0, 6.0],
            keypoints: vec![(5.0, 5.0)],
        };
        let merged = weighted_non_max_suppression(vec![b, far, a], 0.3);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].score, 0.9);
        assert!((merged[0].keypoints[0].0 - 0.25).abs() < 1e-6);
        assert!((merged[0].bounding_box[0] - 0.025).abs() < 1e-6);
        assert_eq!(merged[1].score, 0.6);
    }
}
