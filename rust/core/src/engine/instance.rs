//! One instance's state: its queues, its KV cache, and the aggregates that describe its decode set.
//!
//! A decoding request is described by where it joined the decode set (context `c0` at decode round `r0`),
//! so its context, tokens generated and KV blocks at any later round follow arithmetically. The instance
//! keeps only aggregates — number of decoders, sum of their contexts, how many of them cross a KV-block
//! boundary in each round phase — and a heap of finishing rounds, so a step costs O(requests that start,
//! finish or move in it), not O(batch size). A model with sliding-window layers adds the same aggregates
//! for the decoders whose context is still inside the window, and the rounds at which they reach it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use super::frontend::Frontend;
use super::kv_cache::KvCache;
use super::recv::Inbox;
use super::request::{Phase, Req};
use crate::cost::StepStats;
use crate::plan::{Model, Pool, Prefixes, Role};

/// The decoders whose context is shorter than the sliding window: their windowed KV still grows.
#[derive(Default)]
struct InWindow {
    n: u64,
    ctx_sum: u64,
    /// Of them, by the round phase at which they need a new block (as `Instance::bucket`).
    bucket: Vec<u64>,
    /// How many reach the window (context = window) at each round.
    exits: BTreeMap<u64, u64>,
}

pub(crate) struct Instance {
    /// The pool, as an index into the plan's pools and among the run's pools.
    pub pool: usize,
    pub local_pool: usize,
    /// Index of the instance within its pool.
    pub index: u32,
    pub role: Role,
    pub max_batch: u64,
    pub max_batched_tokens: u64,
    chunked: bool,
    pub max_queue: u64,
    pub queue_timeout_s: f64,
    pub kv: KvCache,
    waiting: VecDeque<u32>,
    /// The priority of each entry of `waiting`, which is kept sorted by it (lowest first).
    waiting_prio: VecDeque<u32>,
    /// Requests in `waiting` that are still waiting (timed-out entries leave lazily).
    pub waiting_live: u64,
    pub prefilling: VecDeque<u32>,
    /// Prefilled requests waiting for KV blocks here (decode instances).
    pub incoming: VecDeque<u32>,
    /// KV caches that arrived while a step was running: they join the decode set when it ends, so they are
    /// not counted in a decode round they took no part in.
    pub joining: Vec<u32>,
    pub n_dec: u64,
    dec_ctx_sum: u64,
    /// Decoders by the round phase at which they need a new KV block.
    bucket: Vec<u64>,
    /// The sliding window in tokens (0: none) and the decoders still inside it.
    window: u64,
    in_window: InWindow,
    finish_heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    pub round: u64,
    /// End time of every decode round (kept only for token emission times).
    pub round_end: Vec<f64>,
    pub busy: bool,
    pub wake_pending: bool,
    pub step_decodes: u64,
    /// The running step's prefill chunks: (request, tokens).
    pub chunks: Vec<(u32, u32)>,
    pub steps: u64,
    pub busy_s: f64,
    /// Energy of the instance's steps (static and dynamic while busy), joules.
    pub busy_energy_j: f64,
    /// Arrivals the scheduler has not taken in yet (pool column `recv_interval`).
    pub inbox: Inbox,
    /// What arrivals pass through before the scheduler sees them (pool column `frontend_per_token_s`).
    pub frontend: Frontend,
    /// Whether a request this (prefill) instance hands on has its first token delivered by the decode side.
    pub first_token_at_decode: bool,
}

