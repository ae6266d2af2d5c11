//! Top-down RTMW/RTMPose whole-body pose with a YOLOX person detector, the way Uni-Sign's vendored
//! rtmlib 0.0.13 extracts poses (`demo/pose_extraction.py`, "lightweight" mode).
//!
//! Every step reproduces rtmlib bit for bit, because Uni-Sign was trained on its output:
//! * detector: the BGR frame letterboxed into the model input (top-left, padded with 114), raw
//!   0–255 values; boxes either from an export with NMS inside (`[1, N, 5]`) or from the raw head
//!   (`[1, A, 5 + classes]`, grid decode and NMS as rtmlib); only the **largest** box is kept
//!   (Uni-Sign's change to rtmlib) and the whole frame stands in when there is none;
//! * pose: the box padded ×1.25 and widened to the model's aspect, warped into the model input,
//!   `(bgr − mean) / std` with the RGB mean applied to BGR as rtmlib does; SimCC argmax with split
//!   ratio 2, score = mean of the two maxima, location −1 where the score is not positive.
//!
//! The resize and the warp are integer re-implementations of OpenCV 4.11's `INTER_LINEAR` kernels
//! (the ones opencv-python runs for rtmlib), so the model sees the same pixels as under Python.
//! Keypoint scores are rtmlib's raw SimCC scores (they can exceed 1 or be negative), as Uni-Sign
//! stores them.

use std::path::Path;
use std::time::Instant;

use super::runtime::{ModelOutput, OnnxModel, ort_environment};
use super::{PoseConfig, PoseError, PoseEstimator};
use crate::keypoints::{Keypoint, NUM_KEYPOINTS, PoseFrame};
use crate::source::Frame;

/// Detector input size rtmlib's "lightweight" mode uses when the model leaves it dynamic.
const DEFAULT_DETECTOR_INPUT: InputSize = InputSize {
    width: 416,
    height: 416,
};
/// RTMW-m input size (W×H = 192×256) for models that leave it dynamic.
const DEFAULT_POSE_INPUT: InputSize = InputSize {
    width: 192,
    height: 256,
};
/// Letterbox fill value of rtmlib's YOLOX preprocessing.
const LETTERBOX_FILL: u8 = 114;
/// Box score threshold applied after the detector (rtmlib `score > 0.3`).
const BOX_SCORE_THRESHOLD: f32 = 0.3;
/// rtmlib YOLOX defaults for the raw-head export.
const RAW_HEAD_NMS_IOU: f32 = 0.45;
const RAW_HEAD_SCORE_THRESHOLD: f32 = 0.7;
const RAW_HEAD_STRIDES: [usize; 3] = [8, 16, 32];
/// Box padding of rtmlib's `bbox_xyxy2cs`.
const BOX_PADDING: f32 = 1.25;
/// SimCC bins per input pixel.
const SIMCC_SPLIT_RATIO: f32 = 2.0;
/// Per-channel mean and std of RTMPose, applied to the BGR image in channel order (rtmlib).
const POSE_MEAN: [f64; 3] = [123.675, 116.28, 103.53];
const POSE_STD: [f64; 3] = [58.395, 57.12, 57.375];

/// A model input size in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputSize {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// A borrowed packed RGB24 image.
#[derive(Clone, Copy, Debug)]
pub struct RgbImage<'a> {
    /// `width * height * 3` bytes, row-major.
    pub rgb: &'a [u8],
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// Which float width rtmlib computed a box's centre and scale in: boxes straight from the
/// NMS-inside export stay float32, raw-head boxes and the full-frame fallback are float64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoxPrecision {
    /// numpy float32 arithmetic.
    F32,
    /// numpy float64 arithmetic.
    F64,
}

/// A person box in image pixels (x1, y1, x2, y2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PersonBox {
    /// Left, top, right, bottom in image pixels.
    pub xyxy_in_image: [f64; 4],
    /// Detector score (1 for the full-frame fallback).
    pub score: f32,
    /// Precision rtmlib keeps the box in.
    pub precision: BoxPrecision,
}

impl PersonBox {
    /// The whole image, which rtmlib uses when no person was detected.
    pub fn full_image(width: usize, height: usize) -> Self {
        Self {
            xyxy_in_image: [0.0, 0.0, width as f64, height as f64],
            score: 1.0,
            precision: BoxPrecision::F64,
        }
    }

    fn area(&self) -> f64 {
        let [x1, y1, x2, y2] = self.xyxy_in_image;
        match self.precision {
            BoxPrecision::F32 => ((x2 as f32 - x1 as f32) * (y2 as f32 - y1 as f32)) as f64,
            BoxPrecision::F64 => (x2 - x1) * (y2 - y1),
        }
    }
}

