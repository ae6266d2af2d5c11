//! Training batches as the official loader builds them: the clip's frames subsampled past
//! [`unisign::MAX_FRAMES`], `load_part_kp`, then `collate_fn` (each part padded to the longest clip by
//! repeating its last frame, a frame mask of 1 on real frames) and the targets tokenised with
//! padding, truncation at [`MAX_TARGET_TOKENS`] and `</s>`, padding ignored by the loss.

use candle_core::{Device, Tensor};

use super::TrainError;
use super::rng::SeededRng;
use crate::decode::tokenizer::MT5Tokenizer;
use crate::keypoints::NUM_KEYPOINTS;
use crate::keypoints::UnisignPoses;
use crate::keypoints::unisign::{self, FrameSelection, NormalizedClip, UniSignInput};
use crate::model::{Language, prompt_text};

/// Target length limit of the official tokenizer call (`max_length=50`), `</s>` included.
pub const MAX_TARGET_TOKENS: usize = 50;

/// The label of a position the loss ignores (PyTorch's `ignore_index`).
pub const IGNORE_LABEL: i64 = -100;

/// One training example: a preprocessed clip and its target text.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSample {
    /// The clip's name (for error messages).
    pub name: String,
    /// The preprocessed clip.
    pub input: UniSignInput,
    /// The target sentence.
    pub text: String,
}

impl TrainSample {
    /// Preprocesses `clip` as the official training loader does: all frames up to
    /// `max_frames` (the official default is [`unisign::MAX_FRAMES`]), else a sorted random subset of
    /// `max_frames` drawn from `rng`; then the clip-global normalisation.
    pub fn from_clip(
        name: &str,
        clip: &NormalizedClip,
        text: &str,
        max_frames: usize,
        rng: &mut SeededRng,
    ) -> Result<Self, TrainError> {
        if max_frames == 0 {
            return Err(TrainError::Input("max_frames must be positive".into()));
        }
        let indices = rng.sorted_subset(clip.len(), max_frames);
        let input =
            unisign::preprocess(clip, &FrameSelection::Indices(indices)).map_err(|source| {
                TrainError::Preprocess {
                    name: name.to_owned(),
                    source,
                }
            })?;
        Ok(Self {
            name: name.to_owned(),
            input,
            text: text.to_owned(),
        })
    }
}

/// The poses of a Uni-Sign `.pkl` as the preprocessing input.
pub fn clip_from_unisign_poses(poses: &UnisignPoses) -> Result<NormalizedClip, TrainError> {
    if poses.keypoints_normalized.len() != poses.scores.len() {
        return Err(TrainError::Input(format!(
            "{} keypoint frames but {} score frames",
            poses.keypoints_normalized.len(),
            poses.scores.len()
        )));
    }
    let mut clip = NormalizedClip::default();
    for (f, (xy, s)) in poses
        .keypoints_normalized
        .iter()
        .zip(&poses.scores)
        .enumerate()
    {
        let xy: [[f64; 2]; NUM_KEYPOINTS] = xy.as_slice().try_into().map_err(|_| {
            TrainError::Input(format!(
                "frame {f} has {} keypoints, not {NUM_KEYPOINTS}",
                xy.len()
            ))
        })?;
        let s: [f32; NUM_KEYPOINTS] = s.as_slice().try_into().map_err(|_| {
            TrainError::Input(format!(
                "frame {f} has {} scores, not {NUM_KEYPOINTS}",
                s.len()
            ))
        })?;
        clip.keypoints_normalized.push(xy);
        clip.scores.push(s);
    }
    Ok(clip)
}

/// A collated batch, ready for the training forward.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The four part tensors in [`unisign::Part::ALL`] order, each (B, T, V, 3) f32; clips
    /// shorter than T repeat their last frame.
    pub parts: [Tensor; 4],
    /// (B, T) f32: 1 on real frames, 0 on padding.
    pub frame_mask: Tensor,
    /// Real frames per clip.
    pub lengths: Vec<usize>,
    /// The prompt ids (with `</s>`), the same for every clip.
    pub prompt_ids: Vec<u32>,
    /// Per clip, the target ids with `</s>`, padded to the longest with [`IGNORE_LABEL`].
    pub labels: Vec<Vec<i64>>,
}

