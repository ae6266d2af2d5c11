//! Rotated regions of interest in image pixels, as MediaPipe's rect calculators build them, and the
//! crop of such a region into a model's input tensor (MediaPipe's `ImageToTensorCalculator`).

use std::f32::consts::PI;

/// A landmark in image pixels; `z` uses the scale of `x`, as MediaPipe's normalised z does.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Landmark {
    /// x in pixels from the left edge.
    pub x: f32,
    /// y in pixels from the top edge.
    pub y: f32,
    /// Depth, in the pixel scale of x.
    pub z: f32,
    /// Probability that the point is visible (not occluded); 1 where the model gives none.
    pub visibility: f32,
    /// Probability that the point is inside the frame; 1 where the model gives none.
    pub presence: f32,
}

impl Landmark {
    /// A point with full visibility and presence.
    pub fn at(x: f32, y: f32) -> Self {
        Self {
            x,
            y,
            z: 0.0,
            visibility: 1.0,
            presence: 1.0,
        }
    }
}

/// A rotated rectangle in image pixels: MediaPipe's `NormalizedRect` times the image size.
/// `rotation` is in radians, clockwise on screen (y points down).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RotatedRect {
    /// Centre x in pixels.
    pub center_x: f32,
    /// Centre y in pixels.
    pub center_y: f32,
    /// Width in pixels (along the rect's own x axis).
    pub width: f32,
    /// Height in pixels.
    pub height: f32,
    /// Rotation in radians.
    pub rotation: f32,
}

/// Wraps an angle into [-pi, pi) (MediaPipe's `NormalizeRadians`).
pub fn normalize_radians(angle: f32) -> f32 {
    angle - 2.0 * PI * ((angle + PI) / (2.0 * PI)).floor()
}

/// The rotation that turns the vector `from -> to` to `target_angle` (radians, counter-clockwise
/// from +x with y up), as MediaPipe's `DetectionsToRectsCalculator::ComputeRotation`.
pub fn rotation_between(from: (f32, f32), to: (f32, f32), target_angle: f32) -> f32 {
    normalize_radians(target_angle - (-(to.1 - from.1)).atan2(to.0 - from.0))
}

impl RotatedRect {
    /// `AlignmentPointsRectsCalculator`: centred on `center`, side twice the distance to
    /// `scale_point`, rotated so that `center -> scale_point` points at `target_angle`.
    pub fn from_alignment_points(
        center: (f32, f32),
        scale_point: (f32, f32),
        target_angle: f32,
    ) -> Self {
        let side = 2.0 * (scale_point.0 - center.0).hypot(scale_point.1 - center.1);
        Self {
            center_x: center.0,
            center_y: center.1,
            width: side,
            height: side,
            rotation: rotation_between(center, scale_point, target_angle),
        }
    }

