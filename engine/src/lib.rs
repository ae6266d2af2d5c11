//! signcap engine: the pipeline from frames to captions.
//!
//! The modules follow the pipeline: [`source`] (video files, webcams) → [`pose`] (whole-body
//! keypoints per frame) → [`keypoints`] (the 133-point COCO-WholeBody layout, pose files, the
//! Uni-Sign preprocessing) → [`model`] (the Uni-Sign pose encoder and mT5) → [`decode`]
//! (tokenizer, greedy and beam search) → [`captions`] (timed captions and their files), with
//! [`train`] for fine-tuning and [`eval`] for the reference metrics.

pub mod captions;
pub mod decode;
pub mod eval;
pub mod fsutil;
pub mod keypoints;
pub mod model;
pub mod pipeline;
pub mod pose;
pub mod source;
pub mod train;
