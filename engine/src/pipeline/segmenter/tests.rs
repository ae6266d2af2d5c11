//! Unit tests of the segmenter on synthetic poses whose hand heights and motions are known.

use super::*;
use crate::keypoints::NUM_KEYPOINTS;

const FPS: f64 = 25.0;
/// Shoulders 100 px apart with their midpoint at (150, 100): one body unit is 100 px.
const UNIT_PX: f32 = 100.0;
const DOWN: f32 = -2.0;
const UP: f32 = 0.0;

/// A pose with both shoulders found and the wrists at `heights` (body units above the
/// shoulders), `x_in_body_units` to the side of each shoulder.
fn pose(time: f64, heights: [f32; 2], x_in_body_units: f32) -> PoseFrame {
    let mut frame = PoseFrame::empty(time);
    let k = &mut frame.keypoints_in_image;
    k[LEFT_SHOULDER] = Keypoint {
        x: 200.0,
        y: 100.0,
        score: 0.9,
    };
    k[RIGHT_SHOULDER] = Keypoint {
        x: 100.0,
        y: 100.0,
        score: 0.9,
    };
    for (side, wrist) in [LEFT_WRIST, RIGHT_WRIST].into_iter().enumerate() {
        let sign = if side == 0 { 1.0 } else { -1.0 };
        k[wrist] = Keypoint {
            x: 150.0 + sign * (0.5 + x_in_body_units) * UNIT_PX,
            y: 100.0 - heights[side] * UNIT_PX,
            score: 0.9,
        };
    }
    frame
}

/// A right hand at `height`, left hand down; `x` sways it sideways.
fn right_hand(index: usize, height: f32, x: f32) -> PoseFrame {
    pose(index as f64 / FPS, [DOWN, height], x)
}

/// Frames with the right hand up and waving (1 body unit at 2 Hz) in the index ranges
/// `active` (from, to exclusive), down and still otherwise.
fn script(len: usize, active: &[(usize, usize)]) -> Vec<PoseFrame> {
    (0..len)
        .map(|i| {
            if active.iter().any(|&(from, to)| (from..to).contains(&i)) {
                let phase = i as f32 / FPS as f32 * 2.0 * std::f32::consts::TAU;
                right_hand(i, UP, 0.5 * phase.sin())
            } else {
                right_hand(i, DOWN, 0.0)
            }
        })
        .collect()
}

/// Pushes `frames` with indices from 0 and finishes; every event with the index it came at.
fn run(config: &SegmenterConfig, frames: &[PoseFrame]) -> Vec<(u64, SegmentEvent)> {
    let mut segmenter = Segmenter::new(config.clone(), FPS);
    let mut events = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        events.extend(
            segmenter
                .push(i as u64, frame)
                .into_iter()
                .map(|e| (i as u64, e)),
        );
    }
    let end = frames.len() as u64;
    events.extend(segmenter.finish().into_iter().map(|e| (end, e)));
    events
}

fn segments(events: &[(u64, SegmentEvent)]) -> Vec<Segment> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            SegmentEvent::Ended(s) => Some(s.clone()),
            SegmentEvent::Started { .. } => None,
        })
        .collect()
}

fn spans(segments: &[Segment]) -> Vec<(u64, u64)> {
    segments
        .iter()
        .map(|s| (s.first_index, s.last_index))
        .collect()
}

fn counts() -> FrameCounts {
    FrameCounts::new(&SegmenterConfig::default(), FPS)
}

