//! The capture stage: owns the frame source and is the playback clock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::captions::SegmenterInput;
use super::store::{Store, StoredFrame, StoredPose};
use super::{
    CaptureCommand, CaptureMode, DisplayFn, FrameMsg, PipelineEvent, PipelineLimits, PoseJob,
    Shared, SourceOpener, SourceRequest, Stage, send_newest,
};
use crate::keypoints::{self, PoseSequence};
use crate::source::{Frame, FrameSource, SourceError, SourceInfo};

/// Most frames a live or lossless stream keeps decoded: nothing scrubs back in them.
const STREAM_CACHED_FRAMES: usize = 8;
/// Poses a live stream keeps in the store (the consumer draws the newest).
const STREAM_KEPT_POSES: u64 = 256;

/// Opens `request`. A pose file (.pose, .json, .pkl) becomes a plain canvas of its frame size
/// whose poses are put straight into `store`, so it plays and inspects like a video.
pub fn open_request<D: Clone>(
    open_source: &SourceOpener,
    request: &SourceRequest,
    store: &Store<D>,
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

pub(crate) struct CaptureWorker<D> {
    pub commands: Receiver<CaptureCommand>,
    pub to_ui: Sender<FrameMsg>,
    /// The consumer channel's other end, to drop its oldest message when full.
    pub to_ui_oldest: Receiver<FrameMsg>,
    pub to_pose: Sender<PoseJob>,
    /// The pose channel's other end, to drop its oldest frame when full.
    pub to_pose_oldest: Receiver<PoseJob>,
    /// Opened / seek / end notices and already-known poses for the segmenter.
    pub to_segmenter: Option<Sender<SegmenterInput>>,
    pub shared: Shared<D>,
    pub display: DisplayFn<D>,
    pub limits: PipelineLimits,
    pub mode: Option<CaptureMode>,
}

/// The playback clock of a seekable source.
struct PlayClock {
    playhead: u64,
    playing: bool,
    speed: f64,
    due: Instant,
}

impl<D: Clone + Send + Sync + 'static> CaptureWorker<D> {
    pub fn run(mut self, open_source: &SourceOpener, request: &SourceRequest) {
        let _span = tracing::info_span!("capture", source = %request).entered();
        let source = match open_request(open_source, request, &self.shared.store) {
            Ok(source) => source,
            Err(message) => {
                self.shared.fail(Stage::Capture, message);
                return;
            }
        };
        let info = source.info().clone();
        self.to_segmenter(SegmenterInput::Opened(info.clone()));
        self.shared.send_event(PipelineEvent::Opened(info.clone()));
        let mode = self.mode.unwrap_or(if info.frame_count.is_some() {
            CaptureMode::Player
        } else {
            CaptureMode::Live
        });
        if mode != CaptureMode::Player {
            self.limits.max_cached_frames = self.limits.max_cached_frames.min(STREAM_CACHED_FRAMES);
        }
        let result = match mode {
            CaptureMode::Player => self.run_file(source),
            CaptureMode::Live => self.run_live(source),
            CaptureMode::Lossless => self.run_lossless(source),
        };
        if let Err(e) = result {
            self.shared.fail(Stage::Capture, e.to_string());
            // What was said before the failure still becomes captions.
            self.end_stream();
        }
    }

    fn stopped(&self) -> bool {
        self.shared.stopped()
    }

    /// Tells the segmenter something; it is cheap and drains its queue fast, so a full queue
    /// only happens when it is stuck, and then waiting would only stall capture too.
    fn to_segmenter(&self, input: SegmenterInput) {
        if let Some(tx) = &self.to_segmenter
            && tx.try_send(input).is_err()
        {
            self.shared
                .counters
                .dropped_before_segmenter
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Hands frame `stored` on: to the consumer as due now and to the pose stage unless its
    /// pose is known. A full channel drops its oldest frame for this one, so a slow stage
    /// always gets the newest frame next.
    fn emit(&self, stored: &StoredFrame<D>) {
        // The frame enters the live pipeline now: decode-ahead may have read it much earlier.
        let captured_at = Instant::now();
        self.show(FrameMsg {
            index: stored.frame.index,
            captured_at,
        });
        self.feed_pose(stored, captured_at);
    }

    /// Tells the consumer that playback has ended, unless frames are still on their way to
    /// the screen: then returns true, to tell it after them.
    fn ended(&self, frames_on_the_way: bool) -> bool {
        if frames_on_the_way {
            return true;
        }
        self.end_stream();
        self.shared.send_event(PipelineEvent::Ended);
        false
    }

    /// Tells the segmenter that the stream has ended, through the pose stage's queue so that
    /// the poses still under way reach it first.
    fn end_stream(&self) {
        self.send_waiting(PoseJob::end_of_stream());
    }

    /// Tells the consumer that frame `msg.index` is due on screen now.
    fn show(&self, msg: FrameMsg) {
        if send_newest(&self.to_ui, &self.to_ui_oldest, msg) {
            self.shared
                .counters
                .dropped_before_ui
                .fetch_add(1, Ordering::Relaxed);
        }
        (self.shared.repaint)();
    }

    /// Hands `stored` to the pose stage unless its pose is known (then straight to the
    /// segmenter); a busy stage gets this frame in place of the one waiting.
    fn feed_pose(&self, stored: &StoredFrame<D>, captured_at: Instant) {
        let index = stored.frame.index;
        if let Some(known) = self.shared.store.pose(index) {
            self.to_segmenter(SegmenterInput::Pose {
                index,
                captured_at,
                pose: known.pose,
            });
            return;
        }
        let mut frame = stored.frame.clone();
        frame.captured_at = captured_at;
        let job = PoseJob::new(frame);
        if send_newest(&self.to_pose, &self.to_pose_oldest, job) {
            self.shared
                .counters
                .dropped_before_pose
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn store_frame(&self, frame: Frame, playhead: u64) -> StoredFrame<D> {
        let display = (self.display)(&frame);
        let stored = StoredFrame { frame, display };
        self.shared.counters.decoded.fetch_add(1, Ordering::Relaxed);
        self.shared.store.insert_frame(
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
                self.ended(false);
                return Ok(());
            };
            let index = frame.index;
            let stored = self.store_frame(frame, index);
            self.emit(&stored);
            // An endless stream keeps only recent poses: the consumer draws the newest.
            if index % STREAM_KEPT_POSES == 0 && index > STREAM_KEPT_POSES {
                self.shared
                    .store
                    .forget_poses_before(index - STREAM_KEPT_POSES);
            }
        }
        Ok(())
    }

    /// Every frame to the pose stage in order, waiting for room: nothing is dropped.
    fn run_lossless(&self, mut source: Box<dyn FrameSource>) -> Result<(), SourceError> {
        while !self.stopped() {
            while self.commands.try_recv().is_ok() {}
            let Some(mut frame) = source.next_frame()? else {
                break;
            };
            self.shared.counters.decoded.fetch_add(1, Ordering::Relaxed);
            frame.captured_at = Instant::now();
            let index = frame.index;
            if let Some(known) = self.shared.store.pose(index) {
                // A pose file: its poses are known; they go to the segmenter through the pose
                // stage's queue so that order is kept.
                let job = PoseJob::known(frame, known);
                if !self.send_waiting(job) {
                    return Ok(());
                }
                continue;
            }
            self.show(FrameMsg {
                index,
                captured_at: frame.captured_at,
            });
            if !self.send_waiting(PoseJob::new(frame)) {
                return Ok(());
            }
        }
        // The pose stage ends the segmenter's stream once it has handed on every pose.
        self.end_stream();
        Ok(())
    }

    /// Sends a job to the pose stage, waiting for room; false when the pipeline stops.
    fn send_waiting(&self, job: PoseJob) -> bool {
        super::send_waiting(&self.to_pose, job, || self.stopped())
    }

    /// Files: a clock over frame indices, with decode-ahead and pose-ahead while idle.
    fn run_file(&self, mut source: Box<dyn FrameSource>) -> Result<(), SourceError> {
        let info = source.info().clone();
        let frame_count = info.frame_count.unwrap_or(0);
        let frame_period = Duration::from_secs_f64(1.0 / info.fps.max(1.0));
        let mut clock = PlayClock {
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
                                self.to_segmenter(SegmenterInput::Seek(0));
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
                        self.to_segmenter(SegmenterInput::Seek(clock.playhead));
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
                let stored = match self.shared.store.frame(index) {
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
                            self.shared
                                .counters
                                .skipped_by_clock
                                .fetch_add(skipped, Ordering::Relaxed);
                        }
                    }
                }
                continue;
            }

            // 2. Spare time: decode ahead of the playhead.
            let ahead_limit = (clock.playhead + self.limits.decode_ahead).min(frame_count);
            let room = self.shared.store.frame_count() < self.limits.max_cached_frames;
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
                let missing = match (from..ahead_limit).find(|i| !self.shared.store.has_pose(*i)) {
                    Some(index) => Some(index),
                    None => self
                        .shared
                        .store
                        .cached_frame_without_pose(sent_ahead.map_or(0, |s| s + 1)),
                };
                if let Some(index) = missing
                    && let Some(stored) = self.shared.store.frame(index)
                {
                    let mut frame = stored.frame;
                    frame.captured_at = Instant::now();
                    let job = PoseJob::new(frame);
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
    ) -> Result<Option<StoredFrame<D>>, SourceError> {
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
