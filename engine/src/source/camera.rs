//! Webcams through nokhwa. Having no camera is a normal state: [`list_cameras`] returns an empty
//! list and [`Camera::open`] a clear error.
//!
//! nokhwa's camera handle is not `Send`, so each [`Camera`] owns a capture thread that opens the
//! device, decodes frames to RGB and hands them over a one-slot channel (the pipeline always gets
//! a fresh frame rather than a queue of old ones).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{ApiBackend, CameraIndex, RequestedFormat, RequestedFormatType};

use super::{Frame, FrameSource, SourceError, SourceInfo};

/// How long a camera may deliver nothing before it counts as failed.
pub const CAMERA_TIMEOUT: Duration = Duration::from_secs(5);

/// A camera the system lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraDescriptor {
    /// Index to pass to [`Camera::open`].
    pub index: u32,
    /// Human-readable name.
    pub name: String,
    /// Driver description (e.g. the device path).
    pub description: String,
}

/// The cameras present; empty when there are none (not an error).
pub fn list_cameras() -> Result<Vec<CameraDescriptor>, SourceError> {
    let cameras = nokhwa::query(ApiBackend::Auto).map_err(|e| SourceError::Camera {
        name: "(all)".into(),
        reason: format!("cannot list cameras: {e}"),
    })?;
    Ok(cameras
        .iter()
        .enumerate()
        .map(|(i, c)| CameraDescriptor {
            index: match c.index() {
                CameraIndex::Index(n) => *n,
                CameraIndex::String(_) => i as u32,
            },
            name: c.human_name(),
            description: c.description().to_string(),
        })
        .collect())
}

type CapturedFrame = Result<(u32, u32, Vec<u8>), String>;

/// A live webcam.
pub struct Camera {
    info: SourceInfo,
    frames: Receiver<CapturedFrame>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    started: Instant,
    next_index: u64,
}

impl Camera {
    /// Opens camera `index` at its highest frame rate.
    pub fn open(index: u32) -> Result<Self, SourceError> {
        let name = format!("#{index}");
        let camera_error = |reason: String| SourceError::Camera {
            name: name.clone(),
            reason,
        };
        let (info_tx, info_rx) = bounded::<Result<(String, u32, u32, f64), String>>(1);
        let (tx, frames) = bounded::<CapturedFrame>(1);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("camera-{index}"))
            .spawn(move || {
                let format = RequestedFormat::new::<RgbFormat>(
                    RequestedFormatType::AbsoluteHighestFrameRate,
                );
                let mut camera = match nokhwa::Camera::new(CameraIndex::Index(index), format)
                    .and_then(|mut c| c.open_stream().map(|()| c))
                {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = info_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let resolution = camera.resolution();
                let _ = info_tx.send(Ok((
                    camera.info().human_name(),
                    resolution.width(),
                    resolution.height(),
                    f64::from(camera.frame_rate()),
                )));
                while !thread_stop.load(Ordering::Relaxed) {
                    let frame = camera
                        .frame()
                        .and_then(|b| b.decode_image::<RgbFormat>())
                        .map(|img| (img.width(), img.height(), img.into_raw()))
                        .map_err(|e| e.to_string());
                    let failed = frame.is_err();
                    if tx.send(frame).is_err() || failed {
                        break;
                    }
                }
                let _ = camera.stop_stream();
            })
            .map_err(|e| camera_error(format!("cannot start the capture thread: {e}")))?;
        let opened = info_rx
            .recv_timeout(CAMERA_TIMEOUT)
            .map_err(|_| camera_error("did not open in time".into()))
            .and_then(|r| r.map_err(|e| camera_error(format!("cannot open: {e}"))));
        let (human_name, width, height, fps) = match opened {
            Ok(v) => v,
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                drop(frames);
                let _ = thread.join();
                return Err(e);
            }
        };
        Ok(Self {
            info: SourceInfo {
                name: format!("{human_name} ({name})"),
                width,
                height,
                fps,
                frame_count: None,
                duration: None,
            },
            frames,
            stop,
            thread: Some(thread),
            started: Instant::now(),
            next_index: 0,
        })
    }
}

impl FrameSource for Camera {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, SourceError> {
        let camera_error = |reason: String| SourceError::Camera {
            name: self.info.name.clone(),
            reason,
        };
        match self.frames.recv_timeout(CAMERA_TIMEOUT) {
            Ok(Ok((width, height, rgb))) => {
                let index = self.next_index;
                self.next_index += 1;
                Ok(Some(Frame {
                    index,
                    time: self.started.elapsed().as_secs_f64(),
                    captured_at: Instant::now(),
                    width,
                    height,
                    rgb: Arc::new(rgb),
                }))
            }
            Ok(Err(e)) => Err(camera_error(format!("capture failed: {e}"))),
            Err(RecvTimeoutError::Timeout) => Err(camera_error(format!(
                "no frame for {} s",
                CAMERA_TIMEOUT.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(camera_error("stopped delivering frames".into()))
            }
        }
    }

    fn seek(&mut self, _frame_index: u64) -> Result<(), SourceError> {
        Err(SourceError::NotSeekable(self.info.name.clone()))
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Unblock a capture thread waiting to hand over a frame.
        while self.frames.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            // Dropping our receiver makes its next send fail, so it ends after one frame.
            let (_, dummy) = bounded::<CapturedFrame>(0);
            drop(std::mem::replace(&mut self.frames, dummy));
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a machine without cameras (CI) listing is empty and opening is a clear error; with a
    /// camera, it must be listed. Either way nothing panics.
    #[test]
    fn no_camera_is_a_normal_state() {
        let cameras = list_cameras().unwrap();
        if cameras.is_empty() {
            let err = Camera::open(0).err().unwrap().to_string();
            assert!(err.starts_with("camera #0: cannot open"), "{err}");
        } else {
            assert!(!cameras[0].name.is_empty());
        }
    }
}
