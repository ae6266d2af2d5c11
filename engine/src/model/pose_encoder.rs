//! The Uni-Sign pose encoder: per body part a `proj_linear`, a spatial ST-GCN chain and a
//! temporal ST-GCN chain, then the parts concatenated, `part_para` added and `pose_proj`.
//!
//! Tensors are `(batch, channels, frames, joints)` inside the chains, as in the reference.

use candle_core::{D, DType, Tensor};
use candle_nn::VarBuilder;

use super::ModelError;
use super::config::PoseEncoderConfig;
use crate::keypoints::unisign::Part;

/// Eval-mode BatchNorm folded into a per-channel scale and shift (as PyTorch's CPU
/// inference kernel does).
#[derive(Clone, Debug)]
struct BatchNorm {
    scale: Tensor,
    shift: Tensor,
}

impl BatchNorm {
    fn load(vb: &VarBuilder, channels: usize, eps: f64) -> candle_core::Result<Self> {
        let weight = vb.get(channels, "weight")?;
        let bias = vb.get(channels, "bias")?;
        let running_mean = vb.get(channels, "running_mean")?;
        let running_var = vb.get(channels, "running_var")?;
        let scale = weight.div(&(running_var + eps)?.sqrt()?)?;
        let shift = bias.sub(&running_mean.mul(&scale)?)?;
        Ok(Self {
            scale: scale.reshape((1, channels, 1, 1))?,
            shift: shift.reshape((1, channels, 1, 1))?,
        })
    }

    /// `x`: (B, C, T, V).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.broadcast_mul(&self.scale)?.broadcast_add(&self.shift)
    }
}

/// A 1×1 convolution over (B, C_in, T, V): a matmul over channels.
#[derive(Clone, Debug)]
struct PointwiseConv {
    weight: Tensor,
    bias: Tensor,
}

impl PointwiseConv {
    fn load(vb: &VarBuilder, c_in: usize, c_out: usize) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb
                .get((c_out, c_in, 1, 1), "weight")?
                .reshape((c_out, c_in))?,
            bias: vb.get(c_out, "bias")?.reshape((1, c_out, 1))?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c_in, t, v) = x.dims4()?;
        let c_out = self.weight.dim(0)?;
        let flat = x.reshape((b, c_in, t * v))?;
        self.weight
            .broadcast_matmul(&flat)?
            .broadcast_add(&self.bias)?
            .reshape((b, c_out, t, v))
    }
}

/// `GCN_unit`: 1×1 conv to K·C_out channels (K-major), sum over partitions of the learned
/// adjacency `A[k]` applied over joints, BatchNorm, ReLU.
#[derive(Clone, Debug)]
struct GcnUnit {
    conv: PointwiseConv,
    adjacency: Tensor,
    bn: BatchNorm,
    partitions: usize,
    c_out: usize,
}

impl GcnUnit {
    fn load(
        vb: &VarBuilder,
        c_in: usize,
        c_out: usize,
        partitions: usize,
        joints: usize,
        eps: f64,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            conv: PointwiseConv::load(&vb.pp("conv"), c_in, partitions * c_out)?,
            adjacency: vb.get((partitions, joints, joints), "A")?.unsqueeze(0)?,
            bn: BatchNorm::load(&vb.pp("bn"), c_out, eps)?,
            partitions,
            c_out,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, _, t, v) = x.dims4()?;
        // (B, K·C, T, V) → (B, K, C·T, V); z = Σ_k y_k · A_k over the input joint.
        let y = self
            .conv
            .forward(x)?
            .reshape((b, self.partitions, self.c_out * t, v))?;
        let z = y
            .broadcast_matmul(&self.adjacency)?
            .sum(1)?
            .reshape((b, self.c_out, t, v))?;
        self.bn.forward(&z)?.relu()
    }
}

/// Temporal convolution (kernel k×1, zero padding (k−1)/2, stride 1) and its BatchNorm.
#[derive(Clone, Debug)]
struct TemporalConv {
    weight: Tensor,
    bias: Tensor,
    bn: BatchNorm,
    padding: usize,
}

