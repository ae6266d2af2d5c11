//! MediaPipe Holistic landmarks (33 BlazePose body + 468 face mesh + 21 + 21 hand points) to the
//! 133-point COCO-WholeBody layout. Used by the MediaPipe pose backend and by the reader of
//! MediaPipe Holistic `.pose` files.

use super::{Keypoint, NUM_KEYPOINTS};

/// The Holistic points of one person in image pixels; a part that was not found is `None`.
/// Left and right are the signer's own (MediaPipe's `left_hand_landmarks` hang from BlazePose's
/// left wrist, landmark 15).
#[derive(Clone, Copy, Debug, Default)]
pub struct HolisticPoints<'a> {
    /// 33 BlazePose landmarks; scores are their visibility.
    pub body: Option<&'a [Keypoint; 33]>,
    /// 468 face-mesh landmarks.
    pub face: Option<&'a [Keypoint; 468]>,
    /// 21 landmarks of the signer's left hand.
    pub left_hand: Option<&'a [Keypoint; 21]>,
    /// 21 landmarks of the signer's right hand.
    pub right_hand: Option<&'a [Keypoint; 21]>,
}

/// BlazePose index of each COCO-WholeBody body point 0..17 (nose, eyes, ears, shoulders, elbows,
/// wrists, hips, knees, ankles).
pub const BODY_FROM_BLAZEPOSE: [usize; 17] = [
    0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28,
];

/// BlazePose index of each COCO-WholeBody foot point 17..23 (left big toe, left small toe, left
/// heel, right big toe, right small toe, right heel). BlazePose has one toe point per foot
/// (`foot_index`), so it stands in for both toes.
pub const FEET_FROM_BLAZEPOSE: [usize; 6] = [31, 31, 29, 32, 32, 30];

/// Face-mesh index of each of the 68 COCO-WholeBody face points (the iBUG 300-W / dlib order:
/// jaw 0..17 from the subject's right, brows 17..27, nose 27..36, eyes 36..48, lips 48..68).
///
/// The mesh points were picked on MediaPipe's canonical face model
/// (`mediapipe/modules/face_geometry/data/canonical_face_model_uv_visualization.png`) as the
/// nearest vertex to each 300-W landmark; the same correspondence is in common use, e.g.
/// PeizhiYan/Mediapipe_2_Dlib_Landmarks, which averages two vertices at a few places where this
/// table takes one. It is an approximation: the mesh has no vertex exactly on every 300-W point.
pub const FACE68_FROM_FACE_MESH: [usize; 68] = [
    // Jaw line, subject's right ear to left ear.
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 397, 361, 323, 454, 356,
    // Right brow (outer to inner), left brow (inner to outer).
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    // Nose bridge (top to tip), nostrils (right to left).
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    // Right eye, left eye (corner, upper lid, corner, lower lid).
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    // Outer lips, from the right corner over the upper lip.
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, // Inner lips.
    78, 82, 13, 312, 308, 317, 14, 87,
];

/// First COCO-WholeBody index of each part.
pub const FEET_START: usize = 17;
/// First face point.
pub const FACE_START: usize = 23;
/// First point of the left hand.
pub const LEFT_HAND_START: usize = 91;
/// First point of the right hand.
pub const RIGHT_HAND_START: usize = 112;

/// The 133 COCO-WholeBody keypoints of one person; missing parts get score 0 at (0, 0).
/// Hands keep MediaPipe's 21-point order, which is COCO-WholeBody's.
pub fn coco_wholebody_from_holistic(points: &HolisticPoints) -> Vec<Keypoint> {
    let mut keypoints = vec![Keypoint::default(); NUM_KEYPOINTS];
    if let Some(body) = points.body {
        for (target, &source) in keypoints.iter_mut().zip(&BODY_FROM_BLAZEPOSE) {
            *target = body[source];
        }
        for (target, &source) in keypoints[FEET_START..].iter_mut().zip(&FEET_FROM_BLAZEPOSE) {
            *target = body[source];
        }
    }
    if let Some(face) = points.face {
        for (target, &source) in keypoints[FACE_START..]
            .iter_mut()
            .zip(&FACE68_FROM_FACE_MESH)
        {
            *target = face[source];
        }
    }
    if let Some(hand) = points.left_hand {
        keypoints[LEFT_HAND_START..LEFT_HAND_START + 21].copy_from_slice(hand);
    }
    if let Some(hand) = points.right_hand {
        keypoints[RIGHT_HAND_START..RIGHT_HAND_START + 21].copy_from_slice(hand);
    }
    keypoints
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered<const N: usize>(offset: f32) -> [Keypoint; N] {
        std::array::from_fn(|i| Keypoint {
            x: offset + i as f32,
            y: 0.0,
            score: 0.5,
        })
    }

    #[test]
    fn parts_land_in_their_coco_ranges() {
        let body = numbered::<33>(0.0);
        let face = numbered::<468>(1000.0);
        let left = numbered::<21>(2000.0);
        let keypoints = coco_wholebody_from_holistic(&HolisticPoints {
            body: Some(&body),
            face: Some(&face),
            left_hand: Some(&left),
            right_hand: None,
        });
        assert_eq!(keypoints.len(), 133);
        // COCO 9 = left wrist = BlazePose 15; COCO 19 = left heel = BlazePose 29.
        assert_eq!(keypoints[9].x, 15.0);
        assert_eq!(keypoints[19].x, 29.0);
        // Face point 30 (nose tip) = mesh 4.
        assert_eq!(keypoints[FACE_START + 30].x, 1004.0);
        assert_eq!(keypoints[LEFT_HAND_START + 20].x, 2020.0);
        assert!(keypoints[RIGHT_HAND_START..].iter().all(|k| k.score == 0.0));
    }

    #[test]
    fn the_face_table_uses_distinct_mesh_points() {
        let mut sorted = FACE68_FROM_FACE_MESH.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 68);
        assert!(sorted.iter().all(|&i| i < 468));
    }
}