/// The detector input: letterboxed BGR, NCHW float32, and the resize ratio.
#[derive(Clone, Debug)]
pub struct DetectorInput {
    /// `1 × 3 × height × width` raw 0–255 values, channels B, G, R.
    pub tensor_nchw: Vec<f32>,
    /// Model pixels per image pixel.
    pub ratio: f64,
}

/// The pose-model input for one box and the affine frame to map keypoints back.
#[derive(Clone, Debug)]
pub struct PoseCrop {
    /// `1 × 3 × height × width` normalised BGR values.
    pub tensor_nchw: Vec<f32>,
    /// Box centre in image pixels.
    pub center_in_image: [f64; 2],
    /// Box size in image pixels after padding and the aspect fix.
    pub scale_in_image: [f64; 2],
}

/// Letterboxes `image` into the detector input as rtmlib's `YOLOX.preprocess`: resize by
/// `min(H_in / H, W_in / W)` with OpenCV's bilinear kernel, paste top-left on a 114 canvas,
/// swap to BGR.
pub fn detector_input(image: RgbImage<'_>, input: InputSize) -> DetectorInput {
    let ratio = f64::min(
        input.height as f64 / image.height as f64,
        input.width as f64 / image.width as f64,
    );
    // Python's int() truncates; clamp so a rounding overshoot cannot leave the canvas.
    let resized_width = ((image.width as f64 * ratio) as usize).clamp(1, input.width);
    let resized_height = ((image.height as f64 * ratio) as usize).clamp(1, input.height);
    let mut tensor_nchw = vec![LETTERBOX_FILL as f32; 3 * input.width * input.height];
    resize_bilinear_opencv_into_bgr_planes(
        image,
        resized_width,
        resized_height,
        &mut tensor_nchw,
        input.width,
    );
    DetectorInput { tensor_nchw, ratio }
}

/// Boxes from a detector export with NMS inside: `dets` is `[N, 5]` (x1, y1, x2, y2, score) in
/// model pixels; keeps score > 0.3 and maps back to the image (rtmlib, float32 arithmetic).
pub fn boxes_from_nms_output(dets: &[f32], ratio: f64) -> Vec<PersonBox> {
    let ratio = ratio as f32;
    dets.chunks_exact(5)
        .filter(|det| det[4] > BOX_SCORE_THRESHOLD)
        .map(|det| PersonBox {
            xyxy_in_image: [
                (det[0] / ratio) as f64,
                (det[1] / ratio) as f64,
                (det[2] / ratio) as f64,
                (det[3] / ratio) as f64,
            ],
            score: det[4],
            precision: BoxPrecision::F32,
        })
        .collect()
}

/// Boxes from a raw YOLOX head: `predictions` is `[A, 5 + classes]` (cx, cy, log w, log h as grid
/// offsets, objectness, class scores) over the stride 8/16/32 grids of `input`. Decodes the grid,
/// runs rtmlib's class-wise NMS (IoU 0.45, score 0.7) and keeps class 0 (person) above 0.3.
/// (Uni-Sign's rtmlib 0.0.13 takes this branch only for a last dimension of 4, which no raw head
/// has; this follows rtmlib 0.0.16's test `== 4 or > 5` with Uni-Sign's class-0 filter.)
pub fn boxes_from_raw_head(
    predictions: &[f32],
    columns: usize,
    input: InputSize,
    ratio: f64,
) -> Result<Vec<PersonBox>, String> {
    if columns < 6 {
        return Err(format!(
            "raw detector output needs at least 6 columns, got {columns}"
        ));
    }
    let grid: Vec<(usize, usize, usize)> = RAW_HEAD_STRIDES
        .iter()
        .flat_map(|&stride| {
            let (rows, cols) = (input.height / stride, input.width / stride);
            (0..rows).flat_map(move |gy| (0..cols).map(move |gx| (gx, gy, stride)))
        })
        .collect();
    let anchors = predictions.len() / columns;
    if anchors != grid.len() || !predictions.len().is_multiple_of(columns) {
        return Err(format!(
            "raw detector output has {anchors} anchors, the {}x{} input's stride 8/16/32 grids have {}",
            input.width,
            input.height,
            grid.len()
        ));
    }
    let ratio = ratio as f32;
    let classes = columns - 5;
    let mut boxes = Vec::with_capacity(anchors);
    for (row, &(gx, gy, stride)) in predictions.chunks_exact(columns).zip(&grid) {
        // numpy: (float32 + int64) * int64 is float64, stored back into the float32 array.
        let cx = ((row[0] as f64 + gx as f64) * stride as f64) as f32;
        let cy = ((row[1] as f64 + gy as f64) * stride as f64) as f32;
        let w = ((row[2] as f64).exp() as f32 as f64 * stride as f64) as f32;
        let h = ((row[3] as f64).exp() as f32 as f64 * stride as f64) as f32;
        let xyxy = [
            (cx - w / 2.0) / ratio,
            (cy - h / 2.0) / ratio,
            (cx + w / 2.0) / ratio,
            (cy + h / 2.0) / ratio,
        ];
        boxes.push((xyxy, row[4], &row[5..5 + classes]));
    }
    let mut kept = Vec::new();
    for class in 0..classes {
        let candidates: Vec<([f32; 4], f32)> = boxes
            .iter()
            .filter(|(_, objectness, class_scores)| {
                objectness * class_scores[class] > RAW_HEAD_SCORE_THRESHOLD
            })
            .map(|(xyxy, objectness, class_scores)| (*xyxy, objectness * class_scores[class]))
            .collect();
        for index in nms(&candidates, RAW_HEAD_NMS_IOU) {
            let (xyxy, score) = candidates[index];
            // Uni-Sign keeps class 0 with score > 0.3 (float64 comparison of the float32 score).
            if class == 0 && score as f64 > 0.3 {
                kept.push(PersonBox {
                    xyxy_in_image: xyxy.map(f64::from),
                    score,
                    precision: BoxPrecision::F64,
                });
            }
        }
    }
    Ok(kept)
}

