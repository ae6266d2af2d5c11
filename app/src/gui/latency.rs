//! The latency panel: for each pipeline stage how long after capture its output is ready and
//! what it computes for, queue lengths, fps, dropped frames, UI frame time and how far the
//! overlay trails the video.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use egui::util::History;

use super::pipeline::{PipelineCounters, Stage};

const WINDOW_SECONDS: f32 = 10.0;
const MAX_SAMPLES: usize = 2000;

fn history() -> History<f32> {
    History::new(0..MAX_SAMPLES, WINDOW_SECONDS)
}

/// Rolling figures of one stage.
struct StageFigures {
    /// From the frame's capture to this stage's output (capture: to the screen; translator:
    /// from the utterance's last frame to its caption).
    from_capture_ms: History<f32>,
    /// Time the stage itself spent, where it is known.
    compute_ms: History<f32>,
}

/// Rolling figures over the last ten seconds, plus every sample of UI frame time and overlay
/// lag since the source was opened (for the headless bench).
pub struct LatencyStats {
    epoch: Instant,
    stages: [StageFigures; Stage::ALL.len()],
    ui_frame_ms: History<f32>,
    overlay_lag_frames: History<f32>,
    displayed: History<f32>,
    queues: [usize; 3],
    /// Worker counters of the open pipeline.
    pub counters: Option<Arc<PipelineCounters>>,
    /// Every UI frame time in ms since the source was opened.
    pub all_ui_frame_ms: Vec<f32>,
    /// Every overlay lag in frames while playing since the source was opened.
    pub all_overlay_lag_frames: Vec<u64>,
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            stages: std::array::from_fn(|_| StageFigures {
                from_capture_ms: history(),
                compute_ms: history(),
            }),
            ui_frame_ms: history(),
            overlay_lag_frames: history(),
            displayed: history(),
            queues: [0; 3],
            counters: None,
            all_ui_frame_ms: Vec::new(),
            all_overlay_lag_frames: Vec::new(),
        }
    }
}

/// The `p`-quantile (0..=1) of `values`, nearest rank.
pub fn percentile(values: &[f32], p: f64) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

/// What a stage's latency measures, for the panel.
fn latency_meaning(stage: Stage) -> &'static str {
    match stage {
        Stage::Capture => "captured to on screen",
        Stage::Pose => "captured to keypoints",
        Stage::Segmenter => "last frame to translation asked",
        Stage::Translator => "last frame to caption",
    }
}

fn stage_slot(stage: Stage) -> usize {
    Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0)
}

impl LatencyStats {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// `stage` produced an output `from_capture` after its frame was captured, spending
    /// `compute` on it where known.
    pub fn record_stage(
        &mut self,
        stage: Stage,
        from_capture: Duration,
        compute: Option<Duration>,
    ) {
        let now = self.now();
        let figures = &mut self.stages[stage_slot(stage)];
        figures
            .from_capture_ms
            .add(now, from_capture.as_secs_f32() * 1000.0);
        if let Some(compute) = compute {
            figures.compute_ms.add(now, compute.as_secs_f32() * 1000.0);
        }
    }

    /// Samples of `stage` over the window: (from capture, compute), in ms.
    pub fn stage_samples(&self, stage: Stage) -> (Vec<f32>, Vec<f32>) {
        let figures = &self.stages[stage_slot(stage)];
        (
            figures.from_capture_ms.values().collect(),
            figures.compute_ms.values().collect(),
        )
    }

    /// A new frame went on screen at `_at`.
    pub fn record_displayed(&mut self, _at: Instant) {
        let now = self.now();
        self.displayed.add(now, 1.0);
    }

    /// Current queue lengths: capture → UI, capture → pose, pose → UI.
    pub fn record_queues(&mut self, to_ui: usize, to_pose: usize, poses_to_ui: usize) {
        self.queues = [to_ui, to_pose, poses_to_ui];
    }

    /// The UI spent `duration` building a frame.
    pub fn record_ui_frame(&mut self, duration: Duration) {
        let ms = duration.as_secs_f32() * 1000.0;
        let now = self.now();
        self.ui_frame_ms.add(now, ms);
        if self.all_ui_frame_ms.len() < 1_000_000 {
            self.all_ui_frame_ms.push(ms);
        }
    }

    /// While playing, the drawn pose was `frames` behind the displayed frame.
    pub fn record_overlay_lag(&mut self, frames: u64) {
        let now = self.now();
        self.overlay_lag_frames.add(now, frames as f32);
        if self.all_overlay_lag_frames.len() < 1_000_000 {
            self.all_overlay_lag_frames.push(frames);
        }
    }

    /// Frames shown per second over the window.
    pub fn display_fps(&self) -> f32 {
        self.displayed.rate().unwrap_or(0.0)
    }

    /// Draws the panel.
    pub fn ui(&self, ui: &mut egui::Ui) {
        let quantiles = |h: &History<f32>| {
            let v: Vec<f32> = h.values().collect();
            percentile(&v, 0.5).zip(percentile(&v, 0.99))
        };
        egui::Grid::new("latency").num_columns(1).show(ui, |ui| {
            ui.label(format!("Display: {:.1} fps", self.display_fps()));
            ui.end_row();
            for stage in Stage::ALL {
                let figures = &self.stages[stage_slot(stage)];
                let mut line = format!("{}: ", stage.name());
                match quantiles(&figures.from_capture_ms) {
                    Some((p50, p99)) => line.push_str(&format!(
                        "{} {p50:.0} ms (p99 {p99:.0})",
                        latency_meaning(stage)
                    )),
                    None => line.push('-'),
                }
                if let Some((p50, _)) = quantiles(&figures.compute_ms) {
                    line.push_str(&format!(", computes {p50:.1} ms"));
                }
                ui.label(line);
                ui.end_row();
            }
            match quantiles(&self.ui_frame_ms) {
                Some((p50, p99)) => ui.label(format!("UI frame: p50 {p50:.1} ms, p99 {p99:.1} ms")),
                None => ui.label("UI frame: -"),
            };
            ui.end_row();
            match quantiles(&self.overlay_lag_frames) {
                Some((p50, p99)) => ui.label(format!(
                    "Overlay behind video: p50 {p50:.0}, p99 {p99:.0} frames"
                )),
                None => ui.label("Overlay behind video: -"),
            };
            ui.end_row();
            ui.label(format!(
                "Queues: to screen {}, to pose {}, poses {}",
                self.queues[0], self.queues[1], self.queues[2]
            ));
            ui.end_row();
            if let Some(c) = &self.counters {
                let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                ui.label(format!(
                    "Decoded {}, poses {}, segmented {}",
                    n(&c.decoded),
                    n(&c.poses_computed),
                    n(&c.poses_segmented)
                ));
                ui.end_row();
                ui.label(format!(
                    "Dropped: before pose {}, before screen {}, by clock {}, before segmenter {}",
                    n(&c.dropped_before_pose),
                    n(&c.dropped_before_ui),
                    n(&c.skipped_by_clock),
                    n(&c.dropped_before_segmenter)
                ));
                ui.end_row();
                ui.label(format!(
                    "Utterances {}, provisional {} ({} coalesced), finals {}",
                    n(&c.utterances),
                    n(&c.provisional_done),
                    n(&c.provisional_coalesced),
                    n(&c.finals_done)
                ));
                ui.end_row();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f32> = (1..=100).map(|x| x as f32).collect();
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 1.0), Some(100.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
