//! Frames and poses shared by the stages and the consumer; counters the stages update.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use crate::keypoints::PoseFrame;
use crate::source::Frame;

/// One decoded frame as both the pose stage and the consumer need it.
#[derive(Clone)]
pub struct StoredFrame<D> {
    /// The decoded frame (RGB).
    pub frame: Frame,
    /// What the consumer shows for it (made by the pipeline's display function).
    pub display: D,
}

/// A computed pose with what it cost.
#[derive(Clone, Debug)]
pub struct StoredPose {
    /// Keypoints in image pixels.
    pub pose: PoseFrame,
    /// Milliseconds per backend stage.
    pub stage_ms: Vec<(&'static str, f64)>,
}

/// Frames and poses shared by the workers and the consumer. Locks are held only to copy
/// `Arc`s or small values.
pub struct Store<D> {
    frames: Mutex<BTreeMap<u64, StoredFrame<D>>>,
    poses: Mutex<BTreeMap<u64, StoredPose>>,
}

impl<D> Default for Store<D> {
    fn default() -> Self {
        Self {
            frames: Mutex::new(BTreeMap::new()),
            poses: Mutex::new(BTreeMap::new()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked while holding the lock cannot leave the maps half-updated
    // (each update is one insert or remove), so the data stays usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<D: Clone> Store<D> {
    /// The decoded frame `index`, if cached.
    pub fn frame(&self, index: u64) -> Option<StoredFrame<D>> {
        lock(&self.frames).get(&index).cloned()
    }

    /// The pose of frame `index`, if computed.
    pub fn pose(&self, index: u64) -> Option<StoredPose> {
        lock(&self.poses).get(&index).cloned()
    }

    /// The newest computed pose at or before `index` with its frame index.
    pub fn pose_at_or_before(&self, index: u64) -> Option<(u64, StoredPose)> {
        lock(&self.poses)
            .range(..=index)
            .next_back()
            .map(|(i, p)| (*i, p.clone()))
    }

    /// Whether the pose of frame `index` is computed.
    pub fn has_pose(&self, index: u64) -> bool {
        lock(&self.poses).contains_key(&index)
    }

    /// Number of computed poses.
    pub fn pose_count(&self) -> usize {
        lock(&self.poses).len()
    }

    /// The first cached frame from `from` on (then from the start) whose pose is not computed.
    pub fn cached_frame_without_pose(&self, from: u64) -> Option<u64> {
        let cached: Vec<u64> = lock(&self.frames).keys().copied().collect();
        let poses = lock(&self.poses);
        let (before, after) = cached.split_at(cached.partition_point(|&i| i < from));
        after
            .iter()
            .chain(before)
            .copied()
            .find(|i| !poses.contains_key(i))
    }

    /// Number of cached frames.
    pub fn frame_count(&self) -> usize {
        lock(&self.frames).len()
    }

    /// All computed poses in frame order.
    pub fn poses(&self) -> Vec<(u64, StoredPose)> {
        lock(&self.poses)
            .iter()
            .map(|(i, p)| (*i, p.clone()))
            .collect()
    }

    /// Stores the pose of frame `index`.
    pub fn insert_pose(&self, index: u64, pose: StoredPose) {
        lock(&self.poses).insert(index, pose);
    }

    /// Drops the poses before `index` (a live stream keeps only a recent window).
    pub fn forget_poses_before(&self, index: u64) {
        let mut poses = lock(&self.poses);
        let kept = poses.split_off(&index);
        *poses = kept;
    }

    /// Caches a frame, evicting the frames farthest from `keep_around` once over `max_frames`.
    pub(crate) fn insert_frame(&self, stored: StoredFrame<D>, keep_around: u64, max_frames: usize) {
        let mut frames = lock(&self.frames);
        frames.insert(stored.frame.index, stored);
        while frames.len() > max_frames {
            let (Some(first), Some(last)) = (
                frames.keys().next().copied(),
                frames.keys().next_back().copied(),
            ) else {
                break;
            };
            let victim = if keep_around.abs_diff(first) >= keep_around.abs_diff(last) {
                first
            } else {
                last
            };
            frames.remove(&victim);
        }
    }
}

/// Counters the stages update and the latency panel and benches read.
#[derive(Default, Debug)]
pub struct PipelineCounters {
    /// Frames decoded by the capture stage.
    pub decoded: AtomicU64,
    /// Frames the consumer's channel had no room for.
    pub dropped_before_ui: AtomicU64,
    /// Frames the pose channel had no room for (the pose stage was busy).
    pub dropped_before_pose: AtomicU64,
    /// Frames the playback clock skipped because decoding fell behind.
    pub skipped_by_clock: AtomicU64,
    /// Poses computed.
    pub poses_computed: AtomicU64,
    /// Poses the segmenter's channel had no room for.
    pub dropped_before_segmenter: AtomicU64,
    /// Poses the segmenter took in (including interpolated gaps: only real ones).
    pub poses_segmented: AtomicU64,
    /// Utterances started.
    pub utterances: AtomicU64,
    /// Provisional translations asked for.
    pub provisional_requested: AtomicU64,
    /// Provisional requests replaced by a newer one before the translator took them.
    pub provisional_coalesced: AtomicU64,
    /// Provisional captions made.
    pub provisional_done: AtomicU64,
    /// Final captions made.
    pub finals_done: AtomicU64,
    /// Milliseconds the last translation took.
    pub last_translation_ms: AtomicU64,
}
