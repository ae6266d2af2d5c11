//! The live pipeline on a real clip played as a camera, with the real pose backend and the tiny
//! parity checkpoint, on a clock the test moves frame by frame: provisional captions while the
//! signing goes on, at most one per interval, then a final one equal to translating the same
//! frames directly; and a long scripted stream whose stages neither stall nor grow.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use signcap_engine::decode::translator::{SearchMode, Translator, TranslatorConfig};
use signcap_engine::keypoints::PoseSequence;
use signcap_engine::pipeline::paced::PacedSource;
use signcap_engine::pipeline::{
    CaptionConfig, CaptureMode, Clock, ManualClock, Pipeline, PipelineConfig, PipelineEvent,
    SegmentNotice, SourceRequest, create_engine_estimator,
};
use signcap_engine::source::{FrameSource, VideoFile};

/// The soak measures this process's memory: no other test of this binary may run beside it.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn tiny_translator(max_new_tokens: usize) -> Arc<Translator> {
    let parity = signcap_tests::shared_dir().join("reference/parity");
    let config = TranslatorConfig {
        threads: 1,
        max_new_tokens,
        ..TranslatorConfig::new(
            parity.join("tiny_unisign_bf16.pth"),
            parity.join("tiny-mt5"),
        )
    };
    Arc::new(Translator::load(&config).unwrap())
}

/// Moves the clock one frame period at a time, waiting (bounded, in real time) for the
/// segmenter to take each frame's pose, so that the pipeline never races the clock.
fn step(pipeline: &Pipeline<()>, clock: &ManualClock, frames: u64, fps: f64) {
    let wait_for = |count: u64| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while pipeline.counters.poses_segmented.load(Ordering::Relaxed) < count {
            assert!(Instant::now() < deadline, "stuck before pose {count}");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let start = pipeline.counters.poses_segmented.load(Ordering::Relaxed);
    for k in 0..frames {
        if start + k > 0 {
            clock.advance(Duration::from_secs_f64(1.0 / fps) + Duration::from_micros(1));
        }
        wait_for(start + k + 1);
    }
}

#[test]
fn provisional_captions_then_a_final_one_equal_to_translating_the_segment() {
    let _alone = one_at_a_time();
    let video =
        signcap_tests::shared_dir().join("eval-media/videos/ase_what-is-your-name_25fps.mp4");
    let clock = ManualClock::new();
    let paced_clock: Arc<dyn Clock> = clock.clone();
    let translator = tiny_translator(100);
    let interval = Duration::from_millis(500);
    let pipeline: Pipeline<()> = Pipeline::start(
        SourceRequest::Camera(0),
        Arc::new(move |_| {
            let video = VideoFile::open(&video)?;
            Ok(Box::new(PacedSource::new(
                Box::new(video),
                paced_clock.clone(),
                Some(1),
            )) as Box<dyn FrameSource>)
        }),
        Arc::new(create_engine_estimator),
        Arc::new(|_| ()),
        PipelineConfig {
            mode: Some(CaptureMode::Live),
            captions: Some(CaptionConfig {
                translator: Some(translator.clone()),
                provisional_interval: Some(interval),
                ..CaptionConfig::default()
            }),
            ..PipelineConfig::default()
        },
        clock.clone(),
        || {},
    );
    step(&pipeline, &clock, 107, 25.0);
    clock.advance(Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut events = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no Finished: {events:?}");
        let Ok(event) = pipeline.events.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        if matches!(event, PipelineEvent::Finished) {
            break;
        }
        events.push(event);
    }
    let failures: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, PipelineEvent::Failed { .. }))
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    let captions: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            PipelineEvent::Caption(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let finals: Vec<_> = captions.iter().filter(|c| c.is_final).collect();
    assert!(!finals.is_empty(), "no final caption: {events:?}");
    let first_final = finals[0];
    let provisional_before: Vec<_> = captions
        .iter()
        .take_while(|c| !c.is_final)
        .filter(|c| c.span.utterance == first_final.span.utterance)
        .collect();
    assert!(
        !provisional_before.is_empty(),
        "no provisional caption before the final one: {captions:?}"
    );
    // At most one request per interval of the clock over the utterance's span.
    let span_seconds = first_final.span.end - first_final.span.start;
    let requested = pipeline
        .counters
        .provisional_requested
        .load(Ordering::Relaxed);
    let most = (span_seconds / interval.as_secs_f64()).floor() as u64 + 1;
    assert!(
        requested <= most * finals.len() as u64,
        "{requested} provisional requests over {span_seconds} s"
    );
    // Provisional windows grow; each is a prefix of the final one.
    for pair in provisional_before.windows(2) {
        assert!(pair[0].span.last_index <= pair[1].span.last_index);
    }
    assert!(
        provisional_before
            .iter()
            .all(|c| c.span.first_index == first_final.span.first_index)
    );

    // The final caption is the beam translation of exactly the window's frames.
    let poses: Vec<_> = (first_final.span.first_index..=first_final.span.last_index)
        .map(|i| {
            pipeline
                .store
                .pose_at_or_before(i)
                .map(|(_, p)| p.pose)
                .unwrap()
        })
        .collect();
    // Live streams keep every pose of a short clip (the store forgets only old ones).
    assert!(pipeline.store.has_pose(first_final.span.first_index));
    let sequence = PoseSequence {
        width: 320,
        height: 240,
        fps: 25.0,
        frames: poses,
    };
    let direct = translator
        .translate_sequence(&sequence, SearchMode::Beam)
        .unwrap();
    assert_eq!(first_final.ids, direct.translation.generation.ids);
    assert_eq!(first_final.text, direct.translation.text);
    assert!(events.iter().any(|e| matches!(
        e,
        PipelineEvent::Segment(SegmentNotice::Ended(span)) if span.utterance == first_final.span.utterance
    )));
}

