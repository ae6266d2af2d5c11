//! The segmenter's settings and their check.

use std::cmp::Ordering;

/// How the segmenter decides where utterances start and end; the `[segmenter]` settings table.
///
/// Heights are in body units above the shoulder line (the shoulder width is one unit; negative
/// is below the shoulders), speeds in body units per second, times in seconds of the source.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SegmenterConfig {
    /// Hands at rest (down and not moving) this long end an utterance.
    pub rest_seconds: f64,
    /// Hands without movement this long end an utterance even when raised (longer than any
    /// held sign).
    pub still_seconds: f64,
    /// Activity spanning less than this is dropped.
    pub min_segment_seconds: f64,
    /// Most frames in one window; a longer utterance is cut into overlapping windows.
    pub max_window_frames: usize,
    /// Frames shared by consecutive windows of one utterance.
    pub window_overlap_frames: usize,
    /// Context kept before the first and after the last active frame (at most `rest_seconds`).
    pub pad_seconds: f64,
    /// A wrist above this height (body units) is raised into the signing space.
    pub hand_raised_enter_in_body_units: f32,
    /// A raised wrist below this height (body units) is down again; below it, movement is rest.
    pub hand_raised_exit_in_body_units: f32,
    /// A hand faster than this (body units per second; its wrist or its points on average,
    /// whichever is faster) is moving.
    pub hand_moving_enter_in_body_units_per_second: f32,
    /// A moving hand slower than this (body units per second) has stopped.
    pub hand_moving_exit_in_body_units_per_second: f32,
    /// Speed is measured over this span, which averages out per-frame jitter.
    pub motion_span_seconds: f64,
    /// Points with a lower confidence count as not found.
    pub min_keypoint_score: f32,
    /// A longer run of skipped frames is not interpolated: it ends the open utterance and the
    /// stream starts afresh.
    pub max_gap_seconds: f64,
}

/// The defaults come from MediaPipe poses of the five eval clips (25 and 29.97 fps): signing
/// wrists were between 0 and -0.8 body units (HOUSE's lowest hold -0.77), hands at rest between
/// -0.96 (DIFFERENT, hands clasped at the belly) and -1.45 (arms hanging); signing moved the
/// hands at 1.2 to 5 units/s (FOOTBALL's interlocking fingers 1.2 to 1.7), resting hands jittered
/// below 0.5 (up to 1 while settling). Holds lasted up to 0.8 s, the rest between two joined
/// clips 1 s. On those clips every threshold can move by 0.05 units, 0.3 units/s or 0.2 s and
/// the clips still segment as their ground truth says.
impl Default for SegmenterConfig {
    fn default() -> Self {
        Self {
            rest_seconds: 0.5,
            still_seconds: 2.0,
            min_segment_seconds: 0.3,
            max_window_frames: 256,
            window_overlap_frames: 64,
            pad_seconds: 0.12,
            hand_raised_enter_in_body_units: -0.85,
            hand_raised_exit_in_body_units: -1.0,
            hand_moving_enter_in_body_units_per_second: 1.5,
            hand_moving_exit_in_body_units_per_second: 1.0,
            motion_span_seconds: 0.1,
            min_keypoint_score: 0.3,
            max_gap_seconds: 2.0,
        }
    }
}

/// A setting of [`SegmenterConfig`] that cannot work.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SegmenterConfigError {
    /// A time is negative or not a number.
    #[error("segmenter: {name} must be a number of seconds >= 0, not {value}")]
    Seconds { name: &'static str, value: f64 },
    /// The window cannot hold a frame beyond its overlap.
    #[error("segmenter: window_overlap_frames ({overlap}) must be below max_window_frames ({max})")]
    Window { max: usize, overlap: usize },
    /// An exit threshold is not below its enter threshold.
    #[error("segmenter: {name}: the exit threshold must be below the enter threshold")]
    Hysteresis { name: &'static str },
}

impl SegmenterConfig {
    /// Checks the settings; [`Segmenter::new`] clamps bad ones instead, this names them.
    pub fn validate(&self) -> Result<(), SegmenterConfigError> {
        for (name, value) in [
            ("rest_seconds", self.rest_seconds),
            ("still_seconds", self.still_seconds),
            ("min_segment_seconds", self.min_segment_seconds),
            ("pad_seconds", self.pad_seconds),
            ("motion_span_seconds", self.motion_span_seconds),
            ("max_gap_seconds", self.max_gap_seconds),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(SegmenterConfigError::Seconds { name, value });
            }
        }
        if self.window_overlap_frames >= self.max_window_frames {
            return Err(SegmenterConfigError::Window {
                max: self.max_window_frames,
                overlap: self.window_overlap_frames,
            });
        }
        // Not a number on either side fails too.
        let below = |exit: f32, enter: f32| exit.partial_cmp(&enter) == Some(Ordering::Less);
        if !below(
            self.hand_raised_exit_in_body_units,
            self.hand_raised_enter_in_body_units,
        ) {
            return Err(SegmenterConfigError::Hysteresis {
                name: "hand_raised",
            });
        }
        if !below(
            self.hand_moving_exit_in_body_units_per_second,
            self.hand_moving_enter_in_body_units_per_second,
        ) {
            return Err(SegmenterConfigError::Hysteresis {
                name: "hand_moving",
            });
        }
        Ok(())
    }
}
