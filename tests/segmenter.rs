//! The utterance segmenter on real clips, with poses from the embedded MediaPipe backend, against
//! frame ranges found by looking at the clips: each isolated sign gives one segment that covers
//! the sign and leaves out the rest pose around it, three clips joined give three segments in
//! order, and the sentence gives one segment.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use signcap_engine::keypoints::PoseSequence;
use signcap_engine::pipeline::segmenter::{
    Segment, SegmentEvent, Segmenter, SegmenterConfig, segment_sequence,
};
use signcap_engine::pose::{self, PoseConfig};
use signcap_engine::source::{FrameSource, VideoFile};
use signcap_tests::media::{path_str, run_tool};
use signcap_tests::shared_dir;

/// Rest pose the segment may keep next to the sign, as context: a little over the default pad.
const REST_ALLOWED_SECONDS: f64 = 0.25;

/// What a clip shows, in decoded frame indices, found by dumping every frame with its number
/// (`ffmpeg -i CLIP -vf "drawtext=text='%{n}':...,tile=8x2"`) and looking at the sheets.
struct Truth {
    name: &'static str,
    /// The last frame of the rest pose before signing (hands down, still), if the clip has one.
    rest_until: Option<usize>,
    /// The frames of the sign itself, from the hands reaching the signing space to their leaving
    /// it.
    sign: (usize, usize),
    /// The first frame of the rest pose after signing, if the clip has one.
    rest_from: Option<usize>,
}

const TRUTHS: [Truth; 5] = [
    // Hands below the frame until 12, rising 13-15, HOUSE's roof and walls 16-48, falling 49-53,
    // out of the frame again from 55.
    Truth {
        name: "ase_HOUSE.mp4",
        rest_until: Some(12),
        sign: (16, 48),
        rest_from: Some(55),
    },
    // Hands at the lower edge until 6, rising 7-11, index fingers cross and part 12-46, falling
    // 47-54, at rest from 55.
    Truth {
        name: "ase_DIFFERENT.mp4",
        rest_until: Some(6),
        sign: (12, 46),
        rest_from: Some(55),
    },
    // Arms hanging until 28, right hand rising 29-33, at the chin 34-74, falling 75-81, hanging
    // from 82.
    Truth {
        name: "ase_WRONG-WHAT.mp4",
        rest_until: Some(28),
        sign: (34, 74),
        rest_from: Some(82),
    },
    // The hands are at the chest in every frame: no rest pose to leave out.
    Truth {
        name: "ase_FOOTBALL.mp4",
        rest_until: None,
        sign: (0, 61),
        rest_from: None,
    },
    // Hands clasped low until 6, rising 7-9, signing 10-82 (with holds in the signing space),
    // lowering 83-88, clasped low again from 89.
    Truth {
        name: "ase_what-is-your-name_25fps.mp4",
        rest_until: Some(6),
        sign: (10, 82),
        rest_from: Some(89),
    },
];

fn videos_dir() -> PathBuf {
    shared_dir().join("eval-media/videos")
}

/// The poses of every frame of a video, with the video's own timestamps, the way `signcap
/// pose` extracts them.
fn poses_of_video(path: &Path) -> PoseSequence {
    let mut video = VideoFile::open(path).expect("video opens");
    let info = video.info().clone();
    let mut estimator = pose::create_estimator(&PoseConfig::default()).expect("MediaPipe loads");
    let mut frames = Vec::new();
    let mut decoded = std::iter::from_fn(|| video.next_frame().expect("decodes"));
    estimator
        .estimate_run(&mut decoded, &mut |frame, mut pose_frame, _| {
            pose_frame.time = frame.time;
            frames.push(pose_frame);
        })
        .expect("pose runs");
    PoseSequence {
        width: info.width,
        height: info.height,
        fps: info.fps,
        frames,
    }
}

/// The poses of the five clips, computed once per test binary.
fn clip_poses() -> &'static Vec<PoseSequence> {
    static POSES: OnceLock<Vec<PoseSequence>> = OnceLock::new();
    POSES.get_or_init(|| {
        TRUTHS
            .iter()
            .map(|t| poses_of_video(&videos_dir().join(t.name)))
            .collect()
    })
}

