//! The hands in the body-relative space, their speed and the hysteresis that reads them.

/// A point in the body-relative space: x to the image's right, y up.
pub(super) type PointInBodyUnits = (f32, f32);

/// Number of points of one hand.
pub(super) const HAND_POINTS: usize = 21;

/// One hand in the body-relative space, as far as it was found.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct HandInBodyUnits {
    /// The body's wrist, else the hand model's root.
    pub(super) wrist: Option<PointInBodyUnits>,
    /// The hand model's points, when it found the hand.
    pub(super) points: Option<[Option<PointInBodyUnits>; HAND_POINTS]>,
}

pub(super) fn distance(a: PointInBodyUnits, b: PointInBodyUnits) -> f32 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// How fast a hand moved from `then` to `now`: its wrist or its points on average, whichever is
/// faster, in body units per second.
pub(super) fn hand_speed(
    now: &HandInBodyUnits,
    then: &HandInBodyUnits,
    seconds: f32,
) -> Option<f32> {
    if seconds <= 0.0 {
        return None;
    }
    let wrist = match (now.wrist, then.wrist) {
        (Some(a), Some(b)) => Some(distance(a, b) / seconds),
        _ => None,
    };
    let points = match (&now.points, &then.points) {
        (Some(a), Some(b)) => {
            let moved: Vec<f32> = a
                .iter()
                .zip(b)
                .filter_map(|(p, q)| Some(distance((*p)?, (*q)?)))
                .collect();
            (!moved.is_empty()).then(|| moved.iter().sum::<f32>() / moved.len() as f32 / seconds)
        }
        _ => None,
    };
    match (wrist, points) {
        (Some(w), Some(p)) => Some(w.max(p)),
        (w, p) => w.or(p),
    }
}

/// The shoulders' midpoint and width in image pixels.
#[derive(Clone, Copy, Debug)]
pub(super) struct BodyInImage {
    pub(super) origin_x: f32,
    pub(super) origin_y: f32,
    pub(super) shoulder_width: f32,
}

/// Hysteresis: on at or above `enter`, off below `exit`, unchanged between.
pub(super) fn hysteresis(state: bool, value: Option<f32>, enter: f32, exit: f32) -> bool {
    match value {
        None => false,
        Some(v) if v >= enter => true,
        Some(v) if v < exit => false,
        Some(_) => state,
    }
}
