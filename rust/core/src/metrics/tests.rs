//! Unit tests of the metrics: quantiles against their plain definitions, bit for bit.

use super::*;

#[test]
fn gap_quantile_equals_full_quantile_of_gaps() {
    // A deterministic pseudo-random sequence of increasing times, several lengths and quantiles.
    let mut x = 0.5f64;
    let mut scratch = Vec::new();
    for n in [2usize, 3, 4, 8, 101, 102, 251, 1700, 2000] {
        let mut t = 0.0;
        let times: Vec<f64> = (0..n)
            .map(|_| {
                x = (x * 3.9 * (1.0 - x)).clamp(1e-9, 1.0 - 1e-9);
                t += x;
                t
            })
            .collect();
        for q in [0.5, 0.9, 0.99, 1.0] {
            let mut gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
            let full = quantile(&mut gaps, q).unwrap();
            let fast = gap_quantile(&times, q, &mut scratch).unwrap();
            assert!(
                (full - fast).abs() <= 1e-12,
                "n={n} q={q}: {full} vs {fast}"
            );
        }
    }
    assert_eq!(gap_quantile(&[1.0], 0.99, &mut scratch), None);
    assert_eq!(gap_quantile(&[], 0.99, &mut scratch), None);
}

/// A deterministic stream of values in [0, 1).
fn lcg(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn stretch_gap_quantile_is_the_quantile_of_the_gaps_of_the_stretches_joined() {
    let mut state = 7u64;
    let mut scratch = Vec::new();
    for case in 0..400 {
        // Two increasing sequences (the round ends of two instances), some with ties and long flat runs.
        let seqs: Vec<Vec<f64>> = (0..2)
            .map(|_| {
                let mut t = 0.0;
                (0..1 + (lcg(&mut state) * 3000.0) as usize)
                    .map(|_| {
                        let x = lcg(&mut state);
                        t += if x < 0.2 { 0.25 } else { x };
                        t
                    })
                    .collect()
            })
            .collect();
        let blocks: Vec<GapBlocks> = seqs.iter().map(|s| GapBlocks::new(s)).collect();
        // A first token, then stretches of the two sequences in time order, some empty.
        let first = [seqs[0][0] * lcg(&mut state)];
        let mut stretches = vec![Stretch::whole(&first)];
        let mut joined = first.to_vec();
        let mut from = [0usize; 2];
        for _ in 0..1 + case % 4 {
            let w = (lcg(&mut state) * 2.0) as usize;
            let len = seqs[w].len();
            let a = (from[w] + (lcg(&mut state) * 50.0) as usize).min(len);
            let b = (a + (lcg(&mut state) * len as f64) as usize).min(len);
            if joined.last().is_some_and(|&l| a < b && seqs[w][a] < l) {
                continue;
            }
            stretches.push(Stretch::of(&seqs[w], &blocks[w], a, b));
            joined.extend_from_slice(&seqs[w][a..b]);
            from[w] = b;
        }
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let mut gaps: Vec<f64> = joined.windows(2).map(|w| w[1] - w[0]).collect();
            let want = quantile(&mut gaps, q);
            let got = stretch_gap_quantile(&stretches, q, &mut scratch);
            assert_eq!(
                got.map(f64::to_bits),
                want.map(f64::to_bits),
                "case {case} q={q}: {got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn quantiles_are_each_the_quantile() {
    let mut state = 11u64;
    for n in [0usize, 1, 2, 3, 10, 101, 1000] {
        let xs: Vec<f64> = (0..n).map(|_| (lcg(&mut state) * 20.0).floor()).collect();
        let qs = [0.0, 0.25, 0.5, 0.5, 0.9, 0.99, 1.0];
        let got = quantiles(&mut xs.clone(), qs);
        let want: Vec<Option<f64>> = qs.iter().map(|&q| quantile(&mut xs.clone(), q)).collect();
        assert_eq!(got, want, "n={n}");
    }
}
