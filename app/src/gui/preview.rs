//! The start screen's live camera preview: a capture thread that keeps only the newest frame,
//! so the user sees which camera they are picking before the pose pipeline starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use super::pipeline::{SourceOpener, SourceRequest, color_image_from_frame, send_newest};

/// What the preview thread sends: a frame to show, or why there will be none.
pub enum PreviewEvent {
    /// The newest frame.
    Frame(egui::ColorImage),
    /// The camera could not be opened or stopped delivering; meant for the user.
    Failed(String),
}

/// A running preview of one camera. Dropping it stops the thread; [`CameraPreview::release`]
/// also waits for the camera to be free.
pub struct CameraPreview {
    /// The camera's index in the device list.
    pub camera: u32,
    events: Receiver<PreviewEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    texture: Option<egui::TextureHandle>,
    /// The last failure, shown in place of the picture.
    pub error: Option<String>,
}

impl CameraPreview {
    /// Opens camera `camera` on a worker thread (opening may take a while or fail there).
    pub fn start(
        camera: u32,
        open_source: SourceOpener,
        repaint: impl Fn() + Send + 'static,
    ) -> Self {
        let (events_tx, events_rx) = bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_for_thread = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("signcap-preview".into())
            .spawn({
                let oldest = events_rx.clone();
                move || {
                    run(
                        camera,
                        &open_source,
                        &events_tx,
                        &oldest,
                        &stop_for_thread,
                        &repaint,
                    )
                }
            });
        let (thread, error) = match spawned {
            Ok(handle) => (Some(handle), None),
            Err(e) => (None, Some(format!("could not start the preview: {e}"))),
        };
        Self {
            camera,
            events: events_rx,
            stop,
            thread,
            texture: None,
            error,
        }
    }

    /// Takes the newest frame or failure from the thread; call once per UI frame.
    pub fn pump(&mut self, ctx: &egui::Context) {
        for event in self.events.try_iter() {
            match event {
                PreviewEvent::Frame(image) => match &mut self.texture {
                    Some(texture) => texture.set(image, egui::TextureOptions::LINEAR),
                    None => {
                        self.texture = Some(ctx.load_texture(
                            "camera-preview",
                            image,
                            egui::TextureOptions::LINEAR,
                        ));
                    }
                },
                PreviewEvent::Failed(message) => self.error = Some(message),
            }
        }
    }

    /// Draws the newest frame at `width` points wide, or the failure.
    pub fn ui(&self, ui: &mut egui::Ui, width: f32, name: &str) {
        if let Some(error) = &self.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
            return;
        }
        match &self.texture {
            Some(texture) => {
                let [w, h] = texture.size();
                let size = egui::vec2(width, width * h as f32 / w.max(1) as f32);
                let response = ui.add(egui::Image::new((texture.id(), size)));
                response.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::Image, true, format!("Preview of {name}"))
                });
            }
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Opening {name}…"));
                });
            }
        }
    }
}

impl CameraPreview {
    /// Stops the preview and waits until its thread has let go of the camera (at most one
    /// frame read). Call it off the UI thread, before the camera is opened again.
    pub fn release(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.thread.take() {
            // A panic in the preview thread has nothing left to report.
            let _ = handle.join();
        }
    }
}

impl Drop for CameraPreview {
    /// Stops the thread without waiting for it, so the UI never blocks on a camera read.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn run(
    camera: u32,
    open_source: &SourceOpener,
    events: &Sender<PreviewEvent>,
    oldest: &Receiver<PreviewEvent>,
    stop: &AtomicBool,
    repaint: &dyn Fn(),
) {
    // The UI shows only the newest event: an unshown frame gives way to the next one.
    let send = |event| {
        send_newest(events, oldest, event);
        repaint();
    };
    let fail = |message: String| send(PreviewEvent::Failed(message));
    let mut source = match open_source(&SourceRequest::Camera(camera)) {
        Ok(source) => source,
        Err(e) => return fail(e.to_string()),
    };
    while !stop.load(Ordering::Relaxed) {
        match source.next_frame() {
            Ok(Some(frame)) => send(PreviewEvent::Frame(color_image_from_frame(&frame))),
            Ok(None) => return fail(format!("camera {camera} stopped delivering frames")),
            Err(e) => return fail(e.to_string()),
        }
    }
}
