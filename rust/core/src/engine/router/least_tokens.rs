//! The `least_tokens` router: the candidate with the fewest outstanding tokens (prompt and output tokens
//! not yet served); among equals, the one picked longest ago.

use super::{NewRouter, Rng, Router};

pub(super) const ENTRY: NewRouter = |n| Box::new(LeastTokens::new(n));

/// A tournament (segment) tree over positions `0..n` holding keys `(load, last picked)`; the root names the
/// position with the smallest key. A pick is O(1) and a load change O(log n), even with thousands of
/// instances.
struct LeastTokens {
    leaves: usize,
    keys: Vec<(u64, u64)>,
    /// Node `k` holds the winning position of its subtree; leaves start at `leaves`.
    node: Vec<u32>,
    picks: u64,
}

impl LeastTokens {
    fn new(n: usize) -> LeastTokens {
        let leaves = n.next_power_of_two().max(1);
        let mut keys = vec![(u64::MAX, u64::MAX); leaves];
        // Never-picked instances tie at (0, 0); equal keys go to the lower position.
        for key in keys.iter_mut().take(n) {
            *key = (0, 0);
        }
        let mut node = vec![0u32; 2 * leaves];
        for k in 0..leaves {
            node[leaves + k] = k as u32;
        }
        let mut t = LeastTokens {
            leaves,
            keys,
            node,
            picks: 0,
        };
        for k in (1..leaves).rev() {
            t.node[k] = t.better(t.node[2 * k], t.node[2 * k + 1]);
        }
        t
    }

    fn better(&self, a: u32, b: u32) -> u32 {
        if self.keys[b as usize] < self.keys[a as usize] {
            b
        } else {
            a
        }
    }

    fn set(&mut self, pos: usize, key: (u64, u64)) {
        self.keys[pos] = key;
        let mut k = (self.leaves + pos) / 2;
        while k >= 1 {
            self.node[k] = self.better(self.node[2 * k], self.node[2 * k + 1]);
            k /= 2;
        }
    }
}

impl Router for LeastTokens {
    fn pick(&mut self, _candidates: &[usize], _loads: &[u64], _rng: &mut Rng) -> usize {
        let pos = self.node[1] as usize;
        self.picks += 1;
        self.set(pos, (self.keys[pos].0, self.picks));
        pos
    }

    fn follows_loads(&self) -> bool {
        true
    }

    fn load_changed(&mut self, pos: usize, load: u64) {
        let last = self.keys[pos].1;
        self.set(pos, (load, last));
    }
}
