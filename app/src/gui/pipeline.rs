//! Worker threads joined by bounded channels: capture → pose → UI.
//!
//! The capture thread owns the [`FrameSource`] and is the playback clock; the pose thread owns
//! the [`PoseEstimator`]. Both hand frames on with `try_send` into bounded channels, so a slow
//! stage drops frames instead of queueing them. Decoded frames and computed poses also land in
//! a shared [`Store`], which makes scrubbing instant once a frame has been seen. Every message
//! carries the frame's capture time, from which the UI derives per-stage latency.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};
use signcap_engine::keypoints::{self, PoseFrame, PoseSequence};
use signcap_engine::pose::{PoseConfig, PoseError, PoseEstimator};
use signcap_engine::source::{Frame, FrameSource, SourceError, SourceInfo};

/// What to open: a recorded file or a camera.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceRequest {
    /// A video file.
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

/// Opens frame sources; the app is given one so tests can substitute scripted sources.
pub type SourceOpener =
    Arc<dyn Fn(&SourceRequest) -> Result<Box<dyn FrameSource>, SourceError> + Send + Sync>;

/// Builds pose backends; the app is given one so tests can count or fail estimators.
pub type EstimatorFactory =
    Arc<dyn Fn(&PoseConfig) -> Result<Box<dyn PoseEstimator>, PoseError> + Send + Sync>;

/// Capacity of the capture → UI channel.
pub const FRAMES_TO_UI_CAPACITY: usize = 2;
/// Capacity of the capture → pose channel: one frame waiting while one is being estimated.
pub const FRAMES_TO_POSE_CAPACITY: usize = 1;
/// Most frames the pose stage may skip between two poses and still track from the first.
const MAX_TRACKED_GAP: u64 = 4;
/// Capacity of the pose → UI channel.
pub const POSES_TO_UI_CAPACITY: usize = 8;

/// One decoded frame as both stages need it: RGB for the pose backend, RGBA for the texture.
#[derive(Clone)]
pub struct StoredFrame {
    /// The decoded frame (RGB).
    pub frame: Frame,
    /// The same pixels ready for an egui texture.
    pub image: Arc<egui::ColorImage>,
}

/// A computed pose with what it cost.
#[derive(Clone, Debug)]
pub struct StoredPose {
    /// Keypoints in image pixels.
    pub pose: PoseFrame,
    /// Milliseconds per backend stage.
    pub stage_ms: Vec<(&'static str, f64)>,
}

/// Frames and poses shared by the workers and the UI. Locks are held only to copy `Arc`s.
#[derive(Default)]
pub struct Store {
    frames: Mutex<BTreeMap<u64, StoredFrame>>,
    poses: Mutex<BTreeMap<u64, StoredPose>>,
    /// Mean confidence per overlay group of every computed pose (for the timeline strips).
    group_scores: Mutex<BTreeMap<u64, [f32; 5]>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked while holding the lock cannot leave the maps half-updated
    // (each update is one insert), so the data stays usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Store {
    /// The decoded frame `index`, if cached.
    pub fn frame(&self, index: u64) -> Option<StoredFrame> {
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
        let scores = super::inspect::mean_scores(&pose.pose);
        lock(&self.group_scores).insert(index, scores);
        lock(&self.poses).insert(index, pose);
    }

    /// Mean confidence per group ([`super::skeleton::Group::ALL`] order) of every computed
    /// pose, in frame order.
    pub fn group_scores(&self) -> Vec<(u64, [f32; 5])> {
        lock(&self.group_scores)
            .iter()
            .map(|(i, s)| (*i, *s))
            .collect()
    }

