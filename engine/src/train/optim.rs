//! The official optimizer: timm's `create_optimizer` (AdamW; 1-D parameters and biases
//! without weight decay), global-norm gradient clipping as `torch.nn.utils.clip_grad_norm_`,
//! and transformers' cosine schedule. The arithmetic follows PyTorch's f32 kernels
//! operation by operation.

use std::collections::BTreeMap;

use candle_core::Tensor;

use super::TrainError;
use super::params::ParamStore;

/// AdamW hyper-parameters (the official values by default).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    /// Decoupled weight decay of the decaying group.
    pub weight_decay: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the denominator.
    pub eps: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            weight_decay: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-9,
        }
    }
}

/// Whether timm's `param_groups_weight_decay` decays this parameter: not 1-D tensors and not
/// biases.
pub fn decays(name: &str, shape: &[usize]) -> bool {
    !(shape.len() <= 1 || name.ends_with(".bias"))
}

/// One parameter's moments.
#[derive(Clone, Debug, PartialEq)]
pub struct Moments {
    /// First moment (`exp_avg`).
    pub exp_avg: Vec<f32>,
    /// Second moment (`exp_avg_sq`).
    pub exp_avg_sq: Vec<f32>,
}

/// AdamW as PyTorch's single-tensor implementation computes it.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamW {
    /// Hyper-parameters.
    pub config: AdamWConfig,
    /// Steps taken.
    pub steps: u64,
    /// Moments by parameter name.
    pub moments: BTreeMap<String, Moments>,
}

impl AdamW {
    /// A fresh optimizer.
    pub fn new(config: AdamWConfig) -> Self {
        Self {
            config,
            steps: 0,
            moments: BTreeMap::new(),
        }
    }

    /// One step at learning rate `lr` over the trainable parameters that have a gradient.
    pub fn step(
        &mut self,
        store: &ParamStore,
        grads: &BTreeMap<String, Tensor>,
        lr: f64,
    ) -> Result<(), TrainError> {
        self.steps += 1;
        let c = &self.config;
        let step = self.steps as f64;
        let bias_correction1 = 1.0 - c.beta1.powf(step);
        let bias_correction2 = 1.0 - c.beta2.powf(step);
        let step_size = lr / bias_correction1;
        let bias_correction2_sqrt = bias_correction2.sqrt() as f32;
        let neg_step_size = (-step_size) as f32;
        let eps = c.eps as f32;
        let one_minus_beta1 = (1.0 - c.beta1) as f32;
        let beta2 = c.beta2 as f32;
        let one_minus_beta2 = (1.0 - c.beta2) as f32;
        for (name, var) in store.trainable_params() {
            let Some(grad) = grads.get(name) else {
                continue;
            };
            let shape = var.dims().to_vec();
            let mut param = var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
            let grad = grad.flatten_all()?.to_vec1::<f32>()?;
            if grad.len() != param.len() {
                return Err(TrainError::Input(format!(
                    "gradient of `{name}` has {} values, the parameter {}",
                    grad.len(),
                    param.len()
                )));
            }
            let moments = self.moments.entry(name.clone()).or_insert_with(|| Moments {
                exp_avg: vec![0.0; param.len()],
                exp_avg_sq: vec![0.0; param.len()],
            });
            if decays(name, &shape) && c.weight_decay != 0.0 {
                let keep = (1.0 - lr * c.weight_decay) as f32;
                param.iter_mut().for_each(|p| *p *= keep);
            }
            for (((p, &g), m), v) in param
                .iter_mut()
                .zip(&grad)
                .zip(moments.exp_avg.iter_mut())
                .zip(moments.exp_avg_sq.iter_mut())
            {
                // exp_avg.lerp_(grad, 1 − β1) (weight < 0.5 branch).
                *m += one_minus_beta1 * (g - *m);
                // exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2).
                *v = *v * beta2 + one_minus_beta2 * g * g;
                let denom = v.sqrt() / bias_correction2_sqrt + eps;
                *p += neg_step_size * *m / denom;
            }
            var.set(&Tensor::from_vec(param, shape, var.device())?)?;
        }
        Ok(())
    }
}

/// `clip_grad_norm_(max_norm)`: scales every gradient by `max_norm / (‖g‖ + 1e-6)` when that
/// is below 1; returns the total norm before clipping.
pub fn clip_grad_norm(
    grads: &mut BTreeMap<String, Tensor>,
    max_norm: f64,
) -> Result<f32, TrainError> {
    let mut squares = 0f64;
    for grad in grads.values() {
        let values = grad.flatten_all()?.to_vec1::<f32>()?;
        let norm = values
            .iter()
            .map(|&g| f64::from(g) * f64::from(g))
            .sum::<f64>()
            .sqrt() as f32;
        squares += f64::from(norm) * f64::from(norm);
    }
    let total = squares.sqrt() as f32;
    let coef = (max_norm as f32) / (total + 1e-6);
    if coef < 1.0 {
        for grad in grads.values_mut() {
            *grad = (&*grad * f64::from(coef))?;
        }
    }
    Ok(total)
}

/// transformers' cosine schedule with linear warm-up: the learning rate of optimizer step
/// `step` (0-based) of `total_steps`, decaying to 0 (half a cosine cycle).
pub fn cosine_lr(base_lr: f64, step: usize, warmup_steps: usize, total_steps: usize) -> f64 {
    let factor = if step < warmup_steps {
        step as f64 / warmup_steps.max(1) as f64
    } else {
        let progress =
            (step - warmup_steps) as f64 / total_steps.saturating_sub(warmup_steps).max(1) as f64;
        (0.5 * (1.0 + (std::f64::consts::PI * 0.5 * 2.0 * progress).cos())).max(0.0)
    };
    base_lr * factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timm_groups_biases_and_vectors_without_decay() {
        assert!(decays("pose_proj.weight", &[768, 1024]));
        assert!(decays("gcn_modules.body.layer0_0.gcn.A", &[2, 9, 9]));
        assert!(!decays("part_para", &[1024]));
        assert!(!decays("gcn_modules.body.layer0_0.gcn.conv.bias", &[128]));
        assert!(!decays("mt5_model.encoder.final_layer_norm.weight", &[768]));
    }

    #[test]
    fn cosine_decays_to_zero_after_warmup() {
        assert_eq!(cosine_lr(1.0, 0, 0, 4), 1.0);
        assert!((cosine_lr(1.0, 2, 0, 4) - 0.5).abs() < 1e-12);
        assert_eq!(cosine_lr(1.0, 4, 0, 4), 0.0);
        assert_eq!(cosine_lr(1.0, 1, 2, 6), 0.5);
    }
}
