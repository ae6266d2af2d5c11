//! The segmenter and translator stages: poses → utterances → provisional and final captions.
//!
//! The segmenter thread is cheap and sees every pose in frame order. While an utterance is
//! under way it asks for a greedy re-translation of the window so far at most every
//! `provisional_interval`; those requests go through a one-slot channel that keeps the newest,
//! so a slow model coalesces them instead of queueing. When an utterance ends its window goes
//! to the final queue, which loses nothing and which the translator always serves first.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::segmenter::{Segment, SegmentEvent, Segmenter, SegmenterConfig};
use super::{PipelineEvent, Shared, Stage, send_newest};
use crate::decode::translator::{SearchMode, TranslatedClip, Translator};
use crate::keypoints::PoseFrame;
use crate::source::SourceInfo;

/// Final windows waiting for the translator; utterances end seconds apart, so this is slack.
const FINALS_CAPACITY: usize = 64;
/// Capture times remembered for latency accounting (a few seconds of frames).
const CAPTURE_TIMES_KEPT: usize = 1024;
/// New frames an utterance needs before it is worth re-translating.
const MIN_NEW_FRAMES_FOR_PROVISIONAL: usize = 3;

/// How a stream becomes utterances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Segmentation {
    /// Utterances from the hands' activity (the [`Segmenter`]).
    Auto,
    /// The whole stream is one utterance (a clip known to hold one sentence or sign).
    WholeClip,
}

/// Settings of the segmenter and translator stages.
#[derive(Clone)]
pub struct CaptionConfig {
    /// Utterance detection.
    pub segmenter: SegmenterConfig,
    /// How utterances are found.
    pub segmentation: Segmentation,
    /// The model; `None` still finds utterances (segments without text).
    pub translator: Option<Arc<Translator>>,
    /// Re-translate an utterance under way at most this often (greedy); `None`: finals only.
    pub provisional_interval: Option<Duration>,
}

impl Default for CaptionConfig {
    fn default() -> Self {
        Self {
            segmenter: SegmenterConfig::default(),
            segmentation: Segmentation::Auto,
            translator: None,
            provisional_interval: Some(Duration::from_millis(700)),
        }
    }
}

/// An utterance started or one of its windows ended.
#[derive(Clone, Debug, PartialEq)]
pub enum SegmentNotice {
    /// Signing started.
    Started {
        /// Utterance id.
        utterance: u64,
        /// Start in seconds on the source's clock.
        start: f64,
    },
    /// A window ended (the last one of its utterance when `is_final`).
    Ended(SegmentSpan),
}

/// Where a window of an utterance lies in the source.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SegmentSpan {
    /// Utterance id.
    pub utterance: u64,
    /// Window within the utterance, from 0.
    pub window: usize,
    /// Start in seconds on the source's clock.
    pub start: f64,
    /// End in seconds on the source's clock.
    pub end: f64,
    /// First frame index.
    pub first_index: u64,
    /// Last frame index.
    pub last_index: u64,
    /// Whether this is the utterance's last window.
    pub is_final: bool,
}

impl SegmentSpan {
    fn of(segment: &Segment) -> Self {
        Self {
            utterance: segment.id,
            window: segment.window,
            start: segment.start,
            end: segment.end,
            first_index: segment.first_index,
            last_index: segment.last_index,
            is_final: segment.is_final,
        }
    }

    /// Frames in the window.
    pub fn frames(&self) -> u64 {
        self.last_index + 1 - self.first_index
    }
}

/// A provisional or final caption of one window.
#[derive(Clone, Debug)]
pub struct CaptionUpdate {
    /// Where the window lies.
    pub span: SegmentSpan,
    /// The decoded text.
    pub text: String,
    /// Generated ids (from the decoder start token).
    pub ids: Vec<u32>,
    /// Log-probability of each generated token.
    pub token_logprobs: Vec<f32>,
    /// Geometric-mean token probability in [0, 1].
    pub confidence: f32,
    /// Other readings with their scores (single-sign checkpoints).
    pub alternatives: Vec<(String, f32)>,
    /// Final (beam search over the ended window) or provisional (greedy, window so far).
    pub is_final: bool,
    /// When the translation was asked for.
    pub requested_at: Instant,
    /// When it was ready.
    pub ready_at: Instant,
    /// When the window's last frame entered the pipeline, where known.
    pub last_frame_captured_at: Option<Instant>,
}

