//! The app's view of the engine pipeline (`signcap_engine::pipeline`): its frames carry an
//! egui image made on the capture thread, so the UI thread only uploads textures.

use std::sync::Arc;

use signcap_engine::source::Frame;

pub use signcap_engine::pipeline::captions::SegmentSpan;
pub use signcap_engine::pipeline::{
    CaptionConfig, CaptionUpdate, CaptureCommand, EstimatorFactory, PipelineConfig,
    PipelineCounters, PipelineEvent, PipelineLimits, SegmentNotice, SourceOpener, SourceRequest,
    Stage, open_request, send_newest,
};
pub use signcap_engine::pipeline::{
    Clock, ManualClock, SystemClock, create_engine_estimator, open_engine_source,
};

/// What the app shows of a frame: its pixels ready for an egui texture.
pub type FrameImage = Arc<egui::ColorImage>;

/// The running pipeline of the open source.
pub type Pipeline = signcap_engine::pipeline::Pipeline<FrameImage>;

/// Its frames and poses.
pub type Store = signcap_engine::pipeline::Store<FrameImage>;

/// Poses computed outside playback (exports) by the pipeline's pose stage.
pub type PoseRequests = signcap_engine::pipeline::PoseRequests<FrameImage>;

/// RGBA copy of an RGB frame for an egui texture.
pub fn color_image_from_frame(frame: &Frame) -> egui::ColorImage {
    egui::ColorImage::from_rgb([frame.width as usize, frame.height as usize], &frame.rgb)
}

/// How the capture thread makes a frame's image.
pub fn frame_image(frame: &Frame) -> FrameImage {
    Arc::new(color_image_from_frame(frame))
}
