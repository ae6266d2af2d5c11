//! The streaming pipeline shared by the desktop app and the CLI: capture → pose → segmenter →
//! translator, each stage on its own named thread.
//!
//! Stages hand work on through bounded crossbeam channels. Where falling behind must not build
//! a queue (frames to the pose stage, provisional translations) a full channel drops its oldest
//! message for the newest, and the drop is counted; where nothing may be lost (every frame of a
//! file being captioned, final translations) the sender waits. Every message carries the
//! frame's capture time, from which consumers derive per-stage latency. The pipeline knows
//! nothing of egui: the app passes in how a frame becomes something it can show.

pub mod captions;
mod capture;
pub mod clock;
pub mod paced;
mod pose_stage;
pub mod segmenter;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::pose::{PoseConfig, PoseError, PoseEstimator};
use crate::source::{FrameSource, SourceError, SourceInfo};

pub use captions::{CaptionConfig, CaptionUpdate, SegmentNotice};
pub use capture::open_request;
pub use clock::{Clock, ManualClock, SystemClock};
pub use pose_stage::{PoseJob, PoseRequests};
pub use segmenter::{Segment, SegmentEvent, Segmenter, SegmenterConfig};
pub use store::{PipelineCounters, Store, StoredFrame, StoredPose};

/// The stages of the pipeline, in the order a frame passes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Stage {
    /// Frames from a file or camera.
    Capture,
    /// Whole-body keypoints per frame.
    Pose,
    /// Utterances cut from the pose stream.
    Segmenter,
    /// Captions from utterances.
    Translator,
}

impl Stage {
    /// Every stage in pipeline order.
    pub const ALL: [Stage; 4] = [
        Stage::Capture,
        Stage::Pose,
        Stage::Segmenter,
        Stage::Translator,
    ];

    /// Lower-case name for the UI and logs.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Capture => "capture",
            Stage::Pose => "pose",
            Stage::Segmenter => "segmenter",
            Stage::Translator => "translator",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What to open: a recorded file or a camera.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceRequest {
    /// A video file (or a pose file, shown on a plain canvas).
    File(PathBuf),
    /// A camera by its index in the device list.
    Camera(u32),
}

impl std::fmt::Display for SourceRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceRequest::File(path) => write!(f, "{}", path.display()),
            SourceRequest::Camera(index) => write!(f, "camera {index}"),
        }
    }
}

/// Opens frame sources; given to the pipeline so tests can substitute scripted sources.
pub type SourceOpener =
    Arc<dyn Fn(&SourceRequest) -> Result<Box<dyn FrameSource>, SourceError> + Send + Sync>;

/// Builds pose backends; given to the pipeline so tests can count or fail estimators.
pub type EstimatorFactory =
    Arc<dyn Fn(&PoseConfig) -> Result<Box<dyn PoseEstimator>, PoseError> + Send + Sync>;

/// Turns a decoded frame into what the consumer shows (an egui texture image in the app; the
/// unit type on the command line). Runs on the capture thread, off the UI thread.
pub type DisplayFn<D> = Arc<dyn Fn(&crate::source::Frame) -> D + Send + Sync>;

/// Capacity of the capture → consumer channel.
pub const FRAMES_TO_UI_CAPACITY: usize = 2;
/// Capacity of the capture → pose channel: one frame waiting while one is being estimated.
pub const FRAMES_TO_POSE_CAPACITY: usize = 1;
/// Capacity of the pose → consumer channel.
pub const POSES_TO_UI_CAPACITY: usize = 8;
/// Capacity of the pose → segmenter channel; the segmenter is cheap, so this only absorbs
/// bursts (the pose-ahead of a file).
pub const POSES_TO_SEGMENTER_CAPACITY: usize = 512;

/// How the capture stage paces a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CaptureMode {
    /// A seekable player: a clock over frame indices, decode-ahead, pose-ahead while idle;
    /// frames the pose stage cannot keep up with are dropped.
    Player,
    /// A live stream (camera, or a file played at its rate): every frame as it arrives, the
    /// newest frame wins when the pose stage is busy.
    Live,
    /// Every frame of the source through every stage as fast as they go, nothing dropped
    /// (captioning a file from the command line).
    Lossless,
}

