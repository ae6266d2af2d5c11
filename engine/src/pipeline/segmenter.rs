//! The utterance segmenter: cuts the pose stream into the stretches where someone signs.
//!
//! Activity is read from the two hands in a body-relative space: the origin is the shoulders'
//! midpoint, one unit is the shoulder width and y points up, so the thresholds hold for any
//! resolution and camera distance. A hand is *raised* while its wrist is in the signing space and
//! *moving* while it is fast (its wrist, or its 21 points on average, which catches finger-only
//! signs) and above the rest height, so hands settling or fidgeting at rest are not signing. Both
//! switch with hysteresis (on above the enter threshold, off below the lower exit threshold), so
//! noise at a threshold does not flicker.
//!
//! An utterance starts when a hand moves or comes up, and ends once the hands have rested (down
//! and not moving) for [`SegmenterConfig::rest_seconds`], or have stayed still, even raised, for
//! [`SegmenterConfig::still_seconds`]. Its segment runs from the first to the last active frame,
//! widened by [`SegmenterConfig::pad_seconds`] of context; activity spanning less than
//! [`SegmenterConfig::min_segment_seconds`] is dropped. A long utterance comes out as windows of
//! at most [`SegmenterConfig::max_window_frames`] that overlap and share one id.
//!
//! Frames are indexed by the source's frame index; indices the pose stage skipped are filled in so
//! every segment is dense at the source's steady rate. A filled-in frame interpolates linearly (in
//! x, y, score and time) between the two nearest real poses; a point found on one side only (a
//! person or a hand missing on the other) is copied from the side that has it.

mod config;
mod frames;
mod hands;

use std::collections::VecDeque;

pub use config::{SegmenterConfig, SegmenterConfigError};
use frames::{interpolated, sanitized};
use hands::{BodyInImage, HAND_POINTS, HandInBodyUnits, hand_speed, hysteresis};

use crate::keypoints::{DEFAULT_FPS, Keypoint, PoseFrame, PoseSequence};

/// COCO-WholeBody indices of the points the segmenter reads.
const LEFT_SHOULDER: usize = 5;
const RIGHT_SHOULDER: usize = 6;
const LEFT_WRIST: usize = 9;
const RIGHT_WRIST: usize = 10;
const LEFT_HAND_ROOT: usize = 91;
const RIGHT_HAND_ROOT: usize = 112;

/// What the segmenter reports as the stream goes by.
#[derive(Clone, Debug)]
pub enum SegmentEvent {
    /// An utterance began (once its activity passed the minimum length); its first frame.
    Started {
        /// The utterance's id.
        id: u64,
        /// Time of its first frame in seconds (the source's timestamps).
        start: f64,
        /// Source index of its first frame.
        first_index: u64,
    },
    /// A window of an utterance is complete; the last one has `is_final` set.
    Ended(Segment),
}

/// One window of an utterance: dense poses at the source's steady frame rate.
#[derive(Clone, Debug)]
pub struct Segment {
    /// One id per utterance; the windows of one long utterance share it.
    pub id: u64,
    /// Number of the window within its utterance, from 0.
    pub window: usize,
    /// Time of the first frame in seconds (the source's timestamps).
    pub start: f64,
    /// Time of the last frame in seconds (the source's timestamps).
    pub end: f64,
    /// Source index of the first frame.
    pub first_index: u64,
    /// Source index of the last frame.
    pub last_index: u64,
    /// One pose per index `first_index..=last_index`, interpolated where the pose stage skipped.
    pub frames: Vec<PoseFrame>,
    /// Whether this is the last window of its utterance.
    pub is_final: bool,
}

impl Segment {
    /// The window as a pose sequence, so it can be preprocessed and translated like a file.
    pub fn to_sequence(&self, width: u32, height: u32, fps: f64) -> PoseSequence {
        PoseSequence {
            width,
            height,
            fps,
            frames: self.frames.clone(),
        }
    }
}

