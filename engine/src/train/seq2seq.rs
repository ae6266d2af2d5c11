//! The differentiable mT5 forward with teacher forcing (transformers' `T5ForConditionalGeneration`
//! with `labels`) and the official loss: cross-entropy with label smoothing over the logits,
//! padding ignored.
//!
//! As transformers computes it: pre-norm blocks with T5's RMSNorm (f32, no mean, no bias),
//! unscaled attention, the relative position bias of block 0 shared by every block
//! (bidirectional buckets in the encoder, causal in the decoder), additive `f32::MIN` masks,
//! gated-GELU (`gelu_new`) feed-forward, dropout after the embeddings, inside attention and the
//! feed-forward, after each sub-layer and after the final norms, and an untied `lm_head`
//! without rescaling.

use candle_core::{D, DType, Device, Tensor};

use super::TrainError;
use super::batch::IGNORE_LABEL;
use super::forward::ForwardContext;
use crate::model::mt5::relative_position_bucket;

/// `y = x Wᵀ` over the last dimension.
fn linear(x: &Tensor, weight: &Tensor) -> Result<Tensor, TrainError> {
    let (d_out, d_in) = weight.dims2()?;
    let mut dims = x.dims().to_vec();
    let rows = x.elem_count() / d_in.max(1);
    if let Some(last) = dims.last_mut() {
        *last = d_out;
    }
    Ok(x.reshape((rows, d_in))?
        .matmul(&weight.t()?)?
        .reshape(dims)?)
}

/// T5's RMSNorm: `w · x · rsqrt(mean(x²) + eps)`.
fn rms_norm(ctx: &ForwardContext, x: &Tensor, module: &str) -> Result<Tensor, TrainError> {
    let weight = ctx.param(&format!("{module}.weight"))?;
    let eps = ctx.store.config.mt5.layer_norm_epsilon;
    let variance = x.sqr()?.mean_keepdim(D::Minus1)?;
    let inv = (variance + eps)?.sqrt()?.recip()?;
    Ok(x.broadcast_mul(&inv)?.broadcast_mul(&weight)?)
}

/// transformers' `gelu_new`: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`, composed of ops
/// with exact gradients.
fn gelu_new(x: &Tensor) -> Result<Tensor, TrainError> {
    let cube = x.sqr()?.mul(x)?;
    let inner = ((x + (cube * 0.044715)?)? * (2.0f64 / std::f64::consts::PI).sqrt())?;
    Ok(((inner.tanh()? + 1.0)? * 0.5)?.mul(x)?)
}

/// Softmax over the last dimension, the maximum held constant (its gradient cancels).
fn softmax_last_dim(x: &Tensor) -> Result<Tensor, TrainError> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let exp = x.broadcast_sub(&max)?.exp()?;
    Ok(exp.broadcast_div(&exp.sum_keepdim(D::Minus1)?)?)
}

/// `log_softmax` over the last dimension, the maximum held constant.
fn log_softmax_last_dim(x: &Tensor) -> Result<Tensor, TrainError> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let shifted = x.broadcast_sub(&max)?;
    let log_sum = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(shifted.broadcast_sub(&log_sum)?)
}

/// (B, L, H·d_kv) → (B, H, L, d_kv).
fn heads(x: &Tensor, num_heads: usize) -> Result<Tensor, TrainError> {
    let (b, l, inner) = x.dims3()?;
    Ok(x.reshape((b, l, num_heads, inner / num_heads))?
        .transpose(1, 2)?
        .contiguous()?)
}

/// T5 attention of `queries` (B, Lq, d) over `keys_values` (B, Lk, d) with an additive bias
/// broadcastable to (B, H, Lq, Lk); no scaling.
fn attention(
    ctx: &mut ForwardContext,
    module: &str,
    queries: &Tensor,
    keys_values: &Tensor,
    bias: &Tensor,
) -> Result<Tensor, TrainError> {
    let h = ctx.store.config.mt5.num_heads;
    let q = heads(
        &linear(queries, &ctx.param(&format!("{module}.q.weight"))?)?,
        h,
    )?;
    let k = heads(
        &linear(keys_values, &ctx.param(&format!("{module}.k.weight"))?)?,
        h,
    )?;
    let v = heads(
        &linear(keys_values, &ctx.param(&format!("{module}.v.weight"))?)?,
        h,
    )?;
    let scores = q.matmul(&k.t()?)?.broadcast_add(bias)?;
    let weights = ctx.dropout(&softmax_last_dim(&scores)?)?;
    let (b, lq, _) = queries.dims3()?;
    let context =
        weights
            .matmul(&v)?
            .transpose(1, 2)?
            .reshape((b, lq, h * ctx.store.config.mt5.d_kv))?;
    linear(&context, &ctx.param(&format!("{module}.o.weight"))?)
}

