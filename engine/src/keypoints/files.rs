//! Pose files: one entry point that chooses the format by extension.
//!
//! | extension | read | write |
//! |---|---|---|
//! | `.pose` | pose-format v0.0/v0.1/v0.2: COCO-WholeBody 133, MediaPipe Holistic (full or reduced), OpenPose 137 | v0.2, COCO-WholeBody 133 (`BODY`, `FACE`, `LEFT_HAND`, `RIGHT_HAND`) |
//! | `.json` | ours (`{"width","height","fps","frames":[{"time","keypoints":[[x,y,score]…]}]}`), or MMPose predictions (a list of `{frame_id, instances}`) | ours |
//! | `.pkl` | Uni-Sign | Uni-Sign |

use std::path::Path;

use super::holistic::{self, HolisticPoints};
use super::layout::{BODY_AND_FEET_LIMBS, BODY_AND_FEET_NAMES, HAND_LIMBS};
use super::pickle::{self, PickleWriter, Value, WriteDtype};
use super::pose_format::{PoseComponent, PoseFormatFile, PoseHeader};
use super::{Keypoint, NUM_KEYPOINTS, PoseFrame, PoseSequence};
use crate::fsutil;

/// Frame rate given to formats that do not store one (Uni-Sign `.pkl`, MMPose JSON) when the
/// caller does not know it: 25 fps, the rate of CSL-Daily and PHOENIX-2014T.
pub const DEFAULT_FPS: f64 = 25.0;

/// Errors of pose files; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum PoseFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file is not in the format its extension says, or holds a layout we cannot map.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The extension names no pose format.
    #[error("{path}: unknown pose file type (expected .pose, .json or .pkl)")]
    UnknownExtension {
        /// The file.
        path: String,
    },
}

/// What a reader needs for formats that do not carry it themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PoseReadOptions {
    /// Frame size in pixels, for `.pkl` (stored normalised) and MMPose JSON (stored without it).
    /// Without it a `.pkl` reads in normalised units (width = height = 1) and MMPose JSON is an
    /// error.
    pub frame_size: Option<(u32, u32)>,
    /// Frame rate for formats without one; [`DEFAULT_FPS`] when `None`.
    pub fps: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pose,
    Json,
    Pkl,
}

fn kind_of(path: &Path) -> Result<Kind, PoseFileError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("pose") => Ok(Kind::Pose),
        Some("json") => Ok(Kind::Json),
        Some("pkl") => Ok(Kind::Pkl),
        _ => Err(PoseFileError::UnknownExtension {
            path: path.display().to_string(),
        }),
    }
}

/// Whether `path` has an extension [`read_pose_file`] understands.
pub fn is_pose_file(path: &Path) -> bool {
    kind_of(path).is_ok()
}

/// Reads a pose file of any supported format into 133 COCO-WholeBody keypoints per frame.
pub fn read_pose_file(path: &Path) -> Result<PoseSequence, PoseFileError> {
    read_pose_file_with(path, &PoseReadOptions::default())
}

/// [`read_pose_file`] with the frame size and rate for formats that lack them.
pub fn read_pose_file_with(
    path: &Path,
    options: &PoseReadOptions,
) -> Result<PoseSequence, PoseFileError> {
    let kind = kind_of(path)?;
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PoseFileError::Io {
        path: shown.clone(),
        source,
    })?;
    let format_error = |reason: String| PoseFileError::Format {
        path: shown.clone(),
        reason,
    };
    if bytes.is_empty() {
        return Err(format_error("file is empty".into()));
    }
    match kind {
        Kind::Pose => {
            let file = PoseFormatFile::from_bytes(&bytes)
                .map_err(|e| format_error(format!("not a valid .pose file: {e}")))?;
            sequence_from_pose_format(&file).map_err(format_error)
        }
        Kind::Json => read_json(&bytes, options).map_err(format_error),
        Kind::Pkl => read_unisign_pkl(&bytes, options).map_err(format_error),
    }
}