/// How the capture thread treats memory and look-ahead.
#[derive(Clone, Copy, Debug)]
pub struct PipelineLimits {
    /// Most frames kept decoded in the store.
    pub max_cached_frames: usize,
    /// Frames decoded ahead of the playhead while there is time (player mode).
    pub decode_ahead: u64,
    /// Frame periods a playing file is shown after its frame went to the pose stage.
    pub sync_delay_frames: u64,
}

impl Default for PipelineLimits {
    fn default() -> Self {
        Self {
            max_cached_frames: 1024,
            decode_ahead: 64,
            sync_delay_frames: 0,
        }
    }
}

/// Everything a pipeline is started with besides its source.
#[derive(Clone, Default)]
pub struct PipelineConfig {
    /// The pose backend's settings.
    pub pose: PoseConfig,
    /// Memory and look-ahead.
    pub limits: PipelineLimits,
    /// How the source is paced; `None` picks [`CaptureMode::Player`] for files with a known
    /// length and [`CaptureMode::Live`] otherwise.
    pub mode: Option<CaptureMode>,
    /// Segmenter and translator; `None` runs capture and pose only.
    pub captions: Option<CaptionConfig>,
}

/// Capture → consumer: frame `index` is due on screen now.
#[derive(Clone, Debug)]
pub struct FrameMsg {
    /// Frame index in the source.
    pub index: u64,
    /// When the frame entered the pipeline.
    pub captured_at: Instant,
}

/// Pose → consumer: the pose of frame `index` is in the store.
#[derive(Clone, Debug)]
pub struct PoseMsg {
    /// Frame index in the source.
    pub index: u64,
    /// When the frame entered the pipeline.
    pub captured_at: Instant,
    /// When the pose stage took the frame off its queue.
    pub started_at: Instant,
    /// When the pose was ready.
    pub finished_at: Instant,
}

/// Anything else the stages tell the consumer.
#[derive(Debug, Clone)]
pub enum PipelineEvent {
    /// The source is open.
    Opened(SourceInfo),
    /// The pose backend is ready.
    PoseReady,
    /// A stage failed; the message is meant for the user. The other stages go on where they
    /// can (a failed translator leaves keypoints and segments working).
    Failed {
        /// The stage that failed.
        stage: Stage,
        /// What went wrong, naming the file or device.
        message: String,
    },
    /// Playback reached the last frame (player and live modes).
    Ended,
    /// An utterance started or ended.
    Segment(SegmentNotice),
    /// A provisional or final caption.
    Caption(CaptionUpdate),
    /// Every stage has finished its work (the source ended and the last caption is out).
    Finished,
}

/// A running pipeline for one source. Dropping it stops and joins every stage.
pub struct Pipeline<D> {
    /// What was opened.
    pub request: SourceRequest,
    /// Frames and poses.
    pub store: Arc<Store<D>>,
    /// Counters for the latency panel and benches.
    pub counters: Arc<PipelineCounters>,
    commands: Sender<CaptureCommand>,
    /// Capture → consumer notifications.
    pub frames_to_ui: Receiver<FrameMsg>,
    /// Pose → consumer notifications.
    pub poses_to_ui: Receiver<PoseMsg>,
    /// Errors, state changes, segments and captions.
    pub events: Receiver<PipelineEvent>,
    /// A second handle on the pose queue, only to read its length.
    pose_queue_probe: Receiver<PoseJob>,
    export_jobs: Sender<PoseJob>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Commands from the consumer to the capture thread.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CaptureCommand {
    /// Start or resume playback at `speed` × the source's rate.
    Play {
        /// Playback speed factor.
        speed: f64,
    },
    /// Stop advancing the clock.
    Pause,
    /// Show frame `index` (and continue from there when playing).
    Seek(u64),
}

/// The channels and shared state every stage thread gets.
#[derive(Clone)]
pub(crate) struct Shared<D> {
    pub store: Arc<Store<D>>,
    pub counters: Arc<PipelineCounters>,
    pub events: Sender<PipelineEvent>,
    pub stop: Arc<AtomicBool>,
    pub repaint: Arc<dyn Fn() + Send + Sync>,
    pub clock: Arc<dyn Clock>,
}

impl<D> Shared<D> {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Tells the consumer something and wakes it.
    pub fn send_event(&self, event: PipelineEvent) {
        if let Err(e) = self.events.try_send(event) {
            tracing::warn!("pipeline event lost: {:?}", e.into_inner());
        }
        (self.repaint)();
    }