#[test]
fn hands_down_the_whole_time_give_nothing() {
    let events = run(&SegmenterConfig::default(), &script(500, &[]));
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn one_burst_gives_one_segment_that_covers_it_with_a_little_context() {
    let events = run(&SegmenterConfig::default(), &script(200, &[(50, 120)]));
    let found = segments(&events);
    assert_eq!(found.len(), 1, "{:?}", spans(&found));
    let s = &found[0];
    let c = counts();
    // The hand is up in 50..120; the context is `pad` frames, and the hand's fall is movement
    // for at most the motion span.
    assert!(s.first_index <= 50 && s.first_index >= 50 - c.pad, "{s:?}");
    assert!(s.last_index >= 119 && s.last_index <= 120 + c.motion_lag as u64 + c.pad);
    assert!(s.is_final && s.window == 0);
    assert_eq!(s.frames.len() as u64, s.last_index - s.first_index + 1);
    assert_eq!(s.start, s.first_index as f64 / FPS);
    assert_eq!(s.end, s.last_index as f64 / FPS);
    // Started comes first, with the same first frame and id.
    match &events[0].1 {
        SegmentEvent::Started {
            id,
            start,
            first_index,
        } => {
            assert_eq!((*id, *start, *first_index), (s.id, s.start, s.first_index));
        }
        other => panic!("expected Started, got {other:?}"),
    }
}

#[test]
fn the_utterance_ends_only_after_the_rest_time() {
    let config = SegmenterConfig::default();
    let events = run(&config, &script(200, &[(50, 120)]));
    let (ended_at, _) = events
        .iter()
        .find(|(_, e)| matches!(e, SegmentEvent::Ended(_)))
        .expect("an end");
    let c = counts();
    // Hands are down from 120 (still moving for the motion span at most): the end comes
    // `rest` frames after the last activity, not earlier.
    assert!(*ended_at >= 120 + c.rest - 1, "ended at {ended_at}");
    assert!(
        *ended_at <= 120 + c.motion_lag as u64 + c.rest,
        "ended at {ended_at}"
    );
    // A pause shorter than the rest time keeps one utterance; a longer one splits it.
    let short_pause = (0.6 * config.rest_seconds * FPS) as usize;
    let one = segments(&run(
        &config,
        &script(300, &[(50, 100), (100 + short_pause, 160)]),
    ));
    assert_eq!(one.len(), 1, "{:?}", spans(&one));
    let long_pause = (2.0 * config.rest_seconds * FPS) as usize;
    let two = segments(&run(
        &config,
        &script(300, &[(50, 100), (100 + long_pause, 200)]),
    ));
    assert_eq!(two.len(), 2, "{:?}", spans(&two));
    assert!(two[0].last_index < two[1].first_index);
    assert_eq!(two[1].id, two[0].id + 1);
    // A longer rest time bridges the long pause too.
    let patient = SegmenterConfig {
        rest_seconds: 3.0 * config.rest_seconds,
        ..config
    };
    let bridged = segments(&run(
        &patient,
        &script(300, &[(50, 100), (100 + long_pause, 200)]),
    ));
    assert_eq!(bridged.len(), 1, "{:?}", spans(&bridged));
}

#[test]
fn activity_shorter_than_the_minimum_is_dropped() {
    let config = SegmenterConfig {
        min_segment_seconds: 0.4,
        ..SegmenterConfig::default()
    };
    // 3 frames up (0.12 s), even with the fall's movement, stays under 0.4 s.
    let events = run(&config, &script(150, &[(50, 53)]));
    assert!(events.is_empty(), "{events:?}");
    // 0.6 s up passes.
    let found = segments(&run(&config, &script(150, &[(50, 65)])));
    assert_eq!(found.len(), 1);
    // The dropped burst used no id.
    let events = run(&config, &script(300, &[(50, 53), (150, 180)]));
    let found = segments(&events);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, 0);
}