/// rtmlib's single-class NMS (areas with the +1 pixel convention, float32), highest score first.
fn nms(candidates: &[([f32; 4], f32)], iou_threshold: f32) -> Vec<usize> {
    let area = |b: &[f32; 4]| (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| candidates[b].1.total_cmp(&candidates[a].1));
    let mut keep = Vec::new();
    while let Some((&best, rest)) = order.split_first() {
        keep.push(best);
        let b = &candidates[best].0;
        order = rest
            .iter()
            .copied()
            .filter(|&other| {
                let o = &candidates[other].0;
                let w = f32::max(0.0, f32::min(b[2], o[2]) - f32::max(b[0], o[0]) + 1.0);
                let h = f32::max(0.0, f32::min(b[3], o[3]) - f32::max(b[1], o[1]) + 1.0);
                let inter = w * h;
                inter / (area(b) + area(o) - inter) <= iou_threshold
            })
            .collect();
    }
    keep
}

/// The box with the largest area, first on ties (Uni-Sign's one-signer rule).
pub fn largest_box(boxes: &[PersonBox]) -> Option<PersonBox> {
    let mut best: Option<PersonBox> = None;
    for candidate in boxes {
        if best.is_none_or(|b| candidate.area() > b.area()) {
            best = Some(*candidate);
        }
    }
    best
}

/// Crops `person` out of `image` for the pose model as rtmlib's `RTMPose.preprocess`.
pub fn pose_input(image: RgbImage<'_>, person: &PersonBox, input: InputSize) -> PoseCrop {
    let (center, scale) = center_and_scale(person, input);
    let forward = warp_matrix(center, scale, input);
    // (v - mean) / std in float64, then float32, as numpy does; a table per channel.
    let mut tables = [[0f32; 256]; 3];
    for (c, table) in tables.iter_mut().enumerate() {
        for (v, entry) in table.iter_mut().enumerate() {
            *entry = ((v as f64 - POSE_MEAN[c]) / POSE_STD[c]) as f32;
        }
    }
    let plane = input.width * input.height;
    let mut tensor_nchw = vec![0f32; 3 * plane];
    warp_affine_bilinear_opencv(image, &forward, input, |at, rgb| {
        // BGR channel order: channel 0 is blue.
        tensor_nchw[at] = tables[0][rgb[2] as usize];
        tensor_nchw[plane + at] = tables[1][rgb[1] as usize];
        tensor_nchw[2 * plane + at] = tables[2][rgb[0] as usize];
    });
    PoseCrop {
        tensor_nchw,
        center_in_image: center,
        scale_in_image: scale,
    }
}