/// The hand readings of the latest frame, for overlays and diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HandActivity {
    /// Left and right wrist height above the shoulder line in body units, when found.
    pub height_in_body_units: [Option<f32>; 2],
    /// Left and right wrist speed in body units per second, when measurable.
    pub speed_in_body_units_per_second: [Option<f32>; 2],
    /// Whether a hand is raised into the signing space (after hysteresis).
    pub raised: bool,
    /// Whether a hand above the rest height is moving (after hysteresis).
    pub moving: bool,
}

/// The configuration turned into frame counts at the source's rate.
#[derive(Clone, Copy, Debug)]
struct FrameCounts {
    pad: u64,
    rest: u64,
    still: u64,
    min_span: u64,
    motion_lag: usize,
    max_window: u64,
    overlap: u64,
    max_gap: u64,
}

impl FrameCounts {
    fn new(config: &SegmenterConfig, fps: f64) -> Self {
        let frames = |seconds: f64| {
            let n = (seconds * fps).round();
            if n.is_finite() && n > 0.0 {
                n as u64
            } else {
                0
            }
        };
        let rest = frames(config.rest_seconds).max(1);
        let max_window = (config.max_window_frames as u64).max(2);
        Self {
            pad: frames(config.pad_seconds).min(rest),
            rest,
            still: frames(config.still_seconds).max(rest),
            min_span: frames(config.min_segment_seconds),
            motion_lag: (frames(config.motion_span_seconds) as usize).max(1),
            max_window,
            overlap: (config.window_overlap_frames as u64).min(max_window - 1),
            max_gap: frames(config.max_gap_seconds).max(1),
        }
    }
}

/// The open utterance.
#[derive(Clone, Debug)]
struct Utterance {
    /// Assigned once the activity passed the minimum length.
    id: Option<u64>,
    window: usize,
    window_first_index: u64,
    first_active: u64,
    last_active: u64,
    last_moving: u64,
}

/// Cuts a stream of poses into utterances; see the module docs.
pub struct Segmenter {
    config: SegmenterConfig,
    fps: f64,
    counts: FrameCounts,
    /// Dense frames from `first_buffered_index`: the open utterance, or the pad context.
    frames: VecDeque<PoseFrame>,
    first_buffered_index: u64,
    /// The last real pose pushed, which filled-in frames interpolate from.
    last_real: Option<(u64, PoseFrame)>,
    /// The last `motion_lag + 1` hand positions, for the speed.
    hand_history: VecDeque<[HandInBodyUnits; 2]>,
    body: Option<BodyInImage>,
    raised: [bool; 2],
    moving: [bool; 2],
    activity: HandActivity,
    /// Frames in a row without movement.
    still_run: u64,
    /// Frames in a row with the hands down and not moving.
    rest_run: u64,
    utterance: Option<Utterance>,
    next_id: u64,
}

impl Segmenter {
    /// A segmenter for a source with steady frame rate `fps` (a bad rate falls back to 25).
    pub fn new(config: SegmenterConfig, fps: f64) -> Self {
        let fps = if fps.is_finite() && fps > 0.0 {
            fps
        } else {
            DEFAULT_FPS
        };
        Self {
            counts: FrameCounts::new(&config, fps),
            config,
            fps,
            frames: VecDeque::new(),
            first_buffered_index: 0,
            last_real: None,
            hand_history: VecDeque::new(),
            body: None,
            raised: [false; 2],
            moving: [false; 2],
            activity: HandActivity::default(),
            still_run: 0,
            rest_run: 0,
            utterance: None,
            next_id: 0,
        }
    }

