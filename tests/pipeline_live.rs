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

fn tiny_translator() -> Arc<Translator> {
    let parity = signcap_tests::shared_dir().join("reference/parity");
    let config = TranslatorConfig {
        threads: 1,
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
    let video =
        signcap_tests::shared_dir().join("eval-media/videos/ase_what-is-your-name_25fps.mp4");
    let clock = ManualClock::new();
    let paced_clock: Arc<dyn Clock> = clock.clone();
    let translator = tiny_translator();
    let interval = Duration::from_millis(500);
    let pipeline: Pipeline<()> = Pipeline::start(
        SourceRequest::Camera(0),
        Arc::new(move |_| {
            let video = VideoFile::open(&video)?;
            Ok(Box::new(PacedSource::new(
                Box::new(video),
                paced_clock.clone(),
                false,
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
