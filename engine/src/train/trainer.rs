//! The trainer: owns the parameters, the optimizer state and the generator; runs the official
//! training step (train-mode forward, label-smoothed loss, backward, gradient accumulation,
//! clipping, AdamW, cosine schedule).

use std::collections::BTreeMap;

use candle_core::Tensor;

use super::TrainError;
use super::batch::Batch;
use super::forward::{self, BatchNormUpdate, ForwardContext, Mode};
use super::optim::{self, AdamW, AdamWConfig};
use super::params::{ParamStore, Trainable};
use super::rng::SeededRng;
use super::seq2seq;

/// The training recipe (the official values by default; `total_steps` must be set).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// What trains.
    pub trainable: Trainable,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// AdamW hyper-parameters.
    pub adamw: AdamWConfig,
    /// Global gradient-norm limit.
    pub max_grad_norm: f64,
    /// Optimizer steps the cosine schedule spans.
    pub total_steps: usize,
    /// Linear warm-up steps (0 officially).
    pub warmup_steps: usize,
    /// Micro-batches per optimizer step.
    pub accumulation_steps: usize,
    /// Label smoothing of the cross-entropy.
    pub label_smoothing: f64,
    /// mT5 dropout rate (its config's `dropout_rate`, 0.1 for mT5-base).
    pub dropout: f32,
    /// Seed of the dropout masks and frame subsets.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            trainable: Trainable::Full,
            learning_rate: 3e-4,
            adamw: AdamWConfig::default(),
            max_grad_norm: 1.0,
            total_steps: 1,
            warmup_steps: 0,
            accumulation_steps: 1,
            label_smoothing: 0.2,
            dropout: 0.1,
            seed: 42,
        }
    }
}

/// What one micro-batch step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// The micro-batch's loss (before the accumulation scaling).
    pub loss: f32,
    /// The learning rate of the optimizer step this micro-batch belongs to.
    pub lr: f64,
    /// The gradient norm before clipping, when this micro-batch completed an optimizer step.
    pub grad_norm: Option<f32>,
    /// Optimizer steps taken so far.
    pub optimizer_steps: u64,
}

/// The outputs of one forward, for inspection.
#[derive(Debug)]
pub struct ForwardOutput {
    /// The scalar loss.
    pub loss: Tensor,
    /// The mT5 encoder input (B, P+T, d_model).
    pub inputs_embeds: Tensor,
    /// Its mask (B, P+T).
    pub attention_mask: Tensor,
    /// Logits (B, L_dec, vocab).
    pub logits: Tensor,
    /// The BatchNorm batch statistics, in forward order (empty in eval mode).
    pub batch_norm_updates: Vec<BatchNormUpdate>,
}

/// The training state.
#[derive(Debug)]
pub struct Trainer {
    /// The parameters and BatchNorm statistics.
    pub store: ParamStore,
    /// The recipe.
    pub config: TrainConfig,
    /// AdamW state.
    pub optimizer: AdamW,
    /// The generator of dropout masks (and of frame subsets, through [`Trainer::rng`]).
    pub rng: SeededRng,
    accumulated: BTreeMap<String, Tensor>,
    micro_steps: usize,
}

impl Trainer {
    /// A trainer over `store`; `config.trainable` decides which parameters train.
    pub fn new(mut store: ParamStore, config: TrainConfig) -> Result<Self, TrainError> {
        if config.accumulation_steps == 0 {
            return Err(TrainError::Input(
                "accumulation_steps must be positive".into(),
            ));
        }
        if config.total_steps == 0 {
            return Err(TrainError::Input("total_steps must be positive".into()));
        }
        if !(0.0..1.0).contains(&config.dropout) {
            return Err(TrainError::Input(format!(
                "dropout {} is outside [0, 1)",
                config.dropout
            )));
        }
        if !(0.0..1.0).contains(&config.label_smoothing) {
            return Err(TrainError::Input(format!(
                "label smoothing {} is outside [0, 1)",
                config.label_smoothing
            )));
        }
        store.set_trainable(config.trainable);
        Ok(Self {
            store,
            optimizer: AdamW::new(config.adamw.clone()),
            rng: SeededRng::new(config.seed),
            config,
            accumulated: BTreeMap::new(),
            micro_steps: 0,
        })
    }