/// Writes `sequence` in the format the extension of `path` names, atomically.
pub fn write_pose_file(path: &Path, sequence: &PoseSequence) -> Result<(), PoseFileError> {
    let kind = kind_of(path)?;
    let shown = path.display().to_string();
    let bytes = match kind {
        Kind::Pose => pose_format_from_sequence(sequence)
            .to_bytes()
            .map_err(|reason| PoseFileError::Format {
                path: shown.clone(),
                reason,
            })?,
        Kind::Json => json_bytes(sequence).map_err(|e| PoseFileError::Format {
            path: shown.clone(),
            reason: e.to_string(),
        })?,
        Kind::Pkl => unisign_pkl_bytes(sequence),
    };
    fsutil::write_atomic(path, &bytes).map_err(|source| PoseFileError::Io {
        path: shown,
        source,
    })
}

// ---------------------------------------------------------------------------------------------
// .pose

/// The COCO-WholeBody components as MMPose's pose-format export names them.
fn coco_wholebody_components() -> Vec<PoseComponent> {
    let component =
        |name: &str, points: Vec<String>, limbs: &[(u16, u16)], rgb: [u16; 3]| PoseComponent {
            name: name.into(),
            format: "XYC".into(),
            points,
            limbs: limbs.to_vec(),
            colors: vec![rgb; limbs.len().max(1)],
        };
    vec![
        component(
            "BODY",
            BODY_AND_FEET_NAMES.iter().map(|s| s.to_string()).collect(),
            &BODY_AND_FEET_LIMBS,
            [0, 255, 0],
        ),
        component(
            "FACE",
            (0..68).map(|i| format!("face-{i}")).collect(),
            &[],
            [255, 255, 255],
        ),
        component(
            "LEFT_HAND",
            (0..21).map(|i| format!("left_hand_{i}")).collect(),
            &HAND_LIMBS,
            [0, 255, 0],
        ),
        component(
            "RIGHT_HAND",
            (0..21).map(|i| format!("right_hand_{i}")).collect(),
            &HAND_LIMBS,
            [255, 128, 0],
        ),
    ]
}

/// A one-person 2-D `.pose` file in the COCO-WholeBody layout.
pub fn pose_format_from_sequence(sequence: &PoseSequence) -> PoseFormatFile {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    let mut data = Vec::with_capacity(sequence.frames.len() * NUM_KEYPOINTS * 2);
    let mut confidence = Vec::with_capacity(sequence.frames.len() * NUM_KEYPOINTS);
    for frame in &sequence.frames {
        for k in &frame.keypoints_in_image {
            data.extend_from_slice(&[k.x, k.y]);
            confidence.push(k.score);
        }
    }
    PoseFormatFile {
        header: PoseHeader {
            version: 0.2,
            width: clamp(sequence.width),
            height: clamp(sequence.height),
            depth: 0,
            components: coco_wholebody_components(),
        },
        fps: sequence.fps as f32,
        frames: sequence.frames.len(),
        people: 1,
        data,
        confidence,
    }
}

/// Names of the 33 BlazePose points, as pose-format's MediaPipe export writes them.
const BLAZEPOSE_POINTS: [&str; 33] = [
    "NOSE",
    "LEFT_EYE_INNER",
    "LEFT_EYE",
    "LEFT_EYE_OUTER",
    "RIGHT_EYE_INNER",
    "RIGHT_EYE",
    "RIGHT_EYE_OUTER",
    "LEFT_EAR",
    "RIGHT_EAR",
    "MOUTH_LEFT",
    "MOUTH_RIGHT",
    "LEFT_SHOULDER",
    "RIGHT_SHOULDER",
    "LEFT_ELBOW",
    "RIGHT_ELBOW",
    "LEFT_WRIST",
    "RIGHT_WRIST",
    "LEFT_PINKY",
    "RIGHT_PINKY",
    "LEFT_INDEX",
    "RIGHT_INDEX",
    "LEFT_THUMB",
    "RIGHT_THUMB",
    "LEFT_HIP",
    "RIGHT_HIP",
    "LEFT_KNEE",
    "RIGHT_KNEE",
    "LEFT_ANKLE",
    "RIGHT_ANKLE",
    "LEFT_HEEL",
    "RIGHT_HEEL",
    "LEFT_FOOT_INDEX",
    "RIGHT_FOOT_INDEX",
];