/// rtmlib's `bbox_xyxy2cs(padding=1.25)` followed by the aspect fix of `top_down_affine`, in the
/// float width numpy used for this box.
fn center_and_scale(person: &PersonBox, input: InputSize) -> ([f64; 2], [f64; 2]) {
    let [x1, y1, x2, y2] = person.xyxy_in_image;
    let aspect = input.width as f64 / input.height as f64;
    match person.precision {
        BoxPrecision::F32 => {
            let (x1, y1, x2, y2) = (x1 as f32, y1 as f32, x2 as f32, y2 as f32);
            let aspect = aspect as f32;
            let center = [(x1 + x2) * 0.5, (y1 + y2) * 0.5];
            let (w, h) = ((x2 - x1) * BOX_PADDING, (y2 - y1) * BOX_PADDING);
            let scale = if w > h * aspect {
                [w, w / aspect]
            } else {
                [h * aspect, h]
            };
            (center.map(f64::from), scale.map(f64::from))
        }
        BoxPrecision::F64 => {
            let padding = BOX_PADDING as f64;
            let center = [(x1 + x2) * 0.5, (y1 + y2) * 0.5];
            let (w, h) = ((x2 - x1) * padding, (y2 - y1) * padding);
            let scale = if w > h * aspect {
                [w, w / aspect]
            } else {
                [h * aspect, h]
            };
            (center, scale)
        }
    }
}

/// The image→crop affine matrix of rtmlib's `get_warp_matrix` (rotation 0): three point pairs
/// stored as float32, solved exactly like `cv2.getAffineTransform`.
fn warp_matrix(center: [f64; 2], scale: [f64; 2], input: InputSize) -> [f64; 6] {
    let half_width = scale[0] * 0.5;
    let src0 = [center[0] as f32, center[1] as f32];
    let src1 = [center[0] as f32, (center[1] - half_width) as f32];
    let src2 = third_point(src0, src1);
    let (dst_w, dst_h) = (input.width as f64, input.height as f64);
    let dst0 = [(dst_w * 0.5) as f32, (dst_h * 0.5) as f32];
    let dst1 = [(dst_w * 0.5) as f32, (dst_h * 0.5 - dst_w * 0.5) as f32];
    let dst2 = third_point(dst0, dst1);
    solve_affine([src0, src1, src2], [dst0, dst1, dst2])
}

/// rtmlib's `_get_3rd_point`: `b` plus `a − b` turned 90° anticlockwise, in float32.
fn third_point(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    let direction = [a[0] - b[0], a[1] - b[1]];
    [b[0] - direction[1], b[1] + direction[0]]
}

/// The affine map taking `src[i]` to `dst[i]` (row-major 2×3), in float64.
fn solve_affine(src: [[f32; 2]; 3], dst: [[f32; 2]; 3]) -> [f64; 6] {
    let p = src.map(|q| q.map(f64::from));
    let q = dst.map(|q| q.map(f64::from));
    let (u1, v1) = (p[1][0] - p[0][0], p[1][1] - p[0][1]);
    let (u2, v2) = (p[2][0] - p[0][0], p[2][1] - p[0][1]);
    let det = u1 * v2 - u2 * v1;
    let mut m = [0f64; 6];
    for row in 0..2 {
        let (d1, d2) = (q[1][row] - q[0][row], q[2][row] - q[0][row]);
        let a = (d1 * v2 - d2 * v1) / det;
        let b = (u1 * d2 - u2 * d1) / det;
        m[row * 3] = a;
        m[row * 3 + 1] = b;
        m[row * 3 + 2] = q[0][row] - a * p[0][0] - b * p[0][1];
    }
    m
}

/// One output column or row of OpenCV's linear resize: source index and 11-bit weights.
#[derive(Clone, Copy)]
struct ResizeTap {
    source: usize,
    next: usize,
    weight0: i32,
    weight1: i32,
}

/// OpenCV's `resizeGeneric_` coefficients for one axis; `clamp_edges` is its x-axis rule that
/// moves taps outside the source onto the edge pixel with weight (2048, 0).
fn resize_taps(dst: usize, src: usize, clamp_edges: bool) -> Vec<ResizeTap> {
    const COEF_SCALE: f32 = 2048.0;
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let floor = f.floor();
            let (mut s, mut f) = (floor as i64, f - floor);
            if clamp_edges {
                if s < 0 {
                    (s, f) = (0, 0.0);
                }
                if s >= src as i64 - 1 {
                    (s, f) = (src as i64 - 1, 0.0);
                }
            }
            // Taps outside the source repeat the edge pixel (OpenCV clips row indices).
            let last = src as i64 - 1;
            ResizeTap {
                source: s.clamp(0, last) as usize,
                next: (s + 1).clamp(0, last) as usize,
                weight0: ((1.0 - f) * COEF_SCALE).round_ties_even() as i32,
                weight1: (f * COEF_SCALE).round_ties_even() as i32,
            }
        })
        .collect()
}

