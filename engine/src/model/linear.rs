//! A bias-free linear layer whose weight stays in its checkpoint dtype.
//!
//! f32 weights use candle's matmul. bf16 weights (the released checkpoints) are kept in bf16:
//! decoding multiplies a handful of rows (beams) per step and is bound by reading the
//! weights, so the run-time dispatched bf16 × f32 kernel of [`super::kernels`] reads each
//! weight row once for all rows, with f32 accumulation: the same result as widening the
//! weights first, up to summation order. Many rows (the encoder, cross-attention keys and
//! values) are bound by arithmetic instead: there the weight is widened to f32 once, on the
//! first such call, and kept, so every later call is one f32 matmul. That costs the f32 copy
//! of the layers that see many rows (the encoder's and the cross-attention key/value
//! projections, ~0.4 GB for mT5-base) and keeps the decoder-only layers and `lm_head`
//! (~0.7 GB as f32) in bf16.

use std::sync::{Arc, OnceLock};

use candle_core::{CpuStorage, DType, Storage, Tensor};

use super::kernels::{Isa, bf16_matmul};

/// Up to this many input rows use the bf16 kernel; more use the kept f32 copy.
const MAX_ROWS_FOR_BF16_KERNEL: usize = 16;

/// `y = x Wᵀ`, W of shape (out, in).
#[derive(Clone, Debug)]
pub struct Linear {
    weight: Tensor,
    /// f32 copy of a bf16 weight, made on the first call with many rows; clones share it.
    widened: Arc<OnceLock<Tensor>>,
}

impl Linear {
    /// Wraps a (out, in) weight; f32 and bf16 are kept as they are, other dtypes become f32.
    pub fn new(weight: Tensor) -> candle_core::Result<Self> {
        let weight = match weight.dtype() {
            DType::F32 | DType::BF16 => weight.contiguous()?,
            _ => weight.to_dtype(DType::F32)?,
        };
        Ok(Self {
            weight,
            widened: Arc::new(OnceLock::new()),
        })
    }

    /// The weight as stored.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// `x` (…, in) f32 → (…, out) f32.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.forward_with(x, Isa::selected())
    }

    /// [`Linear::forward`] with the bf16 kernels of level `isa` (the portable one where this
    /// CPU lacks it): lets tests and benches compare the levels.
    pub fn forward_with(&self, x: &Tensor, isa: Isa) -> candle_core::Result<Tensor> {
        let (d_out, d_in) = self.weight.dims2()?;
        let mut out_dims = x.dims().to_vec();
        let rows = x.elem_count() / d_in.max(1);
        if let Some(last) = out_dims.last_mut() {
            *last = d_out;
        }
        let x2 = x.to_dtype(DType::F32)?.reshape((rows, d_in))?;
        let y = if self.weight.dtype() != DType::BF16 {
            x2.matmul(&self.weight.t()?)?
        } else if rows <= MAX_ROWS_FOR_BF16_KERNEL {
            bf16_matmul_tensor(&x2, &self.weight, isa)?
        } else {
            x2.matmul(&self.widened()?.t()?)?
        };
        y.reshape(out_dims)
    }

    /// The f32 copy of a bf16 weight, made once.
    fn widened(&self) -> candle_core::Result<&Tensor> {
        if let Some(w) = self.widened.get() {
            return Ok(w);
        }
        let w = self.weight.to_dtype(DType::F32)?;
        // A racing caller may have set it first; either copy is the same.
        Ok(self.widened.get_or_init(|| w))
    }
}

/// x (rows, in) f32 times bf16 W (out, in) transposed, f32 accumulation.
fn bf16_matmul_tensor(x: &Tensor, weight: &Tensor, isa: Isa) -> candle_core::Result<Tensor> {
    let (rows, d_in) = x.dims2()?;
    let d_out = weight.dim(0)?;
    let x_values = x.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
    let (storage, layout) = weight.storage_and_layout();
    let Storage::Cpu(CpuStorage::BF16(all)) = &*storage else {
        candle_core::bail!("bf16 linear: weight is not a bf16 CPU tensor")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("bf16 linear: weight is not contiguous")
    };
    let mut y = vec![0f32; rows * d_out];
    bf16_matmul(isa, &x_values, rows, &all[start..end], d_in, &mut y);
    drop(storage);
    Tensor::from_vec(y, (rows, d_out), x.device())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn bf16_kernel_equals_widened_matmul() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (130, 70), &dev)
            .unwrap()
            .to_dtype(DType::BF16)
            .unwrap();
        let x = Tensor::randn(0f32, 1.0, (3, 70), &dev).unwrap();
        let ours = Linear::new(w.clone()).unwrap().forward(&x).unwrap();
        let want = x
            .matmul(&w.to_dtype(DType::F32).unwrap().t().unwrap())
            .unwrap();
        let diff = (ours - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-4, "{diff}");
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn every_kernel_level_and_the_widened_path_equal_the_f32_matmul() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, (67, 45), &dev)
            .unwrap()
            .to_dtype(DType::BF16)
            .unwrap();
        let w32 = w.to_dtype(DType::F32).unwrap();
        let linear = Linear::new(w).unwrap();
        // 1, 4 (beams), 16 (kernel limit) and 17 rows (widened copy), batched as (B, L, in).
        for rows in [1, 4, 16, 17, 40] {
            let x = Tensor::randn(0f32, 1.0, (1, rows, 45), &dev).unwrap();
            let want = x.broadcast_matmul(&w32.t().unwrap()).unwrap();
            for isa in Isa::ALL {
                let ours = linear.forward_with(&x, isa).unwrap();
                assert_eq!(ours.dims(), &[1, rows, 67]);
                let diff = max_diff(&ours, &want);
                assert!(diff < 1e-4, "{isa:?} rows {rows}: {diff}");
            }
        }
    }
}
