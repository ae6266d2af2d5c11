//! The model panel: choose the Uni-Sign checkpoint and the mT5 folder, the language, beams and
//! how often provisional captions come; the choice is checked on a worker (by loading it) with
//! one message in the user's terms, and remembered in the settings once it loads.

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::{Receiver, TryRecvError, bounded};
use signcap_engine::decode::translator::{Translator, TranslatorConfig, TranslatorError};
use signcap_engine::model::{Language, ModelError};

use crate::gui::app::App;
use crate::gui::file_browser::BrowserPurpose;
use crate::gui::settings::ModelSettings;

/// Where to get a model, for the "no model" state.
pub const NO_MODEL_HELP: &str = "No translation model yet, so there are no captions; \
     keypoints work without it. Get a pose-only Uni-Sign checkpoint from \
     https://huggingface.co/ZechengLi19/Uni-Sign and the mT5 folder from \
     https://huggingface.co/google/mt5-base (or run `signcap models download ...`), then \
     choose them in Model….";

/// Most tokens per caption (the official setting).
const MAX_NEW_TOKENS: usize = 100;

/// The language's name for people.
pub fn language_name(language: Language) -> &'static str {
    match language {
        Language::Chinese => "Chinese",
        Language::English => "English",
    }
}

/// The translator configuration `settings` describe, or `None` while a path is missing.
pub fn translator_config(settings: &ModelSettings) -> Option<TranslatorConfig> {
    let checkpoint = settings.checkpoint.clone()?;
    let mt5_dir = settings.mt5_dir.clone()?;
    let mut config = TranslatorConfig::new(checkpoint, mt5_dir);
    config.language = settings.language;
    config.beams = settings.beams.max(1);
    config.max_new_tokens = MAX_NEW_TOKENS;
    config.threads = settings.threads;
    Some(config)
}

/// Where the model stands.
#[derive(Clone)]
pub enum ModelState {
    /// No checkpoint or no mT5 folder chosen.
    NotChosen,
    /// Being loaded on a worker.
    Checking(TranslatorConfig),
    /// Loaded.
    Ready(TranslatorConfig, Arc<Translator>),
    /// Could not be loaded; the message is in the notices.
    Failed(TranslatorConfig),
}

impl std::fmt::Debug for ModelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelState::NotChosen => write!(f, "NotChosen"),
            ModelState::Checking(c) => write!(f, "Checking({})", c.checkpoint.display()),
            ModelState::Ready(c, _) => write!(f, "Ready({})", c.checkpoint.display()),
            ModelState::Failed(c) => write!(f, "Failed({})", c.checkpoint.display()),
        }
    }
}

/// A model being loaded on its own thread.
struct ModelCheck {
    answer: Receiver<Result<Translator, String>>,
    /// Whether a loaded model goes into the saved settings.
    remember: bool,
}

/// The model panel's state.
pub struct ModelPanel {
    /// What is chosen in the panel (applied with "Load model").
    pub choice: ModelSettings,
    /// The loaded (or failing) model.
    pub state: ModelState,
    /// Whether the window is shown.
    pub open: bool,
    check: Option<ModelCheck>,
}

impl ModelPanel {
    /// A panel showing `choice`, nothing loaded yet.
    pub fn new(choice: ModelSettings) -> Self {
        Self {
            choice,
            state: ModelState::NotChosen,
            open: false,
            check: None,
        }
    }

    /// The loaded translator, if any.
    pub fn translator(&self) -> Option<(&TranslatorConfig, &Arc<Translator>)> {
        match &self.state {
            ModelState::Ready(config, translator) => Some((config, translator)),
            _ => None,
        }
    }

    /// Whether a model is being loaded.
    pub fn is_checking(&self) -> bool {
        self.check.is_some()
    }
}

