//! The pipeline's stages on scripted sources and scripted pose stages (the real model runs in
//! the integration tests). Where timing matters the tests move a [`ManualClock`] themselves.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::keypoints::{Keypoint, NUM_KEYPOINTS, PoseFrame};
use crate::pose::{PoseError, PoseEstimator};
use crate::source::{Frame, FrameSource, ScriptedSource, SourceError, SourceInfo};

#[test]
fn full_channel_keeps_the_newest_messages() {
    let (tx, rx) = bounded(2);
    assert!(!send_newest(&tx, &rx, 1));
    assert!(!send_newest(&tx, &rx, 2));
    assert!(send_newest(&tx, &rx, 3));
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![2, 3]);
}

/// A live source at ~200 fps in front of a pose stage that needs 30 ms per frame.
struct FastLive {
    info: SourceInfo,
    next: u64,
}

impl FrameSource for FastLive {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.next == 100 {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
        self.next += 1;
        Ok(Some(Frame {
            index: self.next - 1,
            time: 0.0,
            captured_at: Instant::now(),
            width: 4,
            height: 2,
            rgb: Arc::new(vec![0; 24]),
        }))
    }
    fn seek(&mut self, _: u64) -> Result<(), SourceError> {
        Err(SourceError::NotSeekable("live".into()))
    }
}

/// A pose stage that takes this long per frame.
struct SlowPose(Duration);

impl PoseEstimator for SlowPose {
    fn estimate(&mut self, frame: &Frame) -> Result<PoseFrame, PoseError> {
        std::thread::sleep(self.0);
        Ok(PoseFrame::empty(frame.time))
    }
    fn reset(&mut self) {}
}

/// A seekable 30 fps clip of tiny frames.
struct ScriptedFile {
    info: SourceInfo,
    next: u64,
}

impl ScriptedFile {
    fn new(frames: u64) -> Self {
        Self {
            info: SourceInfo {
                name: "clip".into(),
                width: 4,
                height: 2,
                fps: 30.0,
                frame_count: Some(frames),
                duration: Some(frames as f64 / 30.0),
            },
            next: 0,
        }
    }
}

impl FrameSource for ScriptedFile {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if Some(self.next) == self.info.frame_count {
            return Ok(None);
        }
        self.next += 1;
        Ok(Some(Frame {
            index: self.next - 1,
            time: (self.next - 1) as f64 / 30.0,
            captured_at: Instant::now(),
            width: 4,
            height: 2,
            rgb: Arc::new(vec![0; 24]),
        }))
    }
    fn seek(&mut self, frame_index: u64) -> Result<(), SourceError> {
        self.next = frame_index;
        Ok(())
    }
}

fn play_file(sync_delay_frames: u64) -> (Pipeline<()>, Vec<(u64, u64)>) {
    let pipeline: Pipeline<()> = Pipeline::start(
        SourceRequest::File("clip.mp4".into()),
        Arc::new(|_| Ok(Box::new(ScriptedFile::new(60)) as Box<dyn FrameSource>)),
        // Slower than the video: 40 ms a frame against 33 ms frame periods.
        Arc::new(|_| Ok(Box::new(SlowPose(Duration::from_millis(40))) as Box<dyn PoseEstimator>)),
        Arc::new(|_| ()),
        PipelineConfig {
            limits: PipelineLimits {
                // No look-ahead: only the playback clock feeds the pose stage.
                decode_ahead: 0,
                sync_delay_frames,
                ..PipelineLimits::default()
            },
            ..PipelineConfig::default()
        },
        SystemClock::shared(),
        || {},
    );
    pipeline.command(CaptureCommand::Play { speed: 1.0 });
    // (shown frame, frames its newest pose trails it) as the UI would see them.
    let mut shown = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(msg) = pipeline.frames_to_ui.recv_timeout(Duration::from_millis(5)) {
            let lag = pipeline
                .store
                .pose_at_or_before(msg.index)
                .map_or(u64::MAX, |(i, _)| msg.index - i);
            shown.push((msg.index, lag));
        }
        if pipeline
            .events
            .try_iter()
            .any(|e| matches!(e, PipelineEvent::Ended))
        {
            break;
        }
    }
    (pipeline, shown)
}

