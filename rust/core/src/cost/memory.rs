//! Where an operator's bytes are read from and how many: the rate and energy of the memory tier that
//! holds them, and the share of an expert operator's weights a step touches.

use crate::plan::Chip;

/// Seconds per byte and joules per byte of tier `idx` of `chip` (`None`: the chip's one memory, which
/// draws no per-byte energy), at sustained fraction `eff` of its bandwidth when given (the shaped kernels'
/// read or copy efficiency), else at the tier's own efficiency.
pub(super) fn tier_at(chip: &Chip, idx: Option<usize>, eff: Option<f64>) -> (f64, f64) {
    match idx.and_then(|i| chip.memories.get(i)) {
        Some(m) => (
            1.0 / (m.bandwidth * eff.unwrap_or(m.efficiency)),
            m.energy_per_byte,
        ),
        None => (
            1.0 / (chip.memory_bw * eff.unwrap_or(chip.memory_efficiency)),
            0.0,
        ),
    }
}

/// Expected share of `experts` routed experts that at least one of `tokens` tokens uses when each picks `k`
/// of them uniformly: `1 − (1 − k/E)^tokens` (the expected number of distinct experts touched, over `E`).
#[inline]
pub fn touched_expert_share(experts: f64, k: f64, tokens: f64) -> f64 {
    if experts <= 0.0 || tokens <= 0.0 {
        return 0.0;
    }
    if k >= experts {
        return 1.0;
    }
    1.0 - (1.0 - k / experts).powf(tokens)
}
