//! A bias-free linear layer whose weight stays in its checkpoint dtype.
//!
//! f32 weights use candle's matmul. bf16 weights (the released checkpoints) are kept in bf16:
//! decoding multiplies a handful of rows per step and is bound by reading the weights, so a
//! bf16 × f32 dot product with f32 accumulation halves the bytes read and gives the same result
//! as widening the weights first (up to summation order). Many rows (the encoder) widen the
//! weight once per call and use the f32 matmul.

use candle_core::{CpuStorage, DType, Storage, Tensor};
use half::bf16;
use rayon::prelude::*;

/// Up to this many input rows use the bf16 dot-product kernel.
const MAX_ROWS_FOR_BF16_KERNEL: usize = 16;
/// Weight rows per parallel task.
const ROWS_PER_TASK: usize = 64;

/// `y = x Wᵀ`, W of shape (out, in).
#[derive(Clone, Debug)]
pub struct Linear {
    weight: Tensor,
}

impl Linear {
    /// Wraps a (out, in) weight; f32 and bf16 are kept as they are, other dtypes become f32.
    pub fn new(weight: Tensor) -> candle_core::Result<Self> {
        let weight = match weight.dtype() {
            DType::F32 | DType::BF16 => weight.contiguous()?,
            _ => weight.to_dtype(DType::F32)?,
        };
        Ok(Self { weight })
    }

    /// The weight as stored.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// `x` (…, in) f32 → (…, out) f32.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (d_out, d_in) = self.weight.dims2()?;
        let mut out_dims = x.dims().to_vec();
        let rows = x.elem_count() / d_in.max(1);
        if let Some(last) = out_dims.last_mut() {
            *last = d_out;
        }
        let x2 = x.to_dtype(DType::F32)?.reshape((rows, d_in))?;
        let y = if self.weight.dtype() == DType::BF16 && rows <= MAX_ROWS_FOR_BF16_KERNEL {
            bf16_matmul_small(&x2, &self.weight)?
        } else {
            let w = self.weight.to_dtype(DType::F32)?;
            x2.matmul(&w.t()?)?
        };
        y.reshape(out_dims)
    }
}

/// x (rows, in) f32 times bf16 W (out, in) transposed, f32 accumulation.
fn bf16_matmul_small(x: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
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
    let w = &all[start..end];
    // out_t[j][r]: weight row j is read once for all input rows.
    let mut out_t = vec![0f32; d_out * rows];
    out_t
        .par_chunks_mut(ROWS_PER_TASK * rows)
        .enumerate()
        .for_each(|(task, chunk)| {
            let first = task * ROWS_PER_TASK;
            for (jj, out_row) in chunk.chunks_mut(rows).enumerate() {
                let j = first + jj;
                let w_row = &w[j * d_in..(j + 1) * d_in];
                for (r, o) in out_row.iter_mut().enumerate() {
                    *o = dot_bf16_f32(w_row, &x_values[r * d_in..(r + 1) * d_in]);
                }
            }
        });
    drop(storage);
    Tensor::from_vec(out_t, (d_out, rows), x.device())?
        .t()?
        .contiguous()
}

/// Dot product of a bf16 row and an f32 row with 16 f32 partial sums.
fn dot_bf16_f32(w: &[bf16], x: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let w_chunks = w.chunks_exact(LANES);
    let x_chunks = x.chunks_exact(LANES);
    let (w_tail, x_tail) = (w_chunks.remainder(), x_chunks.remainder());
    for (wc, xc) in w_chunks.zip(x_chunks) {
        for l in 0..LANES {
            // bf16 → f32 is exact: the bf16 bits are the high half of the f32.
            acc[l] += f32::from_bits(u32::from(wc[l].to_bits()) << 16) * xc[l];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (a, b) in w_tail.iter().zip(x_tail) {
        sum += a.to_f32() * b;
    }
    sum
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
}
