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
