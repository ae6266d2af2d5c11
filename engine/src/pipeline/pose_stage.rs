//! The pose stage: owns the pose backend, estimates the frames capture hands it and passes
//! each pose on to the segmenter.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, bounded};

use super::captions::SegmenterInput;
use super::store::{Store, StoredPose};
use super::{EstimatorFactory, PipelineEvent, PoseMsg, Shared, Stage};
use crate::pose::{PoseConfig, PoseEstimator};
use crate::source::Frame;

/// Most frames the pose stage may skip between two poses and still track from the first.
const MAX_TRACKED_GAP: u64 = 4;

/// Capture (or an export) → pose: one frame to estimate, or a note to pass on in order.
pub struct PoseJob {
    kind: JobKind,
}

enum JobKind {
    Estimate {
        frame: Frame,
        /// Told when the pose is in the store (or why not); export jobs only.
        reply: Option<Sender<Result<(), String>>>,
    },
    /// A frame whose pose is known already (a pose file streamed without loss).
    Known { frame: Frame, pose: StoredPose },
    /// The source has ended: nothing more will come.
    EndOfStream,
}

impl PoseJob {
    pub(crate) fn new(frame: Frame) -> Self {
        Self {
            kind: JobKind::Estimate { frame, reply: None },
        }
    }

    pub(crate) fn known(frame: Frame, pose: StoredPose) -> Self {
        Self {
            kind: JobKind::Known { frame, pose },
        }
    }

    pub(crate) fn end_of_stream() -> Self {
        Self {
            kind: JobKind::EndOfStream,
        }
    }
}

/// Asks the pipeline's pose stage for poses outside playback (exports), so that one backend
/// serves the whole pipeline.
pub struct PoseRequests<D> {
    pub(crate) jobs: Sender<PoseJob>,
    /// The store the poses land in.
    pub store: Arc<Store<D>>,
}

impl<D> Clone for PoseRequests<D> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
            store: self.store.clone(),
        }
    }
}

impl<D: Clone> PoseRequests<D> {
    /// Computes the pose of `frame` unless it is cached; waits for it, giving up when
    /// `cancelled` turns true.
    pub fn pose(&self, frame: Frame, cancelled: &AtomicBool) -> Result<StoredPose, String> {
        let index = frame.index;
        if let Some(pose) = self.store.pose(index) {
            return Ok(pose);
        }
        let (reply_tx, reply_rx) = bounded(1);
        let mut job = PoseJob {
            kind: JobKind::Estimate {
                frame,
                reply: Some(reply_tx),
            },
        };
        loop {
            if cancelled.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            match self.jobs.send_timeout(job, Duration::from_millis(50)) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(back)) => job = back,
                Err(SendTimeoutError::Disconnected(_)) => {
                    return Err("pose estimation has stopped".into());
                }
            }
        }
        loop {
            if cancelled.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            match reply_rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(())) => {
                    return self
                        .store
                        .pose(index)
                        .ok_or_else(|| format!("frame {index}: pose missing after estimation"));
                }
                Ok(Err(message)) => return Err(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("pose estimation has stopped".into());
                }
            }
        }
    }
}

pub(crate) struct PoseWorker<D> {
    pub jobs: Receiver<PoseJob>,
    pub export_jobs: Receiver<PoseJob>,
    pub to_ui: Sender<PoseMsg>,
    pub to_segmenter: Option<Sender<SegmenterInput>>,
    pub shared: Shared<D>,
    /// Every job in order, nothing dropped, several frames under way (captioning a file).
    pub lossless: bool,
}

