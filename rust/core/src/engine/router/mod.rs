//! Routers: which instance of a candidate set takes a request (the prefill stage chooses among the
//! instances that prefill, a prefill pool's finished prefills among the decode instances it links to).
//!
//! A router is one file here exporting `ENTRY` (a [`NewRouter`]) and one name in the `registry!` line.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::registry::{lookup, registry};
use crate::error::Result;

/// The run's random source, seeded by the run's seed; routers that draw share it, in pick order.
pub type Rng = ChaCha8Rng;

/// Chooses the instance that takes a request among a fixed set of candidates.
pub trait Router {
    /// Picks one of `candidates` (instance indices) given every instance's load `loads` (prompt and output
    /// tokens routed to it and not yet served); returns its position in `candidates`.
    fn pick(&mut self, candidates: &[usize], loads: &[u64], rng: &mut Rng) -> usize;

    /// Whether the router keeps its own view of the candidates' loads, kept current by `load_changed`.
    fn follows_loads(&self) -> bool {
        false
    }

    /// The load of the candidate at position `pos` is now `load`.
    fn load_changed(&mut self, _pos: usize, _load: u64) {}

    /// Whether the router weighs how much of a request's prompt each candidate has in its prefix cache;
    /// such a router is asked through `pick_cached` instead of `pick`.
    fn uses_prefixes(&self) -> bool {
        false
    }

    /// Picks one of `candidates` for a request of `prompt` prompt tokens, of which candidate `k` has
    /// `cached[k]` in its prefix cache; `weight` is the run's price of a prefill token against a token of
    /// load. Returns its position in `candidates`.
    fn pick_cached(
        &mut self,
        candidates: &[usize],
        loads: &[u64],
        _prompt: u64,
        _cached: &[u64],
        _weight: f64,
        rng: &mut Rng,
    ) -> usize {
        self.pick(candidates, loads, rng)
    }
}

/// Makes the router of a set of `candidates` instances.
pub type NewRouter = fn(candidates: usize) -> Box<dyn Router>;

registry!(NewRouter: round_robin, least_tokens, power_of_two, prefix_aware);

/// The router a run names in its column `col` (`prefill_router` or `decode_router`) of row `row`.
pub(crate) fn resolve(name: &str, col: &str, row: usize) -> Result<NewRouter> {
    lookup(REGISTRY, name, "runs", col, row)
}

/// A set of instances and the router that chooses among them.
struct Candidates {
    instances: Vec<usize>,
    router: Box<dyn Router>,
}

impl Candidates {
    fn new(instances: Vec<usize>, new: NewRouter) -> Candidates {
        let router = new(instances.len());
        Candidates { instances, router }
    }
}

/// The run's routing: the candidate sets, every instance's load, and the random source.
pub(crate) struct Routing {
    /// Instances that take new requests (mixed and prefill pools).
    prefill: Candidates,
    /// Per pool of the run: the decode instances its prefills may move to (prefill pools only).
    decode: Vec<Candidates>,
    loads: Vec<u64>,
    /// Per instance: the (set, position) pairs of the sets whose routers follow loads (set 0 = prefill set,
    /// 1 + pool = that pool's decode set).
    slots: Vec<Vec<(usize, usize)>>,
    rng: Rng,
    /// The prefix-aware router's weight, and its scratch of cached tokens per candidate.
    prefix_weight: f64,
    cached: Vec<u64>,
}

impl Routing {
    pub fn new(
        instances: usize,
        prefill: (Vec<usize>, NewRouter),
        decode: (Vec<Vec<usize>>, NewRouter),
        seed: u64,
        prefix_weight: f64,
    ) -> Routing {
        let prefill = Candidates::new(prefill.0, prefill.1);
        let decode: Vec<Candidates> = decode
            .0
            .into_iter()
            .map(|set| Candidates::new(set, decode.1))
            .collect();
        let mut slots = vec![Vec::new(); instances];
        for (set_id, set) in std::iter::once(&prefill).chain(decode.iter()).enumerate() {
            if set.router.follows_loads() {
                for (pos, &i) in set.instances.iter().enumerate() {
                    slots[i].push((set_id, pos));
                }
            }
        }
        Routing {
            prefill,
            decode,
            loads: vec![0; instances],
            slots,
            rng: Rng::seed_from_u64(seed),
            prefix_weight,
            cached: Vec::new(),
        }
    }

    /// The instance that takes a new request (or one going back to prefill) of `prompt` tokens;
    /// `cached(i)` tells how many of them instance `i` has in its prefix cache (asked only of routers
    /// that use it).
    pub fn pick_prefill(&mut self, prompt: u64, cached: &mut dyn FnMut(usize) -> u64) -> usize {
        pick_in(
            &mut self.prefill,
            &self.loads,
            &mut self.cached,
            self.prefix_weight,
            &mut self.rng,
            prompt,
            cached,
        )
    }

    /// The decode instance a request of `prompt` tokens prefilled in pool `pool` moves to (`cached` as for
    /// `pick_prefill`: a decode instance's own cache saves part of the transfer).
    pub fn pick_decode(
        &mut self,
        pool: usize,
        prompt: u64,
        cached: &mut dyn FnMut(usize) -> u64,
    ) -> usize {
        let set = &mut self.decode[pool];
        pick_in(
            set,
            &self.loads,
            &mut self.cached,
            self.prefix_weight,
            &mut self.rng,
            prompt,
            cached,
        )
    }

    pub fn add_load(&mut self, i: usize, tokens: u64) {
        self.loads[i] += tokens;
        self.load_changed(i);
    }

    pub fn remove_load(&mut self, i: usize, tokens: u64) {
        self.loads[i] -= tokens;
        self.load_changed(i);
    }

    fn load_changed(&mut self, i: usize) {
        let load = self.loads[i];
        for &(set_id, pos) in &self.slots[i] {
            let set = if set_id == 0 {
                &mut self.prefill
            } else {
                &mut self.decode[set_id - 1]
            };
            set.router.load_changed(pos, load);
        }
    }
}

/// The instance of `set` that takes a request of `prompt` tokens: a prefix-aware router is first told how
/// much of it each candidate has cached (`cached`, gathered into the scratch `buf`).
fn pick_in(
    set: &mut Candidates,
    loads: &[u64],
    buf: &mut Vec<u64>,
    weight: f64,
    rng: &mut Rng,
    prompt: u64,
    cached: &mut dyn FnMut(usize) -> u64,
) -> usize {
    let pos = if set.router.uses_prefixes() {
        buf.clear();
        buf.extend(set.instances.iter().map(|&i| cached(i)));
        set.router
            .pick_cached(&set.instances, loads, prompt, buf, weight, rng)
    } else {
        set.router.pick(&set.instances, loads, rng)
    };
    set.instances[pos]
}