/// Names of the 21 MediaPipe hand points.
const MEDIAPIPE_HAND_POINTS: [&str; 21] = [
    "WRIST",
    "THUMB_CMC",
    "THUMB_MCP",
    "THUMB_IP",
    "THUMB_TIP",
    "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP",
    "INDEX_FINGER_DIP",
    "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP",
    "MIDDLE_FINGER_DIP",
    "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP",
    "RING_FINGER_PIP",
    "RING_FINGER_DIP",
    "RING_FINGER_TIP",
    "PINKY_MCP",
    "PINKY_PIP",
    "PINKY_DIP",
    "PINKY_TIP",
];

/// OpenPose BODY_25 index of each COCO-WholeBody body and feet point.
const COCO_BODY_FROM_BODY25: [usize; 23] = [
    0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11, 19, 20, 21, 22, 23, 24,
];

/// Where each component's points start in the flat point list, by component name.
fn component_offsets(header: &PoseHeader) -> Vec<(&str, usize, &PoseComponent)> {
    let mut offset = 0;
    header
        .components
        .iter()
        .map(|c| {
            let start = offset;
            offset += c.points.len();
            (c.name.as_str(), start, c)
        })
        .collect()
}

/// Maps a `.pose` file of a known layout onto 133 COCO-WholeBody points (person 0, x and y).
pub fn sequence_from_pose_format(file: &PoseFormatFile) -> Result<PoseSequence, String> {
    let header = &file.header;
    if file.header.num_dims() < 2 {
        return Err("points have fewer than 2 dimensions".into());
    }
    let offsets = component_offsets(header);
    let find = |name: &str| offsets.iter().find(|(n, _, _)| *n == name).copied();
    let names: Vec<&str> = offsets.iter().map(|(n, _, _)| *n).collect();
    let keypoint = |frame: usize, point: usize| {
        let xy = file.point(frame, 0, point);
        Keypoint {
            x: xy[0],
            y: xy[1],
            score: file.point_confidence(frame, 0, point),
        }
    };

    type FrameMapper<'a> = Box<dyn Fn(usize) -> Vec<Keypoint> + 'a>;
    let map_frame: FrameMapper = if let (
        Some((_, body, b)),
        Some((_, face, f)),
        Some((_, left, l)),
        Some((_, right, r)),
    ) = (
        find("BODY"),
        find("FACE"),
        find("LEFT_HAND"),
        find("RIGHT_HAND"),
    ) {
        if (
            b.points.len(),
            f.points.len(),
            l.points.len(),
            r.points.len(),
        ) != (23, 68, 21, 21)
        {
            return Err("COCO-WholeBody components with unexpected point counts".into());
        }
        let order: Vec<usize> = (body..body + 23)
            .chain(face..face + 68)
            .chain(left..left + 21)
            .chain(right..right + 21)
            .collect();
        Box::new(move |t| order.iter().map(|&p| keypoint(t, p)).collect())
    } else if find("POSE_LANDMARKS").is_some()
        || find("LEFT_HAND_LANDMARKS").is_some()
        || find("FACE_LANDMARKS").is_some()
    {
        // MediaPipe Holistic, full or reduced: place each point by its name.
        let slots = holistic_slots(&offsets)?;
        Box::new(move |t| {
            let mut body = [Keypoint::default(); 33];
            let mut face = [Keypoint::default(); FACE_MESH_POINTS];
            let mut left_hand = [Keypoint::default(); 21];
            let mut right_hand = [Keypoint::default(); 21];
            for &(part, index, point) in &slots {
                let target = match part {
                    HolisticPart::Pose => &mut body[index],
                    HolisticPart::Face => &mut face[index],
                    HolisticPart::LeftHand => &mut left_hand[index],
                    HolisticPart::RightHand => &mut right_hand[index],
                };
                *target = keypoint(t, point);
            }
            holistic::coco_wholebody_from_holistic(&HolisticPoints {
                body: Some(&body),
                face: Some(&face),
                left_hand: Some(&left_hand),
                right_hand: Some(&right_hand),
            })
        })
    } else if let (
        Some((_, body, b)),
        Some((_, face, f)),
        Some((_, left, _)),
        Some((_, right, _)),
    ) = (
        find("pose_keypoints_2d"),
        find("face_keypoints_2d"),
        find("hand_left_keypoints_2d"),
        find("hand_right_keypoints_2d"),
    ) {
        if b.points.len() != 25 || f.points.len() < 68 {
            return Err("OpenPose layout other than BODY_25 + 70 face points".into());
        }
        // BODY_25 → COCO body/feet; the first 68 of OpenPose's 70 face points are the iBUG-68
        // points COCO-WholeBody uses; hands share the 21-point order.
        let order: Vec<usize> = COCO_BODY_FROM_BODY25
            .iter()
            .map(|&i| body + i)
            .chain(face..face + 68)
            .chain(left..left + 21)
            .chain(right..right + 21)
            .collect();
        Box::new(move |t| order.iter().map(|&p| keypoint(t, p)).collect())
    } else {
        return Err(format!(
            "unsupported keypoint layout (components {names:?}); expected COCO-WholeBody 133, \
             MediaPipe Holistic or OpenPose 137"
        ));
    };

    let fps = f64::from(file.fps);
    let frames = (0..file.frames)
        .map(|t| PoseFrame {
            time: if fps > 0.0 { t as f64 / fps } else { 0.0 },
            keypoints_in_image: if file.people == 0 {
                vec![Keypoint::default(); NUM_KEYPOINTS]
            } else {
                map_frame(t)
            },
        })
        .collect();
    Ok(PoseSequence {
        width: header.width.into(),
        height: header.height.into(),
        fps,
        frames,
    })
}

