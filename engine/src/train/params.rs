//! The model's parameters as candle `Var`s under the official `named_parameters()` names, and
//! the BatchNorm running statistics.
//!
//! The hands share one set of modules; as in the official model they are named after `left`
//! (the first registration), and [`ParamStore::state_dict`] writes them under `right` as the
//! inference loader expects. `mt5_model.shared.weight` serves both `embed_tokens`.

use std::collections::{BTreeMap, HashMap};

use candle_core::{DType, Tensor, Var};

use super::TrainError;
use crate::model::config::UniSignConfig;
use crate::model::{Weights, load_weights};

/// Which parameters train.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trainable {
    /// Everything (the official choice).
    #[default]
    Full,
    /// The pose encoder only; mT5 stays frozen (affordable on a laptop).
    PoseEncoder,
}

impl Trainable {
    /// Whether the parameter `name` trains under this choice.
    pub fn includes(self, name: &str) -> bool {
        match self {
            Trainable::Full => true,
            Trainable::PoseEncoder => !name.starts_with("mt5_model."),
        }
    }
}

/// One BatchNorm's running statistics.
#[derive(Clone, Debug)]
pub struct BatchNormStats {
    /// Running mean (C) f32.
    pub running_mean: Tensor,
    /// Running (unbiased) variance (C) f32.
    pub running_var: Tensor,
    /// Batches seen (PyTorch's `num_batches_tracked`).
    pub num_batches_tracked: i64,
}

/// The momentum of PyTorch's BatchNorm running statistics.
pub const BATCH_NORM_MOMENTUM: f64 = 0.1;

/// Module prefixes whose `right` modules the `left` hand shares.
const HAND_MODULES: [&str; 3] = ["proj_linear", "gcn_modules", "fusion_gcn_modules"];

/// The training name of a checkpoint key: shared hand modules under `left`.
fn training_name(key: &str) -> String {
    for prefix in HAND_MODULES {
        if let Some(rest) = key.strip_prefix(&format!("{prefix}.right.")) {
            return format!("{prefix}.left.{rest}");
        }
    }
    key.to_owned()
}

/// The checkpoint key of a training name: shared hand modules under `right`.
pub(crate) fn checkpoint_name(name: &str) -> String {
    for prefix in HAND_MODULES {
        if let Some(rest) = name.strip_prefix(&format!("{prefix}.left.")) {
            return format!("{prefix}.right.{rest}");
        }
    }
    name.to_owned()
}

/// Parameters (f32 master weights) and BatchNorm statistics.
#[derive(Debug)]
pub struct ParamStore {
    params: BTreeMap<String, Var>,
    batch_norm: BTreeMap<String, BatchNormStats>,
    trainable: Trainable,
    /// The model configuration.
    pub config: UniSignConfig,
}

impl ParamStore {
    /// Loads a checkpoint (`.pth` or safetensors) for training.
    pub fn load(
        path: &std::path::Path,
        config: &UniSignConfig,
        trainable: Trainable,
    ) -> Result<Self, TrainError> {
        let weights = load_weights(path, config)?;
        Self::from_weights(&weights, config, trainable)
    }

    /// Builds the store from checked checkpoint weights (widened to f32).
    pub fn from_weights(
        weights: &Weights,
        config: &UniSignConfig,
        trainable: Trainable,
    ) -> Result<Self, TrainError> {
        let mut params = BTreeMap::new();
        let mut means = HashMap::new();
        let mut vars = HashMap::new();
        for (key, tensor) in &weights.tensors {
            let tensor = tensor.to_dtype(DType::F32)?;
            let name = training_name(key);
            if let Some(module) = name.strip_suffix(".running_mean") {
                means.insert(module.to_owned(), tensor);
            } else if let Some(module) = name.strip_suffix(".running_var") {
                vars.insert(module.to_owned(), tensor);
            } else {
                params.insert(name, Var::from_tensor(&tensor)?);
            }
        }
        let mut batch_norm = BTreeMap::new();
        for (module, running_mean) in means {
            let running_var = vars.remove(&module).ok_or_else(|| TrainError::Checkpoint {
                path: weights.path.clone(),
                reason: format!("`{module}` has a running_mean but no running_var"),
            })?;
            batch_norm.insert(
                module,
                BatchNormStats {
                    running_mean,
                    running_var,
                    num_batches_tracked: 0,
                },
            );
        }
        Ok(Self {
            params,
            batch_norm,
            trainable,
            config: config.clone(),
        })
    }