#[test]
fn noise_at_a_threshold_does_not_flicker() {
    // The hand held still just around the raise threshold, jittering by less than the band.
    let config = SegmenterConfig {
        // Only the height decides here.
        hand_moving_enter_in_body_units_per_second: 1e6,
        hand_moving_exit_in_body_units_per_second: 1e6 - 1.0,
        ..SegmenterConfig::default()
    };
    let enter = config.hand_raised_enter_in_body_units;
    let band = enter - config.hand_raised_exit_in_body_units;
    let heights: Vec<f32> = (0..200)
        .map(|i| match i {
            0..50 => DOWN,
            // Alternating just above and just below the enter threshold.
            _ => enter + if i % 2 == 0 { 0.4 } else { -0.4 } * band,
        })
        .collect();
    let toggles = |config: &SegmenterConfig| {
        let mut segmenter = Segmenter::new(config.clone(), FPS);
        let mut raised = Vec::new();
        for (i, &h) in heights.iter().enumerate() {
            segmenter.push(i as u64, &right_hand(i, h, 0.0));
            raised.push(segmenter.activity().raised);
        }
        raised.windows(2).filter(|w| w[0] != w[1]).count()
    };
    assert_eq!(toggles(&config), 1);
    // Without a band, the same noise flickers on every frame: the test can tell.
    let no_band = SegmenterConfig {
        hand_raised_exit_in_body_units: enter,
        ..config.clone()
    };
    assert!(toggles(&no_band) > 100);
    // And the same for speed: a hand swaying at a speed around the enter threshold.
    let config = SegmenterConfig::default();
    let enter = config.hand_moving_enter_in_body_units_per_second;
    let band = enter - config.hand_moving_exit_in_body_units_per_second;
    let mut x = 0.0;
    let mut segmenter = Segmenter::new(config.clone(), FPS);
    let mut moving = Vec::new();
    for i in 0..200 {
        let speed = enter + if (i / 3) % 2 == 0 { 0.4 } else { -0.4 } * band;
        x += speed / FPS as f32;
        segmenter.push(i, &pose(i as f64 / FPS, [UP, UP], x));
        if i > 10 {
            moving.push(segmenter.activity().moving);
        }
    }
    assert!(moving.iter().all(|&m| m), "{moving:?}");
}

#[test]
fn skipped_frames_are_filled_in_linearly() {
    let config = SegmenterConfig {
        pad_seconds: 0.0,
        min_segment_seconds: 0.0,
        ..SegmenterConfig::default()
    };
    let mut segmenter = Segmenter::new(config, FPS);
    let mut a = right_hand(0, UP, 0.0);
    let mut b = right_hand(4, UP, 0.0);
    // One point whose values make the interpolation exact in f32.
    a.keypoints_in_image[120] = Keypoint {
        x: 100.0,
        y: 40.0,
        score: 0.25,
    };
    b.keypoints_in_image[120] = Keypoint {
        x: 140.0,
        y: 20.0,
        score: 0.75,
    };
    // A point found only before the gap, one only after.
    a.keypoints_in_image[30] = Keypoint {
        x: 7.0,
        y: 8.0,
        score: 0.5,
    };
    b.keypoints_in_image[31] = Keypoint {
        x: 9.0,
        y: 10.0,
        score: 0.6,
    };
    let c = right_hand(9, UP, 0.0);
    let mut events = segmenter.push(0, &a);
    events.extend(segmenter.push(4, &b));
    // No person at 6: the frames between 4 and 6 copy 4, those between 6 and 9 copy 9.
    events.extend(segmenter.push(6, &PoseFrame::empty(6.0 / FPS)));
    events.extend(segmenter.push(9, &c));
    events.extend(segmenter.finish());
    let found = segments(&events.into_iter().map(|e| (0, e)).collect::<Vec<_>>());
    assert_eq!(spans(&found), [(0, 9)]);
    let frames = &found[0].frames;
    assert_eq!(frames.len(), 10);
    for (i, f) in frames.iter().enumerate() {
        assert!((f.time - i as f64 / FPS).abs() < 1e-12, "{i}: {}", f.time);
        assert_eq!(f.keypoints_in_image.len(), NUM_KEYPOINTS);
    }
    for (i, (x, y, score)) in [
        (110.0, 35.0, 0.375),
        (120.0, 30.0, 0.5),
        (130.0, 25.0, 0.625),
    ]
    .into_iter()
    .enumerate()
    {
        let k = frames[i + 1].keypoints_in_image[120];
        assert_eq!((k.x, k.y, k.score), (x, y, score), "frame {}", i + 1);
        assert_eq!(
            frames[i + 1].keypoints_in_image[30],
            a.keypoints_in_image[30]
        );
        assert_eq!(
            frames[i + 1].keypoints_in_image[31],
            b.keypoints_in_image[31]
        );
    }
    assert_eq!(frames[4].keypoints_in_image, b.keypoints_in_image);
    assert_eq!(frames[5].keypoints_in_image, b.keypoints_in_image);
    assert!(frames[6].keypoints_in_image.iter().all(|k| k.score == 0.0));
    assert_eq!(frames[7].keypoints_in_image, c.keypoints_in_image);
    assert_eq!(frames[8].keypoints_in_image, c.keypoints_in_image);
}