/// `cv2.resize(INTER_LINEAR)` for 8-bit, 3-channel images, written as BGR planes into the
/// top-left of `planes` (row stride `stride`): 11-bit fixed-point weights, and the vertical pass
/// the way OpenCV's SIMD kernel rounds it (it covers every pixel in 4.11).
fn resize_bilinear_opencv_into_bgr_planes(
    image: RgbImage<'_>,
    width: usize,
    height: usize,
    planes: &mut [f32],
    stride: usize,
) {
    let src_w = image.width;
    let x_taps = resize_taps(width, src_w, true);
    let y_taps = resize_taps(height, image.height, false);
    // Byte offsets of the two taps in a source row (the same pixel at the right edge, where the
    // second weight is 0).
    let columns: Vec<(usize, usize, i32, i32)> = x_taps
        .iter()
        .map(|t| (t.source * 3, t.next * 3, t.weight0, t.weight1))
        .collect();
    let horizontal = |sy: usize, out: &mut [i32]| {
        let row = &image.rgb[sy * src_w * 3..][..src_w * 3];
        for (&(left, right, w0, w1), dst) in columns.iter().zip(out.chunks_exact_mut(3)) {
            for c in 0..3 {
                dst[c] = row[left + c] as i32 * w0 + row[right + c] as i32 * w1;
            }
        }
    };
    let plane = planes.len() / 3;
    // The two horizontally resized source rows in use, and which rows they are.
    let mut rows = [vec![0i32; width * 3], vec![0i32; width * 3]];
    let mut row_index = [usize::MAX, usize::MAX];
    for (dy, tap) in y_taps.iter().enumerate() {
        let wanted = [tap.source, tap.next];
        // Downward resizes move one row at a time: reuse the lower row as the new upper one.
        if row_index[0] != wanted[0] && row_index[1] == wanted[0] {
            rows.swap(0, 1);
            row_index.swap(0, 1);
        }
        for k in 0..2 {
            if row_index[k] != wanted[k] {
                horizontal(wanted[k], &mut rows[k]);
                row_index[k] = wanted[k];
            }
        }
        let (b0, b1) = (tap.weight0, tap.weight1);
        let at = dy * stride;
        let (blue, rest) = planes.split_at_mut(plane);
        let (green, red) = rest.split_at_mut(plane);
        for (x, (s0, s1)) in rows[0]
            .chunks_exact(3)
            .zip(rows[1].chunks_exact(3))
            .enumerate()
        {
            // v_mul_hi on (S >> 4) in int16, then a rounding shift by 2 (VResizeLinearVec_32s8u).
            let value = |c: usize| {
                let v = (((s0[c] >> 4) * b0) >> 16) + (((s1[c] >> 4) * b1) >> 16);
                ((v + 2) >> 2).clamp(0, 255) as f32
            };
            red[at + x] = value(0);
            green[at + x] = value(1);
            blue[at + x] = value(2);
        }
    }
}

