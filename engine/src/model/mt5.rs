//! mT5 (T5 v1.1 layout: pre-norm RMSNorm blocks, relative position buckets, gated-GELU
//! feed-forward, untied `lm_head`) on candle, with an `inputs_embeds` encoder entry point,
//! an encoder padding mask, and a decoder with a self-attention KV cache and cross-attention
//! keys/values computed once per input. Parameter paths follow the checkpoint keys under
//! `mt5_model.`.

use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::kernels::{Isa, gated_gelu};
use super::linear::Linear;

use super::ModelError;
use super::config::Mt5Config;

/// T5's RMSNorm: no mean, no bias, variance in f32.
#[derive(Clone, Debug)]
struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn load(vb: &VarBuilder, d_model: usize, eps: f64) -> candle_core::Result<Self> {
        Ok(Self {
            weight: vb.get(d_model, "weight")?.to_dtype(DType::F32)?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x32 = x.to_dtype(DType::F32)?;
        let variance = x32.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = x32.broadcast_div(&(variance + self.eps)?.sqrt()?)?;
        normed.broadcast_mul(&self.weight)
    }
}

fn linear(vb: &VarBuilder, d_in: usize, d_out: usize, name: &str) -> candle_core::Result<Linear> {
    Linear::new(vb.get((d_out, d_in), name)?)
}

/// `wo(gelu_new(wi_0 x) ⊙ wi_1 x)`.
#[derive(Clone, Debug)]
struct GatedFeedForward {
    wi_0: Linear,
    wi_1: Linear,
    wo: Linear,
}

impl GatedFeedForward {
    fn load(vb: &VarBuilder, c: &Mt5Config) -> candle_core::Result<Self> {
        Ok(Self {
            wi_0: linear(vb, c.d_model, c.d_ff, "wi_0.weight")?,
            wi_1: linear(vb, c.d_model, c.d_ff, "wi_1.weight")?,
            wo: linear(vb, c.d_ff, c.d_model, "wo.weight")?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        // transformers' `gelu_new` (the tanh approximation), fused with the product and run
        // in parallel: candle's `gelu` is one thread of scalar tanh, a large share of the
        // encoder's time.
        let gate = self.wi_0.forward(x)?;
        let up = self.wi_1.forward(x)?;
        let shape = gate.shape().clone();
        let gate = gate.flatten_all()?.to_vec1::<f32>()?;
        let up = up.flatten_all()?.to_vec1::<f32>()?;
        let mut hidden = vec![0f32; gate.len()];
        gated_gelu(Isa::selected(), &gate, &up, &mut hidden);
        self.wo
            .forward(&Tensor::from_vec(hidden, shape, x.device())?)
    }
}

/// The bucket of a relative position `key − query`, as transformers' T5 computes it
/// (the log-spaced part in f32).
pub fn relative_position_bucket(
    relative_position: i64,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> usize {
    let mut buckets = num_buckets as i64;
    let mut bucket = 0i64;
    let distance = if bidirectional {
        buckets /= 2;
        if relative_position > 0 {
            bucket += buckets;
        }
        relative_position.abs()
    } else {
        -relative_position.min(0)
    };
    let max_exact = buckets / 2;
    if distance < max_exact {
        bucket += distance;
    } else {
        let ratio = (distance as f32 / max_exact as f32).ln()
            / ((max_distance as f64) / (max_exact as f64)).ln() as f32;
        let large = max_exact + (ratio * (buckets - max_exact) as f32) as i64;
        bucket += large.min(buckets - 1);
    }
    bucket as usize
}

/// Multi-head attention without scaling (T5), optionally owning the relative position bias.
#[derive(Clone, Debug)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    relative_attention_bias: Option<Tensor>,
    num_heads: usize,
    d_kv: usize,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
}

impl Attention {
    fn load(
        vb: &VarBuilder,
        c: &Mt5Config,
        has_relative_bias: bool,
        bidirectional: bool,
    ) -> candle_core::Result<Self> {
        let inner = c.inner_dim();
        let relative_attention_bias = if has_relative_bias {
            Some(vb.get(
                (c.relative_attention_num_buckets, c.num_heads),
                "relative_attention_bias.weight",
            )?)
        } else {
            None
        };
        Ok(Self {
            q: linear(vb, c.d_model, inner, "q.weight")?,
            k: linear(vb, c.d_model, inner, "k.weight")?,
            v: linear(vb, c.d_model, inner, "v.weight")?,
            o: linear(vb, inner, c.d_model, "o.weight")?,
            relative_attention_bias,
            num_heads: c.num_heads,
            d_kv: c.d_kv,
            bidirectional,
            num_buckets: c.relative_attention_num_buckets,
            max_distance: c.relative_attention_max_distance,
        })
    }

    /// Position bias (1, H, q_len, k_len) for queries at `query_start..query_start+q_len`
    /// against keys `0..k_len`.
    fn position_bias(
        &self,
        query_start: usize,
        q_len: usize,
        k_len: usize,
        device: &Device,
    ) -> candle_core::Result<Option<Tensor>> {
        let Some(table) = &self.relative_attention_bias else {
            return Ok(None);
        };
        let mut buckets = Vec::with_capacity(q_len * k_len);
        for q in query_start..query_start + q_len {
            for k in 0..k_len {
                buckets.push(relative_position_bucket(
                    k as i64 - q as i64,
                    self.bidirectional,
                    self.num_buckets,
                    self.max_distance,
                ) as u32);
            }
        }
        let buckets = Tensor::from_vec(buckets, q_len * k_len, device)?;
        let bias = table
            .index_select(&buckets, 0)?
            .reshape((q_len, k_len, self.num_heads))?
            .permute((2, 0, 1))?
            .unsqueeze(0)?
            .to_dtype(DType::F32)?;
        Ok(Some(bias))
    }

    /// (B, L, d_model) → (B, H, L, d_kv).
    fn heads(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, l, _) = x.dims3()?;
        x.reshape((b, l, self.num_heads, self.d_kv))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// Attention of `query_states` (B, Lq, d) over prepared keys and values (B or 1, H, Lk,
    /// d_kv), with an additive bias broadcastable to (B, H, Lq, Lk).
    fn attend(
        &self,
        query_states: &Tensor,
        keys: &Tensor,
        values: &Tensor,
        bias: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let (b, lq, _) = query_states.dims3()?;
        let q = self.heads(&self.q.forward(query_states)?)?;
        let scores = q
            .broadcast_matmul(&keys.t()?)?
            .to_dtype(DType::F32)?
            .broadcast_add(bias)?;
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = weights
            .broadcast_matmul(values)?
            .transpose(1, 2)?
            .reshape((b, lq, self.num_heads * self.d_kv))?;
        self.o.forward(&context)
    }
}

impl Attention {
    /// Attention of N hypotheses' queries (N, Lq, d) over keys and values that all share
    /// (1, H, Lk, d_kv), with an additive bias broadcastable to (1, H, 1, Lk): the hypotheses
    /// become query rows of one product, so the keys and values are read once per step and
    /// never copied per hypothesis.
    fn attend_shared(
        &self,
        query_states: &Tensor,
        keys: &Tensor,
        values: &Tensor,
        bias: &Tensor,
    ) -> candle_core::Result<Tensor> {
        let (n, lq, _) = query_states.dims3()?;
        let q = self
            .q
            .forward(query_states)?
            .reshape((1, n * lq, self.num_heads, self.d_kv))?
            .transpose(1, 2)?
            .contiguous()?;
        let scores = q.matmul(&keys.t()?)?.broadcast_add(bias)?;
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let context = weights.matmul(values)?.transpose(1, 2)?.reshape((
            n,
            lq,
            self.num_heads * self.d_kv,
        ))?;
        self.o.forward(&context)
    }
}

/// One layer's self-attention keys and values (N, H, capacity, d_kv), the first `len`
/// positions filled: a step writes its position in place instead of concatenating. Not
/// `Clone`: a clone would share the storage that `append` writes in place.
#[derive(Debug)]
struct SelfAttentionCache {
    keys: Tensor,
    values: Tensor,
    len: usize,
}

/// Positions a new self-attention cache holds before it grows (doubling).
const SELF_CACHE_INITIAL_CAPACITY: usize = 32;

impl SelfAttentionCache {
    /// Appends one position (N, H, 1, d_kv) and returns the filled keys and values.
    fn append(
        entry: &mut Option<Self>,
        new_keys: &Tensor,
        new_values: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor)> {
        let cache = match entry {
            Some(cache) => cache,
            None => {
                let (n, h, _, d) = new_keys.dims4()?;
                let shape = (n, h, SELF_CACHE_INITIAL_CAPACITY, d);
                let zeros = Tensor::zeros(shape, DType::F32, new_keys.device())?;
                entry.insert(Self {
                    keys: zeros.clone(),
                    values: zeros.copy()?,
                    len: 0,
                })
            }
        };
        let capacity = cache.keys.dim(2)?;
        if cache.len == capacity {
            let more = cache.keys.zeros_like()?;
            cache.keys = Tensor::cat(&[&cache.keys, &more], 2)?;
            cache.values = Tensor::cat(&[&cache.values, &more], 2)?;
        }
        cache
            .keys
            .slice_set(&new_keys.contiguous()?, 2, cache.len)?;
        cache
            .values
            .slice_set(&new_values.contiguous()?, 2, cache.len)?;
        cache.len += 1;
        Ok((
            cache.keys.narrow(2, 0, cache.len)?,
            cache.values.narrow(2, 0, cache.len)?,
        ))
    }
}

/// `(1 − mask) · f32::MIN` as (B, 1, 1, L), the additive padding mask transformers uses.
fn additive_mask(mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?;
    let inverted = mask.affine(-1.0, 1.0)?;
    (inverted * f64::from(f32::MIN))?.unsqueeze(1)?.unsqueeze(1)
}

#[derive(Clone, Debug)]
struct EncoderBlock {
    self_attention: Attention,
    self_attention_norm: RmsNorm,
    feed_forward: GatedFeedForward,
    feed_forward_norm: RmsNorm,
}

#[derive(Clone, Debug)]
struct DecoderBlock {
    self_attention: Attention,
    self_attention_norm: RmsNorm,
    cross_attention: Attention,
    cross_attention_norm: RmsNorm,
    feed_forward: GatedFeedForward,
    feed_forward_norm: RmsNorm,
}

/// mT5 for conditional generation, weights under `mt5_model.`.
#[derive(Clone, Debug)]
pub struct Mt5 {
    config: Mt5Config,
    shared: Tensor,
    encoder_blocks: Vec<EncoderBlock>,
    encoder_final_layer_norm: RmsNorm,
    decoder_blocks: Vec<DecoderBlock>,
    decoder_final_layer_norm: RmsNorm,
    lm_head: Linear,
    device: Device,
}

impl Mt5 {
    /// Builds the model from `vb` positioned at `mt5_model`.
    pub fn load(vb: &VarBuilder, config: &Mt5Config) -> Result<Self, ModelError> {
        let c = config;
        let eps = c.layer_norm_epsilon;
        let mut encoder_blocks = Vec::with_capacity(c.num_layers);
        for i in 0..c.num_layers {
            let layer = vb.pp(format!("encoder.block.{i}.layer"));
            encoder_blocks.push(EncoderBlock {
                self_attention: Attention::load(&layer.pp("0.SelfAttention"), c, i == 0, true)?,
                self_attention_norm: RmsNorm::load(&layer.pp("0.layer_norm"), c.d_model, eps)?,
                feed_forward: GatedFeedForward::load(&layer.pp("1.DenseReluDense"), c)?,
                feed_forward_norm: RmsNorm::load(&layer.pp("1.layer_norm"), c.d_model, eps)?,
            });
        }
        let mut decoder_blocks = Vec::with_capacity(c.decoder_layers());
        for i in 0..c.decoder_layers() {
            let layer = vb.pp(format!("decoder.block.{i}.layer"));
            decoder_blocks.push(DecoderBlock {
                self_attention: Attention::load(&layer.pp("0.SelfAttention"), c, i == 0, false)?,
                self_attention_norm: RmsNorm::load(&layer.pp("0.layer_norm"), c.d_model, eps)?,
                cross_attention: Attention::load(&layer.pp("1.EncDecAttention"), c, false, false)?,
                cross_attention_norm: RmsNorm::load(&layer.pp("1.layer_norm"), c.d_model, eps)?,
                feed_forward: GatedFeedForward::load(&layer.pp("2.DenseReluDense"), c)?,
                feed_forward_norm: RmsNorm::load(&layer.pp("2.layer_norm"), c.d_model, eps)?,
            });
        }
        Ok(Self {
            config: config.clone(),
            shared: vb.get((c.vocab_size, c.d_model), "shared.weight")?,
            encoder_blocks,
            encoder_final_layer_norm: RmsNorm::load(
                &vb.pp("encoder.final_layer_norm"),
                c.d_model,
                eps,
            )?,
            decoder_blocks,
            decoder_final_layer_norm: RmsNorm::load(
                &vb.pp("decoder.final_layer_norm"),
                c.d_model,
                eps,
            )?,
            lm_head: linear(vb, c.d_model, c.vocab_size, "lm_head.weight")?,
            device: vb.device().clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Mt5Config {
        &self.config
    }

    /// Rows of `shared` for `ids` (unscaled), as (1, len, d_model) f32.
    pub fn embed(&self, ids: &[u32]) -> Result<Tensor, ModelError> {
        if let Some(bad) = ids.iter().find(|&&i| i as usize >= self.config.vocab_size) {
            return Err(ModelError::Input(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.config.vocab_size
            )));
        }
        let ids = Tensor::new(ids, &self.device)?;
        Ok(self
            .shared
            .index_select(&ids, 0)?
            .to_dtype(DType::F32)?
            .unsqueeze(0)?)
    }

    /// The encoder on `inputs_embeds` (B, L, d_model) with `attention_mask` (B, L) of 0/1;
    /// returns `encoder_last_hidden_state` (B, L, d_model) f32.
    pub fn encode(
        &self,
        inputs_embeds: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Tensor, ModelError> {
        let (_, len, _) = inputs_embeds.dims3()?;
        let first = self
            .encoder_blocks
            .first()
            .ok_or_else(|| ModelError::Input("the encoder has no blocks".into()))?;
        let mut bias = additive_mask(attention_mask)?;
        if let Some(position) = first
            .self_attention
            .position_bias(0, len, len, &self.device)?
        {
            bias = bias.broadcast_add(&position)?;
        }
        let mut h = inputs_embeds.to_dtype(DType::F32)?;
        for block in &self.encoder_blocks {
            let attn = &block.self_attention;
            let normed = block.self_attention_norm.forward(&h)?;
            let keys = attn.heads(&attn.k.forward(&normed)?)?;
            let values = attn.heads(&attn.v.forward(&normed)?)?;
            h = (&h + attn.attend(&normed, &keys, &values, &bias)?)?;
            let normed = block.feed_forward_norm.forward(&h)?;
            h = (&h + block.feed_forward.forward(&normed)?)?;
        }
        Ok(self.encoder_final_layer_norm.forward(&h)?)
    }

    /// Starts decoding against `encoder_hidden_states` (1, L, d_model): computes every
    /// layer's cross-attention keys and values once.
    pub fn start_decoding(
        &self,
        encoder_hidden_states: &Tensor,
        attention_mask: &Tensor,
    ) -> Result<Mt5Decoder<'_>, ModelError> {
        let mut cross = Vec::with_capacity(self.decoder_blocks.len());
        for block in &self.decoder_blocks {
            let attn = &block.cross_attention;
            cross.push((
                attn.heads(&attn.k.forward(encoder_hidden_states)?)?,
                attn.heads(&attn.v.forward(encoder_hidden_states)?)?,
            ));
        }
        Ok(Mt5Decoder {
            model: self,
            cross,
            cross_bias: additive_mask(attention_mask)?,
            self_cache: self.decoder_blocks.iter().map(|_| None).collect(),
            position: 0,
        })
    }
}

/// An incremental decoder over one encoded input; hypotheses form the batch.
pub struct Mt5Decoder<'a> {
    model: &'a Mt5,
    /// Per layer, cross-attention keys and values (1, H, L_enc, d_kv), shared by hypotheses.
    cross: Vec<(Tensor, Tensor)>,
    /// Additive encoder padding mask (1, 1, 1, L_enc).
    cross_bias: Tensor,
    /// Per layer, self-attention keys and values so far.
    self_cache: Vec<Option<SelfAttentionCache>>,
    /// Tokens consumed per hypothesis so far.
    position: usize,
}

impl Mt5Decoder<'_> {
    /// Feeds one token per hypothesis; returns logits (N, vocab) f32.
    pub fn step_tensor(&mut self, tokens: &[u32]) -> Result<Tensor, ModelError> {
        let model = self.model;
        let n = tokens.len();
        if let Some(Some(cache)) = self.self_cache.first()
            && cache.keys.dim(0)? != n
        {
            return Err(ModelError::Input(format!(
                "decoder step got {n} tokens for {} cached hypotheses",
                cache.keys.dim(0)?
            )));
        }
        if let Some(bad) = tokens
            .iter()
            .find(|&&i| i as usize >= model.config.vocab_size)
        {
            return Err(ModelError::Input(format!(
                "token id {bad} is outside the vocabulary of {}",
                model.config.vocab_size
            )));
        }
        let ids = Tensor::new(tokens, &model.device)?;
        let mut h = model
            .shared
            .index_select(&ids, 0)?
            .to_dtype(DType::F32)?
            .unsqueeze(1)?;
        let position = self.position;
        let self_bias = match model.decoder_blocks.first() {
            Some(first) => {
                first
                    .self_attention
                    .position_bias(position, 1, position + 1, &model.device)?
            }
            None => None,
        };
        let self_bias = match self_bias {
            Some(b) => b,
            None => Tensor::zeros((1, 1, 1, 1), DType::F32, &model.device)?,
        };
        for (i, block) in model.decoder_blocks.iter().enumerate() {
            let attn = &block.self_attention;
            let normed = block.self_attention_norm.forward(&h)?;
            let new_k = attn.heads(&attn.k.forward(&normed)?)?;
            let new_v = attn.heads(&attn.v.forward(&normed)?)?;
            let (keys, values) =
                SelfAttentionCache::append(&mut self.self_cache[i], &new_k, &new_v)?;
            h = (&h + attn.attend(&normed, &keys, &values, &self_bias)?)?;

            let normed = block.cross_attention_norm.forward(&h)?;
            let (ck, cv) = &self.cross[i];
            h = (&h
                + block
                    .cross_attention
                    .attend_shared(&normed, ck, cv, &self.cross_bias)?)?;

            let normed = block.feed_forward_norm.forward(&h)?;
            h = (&h + block.feed_forward.forward(&normed)?)?;
        }
        self.position += 1;
        let h = model.decoder_final_layer_norm.forward(&h)?;
        // Untied embeddings: no d_model^-0.5 rescaling before lm_head.
        let logits = model
            .lm_head
            .forward(&h)?
            .squeeze(1)?
            .to_dtype(DType::F32)?;
        Ok(logits)
    }

    /// New hypothesis `i` continues old hypothesis `parents[i]`; the hypothesis count may
    /// change. Copies the caches only when the order changes.
    pub fn reorder_cache(&mut self, parents: &[usize]) -> Result<(), ModelError> {
        let Some(Some(first)) = self.self_cache.first() else {
            return Ok(());
        };
        let n = first.keys.dim(0)?;
        if let Some(bad) = parents.iter().find(|&&p| p >= n) {
            return Err(ModelError::Input(format!(
                "reorder parent {bad} out of range for {n} hypotheses"
            )));
        }
        if parents.len() == n && parents.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(());
        }
        let index: Vec<u32> = parents.iter().map(|&p| p as u32).collect();
        let index = Tensor::new(index.as_slice(), &self.model.device)?;
        for cache in self.self_cache.iter_mut().flatten() {
            cache.keys = cache.keys.index_select(&index, 0)?;
            cache.values = cache.values.index_select(&index, 0)?;
        }
        Ok(())
    }

    /// Tokens consumed per hypothesis so far.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl crate::decode::StepDecoder for Mt5Decoder<'_> {
    type Error = ModelError;

    fn vocab_size(&self) -> usize {
        self.model.config.vocab_size
    }

    fn step(&mut self, tokens: &[u32]) -> Result<Vec<f32>, ModelError> {
        let logits = self.step_tensor(tokens)?;
        Ok(logits.flatten_all()?.to_vec1::<f32>()?)
    }

    fn reorder(&mut self, parents: &[usize]) -> Result<(), ModelError> {
        self.reorder_cache(parents)
    }
}

#[cfg(test)]
mod tests {
    use super::relative_position_bucket;

    #[test]
    fn buckets_match_the_t5_scheme() {
        // Bidirectional, 32 buckets: 16 per direction, exact below 8.
        assert_eq!(relative_position_bucket(0, true, 32, 128), 0);
        assert_eq!(relative_position_bucket(-7, true, 32, 128), 7);
        assert_eq!(relative_position_bucket(7, true, 32, 128), 23);
        assert_eq!(relative_position_bucket(-1000, true, 32, 128), 15);
        assert_eq!(relative_position_bucket(1000, true, 32, 128), 31);
        // Causal: future keys share bucket 0; exact below 16.
        assert_eq!(relative_position_bucket(5, false, 32, 128), 0);
        assert_eq!(relative_position_bucket(-15, false, 32, 128), 15);
        assert_eq!(relative_position_bucket(-1000, false, 32, 128), 31);
    }
}
