//! Placeholder segmenter with the final API (the real one lands from the `seg` branch).

use crate::keypoints::{PoseFrame, PoseSequence};

/// Settings of the segmenter.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SegmenterConfig {
    /// Hands at rest this long end an utterance.
    pub rest_seconds: f64,
    /// Shorter activity is dropped.
    pub min_segment_seconds: f64,
    /// Most frames per window.
    pub max_window_frames: usize,
    /// Frames shared by consecutive windows of one long utterance.
    pub window_overlap_frames: usize,
    /// Context kept before the start and after the end.
    pub pad_seconds: f64,
}

impl Default for SegmenterConfig {
    fn default() -> Self {
        Self {
            rest_seconds: 0.5,
            min_segment_seconds: 0.3,
            max_window_frames: 256,
            window_overlap_frames: 32,
            pad_seconds: 0.1,
        }
    }
}

/// A segment event.
#[derive(Clone, Debug)]
pub enum SegmentEvent {
    /// An utterance started.
    Started {
        /// Utterance id.
        id: u64,
        /// Start in seconds.
        start: f64,
        /// First frame.
        first_index: u64,
    },
    /// A window ended.
    Ended(Segment),
}

/// One window of an utterance.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Utterance id.
    pub id: u64,
    /// Window within the utterance.
    pub window: usize,
    /// Start, seconds.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// First frame index.
    pub first_index: u64,
    /// Last frame index.
    pub last_index: u64,
    /// Dense frames.
    pub frames: Vec<PoseFrame>,
    /// Last window of its utterance.
    pub is_final: bool,
}

impl Segment {
    /// As a pose sequence.
    pub fn to_sequence(&self, width: u32, height: u32, fps: f64) -> PoseSequence {
        PoseSequence {
            width,
            height,
            fps,
            frames: self.frames.clone(),
        }
    }
}

/// The segmenter.
#[derive(Debug)]
pub struct Segmenter {
    config: SegmenterConfig,
    fps: f64,
    open: Option<Segment>,
    still_frames: usize,
    next_id: u64,
}

fn active(pose: &PoseFrame) -> bool {
    let k = &pose.keypoints_in_image;
    if k.len() < 13 {
        return false;
    }
    let hip_y = (k[11].y + k[12].y) / 2.0;
    let shoulder_y = (k[5].y + k[6].y) / 2.0;
    let line = shoulder_y + 0.6 * (hip_y - shoulder_y);
    [9, 10].iter().any(|&w| k[w].score > 0.3 && k[w].y < line)
}

impl Segmenter {
    /// A segmenter for a stream at `fps`.
    pub fn new(config: SegmenterConfig, fps: f64) -> Self {
        Self {
            config,
            fps,
            open: None,
            still_frames: 0,
            next_id: 0,
        }
    }

    /// Feeds frame `index`.
    pub fn push(&mut self, index: u64, pose: &PoseFrame) -> Vec<SegmentEvent> {
        let mut events = Vec::new();
        let is_active = active(pose);
        match &mut self.open {
            None if is_active => {
                let id = self.next_id;
                self.next_id += 1;
                events.push(SegmentEvent::Started {
                    id,
                    start: pose.time,
                    first_index: index,
                });
                self.open = Some(Segment {
                    id,
                    window: 0,
                    start: pose.time,
                    end: pose.time,
                    first_index: index,
                    last_index: index,
                    frames: vec![pose.clone()],
                    is_final: false,
                });
                self.still_frames = 0;
            }
            None => {}
            Some(open) => {
                while open.last_index + 1 < index {
                    let last = open.frames[open.frames.len() - 1].clone();
                    open.frames.push(last);
                    open.last_index += 1;
                }
                open.frames.push(pose.clone());
                open.last_index = index;
                open.end = pose.time;
                self.still_frames = if is_active { 0 } else { self.still_frames + 1 };
                if self.still_frames as f64 >= self.config.rest_seconds * self.fps
                    || open.frames.len() >= self.config.max_window_frames
                {
                    events.extend(self.finish());
                }
            }
        }
        events
    }

    /// Closes an open utterance.
    pub fn finish(&mut self) -> Vec<SegmentEvent> {
        match self.open.take() {
            Some(mut segment) => {
                segment.is_final = true;
                vec![SegmentEvent::Ended(segment)]
            }
            None => Vec::new(),
        }
    }

    /// The open utterance so far.
    pub fn current(&self) -> Option<Segment> {
        self.open.clone()
    }

    /// Whether an utterance is open.
    pub fn is_signing(&self) -> bool {
        self.open.is_some()
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.open = None;
        self.still_frames = 0;
    }
}

/// Segments a whole sequence.
pub fn segment_sequence(seq: &PoseSequence, config: &SegmenterConfig) -> Vec<Segment> {
    let mut segmenter = Segmenter::new(config.clone(), seq.fps);
    let mut out = Vec::new();
    for (i, f) in seq.frames.iter().enumerate() {
        out.extend(segmenter.push(i as u64, f));
    }
    out.extend(segmenter.finish());
    out.into_iter()
        .filter_map(|e| match e {
            SegmentEvent::Ended(s) => Some(s),
            SegmentEvent::Started { .. } => None,
        })
        .collect()
}