/// One message in the user's terms for a model that did not load.
pub fn describe_load_error(config: &TranslatorConfig, error: &TranslatorError) -> String {
    let checkpoint = config.checkpoint.display();
    let dir = config.mt5_dir.display();
    match error {
        TranslatorError::MissingCheckpoint(path) if path.is_dir() => format!(
            "{}: this is a folder; choose the checkpoint file (.pth or .safetensors)",
            path.display()
        ),
        TranslatorError::MissingCheckpoint(path) => {
            format!("{}: the checkpoint file does not exist", path.display())
        }
        TranslatorError::MissingMt5Folder(path) => {
            format!("{}: the mT5 folder does not exist", path.display())
        }
        TranslatorError::NotMt5Folder(path) => format!(
            "{}: this is not an mT5 folder (no config.json); choose the google/mt5-base folder",
            path.display()
        ),
        TranslatorError::NoTokenizer(path) => format!(
            "{}: the mT5 folder has no tokenizer (no spiece.model or tokenizer.json)",
            path.display()
        ),
        TranslatorError::Tokenizer(e) => format!("{dir}: the tokenizer cannot be read ({e})"),
        TranslatorError::Model(ModelError::RgbBranch { .. }) => format!(
            "{checkpoint}: this checkpoint needs the RGB branch, which signcap does not run \
             yet; use a pose_only checkpoint"
        ),
        TranslatorError::Model(ModelError::Io { source, .. }) => {
            format!("{checkpoint}: the checkpoint cannot be read ({source})")
        }
        TranslatorError::Model(ModelError::Unreadable { reason, .. }) => {
            format!("{checkpoint}: the checkpoint is truncated or corrupt ({reason})")
        }
        TranslatorError::Model(ModelError::Config { reason, .. }) => {
            format!("{dir}: config.json is not an mT5 configuration signcap can run ({reason})")
        }
        TranslatorError::Model(
            e @ (ModelError::MissingKey { .. }
            | ModelError::UnknownKey { .. }
            | ModelError::Shape { .. }
            | ModelError::Dtype { .. }
            | ModelError::DuplicateDiffers { .. }),
        ) => format!(
            "{checkpoint}: not a pose-only Uni-Sign checkpoint for the mT5 folder {dir} ({e})"
        ),
        other => format!("the model did not load: {other}"),
    }
}

/// Loads `config` or says in the user's terms why it cannot be loaded.
fn load(config: &TranslatorConfig) -> Result<Translator, String> {
    Translator::load(config).map_err(|e| describe_load_error(config, &e))
}

impl App {
    /// Loads the model `choice` describes on a worker; `remember` saves it in the settings
    /// once it has loaded.
    pub fn load_model(&mut self, ctx: &egui::Context, choice: ModelSettings, remember: bool) {
        self.model.choice = choice;
        let Some(config) = translator_config(&self.model.choice) else {
            self.model.state = ModelState::NotChosen;
            self.model.check = None;
            return;
        };
        let (answer_tx, answer) = bounded(1);
        let worker_config = config.clone();
        let repaint = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("signcap-model-check".into())
            .spawn(move || {
                let _span = tracing::info_span!("model_check").entered();
                // A newer choice may have replaced this one meanwhile.
                let _ = answer_tx.send(load(&worker_config));
                repaint.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.model.state = ModelState::Checking(config);
                self.model.check = Some(ModelCheck { answer, remember });
            }
            Err(e) => {
                self.model.state = ModelState::Failed(config);
                self.notice(format!("could not start loading the model: {e}"), true);
            }
        }
    }

    /// Takes the worker's answer once it is there; a source already open is opened again
    /// with the new model, at the same frame.
    pub(crate) fn pump_model(&mut self, ctx: &egui::Context) {
        let Some(check) = &self.model.check else {
            return;
        };
        let answer = match check.answer.try_recv() {
            Ok(answer) => answer,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err("the model loader crashed".to_owned()),
        };
        let remember = check.remember;
        self.model.check = None;
        let ModelState::Checking(config) = self.model.state.clone() else {
            return;
        };
        match answer {
            Ok(translator) => {
                tracing::info!("model loaded: {}", config.checkpoint.display());
                self.model.state = ModelState::Ready(config, Arc::new(translator));
                if remember {
                    self.settings.model = self.model.choice.clone();
                    self.save_settings();
                }
                self.reopen_at_same_frame(ctx);
            }
            Err(message) => {
                self.model.state = ModelState::Failed(config);
                self.notice(message, true);
            }
        }
    }

    /// Puts a path chosen in a file dialog into the panel and loads the result at once.
    pub(crate) fn use_model_path(
        &mut self,
        ctx: &egui::Context,
        purpose: BrowserPurpose,
        path: PathBuf,
    ) {
        let mut choice = self.model.choice.clone();
        match purpose {
            BrowserPurpose::ModelCheckpoint => choice.checkpoint = Some(path),
            BrowserPurpose::Mt5Folder => choice.mt5_dir = Some(path),
            _ => return,
        }
        self.load_model(ctx, choice, true);
    }