    /// Feeds the pose of source frame `index` (indices may skip: the gap is interpolated).
    /// An index at or before the last one is ignored; a gap longer than `max_gap_seconds` ends
    /// the open utterance and starts afresh.
    pub fn push(&mut self, index: u64, pose: &PoseFrame) -> Vec<SegmentEvent> {
        let _span = tracing::trace_span!("segmenter_push", index).entered();
        let pose = sanitized(pose);
        let mut events = Vec::new();
        match self.last_real.take() {
            Some((last_index, last_pose)) if index <= last_index => {
                tracing::warn!(
                    index,
                    last_index,
                    "segmenter: frame index went back; ignored"
                );
                self.last_real = Some((last_index, last_pose));
                return events;
            }
            Some((last_index, _)) if index - last_index > self.counts.max_gap => {
                tracing::debug!(index, last_index, "segmenter: gap too long to interpolate");
                events.extend(self.finish());
                self.step(index, pose.clone(), &mut events);
            }
            Some((last_index, last_pose)) => {
                let span = (index - last_index) as f64;
                for filled in last_index + 1..index {
                    let t = (filled - last_index) as f64 / span;
                    self.step(filled, interpolated(&last_pose, &pose, t), &mut events);
                }
                self.step(index, pose.clone(), &mut events);
            }
            None => self.step(index, pose.clone(), &mut events),
        }
        self.last_real = Some((index, pose));
        events
    }

    /// End of stream: closes an open utterance and forgets the stream (ids keep counting).
    pub fn finish(&mut self) -> Vec<SegmentEvent> {
        let mut events = Vec::new();
        if let (Some(u), Some(latest)) = (self.utterance.clone(), self.latest_index()) {
            let end = (u.last_active + self.counts.pad).min(latest);
            self.confirm(&mut events);
            self.close(end, &mut events);
        }
        self.reset();
        events
    }

    /// The open utterance's window so far (for provisional translation), if signing.
    pub fn current(&self) -> Option<Segment> {
        let u = self.utterance.as_ref()?;
        let id = u.id?;
        let latest = self.latest_index()?;
        let last = (u.last_active + self.counts.pad).min(latest);
        self.segment(id, u.window, u.window_first_index, last, false)
    }

    /// Whether an utterance is open (past the minimum length).
    pub fn is_signing(&self) -> bool {
        self.utterance.as_ref().is_some_and(|u| u.id.is_some())
    }

    /// Forgets the stream (after a seek or a source change); an open utterance is dropped and
    /// ids keep counting.
    pub fn reset(&mut self) {
        let next_id = self.next_id;
        *self = Self::new(self.config.clone(), self.fps);
        self.next_id = next_id;
    }

    /// The hand readings of the latest frame.
    pub fn activity(&self) -> HandActivity {
        self.activity
    }

    /// Frames held now (the open utterance or the context before one); bounded by the window,
    /// rest and pad lengths.
    pub fn buffered_frames(&self) -> usize {
        self.frames.len()
    }

    /// The configuration in use.
    pub fn config(&self) -> &SegmenterConfig {
        &self.config
    }

    fn latest_index(&self) -> Option<u64> {
        (!self.frames.is_empty()).then(|| self.first_buffered_index + self.frames.len() as u64 - 1)
    }

    /// One dense frame at the steady rate, real or filled in.
    fn step(&mut self, index: u64, frame: PoseFrame, events: &mut Vec<SegmentEvent>) {
        let (raised, moving, raised_rose) = self.read_hands(&frame);
        if self.frames.is_empty() {
            self.first_buffered_index = index;
        }
        self.frames.push_back(frame);
        self.still_run = if moving { 0 } else { self.still_run + 1 };
        self.rest_run = if moving || raised {
            0
        } else {
            self.rest_run + 1
        };
        let counts = self.counts;
        let Some(u) = self.utterance.as_mut() else {
            if moving || raised_rose {
                let first = index
                    .saturating_sub(counts.pad)
                    .max(self.first_buffered_index);
                self.trim_before(first);
                self.utterance = Some(Utterance {
                    id: None,
                    window: 0,
                    window_first_index: first,
                    first_active: index,
                    last_active: index,
                    last_moving: index,
                });
                self.still_run = 0;
                self.confirm(events);
            } else {
                self.keep_last(counts.pad);
            }
            return;
        };
        if moving || (raised && self.still_run < counts.still) {
            u.last_active = index;
        }
        if moving {
            u.last_moving = index;
        }
        let end = if self.rest_run >= counts.rest {
            Some(u.last_active + counts.pad)
        } else if self.still_run >= counts.still {
            Some(u.last_moving + counts.pad)
        } else {
            None
        };
        self.confirm(events);
        match end {
            Some(end) => {
                self.close(end.min(index), events);
                // The frames after the end are context for the next utterance.
                self.trim_before((end + 1).max((index + 1).saturating_sub(counts.pad)));
                self.keep_last(counts.pad);
            }
            None => self.emit_full_windows(index, events),
        }
    }

