//! A small deterministic pseudo-random generator (SplitMix64) of our own.
//!
//! The sandbox must be the same world on every machine, in every version of Rabt that
//! keeps the seed: a generator from a dependency may change its algorithm in a new
//! release (rand documents that `StdRng` may), which would silently move every fixture.
//! SplitMix64 is ten lines, passes BigCrush, and will never change under us.

/// A seeded SplitMix64 generator. Not for cryptography.
#[derive(Debug, Clone)]
pub struct SandboxRng {
    state: u64,
}

impl SandboxRng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one kind of record (`"addresses"`, `"people"`…), derived from the
    /// world's seed and the label. Each kind draws from its own stream, so adding a new
    /// kind of record, or more records of one kind, never shifts the others.
    pub fn stream(seed: u64, label: &str) -> Self {
        // FNV-1a over the label, mixed with the seed through one SplitMix64 step.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in label.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let mut mixer = Self::new(seed ^ hash);
        Self::new(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0). Multiply-high reduction: the bias is below
    /// `n / 2^64`, far under anything a fixture could notice.
    pub fn below(&mut self, n: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(n);
        // The high half of a 64×64-bit product always fits in 64 bits.
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// A number in `lo..=hi` (`lo` when `hi < lo`).
    pub fn between(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi.saturating_sub(lo)) + 1;
        let offset = u32::try_from(self.below(span)).unwrap_or(0);
        lo + offset
    }

    /// A float in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        // 53 bits fit a f64 mantissa exactly, so the conversion is lossless.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One element of `items`, or `None` when it is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        let len = u64::try_from(items.len()).ok()?;
        let index = usize::try_from(self.below(len)).ok()?;
        items.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of the reference C implementation seeded with 1234567.
        let mut rng = SandboxRng::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn streams_are_independent_and_repeatable() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SandboxRng::stream(7, "addresses");
                move |_| r.next_u64()
            })
            .collect();
        let again: Vec<u64> = (0..4)
            .map({
                let mut r = SandboxRng::stream(7, "addresses");
                move |_| r.next_u64()
            })
            .collect();
        let people: Vec<u64> = (0..4)
            .map({
                let mut r = SandboxRng::stream(7, "people");
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, again);
        assert_ne!(a, people);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut rng = SandboxRng::new(42);
        for _ in 0..10_000 {
            assert!(rng.below(10) < 10);
            assert!((1000..=9999).contains(&rng.between(1000, 9999)));
            let u = rng.unit();
            assert!((0.0..1.0).contains(&u));
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.between(5, 5), 5);
        assert_eq!(rng.pick::<u8>(&[]), None);
    }
}
