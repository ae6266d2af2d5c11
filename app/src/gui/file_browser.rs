//! Choosing files: the desktop's own dialog when there is one, and a small in-window browser
//! that works everywhere (under Xvfb, without a portal, in tests).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError, bounded};

/// What the chosen path is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserPurpose {
    /// Open a video.
    Open,
    /// Export the whole clip with this extension.
    ExportClip(&'static str),
    /// Export the current frame's keypoints (.json).
    ExportFrame,
    /// Export the captions with this extension (srt, vtt, json).
    ExportCaptions(&'static str),
    /// Choose a Uni-Sign checkpoint (.pth, .safetensors).
    ModelCheckpoint,
    /// Choose the mT5 folder.
    Mt5Folder,
}

impl BrowserPurpose {
    /// Whether a folder is chosen rather than a file.
    pub fn wants_folder(self) -> bool {
        matches!(self, BrowserPurpose::Mt5Folder)
    }

    fn title(self) -> &'static str {
        match self {
            BrowserPurpose::Open => "Open video",
            BrowserPurpose::ExportClip(_) => "Export keypoints",
            BrowserPurpose::ExportFrame => "Export current frame",
            BrowserPurpose::ExportCaptions(_) => "Export captions",
            BrowserPurpose::ModelCheckpoint => "Choose a Uni-Sign checkpoint",
            BrowserPurpose::Mt5Folder => "Choose the mT5 folder",
        }
    }

    fn suggested_name(self) -> String {
        match self {
            BrowserPurpose::ExportClip(ext) => format!("keypoints.{ext}"),
            BrowserPurpose::ExportFrame => "frame.json".to_owned(),
            BrowserPurpose::ExportCaptions(ext) => format!("captions.{ext}"),
            BrowserPurpose::Open | BrowserPurpose::ModelCheckpoint | BrowserPurpose::Mt5Folder => {
                String::new()
            }
        }
    }
}

/// The browser's state.
pub struct FileBrowser {
    /// What the path is for.
    pub purpose: BrowserPurpose,
    dir: PathBuf,
    file_name: String,
    entries: Result<Vec<(String, bool)>, String>,
}

impl FileBrowser {
    /// A browser showing `dir`.
    pub fn new(purpose: BrowserPurpose, dir: PathBuf) -> Self {
        let file_name = purpose.suggested_name();
        let mut browser = Self {
            purpose,
            dir,
            file_name,
            entries: Ok(Vec::new()),
        };
        browser.refresh();
        browser
    }

    fn refresh(&mut self) {
        self.entries = std::fs::read_dir(&self.dir)
            .map_err(|e| format!("{}: {e}", self.dir.display()))
            .map(|read| {
                let mut entries: Vec<(String, bool)> = read
                    .filter_map(Result::ok)
                    .map(|e| {
                        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                        (e.file_name().to_string_lossy().into_owned(), is_dir)
                    })
                    .filter(|(name, _)| !name.starts_with('.'))
                    .collect();
                entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                entries
            });
    }

    /// Shows the window. `Some(Some(path))` when a path was chosen, `Some(None)` when
    /// cancelled, `None` while still open.
    pub fn window(&mut self, ctx: &egui::Context) -> Option<Option<PathBuf>> {
        let title = self.purpose.title();
        let mut outcome = None;
        let mut open = true;
        let mut go_to = None;
        egui::Window::new(title)
            .open(&mut open)
            .default_size([480.0, 400.0])
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    if ui.button("Up").clicked()
                        && let Some(parent) = self.dir.parent()
                    {
                        go_to = Some(parent.to_path_buf());
                    }
                    ui.label(self.dir.display().to_string());
                });
                egui::ScrollArea::vertical()
                    .max_height(260.0)
                    .show(ui, |ui| match &self.entries {
                        Err(message) => {
                            ui.colored_label(ui.visuals().error_fg_color, message);
                        }
                        Ok(entries) => {
                            for (name, is_dir) in entries {
                                let label = if *is_dir {
                                    format!("{name}/")
                                } else {
                                    name.clone()
                                };
                                if ui
                                    .selectable_label(self.file_name == *name, label)
                                    .clicked()
                                {
                                    if *is_dir {
                                        go_to = Some(self.dir.join(name));
                                    } else {
                                        self.file_name = name.clone();
                                    }
                                }
                            }
                        }
                    });
                ui.horizontal(|ui| {
                    let label = ui.label("File name");
                    ui.text_edit_singleline(&mut self.file_name)
                        .labelled_by(label.id);
                });
                ui.horizontal(|ui| {
                    let action = match self.purpose {
                        BrowserPurpose::Open => "Open",
                        BrowserPurpose::ModelCheckpoint => "Choose",
                        BrowserPurpose::Mt5Folder => "Choose folder",
                        _ => "Export",
                    };
                    let name = self.file_name.trim();
                    if ui.button(action).clicked() {
                        if !name.is_empty() {
                            outcome = Some(Some(self.dir.join(name)));
                        } else if self.purpose.wants_folder() {
                            outcome = Some(Some(self.dir.clone()));
                        }
                    }
                    if ui.button("Cancel").clicked() {
                        outcome = Some(None);
                    }
                });
            });
        if let Some(dir) = go_to {
            self.dir = dir;
            self.refresh();
        }
        if !open {
            return Some(None);
        }
        outcome
    }
}