    /// The learning rate of the next optimizer step.
    pub fn lr(&self) -> f64 {
        optim::cosine_lr(
            self.config.learning_rate,
            self.optimizer.steps as usize,
            self.config.warmup_steps,
            self.config.total_steps,
        )
    }

    /// The forward on `batch` without touching any state but the generator.
    pub fn forward(&mut self, batch: &Batch, mode: Mode) -> Result<ForwardOutput, TrainError> {
        let _span = tracing::debug_span!("train_forward", clips = batch.len()).entered();
        let mut ctx = ForwardContext::new(&self.store, mode, self.config.dropout, &mut self.rng);
        let pose = forward::pose_tokens(&mut ctx, &batch.parts)?;
        let (inputs_embeds, attention_mask) =
            forward::encoder_inputs(&ctx, &batch.prompt_ids, &pose, &batch.frame_mask)?;
        let encoded = seq2seq::encode(&mut ctx, &inputs_embeds, &attention_mask)?;
        let logits = seq2seq::decode(&mut ctx, &encoded, &attention_mask, &batch.labels)?;
        let loss = seq2seq::label_smoothed_cross_entropy(
            &logits,
            &batch.labels,
            self.config.label_smoothing,
        )?;
        Ok(ForwardOutput {
            loss,
            inputs_embeds,
            attention_mask,
            logits,
            batch_norm_updates: ctx.batch_norm_updates,
        })
    }

    /// The loss in eval mode (running statistics, no dropout); no state changes.
    pub fn evaluate_loss(&mut self, batch: &Batch) -> Result<f32, TrainError> {
        Ok(self.forward(batch, Mode::Eval)?.loss.to_scalar::<f32>()?)
    }

    /// Forward and backward of one micro-batch: adds its gradients (of the loss divided by
    /// the accumulation steps) to the accumulated ones and updates the BatchNorm running
    /// statistics. Returns the forward's outputs (the loss unscaled).
    pub fn accumulate(&mut self, batch: &Batch) -> Result<ForwardOutput, TrainError> {
        let out = self.forward(batch, Mode::Train)?;
        let scaled = if self.config.accumulation_steps > 1 {
            (&out.loss / self.config.accumulation_steps as f64)?
        } else {
            out.loss.clone()
        };
        let _span = tracing::debug_span!("train_backward").entered();
        let grads = scaled.backward()?;
        for (name, var) in self.store.trainable_params() {
            if let Some(grad) = grads.get(var.as_tensor()) {
                let sum = match self.accumulated.remove(name) {
                    Some(previous) => (previous + grad)?,
                    None => grad.clone(),
                };
                self.accumulated.insert(name.clone(), sum);
            }
        }
        for update in &out.batch_norm_updates {
            self.store
                .update_batch_norm(&update.module, &update.mean, &update.var_unbiased)?;
        }
        self.micro_steps += 1;
        Ok(out)
    }

    /// The accumulated gradients (before clipping) by parameter name.
    pub fn gradients(&self) -> &BTreeMap<String, Tensor> {
        &self.accumulated
    }

    /// Clips the accumulated gradients, takes one AdamW step at the scheduled learning rate
    /// and clears them. Returns the norm before clipping and the learning rate used.
    pub fn optimizer_step(&mut self) -> Result<(f32, f64), TrainError> {
        if self.accumulated.is_empty() {
            return Err(TrainError::Input("no gradients to apply".into()));
        }
        let _span = tracing::debug_span!("optimizer_step").entered();
        let lr = self.lr();
        let mut grads = std::mem::take(&mut self.accumulated);
        let norm = optim::clip_grad_norm(&mut grads, self.config.max_grad_norm)?;
        self.optimizer.step(&self.store, &grads, lr)?;
        self.micro_steps = 0;
        Ok((norm, lr))
    }

    /// One micro-batch; an optimizer step once `accumulation_steps` micro-batches are in.
    pub fn step(&mut self, batch: &Batch) -> Result<StepReport, TrainError> {
        let lr = self.lr();
        let loss = self.accumulate(batch)?.loss.to_scalar::<f32>()?;
        let grad_norm = if self.micro_steps >= self.config.accumulation_steps {
            Some(self.optimizer_step()?.0)
        } else {
            None
        };
        Ok(StepReport {
            loss,
            lr,
            grad_norm,
            optimizer_steps: self.optimizer.steps,
        })
    }

    /// Micro-batches accumulated towards the next optimizer step.
    pub fn pending_micro_steps(&self) -> usize {
        self.micro_steps
    }
}
