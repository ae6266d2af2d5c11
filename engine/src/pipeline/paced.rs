//! A recorded source played as a camera: each frame is released at its time on a [`Clock`],
//! and nothing can seek. Benches stream clips through the live pipeline with it, and tests
//! drive it with a clock they move by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::clock::Clock;
use crate::source::{Frame, FrameSource, SourceError, SourceInfo};

/// Longest real wait between two checks of the clock (so a stopped pipeline is noticed).
const MAX_WAIT: Duration = Duration::from_millis(50);

/// Plays `inner` at its frame rate as a live source, a number of times or forever.
pub struct PacedSource {
    inner: Box<dyn FrameSource>,
    info: SourceInfo,
    clock: Arc<dyn Clock>,
    period: Duration,
    /// Times the clip plays; `None` is forever.
    passes: Option<usize>,
    passes_done: usize,
    next_index: u64,
    started_at: Option<Duration>,
    closed: Arc<AtomicBool>,
}

impl PacedSource {
    /// Paces `inner` on `clock`, playing it `passes` times back to back (`None`: forever).
    pub fn new(inner: Box<dyn FrameSource>, clock: Arc<dyn Clock>, passes: Option<usize>) -> Self {
        let mut info = inner.info().clone();
        let fps = if info.fps > 0.0 { info.fps } else { 30.0 };
        // A camera has no length.
        info.frame_count = None;
        info.duration = None;
        Self {
            inner,
            info,
            clock,
            period: Duration::from_secs_f64(1.0 / fps),
            passes,
            passes_done: 0,
            next_index: 0,
            started_at: None,
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Setting this ends the stream at the next frame, as unplugging a camera does; a paced
    /// source waiting on a clock that no longer moves needs it to let its pipeline stop.
    pub fn close_handle(&self) -> Arc<AtomicBool> {
        self.closed.clone()
    }
}

impl FrameSource for PacedSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let started_at = *self.started_at.get_or_insert_with(|| self.clock.now());
        let due = started_at + self.period * self.next_index as u32;
        while !self.clock.wait_until(due, MAX_WAIT) {
            if self.closed.load(Ordering::Relaxed) {
                return Ok(None);
            }
        }
        let mut frame = match self.inner.next_frame()? {
            Some(frame) => frame,
            None => {
                self.passes_done += 1;
                // An empty clip would loop without ever giving a frame.
                if self.next_index == 0 || self.passes.is_some_and(|n| self.passes_done >= n) {
                    return Ok(None);
                }
                self.inner.seek(0)?;
                match self.inner.next_frame()? {
                    Some(frame) => frame,
                    None => return Ok(None),
                }
            }
        };
        // Indices and times run on across loops, as a camera's do.
        frame.index = self.next_index;
        frame.time = self.period.as_secs_f64() * self.next_index as f64;
        frame.captured_at = Instant::now();
        self.next_index += 1;
        Ok(Some(frame))
    }

    fn seek(&mut self, _frame_index: u64) -> Result<(), SourceError> {
        Err(SourceError::NotSeekable(self.info.name.clone()))
    }
}