    /// Reads the wrists of `frame`: (any raised, any moving, a hand came up now).
    fn read_hands(&mut self, frame: &PoseFrame) -> (bool, bool, bool) {
        let min_score = self.config.min_keypoint_score;
        let points = &frame.keypoints_in_image;
        let found = |i: usize| points.get(i).filter(|k| k.score >= min_score);
        // Within a hand the model found, every point it placed counts.
        let located = |i: usize| points.get(i).filter(|k| k.score > 0.0);
        if let (Some(l), Some(r)) = (found(LEFT_SHOULDER), found(RIGHT_SHOULDER)) {
            let shoulder_width = (l.x - r.x).hypot(l.y - r.y);
            if shoulder_width > 1e-3 {
                self.body = Some(BodyInImage {
                    origin_x: (l.x + r.x) / 2.0,
                    origin_y: (l.y + r.y) / 2.0,
                    shoulder_width,
                });
            }
        }
        let body = self.body;
        let in_body_units = |k: &Keypoint| {
            body.map(|b| {
                (
                    (k.x - b.origin_x) / b.shoulder_width,
                    (b.origin_y - k.y) / b.shoulder_width,
                )
            })
        };
        let hands_in_body_units: [HandInBodyUnits; 2] =
            [(LEFT_WRIST, LEFT_HAND_ROOT), (RIGHT_WRIST, RIGHT_HAND_ROOT)].map(|(wrist, root)| {
                HandInBodyUnits {
                    wrist: found(wrist).or_else(|| found(root)).and_then(in_body_units),
                    points: found(root).map(|_| {
                        let mut hand = [None; HAND_POINTS];
                        for (j, point) in hand.iter_mut().enumerate() {
                            *point = located(root + j).and_then(in_body_units);
                        }
                        hand
                    }),
                }
            });
        self.hand_history.push_back(hands_in_body_units);
        while self.hand_history.len() > self.counts.motion_lag + 1 {
            self.hand_history.pop_front();
        }
        let past = self.hand_history[0];
        let elapsed_seconds = (self.hand_history.len() - 1) as f32 / self.fps as f32;
        let c = &self.config;
        let mut activity = HandActivity::default();
        let mut raised_rose = false;
        for side in 0..2 {
            let height = hands_in_body_units[side].wrist.map(|(_, y)| y);
            let speed = hand_speed(&hands_in_body_units[side], &past[side], elapsed_seconds);
            let was_raised = self.raised[side];
            self.raised[side] = hysteresis(
                was_raised,
                height,
                c.hand_raised_enter_in_body_units,
                c.hand_raised_exit_in_body_units,
            );
            self.moving[side] = hysteresis(
                self.moving[side],
                speed,
                c.hand_moving_enter_in_body_units_per_second,
                c.hand_moving_exit_in_body_units_per_second,
            );
            raised_rose |= self.raised[side] && !was_raised;
            // Movement down at rest (settling, fidgeting) is not signing.
            let above_rest = height.is_some_and(|h| h >= c.hand_raised_exit_in_body_units);
            activity.moving |= self.moving[side] && above_rest;
            activity.height_in_body_units[side] = height;
            activity.speed_in_body_units_per_second[side] = speed;
        }
        activity.raised = self.raised.iter().any(|&r| r);
        self.activity = activity;
        (activity.raised, activity.moving, raised_rose)
    }

