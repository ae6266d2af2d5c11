//! The time the stages decide by: the system clock, or one a test moves by hand, so that
//! pipeline tests never depend on how fast a loaded machine sleeps.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A monotonic clock for pacing and scheduling decisions.
pub trait Clock: Send + Sync {
    /// Time since the clock started.
    fn now(&self) -> Duration;
    /// Waits until [`Clock::now`] reaches `deadline`, or at most `max_wait` of real time
    /// (so a stage can still notice that it should stop); returns whether the deadline passed.
    fn wait_until(&self, deadline: Duration, max_wait: Duration) -> bool;
}

/// The real monotonic clock.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A clock starting now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// A shared clock starting now.
    pub fn shared() -> Arc<dyn Clock> {
        Arc::new(Self::new())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn wait_until(&self, deadline: Duration, max_wait: Duration) -> bool {
        let left = deadline.saturating_sub(self.now());
        std::thread::sleep(left.min(max_wait));
        self.now() >= deadline
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Mutex<Duration>,
    moved: Condvar,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Moves the clock forward by `by`, waking every stage waiting on it.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
        self.moved.notify_all();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_until(&self, deadline: Duration, max_wait: Duration) -> bool {
        let now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        let (now, _) = self
            .moved
            .wait_timeout_while(now, max_wait, |now| *now < deadline)
            .unwrap_or_else(|p| p.into_inner());
        *now >= deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_wakes_its_waiters_when_moved() {
        let clock = ManualClock::new();
        let waiter = {
            let clock = clock.clone();
            std::thread::spawn(move || {
                clock.wait_until(Duration::from_millis(100), Duration::from_secs(30))
            })
        };
        assert!(!clock.wait_until(Duration::from_millis(100), Duration::ZERO));
        clock.advance(Duration::from_millis(60));
        clock.advance(Duration::from_millis(60));
        assert!(waiter.join().unwrap());
        assert_eq!(clock.now(), Duration::from_millis(120));
    }
}
