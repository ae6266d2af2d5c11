//! The desktop app: a thin egui view over worker threads joined by channels.

pub mod app;
pub mod export;
pub mod file_browser;
pub mod inspect;
pub mod latency;
pub mod overlay;
pub mod panels;
pub mod pipeline;
pub mod preview;
pub mod settings;
pub mod skeleton;

use std::time::Duration;

use anyhow::Context as _;

pub use app::{App, AppOptions};

/// Options of the GUI given on the command line.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct GuiArgs {
    /// Open this video or pose file at start.
    #[arg(long)]
    pub open: Option<std::path::PathBuf>,
    /// Close the app cleanly after this many seconds (scripted screenshots).
    #[arg(long)]
    pub quit_after: Option<f64>,
    /// Uni-Sign checkpoint (.pth or .safetensors) for this run (not saved).
    #[arg(long)]
    pub checkpoint: Option<std::path::PathBuf>,
    /// mT5 folder (config.json, spiece.model or tokenizer.json) for this run (not saved).
    #[arg(long)]
    pub mt5: Option<std::path::PathBuf>,
}

impl GuiArgs {
    /// The app's options for these arguments over `settings` (saved to `settings_path`).
    pub fn options(
        self,
        settings: settings::Settings,
        settings_path: Option<std::path::PathBuf>,
    ) -> anyhow::Result<AppOptions> {
        // A model given here is for this run: the other path comes from the settings.
        let model = (self.checkpoint.is_some() || self.mt5.is_some()).then(|| {
            let mut model = settings.model.clone();
            model.checkpoint = self.checkpoint.or(model.checkpoint);
            model.mt5_dir = self.mt5.or(model.mt5_dir);
            model
        });
        let mut options = AppOptions::with_engine(settings, settings_path);
        options.model = model;
        options.open = self.open.map(pipeline::SourceRequest::File);
        options.quit_after = match self.quit_after {
            Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
                Some(Duration::from_secs_f64(seconds))
            }
            Some(seconds) => anyhow::bail!("--quit-after {seconds}: expected seconds ≥ 0"),
            None => None,
        };
        Ok(options)
    }
}

/// Opens the main window and runs until it is closed.
pub fn run(args: GuiArgs) -> anyhow::Result<()> {
    let settings_path = settings::default_settings_path();
    let settings = match &settings_path {
        Some(path) => settings::Settings::load(path)?,
        None => settings::Settings::default(),
    };
    let options = args.options(settings, settings_path)?;
    let native_options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        viewport: egui::ViewportBuilder::default()
            .with_title("signcap")
            .with_inner_size([1200.0, 760.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "signcap",
        native_options,
        Box::new(move |cc| Ok(Box::new(App::new(cc, options)))),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
    .context("running the window")
}
