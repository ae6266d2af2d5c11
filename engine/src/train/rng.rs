//! A small seeded generator for the random parts of training (frame subsets, dropout), so a run
//! is reproducible from its seed and its state can be saved with a checkpoint.

/// SplitMix64: tiny state, good statistical quality for masks and subsets.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n > 0`), without modulo bias.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % n) as usize;
            }
        }
    }

    /// `k` distinct indices of `0..n`, sorted: the official loader's
    /// `sorted(random.sample(range(n), k))`, from this generator. All of them when `k ≥ n`.
    pub fn sorted_subset(&mut self, n: usize, k: usize) -> Vec<usize> {
        if k >= n {
            return (0..n).collect();
        }
        let mut pool: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            pool.swap(i, j);
        }
        let mut chosen = pool[..k].to_vec();
        chosen.sort_unstable();
        chosen
    }

    /// An inverted-dropout mask of `len` values: 0 with probability `p`, else `1 / (1 − p)`.
    pub fn dropout_mask(&mut self, len: usize, p: f32) -> Vec<f32> {
        let keep = 1.0 / (1.0 - p);
        (0..len)
            .map(|_| {
                if self.next_f64() < f64::from(p) {
                    0.0
                } else {
                    keep
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_sorted_distinct_and_reproducible() {
        let mut a = SeededRng::new(42);
        let mut b = SeededRng::new(42);
        let s = a.sorted_subset(300, 256);
        assert_eq!(s, b.sorted_subset(300, 256));
        assert_eq!(s.len(), 256);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(s.iter().all(|&i| i < 300));
        assert_eq!(a.sorted_subset(10, 256), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn dropout_mask_keeps_about_one_minus_p() {
        let mut rng = SeededRng::new(7);
        let mask = rng.dropout_mask(100_000, 0.1);
        let kept = mask.iter().filter(|&&m| m > 0.0).count() as f64 / 1e5;
        assert!((kept - 0.9).abs() < 0.01, "{kept}");
        let mean: f64 = mask.iter().map(|&m| f64::from(m)).sum::<f64>() / 1e5;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
    }
}