    /// The parameter `name` for the forward: tracked by autograd when it trains, a constant
    /// otherwise.
    pub fn get(&self, name: &str) -> Result<Tensor, TrainError> {
        let var = self
            .params
            .get(name)
            .ok_or_else(|| TrainError::Input(format!("no parameter `{name}`")))?;
        Ok(if self.trainable.includes(name) {
            var.as_tensor().clone()
        } else {
            var.as_tensor().detach()
        })
    }

    /// Every parameter by training name.
    pub fn params(&self) -> &BTreeMap<String, Var> {
        &self.params
    }

    /// The parameters that train, by name.
    pub fn trainable_params(&self) -> impl Iterator<Item = (&String, &Var)> {
        self.params
            .iter()
            .filter(|(name, _)| self.trainable.includes(name))
    }

    /// Which parameters train.
    pub fn trainable(&self) -> Trainable {
        self.trainable
    }

    /// Changes which parameters train.
    pub fn set_trainable(&mut self, trainable: Trainable) {
        self.trainable = trainable;
    }

    /// The running statistics of the BatchNorm at `module` (e.g. `gcn_modules.left.layer0_0.gcn.bn`).
    pub fn batch_norm(&self, module: &str) -> Result<&BatchNormStats, TrainError> {
        self.batch_norm
            .get(module)
            .ok_or_else(|| TrainError::Input(format!("no BatchNorm `{module}`")))
    }

    /// Every BatchNorm's statistics by module (hands under `left`).
    pub fn batch_norms(&self) -> &BTreeMap<String, BatchNormStats> {
        &self.batch_norm
    }

    /// Folds one batch's statistics into the running ones, as PyTorch does (f64 arithmetic,
    /// unbiased variance).
    pub fn update_batch_norm(
        &mut self,
        module: &str,
        batch_mean: &[f64],
        batch_var_unbiased: &[f64],
    ) -> Result<(), TrainError> {
        let stats = self
            .batch_norm
            .get_mut(module)
            .ok_or_else(|| TrainError::Input(format!("no BatchNorm `{module}`")))?;
        let m = BATCH_NORM_MOMENTUM;
        let blend = |running: &Tensor, batch: &[f64]| -> Result<Tensor, TrainError> {
            let old = running.to_vec1::<f32>()?;
            if old.len() != batch.len() {
                return Err(TrainError::Input(format!(
                    "BatchNorm `{module}` has {} channels, the batch {}",
                    old.len(),
                    batch.len()
                )));
            }
            let new: Vec<f32> = old
                .iter()
                .zip(batch)
                .map(|(&r, &b)| (m * b + (1.0 - m) * f64::from(r)) as f32)
                .collect();
            Ok(Tensor::from_vec(new, old.len(), running.device())?)
        };
        stats.running_mean = blend(&stats.running_mean, batch_mean)?;
        stats.running_var = blend(&stats.running_var, batch_var_unbiased)?;
        stats.num_batches_tracked += 1;
        Ok(())
    }

    /// Replaces a BatchNorm's statistics (loading a training checkpoint).
    pub fn set_batch_norm(
        &mut self,
        module: &str,
        stats: BatchNormStats,
    ) -> Result<(), TrainError> {
        match self.batch_norm.get_mut(module) {
            Some(slot) => {
                *slot = stats;
                Ok(())
            }
            None => Err(TrainError::Input(format!("no BatchNorm `{module}`"))),
        }
    }

    /// The model as checkpoint keys (hands under `right`, BatchNorm statistics and step
    /// counters included), readable by [`crate::model::load_weights`].
    pub fn state_dict(&self) -> Result<BTreeMap<String, Tensor>, TrainError> {
        let mut out = BTreeMap::new();
        for (name, var) in &self.params {
            out.insert(checkpoint_name(name), var.as_tensor().detach().copy()?);
        }
        for (module, stats) in &self.batch_norm {
            let key = checkpoint_name(module);
            out.insert(format!("{key}.running_mean"), stats.running_mean.copy()?);
            out.insert(format!("{key}.running_var"), stats.running_var.copy()?);
            out.insert(
                format!("{key}.num_batches_tracked"),
                Tensor::new(stats.num_batches_tracked, stats.running_mean.device())?,
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_modules_are_named_after_left_in_training_and_right_in_checkpoints() {
        let key = "gcn_modules.right.layer0_0.gcn.A";
        assert_eq!(training_name(key), "gcn_modules.left.layer0_0.gcn.A");
        assert_eq!(checkpoint_name(&training_name(key)), key);
        assert_eq!(training_name("pose_proj.weight"), "pose_proj.weight");
        assert!(Trainable::PoseEncoder.includes("part_para"));
        assert!(!Trainable::PoseEncoder.includes("mt5_model.lm_head.weight"));
    }
}
