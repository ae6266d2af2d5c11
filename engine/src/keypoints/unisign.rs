//! The Uni-Sign keypoint preprocessing (`load_part_kp` and `crop_scale` of the official code).
//!
//! Four groups of the 133 COCO-WholeBody points become the model input: `body` (9 points),
//! `left` and `right` hands (21 each) and `face_all` (18). Coordinates arrive normalised by
//! the frame size (x/W, y/H) in f64, scores in f32; everything is computed in f64 exactly as
//! numpy does, so the output is bit-identical to the reference.

use super::{NUM_KEYPOINTS, PoseSequence};

/// Scores at or below this are treated as missing. Compared in f64 against scores widened
/// from f32, as the reference does: a stored f32 0.3 (0.30000001…) is therefore kept.
pub const SCORE_THRESHOLD: f64 = 0.3;

/// The most frames the model sees; longer clips are subsampled (the reference default).
pub const MAX_FRAMES: usize = 256;

/// The four keypoint groups in the model's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// Nose, ears, shoulders, elbows, wrists.
    Body,
    /// The 21 left-hand points.
    Left,
    /// The 21 right-hand points.
    Right,
    /// Every other jaw point, the inner lips and the nose tip.
    FaceAll,
}

/// Body group: nose, then kpts 3..=10.
const BODY_KEYPOINTS: [usize; 9] = [0, 3, 4, 5, 6, 7, 8, 9, 10];
/// Face group: jaw kpts 23, 25, …, 39, inner lips 83..=90, nose tip 53 (the root, last).
const FACE_ALL_KEYPOINTS: [usize; 18] = [
    23, 25, 27, 29, 31, 33, 35, 37, 39, 83, 84, 85, 86, 87, 88, 89, 90, 53,
];

impl Part {
    /// All parts in the model's concatenation order.
    pub const ALL: [Part; 4] = [Part::Body, Part::Left, Part::Right, Part::FaceAll];

    /// The name used in checkpoint keys and fixtures.
    pub fn name(self) -> &'static str {
        match self {
            Part::Body => "body",
            Part::Left => "left",
            Part::Right => "right",
            Part::FaceAll => "face_all",
        }
    }

    /// Indices into the 133 COCO-WholeBody points, in node order.
    pub fn keypoint_indices(self) -> Vec<usize> {
        match self {
            Part::Body => BODY_KEYPOINTS.to_vec(),
            Part::Left => (91..112).collect(),
            Part::Right => (112..133).collect(),
            Part::FaceAll => FACE_ALL_KEYPOINTS.to_vec(),
        }
    }

    /// Position in [`Part::ALL`].
    pub fn index(self) -> usize {
        match self {
            Part::Body => 0,
            Part::Left => 1,
            Part::Right => 2,
            Part::FaceAll => 3,
        }
    }

    /// Number of nodes in the group's graph.
    pub fn num_nodes(self) -> usize {
        match self {
            Part::Body => 9,
            Part::Left | Part::Right => 21,
            Part::FaceAll => 18,
        }
    }

    /// Node whose position is subtracted from the group (hand wrist, nose tip); none for body.
    fn root_node(self) -> Option<usize> {
        match self {
            Part::Body => None,
            Part::Left | Part::Right => Some(0),
            Part::FaceAll => Some(17),
        }
    }
}

/// Raw keypoints of one signer: per frame 133 points normalised by the frame size, and scores.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NormalizedClip {
    /// Per frame, (x/W, y/H) of the 133 points.
    pub keypoints_normalized: Vec<[[f64; 2]; NUM_KEYPOINTS]>,
    /// Per frame, the confidence of the 133 points.
    pub scores: Vec<[f32; NUM_KEYPOINTS]>,
}

impl NormalizedClip {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.keypoints_normalized.len()
    }

    /// Whether the clip has no frames.
    pub fn is_empty(&self) -> bool {
        self.keypoints_normalized.is_empty()
    }

    /// Divides pixel coordinates by the frame size, each axis by its own dimension.
    pub fn from_sequence(sequence: &PoseSequence) -> Self {
        let width = f64::from(sequence.width.max(1));
        let height = f64::from(sequence.height.max(1));
        let mut clip = Self::default();
        for frame in &sequence.frames {
            let mut xy = [[0.0; 2]; NUM_KEYPOINTS];
            let mut s = [0.0f32; NUM_KEYPOINTS];
            for (i, kp) in frame
                .keypoints_in_image
                .iter()
                .take(NUM_KEYPOINTS)
                .enumerate()
            {
                xy[i] = [f64::from(kp.x) / width, f64::from(kp.y) / height];
                s[i] = kp.score;
            }
            clip.keypoints_normalized.push(xy);
            clip.scores.push(s);
        }
        clip
    }
}

