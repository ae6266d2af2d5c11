//! The keypoint overlay: skeleton and keypoints drawn by `shaders/keypoints.wgsl` in an
//! egui_wgpu paint callback on top of the video texture.

use eframe::egui_wgpu::{self, wgpu};
use signcap_engine::keypoints::Keypoint;

use super::skeleton::Group;

/// Keypoints with a score below this are drawn as rings ("low confidence").
pub const LOW_CONFIDENCE: f32 = 0.3;

/// One instance of the shader: a keypoint disc or a limb capsule.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct OverlayInstance {
    /// Start point in image pixels (the keypoint itself for discs).
    pub start_in_image: [f32; 2],
    /// End point in image pixels (equal to the start for discs).
    pub end_in_image: [f32; 2],
    /// Confidence that colours the instance.
    pub score: f32,
    /// 0: keypoint disc, 1: limb.
    pub kind: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
struct OverlayUniforms {
    image_size: [f32; 2],
    viewport_px: [f32; 2],
    point_radius_px: f32,
    limb_half_width_px: f32,
    low_confidence: f32,
    padding: f32,
}

/// The GPU side of the overlay, kept in egui_wgpu's callback resources.
pub struct OverlayResources {
    pipeline: wgpu::RenderPipeline,
    uniform_buffer: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    instance_buffer: wgpu::Buffer,
    instance_capacity: usize,
    instance_count: u32,
}

/// Radius of keypoint discs in points (logical pixels).
pub const POINT_RADIUS_POINTS: f32 = 4.0;
/// Half width of limbs in points.
pub const LIMB_HALF_WIDTH_POINTS: f32 = 1.2;

impl OverlayResources {
    /// Compiles the shader and registers the resources with the renderer. Returns false when
    /// there is no wgpu renderer (the overlay then falls back to egui shapes).
    pub fn register(render_state: &egui_wgpu::RenderState) -> bool {
        let device = &render_state.device;
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("signcap keypoints"),
            source: wgpu::ShaderSource::Wgsl(
                include_str!("../../../shaders/keypoints.wgsl").into(),
            ),
        });
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("signcap keypoints"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("signcap keypoints"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let instance_layout = wgpu::VertexBufferLayout {
            array_stride: std::mem::size_of::<OverlayInstance>() as u64,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &wgpu::vertex_attr_array![
                0 => Float32x2, 1 => Float32x2, 2 => Float32, 3 => Uint32
            ],
        };
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("signcap keypoints"),
            layout: Some(&layout),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                buffers: &[Some(instance_layout)],
                compilation_options: Default::default(),
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                targets: &[Some(wgpu::ColorTargetState {
                    format: render_state.target_format,
                    blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        let uniform_buffer = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("signcap keypoints uniforms"),
            size: std::mem::size_of::<OverlayUniforms>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("signcap keypoints"),
            layout: &bind_group_layout,
            entries: &[wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform_buffer.as_entire_binding(),
            }],
        });
        let instance_capacity = 512;
        let instance_buffer = create_instance_buffer(device, instance_capacity);
        render_state
            .renderer
            .write()
            .callback_resources
            .insert(OverlayResources {
                pipeline,
                uniform_buffer,
                bind_group,
                instance_buffer,
                instance_capacity,
                instance_count: 0,
            });
        true
    }
}