/// A pose stage that replays the poses of a real clip, frame `i` getting pose `i mod len`.
struct ReplayPose(Arc<PoseSequence>);

impl signcap_engine::pose::PoseEstimator for ReplayPose {
    fn estimate(
        &mut self,
        frame: &signcap_engine::source::Frame,
    ) -> Result<signcap_engine::keypoints::PoseFrame, signcap_engine::pose::PoseError> {
        let frames = &self.0.frames;
        let mut pose = frames[frame.index as usize % frames.len()].clone();
        pose.time = frame.time;
        Ok(pose)
    }
    fn reset(&mut self) {}
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The short version of the 10-minute soak (`signcap bench soak`): a scripted camera at 30 fps
/// replaying a real signer's poses, 66 s of stream time with the tiny checkpoint. Every
/// utterance gets its final caption, nothing queues up, and memory stays flat.
#[test]
fn a_long_scripted_stream_neither_stalls_nor_grows() {
    let _alone = one_at_a_time();
    let sequence = Arc::new(
        signcap_engine::keypoints::read_pose_file(
            &signcap_tests::shared_dir()
                .join("eval-media/poses/ase_what-is-your-name.holistic.pose"),
        )
        .unwrap(),
    );
    let fps = 30.0;
    let (width, height) = (sequence.width, sequence.height);
    let info = signcap_engine::source::SourceInfo {
        name: "scripted camera".into(),
        width,
        height,
        fps,
        frame_count: None,
        duration: None,
    };
    let blank = Arc::new(vec![0u8; width as usize * height as usize * 3]);
    let frames: Vec<_> = (0..sequence.frames.len())
        .map(|i| signcap_engine::source::Frame {
            index: i as u64,
            time: i as f64 / fps,
            captured_at: Instant::now(),
            width,
            height,
            rgb: blank.clone(),
        })
        .collect();
    let clock = ManualClock::new();
    let paced_clock: Arc<dyn Clock> = clock.clone();
    let replay = sequence.clone();
    // The looping camera waits on a clock that stops moving when the test ends: it is unplugged
    // then, so that the pipeline can stop.
    let unplug = Arc::new(std::sync::Mutex::new(None));
    let unplug_slot = unplug.clone();
    let pipeline: Pipeline<()> = Pipeline::start(
        SourceRequest::Camera(0),
        Arc::new(move |_| {
            let camera = signcap_engine::source::ScriptedSource::new(info.clone(), frames.clone());
            let paced = PacedSource::new(Box::new(camera), paced_clock.clone(), None);
            *unplug_slot.lock().unwrap() = Some(paced.close_handle());
            Ok(Box::new(paced) as Box<dyn FrameSource>)
        }),
        Arc::new(move |_| Ok(Box::new(ReplayPose(replay.clone())) as _)),
        Arc::new(|_| ()),
        PipelineConfig {
            mode: Some(CaptureMode::Live),
            captions: Some(CaptionConfig {
                // Random weights never say `</s>`: short captions keep the model's share of
                // this test small; the stages around it are what is soaked.
                translator: Some(tiny_translator(8)),
                ..CaptionConfig::default()
            }),
            ..PipelineConfig::default()
        },
        clock.clone(),
        || {},
    );
    let _unplug = Unplug(unplug);
    let mut ended = 0usize;
    let mut finals = 0usize;
    let drain = |ended: &mut usize, finals: &mut usize| {
        for event in pipeline.events.try_iter() {
            match event {
                PipelineEvent::Segment(SegmentNotice::Ended(_)) => *ended += 1,
                PipelineEvent::Caption(c) if c.is_final => *finals += 1,
                PipelineEvent::Failed { stage, message } => panic!("{stage}: {message}"),
                _ => {}
            }
        }
    };
    let mut rss_after_warm_up = 0;
    for chunk in 0..20 {
        step(&pipeline, &clock, 100, fps);
        drain(&mut ended, &mut finals);
        if chunk == 6 {
            rss_after_warm_up = rss_kb();
        }
        // Nothing piles up: the store keeps a bounded window of a live stream.
        assert!(
            pipeline.store.frame_count() <= 8,
            "{} frames cached",
            pipeline.store.frame_count()
        );
        assert!(
            pipeline.store.pose_count() <= 600,
            "{} poses kept",
            pipeline.store.pose_count()
        );
    }
    // Let the translator catch up with the last utterance, on the same clock.
    let deadline = Instant::now() + Duration::from_secs(300);
    while finals < ended {
        assert!(
            Instant::now() < deadline,
            "{finals} finals for {ended} utterances"
        );
        std::thread::sleep(Duration::from_millis(10));
        drain(&mut ended, &mut finals);
    }
    let rss_end = rss_kb();
    assert!(
        ended >= 8,
        "only {ended} utterances in 66 s of a repeated sentence"
    );
    assert_eq!(
        pipeline
            .counters
            .dropped_before_segmenter
            .load(Ordering::Relaxed),
        0
    );
    assert!(
        rss_end <= rss_after_warm_up + rss_after_warm_up / 10,
        "RSS grew from {rss_after_warm_up} kB to {rss_end} kB"
    );
}

/// Unplugs the scripted camera when dropped (declared after the pipeline, so dropped first,
/// also when an assertion fails).
struct Unplug(Arc<std::sync::Mutex<Option<Arc<std::sync::atomic::AtomicBool>>>>);

impl Drop for Unplug {
    fn drop(&mut self) {
        if let Some(handle) = self.0.lock().unwrap_or_else(|p| p.into_inner()).take() {
            handle.store(true, Ordering::Relaxed);
        }
    }
}
