//! The embedded MediaPipe Holistic backend: the Holistic graph (`holistic_landmark_cpu.pbtxt` of
//! mediapipe 0.10.21, `model_complexity=1`, `smooth_landmarks=True`) re-implemented over the
//! converted ONNX models in `assets/models/mediapipe/`.
//!
//! Per frame: the body crop comes from the previous frame's landmarks (the person detector runs
//! only when there are none); pose landmarks are refined from the heatmap and smoothed; each hand
//! crop comes from the body's wrist, index and pinky points via the `hand_recrop` model, or from
//! the previous hand landmarks while they stay close; the face crop comes from a face detection
//! inside a crop around the body's face points, or from the previous face landmarks.
//!
//! Scheduling (the results are Holistic's either way): given the next frame, its body model runs
//! beside this frame's hands and face. Without it, the hand and face models start on the crops
//! tracked from the previous frame beside the body model, and a crop that turns out not to
//! agree with the body's is redone.
//!
//! Beyond Holistic: when the body-derived crop shows no hand although the wrist is visible, the
//! palm detector of MediaPipe's hand tracking graph searches a region around the wrist, and the
//! hand model runs on the crop of the palm nearest the wrist. That result is not tracked into
//! the next frame, so frames where Holistic finds the hand are unchanged. A search that finds
//! nothing rests for a few frames.

pub mod detection;
pub mod filter;
pub mod geometry;

use std::collections::VecDeque;
use std::f32::consts::FRAC_PI_2;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::time::Instant;

use self::detection::{FACE_DETECTOR, PALM_DETECTOR, POSE_DETECTOR};
use self::filter::{AUX_LANDMARK_SMOOTHING, LandmarkSmoother, POSE_LANDMARK_SMOOTHING};
use self::geometry::{Border, Landmark, RotatedRect, TrackingLimits, crop_to_tensor};
use super::runtime::{OnnxModel, ort_environment};
use super::{PoseConfig, PoseError, PoseEstimator, StageTimes};
use crate::keypoints::holistic::{HolisticPoints, coco_wholebody_from_holistic};
use crate::keypoints::{Keypoint, PoseFrame};
use crate::source::Frame;

/// Model files of the backend, relative to `PoseConfig::mediapipe_model_dir`.
pub const MODEL_FILES: [&str; 7] = [
    "pose_detection.onnx",
    "pose_landmark_full.onnx",
    "hand_recrop.onnx",
    "hand_landmark_full.onnx",
    "face_detection_short_range.onnx",
    "face_landmark.onnx",
    "palm_detection_full.onnx",
];

/// BlazePose landmarks per body.
pub const NUM_BODY_LANDMARKS: usize = 33;
/// Landmarks per hand.
pub const NUM_HAND_LANDMARKS: usize = 21;
/// Face-mesh landmarks.
pub const NUM_FACE_LANDMARKS: usize = 468;

const POSE_LANDMARK_INPUT: usize = 256;
const POSE_HEATMAP_SIZE: usize = 64;
/// 33 landmarks plus 6 auxiliary ones (2 used: the crop's centre and scale points).
const POSE_MODEL_LANDMARKS: usize = 39;
const HAND_RECROP_INPUT: usize = 256;
/// The hand landmark model: 224-pixel input, presence as a probability.
const HAND_LANDMARKS: LandmarkSpec = LandmarkSpec {
    stage: "hands",
    input_size: 224,
    outputs: ["Identity", "Identity_1"],
    count: NUM_HAND_LANDMARKS,
    presence_is_logit: false,
};
/// The face-mesh model: 192-pixel input, presence as a logit.
const FACE_LANDMARKS: LandmarkSpec = LandmarkSpec {
    stage: "face",
    input_size: 192,
    outputs: ["conv2d_21", "conv2d_31"],
    count: NUM_FACE_LANDMARKS,
    presence_is_logit: true,
};
/// `RefineLandmarksFromHeatmapCalculator` window.
const HEATMAP_KERNEL: usize = 7;
/// Presence thresholds of the body, hand and face models, and the wrist visibility that gates a hand.
const PRESENCE_THRESHOLD: f32 = 0.5;
/// Side of the palm-detection search square around a wrist, in shoulder widths: a hand reaches
/// about half a shoulder width from its wrist, so the square holds it in any pose.
const PALM_SEARCH_SHOULDER_WIDTHS: f32 = 1.5;
/// Farthest a palm's wrist point may be from the body's wrist, in shoulder widths, so that the
/// other hand nearby is not taken for this one.
const PALM_WRIST_MAX_SHOULDER_WIDTHS: f32 = 0.4;
const WRIST_VISIBILITY_THRESHOLD: f32 = 0.1;
/// The wrist visibility from which the palm fallback searches: a wrist the body model is unsure
/// of is mostly a hand out of view, where the search costs a model run for nothing.
const PALM_WRIST_VISIBILITY_THRESHOLD: f32 = 0.5;
/// Frames the palm search rests after finding no hand: a hand out of view mostly stays out for
/// a while, and one search costs more than the rest of the hand's work.
const PALM_RETRY_FRAMES: u32 = 4;

const HAND_TRACKING: TrackingLimits = TrackingLimits {
    rotation_degrees: 40.0,
    translation: 0.2,
    scale: 0.4,
    recrop_rect_margin: -0.1,
};
const FACE_TRACKING: TrackingLimits = TrackingLimits {
    rotation_degrees: 15.0,
    translation: 0.1,
    scale: 0.3,
    recrop_rect_margin: -0.2,
};

/// The raw Holistic result for one frame, in image pixels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HolisticLandmarks {
    /// 33 BlazePose landmarks (smoothed), if a body was found.
    pub body: Option<Vec<Landmark>>,
    /// 21 landmarks of the signer's left hand (from the body's left wrist).
    pub left_hand: Option<Vec<Landmark>>,
    /// 21 landmarks of the signer's right hand.
    pub right_hand: Option<Vec<Landmark>>,
    /// 468 face-mesh landmarks.
    pub face: Option<Vec<Landmark>>,
    /// Hand presence scores (left, right), 0 where no hand was found.
    pub hand_scores: (f32, f32),
    /// Whether each hand (left, right) came from the palm-detection fallback.
    pub hands_from_palm: (bool, bool),
    /// Face presence score, 0 where no face was found.
    pub face_score: f32,
}

/// A borrowed RGB24 image.
#[derive(Clone, Copy)]
struct Image<'a> {
    rgb: &'a [u8],
    width: usize,
    height: usize,
}

impl Image<'_> {
    fn crop(
        &self,
        rect: &RotatedRect,
        size: usize,
        range: (f32, f32),
        border: Border,
        out: &mut Vec<f32>,
    ) {
        crop_to_tensor(
            self.rgb,
            self.width,
            self.height,
            rect,
            size,
            range,
            border,
            out,
        );
    }
}

