//! ONNX Runtime for the pose backends: finding and loading the shared library, and model sessions
//! whose errors name the model file.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, TensorRef};

use super::{PoseConfig, PoseError};

/// File name of the ONNX Runtime library the project ships beside the executable.
const LIBRARY_FILE: &str = "libonnxruntime.so.1.31.1";

/// Where the ONNX Runtime library is: `config.ort_library`, else `$ORT_DYLIB_PATH`, else
/// `third_party/onnxruntime/` beside the executable (or a parent of it), else in the repository.
pub fn ort_library_path(config: &PoseConfig) -> Result<PathBuf, PoseError> {
    if let Some(path) = &config.ort_library {
        return existing_library(path);
    }
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return existing_library(Path::new(&path));
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        candidates.extend(
            exe.ancestors()
                .skip(1)
                .map(|dir| dir.join("third_party/onnxruntime").join(LIBRARY_FILE)),
        );
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../third_party/onnxruntime")
            .join(LIBRARY_FILE),
    );
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| {
            PoseError::Runtime(format!(
                "library {LIBRARY_FILE} not found (set ORT_DYLIB_PATH or [pose] ort_library; \
                 looked in third_party/onnxruntime/ beside the executable and the repository)"
            ))
        })
}

fn existing_library(path: &Path) -> Result<PathBuf, PoseError> {
    if path.is_file() {
        Ok(path.to_path_buf())
    } else {
        Err(PoseError::Runtime(format!(
            "library {} does not exist",
            path.display()
        )))
    }
}

/// The process's ONNX Runtime environment: `ort` allows one per process, ever, so it is built on
/// first use and kept.
static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// Loads the ONNX Runtime library and builds the environment on first use; later calls share it
/// (the library first loaded stays loaded). Every pose backend gets its environment here.
pub fn ort_environment(config: &PoseConfig) -> Result<Environment, PoseError> {
    // A configured library that is missing is an error even when one is loaded already.
    let library = ort_library_path(config)?;
    let mut shared = ENVIRONMENT
        .lock()
        .map_err(|_| PoseError::Runtime("the ONNX Runtime environment lock is poisoned".into()))?;
    if let Some(environment) = shared.as_ref() {
        return Ok(environment.clone());
    }
    let environment = ort::init_from(&library)
        .map_err(|e| PoseError::Runtime(format!("cannot load {}: {e}", library.display())))?
        .with_name("signcap-pose")
        .build()
        .map_err(|e| PoseError::Runtime(format!("{}: {e}", library.display())))?;
    *shared = Some(environment.clone());
    Ok(environment)
}

/// One float output of a model run.
#[derive(Clone, Debug)]
pub struct ModelOutput {
    /// Its shape.
    pub shape: Vec<i64>,
    /// Its values, row-major.
    pub values: Vec<f32>,
}

/// One ONNX model with a single float input.
pub struct OnnxModel {
    session: Session,
    path: PathBuf,
}

impl OnnxModel {
    /// Opens `path` with `threads` intra-op threads; a missing file is a [`PoseError::Model`].
    pub fn open(environment: &Environment, path: &Path, threads: usize) -> Result<Self, PoseError> {
        let model_error = |reason: String| PoseError::Model {
            path: path.display().to_string(),
            reason,
        };
        if !path.is_file() {
            return Err(model_error("model file does not exist".into()));
        }
        let session = Session::builder(environment)
            .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Level3)?))
            .and_then(|b| Ok(b.with_intra_threads(threads.max(1))?))
            // Spinning threads would steal the second core from the other stages.
            .and_then(|b| Ok(b.with_intra_op_spinning(false)?))
            .and_then(|mut b| b.commit_from_file(path))
            .map_err(|e| model_error(format!("cannot load the model: {e}")))?;
        Ok(Self {
            session,
            path: path.to_path_buf(),
        })
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Shape of the first input (`-1` for dynamic dimensions).
    pub fn input_shape(&self) -> Option<Vec<i64>> {
        let input = self.session.inputs().first()?;
        Some(input.dtype().tensor_shape()?.to_vec())
    }

    /// Number of outputs.
    pub fn output_count(&self) -> usize {
        self.session.outputs().len()
    }

    /// Runs the model on one tensor and returns its float outputs in the model's order with
    /// their shapes (for exports whose output names differ, e.g. YOLOX with and without NMS).
    pub fn run_all(
        &mut self,
        stage: &'static str,
        input: &[f32],
        shape: [usize; 4],
    ) -> Result<Vec<ModelOutput>, PoseError> {
        self.run_with(stage, input, shape, |outputs, inference_error| {
            let mut values = Vec::with_capacity(outputs.len());
            for (_, value) in outputs.iter() {
                // Integer side outputs (YOLOX `labels`) are not used by any backend.
                if value.dtype().tensor_type() != Some(TensorElementType::Float32) {
                    continue;
                }
                let (shape, data) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| inference_error(e.to_string()))?;
                values.push(ModelOutput {
                    shape: shape.to_vec(),
                    values: data.to_vec(),
                });
            }
            Ok(values)
        })
    }

    /// Runs the model on one NHWC tensor and returns the named outputs flattened, in the order of
    /// `output_names`.
    pub fn run(
        &mut self,
        stage: &'static str,
        input: &[f32],
        shape: [usize; 4],
        output_names: &[&str],
    ) -> Result<Vec<Vec<f32>>, PoseError> {
        self.run_with(stage, input, shape, |outputs, inference_error| {
            let mut values = Vec::with_capacity(output_names.len());
            for &name in output_names {
                let value = outputs
                    .get(name)
                    .ok_or_else(|| inference_error(format!("the model has no output {name}")))?;
                let (_, data) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| inference_error(e.to_string()))?;
                values.push(data.to_vec());
            }
            Ok(values)
        })
    }

    /// Runs the model on one tensor and hands its outputs to `read`, with the error maker that
    /// names this model and `stage`.
    fn run_with<T>(
        &mut self,
        stage: &'static str,
        input: &[f32],
        shape: [usize; 4],
        read: impl FnOnce(
            &ort::session::SessionOutputs<'_>,
            &dyn Fn(String) -> PoseError,
        ) -> Result<T, PoseError>,
    ) -> Result<T, PoseError> {
        let path = &self.path;
        let inference_error = |reason: String| PoseError::Inference {
            stage,
            reason: format!("{}: {reason}", path.display()),
        };
        let tensor = TensorRef::from_array_view((shape, input))
            .map_err(|e| inference_error(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![tensor])
            .map_err(|e| inference_error(e.to_string()))?;
        read(&outputs, &inference_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_an_error_naming_it() {
        let config = PoseConfig {
            ort_library: Some(PathBuf::from("/nonexistent/libonnxruntime.so.1.31.1")),
            ..PoseConfig::default()
        };
        let Err(error) = ort_environment(&config) else {
            panic!("a missing library must be an error");
        };
        assert!(matches!(error, PoseError::Runtime(_)));
        assert!(
            error
                .to_string()
                .contains("/nonexistent/libonnxruntime.so.1.31.1"),
            "{error}"
        );
    }
}