    /// The axis-aligned bounding box of `points` (the `LandmarksToDetection` box), with the given
    /// rotation (`DetectionsToRectsCalculator` in its default box mode).
    pub fn bounding(points: impl IntoIterator<Item = (f32, f32)>, rotation: f32) -> Option<Self> {
        let mut bounds: Option<(f32, f32, f32, f32)> = None;
        for (x, y) in points {
            bounds = Some(match bounds {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
        let (x0, y0, x1, y1) = bounds?;
        Some(Self {
            center_x: (x0 + x1) / 2.0,
            center_y: (y0 + y1) / 2.0,
            width: x1 - x0,
            height: y1 - y0,
            rotation,
        })
    }

    /// `RectTransformationCalculator`: shift along the rect's own axes (in units of its size),
    /// optionally square it on the long side, then scale.
    pub fn transformed(self, scale: f32, shift_y: f32, square_long: bool) -> Self {
        let mut rect = self;
        if shift_y != 0.0 {
            let shift = rect.height * shift_y;
            rect.center_x -= shift * rect.rotation.sin();
            rect.center_y += shift * rect.rotation.cos();
        }
        if square_long {
            let side = rect.width.max(rect.height);
            rect.width = side;
            rect.height = side;
        }
        rect.width *= scale;
        rect.height *= scale;
        rect
    }

    /// Grows the shorter side so the rect has the aspect of a `tensor_width x tensor_height`
    /// tensor (`keep_aspect_ratio`: the model then sees the rect letterboxed).
    pub fn padded_to_aspect(self, tensor_width: usize, tensor_height: usize) -> Self {
        let tensor_aspect = tensor_height as f32 / tensor_width as f32;
        let mut rect = self;
        if rect.width <= 0.0 || rect.height <= 0.0 {
            return rect;
        }
        if rect.height / rect.width < tensor_aspect {
            rect.height = rect.width * tensor_aspect;
        } else {
            rect.width = rect.height / tensor_aspect;
        }
        rect
    }

    /// The image point at `(u, v)` in rect-normalised coordinates ((0,0) the rect's top-left
    /// corner, (1,1) its bottom-right), as `LandmarkProjectionCalculator` maps landmarks.
    pub fn image_from_normalized(&self, u: f32, v: f32) -> (f32, f32) {
        let (sin, cos) = self.rotation.sin_cos();
        let dx = (u - 0.5) * self.width;
        let dy = (v - 0.5) * self.height;
        (
            self.center_x + cos * dx - sin * dy,
            self.center_y + sin * dx + cos * dy,
        )
    }

    /// The point rotated into the rect's own axes, relative to the image origin (as
    /// `RoiTrackingCalculator` compares rects and landmarks).
    fn rotated_into_axes(self, x: f32, y: f32) -> (f32, f32) {
        let (sin, cos) = (-self.rotation).sin_cos();
        (x * cos - y * sin, x * sin + y * cos)
    }

    /// Whether `self` (the rect from the previous landmarks) may be kept instead of `recrop`:
    /// `RoiTrackingCalculator`'s rect and landmark requirements.
    pub fn keeps_tracking(
        &self,
        recrop: &RotatedRect,
        previous_landmarks: &[Landmark],
        limits: &TrackingLimits,
    ) -> bool {
        let (prev_x, prev_y) = recrop.rotated_into_axes(self.center_x, self.center_y);
        let (recrop_x, recrop_y) = recrop.rotated_into_axes(recrop.center_x, recrop.center_y);
        let rotation_difference =
            normalize_radians(self.rotation - recrop.rotation).abs() * 180.0 / PI;
        let rect_close = rotation_difference <= limits.rotation_degrees
            && (prev_x - recrop_x).abs() <= recrop.width * limits.translation
            && (prev_y - recrop_y).abs() <= recrop.height * limits.translation
            && (self.width - recrop.width).abs() <= recrop.width * limits.scale
            && (self.height - recrop.height).abs() <= recrop.height * limits.scale;
        if !rect_close {
            return false;
        }
        let half_width = recrop.width * (1.0 + limits.recrop_rect_margin) / 2.0;
        let half_height = recrop.height * (1.0 + limits.recrop_rect_margin) / 2.0;
        previous_landmarks.iter().all(|landmark| {
            let (x, y) = recrop.rotated_into_axes(landmark.x, landmark.y);
            (x - recrop_x).abs() < half_width && (y - recrop_y).abs() < half_height
        })
    }
}

/// `RoiTrackingCalculatorOptions`: how far the re-crop rect may move before tracking is dropped.
#[derive(Clone, Copy, Debug)]
pub struct TrackingLimits {
    /// Largest rotation difference in degrees.
    pub rotation_degrees: f32,
    /// Largest centre shift, as a fraction of the re-crop rect's size.
    pub translation: f32,
    /// Largest size difference, as a fraction of the re-crop rect's size.
    pub scale: f32,
    /// Margin added to the re-crop rect (negative shrinks it) when checking that every previous
    /// landmark lies inside.
    pub recrop_rect_margin: f32,
}

/// What a tensor pixel outside the image holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Border {
    /// Black (`BORDER_ZERO`), used by the detectors.
    Zero,
    /// The nearest edge pixel (`BORDER_REPLICATE`, the calculator's default).
    Replicate,
}

/// `x.floor()` as an integer, without the libm call that `f32::floor` is on baseline x86-64
/// (no SSE4.1 rounding instruction); exact for the pixel coordinates of any image.
fn floor_to_isize(x: f32) -> isize {
    let truncated = x as isize;
    if truncated as f32 > x {
        truncated - 1
    } else {
        truncated
    }
}

/// Samples `rect` of an RGB24 image into an NHWC float tensor of `size x size` with values in
/// `range`, bilinearly, as `ImageToTensorCalculator` does with OpenCV's `warpAffine`: tensor pixel
/// (i, j) reads the image at rect-normalised (i / size, j / size).
#[allow(clippy::too_many_arguments)]
pub fn crop_to_tensor(
    rgb: &[u8],
    image_width: usize,
    image_height: usize,
    rect: &RotatedRect,
    size: usize,
    range: (f32, f32),
    border: Border,
    out: &mut Vec<f32>,
) {
    // Every value is written below, so a buffer of the right length is reused without zeroing.
    out.resize(size * size * 3, 0.0);
    if image_width == 0 || image_height == 0 {
        out.fill(0.0);
        return;
    }
    let (low, high) = range;
    let value_scale = (high - low) / 255.0;
    let (sin, cos) = rect.rotation.sin_cos();
    // Image position of tensor pixel (i, j) = origin + i * step_u + j * step_v.
    let step = 1.0 / size as f32;
    let step_u = (cos * rect.width * step, sin * rect.width * step);
    let step_v = (-sin * rect.height * step, cos * rect.height * step);
    let origin = rect.image_from_normalized(0.0, 0.0);
    let max_x = image_width as isize - 1;
    let max_y = image_height as isize - 1;
    let row_bytes = image_width * 3;
    for (j, out_row) in out.chunks_exact_mut(size * 3).enumerate() {
        let row_x = origin.0 + step_v.0 * j as f32;
        let row_y = origin.1 + step_v.1 * j as f32;
        for (i, pixel) in out_row.chunks_exact_mut(3).enumerate() {
            let x = row_x + step_u.0 * i as f32;
            let y = row_y + step_u.1 * i as f32;
            let (x0, y0) = (floor_to_isize(x), floor_to_isize(y));
            let (fx, fy) = (x - x0 as f32, y - y0 as f32);
            let mut weights = [
                (1.0 - fx) * (1.0 - fy),
                fx * (1.0 - fy),
                (1.0 - fx) * fy,
                fx * fy,
            ];
            // Taps outside the image read the nearest edge pixel; with a zero border they
            // weigh nothing instead. One branch-light path for every pixel.
            let inside_x = [x0, x0 + 1].map(|x| (0..=max_x).contains(&x));
            let inside_y = [y0, y0 + 1].map(|y| (0..=max_y).contains(&y));
            if border == Border::Zero {
                for (tap, weight) in weights.iter_mut().enumerate() {
                    if !(inside_x[tap % 2] && inside_y[tap / 2]) {
                        *weight = 0.0;
                    }
                }
            }
            let columns = [x0, x0 + 1].map(|x| x.clamp(0, max_x) as usize * 3);
            let rows = [y0, y0 + 1].map(|y| y.clamp(0, max_y) as usize * row_bytes);
            let mut sum = [0.0f32; 3];
            for (tap, weight) in weights.into_iter().enumerate() {
                let at = rows[tap / 2] + columns[tap % 2];
                let Some(&[r, g, b]) = rgb.get(at..at + 3).and_then(|p| p.first_chunk::<3>())
                else {
                    continue;
                };
                sum[0] += weight * r as f32;
                sum[1] += weight * g as f32;
                sum[2] += weight * b as f32;
            }
            for (value, total) in pixel.iter_mut().zip(sum) {
                *value = low + total * value_scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_points_up_for_a_vertical_vector() {
        // Hip centre below the shoulders: the body points up, no rotation needed for 90 degrees.
        let rotation = rotation_between((10.0, 100.0), (10.0, 50.0), PI / 2.0);
        assert!(rotation.abs() < 1e-6);
        // Lying to the right: rotated by -90 degrees.
        let rotation = rotation_between((10.0, 100.0), (60.0, 100.0), PI / 2.0);
        assert!((rotation - PI / 2.0).abs() < 1e-6);
    }

    #[test]
    fn projection_inverts_the_crop_mapping() {
        let rect = RotatedRect {
            center_x: 50.0,
            center_y: 40.0,
            width: 20.0,
            height: 20.0,
            rotation: 0.3,
        };
        let (x, y) = rect.image_from_normalized(0.5, 0.5);
        assert!((x - 50.0).abs() < 1e-5 && (y - 40.0).abs() < 1e-5);
        // The top-left and bottom-right corners are one diagonal apart.
        let a = rect.image_from_normalized(0.0, 0.0);
        let b = rect.image_from_normalized(1.0, 1.0);
        assert!(((b.0 - a.0).hypot(b.1 - a.1) - 20.0 * 2f32.sqrt()).abs() < 1e-4);
    }

    #[test]
    fn floor_to_isize_matches_floor() {
        for x in [-2.5f32, -1.0, -0.25, 0.0, 0.25, 1.0, 1.999, 639.5, -1e-7] {
            assert_eq!(floor_to_isize(x), x.floor() as isize, "{x}");
        }
    }

    #[test]
    fn crop_of_an_axis_aligned_rect_copies_pixels() {
        // A 4x4 image whose red channel is 10 * x + y.
        let mut rgb = vec![0u8; 4 * 4 * 3];
        for y in 0..4 {
            for x in 0..4 {
                rgb[(y * 4 + x) * 3] = (10 * x + y) as u8;
            }
        }
        let rect = RotatedRect {
            center_x: 2.0,
            center_y: 2.0,
            width: 4.0,
            height: 4.0,
            rotation: 0.0,
        };
        let mut out = Vec::new();
        crop_to_tensor(&rgb, 4, 4, &rect, 4, (0.0, 255.0), Border::Zero, &mut out);
        assert_eq!(out[(2 * 4 + 3) * 3], 32.0);
        assert_eq!(out[4 * 3], 1.0);
    }
}