impl Instance {
    pub fn new(
        pool_index: usize,
        local_pool: usize,
        index: u32,
        pool: &Pool,
        model: &Model,
    ) -> Instance {
        let window = model.kv.window;
        Instance {
            pool: pool_index,
            local_pool,
            index,
            role: pool.role,
            max_batch: pool.max_batch,
            max_batched_tokens: pool.max_batched_tokens,
            chunked: pool.chunked_prefill,
            max_queue: pool.max_queue,
            queue_timeout_s: pool.queue_timeout_s,
            kv: KvCache::new(
                pool.block_size,
                pool.kv_blocks,
                model.kv,
                pool.state_blocks,
                pool.prefix_cache_blocks,
            ),
            waiting: VecDeque::new(),
            waiting_prio: VecDeque::new(),
            waiting_live: 0,
            prefilling: VecDeque::new(),
            incoming: VecDeque::new(),
            joining: Vec::new(),
            n_dec: 0,
            dec_ctx_sum: 0,
            bucket: vec![0; pool.block_size as usize],
            window,
            in_window: InWindow {
                bucket: if window > 0 {
                    vec![0; pool.block_size as usize]
                } else {
                    Vec::new()
                },
                ..InWindow::default()
            },
            finish_heap: BinaryHeap::new(),
            round: 0,
            round_end: Vec::new(),
            busy: false,
            wake_pending: false,
            step_decodes: 0,
            chunks: Vec::new(),
            steps: 0,
            busy_s: 0.0,
            busy_energy_j: 0.0,
            inbox: Inbox::new(pool.recv_interval),
            frontend: Frontend::new(pool.frontend_per_token_s, pool.frontend_workers),
            first_token_at_decode: pool.first_token_at_decode,
        }
    }

    fn phase_of(&self, c0: u64, r0: u64) -> usize {
        let bs = self.kv.block_size;
        (((r0 % bs) + bs - (c0 % bs)) % bs) as usize
    }

    /// Queues request `r` of priority `priority` for prefill: behind every waiting request of the same or a
    /// lower priority number, or, when it is being recomputed (`front`), ahead of those of its own. The
    /// queue stays sorted by priority, so with one priority this is exactly first-come first-served with
    /// recomputed requests at the head.
    pub fn enqueue(&mut self, r: u32, priority: u32, front: bool) {
        self.waiting_live += 1;
        let at = if front {
            self.waiting_prio.partition_point(|&p| p < priority)
        } else {
            self.waiting_prio.partition_point(|&p| p <= priority)
        };
        self.waiting.insert(at, r);
        self.waiting_prio.insert(at, priority);
    }

    /// Takes the head of the waiting queue.
    fn pop_waiting(&mut self) {
        self.waiting.pop_front();
        self.waiting_prio.pop_front();
    }

    /// Pops queue entries of requests that timed out while waiting.
    fn drop_stale_head(&mut self, reqs: &[Req]) {
        while let Some(&h) = self.waiting.front() {
            if reqs[h as usize].phase != Phase::Rejected {
                break;
            }
            self.pop_waiting();
        }
    }

    /// Whether a prefill chunk could be scheduled now with the full token budget.
    pub fn can_prefill(&mut self, reqs: &[Req], prefixes: &Prefixes) -> bool {
        self.drop_stale_head(reqs);
        if !self.prefilling.is_empty() {
            return true;
        }
        match self.waiting.front() {
            None => false,
            Some(&h) => {
                let req = &reqs[h as usize];
                let len = req.prompt as u64 + req.generated as u64;
                let hit = self.kv.lookup(prefixes.of(h as usize), len);
                self.kv.running() < self.max_batch
                    && self.kv.blocks_for(len).saturating_sub(hit.blocks)
                        <= self.kv.available_with(&hit)
                    && (self.chunked || len - hit.tokens <= self.max_batched_tokens)
            }
        }
    }

    /// Adds request `r` (this instance is `i`), whose context of `prefill_len` tokens is in this
    /// instance's KV cache, to the decode set. Returns the round it joins at.
    pub fn join_decode(&mut self, i: u32, r: u32, req: &mut Req) -> u64 {
        let (c0, g0, output) = (req.prefill_len as u64, req.generated, req.output);
        let r0 = self.round;
        let ph = self.phase_of(c0, r0);
        self.bucket[ph] += 1;
        self.n_dec += 1;
        self.dec_ctx_sum += c0;
        if c0 < self.window {
            let w = &mut self.in_window;
            w.n += 1;
            w.ctx_sum += c0;
            w.bucket[ph] += 1;
            *w.exits.entry(r0 + self.window - c0).or_insert(0) += 1;
        }
        let seq = self.kv.admit(r);
        let rf = r0 + (output - 1 - g0) as u64;
        req.phase = Phase::Decoding;
        req.instance = i;
        req.decode_instance = i;
        req.seq = seq;
        req.c0 = c0;
        req.r0 = r0;
        req.g0 = g0;
        self.finish_heap.push(Reverse((rf, r, req.epoch)));
        r0
    }