    fn insert_frame(&self, stored: StoredFrame, keep_around: u64, max_frames: usize) {
        let mut frames = lock(&self.frames);
        frames.insert(stored.frame.index, stored);
        // Evict the frames farthest from the playhead once over budget.
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

/// Counters the workers update and the latency panel reads.
#[derive(Default, Debug)]
pub struct PipelineCounters {
    /// Frames decoded by the capture stage.
    pub decoded: AtomicU64,
    /// Frames the UI channel had no room for.
    pub dropped_before_ui: AtomicU64,
    /// Frames the pose channel had no room for (the pose stage was busy).
    pub dropped_before_pose: AtomicU64,
    /// Frames the playback clock skipped because decoding fell behind.
    pub skipped_by_clock: AtomicU64,
    /// Poses computed.
    pub poses_computed: AtomicU64,
}

/// Capture → UI: frame `index` is due on screen now.
#[derive(Clone, Debug)]
pub struct FrameMsg {
    /// Frame index in the source.
    pub index: u64,
    /// When the frame entered the pipeline.
    pub captured_at: Instant,
}

/// Pose → UI: the pose of frame `index` is in the store.
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

/// Anything else a worker has to tell the UI.
#[derive(Debug)]
pub enum WorkerEvent {
    /// The source is open.
    Opened(SourceInfo),
    /// The pose backend is ready.
    PoseReady,
    /// A worker failed; the message is meant for the user.
    Failed {
        /// "capture" or "pose".
        stage: &'static str,
        /// What went wrong, naming the file or device.
        message: String,
    },
    /// Playback reached the last frame.
    Ended,
}

/// Commands from the UI to the capture thread.
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

/// How the capture thread treats memory and look-ahead.
#[derive(Clone, Copy, Debug)]
pub struct PipelineLimits {
    /// Most frames kept decoded in the store.
    pub max_cached_frames: usize,
    /// Frames decoded ahead of the playhead while there is time.
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

/// A running capture → pose pipeline for one source.
pub struct Pipeline {
    /// What was opened.
    pub request: SourceRequest,
    /// Frames and poses.
    pub store: Arc<Store>,
    /// Counters for the latency panel.
    pub counters: Arc<PipelineCounters>,
    commands: Sender<CaptureCommand>,
    /// Capture → UI notifications.
    pub frames_to_ui: Receiver<FrameMsg>,
    /// Pose → UI notifications.
    pub poses_to_ui: Receiver<PoseMsg>,
    /// Errors and state changes.
    pub events: Receiver<WorkerEvent>,
    /// A second handle on the pose queue, only to read its length.
    pose_queue_probe: Receiver<PoseJob>,
    export_jobs: Sender<PoseJob>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Capture → pose (or export → pose): one frame to estimate.
pub struct PoseJob {
    frame: Frame,
    /// Told when the pose is in the store (or why not); export jobs only.
    reply: Option<Sender<Result<(), String>>>,
}

/// Asks the pipeline's pose stage for poses outside playback (exports), so that one backend
/// serves the whole pipeline.
#[derive(Clone)]
pub struct PoseRequests {
    jobs: Sender<PoseJob>,
    /// The store the poses land in.
    pub store: Arc<Store>,
}

impl PoseRequests {
    /// Computes the pose of `frame` unless it is cached; waits for it, giving up when
    /// `cancelled` turns true.
    pub fn pose(&self, frame: Frame, cancelled: &AtomicBool) -> Result<StoredPose, String> {
        let index = frame.index;
        if let Some(pose) = self.store.pose(index) {
            return Ok(pose);
        }
        let (reply_tx, reply_rx) = bounded(1);
        let mut job = PoseJob {
            frame,
            reply: Some(reply_tx),
        };
        loop {
            if cancelled.load(Ordering::Relaxed) {
                return Err("cancelled".into());
            }
            match self.jobs.send_timeout(job, Duration::from_millis(50)) {
                Ok(()) => break,
                Err(crossbeam_channel::SendTimeoutError::Timeout(back)) => job = back,
                Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => {
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

impl Pipeline {
    /// Starts the capture and pose threads. Opening the source and building the estimator
    /// happen on the workers, so a slow or failing open never blocks the UI.
    pub fn start(
        request: SourceRequest,
        open_source: SourceOpener,
        make_estimator: EstimatorFactory,
        pose_config: PoseConfig,
        limits: PipelineLimits,
        repaint: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let repaint: Arc<dyn Fn() + Send + Sync> = Arc::new(repaint);
        let store = Arc::new(Store::default());
        let counters = Arc::new(PipelineCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (command_tx, command_rx) = bounded(64);
        let (frame_ui_tx, frame_ui_rx) = bounded(FRAMES_TO_UI_CAPACITY);
        let (pose_job_tx, pose_job_rx) = bounded(FRAMES_TO_POSE_CAPACITY);
        let (pose_ui_tx, pose_ui_rx) = bounded(POSES_TO_UI_CAPACITY);
        // Exports wait for each pose, so one queued job is enough.
        let (export_job_tx, export_job_rx) = bounded(1);
        // Events are rare (open, errors, end); a generous bound never drops them in practice.
        let (event_tx, event_rx) = bounded(64);

        let mut threads = Vec::new();
        let pose_worker = PoseWorker {
            jobs: pose_job_rx.clone(),
            export_jobs: export_job_rx,
            to_ui: pose_ui_tx,
            events: event_tx.clone(),
            store: store.clone(),
            counters: counters.clone(),
            stop: stop.clone(),
            repaint: repaint.clone(),
        };
        let spawned = std::thread::Builder::new()
            .name("signcap-pose".into())
            .spawn(move || pose_worker.run(&make_estimator, &pose_config));
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => send_event(
                &event_tx,
                WorkerEvent::Failed {
                    stage: "pose",
                    message: format!("could not start the pose thread: {e}"),
                },
            ),
        }
        let capture = CaptureWorker {
            commands: command_rx,
            to_ui: frame_ui_tx,
            to_ui_oldest: frame_ui_rx.clone(),
            to_pose: pose_job_tx,
            to_pose_oldest: pose_job_rx.clone(),
            events: event_tx.clone(),
            store: store.clone(),
            counters: counters.clone(),
            stop: stop.clone(),
            repaint,
            limits,
        };
        let request_for_thread = request.clone();
        let spawned = std::thread::Builder::new()
            .name("signcap-capture".into())
            .spawn(move || capture.run(&open_source, &request_for_thread));
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => send_event(
                &event_tx,
                WorkerEvent::Failed {
                    stage: "capture",
                    message: format!("could not start the capture thread: {e}"),
                },
            ),
        }
        Self {
            request,
            store,
            counters,
            commands: command_tx,
            frames_to_ui: frame_ui_rx,
            poses_to_ui: pose_ui_rx,
            events: event_rx,
            pose_queue_probe: pose_job_rx,
            export_jobs: export_job_tx,
            stop,
            threads,
        }
    }

    /// Sends a command to the capture thread (ignored once it has stopped).
    pub fn command(&self, command: CaptureCommand) {
        // The capture thread drains commands every few milliseconds; a full or closed queue
        // means it has stopped, which the UI already learned through a `Failed` event.
        let _ = self.commands.try_send(command);
    }

    /// A handle for computing poses outside playback.
    pub fn pose_requests(&self) -> PoseRequests {
        PoseRequests {
            jobs: self.export_jobs.clone(),
            store: self.store.clone(),
        }
    }

    /// Frames waiting for the pose stage.
    pub fn pose_queue_len(&self) -> usize {
        self.pose_queue_probe.len()
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for handle in self.threads.drain(..) {
            // A worker that panicked has already reported nothing more useful than the panic.
            let _ = handle.join();
        }
    }
}

/// Sends `msg`, first dropping the oldest queued message when the channel is full. Returns
/// whether a message was dropped.
pub(crate) fn send_newest<T>(sender: &Sender<T>, oldest: &Receiver<T>, msg: T) -> bool {
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

fn send_event(events: &Sender<WorkerEvent>, event: WorkerEvent) {
    if let Err(e) = events.try_send(event) {
        tracing::warn!("worker event lost: {:?}", e.into_inner());
    }
}

/// Opens `request`. A pose file (.pose, .json, .pkl) becomes a plain canvas of its frame size
/// whose poses are put straight into `store`, so it plays and inspects like a video.
pub fn open_request(
    open_source: &SourceOpener,
    request: &SourceRequest,
    store: &Store,
) -> Result<Box<dyn FrameSource>, String> {
    match request {
        SourceRequest::File(path) if keypoints::is_pose_file(path) => {
            let sequence = keypoints::read_pose_file(path).map_err(|e| e.to_string())?;
            if sequence.frames.is_empty() {
                return Err(format!("{}: the pose file has no frames", path.display()));
            }
            for (index, pose) in sequence.frames.iter().enumerate() {
                let stored = StoredPose {
                    pose: pose.clone(),
                    stage_ms: Vec::new(),
                };
                store.insert_pose(index as u64, stored);
            }
            Ok(Box::new(PoseFileCanvas::new(path, &sequence)))
        }
        _ => open_source(request).map_err(|e| e.to_string()),
    }
}

/// Frames for a pose file: a flat background of the recorded size, one per pose frame.
struct PoseFileCanvas {
    info: SourceInfo,
    times: Vec<f64>,
    next_index: u64,
    background: Arc<Vec<u8>>,
}

impl PoseFileCanvas {
    /// Grey level of the canvas.
    const BACKGROUND: u8 = 48;

    fn new(path: &std::path::Path, sequence: &PoseSequence) -> Self {
        let (width, height) = (sequence.width.max(1), sequence.height.max(1));
        let fps = if sequence.fps > 0.0 {
            sequence.fps
        } else {
            25.0
        };
        let frame_count = sequence.frames.len() as u64;
        Self {
            info: SourceInfo {
                name: path.display().to_string(),
                width,
                height,
                fps,
                frame_count: Some(frame_count),
                duration: Some(frame_count as f64 / fps),
            },
            times: sequence.frames.iter().map(|f| f.time).collect(),
            next_index: 0,
            background: Arc::new(vec![Self::BACKGROUND; width as usize * height as usize * 3]),
        }
    }
}

impl FrameSource for PoseFileCanvas {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let Some(&time) = self.times.get(self.next_index as usize) else {
            return Ok(None);
        };
        let index = self.next_index;
        self.next_index += 1;
        Ok(Some(Frame {
            index,
            time,
            captured_at: Instant::now(),
            width: self.info.width,
            height: self.info.height,
            rgb: self.background.clone(),
        }))
    }

    fn seek(&mut self, frame_index: u64) -> Result<(), SourceError> {
        self.next_index = frame_index;
        Ok(())
    }
}

/// RGBA copy of an RGB frame for an egui texture.
pub fn color_image_from_frame(frame: &Frame) -> egui::ColorImage {
    egui::ColorImage::from_rgb([frame.width as usize, frame.height as usize], &frame.rgb)
}

struct CaptureWorker {
    commands: Receiver<CaptureCommand>,
    to_ui: Sender<FrameMsg>,
    /// The UI channel's other end, to drop its oldest message when full.
    to_ui_oldest: Receiver<FrameMsg>,
    to_pose: Sender<PoseJob>,
    /// The pose channel's other end, to drop its oldest frame when full.
    to_pose_oldest: Receiver<PoseJob>,
    events: Sender<WorkerEvent>,
    store: Arc<Store>,
    counters: Arc<PipelineCounters>,
    stop: Arc<AtomicBool>,
    repaint: Arc<dyn Fn() + Send + Sync>,
    limits: PipelineLimits,
}

/// The playback clock of a seekable source.
struct Clock {
    playhead: u64,
    playing: bool,
    speed: f64,
    due: Instant,
}

impl CaptureWorker {
    fn run(self, open_source: &SourceOpener, request: &SourceRequest) {
        let source = match open_request(open_source, request, &self.store) {
            Ok(source) => source,
            Err(message) => {
                self.fail(message);
                return;
            }
        };
        send_event(&self.events, WorkerEvent::Opened(source.info().clone()));
        (self.repaint)();
        let result = if source.info().frame_count.is_some() {
            self.run_file(source)
        } else {
            self.run_live(source)
        };
        if let Err(e) = result {
            self.fail(e.to_string());
        }
    }

    fn fail(&self, message: String) {
        send_event(
            &self.events,
            WorkerEvent::Failed {
                stage: "capture",
                message,
            },
        );
        (self.repaint)();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Hands frame `stored` on: to the UI as due now and to the pose stage unless its pose is
    /// known. A full channel drops its oldest frame for this one, so a slow stage always gets
    /// the newest frame next.
    fn emit(&self, stored: &StoredFrame) {
        // The frame enters the live pipeline now: decode-ahead may have read it much earlier.
        let captured_at = Instant::now();
        self.show(FrameMsg {
            index: stored.frame.index,
            captured_at,
        });
        self.feed_pose(stored, captured_at);
    }

    /// Tells the UI that playback has ended, unless frames are still on their way to the
    /// screen: then returns true, to tell it after them.
    fn ended(&self, frames_on_the_way: bool) -> bool {
        if frames_on_the_way {
            return true;
        }
        send_event(&self.events, WorkerEvent::Ended);
        (self.repaint)();
        false
    }

    /// Tells the UI that frame `msg.index` is due on screen now.
    fn show(&self, msg: FrameMsg) {
        if send_newest(&self.to_ui, &self.to_ui_oldest, msg) {
            self.counters
                .dropped_before_ui
                .fetch_add(1, Ordering::Relaxed);
        }
        (self.repaint)();
    }

    /// Hands `stored` to the pose stage unless its pose is known; a busy stage gets this frame
    /// in place of the one waiting.
    fn feed_pose(&self, stored: &StoredFrame, captured_at: Instant) {
        let index = stored.frame.index;
        if !self.store.has_pose(index) {
            let mut frame = stored.frame.clone();
            frame.captured_at = captured_at;
            let job = PoseJob { frame, reply: None };
            if send_newest(&self.to_pose, &self.to_pose_oldest, job) {
                self.counters
                    .dropped_before_pose
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn store_frame(&self, frame: Frame, playhead: u64) -> StoredFrame {
        let image = Arc::new(color_image_from_frame(&frame));
        let stored = StoredFrame { frame, image };
        self.counters.decoded.fetch_add(1, Ordering::Relaxed);
        self.store.insert_frame(
            stored.clone(),
            playhead,
            self.limits.max_cached_frames.max(2),
        );
        stored
    }

    /// Live sources pace themselves: forward every frame as it arrives.
    fn run_live(&self, mut source: Box<dyn FrameSource>) -> Result<(), SourceError> {
        while !self.stopped() {
            // Commands (play/pause/seek) mean nothing to a live source; drain them.
            while self.commands.try_recv().is_ok() {}
            let Some(frame) = source.next_frame()? else {
                send_event(&self.events, WorkerEvent::Ended);
                (self.repaint)();
                return Ok(());
            };
            let index = frame.index;
            let stored = self.store_frame(frame, index);
            self.emit(&stored);
        }
        Ok(())
    }

    /// Files: a clock over frame indices, with decode-ahead and pose-ahead while idle.
    fn run_file(&self, mut source: Box<dyn FrameSource>) -> Result<(), SourceError> {
        let info = source.info().clone();
        let frame_count = info.frame_count.unwrap_or(0);
        let frame_period = Duration::from_secs_f64(1.0 / info.fps.max(1.0));
        let mut clock = Clock {
            playhead: 0,
            playing: false,
            speed: 1.0,
            due: Instant::now(),
        };
        // Index of the frame the source returns next.
        let mut decode_position: u64 = 0;
        let mut end_of_stream_at: Option<u64> = None;
        let mut show_now = true;
        let mut sent_ahead: Option<u64> = None;
        // Frames already with the pose stage, waiting for their time on screen (the sync
        // delay), and whether the end of the clip comes after them.
        let mut on_the_way: VecDeque<(Instant, FrameMsg)> = VecDeque::new();
        let mut end_after_them = false;

        let mut pending: Option<CaptureCommand> = None;

        while !self.stopped() {
            let commands: Vec<CaptureCommand> = pending
                .take()
                .into_iter()
                .chain(self.commands.try_iter())
                .collect();
            for command in commands {
                match command {
                    CaptureCommand::Play { speed } => {
                        clock.speed = speed.clamp(0.05, 16.0);
                        if !clock.playing {
                            clock.playing = true;
                            if end_of_stream_at.is_some_and(|end| clock.playhead + 1 >= end)
                                || clock.playhead + 1 >= frame_count
                            {
                                clock.playhead = 0;
                            }
                            clock.due = Instant::now();
                            show_now = true;
                        }
                    }
                    CaptureCommand::Pause => {
                        clock.playing = false;
                        // Resume from the first frame not yet shown.
                        if let Some((_, first)) = on_the_way.front() {
                            clock.playhead = first.index;
                        }
                        on_the_way.clear();
                        end_after_them = false;
                    }
                    CaptureCommand::Seek(index) => {
                        on_the_way.clear();
                        end_after_them = false;
                        sent_ahead = None;
                        clock.playhead = index.min(frame_count.saturating_sub(1));
                        clock.due = Instant::now();
                        show_now = true;
                    }
                }
            }

            // 0. Show the frames whose sync delay is over.
            let now = Instant::now();
            while on_the_way.front().is_some_and(|(at, _)| *at <= now) {
                if let Some((_, msg)) = on_the_way.pop_front() {
                    self.show(msg);
                }
            }
            if end_after_them && on_the_way.is_empty() {
                end_after_them = self.ended(false);
            }

            // 1. The playhead frame is due: to the pose stage now, on screen after the sync
            // delay (at once when not playing).
            if show_now || (clock.playing && now >= clock.due) {
                let index = clock.playhead;
                let stored = match self.store.frame(index) {
                    Some(stored) => Some(stored),
                    None => self.decode_at(
                        &mut *source,
                        index,
                        &mut decode_position,
                        &mut end_of_stream_at,
                        index,
                    )?,
                };
                let delay =
                    frame_period.div_f64(clock.speed) * self.limits.sync_delay_frames as u32;
                match stored {
                    Some(stored) if clock.playing && !show_now && !delay.is_zero() => {
                        let captured_at = Instant::now();
                        self.feed_pose(&stored, captured_at);
                        let msg = FrameMsg { index, captured_at };
                        on_the_way.push_back((captured_at + delay, msg));
                    }
                    Some(stored) => self.emit(&stored),
                    None => {
                        // Past the real end (the container over-stated its length).
                        clock.playing = false;
                        clock.playhead = end_of_stream_at.unwrap_or(1).saturating_sub(1);
                        end_after_them = self.ended(!on_the_way.is_empty());
                        continue;
                    }
                }
                show_now = false;
                if clock.playing {
                    let last = end_of_stream_at.unwrap_or(frame_count).saturating_sub(1);
                    if index >= last {
                        clock.playing = false;
                        end_after_them = self.ended(!on_the_way.is_empty());
                    } else {
                        clock.playhead = index + 1;
                        clock.due += frame_period.div_f64(clock.speed);
                        // Fallen more than a frame behind: skip to the frame due now.
                        let late = Instant::now().saturating_duration_since(clock.due);
                        let behind = (late.as_secs_f64()
                            / frame_period.div_f64(clock.speed).as_secs_f64())
                            as u64;
                        if behind > 0 {
                            let skipped = behind.min(last - clock.playhead);
                            clock.playhead += skipped;
                            clock.due += frame_period.div_f64(clock.speed) * skipped as u32;
                            self.counters
                                .skipped_by_clock
                                .fetch_add(skipped, Ordering::Relaxed);
                        }
                    }
                }
                continue;
            }

            // 2. Spare time: decode ahead of the playhead.
            let ahead_limit = (clock.playhead + self.limits.decode_ahead).min(frame_count);
            let room = self.store.frame_count() < self.limits.max_cached_frames;
            if end_of_stream_at.is_none()
                && room
                && decode_position >= clock.playhead
                && decode_position < ahead_limit
            {
                let position = decode_position;
                self.decode_at(
                    &mut *source,
                    position,
                    &mut decode_position,
                    &mut end_of_stream_at,
                    clock.playhead,
                )?;
                continue;
            }

            // 3. Spare time and an idle pose stage: estimate ahead of the playhead; with all of
            // that done, fill in the cached frames the stage skipped, so that the whole clip
            // scrubs from the cache after the first pass.
            if self.to_pose.is_empty() {
                let from = sent_ahead
                    .filter(|s| *s >= clock.playhead)
                    .map_or(clock.playhead, |s| s + 1);
                let missing = match (from..ahead_limit).find(|i| !self.store.has_pose(*i)) {
                    Some(index) => Some(index),
                    None => self
                        .store
                        .cached_frame_without_pose(sent_ahead.map_or(0, |s| s + 1)),
                };
                if let Some(index) = missing
                    && let Some(stored) = self.store.frame(index)
                {
                    let mut frame = stored.frame;
                    frame.captured_at = Instant::now();
                    let job = PoseJob { frame, reply: None };
                    if self.to_pose.try_send(job).is_ok() {
                        sent_ahead = Some(index);
                    }
                }
            }

            // 4. Nothing to do until the next frame is due or a command arrives.
            let now = Instant::now();
            let mut wait = Duration::from_millis(5);
            if clock.playing {
                wait = wait.min(clock.due.saturating_duration_since(now));
            }
            if let Some((at, _)) = on_the_way.front() {
                wait = wait.min(at.saturating_duration_since(now));
            }
            match self.commands.recv_timeout(wait) {
                Ok(command) => pending = Some(command),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
        Ok(())
    }

    /// Decodes frame `index`, seeking if the source is elsewhere. `None` past the end.
    fn decode_at(
        &self,
        source: &mut dyn FrameSource,
        index: u64,
        decode_position: &mut u64,
        end_of_stream_at: &mut Option<u64>,
        playhead: u64,
    ) -> Result<Option<StoredFrame>, SourceError> {
        if end_of_stream_at.is_some_and(|end| index >= end) {
            return Ok(None);
        }
        if *decode_position != index {
            source.seek(index)?;
            *decode_position = index;
        }
        match source.next_frame()? {
            Some(frame) => {
                *decode_position = frame.index + 1;
                Ok(Some(self.store_frame(frame, playhead)))
            }
            None => {
                *end_of_stream_at = Some(index);
                Ok(None)
            }
        }
    }
}

struct PoseWorker {
    jobs: Receiver<PoseJob>,
    export_jobs: Receiver<PoseJob>,
    to_ui: Sender<PoseMsg>,
    events: Sender<WorkerEvent>,
    store: Arc<Store>,
    counters: Arc<PipelineCounters>,
    stop: Arc<AtomicBool>,
    repaint: Arc<dyn Fn() + Send + Sync>,
}

impl PoseWorker {
    fn run(self, make_estimator: &EstimatorFactory, config: &PoseConfig) {
        // Built on the first frame that needs a pose: a pose file never loads a model.
        let mut estimator: Option<Box<dyn PoseEstimator>> = None;
        let mut previous_index: Option<u64> = None;
        while !self.stop.load(Ordering::Relaxed) {
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
            let index = job.frame.index;
            if self.store.has_pose(index) {
                if let Some(reply) = &job.reply {
                    let _ = reply.send(Ok(()));
                }
                continue;
            }
            let estimator = match &mut estimator {
                Some(estimator) => estimator,
                None => match make_estimator(config) {
                    Ok(built) => {
                        send_event(&self.events, WorkerEvent::PoseReady);
                        estimator.insert(built)
                    }
                    Err(e) => {
                        send_event(
                            &self.events,
                            WorkerEvent::Failed {
                                stage: "pose",
                                message: e.to_string(),
                            },
                        );
                        (self.repaint)();
                        return;
                    }
                },
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
                .store
                .frame(index + 1)
                .filter(|_| keeping_up && !self.store.has_pose(index + 1))
                .map(|stored| stored.frame);
            match estimator.estimate_with_next(&job.frame, next.as_ref()) {
                Ok(pose) => {
                    let stage_ms = estimator.last_stage_ms();
                    self.store.insert_pose(index, StoredPose { pose, stage_ms });
                    self.counters.poses_computed.fetch_add(1, Ordering::Relaxed);
                    let msg = PoseMsg {
                        index,
                        captured_at: job.frame.captured_at,
                        started_at,
                        finished_at: Instant::now(),
                    };
                    // The pose is in the store either way; a full channel only loses timing.
                    let _ = self.to_ui.try_send(msg);
                    if let Some(reply) = &job.reply {
                        // An export that gave up no longer listens.
                        let _ = reply.send(Ok(()));
                    }
                    (self.repaint)();
                }
                Err(e) => {
                    let message = format!("frame {index}: {e}");
                    if let Some(reply) = &job.reply {
                        let _ = reply.send(Err(message.clone()));
                    }
                    send_event(
                        &self.events,
                        WorkerEvent::Failed {
                            stage: "pose",
                            message,
                        },
                    );
                    (self.repaint)();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_channel_keeps_the_newest_messages() {
        let (tx, rx) = bounded(2);
        assert!(!send_newest(&tx, &rx, 1));
        assert!(!send_newest(&tx, &rx, 2));
        assert!(send_newest(&tx, &rx, 3));
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![2, 3]);
    }

    /// A live source at ~200 fps in front of a pose stage that needs 30 ms per frame.
    struct FastLive {
        info: SourceInfo,
        next: u64,
    }

    impl FrameSource for FastLive {
        fn info(&self) -> &SourceInfo {
            &self.info
        }
        fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
            if self.next == 100 {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(5));
            self.next += 1;
            Ok(Some(Frame {
                index: self.next - 1,
                time: 0.0,
                captured_at: Instant::now(),
                width: 4,
                height: 2,
                rgb: Arc::new(vec![0; 24]),
            }))
        }
        fn seek(&mut self, _: u64) -> Result<(), SourceError> {
            Err(SourceError::NotSeekable("live".into()))
        }
    }

    /// A pose stage that takes this long per frame.
    struct SlowPose(Duration);

    impl PoseEstimator for SlowPose {
        fn estimate(&mut self, frame: &Frame) -> Result<PoseFrame, PoseError> {
            std::thread::sleep(self.0);
            Ok(PoseFrame::empty(frame.time))
        }
        fn reset(&mut self) {}
    }

    /// A seekable 30 fps clip of tiny frames.
    struct ScriptedFile {
        info: SourceInfo,
        next: u64,
    }

    impl ScriptedFile {
        fn new(frames: u64) -> Self {
            Self {
                info: SourceInfo {
                    name: "clip".into(),
                    width: 4,
                    height: 2,
                    fps: 30.0,
                    frame_count: Some(frames),
                    duration: Some(frames as f64 / 30.0),
                },
                next: 0,
            }
        }
    }

    impl FrameSource for ScriptedFile {
        fn info(&self) -> &SourceInfo {
            &self.info
        }
        fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
            if Some(self.next) == self.info.frame_count {
                return Ok(None);
            }
            self.next += 1;
            Ok(Some(Frame {
                index: self.next - 1,
                time: (self.next - 1) as f64 / 30.0,
                captured_at: Instant::now(),
                width: 4,
                height: 2,
                rgb: Arc::new(vec![0; 24]),
            }))
        }
        fn seek(&mut self, frame_index: u64) -> Result<(), SourceError> {
            self.next = frame_index;
            Ok(())
        }
    }

    fn play_file(sync_delay_frames: u64) -> (Pipeline, Vec<(u64, u64)>) {
        let pipeline = Pipeline::start(
            SourceRequest::File("clip.mp4".into()),
            Arc::new(|_| Ok(Box::new(ScriptedFile::new(60)) as Box<dyn FrameSource>)),
            // Slower than the video: 40 ms a frame against 33 ms frame periods.
            Arc::new(|_| {
                Ok(Box::new(SlowPose(Duration::from_millis(40))) as Box<dyn PoseEstimator>)
            }),
            PoseConfig::default(),
            PipelineLimits {
                // No look-ahead: only the playback clock feeds the pose stage.
                decode_ahead: 0,
                sync_delay_frames,
                ..PipelineLimits::default()
            },
            || {},
        );
        pipeline.command(CaptureCommand::Play { speed: 1.0 });
        // (shown frame, frames its newest pose trails it) as the UI would see them.
        let mut shown = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(msg) = pipeline.frames_to_ui.recv_timeout(Duration::from_millis(5)) {
                let lag = pipeline
                    .store
                    .pose_at_or_before(msg.index)
                    .map_or(u64::MAX, |(i, _)| msg.index - i);
                shown.push((msg.index, lag));
            }
            if pipeline
                .events
                .try_iter()
                .any(|e| matches!(e, WorkerEvent::Ended))
            {
                break;
            }
        }
        (pipeline, shown)
    }

    #[test]
    fn the_sync_delay_keeps_keypoints_with_a_video_faster_than_pose() {
        // A frame waits at most one estimate for the stage and one for its own pose: 80 ms,
        // well inside four frame periods.
        let (pipeline, shown) = play_file(4);
        let indices: Vec<u64> = shown.iter().map(|(i, _)| *i).collect();
        assert_eq!(indices.last(), Some(&59), "the clip played to its end");
        assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
        // The pose stage skips frames it has no time for; every shown frame has its own pose
        // or the one before (the first frame is shown before any pose exists).
        let worst = shown.iter().skip(1).map(|(_, lag)| *lag).max();
        assert!(worst <= Some(1), "overlay lags: {shown:?}");
        assert!(
            pipeline
                .counters
                .dropped_before_pose
                .load(Ordering::Relaxed)
                > 0
        );
        // Once idle, the stage fills in the frames it skipped: the whole clip is cached.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pipeline.store.pose_count() < 60 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            pipeline.store.pose_count(),
            60,
            "skipped frames never estimated"
        );

        // Without the delay the same stage trails the video by more.
        let (_, shown) = play_file(0);
        let worst = shown.iter().skip(1).map(|(_, lag)| *lag).max();
        assert!(worst >= Some(2), "without the delay: {shown:?}");
    }

    #[test]
    fn slow_pose_stage_drops_frames_instead_of_queueing_them() {
        let info = SourceInfo {
            name: "live".into(),
            width: 4,
            height: 2,
            fps: 200.0,
            frame_count: None,
            duration: None,
        };
        let pipeline = Pipeline::start(
            SourceRequest::Camera(0),
            Arc::new(move |_| {
                Ok(Box::new(FastLive {
                    info: info.clone(),
                    next: 0,
                }) as Box<dyn FrameSource>)
            }),
            Arc::new(|_| {
                Ok(Box::new(SlowPose(Duration::from_millis(30))) as Box<dyn PoseEstimator>)
            }),
            PoseConfig::default(),
            PipelineLimits::default(),
            || {},
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut ended = false;
        while !ended && Instant::now() < deadline {
            ended = pipeline
                .events
                .recv_timeout(Duration::from_millis(50))
                .is_ok_and(|e| matches!(e, WorkerEvent::Ended));
            assert!(pipeline.pose_queue_len() <= FRAMES_TO_POSE_CAPACITY);
        }
        assert!(ended, "the source did not finish");
        std::thread::sleep(Duration::from_millis(100));
        let computed = pipeline.counters.poses_computed.load(Ordering::Relaxed);
        let dropped = pipeline
            .counters
            .dropped_before_pose
            .load(Ordering::Relaxed);
        assert!(
            computed < 40,
            "{computed} poses: the slow stage cannot have done them all"
        );
        assert!(
            dropped > 50,
            "only {dropped} frames dropped before the pose stage"
        );
        // The newest frames win: the last frame's pose is computed.
        assert!(pipeline.store.has_pose(99), "the newest frame was dropped");
    }
}