/// What the capture and pose stages tell the segmenter.
pub(crate) enum SegmenterInput {
    /// The source is open (its size and rate).
    Opened(SourceInfo),
    /// The pose of frame `index`.
    Pose {
        index: u64,
        captured_at: Instant,
        pose: PoseFrame,
    },
    /// Playback jumped to frame `index`: the open utterance is abandoned.
    Seek(u64),
    /// No more frames will come.
    EndOfStream,
}

/// One window for the translator.
struct TranslateJob {
    segment: Segment,
    info: SourceInfo,
    mode: SearchMode,
    requested_at: Instant,
    last_frame_captured_at: Option<Instant>,
}

type StageThread = (&'static str, Stage, Box<dyn FnOnce() + Send>);

/// The threads of the segmenter and (with a model) translator stages.
pub(crate) fn stage_threads<D: Clone + Send + Sync + 'static>(
    config: CaptionConfig,
    inputs: Receiver<SegmenterInput>,
    shared: Shared<D>,
    ends_with_stream: bool,
) -> Vec<StageThread> {
    let mut threads: Vec<StageThread> = Vec::new();
    let (finals_tx, finals_rx) = bounded(FINALS_CAPACITY);
    let (provisional_tx, provisional_rx) = bounded(1);
    let translator = config.translator.clone();
    let segmenter = SegmenterStage {
        config,
        inputs,
        finals: translator.as_ref().map(|_| finals_tx),
        provisional: translator
            .as_ref()
            .map(|_| (provisional_tx, provisional_rx.clone())),
        shared: shared.clone(),
        ends_with_stream,
    };
    threads.push((
        "signcap-segmenter",
        Stage::Segmenter,
        Box::new(move || segmenter.run()),
    ));
    if let Some(translator) = translator {
        let worker = TranslatorStage {
            translator,
            finals: finals_rx,
            provisional: provisional_rx,
            shared,
        };
        threads.push((
            "signcap-translator",
            Stage::Translator,
            Box::new(move || worker.run()),
        ));
    }
    threads
}

struct SegmenterStage<D> {
    config: CaptionConfig,
    inputs: Receiver<SegmenterInput>,
    finals: Option<Sender<TranslateJob>>,
    provisional: Option<(Sender<TranslateJob>, Receiver<TranslateJob>)>,
    shared: Shared<D>,
    /// Whether the end of the source ends the stage (a player may play again).
    ends_with_stream: bool,
}

/// What the segmenter stage keeps between inputs.
struct SegmenterState {
    segmenter: Segmenter,
    info: SourceInfo,
    next_index: u64,
    /// The whole stream so far (whole-clip segmentation only).
    whole: Option<Segment>,
    capture_times: VecDeque<(u64, Instant)>,
    last_provisional: Option<(Duration, u64, usize)>,
}

