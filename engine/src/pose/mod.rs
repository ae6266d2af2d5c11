//! Whole-body pose estimation: frames in, 133 COCO-WholeBody keypoints with confidences out.

pub mod mediapipe;
pub mod rtmw;
pub mod runtime;

use crate::keypoints::PoseFrame;
use crate::source::Frame;

/// Milliseconds per named backend stage for one frame.
pub type StageTimes = [(&'static str, f64)];

/// A pose backend. One worker thread owns it (ONNX sessions need `&mut`).
pub trait PoseEstimator: Send {
    /// Keypoints of the largest person in `frame`; frames are given in order, so the backend
    /// may track across them.
    fn estimate(&mut self, frame: &Frame) -> Result<PoseFrame, PoseError>;
    /// [`PoseEstimator::estimate`], told which frame the next call will be for, so that a
    /// backend may start on it early (the result is the same as without).
    fn estimate_with_next(
        &mut self,
        frame: &Frame,
        _next: Option<&Frame>,
    ) -> Result<PoseFrame, PoseError> {
        self.estimate(frame)
    }
    /// Estimates consecutive frames (continuing from the last call, like `estimate`) and hands
    /// each frame's pose to `sink` in order with its stage times; a backend may have several
    /// frames under way at once. The poses are those of one frame at a time.
    fn estimate_run(
        &mut self,
        frames: &mut dyn Iterator<Item = Frame>,
        sink: &mut dyn FnMut(&Frame, PoseFrame, &StageTimes),
    ) -> Result<(), PoseError> {
        let mut frames = frames.peekable();
        while let Some(frame) = frames.next() {
            let pose = self.estimate_with_next(&frame, frames.peek())?;
            sink(&frame, pose, &self.last_stage_ms());
        }
        Ok(())
    }
    /// Forgets tracking state (after a seek or a source change).
    fn reset(&mut self);
    /// Milliseconds spent per stage on the last [`PoseEstimator::estimate`] call (for benches
    /// and the latency panel).
    fn last_stage_ms(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
}

/// Errors of pose backends.
#[derive(Debug, thiserror::Error)]
pub enum PoseError {
    /// A model file is missing or unreadable.
    #[error("{path}: {reason}")]
    Model { path: String, reason: String },
    /// The ONNX Runtime library could not be loaded.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// Inference failed.
    #[error("inference failed in {stage}: {reason}")]
    Inference { stage: &'static str, reason: String },
}

/// Which pose backend to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoseBackendKind {
    /// The embedded MediaPipe Holistic models converted to ONNX (`assets/models/`).
    #[default]
    Mediapipe,
    /// Top-down RTMW/RTMPose SimCC with a YOLOX person detector, from user-supplied files.
    Rtmw,
}

/// How to build a pose backend; also the `[pose]` table of the settings file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PoseConfig {
    /// Backend to use.
    pub backend: PoseBackendKind,
    /// Folder of the embedded MediaPipe ONNX models.
    pub mediapipe_model_dir: std::path::PathBuf,
    /// RTMW/RTMPose whole-body ONNX (backend `rtmw`).
    pub rtmw_model: Option<std::path::PathBuf>,
    /// YOLOX person-detector ONNX (backend `rtmw`).
    pub det_model: Option<std::path::PathBuf>,
    /// ONNX Runtime shared library; `None` means `$ORT_DYLIB_PATH`, then the usual places.
    pub ort_library: Option<std::path::PathBuf>,
    /// Intra-op threads per ONNX session.
    pub threads: usize,
}

impl Default for PoseConfig {
    fn default() -> Self {
        Self {
            backend: PoseBackendKind::Mediapipe,
            mediapipe_model_dir: std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../assets/models/mediapipe"
            )),
            rtmw_model: None,
            det_model: None,
            ort_library: None,
            threads: 1,
        }
    }
}

/// Builds the backend `config` asks for.
pub fn create_estimator(config: &PoseConfig) -> Result<Box<dyn PoseEstimator>, PoseError> {
    match config.backend {
        PoseBackendKind::Mediapipe => Ok(Box::new(mediapipe::MediapipeHolistic::new(config)?)),
        PoseBackendKind::Rtmw => Ok(Box::new(rtmw::RtmwEstimator::new(config)?)),
    }
}
