//! The COCO-WholeBody 133-point layout as the overlay draws it: groups, names and limbs.

use signcap_engine::keypoints::NUM_KEYPOINTS;
use signcap_engine::keypoints::layout::{BODY_AND_FEET_LIMBS, BODY_AND_FEET_NAMES, HAND_LIMBS};

/// A group of keypoints that can be shown or hidden together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    /// 17 body points (0..=16).
    Body,
    /// 6 foot points (17..=22).
    Feet,
    /// 68 face points (23..=90).
    Face,
    /// 21 left-hand points (91..=111).
    LeftHand,
    /// 21 right-hand points (112..=132).
    RightHand,
}

impl Group {
    /// Every group in index order.
    pub const ALL: [Group; 5] = [
        Group::Body,
        Group::Feet,
        Group::Face,
        Group::LeftHand,
        Group::RightHand,
    ];

    /// Keypoint indices of the group.
    pub fn range(self) -> std::ops::Range<usize> {
        match self {
            Group::Body => 0..17,
            Group::Feet => 17..23,
            Group::Face => 23..91,
            Group::LeftHand => 91..112,
            Group::RightHand => 112..NUM_KEYPOINTS,
        }
    }

    /// The group a keypoint index belongs to.
    pub fn of(index: usize) -> Group {
        match index {
            0..17 => Group::Body,
            17..23 => Group::Feet,
            23..91 => Group::Face,
            91..112 => Group::LeftHand,
            _ => Group::RightHand,
        }
    }

    /// Human-readable label.
    pub fn label(self) -> &'static str {
        match self {
            Group::Body => "Body",
            Group::Feet => "Feet",
            Group::Face => "Face",
            Group::LeftHand => "Left hand",
            Group::RightHand => "Right hand",
        }
    }
}

const HAND_NAMES: [&str; 21] = [
    "root",
    "thumb1",
    "thumb2",
    "thumb3",
    "thumb4",
    "forefinger1",
    "forefinger2",
    "forefinger3",
    "forefinger4",
    "middle_finger1",
    "middle_finger2",
    "middle_finger3",
    "middle_finger4",
    "ring_finger1",
    "ring_finger2",
    "ring_finger3",
    "ring_finger4",
    "pinky_finger1",
    "pinky_finger2",
    "pinky_finger3",
    "pinky_finger4",
];

/// The name of keypoint `index` as MMPose's COCO-WholeBody metadata spells it.
pub fn keypoint_name(index: usize) -> String {
    match Group::of(index) {
        Group::Body | Group::Feet => BODY_AND_FEET_NAMES
            .get(index)
            .copied()
            .unwrap_or("?")
            .to_owned(),
        Group::Face => format!("face-{}", index - 23),
        Group::LeftHand => format!(
            "left_hand_{}",
            HAND_NAMES.get(index - 91).copied().unwrap_or("?")
        ),
        Group::RightHand => format!(
            "right_hand_{}",
            HAND_NAMES.get(index - 112).copied().unwrap_or("?")
        ),
    }
}

/// Limbs between keypoint indices: the COCO-WholeBody skeleton (body, feet, both hands) plus
/// the 68-point face contours (jaw, brows, nose, eyes, lips).
pub fn limbs() -> Vec<(usize, usize)> {
    let mut limbs: Vec<(usize, usize)> = BODY_AND_FEET_LIMBS
        .iter()
        .map(|&(a, b)| (usize::from(a), usize::from(b)))
        .collect();
    for wrist in [91, 112] {
        limbs.extend(
            HAND_LIMBS
                .iter()
                .map(|&(a, b)| (wrist + usize::from(a), wrist + usize::from(b))),
        );
    }
    // Face contours in the 68-point iBUG layout, offset by 23: (first, last, closed).
    let face_chains = [
        (0, 16, false),
        (17, 21, false),
        (22, 26, false),
        (27, 30, false),
        (31, 35, false),
        (36, 41, true),
        (42, 47, true),
        (48, 59, true),
        (60, 67, true),
    ];
    for (first, last, closed) in face_chains {
        for i in first..last {
            limbs.push((23 + i, 24 + i));
        }
        if closed {
            limbs.push((23 + last, 23 + first));
        }
    }
    limbs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_cover_every_keypoint_once() {
        let covered: usize = Group::ALL.iter().map(|g| g.range().len()).sum();
        assert_eq!(covered, NUM_KEYPOINTS);
        for g in Group::ALL {
            for i in g.range() {
                assert_eq!(Group::of(i), g);
            }
        }
    }

    #[test]
    fn limbs_stay_within_their_groups_except_body_to_feet() {
        for (a, b) in limbs() {
            assert!(a < NUM_KEYPOINTS && b < NUM_KEYPOINTS);
            let (ga, gb) = (Group::of(a), Group::of(b));
            assert!(
                ga == gb || (ga == Group::Body && gb == Group::Feet),
                "{a}-{b}"
            );
        }
        assert_eq!(keypoint_name(112), "right_hand_root");
        assert_eq!(keypoint_name(9), "left_wrist");
    }
}
