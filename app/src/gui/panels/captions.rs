//! Captions: the log of provisional and final captions, the live transcript file, the caption
//! panel (current line, history with times, look, copy) and the caption track on the timeline.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use egui::{Color32, RichText, Sense};
use signcap_engine::captions::Caption;

use crate::gui::app::App;
use crate::gui::panels::model::ModelState;
use crate::gui::pipeline::CaptionUpdate;

/// A caption's window: (utterance, window within it).
fn window_key(caption: &CaptionUpdate) -> (u64, usize) {
    (caption.span.utterance, caption.span.window)
}

/// The captions of the open source: final ones in order, and the provisional one of the
/// utterance still being signed.
#[derive(Clone, Debug, Default)]
pub struct CaptionLog {
    /// Final captions, one per window of an utterance, in start order.
    pub finals: Vec<CaptionUpdate>,
    /// The newest provisional caption, until its utterance is final.
    pub provisional: Option<CaptionUpdate>,
}

impl CaptionLog {
    /// Takes an update; returns true when it is a new or revised final caption.
    pub fn apply(&mut self, update: CaptionUpdate) -> bool {
        let key = window_key(&update);
        if !update.is_final {
            // A late provisional caption of a window already final is stale.
            if !self.finals.iter().any(|f| window_key(f) == key) {
                self.provisional = Some(update);
            }
            return false;
        }
        if self
            .provisional
            .as_ref()
            .is_some_and(|p| window_key(p) == key)
        {
            self.provisional = None;
        }
        // Playing a stretch again captions its utterances again under new ids: the new
        // caption replaces the old ones it overlaps (windows of one utterance overlap by
        // design and stay).
        let (start, end) = (update.span.start, update.span.end);
        self.finals.retain(|f| {
            f.span.utterance == update.span.utterance || f.span.end <= start || f.span.start >= end
        });
        match self.finals.iter_mut().find(|f| window_key(f) == key) {
            Some(existing) => *existing = update,
            None => {
                let at = self
                    .finals
                    .partition_point(|f| f.span.start <= update.span.start);
                self.finals.insert(at, update);
            }
        }
        true
    }

    /// The final captions as the engine writes them.
    pub fn captions(&self) -> Vec<Caption> {
        self.finals
            .iter()
            .map(|f| Caption {
                start: f.span.start,
                end: f.span.end.max(f.span.start),
                text: f.text.clone(),
                confidence: f.confidence,
            })
            .collect()
    }

    /// Every final caption, one per line with its times (for "Copy all").
    pub fn transcript_text(&self) -> String {
        self.finals.iter().map(transcript_line).collect()
    }
}

/// `M:SS.s` for the history and the track.
pub fn short_time(seconds: f64) -> String {
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    format!("{}:{:02}.{}", tenths / 600, tenths / 10 % 60, tenths % 10)
}

/// `HH:MM:SS.mmm`.
fn long_time(seconds: f64) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// One transcript line: `HH:MM:SS.mmm --> HH:MM:SS.mmm  text`.
pub fn transcript_line(caption: &CaptionUpdate) -> String {
    let text = caption
        .text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{} --> {}  {text}\n",
        long_time(caption.span.start),
        long_time(caption.span.end)
    )
}

/// `YYYY-MM-DD_HH-MM-SS` (UTC) of the Unix time `seconds`.
pub fn file_timestamp(seconds: u64) -> String {
    // Days to civil date (Howard Hinnant's algorithm).
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}_{:02}-{:02}-{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The live transcript: each final caption appended and flushed to disk as it arrives, so a
/// crash loses nothing said.
pub struct Transcript {
    /// The file.
    pub path: PathBuf,
    file: std::fs::File,
}

impl Transcript {
    /// Creates `<dir>/<timestamp>.txt` (a new name if taken) with a header naming `source`.
    pub fn create(dir: &Path, source: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stamp = file_timestamp(now);
        let mut attempt = 0;
        loop {
            let name = if attempt == 0 {
                format!("{stamp}.txt")
            } else {
                format!("{stamp}-{attempt}.txt")
            };
            let path = dir.join(name);
            match std::fs::OpenOptions::new()
                .append(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    let mut transcript = Self { path, file };
                    transcript.append(&format!("# signcap transcript of {source}\n"))?;
                    return Ok(transcript);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            }
        }
    }

    /// Appends `text` and makes it durable.
    pub fn append(&mut self, text: &str) -> anyhow::Result<()> {
        self.file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("writing the transcript {}", self.path.display()))
    }
}

