//! pose-format `.pose` files (sign-language-processing/pose): any layout, read in versions 0.0,
//! 0.1 and 0.2, written in 0.2. Little-endian; strings are `u16` length + UTF-8.
//!
//! This module keeps the file as it is (all components, people and dimensions); `files.rs` maps the
//! known layouts (COCO-WholeBody 133, MediaPipe Holistic, OpenPose 137) onto a [`PoseSequence`].
//!
//! [`PoseSequence`]: super::PoseSequence

/// One component of a pose header (a body part with its own points, e.g. `LEFT_HAND`).
#[derive(Clone, Debug, PartialEq)]
pub struct PoseComponent {
    /// Component name, e.g. `POSE_LANDMARKS` or `BODY`.
    pub name: String,
    /// Point format: the dimension letters then `C` for confidence, e.g. `XYC` or `XYZC`.
    pub format: String,
    /// Point names in file order.
    pub points: Vec<String>,
    /// Limbs as pairs of point indices within the component.
    pub limbs: Vec<(u16, u16)>,
    /// RGB colours used to draw the limbs.
    pub colors: Vec<[u16; 3]>,
}

/// The header of a `.pose` file.
#[derive(Clone, Debug, PartialEq)]
pub struct PoseHeader {
    /// Format version as stored (0.0, 0.1 or 0.2).
    pub version: f32,
    /// Frame width in pixels.
    pub width: u16,
    /// Frame height in pixels.
    pub height: u16,
    /// Frame depth (0 for 2-D data).
    pub depth: u16,
    /// Components in file order.
    pub components: Vec<PoseComponent>,
}

impl PoseHeader {
    /// Total number of points over all components.
    pub fn total_points(&self) -> usize {
        self.components.iter().map(|c| c.points.len()).sum()
    }

    /// Number of coordinate dimensions (format length minus the confidence), as pose-format counts
    /// them: the largest over the components.
    pub fn num_dims(&self) -> usize {
        self.components
            .iter()
            .map(|c| c.format.len().saturating_sub(1))
            .max()
            .unwrap_or(0)
    }
}

/// A whole `.pose` file: header and body, in the shape pose-format's NumPy reader returns.
#[derive(Clone, Debug, PartialEq)]
pub struct PoseFormatFile {
    /// The header.
    pub header: PoseHeader,
    /// Frames per second.
    pub fps: f32,
    /// Number of frames.
    pub frames: usize,
    /// Number of people per frame.
    pub people: usize,
    /// Coordinates, `frames × people × points × dims`, row-major.
    pub data: Vec<f32>,
    /// Confidences, `frames × people × points`, row-major.
    pub confidence: Vec<f32>,
}

impl PoseFormatFile {
    /// Coordinates of one point.
    pub fn point(&self, frame: usize, person: usize, point: usize) -> &[f32] {
        let dims = self.header.num_dims();
        let points = self.header.total_points();
        let start = ((frame * self.people + person) * points + point) * dims;
        &self.data[start..start + dims]
    }

    /// Confidence of one point.
    pub fn point_confidence(&self, frame: usize, person: usize, point: usize) -> f32 {
        let points = self.header.total_points();
        self.confidence[(frame * self.people + person) * points + point]
    }

