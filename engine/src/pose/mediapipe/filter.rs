//! Landmark smoothing as the Holistic graph runs it with `smooth_landmarks=True`
//! (`pose_landmark_filtering.pbtxt`): a low-pass filter on visibility, then a One Euro filter on
//! each coordinate, scaled by the size of the body.

use super::geometry::Landmark;

/// An exponential low-pass filter (MediaPipe's `LowPassFilter`): the first value passes through.
#[derive(Clone, Debug, Default)]
struct LowPass {
    last_raw: Option<f64>,
    last: f64,
}

impl LowPass {
    fn apply(&mut self, value: f64, alpha: f64) -> f64 {
        self.last = match self.last_raw {
            Some(_) => alpha * value + (1.0 - alpha) * self.last,
            None => value,
        };
        self.last_raw = Some(value);
        self.last
    }
}

/// One Euro filter settings (`OneEuroFilter` options of `LandmarksSmoothingCalculator`).
#[derive(Clone, Copy, Debug)]
pub struct OneEuroSettings {
    /// Cut-off frequency when the point is still, in Hz.
    pub min_cutoff: f64,
    /// How fast the cut-off rises with speed.
    pub beta: f64,
    /// Cut-off frequency of the speed estimate, in Hz.
    pub derivate_cutoff: f64,
}

/// The main 33 pose landmarks.
pub const POSE_LANDMARK_SMOOTHING: OneEuroSettings = OneEuroSettings {
    min_cutoff: 0.05,
    beta: 80.0,
    derivate_cutoff: 1.0,
};

/// The 2 auxiliary landmarks that place the next frame's crop (smoothed harder).
pub const AUX_LANDMARK_SMOOTHING: OneEuroSettings = OneEuroSettings {
    min_cutoff: 0.01,
    beta: 10.0,
    derivate_cutoff: 1.0,
};

/// Visibility low-pass factor.
const VISIBILITY_ALPHA: f64 = 0.1;

/// Frame rate assumed before two timestamps are known (the calculator's default).
const DEFAULT_FREQUENCY: f64 = 30.0;

#[derive(Clone, Debug)]
struct OneEuro {
    settings: OneEuroSettings,
    x: LowPass,
    dx: LowPass,
}

fn alpha(cutoff: f64, frequency: f64) -> f64 {
    let period = 1.0 / frequency;
    let tau = 1.0 / (2.0 * std::f64::consts::PI * cutoff);
    1.0 / (1.0 + tau / period)
}

impl OneEuro {
    fn new(settings: OneEuroSettings) -> Self {
        Self {
            settings,
            x: LowPass::default(),
            dx: LowPass::default(),
        }
    }

    fn apply(&mut self, value: f64, value_scale: f64, frequency: f64) -> f64 {
        let speed = match self.x.last_raw {
            Some(previous) => (value - previous) * value_scale * frequency,
            None => 0.0,
        };
        let smoothed_speed = self
            .dx
            .apply(speed, alpha(self.settings.derivate_cutoff, frequency));
        let cutoff = self.settings.min_cutoff + self.settings.beta * smoothed_speed.abs();
        self.x.apply(value, alpha(cutoff, frequency))
    }
}

/// Smooths one list of landmarks over time (one `VisibilitySmoothingCalculator` followed by one
/// `LandmarksSmoothingCalculator`).
#[derive(Clone, Debug)]
pub struct LandmarkSmoother {
    settings: OneEuroSettings,
    coordinates: Vec<[OneEuro; 3]>,
    visibility: Vec<LowPass>,
    last_time: Option<f64>,
    frequency: f64,
}

impl LandmarkSmoother {
    /// A smoother with the given One Euro settings.
    pub fn new(settings: OneEuroSettings) -> Self {
        Self {
            settings,
            coordinates: Vec::new(),
            visibility: Vec::new(),
            last_time: None,
            frequency: DEFAULT_FREQUENCY,
        }
    }

    /// Forgets the history (the landmarks were lost).
    pub fn reset(&mut self) {
        *self = Self::new(self.settings);
    }

    /// Smooths `landmarks` (image pixels) in place. `time` is the frame time in seconds and
    /// `object_scale` the body size in pixels that speeds are measured against.
    pub fn apply(&mut self, landmarks: &mut [Landmark], time: f64, object_scale: f32) {
        if self.coordinates.len() != landmarks.len() {
            self.coordinates = (0..landmarks.len())
                .map(|_| std::array::from_fn(|_| OneEuro::new(self.settings)))
                .collect();
            self.visibility = vec![LowPass::default(); landmarks.len()];
            self.last_time = None;
        }
        if let Some(last) = self.last_time {
            if time <= last {
                // The calculator passes values through unchanged on non-increasing timestamps.
                return;
            }
            self.frequency = 1.0 / (time - last);
        }
        self.last_time = Some(time);
        for (landmark, visibility) in landmarks.iter_mut().zip(&mut self.visibility) {
            landmark.visibility =
                visibility.apply(landmark.visibility as f64, VISIBILITY_ALPHA) as f32;
        }
        if object_scale <= 0.0 {
            return;
        }
        let value_scale = 1.0 / object_scale as f64;
        for (landmark, filters) in landmarks.iter_mut().zip(&mut self.coordinates) {
            let [fx, fy, fz] = filters;
            landmark.x = fx.apply(landmark.x as f64, value_scale, self.frequency) as f32;
            landmark.y = fy.apply(landmark.y as f64, value_scale, self.frequency) as f32;
            landmark.z = fz.apply(landmark.z as f64, value_scale, self.frequency) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_still_point_stays_put_and_a_jump_is_followed_partly() {
        let mut smoother = LandmarkSmoother::new(POSE_LANDMARK_SMOOTHING);
        let mut points = [Landmark::at(100.0, 100.0)];
        smoother.apply(&mut points, 0.0, 200.0);
        assert_eq!(points[0].x, 100.0);
        let mut points = [Landmark::at(100.0, 100.0)];
        smoother.apply(&mut points, 1.0 / 30.0, 200.0);
        assert!((points[0].x - 100.0).abs() < 1e-4);
        let mut points = [Landmark::at(120.0, 100.0)];
        smoother.apply(&mut points, 2.0 / 30.0, 200.0);
        assert!(
            points[0].x > 100.0 && points[0].x < 120.0,
            "{}",
            points[0].x
        );
    }
}