fn create_instance_buffer(device: &wgpu::Device, capacity: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("signcap keypoints instances"),
        size: (capacity * std::mem::size_of::<OverlayInstance>()) as u64,
        usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// One frame's overlay draw.
pub struct OverlayCallback {
    /// Size of the source image in pixels.
    pub image_size: [f32; 2],
    /// The video's rectangle on screen in points (the callback's rect).
    pub rect: egui::Rect,
    /// What to draw.
    pub instances: Vec<OverlayInstance>,
}

impl egui_wgpu::CallbackTrait for OverlayCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        screen_descriptor: &egui_wgpu::ScreenDescriptor,
        _egui_encoder: &mut wgpu::CommandEncoder,
        callback_resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(resources) = callback_resources.get_mut::<OverlayResources>() else {
            return Vec::new();
        };
        if self.instances.len() > resources.instance_capacity {
            resources.instance_capacity = self.instances.len().next_power_of_two();
            resources.instance_buffer = create_instance_buffer(device, resources.instance_capacity);
        }
        queue.write_buffer(
            &resources.instance_buffer,
            0,
            bytemuck::cast_slice(&self.instances),
        );
        resources.instance_count = self.instances.len() as u32;
        let ppp = screen_descriptor.pixels_per_point;
        let uniforms = OverlayUniforms {
            image_size: self.image_size,
            viewport_px: [
                (self.rect.width() * ppp).round(),
                (self.rect.height() * ppp).round(),
            ],
            point_radius_px: POINT_RADIUS_POINTS * ppp,
            limb_half_width_px: LIMB_HALF_WIDTH_POINTS * ppp,
            low_confidence: LOW_CONFIDENCE,
            padding: 0.0,
        };
        queue.write_buffer(&resources.uniform_buffer, 0, bytemuck::bytes_of(&uniforms));
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        callback_resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(resources) = callback_resources.get::<OverlayResources>() else {
            return;
        };
        render_pass.set_pipeline(&resources.pipeline);
        render_pass.set_bind_group(0, &resources.bind_group, &[]);
        render_pass.set_vertex_buffer(0, resources.instance_buffer.slice(..));
        render_pass.draw(0..6, 0..resources.instance_count);
    }
}

/// Which groups to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupToggles {
    /// Body points and limbs.
    pub body: bool,
    /// Feet.
    pub feet: bool,
    /// Both hands.
    pub hands: bool,
    /// Face.
    pub face: bool,
}

impl Default for GroupToggles {
    fn default() -> Self {
        Self {
            body: true,
            feet: true,
            hands: true,
            face: true,
        }
    }
}

impl GroupToggles {
    /// Whether `group` is shown.
    pub fn shows(&self, group: Group) -> bool {
        match group {
            Group::Body => self.body,
            Group::Feet => self.feet,
            Group::Face => self.face,
            Group::LeftHand | Group::RightHand => self.hands,
        }
    }
}

/// Instances for the shown groups: limbs first (so discs sit on top), then keypoints. Points
/// with score 0 (not found) are left out.
pub fn overlay_instances(
    keypoints_in_image: &[Keypoint],
    limbs: &[(usize, usize)],
    toggles: &GroupToggles,
) -> Vec<OverlayInstance> {
    let found = |i: usize| keypoints_in_image.get(i).filter(|k| k.score > 0.0);
    let mut instances = Vec::with_capacity(limbs.len() + keypoints_in_image.len());
    for &(a, b) in limbs {
        if !(toggles.shows(Group::of(a)) && toggles.shows(Group::of(b))) {
            continue;
        }
        let (Some(ka), Some(kb)) = (found(a), found(b)) else {
            continue;
        };
        instances.push(OverlayInstance {
            start_in_image: [ka.x, ka.y],
            end_in_image: [kb.x, kb.y],
            score: ka.score.min(kb.score),
            kind: 1,
        });
    }
    for (i, k) in keypoints_in_image.iter().enumerate() {
        if k.score > 0.0 && toggles.shows(Group::of(i)) {
            instances.push(OverlayInstance {
                start_in_image: [k.x, k.y],
                end_in_image: [k.x, k.y],
                score: k.score,
                kind: 0,
            });
        }
    }
    instances
}

/// The colour the shader gives a confidence (for the legend and the tests); must match
/// `color_from_score` in keypoints.wgsl.
pub fn color_from_score(score: f32) -> egui::Color32 {
    let s = score.clamp(0.0, 1.0);
    let red = [0.90, 0.10, 0.10];
    let yellow = [0.95, 0.85, 0.10];
    let green = [0.10, 0.85, 0.25];
    let (from, to, t) = if s < 0.5 {
        (red, yellow, s * 2.0)
    } else {
        (yellow, green, (s - 0.5) * 2.0)
    };
    let channel = |c: usize| ((from[c] + (to[c] - from[c]) * t) * 255.0).round() as u8;
    egui::Color32::from_rgb(channel(0), channel(1), channel(2))
}
