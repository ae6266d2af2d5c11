//! `VideoFile` against ffprobe's own decoding: frame counts (`-count_frames`), per-frame
//! timestamps (`best_effort_timestamp_time`), upright frames for rotated clips, frame-accurate
//! seeking, and clear errors for files that are not videos.

use std::path::{Path, PathBuf};

use signcap_engine::source::{FfmpegTools, FrameSource, SourceError, VideoFile};
use signcap_tests::media::{path_str, run_tool};
use signcap_tests::shared_dir;

fn eval_videos() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(shared_dir().join("eval-media/videos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    assert_eq!(v.len(), 5);
    v
}

fn ffmpeg(args: &[&str]) {
    let mut all = vec!["-v", "error", "-y", "-nostdin"];
    all.extend_from_slice(args);
    run_tool("ffmpeg", &all);
}

/// Clips made with ffmpeg's lavfi sources, one per case the decoder must handle.
struct Generated {
    _dir: tempfile::TempDir,
    vp9_webm: PathBuf,
    mpeg4: PathBuf,
    fps120: PathBuf,
    yuvj420p: PathBuf,
    upright: PathBuf,
    rotated: PathBuf,
}

fn generate() -> Generated {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let src = "testsrc2=duration=2:size=320x240:rate=25";
    let (vp9_webm, mpeg4, fps120, yuvj420p) = (
        p("vp9.webm"),
        p("mpeg4.avi"),
        p("fps120.mp4"),
        p("yuvj420p.mp4"),
    );
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        src,
        "-c:v",
        "libvpx-vp9",
        "-b:v",
        "200k",
        path_str(&vp9_webm),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        src,
        "-c:v",
        "mpeg4",
        "-bf",
        "2",
        path_str(&mpeg4),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=duration=1:size=160x120:rate=120",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        path_str(&fps120),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=duration=1:size=320x240:rate=30",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuvj420p",
        path_str(&yuvj420p),
    ]);
    // A portrait phone clip: the upright picture is stored sideways with a display rotation.
    let (upright, sideways, rotated) = (p("upright.mp4"), p("sideways.mp4"), p("rotated.mp4"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=duration=1:size=240x320:rate=10",
        "-c:v",
        "libx264rgb",
        "-qp",
        "0",
        path_str(&upright),
    ]);
    ffmpeg(&[
        "-i",
        path_str(&upright),
        "-vf",
        "transpose=cclock",
        "-c:v",
        "libx264rgb",
        "-qp",
        "0",
        path_str(&sideways),
    ]);
    ffmpeg(&[
        "-i",
        path_str(&sideways),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=270",
        path_str(&rotated),
    ]);
    Generated {
        _dir: dir,
        vp9_webm,
        mpeg4,
        fps120,
        yuvj420p,
        upright,
        rotated,
    }
}

/// What ffprobe reports when it decodes every frame.
struct Truth {
    frames: u64,
    timestamps: Vec<Option<f64>>,
}

fn ffprobe_truth(path: &Path) -> Truth {
    let count = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            path_str(path),
        ],
    );
    let json = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-of",
            "json",
            path_str(path),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let timestamps = v["frames"]
        .as_array()
        .unwrap()
        .iter()
        // `None` where ffprobe has no time for a frame (AVI with B-frames).
        .map(|f| {
            f["best_effort_timestamp_time"]
                .as_str()
                .map(|t| t.parse().unwrap())
        })
        .collect();
    Truth {
        frames: count.trim().trim_end_matches(',').parse().unwrap(),
        timestamps,
    }
}

fn stream_field(path: &Path, field: &str) -> String {
    run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            &format!("stream={field}"),
            "-of",
            "csv=p=0",
            path_str(path),
        ],
    )
    .trim()
    .trim_end_matches(',')
    .to_string()
}

fn decode_all(path: &Path) -> (VideoFile, Vec<signcap_engine::source::Frame>) {
    let mut video = VideoFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut frames = Vec::new();
    while let Some(f) = video.next_frame().unwrap_or_else(|e| panic!("{e}")) {
        frames.push(f);
    }
    (video, frames)
}

fn assert_matches_ffprobe(path: &Path) {
    let truth = ffprobe_truth(path);
    let (video, frames) = decode_all(path);
    let name = path.display();
    assert_eq!(frames.len() as u64, truth.frames, "{name}: frame count");
    assert_eq!(video.info().frame_count, Some(truth.frames), "{name}");
    assert_eq!(truth.timestamps.len() as u64, truth.frames);
    for (i, (f, t)) in frames.iter().zip(&truth.timestamps).enumerate() {
        assert_eq!(f.index, i as u64);
        if let Some(t) = t {
            assert_eq!(f.time, *t, "{name}: timestamp of frame {i}");
        }
        if i > 0 {
            assert!(
                f.time > frames[i - 1].time,
                "{name}: frame {i} goes back in time"
            );
        }
        assert_eq!(
            (f.width, f.height),
            (video.info().width, video.info().height)
        );
        assert_eq!(f.rgb.len(), (f.width * f.height * 3) as usize);
    }
}

#[test]
fn eval_videos_decode_to_ffprobe_frame_counts_and_timestamps() {
    for path in eval_videos() {
        assert_matches_ffprobe(&path);
    }
    // ase_FOOTBALL.mp4 has data tracks and an edit list: 64 packets, 62 shown frames.
    let (video, _) = decode_all(&shared_dir().join("eval-media/videos/ase_FOOTBALL.mp4"));
    assert_eq!((video.info().width, video.info().height), (640, 360));
}