    /// Gives the open utterance an id and announces it once its activity is long enough.
    fn confirm(&mut self, events: &mut Vec<SegmentEvent>) {
        let Some(u) = self.utterance.as_mut() else {
            return;
        };
        if u.id.is_some() || u.last_active - u.first_active < self.counts.min_span {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        u.id = Some(id);
        let first_index = u.window_first_index;
        let start = self.frame_at(first_index).map_or(0.0, |f| f.time);
        tracing::debug!(id, first_index, start, "utterance started");
        events.push(SegmentEvent::Started {
            id,
            start,
            first_index,
        });
    }

    /// Emits the windows that are full while the utterance certainly goes on past them.
    fn emit_full_windows(&mut self, index: u64, events: &mut Vec<SegmentEvent>) {
        let counts = self.counts;
        loop {
            let Some(u) = self.utterance.as_ref() else {
                return;
            };
            let Some(id) = u.id else {
                return;
            };
            let next_first = u.window_first_index + counts.max_window;
            // Wherever the utterance ends, it ends at or after `last_moving + pad`.
            if next_first > index || u.last_moving + counts.pad < next_first {
                return;
            }
            let (window, first) = (u.window, u.window_first_index);
            if let Some(segment) = self.segment(id, window, first, next_first - 1, false) {
                events.push(SegmentEvent::Ended(segment));
            }
            let following = next_first - counts.overlap;
            if let Some(u) = self.utterance.as_mut() {
                u.window += 1;
                u.window_first_index = following;
            }
            self.trim_before(following);
        }
    }

    /// Ends the open utterance at frame `end`: its remaining windows, the last one final.
    fn close(&mut self, end: u64, events: &mut Vec<SegmentEvent>) {
        let Some(u) = self.utterance.take() else {
            return;
        };
        let Some(id) = u.id else {
            tracing::trace!(first = u.first_active, "activity too short; dropped");
            return;
        };
        let (mut window, mut first) = (u.window, u.window_first_index);
        while end >= first + self.counts.max_window {
            let last = first + self.counts.max_window - 1;
            if let Some(segment) = self.segment(id, window, first, last, false) {
                events.push(SegmentEvent::Ended(segment));
            }
            window += 1;
            first = last + 1 - self.counts.overlap;
        }
        if let Some(segment) = self.segment(id, window, first, end, true) {
            tracing::debug!(
                id,
                window,
                start = segment.start,
                end = segment.end,
                "utterance ended"
            );
            events.push(SegmentEvent::Ended(segment));
        }
    }

    fn frame_at(&self, index: u64) -> Option<&PoseFrame> {
        let offset = index.checked_sub(self.first_buffered_index)?;
        self.frames.get(offset as usize)
    }

    /// The buffered frames `first..=last` as a segment.
    fn segment(
        &self,
        id: u64,
        window: usize,
        first: u64,
        last: u64,
        is_final: bool,
    ) -> Option<Segment> {
        let offset = first.checked_sub(self.first_buffered_index)? as usize;
        let count = (last.checked_sub(first)? + 1) as usize;
        let frames: Vec<PoseFrame> = self.frames.range(offset..).take(count).cloned().collect();
        if frames.len() != count {
            return None;
        }
        Some(Segment {
            id,
            window,
            start: frames[0].time,
            end: frames[count - 1].time,
            first_index: first,
            last_index: last,
            frames,
            is_final,
        })
    }

    /// Drops buffered frames before `index`.
    fn trim_before(&mut self, index: u64) {
        while !self.frames.is_empty() && self.first_buffered_index < index {
            self.frames.pop_front();
            self.first_buffered_index += 1;
        }
    }

    /// Keeps only the last `count` buffered frames.
    fn keep_last(&mut self, count: u64) {
        while self.frames.len() as u64 > count {
            self.frames.pop_front();
            self.first_buffered_index += 1;
        }
    }
}

/// Segments a whole pose sequence (a file) the way the live stream would be.
pub fn segment_sequence(seq: &PoseSequence, config: &SegmenterConfig) -> Vec<Segment> {
    let mut segmenter = Segmenter::new(config.clone(), seq.fps);
    let mut events = Vec::new();
    for (index, frame) in seq.frames.iter().enumerate() {
        events.extend(segmenter.push(index as u64, frame));
    }
    events.extend(segmenter.finish());
    events
        .into_iter()
        .filter_map(|event| match event {
            SegmentEvent::Ended(segment) => Some(segment),
            SegmentEvent::Started { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
