//! The `prefix_aware` router: the candidate whose prefix cache saves the most prefill, balanced against
//! its load. Each candidate costs `weight × (prompt tokens it would have to prefill) + its outstanding
//! tokens`, and the cheapest wins; among equals, the one picked longest ago. This is the cost form of
//! NVIDIA Dynamo's KV router (docs "Router Design": `kv-overlap-score-weight × potential prefill blocks +
//! potential active blocks`, lowest wins, weight 1 by default), in tokens rather than blocks; llm-d's
//! scheduler sums weighted prefix-cache and load scorers to the same end. With nothing cached anywhere it
//! sends each request to the least loaded candidate.

use super::{NewRouter, Rng, Router};

pub(super) const ENTRY: NewRouter = |n| Box::new(PrefixAware::new(n));

struct PrefixAware {
    /// When each candidate was last picked (0: never), to break ties.
    last: Vec<u64>,
    picks: u64,
}

impl PrefixAware {
    fn new(n: usize) -> PrefixAware {
        PrefixAware {
            last: vec![0; n],
            picks: 0,
        }
    }

    fn choose(&mut self, cost: impl Fn(usize) -> f64) -> usize {
        let mut best = 0;
        for pos in 1..self.last.len() {
            let (c, b) = (cost(pos), cost(best));
            if c < b || (c == b && self.last[pos] < self.last[best]) {
                best = pos;
            }
        }
        self.picks += 1;
        self.last[best] = self.picks;
        best
    }
}

impl Router for PrefixAware {
    fn pick(&mut self, candidates: &[usize], loads: &[u64], _rng: &mut Rng) -> usize {
        self.choose(|pos| loads[candidates[pos]] as f64)
    }

    fn uses_prefixes(&self) -> bool {
        true
    }

    fn pick_cached(
        &mut self,
        candidates: &[usize],
        loads: &[u64],
        prompt: u64,
        cached: &[u64],
        weight: f64,
        _rng: &mut Rng,
    ) -> usize {
        self.choose(|pos| {
            weight * prompt.saturating_sub(cached[pos]) as f64 + loads[candidates[pos]] as f64
        })
    }
}