#[test]
fn a_long_utterance_comes_in_overlapping_windows() {
    let config = SegmenterConfig {
        still_seconds: 1000.0,
        ..SegmenterConfig::default()
    };
    let (max, overlap) = (
        config.max_window_frames as u64,
        config.window_overlap_frames as u64,
    );
    let frames = script(1200, &[(20, 1100)]);
    let events = run(&config, &frames);
    let found = segments(&events);
    assert!(found.len() >= 5, "{:?}", spans(&found));
    for (w, s) in found.iter().enumerate() {
        assert_eq!((s.id, s.window), (0, w));
        assert!(s.frames.len() as u64 <= max);
        assert_eq!(s.frames.len() as u64, s.last_index - s.first_index + 1);
        assert_eq!(s.is_final, w + 1 == found.len());
        for (offset, f) in s.frames.iter().enumerate() {
            assert_eq!(f, &frames[s.first_index as usize + offset]);
        }
    }
    for pair in found.windows(2) {
        assert_eq!(pair[0].frames.len() as u64, max);
        assert_eq!(pair[1].first_index, pair[0].last_index + 1 - overlap);
    }
    let last = found.last().expect("windows");
    assert!(found[0].first_index <= 20 && last.last_index >= 1099);
    // The full windows come out while the signing goes on, not at its end.
    let first_full_at = events
        .iter()
        .find(|(_, e)| matches!(e, SegmentEvent::Ended(s) if s.window == 0))
        .map(|(at, _)| *at)
        .expect("window 0");
    assert!(first_full_at <= found[0].last_index + 1, "{first_full_at}");
    // Without overlap, windows tile the utterance.
    let tiled = segments(&run(
        &SegmenterConfig {
            window_overlap_frames: 0,
            ..config
        },
        &frames,
    ));
    for pair in tiled.windows(2) {
        assert_eq!(pair[1].first_index, pair[0].last_index + 1);
    }
}

#[test]
fn frames_without_a_person_are_rest_and_stay_whole() {
    let mut frames = script(300, &[(50, 150)]);
    // Nobody at all, then keypoint lists of the wrong length, then a short loss mid-signing.
    for (i, frame) in frames.iter_mut().enumerate() {
        if i < 20 {
            *frame = PoseFrame::empty(i as f64 / FPS);
        } else if i < 30 {
            frame.keypoints_in_image.clear();
        } else if (100..103).contains(&i) {
            *frame = PoseFrame::empty(i as f64 / FPS);
        }
    }
    let found = segments(&run(&SegmenterConfig::default(), &frames));
    assert_eq!(found.len(), 1, "{:?}", spans(&found));
    assert!(found[0].first_index <= 50 && found[0].last_index >= 149);
    for f in &found[0].frames {
        assert_eq!(f.keypoints_in_image.len(), NUM_KEYPOINTS);
    }
    let nobody: Vec<PoseFrame> = (0..300).map(|i| PoseFrame::empty(i as f64)).collect();
    assert!(run(&SegmenterConfig::default(), &nobody).is_empty());
}