impl<D: Clone + Send + Sync + 'static> SegmenterStage<D> {
    fn run(self) {
        let _span = tracing::info_span!("segmenter_stage").entered();
        let mut state: Option<SegmenterState> = None;
        while !self.shared.stopped() {
            match self.inputs.recv_timeout(Duration::from_millis(20)) {
                Ok(SegmenterInput::Opened(info)) => {
                    let fps = if info.fps > 0.0 { info.fps } else { 30.0 };
                    state = Some(SegmenterState {
                        segmenter: Segmenter::new(self.config.segmenter.clone(), fps),
                        info,
                        next_index: 0,
                        whole: None,
                        capture_times: VecDeque::new(),
                        last_provisional: None,
                    });
                }
                Ok(SegmenterInput::Pose {
                    index,
                    captured_at,
                    pose,
                }) => {
                    if let Some(state) = &mut state {
                        self.take_pose(state, index, captured_at, &pose);
                    }
                }
                Ok(SegmenterInput::Seek(index)) => {
                    if let Some(state) = &mut state {
                        state.segmenter.reset();
                        state.whole = None;
                        state.next_index = index;
                        state.last_provisional = None;
                    }
                }
                Ok(SegmenterInput::EndOfStream) => {
                    if let Some(state) = &mut state {
                        self.end_of_stream(state);
                    }
                    if self.ends_with_stream {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if let Some(state) = &mut state {
                        self.end_of_stream(state);
                    }
                    break;
                }
            }
            if let Some(state) = &mut state {
                self.maybe_request_provisional(state);
            }
        }
        // Dropping the queues tells the translator that nothing more comes.
        if self.finals.is_none() {
            self.shared.send_event_reliably(PipelineEvent::Finished);
        }
    }

    fn take_pose(
        &self,
        state: &mut SegmenterState,
        index: u64,
        captured_at: Instant,
        pose: &PoseFrame,
    ) {
        // Poses computed out of order (filling in skipped frames) come too late: the gap they
        // belong to was interpolated already.
        if index < state.next_index {
            return;
        }
        state.next_index = index + 1;
        self.shared
            .counters
            .poses_segmented
            .fetch_add(1, Ordering::Relaxed);
        state.capture_times.push_back((index, captured_at));
        while state.capture_times.len() > CAPTURE_TIMES_KEPT {
            state.capture_times.pop_front();
        }
        match self.config.segmentation {
            Segmentation::Auto => {
                for event in state.segmenter.push(index, pose) {
                    self.segment_event(state, event);
                }
            }
            Segmentation::WholeClip => match &mut state.whole {
                None => {
                    self.notice(SegmentNotice::Started {
                        utterance: 0,
                        start: pose.time,
                    });
                    state.whole = Some(Segment {
                        id: 0,
                        window: 0,
                        start: pose.time,
                        end: pose.time,
                        first_index: index,
                        last_index: index,
                        frames: vec![pose.clone()],
                        is_final: true,
                    });
                }
                Some(whole) => {
                    // Dense frames: a skipped one repeats its predecessor (lossless streams,
                    // the only ones whole-clip is for, skip none).
                    while whole.last_index + 1 < index {
                        let last = whole.frames.last().cloned().unwrap_or_else(|| pose.clone());
                        whole.frames.push(last);
                        whole.last_index += 1;
                    }
                    whole.frames.push(pose.clone());
                    whole.last_index = index;
                    whole.end = pose.time;
                }
            },
        }
    }

    fn end_of_stream(&self, state: &mut SegmenterState) {
        let events = match self.config.segmentation {
            Segmentation::Auto => state.segmenter.finish(),
            Segmentation::WholeClip => state
                .whole
                .take()
                .map(SegmentEvent::Ended)
                .into_iter()
                .collect(),
        };
        for event in events {
            self.segment_event(state, event);
        }
    }

    fn notice(&self, notice: SegmentNotice) {
        self.shared.send_event(PipelineEvent::Segment(notice));
    }

    fn segment_event(&self, state: &mut SegmenterState, event: SegmentEvent) {
        match event {
            SegmentEvent::Started { id, start, .. } => {
                self.shared
                    .counters
                    .utterances
                    .fetch_add(1, Ordering::Relaxed);
                state.last_provisional = None;
                self.notice(SegmentNotice::Started {
                    utterance: id,
                    start,
                });
            }
            SegmentEvent::Ended(segment) => {
                let span = SegmentSpan::of(&segment);
                self.shared
                    .send_event_reliably(PipelineEvent::Segment(SegmentNotice::Ended(span)));
                if let Some(finals) = &self.finals {
                    let job = TranslateJob {
                        last_frame_captured_at: capture_time(state, segment.last_index),
                        segment,
                        info: state.info.clone(),
                        mode: SearchMode::Beam,
                        requested_at: Instant::now(),
                    };
                    self.send_final(finals, job);
                }
            }
        }
    }

    /// Finals are never dropped: wait for room unless the pipeline stops.
    fn send_final(&self, finals: &Sender<TranslateJob>, job: TranslateJob) {
        super::send_waiting(finals, job, || self.shared.stopped());
    }

    fn maybe_request_provisional(&self, state: &mut SegmenterState) {
        let (Some(interval), Some((slot, slot_oldest))) =
            (self.config.provisional_interval, &self.provisional)
        else {
            return;
        };
        let Some(current) = state.segmenter.current() else {
            return;
        };
        let now = self.shared.clock.now();
        if let Some((at, utterance, frames)) = state.last_provisional
            && utterance == current.id
            && (now < at + interval
                || current.frames.len() < frames + MIN_NEW_FRAMES_FOR_PROVISIONAL)
        {
            return;
        }
        state.last_provisional = Some((now, current.id, current.frames.len()));
        let job = TranslateJob {
            last_frame_captured_at: capture_time(state, current.last_index),
            segment: current,
            info: state.info.clone(),
            mode: SearchMode::Greedy,
            requested_at: Instant::now(),
        };
        self.shared
            .counters
            .provisional_requested
            .fetch_add(1, Ordering::Relaxed);
        if send_newest(slot, slot_oldest, job) {
            self.shared
                .counters
                .provisional_coalesced
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn capture_time(state: &SegmenterState, index: u64) -> Option<Instant> {
    state
        .capture_times
        .iter()
        .rev()
        .find(|(i, _)| *i <= index)
        .map(|(_, at)| *at)
}

struct TranslatorStage<D> {
    translator: Arc<Translator>,
    finals: Receiver<TranslateJob>,
    provisional: Receiver<TranslateJob>,
    shared: Shared<D>,
}

impl<D: Clone + Send + Sync + 'static> TranslatorStage<D> {
    fn run(self) {
        let _span = tracing::info_span!("translator_stage").entered();
        // Utterances whose final window is out: their provisional requests are stale.
        let mut finished_utterance: Option<u64> = None;
        let mut last_error: Option<String> = None;
        while !self.shared.stopped() {
            // Finals first, always; a closed, empty final queue means the segmenter is done,
            // and what provisional work is left is stale.
            let job = match self.finals.try_recv() {
                Ok(job) => job,
                Err(crossbeam_channel::TryRecvError::Disconnected) => break,
                Err(crossbeam_channel::TryRecvError::Empty) => crossbeam_channel::select! {
                    recv(self.finals) -> job => match job {
                        Ok(job) => job,
                        Err(_) => break,
                    },
                    recv(self.provisional) -> job => match job {
                        Ok(job) => job,
                        Err(_) => continue,
                    },
                    default(Duration::from_millis(50)) => continue,
                },
            };
            if job.mode == SearchMode::Greedy
                && (finished_utterance.is_some_and(|u| job.segment.id <= u)
                    || !self.finals.is_empty())
            {
                self.shared
                    .counters
                    .provisional_coalesced
                    .fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if job.mode == SearchMode::Beam && job.segment.is_final {
                finished_utterance = Some(job.segment.id);
            }
            match self.translate(&job) {
                Ok(update) => {
                    let counter = if update.is_final {
                        &self.shared.counters.finals_done
                    } else {
                        &self.shared.counters.provisional_done
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    let ms = (update.ready_at - update.requested_at).as_millis() as u64;
                    self.shared
                        .counters
                        .last_translation_ms
                        .store(ms, Ordering::Relaxed);
                    if update.is_final {
                        self.shared
                            .send_event_reliably(PipelineEvent::Caption(update));
                    } else {
                        self.shared.send_event(PipelineEvent::Caption(update));
                    }
                }
                Err(message) => {
                    // The same failure on every window says nothing new after the first.
                    if last_error.as_ref() != Some(&message) {
                        self.shared.fail(Stage::Translator, message.clone());
                        last_error = Some(message);
                    }
                }
            }
        }
        self.shared.send_event_reliably(PipelineEvent::Finished);
    }

    fn translate(&self, job: &TranslateJob) -> Result<CaptionUpdate, String> {
        let sequence = job
            .segment
            .to_sequence(job.info.width, job.info.height, job.info.fps);
        // A panic in the model must not take the stage down silently.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.translator.translate_sequence(&sequence, job.mode)
        }));
        let clip: TranslatedClip = match result {
            Ok(Ok(clip)) => clip,
            Ok(Err(e)) => return Err(error_chain(&e)),
            Err(_) => return Err("the translator crashed on this utterance".into()),
        };
        let generation = &clip.translation.generation;
        Ok(CaptionUpdate {
            span: SegmentSpan::of(&job.segment),
            text: clip.translation.text.clone(),
            ids: generation.ids.clone(),
            token_logprobs: generation.token_logprobs.clone(),
            confidence: clip.confidence,
            alternatives: clip.alternatives.clone(),
            is_final: job.mode == SearchMode::Beam,
            requested_at: job.requested_at,
            ready_at: Instant::now(),
            last_frame_captured_at: job.last_frame_captured_at,
        })
    }
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}
