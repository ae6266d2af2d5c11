//! The differentiable forward of the Uni-Sign pose encoder in training mode: train-mode
//! BatchNorm (batch statistics over batch, frames and joints, padding frames included, with
//! the running statistics recorded for the update), the body feature added to the hands and
//! face detached, both hands through the shared modules, and the prompt embeddings joined to
//! the pose tokens.
//!
//! Tensors are `(batch, channels, frames, joints)` inside the chains, as in the reference.

use candle_core::{D, DType, Tensor};

use super::TrainError;
use super::params::ParamStore;
use super::rng::SeededRng;
use crate::keypoints::unisign::Part;

/// Whether the forward trains (batch statistics, dropout) or evaluates (running statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Training: batch statistics, running statistics recorded, dropout on.
    Train,
    /// Evaluation: running statistics, no dropout.
    Eval,
}

/// One BatchNorm's batch statistics, to fold into its running statistics after the step.
#[derive(Clone, Debug)]
pub struct BatchNormUpdate {
    /// The module (training name).
    pub module: String,
    /// Batch mean per channel.
    pub mean: Vec<f64>,
    /// Unbiased batch variance per channel.
    pub var_unbiased: Vec<f64>,
}

/// What one forward needs besides its inputs, and what it leaves behind.
#[derive(Debug)]
pub struct ForwardContext<'a> {
    /// The parameters.
    pub store: &'a ParamStore,
    /// Train or eval.
    pub mode: Mode,
    /// Dropout rate of mT5 (the pose encoder has none).
    pub dropout: f32,
    /// The generator of the dropout masks.
    pub rng: &'a mut SeededRng,
    /// Batch statistics in forward order (the shared hand modules appear twice).
    pub batch_norm_updates: Vec<BatchNormUpdate>,
}

impl<'a> ForwardContext<'a> {
    /// A context over `store`.
    pub fn new(store: &'a ParamStore, mode: Mode, dropout: f32, rng: &'a mut SeededRng) -> Self {
        Self {
            store,
            mode,
            dropout,
            rng,
            batch_norm_updates: Vec::new(),
        }
    }

    /// The parameter `name`.
    pub fn param(&self, name: &str) -> Result<Tensor, TrainError> {
        self.store.get(name)
    }

    /// Inverted dropout with this context's rate and generator (identity in eval mode).
    pub fn dropout(&mut self, x: &Tensor) -> Result<Tensor, TrainError> {
        if self.mode == Mode::Eval || self.dropout <= 0.0 {
            return Ok(x.clone());
        }
        let mask = self.rng.dropout_mask(x.elem_count(), self.dropout);
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?;
        Ok(x.mul(&mask)?)
    }

    /// BatchNorm2d over (B, C, T, V) with eps `eps`: batch statistics in training (computed in
    /// f64, as PyTorch's CPU kernel accumulates), running statistics in evaluation.
    fn batch_norm(&mut self, x: &Tensor, module: &str, eps: f64) -> Result<Tensor, TrainError> {
        let (b, c, t, v) = x.dims4()?;
        let weight = self
            .param(&format!("{module}.weight"))?
            .reshape((1, c, 1, 1))?;
        let bias = self
            .param(&format!("{module}.bias"))?
            .reshape((1, c, 1, 1))?;
        let normed = match self.mode {
            Mode::Train => {
                let x64 = x.to_dtype(DType::F64)?;
                let mean = x64.mean_keepdim(&[0, 2, 3][..])?;
                let centered = x64.broadcast_sub(&mean)?;
                let var = centered.sqr()?.mean_keepdim(&[0, 2, 3][..])?;
                let inv_std = (&var + eps)?.sqrt()?.recip()?;
                let n = (b * t * v) as f64;
                let correction = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
                self.batch_norm_updates.push(BatchNormUpdate {
                    module: module.to_owned(),
                    mean: mean.detach().flatten_all()?.to_vec1::<f64>()?,
                    var_unbiased: (var.detach() * correction)?
                        .flatten_all()?
                        .to_vec1::<f64>()?,
                });
                centered.broadcast_mul(&inv_std)?.to_dtype(DType::F32)?
            }
            Mode::Eval => {
                let stats = self.store.batch_norm(module)?;
                let mean = stats.running_mean.reshape((1, c, 1, 1))?;
                let inv_std = (stats.running_var.reshape((1, c, 1, 1))? + eps)?
                    .sqrt()?
                    .recip()?;
                x.broadcast_sub(&mean)?.broadcast_mul(&inv_std)?
            }
        };
        Ok(normed.broadcast_mul(&weight)?.broadcast_add(&bias)?)
    }
}