#[test]
fn the_sync_delay_keeps_keypoints_with_a_video_faster_than_pose() {
    // A frame waits at most one estimate for the stage and one for its own pose: 80 ms,
    // well inside four frame periods.
    let (pipeline, shown) = play_file(4);
    let indices: Vec<u64> = shown.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices.last(), Some(&59), "the clip played to its end");
    assert!(indices.windows(2).all(|w| w[0] <= w[1]), "{indices:?}");
    // The pose stage skips frames it has no time for; every shown frame has its own pose
    // or the one before (the first frame is shown before any pose exists).
    let worst = shown.iter().skip(1).map(|(_, lag)| *lag).max();
    assert!(worst <= Some(1), "overlay lags: {shown:?}");
    assert!(
        pipeline
            .counters
            .dropped_before_pose
            .load(Ordering::Relaxed)
            > 0
    );
    // Once idle, the stage fills in the frames it skipped: the whole clip is cached.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pipeline.store.pose_count() < 60 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        pipeline.store.pose_count(),
        60,
        "skipped frames never estimated"
    );

    // Without the delay the same stage trails the video by more.
    let (_, shown) = play_file(0);
    let worst = shown.iter().skip(1).map(|(_, lag)| *lag).max();
    assert!(worst >= Some(2), "without the delay: {shown:?}");
}