    /// A one-line status of the model for other panels.
    pub(crate) fn model_status_ui(&mut self, ui: &mut egui::Ui) {
        match &self.model.state {
            ModelState::NotChosen => {
                ui.label(NO_MODEL_HELP);
            }
            ModelState::Checking(config) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!(
                        "Loading the model {}…",
                        config.checkpoint.display()
                    ));
                });
            }
            ModelState::Ready(config, _) => {
                ui.label(format!(
                    "Model: {} ({}, {} beams)",
                    config.checkpoint.file_name().map_or_else(
                        || config.checkpoint.display().to_string(),
                        |n| n.to_string_lossy().into_owned()
                    ),
                    language_name(config.language.unwrap_or(Language::English)),
                    config.beams
                ));
            }
            ModelState::Failed(_) => {
                ui.weak("The model did not load (see the message above); captions are off.");
            }
        }
        if ui.button("Model…").clicked() {
            self.model.open = true;
        }
    }

    /// The model window.
    pub(crate) fn model_window(&mut self, ctx: &egui::Context) {
        if !self.model.open {
            return;
        }
        let mut open = true;
        let mut load = false;
        let mut edited = false;
        let mut choose = None;
        egui::Window::new("Model")
            .open(&mut open)
            .default_width(520.0)
            .show(ctx, |ui| {
                let choice = &mut self.model.choice;
                egui::Grid::new("model-grid").num_columns(3).show(ui, |ui| {
                    let label = ui.label("Checkpoint");
                    edited |= path_edit(ui, &mut choice.checkpoint, label.id);
                    if ui.button("Choose checkpoint…").clicked() {
                        choose = Some(BrowserPurpose::ModelCheckpoint);
                    }
                    ui.end_row();
                    let label = ui.label("mT5 folder");
                    edited |= path_edit(ui, &mut choice.mt5_dir, label.id);
                    if ui.button("Choose mT5 folder…").clicked() {
                        choose = Some(BrowserPurpose::Mt5Folder);
                    }
                    ui.end_row();
                    let label = ui.label("Language");
                    let auto = choice
                        .checkpoint
                        .as_deref()
                        .map_or(Language::English, |path| {
                            TranslatorConfig::new(path, "").resolved_language()
                        });
                    let shown = match choice.language {
                        None => format!("From the file name ({})", language_name(auto)),
                        Some(language) => language_name(language).to_owned(),
                    };
                    egui::ComboBox::from_id_salt("model-language")
                        .selected_text(shown)
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut choice.language, None, "From the file name");
                            ui.selectable_value(
                                &mut choice.language,
                                Some(Language::English),
                                "English",
                            );
                            ui.selectable_value(
                                &mut choice.language,
                                Some(Language::Chinese),
                                "Chinese",
                            );
                        })
                        .response
                        .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("Beams");
                    ui.add(egui::DragValue::new(&mut choice.beams).range(1..=16))
                        .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("Provisional caption every (ms)");
                    ui.add(
                        egui::DragValue::new(&mut choice.provisional_interval_ms)
                            .range(100..=10_000),
                    )
                    .labelled_by(label.id);
                    ui.end_row();
                    let label = ui.label("Model threads (0: all cores)");
                    ui.add(egui::DragValue::new(&mut choice.threads).range(0..=64))
                        .labelled_by(label.id);
                    ui.end_row();
                });
                if ui
                    .add_enabled(self.model.check.is_none(), egui::Button::new("Load model"))
                    .clicked()
                {
                    load = true;
                }
                ui.separator();
                match &self.model.state {
                    ModelState::NotChosen => {
                        ui.label(NO_MODEL_HELP);
                    }
                    ModelState::Checking(_) => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("Loading the model…");
                        });
                    }
                    ModelState::Ready(config, _) => {
                        ui.label(format!("Loaded {}", config.checkpoint.display()));
                    }
                    ModelState::Failed(_) => {
                        ui.weak("Not loaded: see the message at the top of the window.");
                    }
                }
            });
        self.model.open = open;
        // Leaving a path field loads the choice at once, unless it is what is loaded already.
        let current = match &self.model.state {
            ModelState::NotChosen => None,
            ModelState::Checking(c) | ModelState::Ready(c, _) | ModelState::Failed(c) => Some(c),
        };
        let new = translator_config(&self.model.choice);
        if edited && new.is_some() && new.as_ref() != current {
            load = true;
        }
        if let Some(purpose) = choose {
            self.choose_file(ctx, purpose);
        } else if load {
            let choice = self.model.choice.clone();
            self.load_model(ctx, choice, true);
        }
    }
}

/// An optional path as a text field; true when editing ended (Enter or focus leaving).
fn path_edit(ui: &mut egui::Ui, path: &mut Option<PathBuf>, label: egui::Id) -> bool {
    let mut text = path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let before = text.clone();
    let response = ui
        .add(egui::TextEdit::singleline(&mut text).desired_width(320.0))
        .labelled_by(label);
    if text != before {
        *path = (!text.trim().is_empty()).then(|| PathBuf::from(text.trim()));
    }
    response.lost_focus()
}