/// Colours of a caption line: (text, background).
fn line_colors(ui: &egui::Ui, high_contrast: bool, provisional: bool) -> (Color32, Color32) {
    match (high_contrast, provisional) {
        (true, false) => (Color32::WHITE, Color32::BLACK),
        (true, true) => (Color32::from_gray(200), Color32::BLACK),
        (false, false) => (ui.visuals().strong_text_color(), Color32::TRANSPARENT),
        (false, true) => (ui.visuals().weak_text_color(), Color32::TRANSPARENT),
    }
}

impl App {
    /// Takes one caption from the pipeline: the log, the live transcript.
    pub fn receive_caption(&mut self, update: CaptionUpdate) {
        if !self.captions.apply(update.clone()) {
            return;
        }
        if self.transcript_failed {
            return;
        }
        if self.transcript.is_none() {
            let dir = self
                .settings
                .captions
                .transcript_dir
                .clone()
                .or_else(crate::gui::settings::default_transcript_dir);
            let source = self
                .source_info
                .as_ref()
                .map_or_else(|| "an unnamed source".to_owned(), |i| i.name.clone());
            let created = dir
                .ok_or_else(|| anyhow::anyhow!("no folder for transcripts (HOME is not set)"))
                .and_then(|dir| Transcript::create(&dir, &source));
            match created {
                Ok(transcript) => self.transcript = Some(transcript),
                Err(e) => {
                    self.transcript_failed = true;
                    self.notice(format!("The live transcript is off: {e:#}"), true);
                    return;
                }
            }
        }
        if let Some(transcript) = &mut self.transcript
            && let Err(e) = transcript.append(&transcript_line(&update))
        {
            self.transcript = None;
            self.transcript_failed = true;
            self.notice(format!("The live transcript stopped: {e:#}"), true);
        }
    }