/// Points of MediaPipe's face mesh (without iris refinement).
const FACE_MESH_POINTS: usize = 468;

#[derive(Clone, Copy)]
enum HolisticPart {
    Pose,
    Face,
    LeftHand,
    RightHand,
}

/// For every Holistic point in the file: which part, which index in that part, which file point.
fn holistic_slots(
    offsets: &[(&str, usize, &PoseComponent)],
) -> Result<Vec<(HolisticPart, usize, usize)>, String> {
    let mut slots = Vec::new();
    for &(name, start, component) in offsets {
        let part = match name {
            "POSE_LANDMARKS" => HolisticPart::Pose,
            "FACE_LANDMARKS" => HolisticPart::Face,
            "LEFT_HAND_LANDMARKS" => HolisticPart::LeftHand,
            "RIGHT_HAND_LANDMARKS" => HolisticPart::RightHand,
            _ => continue, // e.g. POSE_WORLD_LANDMARKS: metres, not image points.
        };
        for (i, point) in component.points.iter().enumerate() {
            let index = match part {
                HolisticPart::Pose => BLAZEPOSE_POINTS.iter().position(|p| p == point),
                HolisticPart::Face => point
                    .parse::<usize>()
                    .ok()
                    .filter(|&k| k < FACE_MESH_POINTS),
                HolisticPart::LeftHand | HolisticPart::RightHand => {
                    MEDIAPIPE_HAND_POINTS.iter().position(|p| p == point)
                }
            };
            let index = index.ok_or_else(|| format!("unknown point {point:?} in {name}"))?;
            slots.push((part, index, start + i));
        }
    }
    Ok(slots)
}

// ---------------------------------------------------------------------------------------------
// .json

