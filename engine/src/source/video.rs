//! Recorded video through the `ffmpeg` and `ffprobe` command-line tools (no C bindings, no ABI
//! coupling to the system's FFmpeg): `ffprobe` lists the stream and the packet timestamps once,
//! `ffmpeg` decodes to packed RGB24 on a pipe that a reader thread drains.
//!
//! * Timestamps: the presentation times of the video packets that are not marked for discard,
//!   sorted, which equal the decoded frames' `best_effort_timestamp` without a decoding pass.
//!   Containers whose packets lack them (AVI with B-frames) fall back to a decoding pass.
//! * Rotation: ffmpeg's autorotation is left on, so frames come out upright; width and height
//!   are swapped for ±90° display matrices (the frames would otherwise be silently scrambled).
//! * Seeking: ffmpeg restarts with an input `-ss` halfway between frame k-1 and frame k, and its
//!   accurate seek drops everything before, so frame k is the first frame out. Without exact
//!   timestamps it decodes from the start and drops k frames.
//! * Every child is killed on drop, and a decoder that produces nothing for
//!   [`STALL_TIMEOUT`] is an error, so decoding never blocks forever.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};

use super::{Frame, FrameSource, SourceError, SourceInfo};

/// How long a decoder or probe may go without output before it is treated as hung.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Decoded frames buffered ahead of the consumer.
const FRAMES_AHEAD: usize = 4;

/// Where the FFmpeg tools are: `$SIGNCAP_FFMPEG` / `$SIGNCAP_FFPROBE`, else `ffmpeg` / `ffprobe`
/// on `PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FfmpegTools {
    /// The `ffmpeg` program.
    pub ffmpeg: PathBuf,
    /// The `ffprobe` program.
    pub ffprobe: PathBuf,
}

impl Default for FfmpegTools {
    fn default() -> Self {
        Self::from_env()
    }
}

impl FfmpegTools {
    /// The tools named by the environment, else the ones on `PATH`.
    pub fn from_env() -> Self {
        let tool = |var: &str, name: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(name))
        };
        Self {
            ffmpeg: tool("SIGNCAP_FFMPEG", "ffmpeg"),
            ffprobe: tool("SIGNCAP_FFPROBE", "ffprobe"),
        }
    }
}

/// A video file decoded frame by frame.
pub struct VideoFile {
    path: PathBuf,
    tools: FfmpegTools,
    info: SourceInfo,
    /// Presentation time of every frame, in seconds, as the container states it.
    timestamps: Vec<f64>,
    /// The container's start time, which ffmpeg's `-ss` is relative to.
    start_time: f64,
    /// Display rotation in degrees (counter-clockwise), 0 when none.
    rotation: i32,
    /// Whether every frame has a container timestamp, so `-ss` lands exactly; otherwise seeking
    /// decodes from the start and drops frames.
    seek_by_time: bool,
    next_index: u64,
    decoder: Option<Decoder>,
}

impl VideoFile {
    /// Opens `path` with the tools from the environment.
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        Self::open_with(path, FfmpegTools::from_env())
    }

    /// Opens `path` with the given tools; checks the stream and lists the frame timestamps.
    pub fn open_with(path: &Path, tools: FfmpegTools) -> Result<Self, SourceError> {
        let shown = path.display().to_string();
        let open_error = |reason: String| SourceError::Open {
            path: shown.clone(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| open_error(io_reason(&e)))?;
        if meta.is_dir() {
            return Err(open_error("is a folder, not a video file".into()));
        }
        if meta.len() == 0 {
            return Err(open_error("file is empty (0 bytes)".into()));
        }
        let probe = probe(path, &tools).map_err(open_error)?;
        let info = SourceInfo {
            name: shown.clone(),
            width: probe.width,
            height: probe.height,
            fps: probe.fps,
            frame_count: Some(probe.timestamps.len() as u64),
            duration: probe.duration,
        };
        Ok(Self {
            path: path.to_path_buf(),
            tools,
            info,
            timestamps: probe.timestamps,
            start_time: probe.start_time,
            rotation: probe.rotation,
            seek_by_time: probe.exact_timestamps,
            next_index: 0,
            decoder: None,
        })
    }

    /// Presentation time of every frame in seconds (the container's clock).
    pub fn timestamps(&self) -> &[f64] {
        &self.timestamps
    }

    /// Display rotation in degrees that was applied to the frames (0 when none).
    pub fn rotation(&self) -> i32 {
        self.rotation
    }

    fn decode_error(&self, reason: String) -> SourceError {
        SourceError::Decode {
            path: self.path.display().to_string(),
            reason,
        }
    }

    fn time_of(&self, index: u64) -> f64 {
        match self.timestamps.get(index as usize) {
            Some(&t) => t,
            // More frames than packets (never seen, but possible with odd streams): continue the
            // clock at the nominal rate.
            None => {
                let last = self.timestamps.last().copied().unwrap_or(0.0);
                let extra = index + 1 - self.timestamps.len() as u64;
                last + extra as f64 / self.info.fps.max(1e-6)
            }
        }
    }

    fn start_decoder(&self, first_index: u64) -> Result<Decoder, SourceError> {
        let mut cmd = Command::new(&self.tools.ffmpeg);
        cmd.args(["-v", "error", "-nostdin"]);
        if first_index > 0 && self.seek_by_time {
            let k = first_index as usize;
            let (before, at) = (self.timestamps[k - 1], self.timestamps[k]);
            let seek_to = (before + at) / 2.0 - self.start_time;
            cmd.arg("-ss").arg(format!("{seek_to:.6}"));
        }
        cmd.arg("-i").arg(&self.path);
        cmd.args([
            "-map",
            "0:v:0",
            "-an",
            "-sn",
            "-dn",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ]);
        let frame_bytes = self.info.width as usize * self.info.height as usize * 3;
        let to_skip = if self.seek_by_time { 0 } else { first_index };
        Decoder::spawn(cmd, frame_bytes, to_skip)
            .map_err(|e| self.decode_error(spawn_reason(&self.tools.ffmpeg, &e)))
    }
}

