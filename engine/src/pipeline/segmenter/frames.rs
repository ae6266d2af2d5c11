//! Cleaning up incoming poses and filling in the frames the pose stage skipped.

use crate::keypoints::{Keypoint, NUM_KEYPOINTS, PoseFrame};

/// The pose with exactly [`NUM_KEYPOINTS`] points: another count means no person, and a point
/// with a coordinate or score that is not a number counts as not found (score 0 at (0, 0)).
pub(super) fn sanitized(pose: &PoseFrame) -> PoseFrame {
    if pose.keypoints_in_image.len() != NUM_KEYPOINTS {
        return PoseFrame::empty(pose.time);
    }
    let keypoints_in_image = pose
        .keypoints_in_image
        .iter()
        .map(|k| {
            if k.x.is_finite() && k.y.is_finite() && k.score.is_finite() {
                *k
            } else {
                Keypoint::default()
            }
        })
        .collect();
    PoseFrame {
        time: pose.time,
        keypoints_in_image,
    }
}

/// The pose a fraction `t` of the way from `a` to `b`: linear in x, y, score and time where both
/// have the point; where only one has it (a person or hand missing on the other side), a copy.
pub(super) fn interpolated(a: &PoseFrame, b: &PoseFrame, t: f64) -> PoseFrame {
    let tf = t as f32;
    let lerp = |p: f32, q: f32| p + (q - p) * tf;
    let keypoints_in_image = a
        .keypoints_in_image
        .iter()
        .zip(&b.keypoints_in_image)
        .map(|(p, q)| match (p.score > 0.0, q.score > 0.0) {
            (true, true) => Keypoint {
                x: lerp(p.x, q.x),
                y: lerp(p.y, q.y),
                score: lerp(p.score, q.score),
            },
            (true, false) => *p,
            (false, true) => *q,
            (false, false) => Keypoint::default(),
        })
        .collect();
    PoseFrame {
        time: a.time + (b.time - a.time) * t,
        keypoints_in_image,
    }
}