#[test]
fn slow_pose_stage_drops_frames_instead_of_queueing_them() {
    let info = SourceInfo {
        name: "live".into(),
        width: 4,
        height: 2,
        fps: 200.0,
        frame_count: None,
        duration: None,
    };
    let pipeline: Pipeline<()> = Pipeline::start(
        SourceRequest::Camera(0),
        Arc::new(move |_| {
            Ok(Box::new(FastLive {
                info: info.clone(),
                next: 0,
            }) as Box<dyn FrameSource>)
        }),
        Arc::new(|_| Ok(Box::new(SlowPose(Duration::from_millis(30))) as Box<dyn PoseEstimator>)),
        Arc::new(|_| ()),
        PipelineConfig::default(),
        SystemClock::shared(),
        || {},
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ended = false;
    while !ended && Instant::now() < deadline {
        ended = pipeline
            .events
            .recv_timeout(Duration::from_millis(50))
            .is_ok_and(|e| matches!(e, PipelineEvent::Ended));
        assert!(pipeline.pose_queue_len() <= FRAMES_TO_POSE_CAPACITY);
    }
    assert!(ended, "the source did not finish");
    std::thread::sleep(Duration::from_millis(100));
    let computed = pipeline.counters.poses_computed.load(Ordering::Relaxed);
    let dropped = pipeline
        .counters
        .dropped_before_pose
        .load(Ordering::Relaxed);
    assert!(
        computed < 40,
        "{computed} poses: the slow stage cannot have done them all"
    );
    assert!(
        dropped > 50,
        "only {dropped} frames dropped before the pose stage"
    );
    // The newest frames win: the last frame's pose is computed.
    assert!(pipeline.store.has_pose(99), "the newest frame was dropped");
}

/// A person facing the camera in a 640×480 frame: shoulders at y 200, hips at y 400. Between
/// `signing.start` and `signing.end` (frame indices) both hands are up in front of the chest and
/// moving; otherwise they hang by the hips, unseen by the hand model (scores 0).
fn synthetic_pose(index: u64, time: f64, signing: &std::ops::Range<u64>) -> PoseFrame {
    let mut keypoints = vec![
        Keypoint {
            x: 320.0,
            y: 300.0,
            score: 0.9,
        };
        NUM_KEYPOINTS
    ];
    let mut set = |i: usize, x: f32, y: f32, score: f32| keypoints[i] = Keypoint { x, y, score };
    set(0, 320.0, 120.0, 0.99);
    set(5, 400.0, 200.0, 0.99);
    set(6, 240.0, 200.0, 0.99);
    set(11, 380.0, 400.0, 0.99);
    set(12, 260.0, 400.0, 0.99);
    let up = signing.contains(&index);
    let wave = (index as f32 * 0.7).sin() * 25.0;
    let (left_wrist, right_wrist, hand_score) = if up {
        ((370.0 + wave, 240.0), (270.0 - wave, 250.0 + wave), 0.9)
    } else {
        ((420.0, 430.0), (220.0, 430.0), 0.0)
    };
    set(7, 420.0, if up { 300.0 } else { 320.0 }, 0.95);
    set(8, 220.0, if up { 300.0 } else { 320.0 }, 0.95);
    set(9, left_wrist.0, left_wrist.1, 0.95);
    set(10, right_wrist.0, right_wrist.1, 0.95);
    for j in 0..21 {
        let spread = j as f32 * 2.0;
        set(
            91 + j,
            left_wrist.0 + spread,
            left_wrist.1 - spread,
            hand_score,
        );
        set(
            112 + j,
            right_wrist.0 - spread,
            right_wrist.1 - spread,
            hand_score,
        );
    }
    PoseFrame {
        time,
        keypoints_in_image: keypoints,
    }
}

/// A pose stage that "sees" the synthetic person of [`synthetic_pose`].
struct ScriptedPose {
    signing: std::ops::Range<u64>,
}

impl PoseEstimator for ScriptedPose {
    fn estimate(&mut self, frame: &Frame) -> Result<PoseFrame, PoseError> {
        Ok(synthetic_pose(frame.index, frame.time, &self.signing))
    }
    fn reset(&mut self) {}
}

fn scripted_frames(count: usize, fps: f64) -> (SourceInfo, Vec<Frame>) {
    let info = SourceInfo {
        name: "scripted".into(),
        width: 640,
        height: 480,
        fps,
        frame_count: Some(count as u64),
        duration: Some(count as f64 / fps),
    };
    let rgb = Arc::new(vec![0u8; 640 * 480 * 3]);
    let frames = (0..count)
        .map(|i| Frame {
            index: i as u64,
            time: i as f64 / fps,
            captured_at: Instant::now(),
            width: 640,
            height: 480,
            rgb: rgb.clone(),
        })
        .collect();
    (info, frames)
}

fn start_scripted(
    source: impl Fn() -> Box<dyn FrameSource> + Send + Sync + 'static,
    signing: std::ops::Range<u64>,
    mode: CaptureMode,
    clock: Arc<dyn Clock>,
) -> Pipeline<()> {
    Pipeline::start(
        SourceRequest::File("scripted.mp4".into()),
        Arc::new(move |_| Ok(source())),
        Arc::new(move |_| {
            Ok(Box::new(ScriptedPose {
                signing: signing.clone(),
            }) as Box<dyn PoseEstimator>)
        }),
        Arc::new(|_| ()),
        PipelineConfig {
            mode: Some(mode),
            captions: Some(CaptionConfig::default()),
            ..PipelineConfig::default()
        },
        clock,
        || {},
    )
}

/// Every event until `Finished`, failing the test after `limit` of real time.
fn events_until_finished(pipeline: &Pipeline<()>, limit: Duration) -> Vec<PipelineEvent> {
    let deadline = Instant::now() + limit;
    let mut events = Vec::new();
    while Instant::now() < deadline {
        if let Ok(event) = pipeline.events.recv_timeout(Duration::from_millis(20)) {
            let finished = matches!(event, PipelineEvent::Finished);
            events.push(event);
            if finished {
                return events;
            }
        }
    }
    panic!("the pipeline did not finish: {events:?}");
}

fn ended_spans(events: &[PipelineEvent]) -> Vec<captions::SegmentSpan> {
    events
        .iter()
        .filter_map(|e| match e {
            PipelineEvent::Segment(SegmentNotice::Ended(span)) => Some(span.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_lossless_stream_segments_every_frame_and_finishes() {
    let (info, frames) = scripted_frames(120, 30.0);
    let pipeline = start_scripted(
        move || Box::new(ScriptedSource::new(info.clone(), frames.clone())),
        30..70,
        CaptureMode::Lossless,
        SystemClock::shared(),
    );
    let events = events_until_finished(&pipeline, Duration::from_secs(30));
    assert_eq!(
        pipeline.counters.poses_segmented.load(Ordering::Relaxed),
        120
    );
    assert_eq!(
        pipeline
            .counters
            .dropped_before_pose
            .load(Ordering::Relaxed),
        0
    );
    assert_eq!(
        pipeline
            .counters
            .dropped_before_segmenter
            .load(Ordering::Relaxed),
        0
    );
    let spans = ended_spans(&events);
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert!(span.first_index <= 30 && span.last_index >= 69, "{span:?}");
    assert!(
        span.first_index > 5 && span.last_index < 115,
        "rest kept out: {span:?}"
    );
    // Times are the frames' own.
    assert!(
        (span.start - span.first_index as f64 / 30.0).abs() < 1e-9,
        "{span:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, PipelineEvent::Failed { .. })),
        "{events:?}"
    );
}

#[test]
fn a_paced_stream_follows_the_clock_it_is_given() {
    let (info, frames) = scripted_frames(90, 30.0);
    let clock = ManualClock::new();
    let paced_clock: Arc<dyn Clock> = clock.clone();
    let close = Arc::new(std::sync::Mutex::new(None));
    let close_slot = close.clone();
    let pipeline = start_scripted(
        move || {
            let paced = paced::PacedSource::new(
                Box::new(ScriptedSource::new(info.clone(), frames.clone())),
                paced_clock.clone(),
                Some(1),
            );
            *close_slot.lock().unwrap() = Some(paced.close_handle());
            Box::new(paced)
        },
        20..50,
        CaptureMode::Live,
        clock.clone(),
    );
    // Frame k is due at k/30 s: with the clock held at 0 only frame 0 may come.
    let deadline = Instant::now() + Duration::from_secs(20);
    while pipeline.counters.poses_segmented.load(Ordering::Relaxed) < 1 {
        assert!(Instant::now() < deadline, "the first frame never came");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(pipeline.counters.decoded.load(Ordering::Relaxed), 1);
    // Frame by frame: each step releases exactly one frame, and the live stage keeps up.
    step_frames(&pipeline, &clock, 90, 30.0);
    clock.advance(Duration::from_secs(1));
    let events = events_until_finished(&pipeline, Duration::from_secs(20));
    let spans = ended_spans(&events);
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert!(
        spans[0].first_index <= 20 && spans[0].last_index >= 49,
        "{spans:?}"
    );
    assert_eq!(pipeline.counters.decoded.load(Ordering::Relaxed), 90);
    drop(close);
}

/// Moves `clock` one frame period at a time, each time waiting (in real time, bounded) until
/// the segmenter has taken that frame's pose: the pipeline never races the clock.
fn step_frames(pipeline: &Pipeline<()>, clock: &ManualClock, frames: u64, fps: f64) {
    let wait_for = |count: u64| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while pipeline.counters.poses_segmented.load(Ordering::Relaxed) < count {
            assert!(Instant::now() < deadline, "stuck before {count} poses");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    wait_for(1);
    for k in 1..frames {
        clock.advance(Duration::from_secs_f64(1.0 / fps) + Duration::from_micros(1));
        wait_for(k + 1);
    }
}

#[test]
fn a_camera_failing_mid_utterance_says_so_and_still_closes_the_utterance() {
    let (mut info, frames) = scripted_frames(100, 30.0);
    info.frame_count = None;
    let clock = ManualClock::new();
    let paced_clock: Arc<dyn Clock> = clock.clone();
    let pipeline = start_scripted(
        move || {
            let camera = ScriptedSource::new(info.clone(), frames.clone())
                .live()
                .fail_after(60);
            Box::new(paced::PacedSource::new(
                Box::new(camera),
                paced_clock.clone(),
                Some(1),
            ))
        },
        30..90,
        CaptureMode::Live,
        clock.clone(),
    );
    step_frames(&pipeline, &clock, 60, 30.0);
    clock.advance(Duration::from_secs(1));
    let events = events_until_finished(&pipeline, Duration::from_secs(30));
    let failures: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            PipelineEvent::Failed { stage, message } => Some((*stage, message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 1, "{events:?}");
    assert_eq!(failures[0].0, Stage::Capture);
    assert!(failures[0].1.contains("stopped delivering"), "{failures:?}");
    // The utterance under way when the camera failed still ends, with what was signed.
    let spans = ended_spans(&events);
    assert_eq!(spans.len(), 1, "{events:?}");
    assert!(
        spans[0].first_index <= 30 && spans[0].last_index >= 55,
        "{spans:?}"
    );
}