    /// A decoding request's context now, in tokens.
    pub fn context(&self, req: &Req) -> u64 {
        req.c0 + (self.round - req.r0)
    }

    /// Removes a decoding request from the decode aggregates; returns its KV blocks.
    pub fn leave_decode(&mut self, req: &Req) -> u64 {
        let ctx = req.c0 + (self.round - req.r0);
        let ph = self.phase_of(req.c0, req.r0);
        self.bucket[ph] -= 1;
        self.n_dec -= 1;
        self.dec_ctx_sum -= ctx;
        if ctx < self.window {
            let w = &mut self.in_window;
            w.n -= 1;
            w.ctx_sum -= ctx;
            w.bucket[ph] -= 1;
            let exit = req.r0 + self.window - req.c0;
            let left = w
                .exits
                .get_mut(&exit)
                .expect("a decoder inside the window has an exit");
            *left -= 1;
            if *left == 0 {
                w.exits.remove(&exit);
            }
        }
        self.kv.blocks_for(ctx)
    }

    /// New KV blocks the next decode round needs: for every decoder whose context sits on a block
    /// boundary, one per full-attention group, and one per sliding-window group while it is inside the window.
    pub fn round_blocks(&self) -> u64 {
        let p = (self.round % self.kv.block_size) as usize;
        let full = self.kv.shape.full_groups * self.bucket[p];
        if self.window == 0 {
            return full;
        }
        full + self.kv.shape.window_groups * self.in_window.bucket[p]
    }

    /// Takes the next decode round's blocks and adds one decode token per decoder to `stats`; returns the
    /// number of decoders.
    pub fn take_decode_round(&mut self, stats: &mut StepStats) -> u64 {
        let need = self.round_blocks();
        self.kv.take(need);
        let n_dec = self.n_dec;
        stats.tokens += n_dec as f64;
        stats.sampled += n_dec as f64;
        stats.attn_pairs += (self.dec_ctx_sum + n_dec) as f64;
        stats.kv_read_tokens += (self.dec_ctx_sum + n_dec) as f64;
        stats.seqs += n_dec as f64;
        if self.window > 0 {
            // A decoder inside the window attends its context and the new token; one past it, the window.
            let w = &self.in_window;
            let pairs = (w.ctx_sum + w.n + self.window * (n_dec - w.n)) as f64;
            stats.win_attn_pairs += pairs;
            stats.win_kv_read_tokens += pairs;
        }
        n_dec
    }