#[test]
fn memory_stays_bounded_on_an_endless_idle_stream() {
    let c = counts();
    let mut segmenter = Segmenter::new(SegmenterConfig::default(), FPS);
    for i in 0..100_000u64 {
        // Resting hands that jitter a little, and now and then nobody.
        let jitter = ((i * 7919) % 13) as f32 / 13.0 * 0.02;
        let frame = if i % 1000 < 10 {
            PoseFrame::empty(i as f64 / FPS)
        } else {
            pose(i as f64 / FPS, [DOWN + jitter, DOWN - jitter], jitter)
        };
        assert!(segmenter.push(i, &frame).is_empty());
        assert!(segmenter.buffered_frames() as u64 <= c.pad);
        assert!(segmenter.hand_history.len() <= c.motion_lag + 1);
    }
    assert!(!segmenter.is_signing());
    assert!(segmenter.current().is_none());
}

#[test]
fn the_open_utterance_is_readable_while_signing() {
    let config = SegmenterConfig::default();
    let frames = script(200, &[(50, 120)]);
    let mut segmenter = Segmenter::new(config, FPS);
    for (i, frame) in frames.iter().enumerate() {
        segmenter.push(i as u64, frame);
        if i == 40 {
            assert!(!segmenter.is_signing() && segmenter.current().is_none());
        }
        if i == 100 {
            assert!(segmenter.is_signing());
            let open = segmenter.current().expect("open utterance");
            assert!(open.first_index <= 50 && open.last_index == 100 && !open.is_final);
            assert_eq!(open.frames.len(), 100 - open.first_index as usize + 1);
        }
    }
    assert!(!segmenter.is_signing());
    // A reset drops the open utterance.
    for (i, frame) in frames[..100].iter().enumerate() {
        segmenter.push(200 + i as u64, frame);
    }
    assert!(segmenter.is_signing());
    segmenter.reset();
    assert!(!segmenter.is_signing() && segmenter.buffered_frames() == 0);
    assert!(segmenter.finish().is_empty());
}

#[test]
fn a_gap_too_long_to_fill_ends_the_utterance() {
    let config = SegmenterConfig::default();
    let frames = script(100, &[(0, 100)]);
    let mut segmenter = Segmenter::new(config.clone(), FPS);
    let mut events = Vec::new();
    for (i, frame) in frames.iter().enumerate().take(60) {
        events.extend(segmenter.push(i as u64, frame));
    }
    let far = 60 + (config.max_gap_seconds * FPS) as u64 + 10;
    events.extend(segmenter.push(far, &frames[60]));
    let found = segments(&events.into_iter().map(|e| (0, e)).collect::<Vec<_>>());
    assert_eq!(spans(&found), [(0, 59)]);
    // Going back in time is ignored.
    assert!(segmenter.push(3, &frames[3]).is_empty());
}

#[test]
fn the_same_signing_gives_the_same_times_at_25_and_30_fps() {
    let config = SegmenterConfig::default();
    let times = |fps: f64| {
        let frames: Vec<PoseFrame> = (0..(8.0 * fps) as usize)
            .map(|i| {
                let t = i as f64 / fps;
                if (2.0..5.0).contains(&t) {
                    let phase = (t * 2.0 * std::f64::consts::TAU) as f32;
                    pose(t, [DOWN, UP], 0.5 * phase.sin())
                } else {
                    pose(t, [DOWN, DOWN], 0.0)
                }
            })
            .collect();
        let seq = PoseSequence {
            width: 640,
            height: 480,
            fps,
            frames,
        };
        let found = segment_sequence(&seq, &config);
        assert_eq!(found.len(), 1);
        (found[0].start, found[0].end)
    };
    let (a, b) = (times(25.0), times(30.0));
    assert!(
        (a.0 - b.0).abs() < 0.05 && (a.1 - b.1).abs() < 0.1,
        "{a:?} {b:?}"
    );
    assert!(a.0 <= 2.0 && a.0 >= 2.0 - config.pad_seconds - 0.05);
}