    /// Sends an event that must not be lost (a final caption, the end), waiting for room
    /// unless the pipeline is stopping or the consumer has gone.
    pub fn send_event_reliably(&self, event: PipelineEvent) {
        if send_waiting(&self.events, event, || self.stopped()) {
            (self.repaint)();
        }
    }

    pub fn fail(&self, stage: Stage, message: String) {
        self.send_event(PipelineEvent::Failed { stage, message });
    }
}

fn spawn(
    name: &str,
    threads: &mut Vec<JoinHandle<()>>,
    events: &Sender<PipelineEvent>,
    stage: Stage,
    body: impl FnOnce() + Send + 'static,
) {
    match std::thread::Builder::new().name(name.into()).spawn(body) {
        Ok(handle) => threads.push(handle),
        Err(e) => {
            let _ = events.try_send(PipelineEvent::Failed {
                stage,
                message: format!("could not start the {stage} thread: {e}"),
            });
        }
    }
}

impl<D: Clone + Send + Sync + 'static> Pipeline<D> {
    /// Starts the stage threads. Opening the source and building the pose backend happen on
    /// the workers, so a slow or failing open never blocks the caller.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        request: SourceRequest,
        open_source: SourceOpener,
        make_estimator: EstimatorFactory,
        display: DisplayFn<D>,
        config: PipelineConfig,
        clock: Arc<dyn Clock>,
        repaint: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        // Events are rare (open, errors, segments, captions); a generous bound never drops
        // them in practice, and finals wait for room.
        let (event_tx, event_rx) = bounded(1024);
        let shared = Shared {
            store: Arc::new(Store::default()),
            counters: Arc::new(PipelineCounters::default()),
            events: event_tx.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            repaint: Arc::new(repaint),
            clock,
        };
        let (command_tx, command_rx) = bounded(64);
        let (frame_ui_tx, frame_ui_rx) = bounded(FRAMES_TO_UI_CAPACITY);
        let (pose_job_tx, pose_job_rx) = bounded(FRAMES_TO_POSE_CAPACITY);
        let (pose_ui_tx, pose_ui_rx) = bounded(POSES_TO_UI_CAPACITY);
        // Exports wait for each pose, so one queued job is enough.
        let (export_job_tx, export_job_rx) = bounded(1);
        let (segmenter_tx, segmenter_rx) = bounded(POSES_TO_SEGMENTER_CAPACITY);
        let forced_mode = config.mode;
        let lossless = forced_mode == Some(CaptureMode::Lossless);
        // A stream (not a player, which may play again) ends its stages when it ends.
        let ends_with_stream = forced_mode.is_some_and(|mode| mode != CaptureMode::Player);

        let mut threads = Vec::new();
        let to_segmenter = config.captions.as_ref().map(|_| segmenter_tx.clone());
        if let Some(caption_config) = config.captions.clone() {
            for (name, stage, body) in captions::stage_threads(
                caption_config,
                segmenter_rx,
                shared.clone(),
                ends_with_stream,
            ) {
                spawn(name, &mut threads, &event_tx, stage, body);
            }
        }
        drop(segmenter_tx);