impl FrameSource for VideoFile {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.decoder.is_none() {
            if self.next_index >= self.timestamps.len() as u64 {
                return Ok(None);
            }
            self.decoder = Some(self.start_decoder(self.next_index)?);
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(None);
        };
        let mut received = decoder.frames.recv_timeout(STALL_TIMEOUT);
        while decoder.to_skip > 0 && matches!(received, Ok(Ok(_))) {
            decoder.to_skip -= 1;
            received = decoder.frames.recv_timeout(STALL_TIMEOUT);
        }
        match received {
            Ok(Ok(rgb)) => {
                let index = self.next_index;
                self.next_index += 1;
                Ok(Some(Frame {
                    index,
                    time: self.time_of(index),
                    captured_at: Instant::now(),
                    width: self.info.width,
                    height: self.info.height,
                    rgb: Arc::new(rgb),
                }))
            }
            Ok(Err(reason)) => {
                let reason = decoder.failure(reason);
                self.decoder = None;
                Err(self.decode_error(reason))
            }
            Err(RecvTimeoutError::Disconnected) => {
                // End of the pipe: a clean exit is the end of the video.
                let Some(mut decoder) = self.decoder.take() else {
                    return Ok(None);
                };
                let status = decoder.wait();
                let decoded = self.next_index;
                match status {
                    Some(s) if s.success() => {
                        if decoded == 0 && !self.timestamps.is_empty() {
                            Err(self.decode_error(format!(
                                "no frame could be decoded{}",
                                decoder.stderr_suffix()
                            )))
                        } else {
                            // Leave the index past the end so later calls also return None.
                            self.next_index = self.next_index.max(self.timestamps.len() as u64);
                            Ok(None)
                        }
                    }
                    _ => Err(self.decode_error(format!(
                        "ffmpeg failed after {decoded} frames{}",
                        decoder.stderr_suffix()
                    ))),
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                self.decoder = None; // Drop kills it.
                Err(self.decode_error(format!(
                    "ffmpeg produced no frame for {} s",
                    STALL_TIMEOUT.as_secs()
                )))
            }
        }
    }

    fn seek(&mut self, frame_index: u64) -> Result<(), SourceError> {
        let count = self.timestamps.len() as u64;
        if frame_index > count {
            return Err(self.decode_error(format!(
                "cannot seek to frame {frame_index}: the video has {count} frames"
            )));
        }
        self.decoder = None;
        self.next_index = frame_index;
        Ok(())
    }
}

/// A running `ffmpeg` whose stdout a thread cuts into frames.
struct Decoder {
    child: Child,
    frames: Receiver<Result<Vec<u8>, String>>,
    reader: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
    /// Frames still to drop before the one asked for (seeking without timestamps).
    to_skip: u64,
}

