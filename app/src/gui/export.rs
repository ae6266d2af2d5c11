//! Exports on a worker with progress and cancel: the whole clip's keypoints (.pose / .json /
//! .pkl) and the captions (.srt / .vtt / .json); and the current frame's keypoints.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use anyhow::Context as _;
use signcap_engine::captions::{Caption, write_captions_auto};
use signcap_engine::keypoints::{PoseFrame, PoseSequence};
use signcap_engine::source::SourceInfo;

use super::pipeline::{PoseRequests, SourceOpener, SourceRequest, open_request};

/// Keypoint formats the menu offers.
pub const EXPORT_EXTENSIONS: [&str; 3] = ["pose", "json", "pkl"];

/// Caption formats the menu offers.
pub const CAPTION_EXTENSIONS: [&str; 3] = ["srt", "vtt", "json"];

/// Writes `sequence` in the format its extension names.
pub fn write_sequence(path: &Path, sequence: &PoseSequence) -> anyhow::Result<()> {
    // The engine's error names the file already.
    Ok(signcap_engine::keypoints::write_pose_file(path, sequence)?)
}

/// Progress of a running export, shared with the UI.
#[derive(Default)]
pub struct ExportProgress {
    /// Frames done.
    pub done: AtomicU64,
    /// Frames in total (0 while unknown).
    pub total: AtomicU64,
    /// Set by the UI to stop early.
    pub cancel: AtomicBool,
}

/// An export running on its own thread.
pub struct ExportJob {
    /// Where it writes.
    pub path: PathBuf,
    /// Progress for the progress bar.
    pub progress: Arc<ExportProgress>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl ExportJob {
    /// Runs `work` on its own thread; it reports progress and checks `cancel` in the shared
    /// [`ExportProgress`], and `repaint` wakes the UI when it is done.
    pub fn spawn(
        path: PathBuf,
        work: impl FnOnce(&Path, &ExportProgress) -> anyhow::Result<()> + Send + 'static,
        repaint: impl Fn() + Send + 'static,
    ) -> anyhow::Result<Self> {
        let progress = Arc::new(ExportProgress::default());
        let worker_progress = progress.clone();
        let worker_path = path.clone();
        let handle = std::thread::Builder::new()
            .name("signcap-export".into())
            .spawn(move || {
                let result = work(&worker_path, &worker_progress);
                repaint();
                result
            })
            .context("starting the export thread")?;
        Ok(Self {
            path,
            progress,
            handle: Some(handle),
        })
    }

    /// Decodes the whole source again on a worker and writes `path`, reusing every cached pose
    /// and asking the pipeline's pose stage for the rest (which caches them too).
    pub fn start(
        path: PathBuf,
        request: SourceRequest,
        open_source: SourceOpener,
        poses: PoseRequests,
        repaint: impl Fn() + Send + 'static,
    ) -> anyhow::Result<Self> {
        Self::spawn(
            path,
            move |path, progress| export_clip(path, &request, &open_source, &poses, progress),
            repaint,
        )
    }

    /// Writes `captions` to `path` in the format its extension names, on a worker.
    pub fn captions(
        path: PathBuf,
        captions: Vec<Caption>,
        repaint: impl Fn() + Send + 'static,
    ) -> anyhow::Result<Self> {
        Self::spawn(
            path,
            move |path, progress| {
                progress
                    .total
                    .store(captions.len() as u64, Ordering::Relaxed);
                // The engine's error names the file and the caption.
                write_captions_auto(path, &captions)?;
                progress
                    .done
                    .store(captions.len() as u64, Ordering::Relaxed);
                Ok(())
            },
            repaint,
        )
    }

    /// `Some(result)` once the worker has finished.
    pub fn poll(&mut self) -> Option<anyhow::Result<()>> {
        if !self.handle.as_ref().is_some_and(JoinHandle::is_finished) {
            return None;
        }
        let handle = self.handle.take()?;
        Some(match handle.join() {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!("the export thread crashed")),
        })
    }

    /// Fraction done in [0, 1].
    pub fn fraction(&self) -> f32 {
        let total = self.progress.total.load(Ordering::Relaxed);
        if total == 0 {
            return 0.0;
        }
        self.progress.done.load(Ordering::Relaxed) as f32 / total as f32
    }
}

impl Drop for ExportJob {
    fn drop(&mut self) {
        self.progress.cancel.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            // The result of an abandoned export is of no interest any more.
            let _ = handle.join();
        }
    }
}

fn export_clip(
    path: &Path,
    request: &SourceRequest,
    open_source: &SourceOpener,
    poses: &PoseRequests,
    progress: &ExportProgress,
) -> anyhow::Result<()> {
    let mut source =
        open_request(open_source, request, &poses.store).map_err(anyhow::Error::msg)?;
    let info: SourceInfo = source.info().clone();
    progress
        .total
        .store(info.frame_count.unwrap_or(0), Ordering::Relaxed);
    let mut frames = Vec::new();
    while let Some(frame) = source.next_frame()? {
        let index = frame.index;
        let stored = poses.pose(frame, &progress.cancel).map_err(|reason| {
            anyhow::anyhow!("exporting {}: frame {index}: {reason}", path.display())
        })?;
        frames.push(stored.pose);
        progress.done.fetch_add(1, Ordering::Relaxed);
    }
    let sequence = PoseSequence {
        width: info.width,
        height: info.height,
        fps: info.fps,
        frames,
    };
    write_sequence(path, &sequence)
}

/// Writes one frame's keypoints as a one-frame sequence.
pub fn export_frame(path: &Path, info: &SourceInfo, pose: &PoseFrame) -> anyhow::Result<()> {
    let sequence = PoseSequence {
        width: info.width,
        height: info.height,
        fps: info.fps,
        frames: vec![pose.clone()],
    };
    write_sequence(path, &sequence)
}
