//! The desktop app: a thin egui view over worker threads joined by channels.

/// Options of the GUI given on the command line.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct GuiArgs {
    /// Open this video or pose file at start.
    #[arg(long)]
    pub open: Option<std::path::PathBuf>,
    /// Close the app cleanly after this many seconds (scripted screenshots).
    #[arg(long)]
    pub quit_after: Option<f64>,
}

/// Opens the main window and runs until it is closed.
pub fn run(_args: GuiArgs) -> anyhow::Result<()> {
    anyhow::bail!("the desktop app is not implemented yet")
}
