//! The 133-point COCO-WholeBody layout, pose sequences, pose files and the Uni-Sign preprocessing.

mod files;
pub mod holistic;
pub mod layout;
pub mod pickle;
pub mod pose_format;

pub use files::{
    DEFAULT_FPS, PoseFileError, PoseReadOptions, UnisignPoses, is_pose_file,
    pose_format_from_sequence, read_pose_file, read_pose_file_with, read_unisign_pkl_file,
    sequence_from_pose_format, write_pose_file,
};
pub mod unisign;

/// Number of COCO-WholeBody keypoints.
pub const NUM_KEYPOINTS: usize = 133;

/// One keypoint in image pixels with its confidence; confidence 0 means not found.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Keypoint {
    /// x in pixels from the left edge.
    pub x: f32,
    /// y in pixels from the top edge.
    pub y: f32,
    /// Confidence, usually in [0, 1] (RTMW keeps its raw SimCC score, which can pass 1, as
    /// Uni-Sign stores it); 0 for a point that was not found.
    pub score: f32,
}

/// The keypoints of one frame: exactly [`NUM_KEYPOINTS`] points in COCO-WholeBody order.
#[derive(Clone, Debug, PartialEq)]
pub struct PoseFrame {
    /// Presentation time of the frame in seconds.
    pub time: f64,
    /// 133 keypoints in image pixels.
    pub keypoints_in_image: Vec<Keypoint>,
}

impl PoseFrame {
    /// A frame where nothing was found.
    pub fn empty(time: f64) -> Self {
        Self {
            time,
            keypoints_in_image: vec![Keypoint::default(); NUM_KEYPOINTS],
        }
    }
}

/// A sequence of whole-body poses of one signer.
#[derive(Clone, Debug, PartialEq)]
pub struct PoseSequence {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: f64,
    /// One entry per decoded frame.
    pub frames: Vec<PoseFrame>,
}