impl TemporalConv {
    fn load(
        vb: &VarBuilder,
        channels: usize,
        kernel: usize,
        eps: f64,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb
                .get((channels, channels, kernel, 1), "0.weight")?
                .reshape((channels, channels, kernel))?,
            bias: vb.get(channels, "0.bias")?.reshape((1, channels, 1))?,
            bn: BatchNorm::load(&vb.pp("1"), channels, eps)?,
            padding: kernel.saturating_sub(1) / 2,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, t, v) = x.dims4()?;
        // Each joint is an independent 1-D sequence over time.
        let seqs = x
            .permute((0, 3, 1, 2))?
            .contiguous()?
            .reshape((b * v, c, t))?;
        let y = seqs
            .conv1d(&self.weight, self.padding, 1, 1, 1)?
            .broadcast_add(&self.bias)?;
        let c_out = y.dim(1)?;
        let y = y
            .reshape((b, v, c_out, t))?
            .permute((0, 2, 3, 1))?
            .contiguous()?;
        self.bn.forward(&y)
    }
}

/// `STGCN_block`: `ReLU(tcn(gcn(x)) + residual(x))`.
#[derive(Clone, Debug)]
struct StGcnBlock {
    gcn: GcnUnit,
    tcn: Option<TemporalConv>,
    residual: Option<(PointwiseConv, BatchNorm)>,
}

impl StGcnBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let residual = match &self.residual {
            Some((conv, bn)) => bn.forward(&conv.forward(x)?)?,
            None => x.clone(),
        };
        let mut h = self.gcn.forward(x)?;
        if let Some(tcn) = &self.tcn {
            h = tcn.forward(&h)?;
        }
        (h + residual)?.relu()
    }
}

/// One body part's modules.
#[derive(Clone, Debug)]
struct PartModules {
    proj_linear: candle_nn::Linear,
    spatial: Vec<StGcnBlock>,
    temporal: Vec<StGcnBlock>,
}

impl PartModules {
    fn load(vb: &VarBuilder, part: Part, config: &PoseEncoderConfig) -> candle_core::Result<Self> {
        let name = part.name();
        let v = part.num_nodes();
        let k = config.partitions;
        let eps = config.batch_norm_eps;
        let proj_linear = candle_nn::Linear::new(
            vb.get((config.proj_dim, 3), &format!("proj_linear.{name}.weight"))?,
            Some(vb.get(config.proj_dim, &format!("proj_linear.{name}.bias"))?),
        );
        let mut spatial = Vec::new();
        let mut c_in = config.proj_dim;
        for (i, &c_out) in config.spatial_channels.iter().enumerate() {
            let block = vb.pp(format!("gcn_modules.{name}.layer{i}_0"));
            let residual = if c_in != c_out {
                Some((
                    PointwiseConv::load(&block.pp("residual.0"), c_in, c_out)?,
                    BatchNorm::load(&block.pp("residual.1"), c_out, eps)?,
                ))
            } else {
                None
            };
            spatial.push(StGcnBlock {
                gcn: GcnUnit::load(&block.pp("gcn"), c_in, c_out, k, v, eps)?,
                tcn: None,
                residual,
            });
            c_in = c_out;
        }
        let hidden = config.hidden_dim();
        let mut temporal = Vec::new();
        for j in 0..config.temporal_blocks {
            let block = vb.pp(format!("fusion_gcn_modules.{name}.layer0_{j}"));
            temporal.push(StGcnBlock {
                gcn: GcnUnit::load(&block.pp("gcn"), hidden, hidden, k, v, eps)?,
                tcn: Some(TemporalConv::load(
                    &block.pp("tcn"),
                    hidden,
                    config.temporal_kernel,
                    eps,
                )?),
                residual: None,
            });
        }
        Ok(Self {
            proj_linear,
            spatial,
            temporal,
        })
    }

    /// (B, T, V, 3) → spatial-chain output (B, C, T, V).
    fn spatial(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x
            .apply(&self.proj_linear)?
            .permute((0, 3, 1, 2))?
            .contiguous()?;
        for block in &self.spatial {
            h = block.forward(&h)?;
        }
        Ok(h)
    }

