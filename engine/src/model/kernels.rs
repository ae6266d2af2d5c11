//! bf16 × f32 matrix kernels, chosen at run time for the CPU they run on.
//!
//! The release binary targets baseline x86-64, so wide SIMD is only reached by detecting it
//! (`is_x86_feature_detected!`) and calling a `#[target_feature]` function. Every kernel
//! widens bf16 to f32 exactly (the bf16 bits are the high half of the f32) and accumulates in
//! f32, so kernels differ from each other and from an f32 matmul only in summation order.

use std::sync::OnceLock;

use half::bf16;
use rayon::prelude::*;

/// Weight rows per parallel task.
const WEIGHT_ROWS_PER_TASK: usize = 64;
/// Input rows that share one pass over a weight row.
const INPUT_ROWS_PER_PASS: usize = 4;

/// An instruction-set level a kernel is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Plain Rust, whatever the compiler vectorises for the build target.
    Portable,
    /// x86-64 AVX2 with FMA (8 f32 lanes).
    Avx2Fma,
}

impl Isa {
    /// Every level, lowest first.
    pub const ALL: [Isa; 2] = [Isa::Portable, Isa::Avx2Fma];

    /// Whether this CPU can run kernels of this level.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Portable => true,
            Isa::Avx2Fma => avx2_fma_detected(),
        }
    }

    /// The level kernels use: the best this CPU has, or the one `SIGNCAP_SIMD`
    /// (`portable`, `avx2`) names when the CPU has it; read once per process.
    pub fn selected() -> Isa {
        static SELECTED: OnceLock<Isa> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let best = Isa::ALL
                .into_iter()
                .rev()
                .find(|isa| isa.is_available())
                .unwrap_or(Isa::Portable);
            match std::env::var("SIGNCAP_SIMD").ok().as_deref() {
                Some("portable") => Isa::Portable,
                Some("avx2") if Isa::Avx2Fma.is_available() => Isa::Avx2Fma,
                _ => best,
            }
        })
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma_detected() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2_fma_detected() -> bool {
    false
}

/// `y = x Wᵀ`: x (rows, d_in) f32, W (d_out, d_in) bf16, y (rows, d_out) f32, written in full.
///
/// Each weight row is read from memory once and used for every input row, so a few rows
/// (beams) cost about as much as one. Runs on the rayon pool. Panics if the slice lengths do
/// not match the shape (a caller bug).
pub fn bf16_matmul(isa: Isa, x: &[f32], rows: usize, w: &[bf16], d_in: usize, y: &mut [f32]) {
    assert!(
        d_in > 0 && w.len().is_multiple_of(d_in),
        "bf16_matmul: weight shape"
    );
    let d_out = w.len() / d_in;
    assert_eq!(x.len(), rows * d_in, "bf16_matmul: input shape");
    assert_eq!(y.len(), rows * d_out, "bf16_matmul: output shape");
    let isa = if isa.is_available() {
        isa
    } else {
        Isa::Portable
    };
    if rows == 0 || d_out == 0 {
        return;
    }
    let y_cells = OutputCells(y.as_mut_ptr());
    w.par_chunks(WEIGHT_ROWS_PER_TASK * d_in)
        .enumerate()
        .for_each(|(task, w_block)| {
            let first = task * WEIGHT_ROWS_PER_TASK;
            let mut column = vec![0f32; rows];
            for (j, w_row) in w_block.chunks_exact(d_in).enumerate() {
                dot_rows(isa, w_row, x, d_in, &mut column);
                for (r, &value) in column.iter().enumerate() {
                    // SAFETY: r < rows and first + j < d_out, so the cell is inside y; tasks
                    // own disjoint column ranges, so no two write one cell.
                    unsafe { y_cells.write(r * d_out + first + j, value) };
                }
            }
        });
}

/// The cells of an output that parallel tasks fill, each task its own cells.
struct OutputCells(*mut f32);

// SAFETY: tasks write disjoint cells, and the slice outlives the parallel loop.
unsafe impl Sync for OutputCells {}

impl OutputCells {
    /// # Safety
    /// `at` is inside the slice and no other thread touches that cell.
    unsafe fn write(&self, at: usize, value: f32) {
        // SAFETY: see above.
        unsafe { *self.0.add(at) = value };
    }
}

