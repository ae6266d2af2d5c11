//! The player: transport controls, the frame slider, the caption track, the confidence strip
//! and the keyboard shortcuts.

use egui::{Key, Modifiers, RichText};

use crate::gui::app::{App, SPEEDS, View};
use crate::gui::file_browser::BrowserPurpose;
use crate::gui::inspect;
use crate::gui::pipeline::CaptureCommand;
use crate::gui::skeleton::Group;

impl App {
    /// Starts playback.
    pub fn play(&mut self) {
        if let Some(pipeline) = &self.pipeline {
            self.player.playing = true;
            pipeline.command(CaptureCommand::Play {
                speed: self.player.speed,
            });
        }
    }

    /// Pauses playback.
    pub fn pause(&mut self) {
        if let Some(pipeline) = &self.pipeline {
            self.player.playing = false;
            pipeline.command(CaptureCommand::Pause);
            // Frames already on their way are ignored; the clock resumes from what is shown.
            pipeline.command(CaptureCommand::Seek(self.player.displayed_index));
            self.requested_index = Some(self.player.displayed_index);
            // That seek also ends the utterance under way without a caption.
            self.captions.provisional = None;
        }
    }

    /// Shows frame `index` (instantly when it is cached).
    pub fn seek(&mut self, index: u64) {
        let last = self.frame_count().unwrap_or(1).saturating_sub(1);
        let index = index.min(last);
        if let Some(pipeline) = &self.pipeline {
            self.player.displayed_index = index;
            self.requested_index = Some(index);
            pipeline.command(CaptureCommand::Seek(index));
            // The segmenter drops the utterance under way at a seek.
            self.captions.provisional = None;
        }
    }

    /// Pauses and moves by `delta` frames.
    pub fn step(&mut self, delta: i64) {
        self.pause();
        let target = self.player.displayed_index.saturating_add_signed(delta);
        self.seek(target);
    }

    /// Sets the playback speed.
    pub fn set_speed(&mut self, speed: f64) {
        self.player.speed = speed;
        if self.player.playing {
            self.play();
        }
    }

    pub(crate) fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let pressed = |key: Key| ctx.input_mut(|i| i.consume_key(Modifiers::NONE, key));
        if pressed(Key::Space) {
            if self.player.playing {
                self.pause();
            } else {
                self.play();
            }
        }
        if pressed(Key::ArrowRight) {
            self.step(1);
        }
        if pressed(Key::ArrowLeft) {
            self.step(-1);
        }
        if pressed(Key::Home) {
            self.seek(0);
        }
        if pressed(Key::N) {
            self.view = match self.view {
                View::Overlay => View::Normalized,
                View::Normalized => View::Overlay,
            };
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::O)) {
            self.choose_file(ctx, BrowserPurpose::Open);
        }
        if ctx.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::W)) {
            self.close();
        }
    }

    pub(crate) fn player_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let label = if self.player.playing { "Pause" } else { "Play" };
            if ui.button(label).clicked() {
                if self.player.playing {
                    self.pause();
                } else {
                    self.play();
                }
            }
            if ui.button("Previous frame").clicked() {
                self.step(-1);
            }
            if ui.button("Next frame").clicked() {
                self.step(1);
            }
            let speed_label = ui.label("Speed");
            let mut speed = self.player.speed;
            egui::ComboBox::from_id_salt("speed")
                .selected_text(format!("{speed}×"))
                .show_ui(ui, |ui| {
                    for s in SPEEDS {
                        ui.selectable_value(&mut speed, s, format!("{s}×"));
                    }
                })
                .response
                .labelled_by(speed_label.id);
            if speed != self.player.speed {
                self.set_speed(speed);
            }
            if let Some(count) = self.frame_count() {
                let last = count.saturating_sub(1);
                let mut position = self.player.displayed_index;
                let scrub_label = ui.label("Frame");
                ui.style_mut().spacing.slider_width = (ui.available_width() - 80.0).max(80.0);
                let response = ui
                    .add(egui::Slider::new(&mut position, 0..=last).show_value(true))
                    .labelled_by(scrub_label.id);
                if response.changed() {
                    self.seek(position);
                }
            } else if self.is_open() {
                ui.label(format!("Live frame {}", self.player.displayed_index));
            }
        });
        self.caption_track_ui(ui);
        self.confidence_strip_ui(ui);
    }

    pub(crate) fn confidence_strip_ui(&mut self, ui: &mut egui::Ui) {
        let Some(pipeline) = &self.pipeline else {
            return;
        };
        let count = pipeline.store.pose_count();
        if count != self.confidence_cache.0 {
            let scores = &mut self.group_scores;
            match self.source_info.as_ref().and_then(|i| i.frame_count) {
                // A file keeps every pose: score only the new ones (a lock per frame index,
                // no copies of poses already scored).
                Some(frames) => {
                    for index in 0..frames {
                        if !scores.contains_key(&index)
                            && let Some(stored) = pipeline.store.pose(index)
                        {
                            scores.insert(index, inspect::mean_scores(&stored.pose));
                        }
                    }
                }
                // A live source keeps only its newest poses.
                None => {
                    *scores = pipeline
                        .store
                        .poses()
                        .into_iter()
                        .map(|(i, p)| (i, inspect::mean_scores(&p.pose)))
                        .collect();
                }
            }
            let series = scores
                .iter()
                .map(|(i, m)| {
                    [
                        *i as f64,
                        m[0].into(),
                        m[1].into(),
                        m[2].into(),
                        m[3].into(),
                        m[4].into(),
                    ]
                })
                .collect();
            self.confidence_cache = (count, series);
        }
        let series = &self.confidence_cache.1;
        let playhead = self.player.displayed_index as f64;
        let last = self
            .frame_count()
            .map_or(playhead, |n| n.saturating_sub(1) as f64);
        // One strip per group, stacked: strip g spans [g, g + 0.8] for confidence 0..1.
        let strip_of = |g: usize| (Group::ALL.len() - 1 - g) as f64;
        egui_plot::Plot::new("confidence-strip")
            .height(110.0)
            .include_x(0.0)
            .include_x(last.max(1.0))
            .include_y(-0.1)
            .include_y(Group::ALL.len() as f64)
            .allow_drag(false)
            .allow_zoom(false)
            .allow_scroll(false)
            .allow_boxed_zoom(false)
            .show_axes([true, false])
            .show_grid([true, false])
            .show(ui, |plot_ui| {
                for (g, group) in Group::ALL.iter().enumerate() {
                    let base = strip_of(g);
                    let color = inspect::group_color(*group);
                    let points: Vec<[f64; 2]> = series
                        .iter()
                        .map(|s| [s[0], base + 0.8 * s[g + 1]])
                        .collect();
                    plot_ui.line(
                        egui_plot::Line::new(format!("{} confidence", group.label()), points)
                            .color(color)
                            .fill(base as f32),
                    );
                    plot_ui.text(
                        egui_plot::Text::new(
                            group.label(),
                            egui_plot::PlotPoint::new(0.0, base + 0.45),
                            RichText::new(group.label()).small().color(color),
                        )
                        .anchor(egui::Align2::LEFT_CENTER),
                    );
                }
                plot_ui.vline(egui_plot::VLine::new("Playhead", playhead));
            });
    }
}