fn describe(segments: &[Segment]) -> Vec<String> {
    segments
        .iter()
        .map(|s| {
            format!(
                "#{} w{} frames {}..={} ({:.3}..{:.3} s){}",
                s.id,
                s.window,
                s.first_index,
                s.last_index,
                s.start,
                s.end,
                if s.is_final { "" } else { " (not final)" }
            )
        })
        .collect()
}

/// Checks that `segment` covers the sign seconds `sign` and keeps at most
/// [`REST_ALLOWED_SECONDS`] of the rest before `rest_until` and after `rest_from` (seconds).
fn check_covers(
    what: &str,
    segment: &Segment,
    sign: (f64, f64),
    rest_until: Option<f64>,
    rest_from: Option<f64>,
    tolerance: f64,
) {
    let shown = describe(std::slice::from_ref(segment));
    assert!(
        segment.start <= sign.0 + tolerance && segment.end >= sign.1 - tolerance,
        "{what}: {shown:?} does not cover the sign {sign:?}"
    );
    if let Some(rest_until) = rest_until {
        assert!(
            segment.start >= rest_until - REST_ALLOWED_SECONDS - tolerance,
            "{what}: {shown:?} keeps the rest pose before {rest_until}"
        );
    }
    if let Some(rest_from) = rest_from {
        assert!(
            segment.end <= rest_from + REST_ALLOWED_SECONDS + tolerance,
            "{what}: {shown:?} keeps the rest pose after {rest_from}"
        );
    }
}

#[test]
fn each_clip_gives_one_segment_that_covers_the_sign_and_leaves_out_the_rest() {
    let config = SegmenterConfig::default();
    for (truth, seq) in TRUTHS.iter().zip(clip_poses()) {
        let time = |frame: usize| seq.frames[frame.min(seq.frames.len() - 1)].time;
        let segments = segment_sequence(seq, &config);
        eprintln!(
            "{}: {} frames at {:.2} fps; sign {:.3}..{:.3} s, rest until {:?} and from {:?}; \
             segments {:?}",
            truth.name,
            seq.frames.len(),
            seq.fps,
            time(truth.sign.0),
            time(truth.sign.1),
            truth.rest_until.map(time),
            truth.rest_from.map(time),
            describe(&segments)
        );
        assert_eq!(
            segments.len(),
            1,
            "{}: {:?}",
            truth.name,
            describe(&segments)
        );
        let s = &segments[0];
        assert!(s.is_final && s.window == 0);
        assert_eq!(s.frames.len() as u64, s.last_index - s.first_index + 1);
        // The frames are the clip's own, with its timestamps.
        assert_eq!(s.frames[0], seq.frames[s.first_index as usize]);
        assert_eq!(s.start, seq.frames[s.first_index as usize].time);
        check_covers(
            truth.name,
            s,
            (time(truth.sign.0), time(truth.sign.1)),
            truth.rest_until.map(time),
            truth.rest_from.map(time),
            1e-9,
        );
        // As a stream, with the pose stage skipping every other frame, the same utterance comes
        // out, dense and at the same place give or take a frame.
        let mut segmenter = Segmenter::new(config.clone(), seq.fps);
        let mut events = Vec::new();
        for (index, frame) in seq.frames.iter().enumerate().step_by(2) {
            events.extend(segmenter.push(index as u64, frame));
        }
        events.extend(segmenter.finish());
        let streamed: Vec<&Segment> = events
            .iter()
            .filter_map(|e| match e {
                SegmentEvent::Ended(s) => Some(s),
                SegmentEvent::Started { .. } => None,
            })
            .collect();
        assert_eq!(streamed.len(), 1, "{}: skipping frames", truth.name);
        let skipped = streamed[0];
        assert_eq!(
            skipped.frames.len() as u64,
            skipped.last_index - skipped.first_index + 1
        );
        assert!(
            skipped.first_index.abs_diff(s.first_index) <= 3
                && skipped.last_index.abs_diff(s.last_index) <= 3,
            "{}: {:?} with skipped frames against {:?}",
            truth.name,
            describe(std::slice::from_ref(skipped)),
            describe(std::slice::from_ref(s))
        );
    }
}

