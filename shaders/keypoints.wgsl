// Whole-body keypoint overlay: one instanced quad per keypoint or limb, drawn over the video
// inside an egui paint callback. Positions arrive in source-image pixels; the viewport is the
// video's rectangle on screen, so image pixels map linearly onto it.

struct Uniforms {
    // Size of the source image in pixels.
    image_size: vec2<f32>,
    // Size of the viewport (the video's rectangle) in physical pixels.
    viewport_px: vec2<f32>,
    // Radius of a keypoint disc in physical pixels.
    point_radius_px: f32,
    // Half width of a limb in physical pixels.
    limb_half_width_px: f32,
    // Scores below this are "low confidence": drawn as rings.
    low_confidence: f32,
    _padding: f32,
};

@group(0) @binding(0) var<uniform> uniforms: Uniforms;

struct Instance {
    @location(0) start_in_image: vec2<f32>,
    @location(1) end_in_image: vec2<f32>,
    @location(2) score: f32,
    // 0: keypoint, 1: limb.
    @location(3) kind: u32,
};

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) fragment_px: vec2<f32>,
    @location(1) @interpolate(flat) start_px: vec2<f32>,
    @location(2) @interpolate(flat) end_px: vec2<f32>,
    @location(3) @interpolate(flat) score: f32,
    @location(4) @interpolate(flat) kind: u32,
    @location(5) @interpolate(flat) radius_px: f32,
};

fn viewport_px_from_image(point_in_image: vec2<f32>) -> vec2<f32> {
    return point_in_image / uniforms.image_size * uniforms.viewport_px;
}

@vertex
fn vs_main(@builtin(vertex_index) vertex_index: u32, instance: Instance) -> VertexOut {
    let start_px = viewport_px_from_image(instance.start_in_image);
    let end_px = viewport_px_from_image(instance.end_in_image);
    var radius_px = uniforms.point_radius_px;
    if (instance.kind == 1u) {
        radius_px = uniforms.limb_half_width_px;
    }
    var along = end_px - start_px;
    if (length(along) < 0.001) {
        along = vec2<f32>(1.0, 0.0);
    }
    let axis = normalize(along);
    let normal = vec2<f32>(-axis.y, axis.x);
    // One pixel of margin for the anti-aliased edge.
    let reach = radius_px + 1.0;
    // Two triangles: corners (0,0) (1,0) (0,1) / (0,1) (1,0) (1,1) in (end?, side?) terms.
    var corner = array<vec2<f32>, 6>(
        vec2<f32>(0.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(0.0, 1.0),
        vec2<f32>(0.0, 1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
    );
    let c = corner[vertex_index % 6u];
    var base = start_px - axis * reach;
    if (c.x > 0.5) {
        base = end_px + axis * reach;
    }
    let fragment_px = base + normal * (c.y * reach);
    let ndc = vec2<f32>(
        fragment_px.x / uniforms.viewport_px.x * 2.0 - 1.0,
        1.0 - fragment_px.y / uniforms.viewport_px.y * 2.0,
    );
    var out: VertexOut;
    out.position = vec4<f32>(ndc, 0.0, 1.0);
    out.fragment_px = fragment_px;
    out.start_px = start_px;
    out.end_px = end_px;
    out.score = instance.score;
    out.kind = instance.kind;
    out.radius_px = radius_px;
    return out;
}

// Confidence colour map: red (0) → yellow (0.5) → green (1). Mirrored by `color_from_score`
// in overlay.rs for the legend.
fn color_from_score(score: f32) -> vec3<f32> {
    let s = clamp(score, 0.0, 1.0);
    let red = vec3<f32>(0.90, 0.10, 0.10);
    let yellow = vec3<f32>(0.95, 0.85, 0.10);
    let green = vec3<f32>(0.10, 0.85, 0.25);
    if (s < 0.5) {
        return mix(red, yellow, s * 2.0);
    }
    return mix(yellow, green, (s - 0.5) * 2.0);
}

fn distance_to_segment(p: vec2<f32>, a: vec2<f32>, b: vec2<f32>) -> f32 {
    let ab = b - a;
    let length_squared = dot(ab, ab);
    var t = 0.0;
    if (length_squared > 0.000001) {
        t = clamp(dot(p - a, ab) / length_squared, 0.0, 1.0);
    }
    return length(p - (a + ab * t));
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let distance = distance_to_segment(in.fragment_px, in.start_px, in.end_px);
    var coverage = clamp(in.radius_px - distance + 0.5, 0.0, 1.0);
    var color = color_from_score(in.score);
    var opacity = 1.0;
    if (in.kind == 1u) {
        opacity = 0.75;
    } else if (in.score < uniforms.low_confidence) {
        // Low confidence: a ring with a dark edge instead of a filled disc.
        let ring_half_width = max(in.radius_px * 0.2, 0.75);
        let ring = clamp(ring_half_width - abs(distance - in.radius_px * 0.75) + 0.5, 0.0, 1.0);
        coverage = min(coverage, ring);
    } else if (distance > in.radius_px - 1.5) {
        // A dark rim keeps bright discs visible on bright video.
        color = color * 0.35;
    }
    let alpha = coverage * opacity;
    // egui blends with premultiplied alpha.
    return vec4<f32>(color * alpha, alpha);
}