        let pose_worker = pose_stage::PoseWorker {
            jobs: pose_job_rx.clone(),
            export_jobs: export_job_rx,
            to_ui: pose_ui_tx,
            to_segmenter: to_segmenter.clone(),
            shared: shared.clone(),
            lossless,
        };
        let pose_config = config.pose.clone();
        spawn(
            "signcap-pose",
            &mut threads,
            &event_tx,
            Stage::Pose,
            move || pose_worker.run(&make_estimator, &pose_config),
        );

        let capture = capture::CaptureWorker {
            commands: command_rx,
            to_ui: frame_ui_tx,
            to_ui_oldest: frame_ui_rx.clone(),
            to_pose: pose_job_tx,
            to_pose_oldest: pose_job_rx.clone(),
            to_segmenter,
            shared: shared.clone(),
            display,
            limits: config.limits,
            mode: forced_mode,
        };
        let request_for_thread = request.clone();
        spawn(
            "signcap-capture",
            &mut threads,
            &event_tx,
            Stage::Capture,
            move || capture.run(&open_source, &request_for_thread),
        );
        Self {
            request,
            store: shared.store.clone(),
            counters: shared.counters.clone(),
            commands: command_tx,
            frames_to_ui: frame_ui_rx,
            poses_to_ui: pose_ui_rx,
            events: event_rx,
            pose_queue_probe: pose_job_rx,
            export_jobs: export_job_tx,
            stop: shared.stop.clone(),
            threads,
        }
    }
}

impl<D> Pipeline<D> {
    /// Sends a command to the capture thread (ignored once it has stopped).
    pub fn command(&self, command: CaptureCommand) {
        // The capture thread drains commands every few milliseconds; a full or closed queue
        // means it has stopped, which the consumer already learned through a `Failed` event.
        let _ = self.commands.try_send(command);
    }

    /// A handle for computing poses outside playback.
    pub fn pose_requests(&self) -> PoseRequests<D> {
        PoseRequests {
            jobs: self.export_jobs.clone(),
            store: self.store.clone(),
        }
    }

    /// Frames waiting for the pose stage.
    pub fn pose_queue_len(&self) -> usize {
        self.pose_queue_probe.len()
    }

    /// Asks every stage to stop (they finish their current item); [`Drop`] also joins them.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl<D> Drop for Pipeline<D> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for handle in self.threads.drain(..) {
            // A worker that panicked has already reported nothing more useful than the panic.
            let _ = handle.join();
        }
    }
}

/// Sends `item`, waiting for room: for what must not be lost. Gives up, returning false, once
/// `stopped` turns true or the receiver has gone.
pub(crate) fn send_waiting<T>(sender: &Sender<T>, mut item: T, stopped: impl Fn() -> bool) -> bool {
    loop {
        match sender.send_timeout(item, std::time::Duration::from_millis(50)) {
            Ok(()) => return true,
            Err(crossbeam_channel::SendTimeoutError::Timeout(back)) if !stopped() => item = back,
            Err(_) => return false,
        }
    }
}

/// Sends `msg`, first dropping the oldest queued message when the channel is full. Returns
/// whether a message was dropped.
pub fn send_newest<T>(sender: &Sender<T>, oldest: &Receiver<T>, msg: T) -> bool {
    match sender.try_send(msg) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => false,
        Err(TrySendError::Full(msg)) => {
            let dropped = oldest.try_recv().is_ok();
            // If the consumer emptied the queue meanwhile there is room now; if another
            // producer filled it again, this message is the one dropped.
            let sent = sender.try_send(msg).is_ok();
            dropped || !sent
        }
    }
}

#[cfg(test)]
mod tests;

/// Opens a file or a camera with the engine's own sources.
pub fn open_engine_source(request: &SourceRequest) -> Result<Box<dyn FrameSource>, SourceError> {
    Ok(match request {
        SourceRequest::File(path) => Box::new(crate::source::VideoFile::open(path)?),
        SourceRequest::Camera(index) => Box::new(crate::source::Camera::open(*index)?),
    })
}

/// Builds the configured pose backend.
pub fn create_engine_estimator(config: &PoseConfig) -> Result<Box<dyn PoseEstimator>, PoseError> {
    crate::pose::create_estimator(config)
}