/// Which raw frames enter the model.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum FrameSelection {
    /// All frames up to [`MAX_FRAMES`]; longer clips get [`uniform_frame_indices`]. The
    /// reference draws a random subset instead (Python `random.sample`), which cannot be
    /// reproduced; an evenly spread one is its deterministic stand-in.
    #[default]
    Uniform,
    /// Exactly these raw frame indices, in this order (e.g. a subset recorded from the
    /// reference run).
    Indices(Vec<usize>),
}

/// `max_frames` raw frame indices spread evenly over `num_frames`: index `i` takes the
/// frame at the centre of the `i`-th of `max_frames` equal slices, i.e.
/// `floor((2i + 1) · num_frames / (2 · max_frames))`. Strictly increasing when
/// `num_frames ≥ max_frames`; all frames when the clip is not longer than `max_frames`.
pub fn uniform_frame_indices(num_frames: usize, max_frames: usize) -> Vec<usize> {
    if num_frames <= max_frames {
        return (0..num_frames).collect();
    }
    (0..max_frames)
        .map(|i| (2 * i + 1) * num_frames / (2 * max_frames))
        .collect()
}

/// Errors of the preprocessing.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The clip has no frames.
    #[error("the pose clip has no frames")]
    Empty,
    /// Keypoint and score frame counts differ.
    #[error("the pose clip has {keypoints} keypoint frames but {scores} score frames")]
    LengthMismatch {
        /// Frames of keypoints.
        keypoints: usize,
        /// Frames of scores.
        scores: usize,
    },
    /// An explicit frame index is past the end of the clip.
    #[error("frame index {index} is out of range for a clip of {num_frames} frames")]
    FrameOutOfRange {
        /// The offending index.
        index: usize,
        /// Frames in the clip.
        num_frames: usize,
    },
}

/// One group's model input: `frames × nodes × (x, y, score)` in f64, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct PartInput {
    /// Which group.
    pub part: Part,
    /// Flattened `[frame][node][channel]` values.
    pub values: Vec<f64>,
}

impl PartInput {
    /// The `(x, y, score)` triple of `node` in `frame`.
    pub fn triple(&self, frame: usize, node: usize) -> [f64; 3] {
        let base = (frame * self.part.num_nodes() + node) * 3;
        [
            self.values[base],
            self.values[base + 1],
            self.values[base + 2],
        ]
    }
}

/// The preprocessed clip: what the pose encoder receives (batch of one, no padding).
#[derive(Clone, Debug, PartialEq)]
pub struct UniSignInput {
    /// The raw frame index of each model frame.
    pub frame_indices: Vec<usize>,
    /// The four groups in [`Part::ALL`] order.
    pub parts: [PartInput; 4],
    /// Side of the clip-level square box of the body in normalised image units; 0 when the
    /// body had fewer than 4 confident points (every group is then zero).
    pub body_scale: f64,
}

impl UniSignInput {
    /// Number of model frames.
    pub fn num_frames(&self) -> usize {
        self.frame_indices.len()
    }

    /// The group's input.
    pub fn part(&self, part: Part) -> &PartInput {
        &self.parts[part.index()]
    }

    /// The 69 normalised points of one model frame as the "normalised" panel draws them:
    /// body in its [-1, 1] box; hands and face relative to their root, scaled by the body
    /// box. Each entry is `(part, node, [x, y, score])`; missing points have score 0.
    pub fn normalized_points(&self, frame: usize) -> Vec<(Part, usize, [f64; 3])> {
        let mut points = Vec::with_capacity(69);
        for input in &self.parts {
            for node in 0..input.part.num_nodes() {
                points.push((input.part, node, input.triple(frame, node)));
            }
        }
        points
    }
}

/// Runs the reference preprocessing on `clip` with the given frame selection.
pub fn preprocess(
    clip: &NormalizedClip,
    selection: &FrameSelection,
) -> Result<UniSignInput, PreprocessError> {
    if clip.keypoints_normalized.len() != clip.scores.len() {
        return Err(PreprocessError::LengthMismatch {
            keypoints: clip.keypoints_normalized.len(),
            scores: clip.scores.len(),
        });
    }
    if clip.is_empty() {
        return Err(PreprocessError::Empty);
    }
    let frame_indices = match selection {
        FrameSelection::Uniform => uniform_frame_indices(clip.len(), MAX_FRAMES),
        FrameSelection::Indices(indices) => {
            if let Some(&index) = indices.iter().find(|&&i| i >= clip.len()) {
                return Err(PreprocessError::FrameOutOfRange {
                    index,
                    num_frames: clip.len(),
                });
            }
            if indices.is_empty() {
                return Err(PreprocessError::Empty);
            }
            indices.clone()
        }
    };

    let gather = |part: Part| -> Vec<f64> {
        let nodes = part.keypoint_indices();
        let mut values = Vec::with_capacity(frame_indices.len() * nodes.len() * 3);
        for &f in &frame_indices {
            let xy = &clip.keypoints_normalized[f];
            let s = &clip.scores[f];
            let root = part.root_node().map(|r| xy[nodes[r]]);
            for &k in &nodes {
                let [mut x, mut y] = xy[k];
                if let Some([rx, ry]) = root {
                    x -= rx;
                    y -= ry;
                }
                values.extend_from_slice(&[x, y, f64::from(s[k])]);
            }
        }
        values
    };

    let (body, body_scale) = crop_scale(gather(Part::Body));
    let relative_part = |part: Part| {
        let mut values = gather(part);
        if body_scale == 0.0 {
            values.iter_mut().for_each(|v| *v = 0.0);
        } else {
            // The body box side, without the body's centring and ×2.
            for triple in values.chunks_exact_mut(3) {
                triple[0] /= body_scale;
                triple[1] /= body_scale;
            }
            clip_and_mask(&mut values);
        }
        PartInput { part, values }
    };
    let parts = [
        PartInput {
            part: Part::Body,
            values: body,
        },
        relative_part(Part::Left),
        relative_part(Part::Right),
        relative_part(Part::FaceAll),
    ];
    Ok(UniSignInput {
        frame_indices,
        parts,
        body_scale,
    })
}

