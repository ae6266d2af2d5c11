//! Timed captions and their files (SRT, WebVTT, JSON), written atomically.

use std::path::{Path, PathBuf};

use crate::fsutil;

/// One caption: text shown from `start` to `end` (seconds from the start of the source).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Caption {
    /// Start time in seconds from the start of the source.
    pub start: f64,
    /// End time in seconds from the start of the source.
    pub end: f64,
    /// The caption text (may span lines).
    pub text: String,
    /// Model confidence in [0, 1] (e.g. the mean token probability).
    pub confidence: f32,
}

/// A caption file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptionFormat {
    /// SubRip `.srt`.
    Srt,
    /// WebVTT `.vtt`.
    WebVtt,
    /// `{"captions": [{start, end, text, confidence}]}`.
    Json,
}

impl CaptionFormat {
    /// The format a file extension names (`srt`, `vtt`, `json`; any case).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "srt" => Some(Self::Srt),
            "vtt" => Some(Self::WebVtt),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Errors of making caption files.
#[derive(Debug, thiserror::Error)]
pub enum CaptionError {
    /// A caption's times cannot be written.
    #[error("caption {index}: {problem}")]
    Invalid {
        /// 0-based index of the caption.
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// The extension names no caption format.
    #[error("{0}: unknown caption format (use .srt, .vtt or .json)")]
    UnknownFormat(PathBuf),
    /// Writing the file failed.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// JSON serialisation failed.
    #[error("cannot serialise captions")]
    Json(#[from] serde_json::Error),
}

fn validate(captions: &[Caption]) -> Result<(), CaptionError> {
    for (index, c) in captions.iter().enumerate() {
        let invalid = |problem: String| CaptionError::Invalid { index, problem };
        if !c.start.is_finite() || !c.end.is_finite() || c.start < 0.0 {
            return Err(invalid(format!(
                "times must be finite and not negative (start {}, end {})",
                c.start, c.end
            )));
        }
        if c.end < c.start {
            return Err(invalid(format!(
                "ends ({}) before it starts ({})",
                c.end, c.start
            )));
        }
    }
    Ok(())
}

/// `HH:MM:SS{sep}mmm`, rounded to the millisecond.
fn timestamp(seconds: f64, separator: char) -> String {
    let total_ms = (seconds * 1000.0).round() as u64;
    let (h, rest) = (total_ms / 3_600_000, total_ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{h:02}:{m:02}:{s:02}{separator}{ms:03}")
}

/// The text's non-blank lines, trimmed: a blank line would end the cue in SRT and WebVTT.
fn cue_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

/// SubRip text: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`.
pub fn to_srt(captions: &[Caption]) -> Result<String, CaptionError> {
    validate(captions)?;
    let mut out = String::new();
    for (i, c) in captions.iter().enumerate() {
        out.push_str(&format!(
            "{}\n{} --> {}\n",
            i + 1,
            timestamp(c.start, ','),
            timestamp(c.end, ',')
        ));
        for line in cue_lines(&c.text) {
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    Ok(out)
}

/// WebVTT text: `WEBVTT` header, cues with `&`, `<`, `>` escaped and `-->` broken up.
pub fn to_webvtt(captions: &[Caption]) -> Result<String, CaptionError> {
    validate(captions)?;
    let mut out = String::from("WEBVTT\n\n");
    for c in captions {
        out.push_str(&format!(
            "{} --> {}\n",
            timestamp(c.start, '.'),
            timestamp(c.end, '.')
        ));
        for line in cue_lines(&c.text) {
            // Escaping `>` also keeps `-->` out of the payload.
            let escaped = line
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            out.push_str(&escaped);
            out.push('\n');
        }
        out.push('\n');
    }
    Ok(out)
}

#[derive(serde::Serialize)]
struct CaptionsJson<'a> {
    captions: &'a [Caption],
}

/// JSON text: `{"captions": [...]}`.
pub fn to_json(captions: &[Caption]) -> Result<String, CaptionError> {
    validate(captions)?;
    Ok(serde_json::to_string_pretty(&CaptionsJson { captions })?)
}

/// Writes captions atomically in `format`.
pub fn write_captions(
    path: &Path,
    captions: &[Caption],
    format: CaptionFormat,
) -> Result<(), CaptionError> {
    let text = match format {
        CaptionFormat::Srt => to_srt(captions)?,
        CaptionFormat::WebVtt => to_webvtt(captions)?,
        CaptionFormat::Json => to_json(captions)?,
    };
    fsutil::write_atomic(path, text.as_bytes()).map_err(|source| CaptionError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes captions atomically in the format the file extension names.
pub fn write_captions_auto(path: &Path, captions: &[Caption]) -> Result<(), CaptionError> {
    let format = CaptionFormat::from_path(path)
        .ok_or_else(|| CaptionError::UnknownFormat(path.to_path_buf()))?;
    write_captions(path, captions, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_to_milliseconds() {
        assert_eq!(timestamp(3661.0005, ','), "01:01:01,001");
        assert_eq!(timestamp(0.0, '.'), "00:00:00.000");
    }

    #[test]
    fn rejects_reversed_times() {
        let c = Caption {
            start: 2.0,
            end: 1.0,
            text: "x".into(),
            confidence: 1.0,
        };
        assert!(to_srt(&[c]).unwrap_err().to_string().contains("caption 0"));
    }
}
