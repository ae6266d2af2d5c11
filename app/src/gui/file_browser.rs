//! A small in-window file browser for opening videos and choosing export paths (no native
//! dialog dependency, and it works the same under Xvfb and in tests).

use std::path::PathBuf;

/// What the chosen path is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserPurpose {
    /// Open a video.
    Open,
    /// Export the whole clip with this extension.
    ExportClip(&'static str),
    /// Export the current frame's keypoints (.json).
    ExportFrame,
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
        let file_name = match purpose {
            BrowserPurpose::Open => String::new(),
            BrowserPurpose::ExportClip(ext) => format!("keypoints.{ext}"),
            BrowserPurpose::ExportFrame => "frame.json".to_owned(),
        };
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
        let title = match self.purpose {
            BrowserPurpose::Open => "Open video",
            BrowserPurpose::ExportClip(_) => "Export keypoints",
            BrowserPurpose::ExportFrame => "Export current frame",
        };
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
                        _ => "Export",
                    };
                    if ui.button(action).clicked() && !self.file_name.trim().is_empty() {
                        outcome = Some(Some(self.dir.join(self.file_name.trim())));
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