/// The reference `crop_scale`: a clip-level square box around the confident body points,
/// mapped to [-1, 1]. Returns the values and the box side (0 when there is no box).
fn crop_scale(mut values: Vec<f64>) -> (Vec<f64>, f64) {
    let confident: Vec<[f64; 2]> = values
        .chunks_exact(3)
        .filter(|t| t[2] > SCORE_THRESHOLD)
        .map(|t| [t[0], t[1]])
        .collect();
    if confident.len() < 4 {
        values.iter_mut().for_each(|v| *v = 0.0);
        return (values, 0.0);
    }
    // numpy's min/max over the same values; NaN-free input assumed as in the reference.
    let fold = |axis: usize, init: f64, pick: fn(f64, f64) -> f64| {
        confident.iter().map(|p| p[axis]).fold(init, pick)
    };
    let (xmin, xmax) = (
        fold(0, f64::INFINITY, f64::min),
        fold(0, f64::NEG_INFINITY, f64::max),
    );
    let (ymin, ymax) = (
        fold(1, f64::INFINITY, f64::min),
        fold(1, f64::NEG_INFINITY, f64::max),
    );
    let scale = (xmax - xmin).max(ymax - ymin);
    if scale == 0.0 {
        values.iter_mut().for_each(|v| *v = 0.0);
        return (values, 0.0);
    }
    let xs = (xmin + xmax - scale) / 2.0;
    let ys = (ymin + ymax - scale) / 2.0;
    for triple in values.chunks_exact_mut(3) {
        triple[0] = ((triple[0] - xs) / scale - 0.5) * 2.0;
        triple[1] = ((triple[1] - ys) / scale - 0.5) * 2.0;
    }
    clip_and_mask(&mut values);
    (values, scale)
}

/// Clips all three channels to [-1, 1], then zeroes every triple whose (clipped) score is
/// at or below the threshold.
fn clip_and_mask(values: &mut [f64]) {
    for triple in values.chunks_exact_mut(3) {
        for v in triple.iter_mut() {
            *v = v.clamp(-1.0, 1.0);
        }
        if triple[2] <= SCORE_THRESHOLD {
            triple.fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_indices_are_increasing_and_span_the_clip() {
        let idx = uniform_frame_indices(300, 256);
        assert_eq!(idx.len(), 256);
        assert!(idx.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(idx[0], 0);
        assert_eq!(*idx.last().unwrap(), 299);
        assert_eq!(uniform_frame_indices(10, 256), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn too_few_confident_body_points_gives_all_zeros() {
        let mut clip = NormalizedClip::default();
        let mut xy = [[0.5; 2]; NUM_KEYPOINTS];
        xy[9] = [0.7, 0.2];
        let mut s = [0.9f32; NUM_KEYPOINTS];
        for k in BODY_KEYPOINTS.iter().skip(3) {
            s[*k] = 0.1;
        }
        clip.keypoints_normalized.push(xy);
        clip.scores.push(s);
        let input = preprocess(&clip, &FrameSelection::Uniform).unwrap();
        assert_eq!(input.body_scale, 0.0);
        assert!(
            input
                .parts
                .iter()
                .all(|p| p.values.iter().all(|v| *v == 0.0))
        );
    }

    #[test]
    fn out_of_range_index_is_an_error() {
        let clip = NormalizedClip {
            keypoints_normalized: vec![[[0.0; 2]; NUM_KEYPOINTS]; 3],
            scores: vec![[0.0; NUM_KEYPOINTS]; 3],
        };
        let err = preprocess(&clip, &FrameSelection::Indices(vec![0, 3])).unwrap_err();
        assert!(err.to_string().contains("frame index 3"));
    }
}