/// ReLU whose gradient is 0 at 0, as PyTorch's (candle's passes it at 0).
pub fn relu(x: &Tensor) -> Result<Tensor, TrainError> {
    let positive = x.gt(0.0)?.to_dtype(x.dtype())?;
    Ok(x.mul(&positive)?)
}

/// A 1×1 convolution over (B, C_in, T, V): a matmul over channels, with bias.
fn pointwise_conv(ctx: &ForwardContext, x: &Tensor, module: &str) -> Result<Tensor, TrainError> {
    let (b, c_in, t, v) = x.dims4()?;
    let weight = ctx.param(&format!("{module}.weight"))?;
    let c_out = weight.dim(0)?;
    let weight = weight.reshape((c_out, c_in))?;
    let bias = ctx
        .param(&format!("{module}.bias"))?
        .reshape((1, c_out, 1))?;
    Ok(weight
        .broadcast_matmul(&x.reshape((b, c_in, t * v))?)?
        .broadcast_add(&bias)?
        .reshape((b, c_out, t, v))?)
}

/// `GCN_unit`: 1×1 conv to K·C_out channels (K-major), Σ_k y_k · A_k over the input joint,
/// BatchNorm, ReLU.
fn gcn_unit(ctx: &mut ForwardContext, x: &Tensor, module: &str) -> Result<Tensor, TrainError> {
    let (b, _, t, v) = x.dims4()?;
    let adjacency = ctx.param(&format!("{module}.A"))?;
    let k = adjacency.dim(0)?;
    let y = pointwise_conv(ctx, x, &format!("{module}.conv"))?;
    let c_out = y.dim(1)? / k;
    let z = y
        .reshape((b, k, c_out * t, v))?
        .broadcast_matmul(&adjacency.unsqueeze(0)?)?
        .sum(1)?
        .reshape((b, c_out, t, v))?;
    let eps = ctx.store.config.pose.batch_norm_eps;
    relu(&ctx.batch_norm(&z, &format!("{module}.bn"), eps)?)
}

/// Temporal convolution (kernel k×1, zero padding (k−1)/2, stride 1) as a matmul over the
/// unfolded frames, then its BatchNorm.
fn temporal_conv(ctx: &mut ForwardContext, x: &Tensor, module: &str) -> Result<Tensor, TrainError> {
    let (b, c, t, v) = x.dims4()?;
    let weight = ctx.param(&format!("{module}.0.weight"))?;
    let (c_out, _, kernel, _) = weight.dims4()?;
    let pad = kernel.saturating_sub(1) / 2;
    let zeros = Tensor::zeros((b, c, pad, v), x.dtype(), x.device())?;
    let padded = Tensor::cat(&[&zeros, x, &zeros], 2)?;
    let taps: Vec<Tensor> = (0..kernel)
        .map(|i| padded.narrow(2, i, t))
        .collect::<candle_core::Result<_>>()?;
    // (B, C, K, T, V): channel-major then tap, as the weight (C_out, C_in, K, 1) flattens.
    let unfolded = Tensor::stack(&taps, 2)?.reshape((b, c * kernel, t * v))?;
    let bias = ctx
        .param(&format!("{module}.0.bias"))?
        .reshape((1, c_out, 1))?;
    let y = weight
        .reshape((c_out, c * kernel))?
        .broadcast_matmul(&unfolded)?
        .broadcast_add(&bias)?
        .reshape((b, c_out, t, v))?;
    let eps = ctx.store.config.pose.batch_norm_eps;
    ctx.batch_norm(&y, &format!("{module}.1"), eps)
}

/// `STGCN_block`: `ReLU(tcn(gcn(x)) + residual(x))`; the residual is a 1×1 conv and
/// BatchNorm when the width changes.
fn stgcn_block(
    ctx: &mut ForwardContext,
    x: &Tensor,
    module: &str,
    temporal: bool,
) -> Result<Tensor, TrainError> {
    let c_in = x.dim(1)?;
    let conv_out = ctx.param(&format!("{module}.gcn.conv.weight"))?.dim(0)?;
    let k = ctx.param(&format!("{module}.gcn.A"))?.dim(0)?;
    let residual = if c_in != conv_out / k {
        let eps = ctx.store.config.pose.batch_norm_eps;
        let y = pointwise_conv(ctx, x, &format!("{module}.residual.0"))?;
        ctx.batch_norm(&y, &format!("{module}.residual.1"), eps)?
    } else {
        x.clone()
    };
    let mut h = gcn_unit(ctx, x, &format!("{module}.gcn"))?;
    if temporal {
        h = temporal_conv(ctx, &h, &format!("{module}.tcn"))?;
    }
    relu(&(h + residual)?)
}

