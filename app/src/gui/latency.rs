//! The latency panel: per-stage latency, queue lengths, fps, dropped frames, UI frame time and
//! how far the overlay trails the video.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use egui::util::History;

use super::pipeline::PipelineCounters;

const WINDOW_SECONDS: f32 = 10.0;
const MAX_SAMPLES: usize = 2000;

fn history() -> History<f32> {
    History::new(0..MAX_SAMPLES, WINDOW_SECONDS)
}

/// Rolling figures over the last ten seconds, plus every sample of UI frame time and overlay
/// lag since the source was opened (for the headless bench).
pub struct LatencyStats {
    epoch: Instant,
    capture_to_ui_ms: History<f32>,
    capture_to_pose_ms: History<f32>,
    pose_compute_ms: History<f32>,
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
            capture_to_ui_ms: history(),
            capture_to_pose_ms: history(),
            pose_compute_ms: history(),
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

impl LatencyStats {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// A frame reached the UI `latency` after capture.
    pub fn record_capture(&mut self, latency: Duration) {
        let now = self.now();
        self.capture_to_ui_ms
            .add(now, latency.as_secs_f32() * 1000.0);
    }

    /// A new frame went on screen at `_at`.
    pub fn record_displayed(&mut self, _at: Instant) {
        let now = self.now();
        self.displayed.add(now, 1.0);
    }

    /// A pose was ready `latency` after capture, `compute` of it in the backend.
    pub fn record_pose(&mut self, latency: Duration, compute: Duration) {
        let now = self.now();
        self.capture_to_pose_ms
            .add(now, latency.as_secs_f32() * 1000.0);
        self.pose_compute_ms
            .add(now, compute.as_secs_f32() * 1000.0);
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
        let values = |h: &History<f32>| h.values().collect::<Vec<f32>>();
        let row = |ui: &mut egui::Ui, name: &str, h: &History<f32>, unit: &str| {
            let v = values(h);
            match (percentile(&v, 0.5), percentile(&v, 0.99)) {
                (Some(p50), Some(p99)) => {
                    ui.label(format!("{name}: p50 {p50:.1} {unit}, p99 {p99:.1} {unit}"))
                }
                _ => ui.label(format!("{name}: -")),
            };
        };
        egui::Grid::new("latency").num_columns(1).show(ui, |ui| {
            ui.label(format!("Display: {:.1} fps", self.display_fps()));
            ui.end_row();
            row(ui, "Capture to screen", &self.capture_to_ui_ms, "ms");
            ui.end_row();
            row(ui, "Capture to pose", &self.capture_to_pose_ms, "ms");
            ui.end_row();
            row(ui, "Pose compute", &self.pose_compute_ms, "ms");
            ui.end_row();
            row(ui, "UI frame", &self.ui_frame_ms, "ms");
            ui.end_row();
            row(
                ui,
                "Overlay behind video",
                &self.overlay_lag_frames,
                "frames",
            );
            ui.end_row();
            ui.label(format!(
                "Queues: to screen {}, to pose {}, poses {}",
                self.queues[0], self.queues[1], self.queues[2]
            ));
            ui.end_row();
            if let Some(c) = &self.counters {
                ui.label(format!(
                    "Decoded {}, poses {}",
                    c.decoded.load(Ordering::Relaxed),
                    c.poses_computed.load(Ordering::Relaxed)
                ));
                ui.end_row();
                ui.label(format!(
                    "Dropped: before pose {}, before screen {}, by clock {}",
                    c.dropped_before_pose.load(Ordering::Relaxed),
                    c.dropped_before_ui.load(Ordering::Relaxed),
                    c.skipped_by_clock.load(Ordering::Relaxed)
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
