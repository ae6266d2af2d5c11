//! MediaPipe Holistic landmarks → the 133 COCO-WholeBody keypoints.
//!
//! Minimal version written for the `.pose` reader (media-formats branch); the MediaPipe pose
//! backend owns this file and may replace the tables, keeping [`HolisticLandmarks`] and
//! [`coco_wholebody_from_holistic`] as the interface the pose-file reader calls.

use super::{Keypoint, NUM_KEYPOINTS};

/// Points of the BlazePose body model.
pub const POSE_LANDMARKS: usize = 33;
/// Points of the face mesh (without the iris refinement).
pub const FACE_LANDMARKS: usize = 468;
/// Points of one hand.
pub const HAND_LANDMARKS: usize = 21;

/// One frame of Holistic output in image pixels; a point that was not found has score 0.
#[derive(Clone, Debug, PartialEq)]
pub struct HolisticLandmarks {
    /// 33 BlazePose points; score = visibility.
    pub pose: Vec<Keypoint>,
    /// 468 face-mesh points.
    pub face: Vec<Keypoint>,
    /// 21 points of the signer's left hand.
    pub left_hand: Vec<Keypoint>,
    /// 21 points of the signer's right hand.
    pub right_hand: Vec<Keypoint>,
}

impl HolisticLandmarks {
    /// All points missing.
    pub fn empty() -> Self {
        Self {
            pose: vec![Keypoint::default(); POSE_LANDMARKS],
            face: vec![Keypoint::default(); FACE_LANDMARKS],
            left_hand: vec![Keypoint::default(); HAND_LANDMARKS],
            right_hand: vec![Keypoint::default(); HAND_LANDMARKS],
        }
    }
}

/// BlazePose indices of COCO body points 0..17 (nose, eyes, ears, shoulders, elbows, wrists,
/// hips, knees, ankles) followed by the 6 feet points (big toe, small toe, heel per side; both toes
/// come from `foot_index`, the only toe BlazePose has).
const COCO_BODY_AND_FEET_FROM_POSE: [usize; 23] = [
    0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28, 31, 31, 29, 32, 32, 30,
];

/// Face-mesh indices of the 68 iBUG-300W face points COCO-WholeBody uses (jaw 17, brows 10,
/// nose 9, eyes 12, mouth 20), the correspondence commonly used to derive dlib-68 points from
/// the MediaPipe canonical face mesh (approximate: the two layouts do not share definitions).
const COCO_FACE_FROM_MESH: [usize; 68] = [
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389, 71, 63, 105,
    66, 107, 336, 296, 334, 293, 301, 168, 197, 5, 4, 75, 97, 2, 326, 305, 33, 160, 158, 133, 153,
    144, 362, 385, 387, 263, 373, 380, 61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82,
    13, 312, 308, 317, 14, 87,
];

/// Maps one frame of Holistic landmarks to COCO-WholeBody order; hands keep MediaPipe's 21-point
/// order, which is COCO-WholeBody's. Missing inputs give score-0 points.
pub fn coco_wholebody_from_holistic(landmarks: &HolisticLandmarks) -> Vec<Keypoint> {
    let get = |points: &[Keypoint], i: usize| points.get(i).copied().unwrap_or_default();
    let mut out = Vec::with_capacity(NUM_KEYPOINTS);
    out.extend(
        COCO_BODY_AND_FEET_FROM_POSE
            .iter()
            .map(|&i| get(&landmarks.pose, i)),
    );
    out.extend(COCO_FACE_FROM_MESH.iter().map(|&i| get(&landmarks.face, i)));
    out.extend((0..HAND_LANDMARKS).map(|i| get(&landmarks.left_hand, i)));
    out.extend((0..HAND_LANDMARKS).map(|i| get(&landmarks.right_hand, i)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_to_133_points_in_coco_order() {
        let mut l = HolisticLandmarks::empty();
        for (i, p) in l.pose.iter_mut().enumerate() {
            *p = Keypoint {
                x: i as f32,
                y: 0.0,
                score: 1.0,
            };
        }
        l.right_hand[0] = Keypoint {
            x: 7.0,
            y: 8.0,
            score: 1.0,
        };
        let coco = coco_wholebody_from_holistic(&l);
        assert_eq!(coco.len(), NUM_KEYPOINTS);
        // COCO 9/10 are the left/right wrists = BlazePose 15/16; COCO 19 is the left heel = 29.
        assert_eq!((coco[9].x, coco[10].x, coco[19].x), (15.0, 16.0, 29.0));
        assert_eq!(coco[112].x, 7.0);
        assert_eq!(coco[23].score, 0.0);
    }
}