/// Extensions the open dialog offers: videos and pose files.
const OPEN_EXTENSIONS: [&str; 9] = [
    "mp4", "mov", "mkv", "webm", "avi", "m4v", "pose", "json", "pkl",
];

/// A dialog answered faster than this was never shown: no portal and no zenity.
const UNAVAILABLE_WITHIN: Duration = Duration::from_millis(300);

/// How the desktop's file dialog ended.
#[derive(Debug, PartialEq)]
pub enum SystemDialogOutcome {
    /// The user chose this path.
    Chosen(PathBuf),
    /// The user cancelled.
    Cancelled,
    /// No dialog could be shown (no xdg-desktop-portal and no zenity).
    Unavailable,
}

/// The desktop's own file dialog (xdg-desktop-portal, else zenity, through `rfd`), run on a
/// worker thread so the UI keeps drawing while it is open.
pub struct SystemDialog {
    /// What the path is for.
    pub purpose: BrowserPurpose,
    started: Instant,
    answer: Receiver<Option<PathBuf>>,
}

impl SystemDialog {
    /// Opens the dialog in `dir`; `repaint` wakes the UI when it closes.
    pub fn start(
        purpose: BrowserPurpose,
        dir: PathBuf,
        repaint: impl Fn() + Send + 'static,
    ) -> Self {
        let (answer_tx, answer) = bounded(1);
        let dialog = rfd::AsyncFileDialog::new().set_directory(&dir);
        std::thread::spawn(move || {
            let chosen = pollster::block_on(async move {
                let dialog = dialog.set_title(purpose.title());
                let handle = match purpose {
                    BrowserPurpose::Open => {
                        dialog
                            .add_filter("Videos and pose files", &OPEN_EXTENSIONS)
                            .pick_file()
                            .await
                    }
                    BrowserPurpose::ModelCheckpoint => {
                        dialog
                            .add_filter("Uni-Sign checkpoints", &["pth", "safetensors"])
                            .pick_file()
                            .await
                    }
                    BrowserPurpose::Mt5Folder => dialog.pick_folder().await,
                    BrowserPurpose::ExportClip(_)
                    | BrowserPurpose::ExportFrame
                    | BrowserPurpose::ExportCaptions(_) => {
                        dialog
                            .set_file_name(purpose.suggested_name())
                            .save_file()
                            .await
                    }
                };
                handle.map(|h| h.path().to_path_buf())
            });
            // The app may have closed the dialog's owner meanwhile.
            let _ = answer_tx.send(chosen);
            repaint();
        });
        Self {
            purpose,
            started: Instant::now(),
            answer,
        }
    }

    /// The outcome once the dialog has closed, `None` while it is open.
    pub fn poll(&self) -> Option<SystemDialogOutcome> {
        match self.answer.try_recv() {
            Ok(Some(path)) => Some(SystemDialogOutcome::Chosen(path)),
            Ok(None) => Some(classify_empty_answer(self.started.elapsed())),
            Err(TryRecvError::Empty) => None,
            // The worker died without answering: treat it like a dialog that never came up.
            Err(TryRecvError::Disconnected) => Some(SystemDialogOutcome::Unavailable),
        }
    }
}

/// An answer without a path is a cancel, unless it came too fast for anyone to have seen a
/// dialog: `rfd` answers `None` both ways.
fn classify_empty_answer(after: Duration) -> SystemDialogOutcome {
    if after < UNAVAILABLE_WITHIN {
        SystemDialogOutcome::Unavailable
    } else {
        SystemDialogOutcome::Cancelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_empty_answer_means_no_dialog_was_shown() {
        assert_eq!(
            classify_empty_answer(Duration::from_millis(20)),
            SystemDialogOutcome::Unavailable
        );
        assert_eq!(
            classify_empty_answer(Duration::from_secs(3)),
            SystemDialogOutcome::Cancelled
        );
    }
}