    /// The caption panel: the current line, the history, the look, copy.
    pub(crate) fn captions_ui(&mut self, ui: &mut egui::Ui) {
        let font_size = self.settings.captions.font_size;
        let high_contrast = self.settings.captions.high_contrast;
        ui.horizontal(|ui| {
            ui.strong("Captions");
            let before = self.settings.captions.clone();
            let label = ui.label("Font size");
            ui.add(
                egui::DragValue::new(&mut self.settings.captions.font_size)
                    .range(10.0..=72.0)
                    .speed(0.5),
            )
            .labelled_by(label.id);
            ui.checkbox(&mut self.settings.captions.high_contrast, "High contrast");
            if ui
                .add_enabled(
                    !self.captions.finals.is_empty(),
                    egui::Button::new("Copy all"),
                )
                .clicked()
            {
                ui.ctx().copy_text(self.captions.transcript_text());
            }
            if let Some(transcript) = &self.transcript {
                ui.weak(format!("Transcript: {}", transcript.path.display()));
            }
            if before != self.settings.captions {
                self.save_settings();
            }
        });
        if !matches!(self.model.state, ModelState::Ready(..)) {
            self.model_status_ui(ui);
        }
        // The current line: the provisional caption, else the newest final one.
        let current = self
            .captions
            .provisional
            .as_ref()
            .map(|p| (p, true))
            .or_else(|| self.captions.finals.last().map(|f| (f, false)));
        let (text_color, background) = line_colors(ui, high_contrast, current.is_some_and(|c| c.1));
        egui::Frame::new()
            .fill(background)
            .inner_margin(6.0)
            .show(ui, |ui| {
                ui.set_min_width(ui.available_width());
                match current {
                    Some((caption, provisional)) => {
                        let mut text = RichText::new(&caption.text)
                            .size(font_size)
                            .color(text_color);
                        if provisional {
                            text = text.italics();
                        }
                        ui.label(text);
                    }
                    None => {
                        ui.label(RichText::new(" ").size(font_size));
                    }
                }
            });
        let mut copied = None;
        egui::ScrollArea::vertical()
            .max_height(110.0)
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for (i, caption) in self.captions.finals.iter().enumerate() {
                    ui.horizontal(|ui| {
                        if ui.small_button("Copy").clicked() {
                            copied = Some(caption.text.clone());
                        }
                        ui.weak(format!(
                            "{}–{}",
                            short_time(caption.span.start),
                            short_time(caption.span.end)
                        ));
                        let (color, _) = line_colors(ui, high_contrast, false);
                        ui.label(RichText::new(&caption.text).color(color))
                            .on_hover_text(format!(
                                "Caption {}: confidence {:.2}",
                                i + 1,
                                caption.confidence
                            ));
                    });
                }
            });
        if let Some(text) = copied {
            ui.ctx().copy_text(text);
        }
    }

    /// The caption track over the timeline: one box per caption from its start to its end;
    /// clicking one seeks to its start.
    pub(crate) fn caption_track_ui(&mut self, ui: &mut egui::Ui) {
        let Some(info) = self.source_info.clone() else {
            return;
        };
        let Some(frame_count) = info.frame_count.filter(|&n| n > 0) else {
            return;
        };
        let fps = if info.fps > 0.0 { info.fps } else { 25.0 };
        let duration = (frame_count as f64 / fps).max(1e-3);
        let (rect, _) =
            ui.allocate_exact_size(egui::vec2(ui.available_width(), 22.0), Sense::hover());
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
        let x_of = |t: f64| rect.left() + (t / duration).clamp(0.0, 1.0) as f32 * rect.width();
        let mut seek_to = None;
        let boxes = self
            .captions
            .finals
            .iter()
            .map(|c| (c, false))
            .chain(self.captions.provisional.iter().map(|c| (c, true)));
        for (caption, provisional) in boxes {
            let left = x_of(caption.span.start);
            let right = x_of(caption.span.end).max(left + 6.0);
            let box_rect =
                egui::Rect::from_x_y_ranges(left..=right, rect.top() + 2.0..=rect.bottom() - 2.0);
            let id = ui
                .scope_id()
                .with(("caption-box", window_key(caption), provisional));
            let response = ui.interact(box_rect, id, Sense::click());
            let label = format!(
                "Caption at {}: {}",
                short_time(caption.span.start),
                caption.text
            );
            response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, label.clone()));
            let fill = if provisional {
                ui.visuals().widgets.inactive.bg_fill
            } else if response.hovered() {
                ui.visuals().selection.bg_fill.gamma_multiply(1.3)
            } else {
                ui.visuals().selection.bg_fill
            };
            painter.rect_filled(box_rect, 3.0, fill);
            let text_painter = painter.with_clip_rect(box_rect.shrink(2.0));
            text_painter.text(
                box_rect.left_center() + egui::vec2(3.0, 0.0),
                egui::Align2::LEFT_CENTER,
                &caption.text,
                egui::FontId::proportional(11.0),
                ui.visuals().strong_text_color(),
            );
            if response.clicked() {
                seek_to = Some(caption.span.start);
            }
            response.on_hover_text(label);
        }
        let playhead = x_of(self.player.displayed_index as f64 / fps);
        painter.vline(
            playhead,
            rect.y_range(),
            egui::Stroke::new(1.5, ui.visuals().strong_text_color()),
        );
        if let Some(start) = seek_to {
            let frame = (start * fps).round() as u64;
            self.seek(frame.min(frame_count - 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(utterance: u64, start: f64, text: &str, is_final: bool) -> CaptionUpdate {
        let now = std::time::Instant::now();
        CaptionUpdate {
            span: crate::gui::pipeline::SegmentSpan {
                utterance,
                window: 0,
                start,
                end: start + 1.0,
                first_index: 0,
                last_index: 0,
                is_final,
            },
            text: text.into(),
            ids: Vec::new(),
            token_logprobs: Vec::new(),
            confidence: 0.5,
            alternatives: Vec::new(),
            is_final,
            requested_at: now,
            ready_at: now,
            last_frame_captured_at: None,
        }
    }

    #[test]
    fn finals_replace_their_provisional_and_stale_provisionals_are_ignored() {
        let mut log = CaptionLog::default();
        assert!(!log.apply(update(1, 2.0, "hel", false)));
        assert_eq!(
            log.provisional.as_ref().map(|p| p.text.as_str()),
            Some("hel")
        );
        assert!(log.apply(update(1, 2.0, "hello", true)));
        assert!(log.provisional.is_none());
        assert!(!log.apply(update(1, 2.0, "late", false)));
        assert!(log.provisional.is_none());
        assert!(log.apply(update(0, 0.5, "first", true)));
        let texts: Vec<&str> = log.finals.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, ["first", "hello"]);
        // The same stretch captioned again (a second pass) replaces what it overlaps.
        assert!(log.apply(update(7, 2.2, "hello again", true)));
        let texts: Vec<&str> = log.finals.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(texts, ["first", "hello again"]);
    }

    #[test]
    fn timestamps_and_transcript_lines() {
        // 2026-12-04 02:05:07 UTC.
        assert_eq!(file_timestamp(1_796_349_907), "2026-12-04_02-05-07");
        assert_eq!(file_timestamp(0), "1970-01-01_00-00-00");
        assert_eq!(short_time(61.25), "1:01.3");
        let line = transcript_line(&update(0, 3661.5, "two\n words", true));
        assert_eq!(line, "01:01:01.500 --> 01:01:02.500  two words\n");
    }
}