/// The clips `parts` of [`TRUTHS`] joined into one 25 fps 320x240 video in `dir`.
fn join_clips(dir: &Path, parts: &[usize]) -> PathBuf {
    let mut args: Vec<String> = ["-v", "error", "-y"].map(String::from).to_vec();
    let mut filter = String::new();
    for (n, &part) in parts.iter().enumerate() {
        args.extend([
            "-i".into(),
            path_str(&videos_dir().join(TRUTHS[part].name)).into(),
        ]);
        filter += &format!("[{n}:v]fps=25,scale=320:240,setsar=1[v{n}];");
    }
    for n in 0..parts.len() {
        filter += &format!("[v{n}]");
    }
    filter += &format!("concat=n={}:v=1:a=0[joined]", parts.len());
    let joined = dir.join("joined.mp4");
    args.extend(
        [
            "-filter_complex",
            &filter,
            "-map",
            "[joined]",
            "-c:v",
            "libx264",
        ]
        .map(String::from),
    );
    args.extend(["-pix_fmt", "yuv420p", path_str(&joined)].map(String::from));
    run_tool(
        "ffmpeg",
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    joined
}

/// HOUSE, DIFFERENT and WRONG-WHAT joined into one 25 fps video: three segments, in order, each
/// inside its own part. (FOOTBALL cannot be one of them: its signer's hands are up from its first
/// frame to its last, so joined after a clip that ends with 0.3 s of rest there is no pause
/// between the two signs to find.)
#[test]
fn three_joined_clips_give_three_segments_in_order() {
    let parts = [0, 1, 2];
    let dir = tempfile::tempdir().expect("tempdir");
    let joined = join_clips(dir.path(), &parts);
    let seq = poses_of_video(&joined);
    let segments = segment_sequence(&seq, &SegmenterConfig::default());
    // Each part starts where the ones before it end: their decoded lengths at their own rates.
    let clips = clip_poses();
    let mut offset = seq.frames[0].time;
    let mut expected = Vec::new();
    for &part in &parts {
        let (truth, clip) = (&TRUTHS[part], &clips[part]);
        let time = |frame: usize| offset + frame as f64 / clip.fps;
        expected.push((
            truth.name,
            (time(truth.sign.0), time(truth.sign.1)),
            truth.rest_until.map(time),
            truth.rest_from.map(time),
        ));
        offset += clip.frames.len() as f64 / clip.fps;
    }
    eprintln!(
        "joined: {} frames; parts {:?}; segments {:?}",
        seq.frames.len(),
        expected,
        describe(&segments)
    );
    assert_eq!(segments.len(), 3, "{:?}", describe(&segments));
    for (segment, (name, sign, rest_until, rest_from)) in segments.iter().zip(&expected) {
        // One frame at 25 fps of slack for the rate conversion.
        check_covers(name, segment, *sign, *rest_until, *rest_from, 0.04);
        assert!(segment.is_final);
    }
    for pair in segments.windows(2) {
        assert!(pair[0].end < pair[1].start && pair[1].id == pair[0].id + 1);
    }
}

/// The sentence as a live stream: one utterance, announced once, readable while it is signed,
/// closed after the hands come down.
#[test]
fn the_sentence_streams_as_one_utterance() {
    let seq = &clip_poses()[4];
    let mut segmenter = Segmenter::new(SegmenterConfig::default(), seq.fps);
    let (mut started, mut ended) = (Vec::new(), Vec::new());
    let mut open_at_the_middle = None;
    for (index, frame) in seq.frames.iter().enumerate() {
        for event in segmenter.push(index as u64, frame) {
            match event {
                SegmentEvent::Started {
                    id, first_index, ..
                } => started.push((id, first_index)),
                SegmentEvent::Ended(segment) => ended.push(segment),
            }
        }
        if index == 50 {
            open_at_the_middle = segmenter.current();
        }
    }
    ended.extend(segmenter.finish().into_iter().filter_map(|e| match e {
        SegmentEvent::Ended(s) => Some(s),
        SegmentEvent::Started { .. } => None,
    }));
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(ended.len(), 1, "{:?}", describe(&ended));
    assert_eq!(started[0], (ended[0].id, ended[0].first_index));
    let open = open_at_the_middle.expect("signing at frame 50");
    assert_eq!(
        (open.first_index, open.last_index),
        (ended[0].first_index, 50)
    );
    assert_eq!(open.frames[..], ended[0].frames[..open.frames.len()]);
    // The window converts to a sequence the translator preprocesses like a file.
    let as_file = ended[0].to_sequence(seq.width, seq.height, seq.fps);
    assert_eq!(as_file.frames, ended[0].frames);
    assert_eq!((as_file.width, as_file.height), (320, 240));
}