/// The first value of a model output (a score), 0 for an empty one.
fn first_value(values: &[f32]) -> f32 {
    values.first().copied().unwrap_or(0.0)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn elapsed_ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Runs `run` and returns its result with the milliseconds it took.
fn timed<T>(run: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    (run(), elapsed_ms(start))
}

/// The body stage: detector, landmarks, smoothing and the crop for the next frame.
struct BodyStage {
    detector: OnnxModel,
    landmarks: OnnxModel,
    anchors: Vec<(f32, f32)>,
    /// The crop predicted from the previous frame's landmarks.
    tracked_roi: Option<RotatedRect>,
    smoother: LandmarkSmoother,
    aux_smoother: LandmarkSmoother,
    input: Vec<f32>,
}

impl BodyStage {
    /// The body landmarks of one frame (frames in order): the person detector only when no
    /// crop is tracked from the previous frame. Stage times go to `stage_ms`.
    fn run(
        &mut self,
        image: Image,
        time: f64,
        stage_ms: &mut Vec<(&'static str, f64)>,
    ) -> Result<Option<Vec<Landmark>>, PoseError> {
        let roi = match self.tracked_roi {
            Some(roi) => Some(roi),
            None => {
                let start = Instant::now();
                let roi = self.detect(image)?;
                stage_ms.push(("detector", elapsed_ms(start)));
                roi
            }
        };
        let start = Instant::now();
        let body = match roi {
            Some(roi) => self.landmarks(image, &roi, time)?,
            None => None,
        };
        stage_ms.push(("body", elapsed_ms(start)));
        Ok(body)
    }

    fn reset(&mut self) {
        self.tracked_roi = None;
        self.smoother.reset();
        self.aux_smoother.reset();
    }

    /// The crop around the best person detection, or `None` when there is nobody.
    fn detect(&mut self, image: Image) -> Result<Option<RotatedRect>, PoseError> {
        let whole = RotatedRect {
            center_x: image.width as f32 / 2.0,
            center_y: image.height as f32 / 2.0,
            width: image.width as f32,
            height: image.height as f32,
            rotation: 0.0,
        }
        .padded_to_aspect(POSE_DETECTOR.input_size, POSE_DETECTOR.input_size);
        let size = POSE_DETECTOR.input_size;
        image.crop(&whole, size, (-1.0, 1.0), Border::Zero, &mut self.input);
        let outputs = self.detector.run(
            "detector",
            &self.input,
            [1, size, size, 3],
            &["Identity", "Identity_1"],
        )?;
        let detections = POSE_DETECTOR.decode(&self.anchors, &outputs[0], &outputs[1]);
        // One signer: the largest person (the graph keeps the best-scoring one; with one person
        // in view they are the same).
        let area = |d: &detection::Detection| {
            let [x0, y0, x1, y1] = d.bounding_box;
            (x1 - x0) * (y1 - y0)
        };
        let largest = detections.iter().max_by(|a, b| area(a).total_cmp(&area(b)));
        Ok(largest.map(|best| {
            let hip_center = whole.image_from_normalized(best.keypoints[0].0, best.keypoints[0].1);
            let scale_point = whole.image_from_normalized(best.keypoints[1].0, best.keypoints[1].1);
            RotatedRect::from_alignment_points(hip_center, scale_point, FRAC_PI_2)
                .transformed(1.25, 0.0, true)
        }))
    }

    /// Landmarks inside `roi`, or `None` when the model sees no body there.
    fn landmarks(
        &mut self,
        image: Image,
        roi: &RotatedRect,
        time: f64,
    ) -> Result<Option<Vec<Landmark>>, PoseError> {
        let crop = roi.padded_to_aspect(POSE_LANDMARK_INPUT, POSE_LANDMARK_INPUT);
        let size = POSE_LANDMARK_INPUT;
        image.crop(&crop, size, (0.0, 1.0), Border::Replicate, &mut self.input);
        let outputs = self.landmarks.run(
            "body",
            &self.input,
            [1, size, size, 3],
            &["Identity", "Identity_1", "Identity_3"],
        )?;
        let (raw, presence, heatmap) = (&outputs[0], first_value(&outputs[1]), &outputs[2]);
        if presence < PRESENCE_THRESHOLD || raw.len() < POSE_MODEL_LANDMARKS * 5 {
            return Ok(None);
        }
        let mut in_crop: Vec<Landmark> = raw
            .chunks_exact(5)
            .take(NUM_BODY_LANDMARKS + 2)
            .map(|v| Landmark {
                x: v[0] / size as f32,
                y: v[1] / size as f32,
                z: v[2] / size as f32,
                visibility: sigmoid(v[3]),
                presence: sigmoid(v[4]),
            })
            .collect();
        refine_from_heatmap(
            &mut in_crop,
            heatmap,
            POSE_HEATMAP_SIZE,
            POSE_MODEL_LANDMARKS,
        );
        let mut in_image: Vec<Landmark> = in_crop
            .iter()
            .map(|l| {
                let (x, y) = crop.image_from_normalized(l.x, l.y);
                Landmark {
                    x,
                    y,
                    z: l.z * crop.width,
                    ..*l
                }
            })
            .collect();
        let mut aux = in_image.split_off(NUM_BODY_LANDMARKS);
        // Speeds are measured against the body size given by the unsmoothed auxiliary points.
        let aux_rect = RotatedRect::from_alignment_points(
            (aux[0].x, aux[0].y),
            (aux[1].x, aux[1].y),
            FRAC_PI_2,
        );
        let object_scale = (aux_rect.width + aux_rect.height) / 2.0;
        self.smoother.apply(&mut in_image, time, object_scale);
        self.aux_smoother.apply(&mut aux, time, object_scale);
        self.tracked_roi = Some(
            RotatedRect::from_alignment_points(
                (aux[0].x, aux[0].y),
                (aux[1].x, aux[1].y),
                FRAC_PI_2,
            )
            .transformed(1.25, 0.0, true),
        );
        Ok(Some(in_image))
    }
}

/// `RefineLandmarksFromHeatmapCalculator`: moves each point (crop-normalised) to the
/// confidence-weighted centre of its heatmap window when the window is confident enough.
fn refine_from_heatmap(landmarks: &mut [Landmark], heatmap: &[f32], size: usize, channels: usize) {
    if heatmap.len() != size * size * channels {
        return;
    }
    let offset = (HEATMAP_KERNEL - 1) / 2;
    for (channel, landmark) in landmarks.iter_mut().enumerate() {
        let center_col = (landmark.x * size as f32) as isize;
        let center_row = (landmark.y * size as f32) as isize;
        if center_col < 0
            || center_row < 0
            || center_col >= size as isize
            || center_row >= size as isize
        {
            continue;
        }
        let (center_col, center_row) = (center_col as usize, center_row as usize);
        let (mut sum, mut weighted_col, mut weighted_row, mut max_confidence) =
            (0.0, 0.0, 0.0, 0.0f32);
        for row in center_row.saturating_sub(offset)..(center_row + offset + 1).min(size) {
            for col in center_col.saturating_sub(offset)..(center_col + offset + 1).min(size) {
                let confidence = sigmoid(heatmap[(row * size + col) * channels + channel]);
                sum += confidence;
                max_confidence = max_confidence.max(confidence);
                weighted_col += col as f32 * confidence;
                weighted_row += row as f32 * confidence;
            }
        }
        if max_confidence >= 0.5 && sum > 0.0 {
            landmark.x = weighted_col / size as f32 / sum;
            landmark.y = weighted_row / size as f32 / sum;
        }
    }
}

/// Which body points a hand hangs from: wrist, pinky, index (BlazePose indices).
#[derive(Clone, Copy)]
struct HandSide {
    wrist: usize,
    pinky: usize,
    index: usize,
}

const LEFT_HAND: HandSide = HandSide {
    wrist: 15,
    pinky: 17,
    index: 19,
};
const RIGHT_HAND: HandSide = HandSide {
    wrist: 16,
    pinky: 18,
    index: 20,
};

/// One hand's result: landmarks, presence score, and whether the palm fallback found it.
type HandResult = (Option<Vec<Landmark>>, f32, bool);

/// One hand's stage: its own re-crop and landmark sessions (so both hands can run at once) and
/// its tracking state.
struct HandStage {
    side: HandSide,
    recrop: OnnxModel,
    landmarks: LandmarkModel,
    palm_detector: OnnxModel,
    palm_anchors: Vec<(f32, f32)>,
    /// Frames to skip the palm search for, after one that found no hand.
    palm_wait: u32,
    tracked: Option<Tracked>,
    input: Vec<f32>,
}

/// A model's landmarks inside a crop (image pixels) with its presence score.
type Found = Option<(Vec<Landmark>, f32)>;

/// The crop tracked from the previous frame's landmarks. Holistic keeps it while it agrees with
/// the crop derived from this frame's body, so the model may run on it before the body is
/// known; the result is thrown away when they disagree.
struct Tracked {
    previous: Vec<Landmark>,
    roi: RotatedRect,
    /// The model's result inside `roi`, once computed.
    found: Option<Found>,
}

impl Tracked {
    fn new(previous: Vec<Landmark>, roi: RotatedRect) -> Self {
        Self {
            previous,
            roi,
            found: None,
        }
    }

    /// Holistic's crop choice: the tracked crop while it `keeps_tracking` against `recrop`
    /// (its landmarks computed with `model` unless done early), else `recrop`.
    fn landmarks_in_chosen_crop<E>(
        tracked: Option<Self>,
        recrop: &RotatedRect,
        limits: &TrackingLimits,
        mut model: impl FnMut(&RotatedRect) -> Result<Found, E>,
    ) -> Result<Found, E> {
        match tracked {
            Some(tracked)
                if tracked
                    .roi
                    .keeps_tracking(recrop, &tracked.previous, limits) =>
            {
                match tracked.found {
                    Some(found) => Ok(found),
                    None => model(&tracked.roi),
                }
            }
            _ => model(recrop),
        }
    }
}

/// How a hand or face landmark model is fed and read: its outputs are the (x, y, z) points in
/// input pixels and a presence score.
struct LandmarkSpec {
    stage: &'static str,
    input_size: usize,
    outputs: [&'static str; 2],
    count: usize,
    presence_is_logit: bool,
}

/// A hand or face landmark session with its input buffer.
struct LandmarkModel {
    session: OnnxModel,
    spec: LandmarkSpec,
    input: Vec<f32>,
}

impl LandmarkModel {
    fn new(session: OnnxModel, spec: LandmarkSpec) -> Self {
        Self {
            session,
            spec,
            input: Vec::new(),
        }
    }

    /// The landmarks (image pixels) and presence inside `roi`, padded to the square input (the
    /// face crops are square already), or `None` below the presence threshold.
    fn find(&mut self, image: Image, roi: &RotatedRect) -> Result<Found, PoseError> {
        let LandmarkSpec {
            stage,
            input_size: size,
            outputs: names,
            count,
            presence_is_logit,
        } = self.spec;
        let crop = roi.padded_to_aspect(size, size);
        image.crop(&crop, size, (0.0, 1.0), Border::Replicate, &mut self.input);
        let outputs = self
            .session
            .run(stage, &self.input, [1, size, size, 3], &names)?;
        let presence = first_value(&outputs[1]);
        let presence = if presence_is_logit {
            sigmoid(presence)
        } else {
            presence
        };
        if presence < PRESENCE_THRESHOLD || outputs[0].len() < count * 3 {
            return Ok(None);
        }
        let landmarks = landmarks_from_model_output(&outputs[0], count, size, &crop, presence);
        Ok(Some((landmarks, presence)))
    }

    /// Early, before the body is known: the landmarks on the `tracked` crop, if any.
    fn find_tracked_early(
        &mut self,
        image: Image,
        tracked: &mut Option<Tracked>,
    ) -> Result<(), PoseError> {
        if let Some(tracked) = tracked {
            tracked.found = Some(self.find(image, &tracked.roi)?);
        }
        Ok(())
    }
}

/// The palm points `HandLandmarksToRectCalculator` keeps from the 21 hand landmarks.
const PALM_LANDMARKS: [usize; 12] = [0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18];

/// `HandLandmarksToRectCalculator`: a rect around the palm points, rotated so the wrist points
/// down the crop.
fn hand_landmarks_to_rect(landmarks: &[Landmark]) -> RotatedRect {
    let palm: Vec<(f32, f32)> = PALM_LANDMARKS
        .iter()
        .map(|&i| (landmarks[i].x, landmarks[i].y))
        .collect();
    // Palm indices 4, 6, 8 are the index, middle and ring finger knuckles.
    let wrist = palm[0];
    let across = ((palm[4].0 + palm[8].0) / 2.0, (palm[4].1 + palm[8].1) / 2.0);
    let toward = ((across.0 + palm[6].0) / 2.0, (across.1 + palm[6].1) / 2.0);
    let rotation = geometry::rotation_between(wrist, toward, FRAC_PI_2);
    let axis_aligned = RotatedRect::bounding(palm.iter().copied(), 0.0).unwrap_or_default();
    let (sin, cos) = geometry::normalize_radians(-rotation).sin_cos();
    let projected = RotatedRect::bounding(
        palm.iter().map(|&(x, y)| {
            let (dx, dy) = (x - axis_aligned.center_x, y - axis_aligned.center_y);
            (dx * cos - dy * sin, dx * sin + dy * cos)
        }),
        0.0,
    )
    .unwrap_or_default();
    let (sin, cos) = rotation.sin_cos();
    RotatedRect {
        center_x: projected.center_x * cos - projected.center_y * sin + axis_aligned.center_x,
        center_y: projected.center_x * sin + projected.center_y * cos + axis_aligned.center_y,
        width: projected.width,
        height: projected.height,
        rotation,
    }
}

impl HandStage {
    fn reset(&mut self) {
        self.tracked = None;
        self.palm_wait = 0;
    }

    /// Early, before the body is known: the landmarks on the tracked crop.
    fn run_ahead(&mut self, image: Image) -> Result<(), PoseError> {
        self.landmarks.find_tracked_early(image, &mut self.tracked)
    }

    /// The hand's landmarks and presence score, given the body.
    fn run(&mut self, image: Image, body: &[Landmark]) -> Result<HandResult, PoseError> {
        let side = self.side;
        let tracked = self.tracked.take();
        if body[side.wrist].visibility <= WRIST_VISIBILITY_THRESHOLD {
            return Ok((None, 0.0, false));
        }
        let recrop = self.recrop_rect(image, body, side)?;
        let found = Tracked::landmarks_in_chosen_crop(tracked, &recrop, &HAND_TRACKING, |roi| {
            self.landmarks.find(image, roi)
        })?;
        if let Some((landmarks, presence)) = found {
            let roi = hand_landmarks_to_rect(&landmarks).transformed(2.0, -0.1, true);
            self.tracked = Some(Tracked::new(landmarks.clone(), roi));
            self.palm_wait = 0;
            return Ok((Some(landmarks), presence, false));
        }
        // Holistic has lost this hand; the palm detector may still find it (untracked).
        if self.palm_wait > 0 {
            self.palm_wait -= 1;
            return Ok((None, 0.0, false));
        }
        Ok(self
            .hand_from_palm(image, body)?
            .map_or((None, 0.0, false), |(landmarks, presence)| {
                (Some(landmarks), presence, true)
            }))
    }

    /// The fallback alone: the hand on the crop of the palm detected nearest the wrist.
    fn hand_from_palm(
        &mut self,
        image: Image,
        body: &[Landmark],
    ) -> Result<Option<(Vec<Landmark>, f32)>, PoseError> {
        let Some(palm_roi) = self.palm_rect(image, body)? else {
            return Ok(None);
        };
        let found = self.landmarks.find(image, &palm_roi)?;
        if found.is_none() {
            self.palm_wait = PALM_RETRY_FRAMES;
        }
        Ok(found)
    }

    /// The hand crop of the palm detected nearest the wrist, searched in a square around the
    /// wrist (`PalmDetectionDetectionToRoi` of MediaPipe's hand tracking graph), or `None`
    /// when no palm is there.
    fn palm_rect(
        &mut self,
        image: Image,
        body: &[Landmark],
    ) -> Result<Option<RotatedRect>, PoseError> {
        let wrist_landmark = body[self.side.wrist];
        let wrist = (wrist_landmark.x, wrist_landmark.y);
        let wrist_in_image = wrist.0 >= 0.0
            && wrist.1 >= 0.0
            && wrist.0 < image.width as f32
            && wrist.1 < image.height as f32;
        if wrist_landmark.visibility < PALM_WRIST_VISIBILITY_THRESHOLD || !wrist_in_image {
            return Ok(None);
        }
        let (left_shoulder, right_shoulder) = (body[11], body[12]);
        let shoulder_width =
            (left_shoulder.x - right_shoulder.x).hypot(left_shoulder.y - right_shoulder.y);
        let side = PALM_SEARCH_SHOULDER_WIDTHS * shoulder_width;
        if side < 1.0 {
            return Ok(None);
        }
        let search = RotatedRect {
            center_x: wrist.0,
            center_y: wrist.1,
            width: side,
            height: side,
            rotation: 0.0,
        };
        let size = PALM_DETECTOR.input_size;
        image.crop(&search, size, (0.0, 1.0), Border::Zero, &mut self.input);
        let outputs = self.palm_detector.run(
            "hands",
            &self.input,
            [1, size, size, 3],
            &["Identity", "Identity_1"],
        )?;
        let palms = PALM_DETECTOR.decode(&self.palm_anchors, &outputs[0], &outputs[1]);
        let in_image = |(u, v): (f32, f32)| search.image_from_normalized(u, v);
        let distance_to_wrist = |palm: &detection::Detection| {
            let (x, y) = in_image(palm.keypoints[0]);
            (x - wrist.0).hypot(y - wrist.1)
        };
        let nearest = palms
            .iter()
            .filter(|palm| {
                distance_to_wrist(palm) <= PALM_WRIST_MAX_SHOULDER_WIDTHS * shoulder_width
            })
            .min_by(|a, b| distance_to_wrist(a).total_cmp(&distance_to_wrist(b)));
        if nearest.is_none() {
            self.palm_wait = PALM_RETRY_FRAMES;
        }
        Ok(nearest.map(|palm| {
            let [x0, y0, x1, y1] = palm.bounding_box;
            let (center_x, center_y) = in_image(((x0 + x1) / 2.0, (y0 + y1) / 2.0));
            // Palm keypoint 0 is the wrist centre, 2 the middle finger's knuckle.
            let rotation = geometry::rotation_between(
                in_image(palm.keypoints[0]),
                in_image(palm.keypoints[2]),
                FRAC_PI_2,
            );
            RotatedRect {
                center_x,
                center_y,
                width: (x1 - x0) * search.width,
                height: (y1 - y0) * search.height,
                rotation,
            }
            .transformed(2.6, -0.5, true)
        }))
    }

    /// The hand crop from the body points, refined by the `hand_recrop` model.
    fn recrop_rect(
        &mut self,
        image: Image,
        body: &[Landmark],
        side: HandSide,
    ) -> Result<RotatedRect, PoseError> {
        let wrist = (body[side.wrist].x, body[side.wrist].y);
        let (index, pinky) = (body[side.index], body[side.pinky]);
        let middle = (
            (2.0 * index.x + pinky.x) / 3.0,
            (2.0 * index.y + pinky.y) / 3.0,
        );
        let from_pose = RotatedRect {
            center_x: middle.0,
            center_y: middle.1,
            width: 2.0 * (middle.0 - wrist.0).hypot(middle.1 - wrist.1),
            height: 2.0 * (middle.0 - wrist.0).hypot(middle.1 - wrist.1),
            rotation: geometry::rotation_between(wrist, middle, FRAC_PI_2),
        }
        .transformed(2.7, -0.1, true);
        let crop = from_pose.padded_to_aspect(HAND_RECROP_INPUT, HAND_RECROP_INPUT);
        let size = HAND_RECROP_INPUT;
        image.crop(&crop, size, (0.0, 1.0), Border::Replicate, &mut self.input);
        let outputs =
            self.recrop
                .run("hands", &self.input, [1, size, size, 3], &["output_crop"])?;
        let v = &outputs[0];
        if v.len() < 4 {
            return Err(PoseError::Inference {
                stage: "hands",
                reason: format!("hand_recrop gave {} values, expected 4", v.len()),
            });
        }
        let center = crop.image_from_normalized(v[0] / size as f32, v[1] / size as f32);
        let scale_point = crop.image_from_normalized(v[2] / size as f32, v[3] / size as f32);
        Ok(
            RotatedRect::from_alignment_points(center, scale_point, -FRAC_PI_2)
                .transformed(1.0, -0.1, true),
        )
    }
}

/// The face stage: detector inside a crop around the body's face points, landmark model and
/// tracking state.
struct FaceStage {
    detector: OnnxModel,
    landmarks: LandmarkModel,
    anchors: Vec<(f32, f32)>,
    tracked: Option<Tracked>,
    input: Vec<f32>,
}

impl FaceStage {
    fn reset(&mut self) {
        self.tracked = None;
    }

    /// Early, before the body is known: the landmarks on the tracked crop.
    fn run_ahead(&mut self, image: Image) -> Result<(), PoseError> {
        self.landmarks.find_tracked_early(image, &mut self.tracked)
    }

    /// Face landmarks and presence score, given the body.
    fn run(
        &mut self,
        image: Image,
        body: &[Landmark],
    ) -> Result<(Option<Vec<Landmark>>, f32), PoseError> {
        let tracked = self.tracked.take();
        let Some(recrop) = self.detection_rect(image, body)? else {
            return Ok((None, 0.0));
        };
        let found = Tracked::landmarks_in_chosen_crop(tracked, &recrop, &FACE_TRACKING, |roi| {
            self.landmarks.find(image, roi)
        })?;
        let Some((landmarks, presence)) = found else {
            return Ok((None, 0.0));
        };
        // The eyes' outer corners (33, 263) level the crop.
        let rotation = geometry::rotation_between(
            (landmarks[33].x, landmarks[33].y),
            (landmarks[263].x, landmarks[263].y),
            0.0,
        );
        let roi = RotatedRect::bounding(landmarks.iter().map(|l| (l.x, l.y)), rotation)
            .unwrap_or_default()
            .transformed(1.5, 0.0, true);
        self.tracked = Some(Tracked::new(landmarks.clone(), roi));
        Ok((Some(landmarks), presence))
    }

    /// The face crop from a face detection around the body's face points, or `None` when the
    /// detector finds no face there.
    fn detection_rect(
        &mut self,
        image: Image,
        body: &[Landmark],
    ) -> Result<Option<RotatedRect>, PoseError> {
        let face_points = &body[..11];
        let rotation = geometry::rotation_between(
            (face_points[5].x, face_points[5].y),
            (face_points[2].x, face_points[2].y),
            0.0,
        );
        let Some(from_pose) =
            RotatedRect::bounding(face_points.iter().map(|l| (l.x, l.y)), rotation)
        else {
            return Ok(None);
        };
        let crop = from_pose
            .transformed(3.0, 0.0, true)
            .padded_to_aspect(FACE_DETECTOR.input_size, FACE_DETECTOR.input_size);
        let size = FACE_DETECTOR.input_size;
        image.crop(&crop, size, (-1.0, 1.0), Border::Zero, &mut self.input);
        let outputs = self.detector.run(
            "face",
            &self.input,
            [1, size, size, 3],
            &["regressors", "classificators"],
        )?;
        let detections = FACE_DETECTOR.decode(&self.anchors, &outputs[0], &outputs[1]);
        Ok(detections.first().map(|best| {
            let keypoints: Vec<(f32, f32)> = best
                .keypoints
                .iter()
                .map(|&(u, v)| crop.image_from_normalized(u, v))
                .collect();
            // Right eye to left eye levels the face.
            let rotation = geometry::rotation_between(keypoints[0], keypoints[1], 0.0);
            RotatedRect::bounding(keypoints.iter().copied(), rotation)
                .unwrap_or_default()
                .transformed(2.0, -0.1, true)
        }))
    }
}

/// Runs a hand or face stage over one frame: `ahead` while the body is not known yet, `behind`
/// once it arrives (`None` when it does not, i.e. no body was found). Returns the result and
/// the milliseconds both halves took.
fn in_two_halves<S, T>(
    stage: &mut S,
    image: Image,
    body: &Receiver<Arc<Vec<Landmark>>>,
    ahead: fn(&mut S, Image) -> Result<(), PoseError>,
    behind: fn(&mut S, Image, &[Landmark]) -> Result<T, PoseError>,
) -> Result<(Option<T>, f64), PoseError> {
    let mut ahead_ms = 0.0;
    let body = match body.try_recv() {
        Ok(body) => body,
        Err(TryRecvError::Disconnected) => return Ok((None, 0.0)),
        Err(TryRecvError::Empty) => {
            let result;
            (result, ahead_ms) = timed(|| ahead(stage, image));
            result?;
            match body.recv() {
                Ok(body) => body,
                Err(_) => return Ok((None, ahead_ms)),
            }
        }
    };
    let (result, behind_ms) = timed(|| behind(stage, image, &body));
    Ok((Some(result?), ahead_ms + behind_ms))
}

/// Frames under way at once in [`MediapipeHolistic::estimate_holistic_run`].
pub const FRAMES_IN_FLIGHT: usize = 3;

/// One frame for a hand or face stage thread: the body, or none (then the stage starts over).
struct StageJob {
    frame: Frame,
    body: Option<Arc<Vec<Landmark>>>,
    /// The frame size changed: forget the tracking first.
    restart: bool,
}

/// A hand or face stage over a run of frames: its result and milliseconds per frame in order,
/// `None` for frames without a body. Ends at the first error, after sending it.
fn stage_worker<S, T>(
    stage: &mut S,
    jobs: &Receiver<StageJob>,
    results: &SyncSender<Result<Option<(T, f64)>, PoseError>>,
    reset: fn(&mut S),
    run: fn(&mut S, Image, &[Landmark]) -> Result<T, PoseError>,
) {
    for job in jobs {
        if job.restart {
            reset(stage);
        }
        let result = match &job.body {
            Some(body) => checked_image(&job.frame).and_then(|image| {
                let (result, ms) = timed(|| run(stage, image, body));
                result.map(|found| Some((found, ms)))
            }),
            None => {
                reset(stage);
                Ok(None)
            }
        };
        let failed = result.is_err();
        if results.send(result).is_err() || failed {
            return;
        }
    }
}

/// The error for a stage thread that stopped early.
fn stopped(stage: &'static str) -> PoseError {
    PoseError::Inference {
        stage,
        reason: "the worker thread stopped".into(),
    }
}

/// `frame` as an image, checking that its pixels match its size.
fn checked_image(frame: &Frame) -> Result<Image<'_>, PoseError> {
    let (width, height) = (frame.width as usize, frame.height as usize);
    if frame.rgb.len() != width * height * 3 {
        return Err(PoseError::Inference {
            stage: "input",
            reason: format!(
                "frame {} has {} bytes, expected {width}x{height}x3",
                frame.index,
                frame.rgb.len()
            ),
        });
    }
    Ok(Image {
        rgb: &frame.rgb,
        width,
        height,
    })
}

/// The MediaPipe Holistic pose backend.
pub struct MediapipeHolistic {
    body: BodyStage,
    left_hand: HandStage,
    right_hand: HandStage,
    face: FaceStage,
    /// The body of the frame after the last one estimated, computed while that frame's hands
    /// and face ran.
    body_ahead: Option<BodyAhead>,
    /// Size of the previous frame; tracking restarts when it changes.
    image_size: (u32, u32),
    stage_ms: Vec<(&'static str, f64)>,
}

/// A frame's body result, computed one call early.
struct BodyAhead {
    index: u64,
    time: f64,
    body: Result<Option<Vec<Landmark>>, PoseError>,
    stage_ms: Vec<(&'static str, f64)>,
}

impl MediapipeHolistic {
    /// Loads ONNX Runtime and the seven models from `config.mediapipe_model_dir`.
    pub fn new(config: &PoseConfig) -> Result<Self, PoseError> {
        let dir = &config.mediapipe_model_dir;
        // Check every file before loading the runtime, so a bad folder is named first.
        for file in MODEL_FILES {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(PoseError::Model {
                    path: path.display().to_string(),
                    reason: "model file does not exist".into(),
                });
            }
        }
        let environment = ort_environment(config)?;
        let threads = config.threads.max(1);
        let open = |file: &str, threads: usize| {
            OnnxModel::open(&environment, &Path::new(dir).join(file), threads)
        };
        let hand_stage = |side| -> Result<HandStage, PoseError> {
            Ok(HandStage {
                side,
                recrop: open("hand_recrop.onnx", threads)?,
                landmarks: LandmarkModel::new(
                    open("hand_landmark_full.onnx", threads)?,
                    HAND_LANDMARKS,
                ),
                palm_detector: open("palm_detection_full.onnx", threads)?,
                palm_anchors: PALM_DETECTOR.anchors(),
                palm_wait: 0,
                tracked: None,
                input: Vec::new(),
            })
        };
        Ok(Self {
            body: BodyStage {
                detector: open("pose_detection.onnx", threads)?,
                landmarks: open("pose_landmark_full.onnx", threads)?,
                anchors: POSE_DETECTOR.anchors(),
                tracked_roi: None,
                smoother: LandmarkSmoother::new(POSE_LANDMARK_SMOOTHING),
                aux_smoother: LandmarkSmoother::new(AUX_LANDMARK_SMOOTHING),
                input: Vec::new(),
            },
            left_hand: hand_stage(LEFT_HAND)?,
            right_hand: hand_stage(RIGHT_HAND)?,
            face: FaceStage {
                detector: open("face_detection_short_range.onnx", threads)?,
                landmarks: LandmarkModel::new(open("face_landmark.onnx", threads)?, FACE_LANDMARKS),
                anchors: FACE_DETECTOR.anchors(),
                tracked: None,
                input: Vec::new(),
            },
            body_ahead: None,
            image_size: (0, 0),
            stage_ms: Vec::new(),
        })
    }

    /// Runs the Holistic graph over consecutive frames with the body, each hand and the face on
    /// threads of their own and up to [`FRAMES_IN_FLIGHT`] frames under way: a stage waits for
    /// its frame's body, never for the other stages. The landmarks are those of one frame at a
    /// time; `sink` gets them in frame order with the frame's stage times.
    pub fn estimate_holistic_run(
        &mut self,
        frames: &mut dyn Iterator<Item = Frame>,
        sink: &mut dyn FnMut(&Frame, HolisticLandmarks, &StageTimes),
    ) -> Result<(), PoseError> {
        self.body_ahead = None;
        let (body_stage, left_stage, right_stage, face_stage) = (
            &mut self.body,
            &mut self.left_hand,
            &mut self.right_hand,
            &mut self.face,
        );
        let mut image_size = self.image_size;
        let result = std::thread::scope(|scope| -> Result<(u32, u32), PoseError> {
            let (frames_tx, frames_rx) = sync_channel::<Frame>(FRAMES_IN_FLIGHT);
            let (bodies_tx, bodies_rx) = sync_channel(FRAMES_IN_FLIGHT);
            let (left_tx, left_jobs) = sync_channel(FRAMES_IN_FLIGHT);
            let (right_tx, right_jobs) = sync_channel(FRAMES_IN_FLIGHT);
            let (face_tx, face_jobs) = sync_channel(FRAMES_IN_FLIGHT);
            let body_thread = scope.spawn(move || {
                for frame in frames_rx {
                    // A new frame size starts tracking afresh, as one frame at a time does.
                    let restart = image_size != (frame.width, frame.height);
                    image_size = (frame.width, frame.height);
                    if restart {
                        body_stage.reset();
                    }
                    let mut stage_ms = Vec::new();
                    let body = checked_image(&frame)
                        .and_then(|image| body_stage.run(image, frame.time, &mut stage_ms));
                    let body = match body {
                        Ok(body) => body.map(Arc::new),
                        Err(e) => {
                            let _ = bodies_tx.send(Err(e));
                            return image_size;
                        }
                    };
                    if body.is_none() {
                        body_stage.reset();
                    }
                    for jobs in [&left_tx, &right_tx, &face_tx] {
                        let job = StageJob {
                            frame: frame.clone(),
                            body: body.clone(),
                            restart,
                        };
                        if jobs.send(job).is_err() {
                            return image_size;
                        }
                    }
                    if bodies_tx.send(Ok((body, stage_ms))).is_err() {
                        return image_size;
                    }
                }
                image_size
            });
            let (left_results_tx, left_results) = sync_channel(FRAMES_IN_FLIGHT);
            let (right_results_tx, right_results) = sync_channel(FRAMES_IN_FLIGHT);
            let (face_results_tx, face_results) = sync_channel(FRAMES_IN_FLIGHT);
            let stage_threads = [
                scope.spawn(move || {
                    stage_worker(
                        left_stage,
                        &left_jobs,
                        &left_results_tx,
                        HandStage::reset,
                        HandStage::run,
                    )
                }),
                scope.spawn(move || {
                    stage_worker(
                        right_stage,
                        &right_jobs,
                        &right_results_tx,
                        HandStage::reset,
                        HandStage::run,
                    )
                }),
                scope.spawn(move || {
                    stage_worker(
                        face_stage,
                        &face_jobs,
                        &face_results_tx,
                        FaceStage::reset,
                        FaceStage::run,
                    )
                }),
            ];

            // Keep the pipeline full; collect the oldest frame's parts as they come.
            let mut under_way = VecDeque::with_capacity(FRAMES_IN_FLIGHT);
            let collected = (|| -> Result<(), PoseError> {
                loop {
                    while under_way.len() < FRAMES_IN_FLIGHT {
                        let Some(frame) = frames.next() else { break };
                        under_way.push_back(frame.clone());
                        // A body stage that stopped has sent its error ahead of this frame.
                        if frames_tx.send(frame).is_err() {
                            break;
                        }
                    }
                    let Some(frame) = under_way.pop_front() else {
                        return Ok(());
                    };
                    let (body, mut stage_ms) = bodies_rx.recv().map_err(|_| stopped("body"))??;
                    let left = left_results.recv().map_err(|_| stopped("left hand"))??;
                    let right = right_results.recv().map_err(|_| stopped("right hand"))??;
                    let face = face_results.recv().map_err(|_| stopped("face"))??;
                    let landmarks = match (body, left, right, face) {
                        (
                            Some(body),
                            Some(((left_hand, left_score, left_from_palm), left_ms)),
                            Some(((right_hand, right_score, right_from_palm), right_ms)),
                            Some(((face, face_score), face_ms)),
                        ) => {
                            stage_ms.extend([
                                ("left hand", left_ms),
                                ("right hand", right_ms),
                                ("face", face_ms),
                            ]);
                            HolisticLandmarks {
                                body: Some(Arc::unwrap_or_clone(body)),
                                left_hand,
                                right_hand,
                                face,
                                hand_scores: (left_score, right_score),
                                hands_from_palm: (left_from_palm, right_from_palm),
                                face_score,
                            }
                        }
                        _ => HolisticLandmarks::default(),
                    };
                    sink(&frame, landmarks, &stage_ms);
                }
            })();
            // Hang up so that every thread ends, then report the first failure.
            drop(frames_tx);
            drop((bodies_rx, left_results, right_results, face_results));
            let body_thread = body_thread.join();
            let stages_panicked = stage_threads
                .into_iter()
                .map(|thread| thread.join().is_err())
                .fold(false, |a, b| a | b);
            collected?;
            match body_thread {
                Ok(size) if !stages_panicked => Ok(size),
                _ => Err(stopped("pose")),
            }
        });
        match result {
            Ok(size) => {
                self.image_size = size;
                Ok(())
            }
            Err(e) => {
                // Stages stopped at different frames: nothing to track from.
                self.reset();
                Err(e)
            }
        }
    }

    /// Runs the Holistic graph on one frame (frames in order) and returns the raw landmarks.
    pub fn estimate_holistic(&mut self, frame: &Frame) -> Result<HolisticLandmarks, PoseError> {
        self.estimate_holistic_with_next(frame, None)
    }

    /// [`Self::estimate_holistic`], given the frame that comes next when it is known: its body
    /// model then runs beside this frame's hands and face, and the next call picks it up.
    pub fn estimate_holistic_with_next(
        &mut self,
        frame: &Frame,
        next: Option<&Frame>,
    ) -> Result<HolisticLandmarks, PoseError> {
        self.stage_ms.clear();
        let image = checked_image(frame)?;
        if self.image_size != (frame.width, frame.height) {
            self.reset();
            self.image_size = (frame.width, frame.height);
        }
        // A frame of another size cannot continue this one's tracking: it waits for its turn.
        let next = next
            .filter(|next| (next.width, next.height) == (frame.width, frame.height))
            .map(|next| Ok::<_, PoseError>((next.index, next.time, checked_image(next)?)))
            .transpose()?;
        let body_ahead = self
            .body_ahead
            .take()
            .filter(|ahead| ahead.index == frame.index && ahead.time == frame.time);
        let panicked = |stage: &'static str| PoseError::Inference {
            stage,
            reason: "the worker thread panicked".into(),
        };
        // First half: the body (unless computed with the previous frame), and beside it the
        // hand and face models on the crops tracked from the previous frame, which need no
        // body. Single-threaded runs side by side share two cores better than one model spread
        // over them. Second half: the crops from the body, and the models again where tracking
        // broke. The next frame's body runs beside both halves.
        let (body_stage, left_stage, right_stage, face_stage) = (
            &mut self.body,
            &mut self.left_hand,
            &mut self.right_hand,
            &mut self.face,
        );
        let stage_ms = &mut self.stage_ms;
        let (body, body_next, left, right, face) = std::thread::scope(|scope| {
            let (left_body, left_body_rx) = sync_channel(1);
            let (right_body, right_body_rx) = sync_channel(1);
            let (face_body, face_body_rx) = sync_channel(1);
            let mut body_senders = Some([left_body, right_body, face_body]);
            // Hands the body to the three stages (once); no body leaves them with nothing.
            let mut share_body = |body: &Result<Option<Vec<Landmark>>, PoseError>| {
                let senders: Option<[SyncSender<Arc<Vec<Landmark>>>; 3]> = body_senders.take();
                if let (Some(senders), Ok(Some(body))) = (senders, body) {
                    let body = Arc::new(body.clone());
                    for sender in senders {
                        // A stage that failed has hung up; its error comes with its join.
                        let _ = sender.send(body.clone());
                    }
                }
            };
            let precomputed = body_ahead.map(|ahead| {
                stage_ms.extend(ahead.stage_ms);
                ahead.body
            });
            if let Some(body) = &precomputed {
                share_body(body);
            }
            let left = scope.spawn(move || {
                in_two_halves(
                    left_stage,
                    image,
                    &left_body_rx,
                    HandStage::run_ahead,
                    HandStage::run,
                )
            });
            let right = scope.spawn(move || {
                in_two_halves(
                    right_stage,
                    image,
                    &right_body_rx,
                    HandStage::run_ahead,
                    HandStage::run,
                )
            });
            let face = scope.spawn(move || {
                in_two_halves(
                    face_stage,
                    image,
                    &face_body_rx,
                    FaceStage::run_ahead,
                    FaceStage::run,
                )
            });
            let body = match precomputed {
                Some(body) => body,
                None => {
                    let body = body_stage.run(image, frame.time, stage_ms);
                    share_body(&body);
                    body
                }
            };
            let body_next = match (&body, next) {
                (Ok(Some(_)), Some((index, time, next_image))) => Some(scope.spawn(move || {
                    let mut stage_ms = Vec::new();
                    let body = body_stage.run(next_image, time, &mut stage_ms);
                    BodyAhead {
                        index,
                        time,
                        body,
                        stage_ms,
                    }
                })),
                _ => None,
            };
            (
                body,
                body_next.map(|handle| handle.join()),
                left.join(),
                right.join(),
                face.join(),
            )
        });
        let (left, left_ms) = left.map_err(|_| panicked("left hand"))??;
        let (right, right_ms) = right.map_err(|_| panicked("right hand"))??;
        let (face, face_ms) = face.map_err(|_| panicked("face"))??;
        let Some(body) = body? else {
            self.reset();
            return Ok(HolisticLandmarks::default());
        };
        if let Some(joined) = body_next {
            self.body_ahead = Some(joined.map_err(|_| panicked("body"))?);
        }
        let (Some(left), Some(right), Some(face)) = (left, right, face) else {
            return Err(PoseError::Inference {
                stage: "hands",
                reason: "a hand or face stage finished without the body".into(),
            });
        };
        for (name, ms) in [
            ("left hand", left_ms),
            ("right hand", right_ms),
            ("face", face_ms),
        ] {
            self.stage_ms.push((name, ms));
        }
        let ((left_hand, left_score, left_from_palm), (right_hand, right_score, right_from_palm)) =
            (left, right);
        let (face, face_score) = face;
        Ok(HolisticLandmarks {
            body: Some(body),
            left_hand,
            right_hand,
            face,
            hand_scores: (left_score, right_score),
            hands_from_palm: (left_from_palm, right_from_palm),
            face_score,
        })
    }
}

impl MediapipeHolistic {
    /// Runs only the palm-detection fallback of both hands ([left, right]) around the wrists of
    /// `body` (33 landmarks in `frame`'s pixels), leaving the tracking state alone: what the
    /// fallback would find on frames where the body crop misses a hand.
    pub fn hands_from_palms(
        &mut self,
        frame: &Frame,
        body: &[Landmark],
    ) -> Result<[Option<Vec<Landmark>>; 2], PoseError> {
        if body.len() < NUM_BODY_LANDMARKS {
            return Err(PoseError::Inference {
                stage: "hands",
                reason: format!(
                    "frame {}: expected {NUM_BODY_LANDMARKS} body landmarks, got {}",
                    frame.index,
                    body.len()
                ),
            });
        }
        let image = checked_image(frame)?;
        let left = self.left_hand.hand_from_palm(image, body)?.map(|(l, _)| l);
        let right = self.right_hand.hand_from_palm(image, body)?.map(|(l, _)| l);
        Ok([left, right])
    }
}

/// The Holistic landmarks as COCO-WholeBody keypoints: body points score their visibility, hand
/// and face points their model's presence score.
pub fn keypoints_from_holistic(landmarks: &HolisticLandmarks) -> Vec<Keypoint> {
    let to_keypoints =
        |points: &Option<Vec<Landmark>>, score: Option<f32>| -> Option<Vec<Keypoint>> {
            points.as_ref().map(|points| {
                points
                    .iter()
                    .map(|l| Keypoint {
                        x: l.x,
                        y: l.y,
                        score: score.unwrap_or(l.visibility),
                    })
                    .collect()
            })
        };
    let body = to_keypoints(&landmarks.body, None);
    let face = to_keypoints(&landmarks.face, Some(landmarks.face_score));
    let left = to_keypoints(&landmarks.left_hand, Some(landmarks.hand_scores.0));
    let right = to_keypoints(&landmarks.right_hand, Some(landmarks.hand_scores.1));
    coco_wholebody_from_holistic(&HolisticPoints {
        body: body.as_deref().and_then(|p| p.try_into().ok()),
        face: face.as_deref().and_then(|p| p.try_into().ok()),
        left_hand: left.as_deref().and_then(|p| p.try_into().ok()),
        right_hand: right.as_deref().and_then(|p| p.try_into().ok()),
    })
}

impl PoseEstimator for MediapipeHolistic {
    fn estimate(&mut self, frame: &Frame) -> Result<PoseFrame, PoseError> {
        self.estimate_with_next(frame, None)
    }

    fn estimate_with_next(
        &mut self,
        frame: &Frame,
        next: Option<&Frame>,
    ) -> Result<PoseFrame, PoseError> {
        let landmarks = self.estimate_holistic_with_next(frame, next)?;
        Ok(PoseFrame {
            time: frame.time,
            keypoints_in_image: keypoints_from_holistic(&landmarks),
        })
    }

    fn estimate_run(
        &mut self,
        frames: &mut dyn Iterator<Item = Frame>,
        sink: &mut dyn FnMut(&Frame, PoseFrame, &StageTimes),
    ) -> Result<(), PoseError> {
        self.estimate_holistic_run(frames, &mut |frame, landmarks, stage_ms| {
            let pose = PoseFrame {
                time: frame.time,
                keypoints_in_image: keypoints_from_holistic(&landmarks),
            };
            sink(frame, pose, stage_ms);
        })
    }

    fn reset(&mut self) {
        self.body_ahead = None;
        self.body.reset();
        self.left_hand.reset();
        self.right_hand.reset();
        self.face.reset();
    }

    fn last_stage_ms(&self) -> Vec<(&'static str, f64)> {
        self.stage_ms.clone()
    }
}

/// The first `count` (x, y, z) triples a landmark model wrote in its `input_size`-pixel input,
/// mapped back through the crop `roi` into image pixels; every point gets the model's presence.
fn landmarks_from_model_output(
    values: &[f32],
    count: usize,
    input_size: usize,
    roi: &RotatedRect,
    presence: f32,
) -> Vec<Landmark> {
    let input_size = input_size as f32;
    values
        .chunks_exact(3)
        .take(count)
        .map(|v| {
            let (x, y) = roi.image_from_normalized(v[0] / input_size, v[1] / input_size);
            Landmark {
                x,
                y,
                z: v[2] / input_size * roi.width,
                visibility: presence,
                presence,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pose::create_estimator;

    #[test]
    fn a_missing_model_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = PoseConfig {
            mediapipe_model_dir: dir.path().to_path_buf(),
            ..PoseConfig::default()
        };
        let Err(error) = create_estimator(&config) else {
            panic!("a missing model must be an error");
        };
        let expected = dir.path().join("pose_detection.onnx");
        assert!(matches!(error, PoseError::Model { .. }));
        assert!(
            error.to_string().contains(&expected.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn a_missing_runtime_library_is_an_error_naming_it() {
        let config = PoseConfig {
            ort_library: Some("/nonexistent/onnxruntime/libonnxruntime.so".into()),
            ..PoseConfig::default()
        };
        let Err(error) = create_estimator(&config) else {
            panic!("a missing library must be an error");
        };
        assert!(matches!(error, PoseError::Runtime(_)));
        assert!(
            error
                .to_string()
                .contains("/nonexistent/onnxruntime/libonnxruntime.so"),
            "{error}"
        );
    }

    #[test]
    fn the_palm_rect_of_an_upright_hand_is_unrotated() {
        // A hand pointing straight up: wrist below, knuckles in a row above it.
        let mut hand = vec![Landmark::at(50.0, 100.0); NUM_HAND_LANDMARKS];
        for (i, x) in [(5, 40.0), (9, 50.0), (13, 60.0), (17, 70.0)] {
            hand[i] = Landmark::at(x, 60.0);
        }
        let rect = hand_landmarks_to_rect(&hand);
        assert!(rect.rotation.abs() < 1e-5, "{rect:?}");
        assert!(
            (rect.height - 40.0).abs() < 1e-4 && (rect.width - 30.0).abs() < 1e-4,
            "{rect:?}"
        );
    }
}
