//! Quantiles as numpy computes them by default (linear interpolation), and the quantile of the gaps
//! between consecutive times without materialising every gap.

/// Linear-interpolated quantile (`q` in [0, 1]) of `xs`, reordering it (numpy's default method).
pub fn quantile(xs: &mut [f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let pos = q * (xs.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let (_, &mut lo_v, rest) = xs.select_nth_unstable_by(lo, f64::total_cmp);
    let hi_v = if hi == lo {
        lo_v
    } else {
        rest.iter().copied().fold(f64::INFINITY, f64::min)
    };
    Some(lo_v + (hi_v - lo_v) * (pos - lo as f64))
}

/// The `q` quantile (as [`quantile`]) of the gaps between consecutive `times`. For a high `q` only the few
/// largest gaps matter (`n - floor(q (n-1))` of them: two or three for a p99 of a few hundred gaps), so they
/// are kept in a small sorted array in one pass; otherwise the gaps are partitioned in `scratch`.
pub fn gap_quantile(times: &[f64], q: f64, scratch: &mut Vec<f64>) -> Option<f64> {
    let n = times.len().checked_sub(1)?;
    if n == 0 {
        return None;
    }
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let keep = n - lo;
    const SMALL: usize = 16;
    if keep > SMALL {
        scratch.clear();
        scratch.extend(times.windows(2).map(|w| w[1] - w[0]));
        return quantile(scratch, q);
    }
    // top[..len] holds the largest gaps seen, in descending order.
    let mut top = [f64::NEG_INFINITY; SMALL];
    for w in times.windows(2) {
        let g = w[1] - w[0];
        if g > top[keep - 1] {
            let mut j = keep - 1;
            while j > 0 && top[j - 1] < g {
                top[j] = top[j - 1];
                j -= 1;
            }
            top[j] = g;
        }
    }
    let lo_v = top[keep - 1];
    let hi_v = if keep >= 2 { top[keep - 2] } else { lo_v };
    Some(lo_v + (hi_v - lo_v) * (pos - lo as f64))
}