/// The module name of a part: both hands use the shared `left` modules.
fn module_name(part: Part) -> &'static str {
    match part {
        Part::Left | Part::Right => "left",
        other => other.name(),
    }
}

/// Body-graph nodes whose spatial feature is added to the other parts.
fn body_node(part: Part) -> Option<usize> {
    match part {
        Part::Body => None,
        Part::Left => Some(7),
        Part::Right => Some(8),
        Part::FaceAll => Some(0),
    }
}

/// The pose encoder on the four (B, T, V, 3) part tensors → pose tokens (B, T, d_model).
pub fn pose_tokens(ctx: &mut ForwardContext, parts: &[Tensor; 4]) -> Result<Tensor, TrainError> {
    let config = ctx.store.config.pose.clone();
    let mut body_feature: Option<Tensor> = None;
    let mut pooled = Vec::with_capacity(4);
    for (part, x) in Part::ALL.into_iter().zip(parts) {
        let name = module_name(part);
        let (b, t, v, c) = x.dims4()?;
        let weight = ctx.param(&format!("proj_linear.{name}.weight"))?;
        let bias = ctx.param(&format!("proj_linear.{name}.bias"))?;
        let proj = x
            .reshape((b * t * v, c))?
            .matmul(&weight.t()?)?
            .broadcast_add(&bias)?
            .reshape((b, t, v, config.proj_dim))?;
        let mut h = proj.permute((0, 3, 1, 2))?.contiguous()?;
        for i in 0..config.spatial_channels.len() {
            h = stgcn_block(ctx, &h, &format!("gcn_modules.{name}.layer{i}_0"), false)?;
        }
        match (body_node(part), &body_feature) {
            (None, _) => body_feature = Some(h.detach()),
            (Some(node), Some(body)) => h = h.broadcast_add(&body.narrow(D::Minus1, node, 1)?)?,
            (Some(_), None) => {
                return Err(TrainError::Input("the body part must come first".into()));
            }
        }
        for j in 0..config.temporal_blocks {
            h = stgcn_block(
                ctx,
                &h,
                &format!("fusion_gcn_modules.{name}.layer0_{j}"),
                true,
            )?;
        }
        // Mean over joints → (B, C, T) → (B, T, C).
        pooled.push(h.mean(D::Minus1)?.transpose(1, 2)?);
    }
    let part_para = ctx.param("part_para")?;
    let concat = Tensor::cat(&pooled, D::Minus1)?.broadcast_add(&part_para)?;
    let (b, t, width) = concat.dims3()?;
    let weight = ctx.param("pose_proj.weight")?;
    let bias = ctx.param("pose_proj.bias")?;
    let d_model = weight.dim(0)?;
    Ok(concat
        .reshape((b * t, width))?
        .matmul(&weight.t()?)?
        .broadcast_add(&bias)?
        .reshape((b, t, d_model))?)
}

/// The mT5 encoder input: the prompt's `shared` rows (unscaled) before every clip's pose
/// tokens, and the joint mask (ones over the prompt, then the frame mask).
pub fn encoder_inputs(
    ctx: &ForwardContext,
    prompt_ids: &[u32],
    pose_tokens: &Tensor,
    frame_mask: &Tensor,
) -> Result<(Tensor, Tensor), TrainError> {
    let (b, _, d_model) = pose_tokens.dims3()?;
    let shared = ctx.param("mt5_model.shared.weight")?;
    let vocab = shared.dim(0)?;
    if let Some(bad) = prompt_ids.iter().find(|&&i| i as usize >= vocab) {
        return Err(TrainError::Input(format!(
            "prompt token {bad} is outside the vocabulary of {vocab}"
        )));
    }
    let ids = Tensor::new(prompt_ids, pose_tokens.device())?;
    let prompt =
        shared
            .index_select(&ids, 0)?
            .unsqueeze(0)?
            .broadcast_as((b, prompt_ids.len(), d_model))?;
    let inputs_embeds = Tensor::cat(&[&prompt, pose_tokens], 1)?;
    let ones = Tensor::ones((b, prompt_ids.len()), DType::F32, pose_tokens.device())?;
    let mask = Tensor::cat(&[&ones, &frame_mask.to_dtype(DType::F32)?], 1)?;
    Ok((inputs_embeds, mask))
}
