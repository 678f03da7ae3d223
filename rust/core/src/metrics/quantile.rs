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

/// The quantiles `qs` (ascending) of `xs`, each as [`quantile`] computes it, reordering `xs`: each
/// selection only partitions what lies above the previous one.
pub fn quantiles(xs: &mut [f64], qs: impl IntoIterator<Item = f64>) -> Vec<Option<f64>> {
    // xs[..placed] holds the smallest values, none above any of xs[placed..].
    let mut placed = 0;
    qs.into_iter()
        .map(|q| {
            if xs.is_empty() {
                return None;
            }
            let pos = q * (xs.len() - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            if lo >= placed {
                xs[placed..].select_nth_unstable_by(lo - placed, f64::total_cmp);
                placed = lo + 1;
            }
            let lo_v = xs[lo];
            let hi_v = if hi == lo {
                lo_v
            } else {
                xs[lo + 1..].iter().copied().fold(f64::INFINITY, f64::min)
            };
            Some(lo_v + (hi_v - lo_v) * (pos - lo as f64))
        })
        .collect()
}

/// Gaps per block, and blocks per group, of [`GapBlocks`].
const BLOCK: usize = 8;
const GROUP: usize = 4;

/// The largest gap between consecutive times of a sequence in each block of `BLOCK` gaps (block `k` holds
/// gaps `k * BLOCK ..`, gap `j` being `times[j + 1] - times[j]`) and in each group of `GROUP` blocks, so
/// that a search for the largest gaps of a stretch of the sequence can skip what cannot hold one.
pub struct GapBlocks {
    block: Vec<f64>,
    group: Vec<f64>,
}

impl GapBlocks {
    pub fn new(times: &[f64]) -> GapBlocks {
        let gaps = times.len().saturating_sub(1);
        let block: Vec<f64> = (0..gaps.div_ceil(BLOCK))
            .map(|k| {
                (k * BLOCK..gaps.min((k + 1) * BLOCK))
                    .map(|j| times[j + 1] - times[j])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let group = block
            .chunks(GROUP)
            .map(|c| c.iter().copied().fold(f64::NEG_INFINITY, f64::max))
            .collect();
        GapBlocks { block, group }
    }
}

/// Consecutive times `times[a..b]` of a sequence, with the sequence's gap blocks when it has them.
#[derive(Clone, Copy)]
pub struct Stretch<'a> {
    times: &'a [f64],
    blocks: Option<&'a GapBlocks>,
    a: usize,
    b: usize,
}

impl<'a> Stretch<'a> {
    /// All of `times`, with no gap blocks.
    pub fn whole(times: &'a [f64]) -> Stretch<'a> {
        Stretch {
            times,
            blocks: None,
            a: 0,
            b: times.len(),
        }
    }

    /// `times[a..b]` of a sequence summarised by `blocks`.
    pub fn of(times: &'a [f64], blocks: &'a GapBlocks, a: usize, b: usize) -> Stretch<'a> {
        Stretch {
            times,
            blocks: Some(blocks),
            a,
            b,
        }
    }

    fn gap(&self, j: usize) -> f64 {
        self.times[j + 1] - self.times[j]
    }

    /// The stretch's gaps `first..end` (gap `j` follows time `j`), and the whole gap blocks `kb..ke`
    /// among them, if any.
    fn layout(&self) -> (usize, usize, Option<(&'a GapBlocks, usize, usize)>) {
        let (first, end) = (self.a, self.b.saturating_sub(1));
        let (kb, ke) = (first.div_ceil(BLOCK), end / BLOCK);
        (
            first,
            end,
            self.blocks.filter(|_| kb < ke).map(|b| (b, kb, ke)),
        )
    }
}

/// Calls `f` with every gap of the sequence made of `stretches`, one after another, whole gap blocks
/// standing for their gaps: `f(Err((blocks, k)), stretch)` for block `k`.
fn walk<'a>(
    stretches: &[Stretch<'a>],
    mut f: impl FnMut(Result<f64, (&'a GapBlocks, usize)>, &Stretch<'a>),
) {
    let mut prev: Option<f64> = None;
    for s in stretches.iter().filter(|s| s.b > s.a) {
        if let Some(p) = prev {
            f(Ok(s.times[s.a] - p), s);
        }
        let (first, end, whole) = s.layout();
        if let Some((blocks, kb, ke)) = whole {
            for j in first..kb * BLOCK {
                f(Ok(s.gap(j)), s);
            }
            for k in kb..ke {
                f(Err((blocks, k)), s);
            }
            for j in ke * BLOCK..end {
                f(Ok(s.gap(j)), s);
            }
        } else {
            for j in first..end {
                f(Ok(s.gap(j)), s);
            }
        }
        prev = Some(s.times[s.b - 1]);
    }
}

/// Most gaps kept by [`Top`].
const SMALL: usize = 32;

/// The `keep` largest values offered, in descending order.
struct Top {
    v: [f64; SMALL],
    keep: usize,
}

impl Top {
    fn new(keep: usize) -> Top {
        Top {
            v: [f64::NEG_INFINITY; SMALL],
            keep,
        }
    }

    fn floor(&self) -> f64 {
        self.v[self.keep - 1]
    }

    fn take(&mut self, g: f64) {
        if g > self.v[self.keep - 1] {
            let mut j = self.keep - 1;
            while j > 0 && self.v[j - 1] < g {
                self.v[j] = self.v[j - 1];
                j -= 1;
            }
            self.v[j] = g;
        }
    }
}

/// A lower bound on the `keep`-th largest gap of the sequence made of `stretches`: the `keep`-th largest
/// of the largest gaps of whole groups (or, with fewer groups than that, of whole blocks). Each of those is
/// a gap of its own, so at least `keep` gaps are not under the bound.
fn lower_bound(stretches: &[Stretch], keep: usize) -> f64 {
    let (mut groups, mut blocks) = (Top::new(keep), Top::new(keep));
    let (mut n_groups, mut n_blocks) = (0, 0);
    for s in stretches.iter().filter(|s| s.b > s.a) {
        let Some((gb, kb, ke)) = s.layout().2 else {
            continue;
        };
        let (g0, g1) = (kb.div_ceil(GROUP), (ke / GROUP).max(kb.div_ceil(GROUP)));
        for &max in &gb.group[g0..g1] {
            groups.take(max);
        }
        n_groups += g1 - g0;
        n_blocks += ke - kb;
    }
    if n_groups >= keep {
        return groups.floor();
    }
    if n_blocks < keep {
        return f64::NEG_INFINITY;
    }
    for s in stretches.iter().filter(|s| s.b > s.a) {
        if let Some((gb, kb, ke)) = s.layout().2 {
            for &max in &gb.block[kb..ke] {
                blocks.take(max);
            }
        }
    }
    blocks.floor()
}

/// The `q` quantile (as [`quantile`]) of the gaps between consecutive `times`.
pub fn gap_quantile(times: &[f64], q: f64, scratch: &mut Vec<f64>) -> Option<f64> {
    stretch_gap_quantile(&[Stretch::whole(times)], q, scratch)
}

/// The `q` quantile (as [`quantile`]) of the gaps between consecutive times of the sequence made of
/// `stretches`, one after another, using `scratch`.
///
/// The quantile of `n` gaps interpolates between the `keep`-th and `keep - 1`-th largest, `keep` being
/// `n - floor(q (n-1))`: two or three for a p99 of a few hundred gaps. When `keep` is that small, only the
/// gaps not under a lower bound on the `keep`-th largest are gathered — blocks wholly under it are
/// skipped, and the gathering does not branch on the gaps — and the two are picked among them; otherwise
/// every gap is partitioned.
pub fn stretch_gap_quantile(stretches: &[Stretch], q: f64, scratch: &mut Vec<f64>) -> Option<f64> {
    let len: usize = stretches.iter().map(|s| s.b - s.a).sum();
    let n = len.checked_sub(1)?;
    if n == 0 {
        return None;
    }
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let keep = n - lo;
    if keep > SMALL {
        scratch.clear();
        walk(stretches, |g, s| match g {
            Ok(g) => scratch.push(g),
            Err((_, k)) => scratch.extend((k * BLOCK..(k + 1) * BLOCK).map(|j| s.gap(j))),
        });
        return quantile(scratch, q);
    }
    let bound = lower_bound(stretches, keep);
    // Candidates go to scratch[..found]: every gap is written there, and kept by counting it.
    if scratch.len() <= n {
        scratch.resize(n + 1, 0.0);
    }
    let mut found = 0;
    walk(stretches, |g, s| {
        let mut put = |g: f64| {
            scratch[found] = g;
            found += (g >= bound) as usize;
        };
        match g {
            Ok(g) => put(g),
            Err((blocks, k)) => {
                if blocks.block[k] >= bound {
                    for j in k * BLOCK..(k + 1) * BLOCK {
                        put(s.gap(j));
                    }
                }
            }
        }
    });
    let mut top = Top::new(keep);
    for &g in &scratch[..found] {
        top.take(g);
    }
    let lo_v = top.v[keep - 1];
    let hi_v = if keep >= 2 { top.v[keep - 2] } else { lo_v };
    Some(lo_v + (hi_v - lo_v) * (pos - lo as f64))
}