impl Decoder {
    fn spawn(mut cmd: Command, frame_bytes: usize, to_skip: u64) -> std::io::Result<Self> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (stdout, stderr_pipe) = match (child.stdout.take(), child.stderr.take()) {
            (Some(o), Some(e)) => (o, e),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(std::io::Error::other("ffmpeg pipes unavailable"));
            }
        };
        let (tx, frames) = bounded(FRAMES_AHEAD);
        let reader = std::thread::Builder::new()
            .name("ffmpeg-frames".into())
            .spawn(move || read_frames(stdout, frame_bytes, &tx))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = {
            let stderr = stderr.clone();
            std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || collect_stderr(stderr_pipe, &stderr))?
        };
        Ok(Self {
            child,
            frames,
            reader: Some(reader),
            stderr,
            stderr_reader: Some(stderr_reader),
            to_skip,
        })
    }

    /// Waits (bounded) for the process to end after its output closed.
    fn wait(&mut self) -> Option<ExitStatus> {
        let status = wait_with_deadline(&mut self.child, Instant::now() + STALL_TIMEOUT);
        if let Some(h) = self.stderr_reader.take() {
            let _ = h.join();
        }
        status
    }

    fn stderr_suffix(&self) -> String {
        let text = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        match last_message(&text) {
            Some(line) => format!(" (ffmpeg: {line})"),
            None => String::new(),
        }
    }

    fn failure(&mut self, reason: String) -> String {
        let _ = self.child.kill();
        self.wait();
        format!("{reason}{}", self.stderr_suffix())
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Drop our end of the frame channel first, so a reader blocked on a full channel wakes
        // up; the pipes closed with the process, so both threads end.
        let (_, closed) = bounded(0);
        drop(std::mem::replace(&mut self.frames, closed));
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        if let Some(h) = self.stderr_reader.take() {
            let _ = h.join();
        }
    }
}

fn read_frames(
    mut stdout: impl Read,
    frame_bytes: usize,
    tx: &crossbeam_channel::Sender<Result<Vec<u8>, String>>,
) {
    loop {
        let mut buf = vec![0u8; frame_bytes];
        let mut filled = 0;
        while filled < frame_bytes {
            match stdout.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(format!("reading decoded frames: {e}")));
                    return;
                }
            }
        }
        if filled == 0 {
            return;
        }
        if filled < frame_bytes {
            let _ = tx.send(Err(format!(
                "ffmpeg ended inside a frame ({filled} of {frame_bytes} bytes)"
            )));
            return;
        }
        if tx.send(Ok(buf)).is_err() {
            return; // The consumer is gone.
        }
    }
}

/// Keeps the last few KiB of a child's stderr for error messages.
fn collect_stderr(mut pipe: impl Read, into: &Mutex<String>) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut chunk) {
        if n == 0 {
            break;
        }
        if let Ok(mut s) = into.lock() {
            s.push_str(&String::from_utf8_lossy(&chunk[..n]));
            if s.len() > 16 * 1024 {
                let cut = s.len() - 8 * 1024;
                let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                s.drain(..cut);
            }
        }
    }
}

fn wait_with_deadline(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// The last meaningful line of a tool's stderr, without the file name it starts with.
fn last_message(stderr: &str) -> Option<String> {
    let line = stderr.lines().rev().find(|l| !l.trim().is_empty())?;
    // Drop FFmpeg's "[mov,mp4,... @ 0x55d0...] " context prefix.
    let line = match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
        Some((context, msg)) if context.contains(" @ ") => msg,
        _ => line,
    };
    // ffprobe prefixes errors with the input path: "clip.mp4: Invalid data found ...".
    let line = match line.rsplit_once(": ") {
        Some((prefix, msg)) if !msg.is_empty() && Path::new(prefix.trim()).exists() => msg,
        _ => line,
    };
    Some(line.trim().to_string())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn spawn_reason(program: &Path, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!(
            "cannot run {}: not found (install FFmpeg, e.g. `apt install ffmpeg`, or set SIGNCAP_FFMPEG/SIGNCAP_FFPROBE)",
            program.display()
        )
    } else {
        format!("cannot run {}: {e}", program.display())
    }
}

/// What `ffprobe` says about the first video stream.
struct Probe {
    width: u32,
    height: u32,
    fps: f64,
    duration: Option<f64>,
    start_time: f64,
    rotation: i32,
    timestamps: Vec<f64>,
    exact_timestamps: bool,
}

#[derive(serde::Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    #[serde(default)]
    packets: Vec<ProbePacket>,
    format: Option<ProbeFormat>,
}

#[derive(serde::Deserialize)]
struct ProbeStream {
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    r_frame_rate: Option<String>,
    #[serde(default)]
    side_data_list: Vec<serde_json::Value>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
}

#[derive(serde::Deserialize)]
struct ProbePacket {
    pts_time: Option<String>,
    #[serde(default)]
    flags: String,
}

#[derive(serde::Deserialize)]
struct ProbeFormat {
    start_time: Option<String>,
    duration: Option<String>,
}

