//! The `power_of_two` router: two candidates drawn at random (seeded), the one with fewer outstanding
//! tokens wins.

use rand::RngExt;

use super::{NewRouter, Rng, Router};

pub(super) const ENTRY: NewRouter = |_| Box::new(PowerOfTwo);

struct PowerOfTwo;

impl Router for PowerOfTwo {
    fn pick(&mut self, candidates: &[usize], loads: &[u64], rng: &mut Rng) -> usize {
        let n = candidates.len();
        if n == 1 {
            return 0;
        }
        let a = rng.random_range(0..n);
        let mut b = rng.random_range(0..n - 1);
        if b >= a {
            b += 1;
        }
        // The first draw wins ties, so ties go to a random instance.
        if loads[candidates[b]] < loads[candidates[a]] {
            b
        } else {
            a
        }
    }
}