/// `cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)` for 8-bit, 3-channel images: the inverse
/// map in 10-bit fixed point, 1/32-pixel interpolation table, 15-bit weights. Calls `store` with
/// each output pixel index and its RGB value.
fn warp_affine_bilinear_opencv(
    image: RgbImage<'_>,
    forward: &[f64; 6],
    out: InputSize,
    mut store: impl FnMut(usize, [u8; 3]),
) {
    const AB_SCALE: f64 = 1024.0;
    const ROUND_DELTA: i64 = 16; // AB_SCALE / INTER_TAB_SIZE / 2
    let m = invert_affine_like_opencv(forward);
    let round = |v: f64| v.round_ties_even() as i64;
    let (src_w, src_h) = (image.width as i64, image.height as i64);
    let row_bytes = image.width * 3;
    let a_delta: Vec<i64> = (0..out.width)
        .map(|x| round(m[0] * x as f64 * AB_SCALE))
        .collect();
    let b_delta: Vec<i64> = (0..out.width)
        .map(|x| round(m[3] * x as f64 * AB_SCALE))
        .collect();
    let pixel = |x: i64, y: i64, c: usize| -> i64 {
        if (0..src_w).contains(&x) && (0..src_h).contains(&y) {
            image.rgb[((y * src_w + x) * 3) as usize + c] as i64
        } else {
            0
        }
    };
    for y in 0..out.height {
        let x0 = round((m[1] * y as f64 + m[2]) * AB_SCALE) + ROUND_DELTA;
        let y0 = round((m[4] * y as f64 + m[5]) * AB_SCALE) + ROUND_DELTA;
        for x in 0..out.width {
            let sx_fixed = (x0 + a_delta[x]) >> 5;
            let sy_fixed = (y0 + b_delta[x]) >> 5;
            let (sx, sy) = (sx_fixed >> 5, sy_fixed >> 5);
            let (fx, fy) = (sx_fixed & 31, sy_fixed & 31);
            let w = [
                (32 - fy) * (32 - fx) * 32,
                (32 - fy) * fx * 32,
                fy * (32 - fx) * 32,
                fy * fx * 32,
            ];
            let mut rgb = [0u8; 3];
            if sx >= 0 && sy >= 0 && sx < src_w - 1 && sy < src_h - 1 {
                // All four neighbours inside: read them straight from the two rows.
                let top = sy as usize * row_bytes + sx as usize * 3;
                let p = &image.rgb[top..top + 6];
                let q = &image.rgb[top + row_bytes..top + row_bytes + 6];
                for c in 0..3 {
                    let sum = p[c] as i64 * w[0]
                        + p[c + 3] as i64 * w[1]
                        + q[c] as i64 * w[2]
                        + q[c + 3] as i64 * w[3];
                    rgb[c] = ((sum + (1 << 14)) >> 15).clamp(0, 255) as u8;
                }
            } else {
                // Neighbours outside the image count as the border value 0.
                for (c, value) in rgb.iter_mut().enumerate() {
                    let sum = pixel(sx, sy, c) * w[0]
                        + pixel(sx + 1, sy, c) * w[1]
                        + pixel(sx, sy + 1, c) * w[2]
                        + pixel(sx + 1, sy + 1, c) * w[3];
                    *value = ((sum + (1 << 14)) >> 15).clamp(0, 255) as u8;
                }
            }
            store(y * out.width + x, rgb);
        }
    }
}

/// The inverse of a 2×3 affine map, with OpenCV's `warpAffine` formula.
fn invert_affine_like_opencv(m: &[f64; 6]) -> [f64; 6] {
    let det = m[0] * m[4] - m[1] * m[3];
    let d = if det != 0.0 { 1.0 / det } else { 0.0 };
    let (a11, a22) = (m[4] * d, m[0] * d);
    let (a12, a21) = (m[1] * -d, m[3] * -d);
    let b1 = -a11 * m[2] - a12 * m[5];
    let b2 = -a21 * m[2] - a22 * m[5];
    [a11, a12, b1, a21, a22, b2]
}

/// Decodes SimCC outputs (`[K, 2·W]` and `[K, 2·H]`) to keypoints in image pixels with rtmlib's
/// `get_simcc_maximum` and rescale.
pub fn keypoints_from_simcc(
    simcc_x: &[f32],
    simcc_y: &[f32],
    num_keypoints: usize,
    crop: &PoseCrop,
    input: InputSize,
) -> Vec<Keypoint> {
    let bins_x = simcc_x.len() / num_keypoints.max(1);
    let bins_y = simcc_y.len() / num_keypoints.max(1);
    simcc_x
        .chunks_exact(bins_x)
        .zip(simcc_y.chunks_exact(bins_y))
        .map(|(row_x, row_y)| {
            let (loc_x, max_x) = first_argmax(row_x);
            let (loc_y, max_y) = first_argmax(row_y);
            let score = 0.5 * (max_x + max_y);
            let (loc_x, loc_y) = if score > 0.0 {
                (loc_x as f32, loc_y as f32)
            } else {
                (-1.0, -1.0)
            };
            let to_image = |loc: f32, size: usize, axis: usize| {
                let in_input = (loc / SIMCC_SPLIT_RATIO) as f64 / size as f64;
                in_input * crop.scale_in_image[axis] + crop.center_in_image[axis]
                    - crop.scale_in_image[axis] / 2.0
            };
            Keypoint {
                x: to_image(loc_x, input.width, 0) as f32,
                y: to_image(loc_y, input.height, 1) as f32,
                score,
            }
        })
        .collect()
}