    /// Parses a `.pose` file; the error says what is wrong (the caller adds the path).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader { bytes, offset: 0 };
        let header = read_header(&mut r)?;
        let points = header.total_points();
        let dims = header.num_dims();
        if points == 0 || dims == 0 {
            return Err("the header declares no points".into());
        }
        if header.version == 0.0 {
            return read_body_v0_0(header, &mut r);
        }
        let version = (header.version * 1000.0).round() / 1000.0;
        let (fps, frames, people) = if version == 0.1 {
            let (fps, _declared_frames) = (r.u16()?, r.u16()?);
            let people = r.u16()? as usize;
            // v0.1 stores the frame count as u16, which overflows on long files; pose-format
            // derives it from the remaining bytes instead, and so do we.
            let per_frame = people * points * (dims + 1) * 4;
            let frames = r.remaining().checked_div(per_frame).unwrap_or(0);
            (fps as f32, frames, people)
        } else if version == 0.2 {
            let fps = r.f32()?;
            let frames = r.u32()? as usize;
            let people = r.u16()? as usize;
            (fps, frames, people)
        } else {
            return Err(format!(
                "unsupported pose-format version {}",
                header.version
            ));
        };
        let data = r.f32s(frames * people * points * dims)?;
        let confidence = r.f32s(frames * people * points)?;
        Ok(Self {
            header,
            fps,
            frames,
            people,
            data,
            confidence,
        })
    }

    /// Serialises in version 0.2 (whatever version was read).
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(64 + (self.data.len() + self.confidence.len()) * 4);
        out.extend_from_slice(&0.2f32.to_le_bytes());
        for v in [self.header.width, self.header.height, self.header.depth] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        push_u16(&mut out, self.header.components.len(), "components")?;
        for c in &self.header.components {
            push_str(&mut out, &c.name)?;
            push_str(&mut out, &c.format)?;
            push_u16(&mut out, c.points.len(), "points")?;
            push_u16(&mut out, c.limbs.len(), "limbs")?;
            push_u16(&mut out, c.colors.len(), "colors")?;
            for p in &c.points {
                push_str(&mut out, p)?;
            }
            for (a, b) in &c.limbs {
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
            }
            for rgb in &c.colors {
                for v in rgb {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        out.extend_from_slice(&self.fps.to_le_bytes());
        let frames = u32::try_from(self.frames).map_err(|_| "too many frames for .pose")?;
        out.extend_from_slice(&frames.to_le_bytes());
        push_u16(&mut out, self.people, "people")?;
        let points = self.header.total_points();
        let dims = self.header.num_dims();
        if self.data.len() != self.frames * self.people * points * dims
            || self.confidence.len() != self.frames * self.people * points
        {
            return Err("pose data does not match its header".into());
        }
        for v in self.data.iter().chain(&self.confidence) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        Ok(out)
    }
}

fn read_header(r: &mut Reader) -> Result<PoseHeader, String> {
    let version = r.f32()?;
    let (width, height, depth) = (r.u16()?, r.u16()?, r.u16()?);
    let count = r.u16()?;
    let mut components = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let name = r.str()?;
        let format = r.str()?;
        let (n_points, n_limbs, n_colors) = (r.u16()?, r.u16()?, r.u16()?);
        let points = (0..n_points).map(|_| r.str()).collect::<Result<_, _>>()?;
        let limbs = (0..n_limbs)
            .map(|_| Ok((r.u16()?, r.u16()?)))
            .collect::<Result<_, String>>()?;
        let colors = (0..n_colors)
            .map(|_| Ok([r.u16()?, r.u16()?, r.u16()?]))
            .collect::<Result<_, String>>()?;
        components.push(PoseComponent {
            name,
            format,
            points,
            limbs,
            colors,
        });
    }
    Ok(PoseHeader {
        version,
        width,
        height,
        depth,
        components,
    })
}

/// Version 0.0 (OpenPose conversions): per frame a people count, per person an id and per
/// component interleaved `x, y, …, c` rows. Like pose-format, keeps the first person only and
/// zeros for frames without anyone.
fn read_body_v0_0(header: PoseHeader, r: &mut Reader) -> Result<PoseFormatFile, String> {
    let dims = header.num_dims();
    if header.components.iter().any(|c| c.format.len() != dims + 1) {
        return Err("v0.0 components with different point formats".into());
    }
    let points = header.total_points();
    let (fps, frames) = (r.u16()?, r.u16()? as usize);
    let mut data = Vec::with_capacity(frames * points * dims);
    let mut confidence = Vec::with_capacity(frames * points);
    for _ in 0..frames {
        let people = r.u16()?;
        if people == 0 {
            data.resize(data.len() + points * dims, 0.0);
            confidence.resize(confidence.len() + points, 0.0);
        }
        for person in 0..people {
            let _person_id = r.u16()?;
            let rows = r.f32s(points * (dims + 1))?;
            if person == 0 {
                for row in rows.chunks_exact(dims + 1) {
                    data.extend_from_slice(&row[..dims]);
                    confidence.push(row[dims]);
                }
            }
        }
    }
    Ok(PoseFormatFile {
        header,
        fps: fps as f32,
        frames,
        people: 1,
        data,
        confidence,
    })
}

fn push_u16(out: &mut Vec<u8>, n: usize, what: &str) -> Result<(), String> {
    let n = u16::try_from(n).map_err(|_| format!("too many {what} for .pose ({n})"))?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn push_str(out: &mut Vec<u8>, s: &str) -> Result<(), String> {
    push_u16(out, s.len(), "bytes in a name")?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .offset
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "truncated: needs {n} more bytes at offset {} of {}",
                self.offset,
                self.bytes.len()
            ));
        };
        let s = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(s)
    }
    fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self) -> Result<f32, String> {
        let b = self.take(4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, String> {
        let len = n.checked_mul(4).ok_or("size overflow")?;
        let b = self.take(len)?;
        Ok(b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
    }
}