    fn temporal(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for block in &self.temporal {
            h = block.forward(&h)?;
        }
        Ok(h)
    }
}

/// The pose encoder's outputs, intermediates included (for parity checks and inspection).
#[derive(Clone, Debug)]
pub struct PoseEncoderOutput {
    /// Spatial-chain output per part, (B, C, T, V), before the wrist/nose feature is added.
    pub spatial: [Tensor; 4],
    /// Temporal-chain output per part, (B, C, T, V).
    pub temporal: [Tensor; 4],
    /// Input of `pose_proj`: pooled parts concatenated plus `part_para`, (B, T, 4C).
    pub pose_concat: Tensor,
    /// Per-frame pose tokens for mT5, (B, T, d_model).
    pub pose_tokens: Tensor,
}

/// Body-graph nodes whose spatial feature is added to the other parts: left wrist, right
/// wrist, nose.
const LEFT_WRIST_NODE: usize = 7;
const RIGHT_WRIST_NODE: usize = 8;
const NOSE_NODE: usize = 0;

/// The pose encoder with its weights.
#[derive(Clone, Debug)]
pub struct PoseEncoder {
    body: PartModules,
    /// One module for both hands: the reference re-assigns `left` to the `right` modules.
    hand: PartModules,
    face_all: PartModules,
    part_para: Tensor,
    pose_proj: candle_nn::Linear,
}

impl PoseEncoder {
    /// Builds the encoder from unprefixed checkpoint keys (`proj_linear.…`, `gcn_modules.…`).
    pub fn load(
        vb: &VarBuilder,
        config: &PoseEncoderConfig,
        d_model: usize,
    ) -> Result<Self, ModelError> {
        let width = 4 * config.hidden_dim();
        Ok(Self {
            body: PartModules::load(vb, Part::Body, config)?,
            hand: PartModules::load(vb, Part::Right, config)?,
            face_all: PartModules::load(vb, Part::FaceAll, config)?,
            part_para: vb.get(width, "part_para")?,
            pose_proj: candle_nn::Linear::new(
                vb.get((d_model, width), "pose_proj.weight")?,
                Some(vb.get(d_model, "pose_proj.bias")?),
            ),
        })
    }

    /// Runs the encoder on the four part inputs, each (B, T, V, 3) f32 in [`Part::ALL`] order.
    pub fn forward(&self, parts: &[Tensor; 4]) -> Result<PoseEncoderOutput, ModelError> {
        let modules = [&self.body, &self.hand, &self.hand, &self.face_all];
        let mut spatial = Vec::with_capacity(4);
        for (m, x) in modules.iter().zip(parts) {
            spatial.push(m.spatial(&x.to_dtype(DType::F32)?)?);
        }
        let body_feature = |node: usize| spatial[0].narrow(D::Minus1, node, 1);
        let added = [
            None,
            Some(body_feature(LEFT_WRIST_NODE)?),
            Some(body_feature(RIGHT_WRIST_NODE)?),
            Some(body_feature(NOSE_NODE)?),
        ];
        let mut temporal = Vec::with_capacity(4);
        let mut pooled = Vec::with_capacity(4);
        for ((m, h), add) in modules.iter().zip(&spatial).zip(&added) {
            let h = match add {
                Some(feature) => h.broadcast_add(feature)?,
                None => h.clone(),
            };
            let t = m.temporal(&h)?;
            // Mean over joints → (B, C, T) → (B, T, C).
            pooled.push(t.mean(D::Minus1)?.transpose(1, 2)?);
            temporal.push(t);
        }
        let pose_concat = Tensor::cat(&pooled, D::Minus1)?.broadcast_add(&self.part_para)?;
        let pose_tokens = pose_concat.apply(&self.pose_proj)?;
        let to_array = |v: Vec<Tensor>| -> Result<[Tensor; 4], ModelError> {
            v.try_into()
                .map_err(|_| ModelError::Input("expected four parts".into()))
        };
        Ok(PoseEncoderOutput {
            spatial: to_array(spatial)?,
            temporal: to_array(temporal)?,
            pose_concat,
            pose_tokens,
        })
    }
}