impl Batch {
    /// Clips in the batch.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// Whether the batch has no clips.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Target positions the loss counts.
    pub fn target_tokens(&self) -> usize {
        self.labels
            .iter()
            .flatten()
            .filter(|&&l| l != IGNORE_LABEL)
            .count()
    }
}

/// The target ids of `text`: `tokenizer(text, truncation=True, max_length=50)`, i.e. at most
/// 49 pieces and `</s>`.
pub fn target_ids(tokenizer: &MT5Tokenizer, text: &str) -> Result<Vec<u32>, TrainError> {
    let mut ids = tokenizer.encode(text)?;
    let eos = tokenizer.eos_id();
    if ids.len() > MAX_TARGET_TOKENS {
        ids.truncate(MAX_TARGET_TOKENS - 1);
        ids.push(eos);
    }
    Ok(ids)
}

/// The official `collate_fn` plus the target tokenisation of the official `forward`.
pub fn collate(
    samples: &[TrainSample],
    tokenizer: &MT5Tokenizer,
    language: Language,
    device: &Device,
) -> Result<Batch, TrainError> {
    let max_len = samples
        .iter()
        .map(|s| s.input.num_frames())
        .max()
        .ok_or_else(|| TrainError::Input("empty batch".into()))?;
    if let Some(s) = samples.iter().find(|s| s.input.num_frames() == 0) {
        return Err(TrainError::Input(format!(
            "clip `{}` has no frames",
            s.name
        )));
    }
    let b = samples.len();
    let mut parts = Vec::with_capacity(4);
    for part in unisign::Part::ALL {
        let v = part.num_nodes();
        let frame_values = v * 3;
        let mut values = Vec::with_capacity(b * max_len * frame_values);
        for sample in samples {
            let input = &sample.input.part(part).values;
            let t = sample.input.num_frames();
            values.extend(input.iter().map(|&x| x as f32));
            let last = &input[(t - 1) * frame_values..t * frame_values];
            for _ in t..max_len {
                values.extend(last.iter().map(|&x| x as f32));
            }
        }
        parts.push(Tensor::from_vec(values, (b, max_len, v, 3), device)?);
    }
    let parts: [Tensor; 4] = parts
        .try_into()
        .map_err(|_| TrainError::Input("expected four parts".into()))?;
    let lengths: Vec<usize> = samples.iter().map(|s| s.input.num_frames()).collect();
    let mask: Vec<f32> = lengths
        .iter()
        .flat_map(|&t| (0..max_len).map(move |i| if i < t { 1.0 } else { 0.0 }))
        .collect();
    let frame_mask = Tensor::from_vec(mask, (b, max_len), device)?;

    let mut labels = Vec::with_capacity(b);
    for sample in samples {
        let ids = target_ids(tokenizer, &sample.text)?;
        labels.push(ids.into_iter().map(i64::from).collect::<Vec<_>>());
    }
    let target_len = labels.iter().map(Vec::len).max().unwrap_or(0);
    for row in &mut labels {
        // The pad id becomes the ignored label, as the official forward does.
        for l in row.iter_mut() {
            if *l == i64::from(tokenizer.pad_id()) {
                *l = IGNORE_LABEL;
            }
        }
        row.resize(target_len, IGNORE_LABEL);
    }
    Ok(Batch {
        parts,
        frame_mask,
        lengths,
        prompt_ids: tokenizer.encode(&prompt_text(language))?,
        labels,
    })
}

/// Frames the official loader keeps for a clip of `num_frames` (for callers that preprocess
/// themselves): all when short enough, else a sorted random subset.
pub fn training_frame_selection(
    num_frames: usize,
    max_frames: usize,
    rng: &mut SeededRng,
) -> FrameSelection {
    FrameSelection::Indices(rng.sorted_subset(num_frames, max_frames.max(1)))
}