#[test]
fn generated_clips_decode_to_ffprobe_frame_counts_and_timestamps() {
    let g = generate();
    assert_eq!(stream_field(&g.vp9_webm, "codec_name"), "vp9");
    assert_eq!(stream_field(&g.mpeg4, "codec_name"), "mpeg4");
    assert_eq!(stream_field(&g.yuvj420p, "pix_fmt"), "yuvj420p");
    for path in [&g.vp9_webm, &g.mpeg4, &g.fps120, &g.yuvj420p, &g.rotated] {
        assert_matches_ffprobe(path);
    }
    let video = VideoFile::open(&g.fps120).unwrap();
    assert_eq!(video.info().fps, 120.0);
}

#[test]
fn rotation_metadata_gives_upright_frames() {
    let g = generate();
    assert_eq!(stream_field(&g.rotated, "width,height"), "320,240");
    let (video, rotated) = decode_all(&g.rotated);
    assert_eq!(video.rotation(), -90);
    assert_eq!((video.info().width, video.info().height), (240, 320));
    let (_, upright) = decode_all(&g.upright);
    assert_eq!(rotated.len(), upright.len());
    for (r, u) in rotated.iter().zip(&upright) {
        assert_eq!((r.width, r.height), (240, 320));
        assert!(
            r.rgb == u.rgb,
            "frame {} is not the upright picture",
            r.index
        );
    }
}

fn assert_seeks_match_sequential(path: &Path) {
    let (mut video, frames) = decode_all(path);
    let n = frames.len() as u64;
    let mut targets = vec![0, 1, n / 3, n / 2, n - 2, n - 1, 2, n / 2 + 1];
    targets.extend((0..n).step_by(7));
    for k in targets {
        video.seek(k).unwrap();
        let f = video.next_frame().unwrap().unwrap();
        let want = &frames[k as usize];
        assert_eq!(
            (f.index, f.time),
            (want.index, want.time),
            "{}",
            path.display()
        );
        assert!(
            f.rgb == want.rgb,
            "{}: frame {k} after seek differs",
            path.display()
        );
        // And decoding continues sequentially from there.
        if k + 1 < n {
            let next = video.next_frame().unwrap().unwrap();
            assert!(next.rgb == frames[k as usize + 1].rgb);
        }
    }
    video.seek(n).unwrap();
    assert!(video.next_frame().unwrap().is_none());
    assert!(matches!(video.seek(n + 1), Err(SourceError::Decode { .. })));
}

#[test]
fn seeking_to_frame_k_gives_the_pixels_of_sequential_decoding() {
    let g = generate();
    for path in [
        shared_dir().join("eval-media/videos/ase_FOOTBALL.mp4"),
        shared_dir().join("eval-media/videos/ase_what-is-your-name_25fps.mp4"),
        // Starts at 0.08 s: `-ss` is relative to the container's start time.
        shared_dir().join("eval-media/videos/ase_HOUSE.mp4"),
        g.vp9_webm.clone(),
        g.mpeg4.clone(),
        g.fps120.clone(),
        g.rotated.clone(),
    ] {
        assert_seeks_match_sequential(&path);
    }
}

#[test]
fn dropping_a_decoder_mid_stream_returns_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=duration=60:size=640x480:rate=30",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        path_str(&long),
    ]);
    let mut video = VideoFile::open(&long).unwrap();
    assert_eq!(video.info().frame_count, Some(1800));
    video.next_frame().unwrap().unwrap();
    let start = std::time::Instant::now();
    drop(video);
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn bad_files_give_one_clear_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let football = std::fs::read(shared_dir().join("eval-media/videos/ase_FOOTBALL.mp4")).unwrap();
    let wav = dir.path().join("audio.wav");
    ffmpeg(&["-f", "lavfi", "-i", "sine=duration=1", path_str(&wav)]);
    let mut noise = vec![0u8; 200_000];
    let mut x = 0x2545_f491_u32;
    for b in &mut noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("empty.mp4", Some(Vec::new())),
        (
            "truncated.mp4",
            Some(football[..football.len() / 3].to_vec()),
        ),
        ("corrupt.mp4", Some(noise)),
        (
            "notes.mp4",
            Some(b"these are my notes, not a video\n".repeat(50)),
        ),
        ("missing.mp4", None),
    ];
    let mut paths: Vec<PathBuf> = cases
        .into_iter()
        .map(|(name, bytes)| {
            let path = dir.path().join(name);
            if let Some(b) = bytes {
                std::fs::write(&path, b).unwrap();
            }
            path
        })
        .collect();
    paths.push(wav);
    for path in &paths {
        let result = VideoFile::open(path).and_then(|mut v| {
            while v.next_frame()?.is_some() {}
            Ok(())
        });
        let err = result.expect_err(path_str(path)).to_string();
        assert!(err.starts_with(path_str(path)), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    // Without the FFmpeg tools.
    let tools = FfmpegTools {
        ffmpeg: PathBuf::from("/nonexistent/ffmpeg"),
        ffprobe: PathBuf::from("/nonexistent/ffprobe"),
    };
    let clip = shared_dir().join("eval-media/videos/ase_HOUSE.mp4");
    let err = VideoFile::open_with(&clip, tools)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with(path_str(&clip)) && err.contains("install FFmpeg"),
        "{err}"
    );
}