/// Index and value of the first maximum (numpy `argmax`/`amax`).
fn first_argmax(values: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &v) in values.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// The RTMW backend: a YOLOX detector and an RTMW/RTMPose SimCC model in ONNX Runtime.
pub struct RtmwEstimator {
    detector: OnnxModel,
    pose: OnnxModel,
    detector_input_size: InputSize,
    pose_input_size: InputSize,
    last_person_box: Option<PersonBox>,
    stage_ms: Vec<(&'static str, f64)>,
}

impl RtmwEstimator {
    /// Loads the two models named in `config` (`det_model`, `rtmw_model`).
    pub fn new(config: &PoseConfig) -> Result<Self, PoseError> {
        let det_path = required_model(config.det_model.as_deref(), "det_model")?;
        let pose_path = required_model(config.rtmw_model.as_deref(), "rtmw_model")?;
        let environment = ort_environment(config)?;
        let detector = OnnxModel::open(&environment, det_path, config.threads)?;
        let pose = OnnxModel::open(&environment, pose_path, config.threads)?;
        let detector_input_size = model_input_size(&detector, DEFAULT_DETECTOR_INPUT)?;
        let pose_input_size = model_input_size(&pose, DEFAULT_POSE_INPUT)?;
        if pose.output_count() < 2 {
            return Err(PoseError::Model {
                path: pose_path.display().to_string(),
                reason: "not a SimCC pose model: expected outputs simcc_x and simcc_y".into(),
            });
        }
        Ok(Self {
            detector,
            pose,
            detector_input_size,
            pose_input_size,
            last_person_box: None,
            stage_ms: Vec::new(),
        })
    }

    /// Input size of the person detector.
    pub fn detector_input_size(&self) -> InputSize {
        self.detector_input_size
    }

    /// Input size of the pose model.
    pub fn pose_input_size(&self) -> InputSize {
        self.pose_input_size
    }

    /// The box the last frame's keypoints were taken from (the full frame when nobody was found).
    pub fn last_person_box(&self) -> Option<PersonBox> {
        self.last_person_box
    }

    fn detect(&mut self, image: RgbImage<'_>) -> Result<PersonBox, PoseError> {
        let started = Instant::now();
        let input = detector_input(image, self.detector_input_size);
        let size = self.detector_input_size;
        let prepared = Instant::now();
        let outputs = self.detector.run_all(
            "detector",
            &input.tensor_nchw,
            [1, 3, size.height, size.width],
        )?;
        let ran = Instant::now();
        let ModelOutput {
            shape,
            values: data,
        } = outputs.first().ok_or_else(|| PoseError::Inference {
            stage: "detector",
            reason: "the detector has no output".into(),
        })?;
        let columns = shape.last().copied().unwrap_or(0).max(0) as usize;
        let boxes = if columns == 5 {
            boxes_from_nms_output(data, input.ratio)
        } else {
            boxes_from_raw_head(data, columns, size, input.ratio).map_err(|reason| {
                PoseError::Inference {
                    stage: "detector",
                    reason: format!("output {shape:?}: {reason}"),
                }
            })?
        };
        let person =
            largest_box(&boxes).unwrap_or_else(|| PersonBox::full_image(image.width, image.height));
        let done = Instant::now();
        self.stage_ms.extend([
            ("detector_pre", ms(prepared - started)),
            ("detector_run", ms(ran - prepared)),
            ("detector_post", ms(done - ran)),
        ]);
        Ok(person)
    }

    fn estimate_pose(
        &mut self,
        image: RgbImage<'_>,
        person: &PersonBox,
    ) -> Result<Vec<Keypoint>, PoseError> {
        let started = Instant::now();
        let size = self.pose_input_size;
        let crop = pose_input(image, person, size);
        let prepared = Instant::now();
        let outputs =
            self.pose
                .run_all("pose", &crop.tensor_nchw, [1, 3, size.height, size.width])?;
        let ran = Instant::now();
        let [simcc_x, simcc_y, ..] = outputs.as_slice() else {
            return Err(PoseError::Inference {
                stage: "pose",
                reason: "a SimCC model has two outputs".into(),
            });
        };
        let expected = |bins: usize| [1, NUM_KEYPOINTS as i64, bins as i64];
        let bins_x = (size.width as f32 * SIMCC_SPLIT_RATIO) as usize;
        let bins_y = (size.height as f32 * SIMCC_SPLIT_RATIO) as usize;
        if simcc_x.shape[..] != expected(bins_x) || simcc_y.shape[..] != expected(bins_y) {
            return Err(PoseError::Inference {
                stage: "pose",
                reason: format!(
                    "SimCC outputs are {:?} and {:?}; expected [1, {NUM_KEYPOINTS}, {bins_x}] and [1, {NUM_KEYPOINTS}, {bins_y}] for a {}x{} whole-body model",
                    simcc_x.shape, simcc_y.shape, size.width, size.height
                ),
            });
        }
        let keypoints =
            keypoints_from_simcc(&simcc_x.values, &simcc_y.values, NUM_KEYPOINTS, &crop, size);
        let done = Instant::now();
        self.stage_ms.extend([
            ("pose_pre", ms(prepared - started)),
            ("pose_run", ms(ran - prepared)),
            ("pose_post", ms(done - ran)),
        ]);
        Ok(keypoints)
    }
}

impl PoseEstimator for RtmwEstimator {
    fn estimate(&mut self, frame: &Frame) -> Result<PoseFrame, PoseError> {
        let (width, height) = (frame.width as usize, frame.height as usize);
        if width == 0 || height == 0 || frame.rgb.len() != width * height * 3 {
            return Err(PoseError::Inference {
                stage: "input",
                reason: format!(
                    "frame {} is {width}x{height} but holds {} bytes of RGB",
                    frame.index,
                    frame.rgb.len()
                ),
            });
        }
        let image = RgbImage {
            rgb: &frame.rgb,
            width,
            height,
        };
        self.stage_ms.clear();
        let person = self.detect(image)?;
        let keypoints_in_image = self.estimate_pose(image, &person)?;
        self.last_person_box = Some(person);
        Ok(PoseFrame {
            time: frame.time,
            keypoints_in_image,
        })
    }