/// `out[r] = w · x[r]` for every row of x (rows of length d_in, `out.len()` of them).
pub fn dot_rows(isa: Isa, w_row: &[bf16], x: &[f32], d_in: usize, out: &mut [f32]) {
    let mut first = 0;
    while first < out.len() {
        let n = (out.len() - first).min(INPUT_ROWS_PER_PASS);
        let xs = &x[first * d_in..(first + n) * d_in];
        let dst = &mut out[first..first + n];
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma if avx2_fma_detected() => {
                // SAFETY: AVX2 and FMA were detected on this CPU.
                unsafe { x86::dot_rows_avx2(w_row, xs, d_in, dst) }
            }
            _ => {
                for (r, o) in dst.iter_mut().enumerate() {
                    *o = dot_portable(w_row, &xs[r * d_in..(r + 1) * d_in]);
                }
            }
        }
        first += n;
    }
}

/// bf16 → f32, exact: the bf16 bits are the high half of the f32.
#[inline(always)]
fn widen(w: bf16) -> f32 {
    f32::from_bits(u32::from(w.to_bits()) << 16)
}

/// Dot product of a bf16 row and an f32 row with 16 f32 partial sums.
pub fn dot_portable(w: &[bf16], x: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let w_chunks = w.chunks_exact(LANES);
    let x_chunks = x.chunks_exact(LANES);
    let (w_tail, x_tail) = (w_chunks.remainder(), x_chunks.remainder());
    for (wc, xc) in w_chunks.zip(x_chunks) {
        for l in 0..LANES {
            acc[l] += widen(wc[l]) * xc[l];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (a, b) in w_tail.iter().zip(x_tail) {
        sum += widen(*a) * b;
    }
    sum
}

/// Elements per parallel task of an element-wise kernel.
const ELEMENTS_PER_TASK: usize = 16 * 1024;

/// `out = gelu_new(gate) ⊙ up` (transformers' `gelu_new`, the tanh approximation), in
/// parallel; the AVX2 build of the same code runs 8 lanes at a time. Panics on unequal lengths.
pub fn gated_gelu(isa: Isa, gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(
        gate.len() == up.len() && up.len() == out.len(),
        "gated_gelu: lengths"
    );
    let use_avx2 = isa == Isa::Avx2Fma && avx2_fma_detected();
    out.par_chunks_mut(ELEMENTS_PER_TASK)
        .zip(gate.par_chunks(ELEMENTS_PER_TASK))
        .zip(up.par_chunks(ELEMENTS_PER_TASK))
        .for_each(|((out, gate), up)| {
            #[cfg(target_arch = "x86_64")]
            if use_avx2 {
                // SAFETY: AVX2 and FMA were detected on this CPU.
                unsafe { x86::gated_gelu_avx2(gate, up, out) };
                return;
            }
            let _ = use_avx2;
            gated_gelu_body(gate, up, out);
        });
}

/// The loop both builds of [`gated_gelu`] compile; no fused multiply-adds, so they agree bit
/// for bit.
#[inline(always)]
fn gated_gelu_body(gate: &[f32], up: &[f32], out: &mut [f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = gelu_new(g) * u;
    }
}

/// `0.5 v (1 + tanh(u))` with `u = √(2/π) (v + 0.044715 v³)`, written as `v / (1 + e^(−2u))`
/// (the same function; no cancellation near 0, and no branch, so it vectorises).
#[inline(always)]
pub fn gelu_new(v: f32) -> f32 {
    const SQRT_TWO_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_TWO_OVER_PI * (v + 0.044715 * v * v * v);
    v / (1.0 + exp_approx(-2.0 * u))
}

/// `e^x` to about 1 ulp for x in [−87, 88] (clamped outside; NaN stays NaN): Cody–Waite
/// reduction by ln 2 and Cephes' degree-5 polynomial. Branch-free, so loops vectorise.
#[inline(always)]
pub fn exp_approx(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in a part exact in few bits and the rest, so n · LN2_HI is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding 1.5 · 2²³ rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * (r * r) + r + 1.0;
    let scale = f32::from_bits(((n_int + 127) as u32) << 23);
    y * scale
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use half::bf16;

    use super::widen;

    /// Eight bf16 at `p` widened to f32.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_widened(p: *const bf16) -> __m256 {
        // SAFETY: the caller guarantees 8 readable bf16 at p.
        let halves = unsafe { _mm_loadu_si128(p.cast::<__m128i>()) };
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(halves)))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn horizontal_sum(v: __m256) -> f32 {
        let pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pair = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
        let single = _mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair));
        _mm_cvtss_f32(single)
    }

    /// [`super::gated_gelu_body`] compiled for AVX2 (8 lanes).
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gated_gelu_avx2(gate: &[f32], up: &[f32], out: &mut [f32]) {
        super::gated_gelu_body(gate, up, out);
    }

    /// `out[r] = w · x[r]` for up to 4 rows of x, one pass over w.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `x.len() >= out.len() * d_in`, `w.len() >= d_in`,
    /// `out.len() <= 4`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_rows_avx2(w: &[bf16], x: &[f32], d_in: usize, out: &mut [f32]) {
        match out.len() {
            // SAFETY: forwarded.
            1 => unsafe { dot_rows_n::<1>(w, x, d_in, out) },
            2 => unsafe { dot_rows_n::<2>(w, x, d_in, out) },
            3 => unsafe { dot_rows_n::<3>(w, x, d_in, out) },
            4 => unsafe { dot_rows_n::<4>(w, x, d_in, out) },
            _ => unreachable!("dot_rows_avx2 takes 1 to 4 rows"),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dot_rows_n<const R: usize>(w: &[bf16], x: &[f32], d_in: usize, out: &mut [f32]) {
        assert!(w.len() >= d_in && x.len() >= R * d_in && out.len() >= R);
        let body = d_in / 16 * 16;
        let mut acc_lo = [_mm256_setzero_ps(); R];
        let mut acc_hi = [_mm256_setzero_ps(); R];
        let (wp, xp) = (w.as_ptr(), x.as_ptr());
        let mut k = 0;
        while k < body {
            // SAFETY: k + 16 <= d_in <= w.len(), and r * d_in + k + 16 <= x.len().
            unsafe {
                let w_lo = load_widened(wp.add(k));
                let w_hi = load_widened(wp.add(k + 8));
                for r in 0..R {
                    let row = xp.add(r * d_in + k);
                    acc_lo[r] = _mm256_fmadd_ps(w_lo, _mm256_loadu_ps(row), acc_lo[r]);
                    acc_hi[r] = _mm256_fmadd_ps(w_hi, _mm256_loadu_ps(row.add(8)), acc_hi[r]);
                }
            }
            k += 16;
        }
        for r in 0..R {
            let mut sum = horizontal_sum(_mm256_add_ps(acc_lo[r], acc_hi[r]));
            for kk in body..d_in {
                sum += widen(w[kk]) * x[r * d_in + kk];
            }
            out[r] = sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1) (xorshift), so failures reproduce.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The plain f32 reference: widen W, then a sequential f64 dot product per output.
    fn reference(x: &[f32], rows: usize, w: &[bf16], d_in: usize) -> Vec<f32> {
        let d_out = w.len() / d_in;
        let mut y = vec![0f32; rows * d_out];
        for r in 0..rows {
            for j in 0..d_out {
                let mut sum = 0f64;
                for k in 0..d_in {
                    sum += f64::from(w[j * d_in + k].to_f32()) * f64::from(x[r * d_in + k]);
                }
                y[r * d_out + j] = sum as f32;
            }
        }
        y
    }

    #[test]
    fn every_available_kernel_matches_the_f32_reference() {
        // Odd tails (d_in not a multiple of 8 or 16), row counts that are not a multiple of 4,
        // and d_out that is not a multiple of the task size.
        let shapes = [
            (1, 768, 130),
            (2, 17, 65),
            (3, 33, 7),
            (4, 64, 200),
            (5, 100, 129),
            (7, 1, 3),
            (16, 2048, 70),
            (40, 31, 66),
        ];
        let mut tested = 0;
        for isa in Isa::ALL.into_iter().filter(|isa| isa.is_available()) {
            for (seed, &(rows, d_in, d_out)) in shapes.iter().enumerate() {
                let x = values(rows * d_in, seed as u64 + 1);
                let w: Vec<bf16> = values(d_out * d_in, seed as u64 + 100)
                    .into_iter()
                    .map(bf16::from_f32)
                    .collect();
                let mut y = vec![f32::NAN; rows * d_out];
                bf16_matmul(isa, &x, rows, &w, d_in, &mut y);
                let want = reference(&x, rows, &w, d_in);
                for (i, (got, want)) in y.iter().zip(&want).enumerate() {
                    // Only the summation order differs: error grows like sqrt(d_in) ulps.
                    let tolerance = 1e-5 * (d_in as f32).sqrt() * 4.0;
                    assert!(
                        (got - want).abs() <= tolerance,
                        "{isa:?} rows {rows} d_in {d_in} d_out {d_out} at {i}: {got} vs {want}"
                    );
                }
            }
            tested += 1;
        }
        // The portable kernel runs everywhere, so at least it was checked.
        assert!(tested >= 1);
    }

    #[test]
    fn portable_kernel_is_always_available_and_used_when_asked() {
        assert!(Isa::Portable.is_available());
        let (rows, d_in) = (3, 37);
        let x = values(rows * d_in, 7);
        let w: Vec<bf16> = values(5 * d_in, 8)
            .into_iter()
            .map(bf16::from_f32)
            .collect();
        let mut portable = vec![0f32; rows * 5];
        bf16_matmul(Isa::Portable, &x, rows, &w, d_in, &mut portable);
        for r in 0..rows {
            for j in 0..5 {
                let want = dot_portable(&w[j * d_in..(j + 1) * d_in], &x[r * d_in..(r + 1) * d_in]);
                assert_eq!(portable[r * 5 + j].to_bits(), want.to_bits());
            }
        }
    }

    #[test]
    fn exp_approx_is_within_two_ulps_of_libm() {
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (got, want) = (exp_approx(x), x.exp());
            let ulp = (want.to_bits() as i64 - got.to_bits() as i64).abs();
            assert!(ulp <= 2, "exp({x}): {got} vs {want} ({ulp} ulps)");
            x += 0.000_7;
        }
        assert_eq!(exp_approx(-1000.0), exp_approx(-87.0));
        assert_eq!(exp_approx(1000.0), exp_approx(88.0));
        assert!(exp_approx(f32::NAN).is_nan());
    }

    #[test]
    fn gated_gelu_matches_the_tanh_formula_on_every_level() {
        // transformers' gelu_new in f64; as v·σ(2u), which is the same function but does not
        // cancel to 0 in the negative tail where 1 + tanh(u) does even in f64.
        let u = |v: f64| (2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3));
        let tanh_form = |v: f64| 0.5 * v * (1.0 + u(v).tanh());
        let reference = |v: f64| v / (1.0 + (-2.0 * u(v)).exp());
        for v in [-3.0, -1.0, -0.1, 0.0, 0.5, 2.0, 7.0] {
            assert!((tanh_form(v) - reference(v)).abs() <= 1e-14, "{v}");
        }
        let mut gate: Vec<f32> = values(70_001, 11).iter().map(|v| v * 12.0).collect();
        gate.extend([
            0.0, -0.0, 1e-30, -1e-30, 1e-4, -1e-4, 50.0, -50.0, 1e4, -1e4,
        ]);
        let up = values(gate.len(), 12);
        let mut outputs = Vec::new();
        for isa in Isa::ALL.into_iter().filter(|isa| isa.is_available()) {
            let mut out = vec![f32::NAN; gate.len()];
            gated_gelu(isa, &gate, &up, &mut out);
            for ((&g, &u), &o) in gate.iter().zip(&up).zip(&out) {
                let want = reference(f64::from(g)) * f64::from(u);
                // e^(−2u) carries u's rounding times 2|u|, so the far negative tail is looser
                // (still far tighter than 1 + tanh(u) in f32, which cancels there).
                let g64 = f64::from(g);
                let tolerance = 1e-6 * (1.0 + g64 * g64) * want.abs() + 1e-30;
                assert!(
                    (f64::from(o) - want).abs() <= tolerance,
                    "{isa:?} gelu({g})·{u}: {o} vs {want}"
                );
            }
            outputs.push(out);
        }
        // Every build computes the same bits.
        assert!(outputs.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn an_unavailable_level_falls_back_to_portable() {
        for isa in Isa::ALL.into_iter().filter(|isa| !isa.is_available()) {
            let x = values(20, 3);
            let w: Vec<bf16> = values(40, 4).into_iter().map(bf16::from_f32).collect();
            let (mut got, mut want) = (vec![0f32; 2], vec![0f32; 2]);
            bf16_matmul(isa, &x, 1, &w, 20, &mut got);
            bf16_matmul(Isa::Portable, &x, 1, &w, 20, &mut want);
            assert_eq!(got, want);
        }
    }
}