impl<D: Clone + Send + Sync + 'static> PoseWorker<D> {
    pub fn run(self, make_estimator: &EstimatorFactory, config: &PoseConfig) {
        let _span = tracing::info_span!("pose_stage").entered();
        if self.lossless {
            self.run_lossless(make_estimator, config);
        } else {
            self.run_player(make_estimator, config);
        }
    }

    /// Builds the backend on the first frame that needs a pose: a pose file never loads one.
    fn estimator<'a>(
        &self,
        slot: &'a mut Option<Box<dyn PoseEstimator>>,
        make_estimator: &EstimatorFactory,
        config: &PoseConfig,
    ) -> Option<&'a mut Box<dyn PoseEstimator>> {
        if slot.is_none() {
            match make_estimator(config) {
                Ok(built) => {
                    self.shared.send_event(PipelineEvent::PoseReady);
                    *slot = Some(built);
                }
                Err(e) => {
                    self.shared.fail(Stage::Pose, e.to_string());
                    return None;
                }
            }
        }
        slot.as_mut()
    }

    /// Hands a pose on to the segmenter: waiting for room when nothing may be lost.
    fn to_segmenter(&self, input: SegmenterInput) {
        let Some(tx) = &self.to_segmenter else {
            return;
        };
        if !self.lossless {
            if tx.try_send(input).is_err() {
                self.shared
                    .counters
                    .dropped_before_segmenter
                    .fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        super::send_waiting(tx, input, || self.shared.stopped());
    }

    /// A pose known already (a pose file) goes straight on to the segmenter.
    fn forward_known(&self, frame: &Frame, pose: StoredPose) {
        self.to_segmenter(SegmenterInput::Pose {
            index: frame.index,
            captured_at: frame.captured_at,
            pose: pose.pose,
        });
    }

    /// Stores a computed pose and tells the consumer and the segmenter.
    fn deliver(
        &self,
        frame: &Frame,
        mut stored: StoredPose,
        started_at: Instant,
        to_segmenter: bool,
    ) {
        let index = frame.index;
        // Poses carry the frame's own timestamp (the container's, or the camera's).
        stored.pose.time = frame.time;
        let pose = to_segmenter.then(|| stored.pose.clone());
        self.shared.store.insert_pose(index, stored);
        self.shared
            .counters
            .poses_computed
            .fetch_add(1, Ordering::Relaxed);
        let msg = PoseMsg {
            index,
            captured_at: frame.captured_at,
            started_at,
            finished_at: Instant::now(),
        };
        // The pose is in the store either way; a full channel only loses timing.
        let _ = self.to_ui.try_send(msg);
        if let Some(pose) = pose {
            self.to_segmenter(SegmenterInput::Pose {
                index,
                captured_at: frame.captured_at,
                pose,
            });
        }
        (self.shared.repaint)();
    }

    fn run_player(&self, make_estimator: &EstimatorFactory, config: &PoseConfig) {
        let mut estimator: Option<Box<dyn PoseEstimator>> = None;
        let mut previous_index: Option<u64> = None;
        while !self.shared.stopped() {
            // Playback first; exports fill the gaps.
            let job = match self.jobs.try_recv() {
                Ok(job) => job,
                Err(_) => crossbeam_channel::select! {
                    recv(self.jobs) -> job => match job {
                        Ok(job) => job,
                        Err(_) => return,
                    },
                    recv(self.export_jobs) -> job => match job {
                        Ok(job) => job,
                        Err(_) => return,
                    },
                    default(Duration::from_millis(20)) => continue,
                },
            };
            let (frame, reply) = match job.kind {
                JobKind::Estimate { frame, reply } => (frame, reply),
                JobKind::Known { frame, pose } => {
                    self.forward_known(&frame, pose);
                    continue;
                }
                JobKind::EndOfStream => {
                    self.to_segmenter(SegmenterInput::EndOfStream);
                    continue;
                }
            };
            let index = frame.index;
            if self.shared.store.has_pose(index) {
                if let Some(reply) = &reply {
                    let _ = reply.send(Ok(()));
                }
                continue;
            }
            let Some(estimator) = self.estimator(&mut estimator, make_estimator, config) else {
                return;
            };
            // Tracking follows a few dropped frames, as it does on a camera that drops frames
            // (the smoothing filters use timestamps); a seek or a longer gap starts afresh.
            if previous_index.is_none_or(|p| index <= p || index > p + MAX_TRACKED_GAP) {
                estimator.reset();
            }
            // While the stage keeps up, the next job is the next frame, usually decoded
            // already: the backend may start on it early. A stage that drops frames would
            // only waste that work.
            let keeping_up = previous_index.is_some_and(|p| p + 1 == index);
            previous_index = Some(index);
            let started_at = Instant::now();
            let next = self
                .shared
                .store
                .frame(index + 1)
                .filter(|_| keeping_up && !self.shared.store.has_pose(index + 1))
                .map(|stored| stored.frame);
            match estimator.estimate_with_next(&frame, next.as_ref()) {
                Ok(pose) => {
                    let stage_ms = estimator.last_stage_ms();
                    // Poses an export asked for are outside playback: not for the segmenter.
                    self.deliver(
                        &frame,
                        StoredPose { pose, stage_ms },
                        started_at,
                        reply.is_none(),
                    );
                    if let Some(reply) = &reply {
                        // An export that gave up no longer listens.
                        let _ = reply.send(Ok(()));
                    }
                }
                Err(e) => {
                    let message = format!("frame {index}: {e}");
                    if let Some(reply) = &reply {
                        let _ = reply.send(Err(message.clone()));
                    }
                    self.shared.fail(Stage::Pose, message);
                    return;
                }
            }
        }
    }

    /// Every frame in order through the backend's streaming path (several frames under way).
    fn run_lossless(&self, make_estimator: &EstimatorFactory, config: &PoseConfig) {
        let mut estimator: Option<Box<dyn PoseEstimator>> = None;
        let mut pending: Option<PoseJob> = None;
        let mut ended = false;
        while !ended && !self.shared.stopped() {
            let job = match pending.take() {
                Some(job) => job,
                None => match self.jobs.recv_timeout(Duration::from_millis(50)) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => break,
                },
            };
            let first = match job.kind {
                JobKind::Known { frame, pose } => {
                    self.forward_known(&frame, pose);
                    continue;
                }
                JobKind::EndOfStream => break,
                JobKind::Estimate { frame, .. } => frame,
            };
            let Some(estimator) = self.estimator(&mut estimator, make_estimator, config) else {
                return;
            };
            // Frames stream through the backend until a job that is not a frame to estimate;
            // that one is handled once the frames before it are out, which keeps the order.
            let mut frames = std::iter::once(first).chain(std::iter::from_fn(|| {
                loop {
                    if self.shared.stopped() {
                        return None;
                    }
                    match self.jobs.recv_timeout(Duration::from_millis(50)) {
                        Ok(PoseJob {
                            kind: JobKind::Estimate { frame, .. },
                        }) => return Some(frame),
                        Ok(other) => {
                            pending = Some(other);
                            return None;
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => {
                            ended = true;
                            return None;
                        }
                    }
                }
            }));
            let mut sink = |frame: &Frame, pose, stage_ms: &crate::pose::StageTimes| {
                let stored = StoredPose {
                    pose,
                    stage_ms: stage_ms.to_vec(),
                };
                self.deliver(frame, stored, Instant::now(), true);
            };
            if let Err(e) = estimator.estimate_run(&mut frames, &mut sink) {
                self.shared.fail(Stage::Pose, e.to_string());
                // What was said before the failure still becomes captions.
                self.to_segmenter(SegmenterInput::EndOfStream);
                return;
            }
        }
        self.to_segmenter(SegmenterInput::EndOfStream);
    }
}
