//! Training checkpoints: a folder with `model.safetensors` (the model under checkpoint keys,
//! readable by the inference loader), `optimizer.safetensors` (AdamW moments) and
//! `trainer.json` (recipe, step count, generator state). Every file is written atomically.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::TrainError;
use super::optim::Moments;
use super::params::{BatchNormStats, ParamStore, checkpoint_name};
use super::rng::SeededRng;
use super::trainer::{TrainConfig, Trainer};
use crate::model::config::UniSignConfig;

/// The model file of a training checkpoint.
pub const MODEL_FILE: &str = "model.safetensors";
/// The optimizer file.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
/// The trainer-state file.
pub const STATE_FILE: &str = "trainer.json";

/// What `trainer.json` holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct TrainerState {
    config: TrainConfig,
    optimizer_steps: u64,
    rng: SeededRng,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn write_tensors(path: &Path, tensors: &BTreeMap<String, Tensor>) -> Result<(), TrainError> {
    let bytes = safetensors::serialize(tensors.iter(), None)
        .map_err(|e| bad(path, format!("cannot serialise: {e}")))?;
    crate::fsutil::write_atomic(path, &bytes).map_err(io(path))
}

/// Saves `trainer` into the folder `dir` (created if needed). Refuses while gradients of an
/// unfinished accumulation are pending, since they are not saved.
pub fn save(trainer: &Trainer, dir: &Path) -> Result<(), TrainError> {
    if trainer.pending_micro_steps() > 0 {
        return Err(TrainError::Input(format!(
            "{} micro-batches of gradients are pending; save after the optimizer step",
            trainer.pending_micro_steps()
        )));
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    write_tensors(&dir.join(MODEL_FILE), &trainer.store.state_dict()?)?;
    let mut moments = BTreeMap::new();
    for (name, m) in &trainer.optimizer.moments {
        let n = m.exp_avg.len();
        moments.insert(
            format!("exp_avg.{name}"),
            Tensor::from_vec(m.exp_avg.clone(), n, &Device::Cpu)?,
        );
        moments.insert(
            format!("exp_avg_sq.{name}"),
            Tensor::from_vec(m.exp_avg_sq.clone(), n, &Device::Cpu)?,
        );
    }
    write_tensors(&dir.join(OPTIMIZER_FILE), &moments)?;
    let state = TrainerState {
        config: trainer.config.clone(),
        optimizer_steps: trainer.optimizer.steps,
        rng: trainer.rng.clone(),
    };
    let path = dir.join(STATE_FILE);
    let json = serde_json::to_vec_pretty(&state).map_err(|e| bad(&path, e.to_string()))?;
    crate::fsutil::write_atomic(&path, &json).map_err(io(&path))
}

/// Loads a trainer saved by [`save`] for the model `config`.
pub fn load(dir: &Path, config: &UniSignConfig) -> Result<Trainer, TrainError> {
    let state_path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&state_path).map_err(io(&state_path))?;
    let state: TrainerState =
        serde_json::from_str(&text).map_err(|e| bad(&state_path, e.to_string()))?;
    let model_path = dir.join(MODEL_FILE);
    let mut store = ParamStore::load(&model_path, config, state.config.trainable)?;
    // The inference loader drops the step counters; restore them from the file.
    let counters: HashMap<String, Tensor> =
        candle_core::safetensors::load(&model_path, &Device::Cpu)
            .map_err(|e| bad(&model_path, e.to_string()))?;
    let modules: Vec<String> = store.batch_norms().keys().cloned().collect();
    for module in modules {
        let key = format!("{}.num_batches_tracked", checkpoint_name(&module));
        let stats = store.batch_norm(&module)?.clone();
        let count = match counters.get(&key) {
            Some(t) => t.to_dtype(DType::I64)?.to_scalar::<i64>()?,
            None => return Err(bad(&model_path, format!("missing `{key}`"))),
        };
        store.set_batch_norm(
            &module,
            BatchNormStats {
                num_batches_tracked: count,
                ..stats
            },
        )?;
    }
    let mut trainer = Trainer::new(store, state.config)?;
    trainer.optimizer.steps = state.optimizer_steps;
    trainer.rng = state.rng;
    let optimizer_path = dir.join(OPTIMIZER_FILE);
    let tensors = candle_core::safetensors::load(&optimizer_path, &Device::Cpu)
        .map_err(|e| bad(&optimizer_path, e.to_string()))?;
    for (key, tensor) in &tensors {
        let Some(name) = key.strip_prefix("exp_avg.") else {
            continue;
        };
        let sq = tensors
            .get(&format!("exp_avg_sq.{name}"))
            .ok_or_else(|| bad(&optimizer_path, format!("`{key}` has no exp_avg_sq")))?;
        let param = trainer.store.params().get(name).ok_or_else(|| {
            bad(
                &optimizer_path,
                format!("moments of unknown parameter `{name}`"),
            )
        })?;
        let n = param.elem_count();
        let exp_avg = tensor.to_vec1::<f32>()?;
        let exp_avg_sq = sq.to_vec1::<f32>()?;
        if exp_avg.len() != n || exp_avg_sq.len() != n {
            return Err(bad(
                &optimizer_path,
                format!(
                    "moments of `{name}` have {} values, the parameter {n}",
                    exp_avg.len()
                ),
            ));
        }
        trainer.optimizer.moments.insert(
            name.to_owned(),
            Moments {
                exp_avg,
                exp_avg_sq,
            },
        );
    }
    Ok(trainer)
}
