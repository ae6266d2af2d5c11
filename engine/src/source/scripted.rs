//! A scripted frame source for tests and simulations: plays in-memory frames and can be told to
//! fail after a number of frames (a camera unplugged mid-stream).

use super::{Frame, FrameSource, SourceError, SourceInfo};

/// Plays a fixed list of frames, then ends or fails.
pub struct ScriptedSource {
    info: SourceInfo,
    frames: Vec<Frame>,
    next: usize,
    fail_after: Option<usize>,
    seekable: bool,
}

impl ScriptedSource {
    /// A source that plays `frames` in order and then ends. `info` is reported as given.
    pub fn new(info: SourceInfo, frames: Vec<Frame>) -> Self {
        Self {
            info,
            frames,
            next: 0,
            fail_after: None,
            seekable: true,
        }
    }

    /// After `count` frames, every further [`FrameSource::next_frame`] fails as a camera does
    /// when it stops delivering.
    pub fn fail_after(mut self, count: usize) -> Self {
        self.fail_after = Some(count);
        self
    }

    /// Behaves like a live camera: [`FrameSource::seek`] fails.
    pub fn live(mut self) -> Self {
        self.seekable = false;
        self
    }
}

impl FrameSource for ScriptedSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        if self.fail_after.is_some_and(|n| self.next >= n) {
            return Err(SourceError::Camera {
                name: self.info.name.clone(),
                reason: format!("stopped delivering frames after frame {}", self.next),
            });
        }
        let Some(frame) = self.frames.get(self.next) else {
            return Ok(None);
        };
        let mut frame = frame.clone();
        frame.index = self.next as u64;
        frame.captured_at = std::time::Instant::now();
        self.next += 1;
        Ok(Some(frame))
    }

    fn seek(&mut self, frame_index: u64) -> Result<(), SourceError> {
        if !self.seekable {
            return Err(SourceError::NotSeekable(self.info.name.clone()));
        }
        self.next = usize::try_from(frame_index).unwrap_or(usize::MAX);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn frames(n: usize) -> Vec<Frame> {
        (0..n)
            .map(|i| Frame {
                index: i as u64,
                time: i as f64 / 10.0,
                captured_at: std::time::Instant::now(),
                width: 2,
                height: 1,
                rgb: Arc::new(vec![i as u8; 6]),
            })
            .collect()
    }

    fn info() -> SourceInfo {
        SourceInfo {
            name: "scripted camera".into(),
            width: 2,
            height: 1,
            fps: 10.0,
            frame_count: None,
            duration: None,
        }
    }

    #[test]
    fn plays_then_ends() {
        let mut s = ScriptedSource::new(info(), frames(3));
        let got: Vec<u64> = std::iter::from_fn(|| s.next_frame().unwrap())
            .map(|f| f.index)
            .collect();
        assert_eq!(got, vec![0, 1, 2]);
        assert!(s.next_frame().unwrap().is_none());
        s.seek(1).unwrap();
        assert_eq!(s.next_frame().unwrap().unwrap().rgb[0], 1);
    }

    #[test]
    fn fails_after_n_frames_like_an_unplugged_camera() {
        let mut s = ScriptedSource::new(info(), frames(5)).fail_after(2).live();
        assert!(s.next_frame().unwrap().is_some());
        assert!(s.next_frame().unwrap().is_some());
        let err = s.next_frame().unwrap_err().to_string();
        assert!(
            err.contains("scripted camera") && err.contains("after frame 2"),
            "{err}"
        );
        assert!(matches!(s.seek(0), Err(SourceError::NotSeekable(_))));
    }
}