/// `wo(dropout(gelu_new(wi_0 x) ⊙ wi_1 x))`.
fn feed_forward(ctx: &mut ForwardContext, x: &Tensor, module: &str) -> Result<Tensor, TrainError> {
    let gate = gelu_new(&linear(x, &ctx.param(&format!("{module}.wi_0.weight"))?)?)?;
    let hidden = gate.mul(&linear(x, &ctx.param(&format!("{module}.wi_1.weight"))?)?)?;
    let hidden = ctx.dropout(&hidden)?;
    linear(&hidden, &ctx.param(&format!("{module}.wo.weight"))?)
}

/// The relative position bias (1, H, Lq, Lk) of the table at `module`.
fn position_bias(
    ctx: &ForwardContext,
    module: &str,
    q_len: usize,
    k_len: usize,
    bidirectional: bool,
    device: &Device,
) -> Result<Tensor, TrainError> {
    let c = &ctx.store.config.mt5;
    let table = ctx.param(&format!("{module}.relative_attention_bias.weight"))?;
    let mut buckets = Vec::with_capacity(q_len * k_len);
    for q in 0..q_len {
        for k in 0..k_len {
            buckets.push(relative_position_bucket(
                k as i64 - q as i64,
                bidirectional,
                c.relative_attention_num_buckets,
                c.relative_attention_max_distance,
            ) as u32);
        }
    }
    let buckets = Tensor::from_vec(buckets, q_len * k_len, device)?;
    Ok(table
        .index_select(&buckets, 0)?
        .reshape((q_len, k_len, c.num_heads))?
        .permute((2, 0, 1))?
        .unsqueeze(0)?)
}

/// `(1 − mask) · f32::MIN` as (B, 1, 1, L).
fn padding_bias(mask: &Tensor) -> Result<Tensor, TrainError> {
    let inverted = mask.to_dtype(DType::F32)?.affine(-1.0, 1.0)?;
    Ok((inverted * f64::from(f32::MIN))?
        .unsqueeze(1)?
        .unsqueeze(1)?)
}

/// `f32::MIN` above the diagonal, as (1, 1, L, L).
fn causal_bias(len: usize, device: &Device) -> Result<Tensor, TrainError> {
    let values: Vec<f32> = (0..len)
        .flat_map(|q| (0..len).map(move |k| if k > q { f32::MIN } else { 0.0 }))
        .collect();
    Ok(Tensor::from_vec(values, (1, 1, len, len), device)?)
}

/// The encoder on `inputs_embeds` (B, L, d) under `attention_mask` (B, L).
pub fn encode(
    ctx: &mut ForwardContext,
    inputs_embeds: &Tensor,
    attention_mask: &Tensor,
) -> Result<Tensor, TrainError> {
    let (_, len, _) = inputs_embeds.dims3()?;
    let device = inputs_embeds.device().clone();
    let prefix = "mt5_model.encoder";
    let bias = position_bias(
        ctx,
        &format!("{prefix}.block.0.layer.0.SelfAttention"),
        len,
        len,
        true,
        &device,
    )?
    .broadcast_add(&padding_bias(attention_mask)?)?;
    let mut h = ctx.dropout(inputs_embeds)?;
    for i in 0..ctx.store.config.mt5.num_layers {
        let layer = format!("{prefix}.block.{i}.layer");
        let normed = rms_norm(ctx, &h, &format!("{layer}.0.layer_norm"))?;
        let attended = attention(
            ctx,
            &format!("{layer}.0.SelfAttention"),
            &normed,
            &normed,
            &bias,
        )?;
        h = (&h + ctx.dropout(&attended)?)?;
        let normed = rms_norm(ctx, &h, &format!("{layer}.1.layer_norm"))?;
        let ff = feed_forward(ctx, &normed, &format!("{layer}.1.DenseReluDense"))?;
        h = (&h + ctx.dropout(&ff)?)?;
    }
    let normed = rms_norm(ctx, &h, &format!("{prefix}.final_layer_norm"))?;
    ctx.dropout(&normed)
}

/// transformers' `_shift_right`: the start token (0) before the labels, ignored labels as pad.
pub fn decoder_input_ids(labels: &[Vec<i64>], start: u32, pad: u32) -> Vec<Vec<u32>> {
    labels
        .iter()
        .map(|row| {
            std::iter::once(start)
                .chain(
                    row.iter()
                        .take(row.len().saturating_sub(1))
                        .map(|&l| if l == IGNORE_LABEL { pad } else { l as u32 }),
                )
                .collect()
        })
        .collect()
}

