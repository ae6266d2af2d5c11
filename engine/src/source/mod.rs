//! Frame sources: recorded video files (through the `ffmpeg` CLI) and webcams (nokhwa), behind
//! one [`FrameSource`] trait so the rest of the pipeline does not care where frames come from.

use std::sync::Arc;
use std::time::Instant;

pub mod camera;
pub mod scripted;
pub mod video;

pub use camera::{Camera, CameraDescriptor, list_cameras};
pub use scripted::ScriptedSource;
pub use video::{FfmpegTools, VideoFile};

/// One decoded RGB frame with its timing.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Index of the frame in its source, from 0.
    pub index: u64,
    /// Presentation time in seconds on the source's clock: for files the container's timestamps
    /// (what ffprobe reports; a file may start above 0), for cameras the time since opening.
    pub time: f64,
    /// When the frame entered the pipeline (for latency accounting).
    pub captured_at: Instant,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Packed RGB24, row-major, `width * height * 3` bytes.
    pub rgb: Arc<Vec<u8>>,
}

/// What a source knows about itself before the first frame.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// Human-readable name (file path or camera name).
    pub name: String,
    /// Frame width after rotation metadata is applied.
    pub width: u32,
    /// Frame height after rotation metadata is applied.
    pub height: u32,
    /// Nominal frame rate.
    pub fps: f64,
    /// Number of frames, when known (files).
    pub frame_count: Option<u64>,
    /// Duration in seconds, when known (files).
    pub duration: Option<f64>,
}

/// Errors of frame sources.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened or is not a video.
    #[error("{path}: {reason}")]
    Open { path: String, reason: String },
    /// Decoding failed part-way.
    #[error("{path}: decoding failed: {reason}")]
    Decode { path: String, reason: String },
    /// The camera could not be opened or stopped delivering frames.
    #[error("camera {name}: {reason}")]
    Camera { name: String, reason: String },
    /// Seeking is not possible on this source (a live camera).
    #[error("{0} cannot seek")]
    NotSeekable(String),
    /// An operating-system error.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

/// A stream of frames: a file, a camera, or a test double.
pub trait FrameSource: Send {
    /// Size, rate and length of the source.
    fn info(&self) -> &SourceInfo;
    /// The next frame, or `None` at the end of the stream.
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError>;
    /// Positions the source so that the next frame returned is `frame_index`.
    fn seek(&mut self, frame_index: u64) -> Result<(), SourceError>;
}
