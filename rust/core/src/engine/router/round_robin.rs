//! The `round_robin` router: the candidates in turn.

use super::{NewRouter, Rng, Router};

pub(super) const ENTRY: NewRouter = |_| Box::new(RoundRobin { next: 0 });

struct RoundRobin {
    next: usize,
}

impl Router for RoundRobin {
    fn pick(&mut self, candidates: &[usize], _loads: &[u64], _rng: &mut Rng) -> usize {
        let n = candidates.len();
        let pos = self.next % n;
        self.next = (self.next + 1) % n;
        pos
    }
}
