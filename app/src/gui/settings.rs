//! Settings kept in a TOML file: pose backend, translation model, captions, threads, theme,
//! recent files.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use signcap_engine::model::Language;
use signcap_engine::pose::PoseConfig;

use super::overlay::GroupToggles;

/// Light, dark, or whatever the system prefers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeChoice {
    /// Follow the system.
    #[default]
    System,
    /// Light theme.
    Light,
    /// Dark theme.
    Dark,
}

/// The Uni-Sign translation model and how it searches (`[model]` table).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ModelSettings {
    /// Uni-Sign checkpoint (.pth or .safetensors).
    pub checkpoint: Option<PathBuf>,
    /// mT5 folder (`config.json` with `spiece.model` or `tokenizer.json`).
    pub mt5_dir: Option<PathBuf>,
    /// Output language; unset, it follows the checkpoint's name (`csl` in it: Chinese).
    pub language: Option<Language>,
    /// Beams of the search (1 is greedy).
    pub beams: usize,
    /// How often a provisional caption of the utterance being signed is shown, in ms.
    pub provisional_interval_ms: u64,
    /// Threads for the model (0: all cores).
    pub threads: usize,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            checkpoint: None,
            mt5_dir: None,
            language: None,
            beams: 4,
            provisional_interval_ms: 700,
            threads: 0,
        }
    }
}

/// How captions look and where the live transcript goes (`[captions]` table).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CaptionSettings {
    /// Font size of the caption lines in points.
    pub font_size: f32,
    /// White on black captions with no greyed text.
    pub high_contrast: bool,
    /// Folder of the live transcripts; unset: the data folder's `signcap/transcripts`.
    pub transcript_dir: Option<PathBuf>,
}

impl Default for CaptionSettings {
    fn default() -> Self {
        Self {
            font_size: 22.0,
            high_contrast: false,
            transcript_dir: None,
        }
    }
}

/// How the player caches (`[player]` table).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PlayerSettings {
    /// Most decoded frames kept in memory for instant scrubbing.
    pub max_cached_frames: usize,
    /// Frames decoded ahead of the playhead.
    pub decode_ahead: u64,
    /// Frames a playing file is shown behind the pose stage's feed, so that the keypoints of
    /// each frame are ready when it is shown even when pose estimation runs slower than the
    /// video; 0 shows frames as they are decoded.
    pub sync_delay_frames: u64,
}

impl Default for PlayerSettings {
    fn default() -> Self {
        Self {
            max_cached_frames: 1024,
            decode_ahead: 64,
            sync_delay_frames: 3,
        }
    }
}

/// Look and behaviour of the window (`[ui]` table).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct UiSettings {
    /// Colour theme.
    pub theme: ThemeChoice,
    /// Shown keypoint groups.
    pub groups: GroupToggles,
    /// Recently opened files, newest first.
    pub recent_files: Vec<PathBuf>,
    /// Choose files with the desktop's dialog (xdg-desktop-portal or zenity) rather than the
    /// in-window browser; the browser stands in where no dialog can be shown.
    pub system_file_dialog: bool,
}

impl Default for UiSettings {
    fn default() -> Self {
        Self {
            theme: ThemeChoice::default(),
            groups: GroupToggles::default(),
            recent_files: Vec::new(),
            system_file_dialog: true,
        }
    }
}

/// Everything in `settings.toml`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Pose backend, its model files and threads.
    pub pose: PoseConfig,
    /// Translation model.
    pub model: ModelSettings,
    /// Caption look and transcript folder.
    pub captions: CaptionSettings,
    /// Player caching.
    pub player: PlayerSettings,
    /// Window look and recent files.
    pub ui: UiSettings,
}

/// Most recent files remembered.
pub const MAX_RECENT_FILES: usize = 10;

impl Settings {
    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        toml::from_str(&text).with_context(|| format!("{}: invalid settings", path.display()))
    }

    /// Writes `path` atomically, creating its folder.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = toml::to_string_pretty(self).context("serialising settings")?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        signcap_engine::fsutil::write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Puts `path` at the front of the recent files.
    pub fn remember_recent(&mut self, path: &Path) {
        self.ui.recent_files.retain(|p| p != path);
        self.ui.recent_files.insert(0, path.to_path_buf());
        self.ui.recent_files.truncate(MAX_RECENT_FILES);
    }
}

/// `$SIGNCAP_CONFIG`, else `$XDG_CONFIG_HOME/signcap/settings.toml`, else
/// `~/.config/signcap/settings.toml`.
pub fn default_settings_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SIGNCAP_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let config_dir = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config_dir.join("signcap").join("settings.toml"))
}

/// `$XDG_DATA_HOME/signcap/transcripts`, else `~/.local/share/signcap/transcripts`.
pub fn default_transcript_dir() -> Option<PathBuf> {
    let data_dir = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
        })?;
    Some(data_dir.join("signcap").join("transcripts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_toml_and_keeps_recent_files_unique() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/settings.toml");
        let mut settings = Settings::default();
        settings.pose.threads = 3;
        settings.ui.theme = ThemeChoice::Dark;
        settings.model.checkpoint = Some("/m/uni_sign_csl.pth".into());
        settings.model.language = Some(Language::Chinese);
        settings.captions.high_contrast = true;
        settings.remember_recent(Path::new("/a.mp4"));
        settings.remember_recent(Path::new("/b.mp4"));
        settings.remember_recent(Path::new("/a.mp4"));
        settings.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("[pose]") && text.contains("threads = 3"),
            "{text}"
        );
        let loaded = Settings::load(&path).unwrap();
        assert_eq!(loaded, settings);
        assert_eq!(
            loaded.ui.recent_files,
            vec![PathBuf::from("/a.mp4"), PathBuf::from("/b.mp4")]
        );
    }

    #[test]
    fn invalid_file_names_the_path_and_missing_file_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.toml");
        assert_eq!(Settings::load(&path).unwrap(), Settings::default());
        std::fs::write(&path, "[pose]\nthreads = \"many\"\n").unwrap();
        let message = format!("{:#}", Settings::load(&path).unwrap_err());
        assert!(
            message.contains("settings.toml") && message.contains("threads"),
            "{message}"
        );
    }
}