#[derive(serde::Serialize, serde::Deserialize)]
struct JsonPoseFile {
    width: u32,
    height: u32,
    fps: f64,
    frames: Vec<JsonPoseFrame>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct JsonPoseFrame {
    time: f64,
    keypoints: Vec<[f32; 3]>,
}

#[derive(serde::Deserialize)]
struct MmposeFrame {
    #[allow(dead_code)]
    frame_id: Option<u64>,
    instances: Vec<MmposeInstance>,
}

#[derive(serde::Deserialize)]
struct MmposeInstance {
    keypoints: Vec<[f32; 2]>,
    keypoint_scores: Vec<f32>,
}

fn json_bytes(sequence: &PoseSequence) -> serde_json::Result<Vec<u8>> {
    let file = JsonPoseFile {
        width: sequence.width,
        height: sequence.height,
        fps: sequence.fps,
        frames: sequence
            .frames
            .iter()
            .map(|f| JsonPoseFrame {
                time: f.time,
                keypoints: f
                    .keypoints_in_image
                    .iter()
                    .map(|k| [k.x, k.y, k.score])
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_vec(&file)
}

fn read_json(bytes: &[u8], options: &PoseReadOptions) -> Result<PoseSequence, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    if value.is_array() {
        return read_mmpose_json(value, options);
    }
    let file: JsonPoseFile =
        serde_json::from_value(value).map_err(|e| format!("not a signcap pose JSON file: {e}"))?;
    let frames = file
        .frames
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            if f.keypoints.len() != NUM_KEYPOINTS {
                return Err(format!(
                    "frame {i} has {} keypoints, expected {NUM_KEYPOINTS}",
                    f.keypoints.len()
                ));
            }
            Ok(PoseFrame {
                time: f.time,
                keypoints_in_image: f
                    .keypoints
                    .iter()
                    .map(|&[x, y, score]| Keypoint { x, y, score })
                    .collect(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(PoseSequence {
        width: file.width,
        height: file.height,
        fps: file.fps,
        frames,
    })
}

/// MMPose `inferencer` predictions: pixels, first instance per frame (MMPose sorts by score).
fn read_mmpose_json(
    value: serde_json::Value,
    options: &PoseReadOptions,
) -> Result<PoseSequence, String> {
    let frames: Vec<MmposeFrame> =
        serde_json::from_value(value).map_err(|e| format!("not MMPose predictions JSON: {e}"))?;
    let (width, height) = options.frame_size.ok_or(
        "MMPose predictions do not store the frame size; give the video's width and height",
    )?;
    let fps = options.fps.unwrap_or(DEFAULT_FPS);
    let frames = frames
        .iter()
        .enumerate()
        .map(|(t, f)| {
            let time = t as f64 / fps;
            let Some(person) = f.instances.first() else {
                return Ok(PoseFrame::empty(time));
            };
            if person.keypoints.len() != NUM_KEYPOINTS
                || person.keypoint_scores.len() != NUM_KEYPOINTS
            {
                return Err(format!(
                    "frame {t} has {} keypoints, expected {NUM_KEYPOINTS} (COCO-WholeBody)",
                    person.keypoints.len()
                ));
            }
            Ok(PoseFrame {
                time,
                keypoints_in_image: person
                    .keypoints
                    .iter()
                    .zip(&person.keypoint_scores)
                    .map(|(&[x, y], &score)| Keypoint { x, y, score })
                    .collect(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(PoseSequence {
        width,
        height,
        fps,
        frames,
    })
}

// ---------------------------------------------------------------------------------------------
// .pkl

fn unisign_pkl_bytes(sequence: &PoseSequence) -> Vec<u8> {
    let (w, h) = (
        f64::from(sequence.width.max(1)),
        f64::from(sequence.height.max(1)),
    );
    let mut p = PickleWriter::new();
    p.empty_dict();
    p.mark();
    p.str("keypoints");
    p.empty_list();
    if !sequence.frames.is_empty() {
        p.mark();
        for frame in &sequence.frames {
            let values: Vec<f64> = frame
                .keypoints_in_image
                .iter()
                .flat_map(|k| [f64::from(k.x) / w, f64::from(k.y) / h])
                .collect();
            p.ndarray(&[1, NUM_KEYPOINTS, 2], &values, WriteDtype::F64);
        }
        p.appends();
    }
    p.str("scores");
    p.empty_list();
    if !sequence.frames.is_empty() {
        p.mark();
        for frame in &sequence.frames {
            let values: Vec<f64> = frame
                .keypoints_in_image
                .iter()
                .map(|k| f64::from(k.score))
                .collect();
            p.ndarray(&[1, NUM_KEYPOINTS], &values, WriteDtype::F32);
        }
        p.appends();
    }
    p.setitems();
    p.finish()
}

fn read_unisign_pkl(bytes: &[u8], options: &PoseReadOptions) -> Result<PoseSequence, String> {
    let root = pickle::unpickle(bytes).map_err(|e| format!("not a valid pickle: {e}"))?;
    let poses = unisign_poses(&root)?;
    // CSL-News pickles carry the frame size as `w_h`.
    let stored_size = pickle::dict_get(&root, "w_h")
        .and_then(|v| pickle::sequence_items(&v))
        .and_then(|items| match items.as_slice() {
            [a, b] => Some((number(a)?, number(b)?)),
            _ => None,
        });
    let (width, height) = options
        .frame_size
        .or(stored_size.map(|(w, h)| (w.round() as u32, h.round() as u32)))
        .unwrap_or((1, 1));
    let fps = options.fps.unwrap_or(DEFAULT_FPS);
    let frames = poses
        .keypoints_normalized
        .iter()
        .zip(&poses.scores)
        .enumerate()
        .map(|(t, (k, s))| PoseFrame {
            time: t as f64 / fps,
            keypoints_in_image: k
                .iter()
                .zip(s)
                .map(|(&[x, y], &score)| Keypoint {
                    x: (x * f64::from(width)) as f32,
                    y: (y * f64::from(height)) as f32,
                    score,
                })
                .collect(),
        })
        .collect();
    Ok(PoseSequence {
        width,
        height,
        fps,
        frames,
    })
}

fn unisign_poses(root: &Value) -> Result<UnisignPoses, String> {
    let list = |key: &str| {
        pickle::dict_get(root, key)
            .and_then(|v| pickle::sequence_items(&v))
            .ok_or_else(|| format!("not a Uni-Sign pose pickle: no {key:?} list"))
    };
    let keypoints = list("keypoints")?;
    let scores = list("scores")?;
    if keypoints.len() != scores.len() {
        return Err(format!(
            "{} keypoint frames but {} score frames",
            keypoints.len(),
            scores.len()
        ));
    }
    let mut out = UnisignPoses {
        keypoints_normalized: Vec::with_capacity(keypoints.len()),
        scores: Vec::with_capacity(keypoints.len()),
    };
    for (t, (k, s)) in keypoints.iter().zip(&scores).enumerate() {
        let (Value::Array(k), Value::Array(s)) = (k, s) else {
            return Err(format!("frame {t} is not a NumPy array"));
        };
        // (persons, 133, 2) and (persons, 133); Uni-Sign always uses person 0.
        if k.shape.first() == Some(&0) {
            out.keypoints_normalized.push(vec![[0.0; 2]; NUM_KEYPOINTS]);
            out.scores.push(vec![0.0; NUM_KEYPOINTS]);
            continue;
        }
        if k.shape.get(1..) != Some(&[NUM_KEYPOINTS, 2][..])
            || s.shape.get(1..) != Some(&[NUM_KEYPOINTS][..])
        {
            return Err(format!(
                "frame {t} has shapes {:?} and {:?}, expected (persons, 133, 2) and (persons, 133)",
                k.shape, s.shape
            ));
        }
        out.keypoints_normalized.push(
            k.values[..2 * NUM_KEYPOINTS]
                .chunks_exact(2)
                .map(|c| [c[0], c[1]])
                .collect(),
        );
        out.scores.push(
            s.values[..NUM_KEYPOINTS]
                .iter()
                .map(|&v| v as f32)
                .collect(),
        );
    }
    Ok(out)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Array(a) if a.values.len() == 1 => Some(a.values[0]),
        _ => None,
    }
}

/// A Uni-Sign `.pkl` as stored: person 0 of every frame, normalised by the frame size, at the
/// file's own precision (float64 keypoints, float32 scores).
#[derive(Clone, Debug, PartialEq)]
pub struct UnisignPoses {
    /// Per frame 133 `[x / W, y / H]`; frames without a person are all zeros.
    pub keypoints_normalized: Vec<Vec<[f64; 2]>>,
    /// Per frame 133 confidences.
    pub scores: Vec<Vec<f32>>,
}

/// Reads a Uni-Sign `.pkl` without converting to pixels (for bit-exact Uni-Sign preprocessing).
pub fn read_unisign_pkl_file(path: &Path) -> Result<UnisignPoses, PoseFileError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| PoseFileError::Io {
        path: shown.clone(),
        source,
    })?;
    let root = pickle::unpickle(&bytes).map_err(|e| PoseFileError::Format {
        path: shown.clone(),
        reason: format!("not a valid pickle: {e}"),
    })?;
    unisign_poses(&root).map_err(|reason| PoseFileError::Format {
        path: shown,
        reason,
    })
}