    /// Fills `budget` tokens of the next step (this instance is `i`, the time `t`) with prefill chunks into
    /// `chunks`: admitted prefills continue in admission order, then requests are admitted from the queue
    /// head (FCFS) while blocks and batch room last. A request starts from the longest prefix of its prompt
    /// in the prefix cache (`prefixes`): those tokens are not computed but are attended to. Adds the chunks to
    /// `stats`; returns the prefill tokens.
    pub fn form_prefill(
        &mut self,
        i: u32,
        reqs: &mut [Req],
        prefixes: &Prefixes,
        mut budget: u64,
        t: f64,
        stats: &mut StepStats,
    ) -> u64 {
        let mut chunks = std::mem::take(&mut self.chunks);
        chunks.clear();
        for &r in self.prefilling.iter() {
            if budget == 0 {
                break;
            }
            let req = &reqs[r as usize];
            let c = ((req.prefill_len - req.prefilled) as u64).min(budget);
            chunks.push((r, c as u32));
            budget -= c;
        }
        loop {
            if budget == 0 || self.kv.running() >= self.max_batch {
                break;
            }
            self.drop_stale_head(reqs);
            let Some(&h) = self.waiting.front() else {
                break;
            };
            let req = &reqs[h as usize];
            let len = req.prompt as u64 + req.generated as u64;
            let hit = self.kv.lookup(prefixes.of(h as usize), len);
            let blocks = self.kv.blocks_for(len).saturating_sub(hit.blocks);
            if blocks > self.kv.available_with(&hit) || (!self.chunked && len - hit.tokens > budget)
            {
                break;
            }
            self.pop_waiting();
            self.waiting_live -= 1;
            if hit.node != super::request::NONE {
                self.kv.prefix.acquire(hit.node);
            }
            self.kv.take(blocks);
            if self.kv.prefix.enabled() {
                self.kv.prefix.lookup_tokens += len;
                self.kv.prefix.hit_tokens += hit.tokens;
            }
            let seq = self.kv.admit(h);
            self.prefilling.push_back(h);
            let req = &mut reqs[h as usize];
            req.phase = Phase::Prefilling;
            req.seq = seq;
            req.prefill_len = len as u32;
            req.prefilled = hit.tokens as u32;
            req.cached_tokens += hit.tokens;
            req.node = hit.node;
            req.node_segs = hit.segs as u32;
            req.prefill_instance = i;
            if req.first_sched.is_nan() {
                req.first_sched = t;
            }
            let c = (len - hit.tokens).min(budget);
            chunks.push((h, c as u32));
            budget -= c;
        }
        let mut prefill_tokens = 0u64;
        for &(r, c) in &chunks {
            let req = &reqs[r as usize];
            let (p, c) = (req.prefilled as f64, c as f64);
            prefill_tokens += c as u64;
            stats.tokens += c;
            stats.attn_pairs += c * p + c * (c + 1.0) / 2.0;
            stats.kv_read_tokens += p + c;
            stats.seqs += 1.0;
            if self.window > 0 {
                let w = self.window as f64;
                stats.win_attn_pairs += window_pairs(p + c, w) - window_pairs(p, w);
                // The chunk's first query looks back `window - 1` tokens before itself.
                stats.win_kv_read_tokens += (p + c).min(w + c - 1.0);
            }
            if req.prefilled + c as u32 == req.prefill_len {
                stats.sampled += 1.0;
            }
        }
        self.chunks = chunks;
        prefill_tokens
    }

    /// Ends a decode round at `t`; returns the round that ended.
    pub fn end_round(&mut self, t: f64, keep_time: bool) -> u64 {
        let r = self.round;
        if keep_time {
            self.round_end.push(t);
        }
        self.dec_ctx_sum += self.n_dec;
        self.round += 1;
        if self.window > 0 {
            let w = &mut self.in_window;
            w.ctx_sum += w.n;
            if let Some(k) = w.exits.remove(&self.round) {
                // Their context is now the window: their windowed KV stops growing.
                let bs = self.kv.block_size;
                let ph = ((self.round % bs) + bs - (self.window % bs)) % bs;
                w.n -= k;
                w.ctx_sum -= k * self.window;
                w.bucket[ph as usize] -= k;
            }
        }
        r
    }

    /// The next request whose last token came at the end of `round` (entries of requests preempted since
    /// they joined are dropped on the way).
    pub fn pop_finished(&mut self, round: u64, reqs: &[Req]) -> Option<u32> {
        while let Some(&Reverse((rf, r, epoch))) = self.finish_heap.peek() {
            if rf != round {
                break;
            }
            self.finish_heap.pop();
            let req = &reqs[r as usize];
            if req.epoch != epoch || req.phase != Phase::Decoding {
                continue;
            }
            return Some(r);
        }
        None
    }
}

/// Query–key pairs of the first `n` queries of a sequence under a sliding window of `w` tokens: query `j`
/// scores `min(j, w)` keys.
fn window_pairs(n: f64, w: f64) -> f64 {
    if n <= w {
        n * (n + 1.0) / 2.0
    } else {
        w * (w + 1.0) / 2.0 + (n - w) * w
    }
}