    fn reset(&mut self) {
        self.last_person_box = None;
    }

    fn last_stage_ms(&self) -> Vec<(&'static str, f64)> {
        self.stage_ms.clone()
    }
}

fn ms(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn required_model<'a>(path: Option<&'a Path>, key: &str) -> Result<&'a Path, PoseError> {
    let path = path.ok_or_else(|| PoseError::Model {
        path: format!("[pose] {key}"),
        reason: "not set; the rtmw backend needs a YOLOX detector and an RTMW ONNX model".into(),
    })?;
    if !path.is_file() {
        return Err(PoseError::Model {
            path: path.display().to_string(),
            reason: "model file not found".into(),
        });
    }
    Ok(path)
}

/// `[1, 3, H, W]` from the model's first input; dynamic sizes fall back to `default`.
fn model_input_size(model: &OnnxModel, default: InputSize) -> Result<InputSize, PoseError> {
    let model_error = |reason: String| PoseError::Model {
        path: model.path().display().to_string(),
        reason,
    };
    let shape = model
        .input_shape()
        .ok_or_else(|| model_error("the model has no tensor input".into()))?;
    if shape.len() != 4 || (shape[1] != 3 && shape[1] >= 0) {
        return Err(model_error(format!(
            "input is {shape:?}; expected an image batch [1, 3, H, W]"
        )));
    }
    let (height, width) = (shape[2], shape[3]);
    if height <= 0 || width <= 0 {
        tracing::warn!(
            "{}: input size is dynamic; using {}x{}",
            model.path().display(),
            default.width,
            default.height
        );
        return Ok(default);
    }
    Ok(InputSize {
        width: width as usize,
        height: height as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nms_suppresses_overlaps_above_the_threshold_only() {
        // Boxes 0 and 1 overlap with IoU 81·81/(2·101·101 − 81·81) ≈ 0.47 > 0.45; box 2 is apart.
        let candidates = [
            ([0.0, 0.0, 100.0, 100.0], 0.9),
            ([20.0, 20.0, 120.0, 120.0], 0.95),
            ([300.0, 300.0, 350.0, 350.0], 0.8),
        ];
        assert_eq!(nms(&candidates, 0.45), vec![1, 2]);
        assert_eq!(nms(&candidates, 0.5), vec![1, 0, 2]);
    }

    #[test]
    fn largest_box_takes_the_first_of_equal_areas() {
        let b = |x2: f64, score: f32| PersonBox {
            xyxy_in_image: [0.0, 0.0, x2, 10.0],
            score,
            precision: BoxPrecision::F32,
        };
        let boxes = [b(5.0, 0.9), b(8.0, 0.4), b(8.0, 0.8)];
        assert_eq!(largest_box(&boxes), Some(boxes[1]));
        assert_eq!(largest_box(&[]), None);
    }

    #[test]
    fn warp_matrix_maps_the_box_centre_to_the_crop_centre() {
        let input = InputSize {
            width: 192,
            height: 256,
        };
        let m = warp_matrix([320.0, 180.0], [150.0, 200.0], input);
        let apply = |x: f64, y: f64| (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]);
        let (cx, cy) = apply(320.0, 180.0);
        assert!((cx - 96.0).abs() < 1e-9 && (cy - 128.0).abs() < 1e-9);
        // 150 image pixels span the 192-pixel crop width.
        let (right, _) = apply(395.0, 180.0);
        assert!((right - 192.0).abs() < 1e-9);
    }
}