/// The decoder with teacher forcing → logits (B, L_dec, vocab).
pub fn decode(
    ctx: &mut ForwardContext,
    encoder_hidden_states: &Tensor,
    attention_mask: &Tensor,
    labels: &[Vec<i64>],
) -> Result<Tensor, TrainError> {
    let device = encoder_hidden_states.device().clone();
    let c = ctx.store.config.mt5.clone();
    let ids = decoder_input_ids(labels, c.decoder_start_token_id, c.pad_token_id);
    let b = ids.len();
    let len = ids.first().map_or(0, Vec::len);
    if len == 0 || ids.iter().any(|r| r.len() != len) {
        return Err(TrainError::Input(
            "targets must be non-empty and padded to one length".into(),
        ));
    }
    if let Some(bad) = ids.iter().flatten().find(|&&i| i as usize >= c.vocab_size) {
        return Err(TrainError::Input(format!(
            "target token {bad} is outside the vocabulary of {}",
            c.vocab_size
        )));
    }
    let flat: Vec<u32> = ids.into_iter().flatten().collect();
    let flat = Tensor::from_vec(flat, b * len, &device)?;
    let shared = ctx.param("mt5_model.shared.weight")?;
    let embeds = shared
        .index_select(&flat, 0)?
        .reshape((b, len, c.d_model))?;
    let prefix = "mt5_model.decoder";
    let self_bias = position_bias(
        ctx,
        &format!("{prefix}.block.0.layer.0.SelfAttention"),
        len,
        len,
        false,
        &device,
    )?
    .broadcast_add(&causal_bias(len, &device)?)?;
    let cross_bias = padding_bias(attention_mask)?;
    let mut h = ctx.dropout(&embeds)?;
    for i in 0..c.decoder_layers() {
        let layer = format!("{prefix}.block.{i}.layer");
        let normed = rms_norm(ctx, &h, &format!("{layer}.0.layer_norm"))?;
        let attended = attention(
            ctx,
            &format!("{layer}.0.SelfAttention"),
            &normed,
            &normed,
            &self_bias,
        )?;
        h = (&h + ctx.dropout(&attended)?)?;
        let normed = rms_norm(ctx, &h, &format!("{layer}.1.layer_norm"))?;
        let attended = attention(
            ctx,
            &format!("{layer}.1.EncDecAttention"),
            &normed,
            encoder_hidden_states,
            &cross_bias,
        )?;
        h = (&h + ctx.dropout(&attended)?)?;
        let normed = rms_norm(ctx, &h, &format!("{layer}.2.layer_norm"))?;
        let ff = feed_forward(ctx, &normed, &format!("{layer}.2.DenseReluDense"))?;
        h = (&h + ctx.dropout(&ff)?)?;
    }
    let normed = rms_norm(ctx, &h, &format!("{prefix}.final_layer_norm"))?;
    let normed = ctx.dropout(&normed)?;
    // Untied embeddings: no d_model^-0.5 rescaling before lm_head.
    linear(&normed, &ctx.param("mt5_model.lm_head.weight")?)
}

/// `CrossEntropyLoss(label_smoothing, ignore_index=-100)` with mean reduction over the
/// counted positions: `(1 − ε)·nll + ε·mean_j(−log p_j)` per position.
pub fn label_smoothed_cross_entropy(
    logits: &Tensor,
    labels: &[Vec<i64>],
    smoothing: f64,
) -> Result<Tensor, TrainError> {
    let vocab = logits.dim(D::Minus1)?;
    let rows = logits.elem_count() / vocab.max(1);
    let flat_labels: Vec<i64> = labels.iter().flatten().copied().collect();
    if flat_labels.len() != rows {
        return Err(TrainError::Input(format!(
            "{} labels for {rows} logit rows",
            flat_labels.len()
        )));
    }
    let mut targets = Vec::with_capacity(rows);
    let mut weights = Vec::with_capacity(rows);
    for &l in &flat_labels {
        if l == IGNORE_LABEL {
            targets.push(0u32);
            weights.push(0f32);
        } else if l < 0 || l as usize >= vocab {
            return Err(TrainError::Input(format!(
                "label {l} is outside the vocabulary of {vocab}"
            )));
        } else {
            targets.push(l as u32);
            weights.push(1.0);
        }
    }
    let counted = weights.iter().filter(|&&w| w > 0.0).count();
    if counted == 0 {
        return Err(TrainError::Input("the batch has no target tokens".into()));
    }
    let device = logits.device();
    let log_probs = log_softmax_last_dim(&logits.reshape((rows, vocab))?)?;
    let targets = Tensor::from_vec(targets, (rows, 1), device)?;
    let weights = Tensor::from_vec(weights, (rows, 1), device)?;
    let nll = log_probs.gather(&targets, 1)?.neg()?;
    let smooth = (log_probs.sum_keepdim(1)?.neg()? / vocab as f64)?;
    let per_row = ((nll * (1.0 - smoothing))? + (smooth * smoothing)?)?;
    Ok((per_row.mul(&weights)?.sum_all()? / counted as f64)?)
}