fn probe(path: &Path, tools: &FfmpegTools) -> Result<Probe, String> {
    let mut cmd = Command::new(&tools.ffprobe);
    cmd.args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg(
            "stream=codec_name,width,height,avg_frame_rate,r_frame_rate:stream_side_data=rotation:\
             stream_tags=rotate:format=start_time,duration:packet=pts_time,flags",
        )
        .args(["-of", "json"])
        .arg(path);
    let output = run_bounded(cmd).map_err(|e| spawn_reason(&tools.ffprobe, &e))?;
    let Some(output) = output else {
        return Err(format!(
            "ffprobe did not finish within {} s",
            STALL_TIMEOUT.as_secs()
        ));
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(match last_message(&stderr) {
            Some(msg) => format!("not a readable video ({msg})"),
            None => "not a readable video".into(),
        });
    }
    let json: ProbeJson = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("unexpected ffprobe output: {e}"))?;
    let Some(stream) = json.streams.first() else {
        return Err("no video stream (not a video file)".into());
    };
    // Text files can probe as "tty"/"ansi" art; they are not videos.
    if matches!(
        stream.codec_name.as_deref(),
        Some("ansi" | "bintext" | "xbin" | "idf")
    ) {
        return Err("no video stream (not a video file)".into());
    }
    let (Some(coded_width), Some(coded_height)) = (stream.width, stream.height) else {
        return Err("video stream without a frame size".into());
    };
    if coded_width == 0 || coded_height == 0 {
        return Err("video stream without a frame size".into());
    }
    let rotation = stream
        .side_data_list
        .iter()
        .find_map(|d| d.get("rotation").and_then(serde_json::Value::as_f64))
        .or_else(|| stream.tags.get("rotate").and_then(|r| r.parse().ok()))
        .map_or(0, |r: f64| r.round() as i32);
    let (width, height) = if rotation.rem_euclid(180) == 90 {
        (coded_height, coded_width)
    } else {
        (coded_width, coded_height)
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("partial file") || stderr.contains("truncat") {
        let msg = last_message(&stderr).unwrap_or_default();
        return Err(format!("truncated or damaged file ({msg})"));
    }
    let shown: Vec<&ProbePacket> = json
        .packets
        .iter()
        .filter(|p| !p.flags.contains('D'))
        .collect();
    let nominal_fps = [&stream.avg_frame_rate, &stream.r_frame_rate]
        .into_iter()
        .find_map(|r| parse_rate(r.as_deref()?));
    let mut timestamps: Vec<f64> = shown
        .iter()
        .filter_map(|p| p.pts_time.as_deref()?.parse().ok())
        .collect();
    let exact_timestamps = timestamps.len() == shown.len();
    if !exact_timestamps {
        // Packets without presentation times (AVI with B-frames): ask the decoder instead.
        timestamps = decoded_timestamps(path, tools, nominal_fps.unwrap_or(25.0))?;
    }
    timestamps.sort_by(f64::total_cmp);
    if timestamps.is_empty() {
        return Err("the video stream has no frames (empty or truncated file)".into());
    }
    let fps = nominal_fps
        .or_else(|| {
            let span = timestamps.last()? - timestamps.first()?;
            (span > 0.0).then(|| (timestamps.len() - 1) as f64 / span)
        })
        .unwrap_or(25.0);
    let format = json.format.as_ref();
    let parse = |v: Option<&String>| v.and_then(|s| s.parse::<f64>().ok());
    Ok(Probe {
        width,
        height,
        fps,
        duration: parse(format.and_then(|f| f.duration.as_ref())),
        start_time: parse(format.and_then(|f| f.start_time.as_ref())).unwrap_or(0.0),
        rotation,
        timestamps,
        exact_timestamps,
    })
}

/// Frame times from a decoding pass; frames without one continue the previous at `fps`.
fn decoded_timestamps(path: &Path, tools: &FfmpegTools, fps: f64) -> Result<Vec<f64>, String> {
    let mut cmd = Command::new(&tools.ffprobe);
    cmd.args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .arg("frame=best_effort_timestamp_time")
        .args(["-of", "csv=p=0"])
        .arg(path);
    let output = run_bounded(cmd)
        .map_err(|e| spawn_reason(&tools.ffprobe, &e))?
        .filter(|o| o.status.success())
        .ok_or("ffprobe could not decode the frame times")?;
    let mut times = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let field = line.trim().trim_end_matches(',');
        if field.is_empty() {
            continue;
        }
        let previous = times.last().map(|t: &f64| t + 1.0 / fps);
        times.push(field.parse().ok().or(previous).unwrap_or(0.0));
    }
    Ok(times)
}

fn parse_rate(rate: &str) -> Option<f64> {
    let (num, den) = rate.split_once('/')?;
    let (num, den): (f64, f64) = (num.parse().ok()?, den.parse().ok()?);
    (num > 0.0 && den > 0.0).then_some(num / den)
}

/// Runs a probe with both pipes drained and a deadline; `None` when it had to be killed.
fn run_bounded(mut cmd: Command) -> std::io::Result<Option<std::process::Output>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_with_deadline(&mut child, Instant::now() + STALL_TIMEOUT);
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok(status.map(|status| std::process::Output {
        status,
        stdout,
        stderr,
    }))
}