#[test]
fn bad_settings_are_named() {
    assert_eq!(SegmenterConfig::default().validate(), Ok(()));
    let bad = SegmenterConfig {
        rest_seconds: -1.0,
        ..SegmenterConfig::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("rest_seconds")
    );
    let bad = SegmenterConfig {
        window_overlap_frames: 256,
        ..SegmenterConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(SegmenterConfigError::Window { .. })
    ));
    let bad = SegmenterConfig {
        hand_raised_exit_in_body_units: 0.0,
        ..SegmenterConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(SegmenterConfigError::Hysteresis { .. })
    ));
    // The settings table round-trips and fills in what it leaves out.
    let parsed: SegmenterConfig = serde_json::from_str(r#"{"rest_seconds": 0.8}"#).expect("json");
    assert_eq!(parsed.rest_seconds, 0.8);
    assert_eq!(parsed.max_window_frames, 256);
}

#[test]
fn moving_fingers_count_and_moving_hands_at_rest_do_not() {
    // A raised right hand whose wrist stays put while its points (fingers) circle around it;
    // after a second the hand stops. Long still spans end an utterance, so only the finger
    // movement can keep it open.
    let config = SegmenterConfig {
        still_seconds: 0.8,
        ..SegmenterConfig::default()
    };
    let with_fingers = |i: usize, moving: bool| {
        let mut frame = right_hand(i, UP, 0.0);
        let wrist = frame.keypoints_in_image[RIGHT_WRIST];
        let phase = if moving { i as f32 * 0.8 } else { 0.0 };
        for j in 0..HAND_POINTS {
            let angle = phase + j as f32;
            frame.keypoints_in_image[RIGHT_HAND_ROOT + j] = Keypoint {
                x: wrist.x + 0.3 * UNIT_PX * angle.cos(),
                y: wrist.y - 0.3 * UNIT_PX * angle.sin(),
                score: 0.9,
            };
        }
        frame
    };
    let frames: Vec<PoseFrame> = (0..150).map(|i| with_fingers(i, i < 75)).collect();
    let found = segments(&run(&config, &frames));
    assert_eq!(found.len(), 1, "{:?}", spans(&found));
    // Open while the fingers move (0..75; their stop is a jump, movement for the motion span),
    // closed by the still time after.
    let c = counts();
    let last = found[0].last_index;
    assert!(
        (74..=75 + c.motion_lag as u64 + c.pad).contains(&last),
        "{last}"
    );
    // Without the fingers moving, the still time closes it within its first second.
    let still_fingers: Vec<PoseFrame> = (0..150).map(|i| with_fingers(i, false)).collect();
    let found = segments(&run(&config, &still_fingers));
    assert_eq!(found.len(), 1, "{:?}", spans(&found));
    assert!(found[0].last_index < 25, "{:?}", spans(&found));
    // Hands swinging fast but down at rest never start an utterance.
    let swinging: Vec<PoseFrame> = (0..300)
        .map(|i| pose(i as f64 / FPS, [DOWN, DOWN], (i as f32 * 0.5).sin()))
        .collect();
    let config = SegmenterConfig::default();
    let mut segmenter = Segmenter::new(config.clone(), FPS);
    let mut fast_frames = 0;
    for (i, frame) in swinging.iter().enumerate() {
        assert!(segmenter.push(i as u64, frame).is_empty());
        let speed = segmenter.activity().speed_in_body_units_per_second[1];
        if speed.is_some_and(|s| s > config.hand_moving_enter_in_body_units_per_second) {
            fast_frames += 1;
        }
        assert!(!segmenter.activity().moving);
    }
    assert!(fast_frames > 150, "{fast_frames}");
}
