//! The discrete-event, iteration-level serving engine.
//!
//! Each instance runs engine steps back to back while it has work. A step batches one decode token for
//! every running decoding request with prefill chunks of admitted requests, up to the pool's token budget;
//! the cost model prices it; at its end every decoding request emits one token and every prefill that
//! completes emits its first token.
//!
//! Pools have roles. A request is routed to a prefill-capable instance (mixed or prefill). On a mixed
//! instance it then decodes in place. On a prefill instance its KV cache moves to a decode instance over the
//! link between the two pools: the decode instance first reserves KV blocks for it (while none are free the
//! request waits, still holding its blocks on the prefill side — back-pressure), then the transfer queues on
//! the link, which serves transfers one after another at its bandwidth, plus the link latency.
//!
//! The hot loop avoids per-token work: a decoding request is described by where it joined the decode set
//! (context `c0` at decode round `r0`), so its context, tokens generated and KV blocks at any later round
//! follow arithmetically. Each instance keeps only aggregates — number of decoders, sum of their contexts,
//! how many of them cross a KV-block boundary in each round phase — and a heap of finishing rounds. A step
//! therefore costs O(requests that start, finish or move in it), not O(batch size).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cost::{StepCost, StepStats};
use crate::error::{InferaError, Result};
use crate::plan::{ArrivalKind, Metric, Plan, Role, Router, SchedulePolicy};

const NONE: u32 = u32::MAX;

/// What the engine records besides per-request results.
#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    /// Keep one row per request (the `requests` table). Without it only per-run statistics are returned,
    /// so a run of tens of millions of requests needs no per-request output memory.
    pub requests: bool,
    /// Keep one row per engine step (the `iterations` table).
    pub iterations: bool,
    /// Keep each request's token emission times to report its TPOT percentile.
    pub token_stats: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            requests: true,
            iterations: true,
            token_stats: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotIssued,
    Waiting,
    Prefilling,
    /// Prefilled on a prefill instance; waiting for KV blocks on its decode instance.
    PendingTransfer,
    /// KV cache on the link.
    Transferring,
    Decoding,
    Done,
    Rejected,
}

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Finished,
    /// Its instance's queue held `max_queue` requests when it arrived.
    QueueFull,
    /// It waited longer than `queue_timeout` without being admitted.
    Timeout,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Finished => "finished",
            Status::QueueFull => "rejected_queue_full",
            Status::Timeout => "rejected_timeout",
        }
    }
}

/// Per-request state. Static fields come from the workload; the rest changes as it is served.
#[derive(Debug, Clone)]
struct Req {
    prompt: u32,
    output: u32,
    arrival: f64,
    /// The instance it is queued on, running on, or being transferred to.
    instance: u32,
    prefill_instance: u32,
    decode_instance: u32,
    phase: Phase,
    status: Status,
    /// Tokens emitted so far (while decoding, as of joining the decode set: see `g0`).
    generated: u32,
    /// Length of the current prefill (prompt, plus generated tokens when recomputing after preemption).
    prefill_len: u32,
    prefilled: u32,
    /// Decode-set entry: context `c0` at round `r0`, with `g0` tokens generated.
    c0: u64,
    r0: u64,
    g0: u32,
    /// Admission order on its instance; the newest is preempted first.
    seq: u64,
    /// Bumped on preemption so stale finish-heap entries are ignored.
    epoch: u32,
    /// KV blocks still held on the prefill instance while the cache waits for or crosses the link.
    src_blocks: u32,
    /// Tokens charged to `charge_inst` for the least-tokens routers.
    charge: u64,
    charge_inst: u32,
    first_sched: f64,
    first_token: f64,
    finish: f64,
    kv_ready: f64,
    transfer_start: f64,
    kv_wait_s: f64,
    kv_transfer_s: f64,
    transfers: u32,
    prefills: u32,
    preemptions: u32,
    piece_head: u32,
    piece_tail: u32,
    open_piece: u32,
}

/// A run of token emissions of one request: a single time, or decode rounds `[a, b)` of one instance.
#[derive(Debug, Clone, Copy)]
struct Piece {
    time: f64,
    instance: u32,
    a: u64,
    b: u64,
    next: u32,
}

struct Instance {
    pool: usize,
    /// Index of the pool among the run's pools.
    local_pool: usize,
    role: Role,
    cost: usize,
    max_batch: u64,
    max_batched_tokens: u64,
    block_size: u64,
    total_blocks: u64,
    free_blocks: u64,
    chunked: bool,
    policy: SchedulePolicy,
    max_queue: u64,
    queue_timeout_s: f64,
    waiting: VecDeque<u32>,
    /// Requests in `waiting` that are still waiting (timed-out entries leave lazily).
    waiting_live: u64,
    prefilling: VecDeque<u32>,
    running: BTreeMap<u64, u32>,
    /// Prefilled requests waiting for KV blocks here (decode instances).
    incoming: VecDeque<u32>,
    /// Requests whose KV cache is on the link towards this instance (their blocks are reserved).
    reserved: u64,
    /// KV caches that arrived while a step was running: they join the decode set when it ends, so they are
    /// not counted in a decode round they took no part in.
    joining: Vec<u32>,
    next_seq: u64,
    n_dec: u64,
    dec_ctx_sum: u64,
    /// Decoders by the round phase at which they need a new KV block.
    bucket: Vec<u64>,
    finish_heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    round: u64,
    round_end: Vec<f64>,
    busy: bool,
    wake_pending: bool,
    step_decodes: u64,
    chunks: Vec<(u32, u32)>,
    steps: u64,
    outstanding_tokens: u64,
}

impl Instance {
    fn phase_of(&self, c0: u64, r0: u64) -> usize {
        let bs = self.block_size;
        (((r0 % bs) + bs - (c0 % bs)) % bs) as usize
    }
}

/// A link between two pools: one channel, transfers served in order.
struct LinkState {
    src_pool: usize,
    dst_pool: usize,
    bandwidth: f64,
    latency_s: f64,
    busy_until: f64,
}

/// A set of instances a router chooses among.
struct Candidates {
    instances: Vec<usize>,
    rr_next: usize,
    /// For the least-tokens router: a tournament tree over the set, so a pick is O(1) and a load change
    /// O(log n) even with thousands of instances.
    tree: Option<MinTree>,
}

/// A tournament (segment) tree over positions `0..n` holding keys `(load, last picked)`; the root names the
/// position with the smallest key: the least loaded instance, and among equals the one picked longest ago.
struct MinTree {
    leaves: usize,
    keys: Vec<(u64, u64)>,
    /// Node `k` holds the winning position of its subtree; leaves start at `leaves`.
    node: Vec<u32>,
}

impl MinTree {
    fn new(n: usize) -> MinTree {
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
        let mut t = MinTree { leaves, keys, node };
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

    fn best(&self) -> usize {
        self.node[1] as usize
    }
}

/// Event classes, ordered for simultaneous events: step ends first, then transfer ends, then queue
/// timeouts, then arrivals, then idle instances waking, so everything that happens at one instant is seen by the step it triggers.
const EV_STEP_END: u8 = 0;
const EV_TRANSFER_END: u8 = 1;
const EV_TIMEOUT: u8 = 2;
const EV_ARRIVAL: u8 = 3;
const EV_WAKE: u8 = 4;

/// Per-request output columns.
#[derive(Default)]
pub struct RequestRows {
    pub run: Vec<u32>,
    pub status: Vec<Status>,
    pub request_id: Vec<u64>,
    pub prefill_pool: Vec<u32>,
    pub prefill_instance: Vec<u32>,
    pub decode_pool: Vec<u32>,
    pub decode_instance: Vec<u32>,
    pub arrival_s: Vec<f64>,
    pub first_scheduled_s: Vec<f64>,
    pub first_token_s: Vec<f64>,
    pub finish_s: Vec<f64>,
    pub prompt_tokens: Vec<u32>,
    pub output_tokens: Vec<u32>,
    pub kv_wait_s: Vec<f64>,
    pub kv_transfer_s: Vec<f64>,
    pub prefills: Vec<u32>,
    pub transfers: Vec<u32>,
    pub preemptions: Vec<u32>,
    pub tpot_mean_s: Vec<Option<f64>>,
    pub tpot_p99_s: Vec<Option<f64>>,
    pub slo_met: Vec<bool>,
}

#[derive(Default)]
pub struct IterationRows {
    pub run: Vec<u32>,
    pub pool: Vec<u32>,
    pub instance: Vec<u32>,
    pub step: Vec<u64>,
    pub start_s: Vec<f64>,
    pub duration_s: Vec<f64>,
    pub batch_size: Vec<u32>,
    pub prefill_tokens: Vec<u32>,
    pub decode_tokens: Vec<u32>,
    pub kv_blocks_used: Vec<u32>,
    pub energy_j: Vec<f64>,
}

/// Per-instance facts for the `instances` table.
#[derive(Default)]
pub struct InstanceRows {
    pub run: Vec<u32>,
    pub pool: Vec<u32>,
    pub instance: Vec<u32>,
    pub kv_blocks: Vec<u64>,
    pub steps: Vec<u64>,
    pub busy_s: Vec<f64>,
    /// Energy of the instance's steps (static and dynamic while busy), joules.
    pub busy_energy_j: Vec<f64>,
}

struct Sim<'p> {
    plan: &'p Plan,
    run_idx: usize,
    opts: SimOptions,
    reqs: Vec<Req>,
    pieces: Vec<Piece>,
    insts: Vec<Instance>,
    /// Index of each instance within its pool.
    inst_local: Vec<u32>,
    costs: Vec<StepCost>,
    links: Vec<LinkState>,
    /// Instances that take new requests (mixed and prefill pools).
    prefill_set: Candidates,
    /// Per local pool: the decode instances its prefills may move to (prefill pools only).
    decode_sets: Vec<Candidates>,
    rng: ChaCha8Rng,
    /// Per instance: the (set, position) pairs of the least-tokens trees it is in (set 0 = prefill set,
    /// 1 + pool = that pool's decode set).
    tree_slots: Vec<Vec<(usize, usize)>>,
    picks: u64,
    kv_bytes_per_token: f64,
    heap: BinaryHeap<Reverse<(u64, u8, u64, u32)>>,
    next_event_seq: u64,
    closed_next: usize,
    busy_s: Vec<f64>,
    busy_energy_j: Vec<f64>,
    iter_rows: IterationRows,
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

/// Order-preserving key of a non-negative time.
fn time_key(t: f64) -> u64 {
    t.max(0.0).to_bits()
}

impl<'p> Sim<'p> {
    fn new(plan: &'p Plan, run_idx: usize, opts: SimOptions) -> Sim<'p> {
        let run = &plan.runs[run_idx];
        // What the caller asks for, narrowed by what the run itself asks to keep; token times only serve
        // per-request rows.
        let requests = opts.requests && run.keep.requests;
        let opts = SimOptions {
            requests,
            iterations: opts.iterations && run.keep.iterations,
            token_stats: opts.token_stats && run.keep.token_stats && requests,
        };
        let wl = &plan.workloads[run.workload];
        let model = &plan.models[run.model];
        let mut insts = Vec::new();
        let mut inst_local = Vec::new();
        let mut costs = Vec::new();
        let mut pool_ranges = Vec::new();
        for (local, &pi) in run.pools.iter().enumerate() {
            let pool = &plan.pools[pi];
            costs.push(StepCost::new(model, &plan.chips[pool.chip], pool));
            let start = insts.len();
            for k in 0..pool.instances {
                insts.push(Instance {
                    pool: pi,
                    local_pool: local,
                    role: pool.role,
                    cost: costs.len() - 1,
                    max_batch: pool.max_batch,
                    max_batched_tokens: pool.max_batched_tokens,
                    block_size: pool.block_size,
                    total_blocks: pool.kv_blocks,
                    free_blocks: pool.kv_blocks,
                    chunked: pool.chunked_prefill,
                    policy: pool.policy,
                    max_queue: pool.max_queue,
                    queue_timeout_s: pool.queue_timeout_s,
                    waiting: VecDeque::new(),
                    waiting_live: 0,
                    prefilling: VecDeque::new(),
                    running: BTreeMap::new(),
                    incoming: VecDeque::new(),
                    reserved: 0,
                    joining: Vec::new(),
                    next_seq: 0,
                    n_dec: 0,
                    dec_ctx_sum: 0,
                    bucket: vec![0; pool.block_size as usize],
                    finish_heap: BinaryHeap::new(),
                    round: 0,
                    round_end: Vec::new(),
                    busy: false,
                    wake_pending: false,
                    step_decodes: 0,
                    chunks: Vec::new(),
                    steps: 0,
                    outstanding_tokens: 0,
                });
                inst_local.push(k as u32);
            }
            pool_ranges.push(start..insts.len());
        }
        let local_of = |pi: usize| {
            run.pools
                .iter()
                .position(|&p| p == pi)
                .expect("link pools belong to the run")
        };
        let links: Vec<LinkState> = run
            .links
            .iter()
            .map(|&l| {
                let link = &plan.links[l];
                LinkState {
                    src_pool: local_of(link.src),
                    dst_pool: local_of(link.dst),
                    bandwidth: link.bandwidth,
                    latency_s: link.latency_s,
                    busy_until: 0.0,
                }
            })
            .collect();
        let candidates = |instances: Vec<usize>, router: Router| {
            let tree = (router == Router::LeastTokens).then(|| MinTree::new(instances.len()));
            Candidates {
                instances,
                rr_next: 0,
                tree,
            }
        };
        let prefill_set = candidates(
            (0..insts.len())
                .filter(|&i| insts[i].role.prefills())
                .collect(),
            run.prefill_router,
        );
        let decode_sets: Vec<Candidates> = (0..run.pools.len())
            .map(|local| {
                candidates(
                    links
                        .iter()
                        .filter(|l| {
                            l.src_pool == local
                                && plan.pools[run.pools[l.dst_pool]].role == Role::Decode
                        })
                        .flat_map(|l| pool_ranges[l.dst_pool].clone())
                        .collect(),
                    run.decode_router,
                )
            })
            .collect();
        let mut tree_slots = vec![Vec::new(); insts.len()];
        for (set_id, set) in std::iter::once(&prefill_set)
            .chain(decode_sets.iter())
            .enumerate()
        {
            if set.tree.is_some() {
                for (pos, &i) in set.instances.iter().enumerate() {
                    tree_slots[i].push((set_id, pos));
                }
            }
        }
        let reqs = (0..wl.prompt_tokens.len())
            .map(|i| Req {
                prompt: wl.prompt_tokens[i],
                output: wl.output_tokens[i],
                arrival: wl.arrival_s[i],
                instance: NONE,
                prefill_instance: NONE,
                decode_instance: NONE,
                phase: Phase::NotIssued,
                status: Status::Finished,
                generated: 0,
                prefill_len: 0,
                prefilled: 0,
                c0: 0,
                r0: 0,
                g0: 0,
                seq: 0,
                epoch: 0,
                src_blocks: 0,
                charge: 0,
                charge_inst: NONE,
                first_sched: f64::NAN,
                first_token: f64::NAN,
                finish: f64::NAN,
                kv_ready: f64::NAN,
                transfer_start: f64::NAN,
                kv_wait_s: 0.0,
                kv_transfer_s: 0.0,
                transfers: 0,
                prefills: 0,
                preemptions: 0,
                piece_head: NONE,
                piece_tail: NONE,
                open_piece: NONE,
            })
            .collect();
        let n_inst = insts.len();
        Sim {
            plan,
            run_idx,
            opts,
            reqs,
            pieces: Vec::new(),
            insts,
            inst_local,
            costs,
            links,
            prefill_set,
            decode_sets,
            rng: ChaCha8Rng::seed_from_u64(run.seed),
            tree_slots,
            picks: 0,
            kv_bytes_per_token: model.kv_bytes_per_token,
            heap: BinaryHeap::new(),
            next_event_seq: 0,
            closed_next: 0,
            busy_s: vec![0.0; n_inst],
            busy_energy_j: vec![0.0; n_inst],
            iter_rows: IterationRows::default(),
        }
    }

    fn push_event(&mut self, t: f64, class: u8, idx: u32) {
        self.next_event_seq += 1;
        self.heap
            .push(Reverse((time_key(t), class, self.next_event_seq, idx)));
    }

    /// Makes an idle instance look for work at time `t`, after every other event of that instant.
    fn wake(&mut self, i: usize, t: f64) {
        let inst = &mut self.insts[i];
        if !inst.busy && !inst.wake_pending {
            inst.wake_pending = true;
            self.push_event(t, EV_WAKE, i as u32);
        }
    }

    fn add_piece(&mut self, r: u32, piece: Piece) -> u32 {
        if !self.opts.token_stats {
            return NONE;
        }
        let id = self.pieces.len() as u32;
        self.pieces.push(piece);
        let req = &mut self.reqs[r as usize];
        if req.piece_tail == NONE {
            req.piece_head = id;
        } else {
            self.pieces[req.piece_tail as usize].next = id;
        }
        req.piece_tail = id;
        id
    }

    /// Chooses an instance from a candidate set (`decode_of` = None for the prefill stage).
    fn pick(&mut self, router: Router, decode_of: Option<usize>) -> usize {
        let set = match decode_of {
            None => &mut self.prefill_set,
            Some(pool) => &mut self.decode_sets[pool],
        };
        let n = set.instances.len();
        let load = |i: usize| self.insts[i].outstanding_tokens;
        match router {
            Router::RoundRobin => {
                let i = set.instances[set.rr_next % n];
                set.rr_next = (set.rr_next + 1) % n;
                i
            }
            Router::LeastTokens => {
                // The tree's winner: fewest outstanding tokens, ties to the instance picked longest ago.
                let tree = set.tree.as_mut().expect("least-tokens sets have a tree");
                let pos = tree.best();
                let i = set.instances[pos];
                self.picks += 1;
                tree.set(pos, (tree.keys[pos].0, self.picks));
                i
            }
            Router::PowerOfTwo => {
                if n == 1 {
                    return set.instances[0];
                }
                let a = self.rng.random_range(0..n);
                let mut b = self.rng.random_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                // The first draw wins ties, so ties go to a random instance.
                let (a, b) = (set.instances[a], set.instances[b]);
                if load(b) < load(a) {
                    b
                } else {
                    a
                }
            }
        }
    }

    fn charge(&mut self, r: u32, i: usize, tokens: u64) {
        self.release(r);
        self.insts[i].outstanding_tokens += tokens;
        self.load_changed(i);
        let req = &mut self.reqs[r as usize];
        req.charge = tokens;
        req.charge_inst = i as u32;
    }

    fn release(&mut self, r: u32) {
        let req = &mut self.reqs[r as usize];
        if req.charge_inst != NONE {
            let i = req.charge_inst as usize;
            self.insts[i].outstanding_tokens -= req.charge;
            req.charge_inst = NONE;
            req.charge = 0;
            self.load_changed(i);
        }
    }

    /// Keeps the least-tokens trees that hold instance `i` in step with its load.
    fn load_changed(&mut self, i: usize) {
        let load = self.insts[i].outstanding_tokens;
        for k in 0..self.tree_slots[i].len() {
            let (set_id, pos) = self.tree_slots[i][k];
            let set = if set_id == 0 {
                &mut self.prefill_set
            } else {
                &mut self.decode_sets[set_id - 1]
            };
            if let Some(tree) = set.tree.as_mut() {
                let last = tree.keys[pos].1;
                tree.set(pos, (load, last));
            }
        }
    }

    fn arrive(&mut self, r: u32, t: f64) {
        self.reqs[r as usize].arrival = t;
        let i = self.pick(self.plan.runs[self.run_idx].prefill_router, None);
        if self.insts[i].waiting_live >= self.insts[i].max_queue {
            self.reqs[r as usize].instance = i as u32;
            self.reject(r, t, Status::QueueFull);
            return;
        }
        self.assign_prefill(r, i, t, false);
        let timeout = self.insts[i].queue_timeout_s;
        if timeout.is_finite() {
            self.push_event(t + timeout, EV_TIMEOUT, r);
        }
    }

    /// Turns a request away: it leaves the system at `t` with `status`, and a closed-loop user moves on.
    fn reject(&mut self, r: u32, t: f64, status: Status) {
        self.release(r);
        let req = &mut self.reqs[r as usize];
        req.phase = Phase::Rejected;
        req.status = status;
        req.finish = t;
        let wl = &self.plan.workloads[self.plan.runs[self.run_idx].workload];
        if wl.kind == ArrivalKind::Closed {
            self.issue_closed(t + wl.think_time_s);
        }
    }

    /// A request's queue timeout fired: if it is still waiting and was never admitted, it is rejected now.
    /// Its queue entry is dropped lazily when it reaches the head (`drop_stale_head`).
    fn timeout(&mut self, r: u32, t: f64) {
        let req = &self.reqs[r as usize];
        if req.phase != Phase::Waiting || !req.first_sched.is_nan() {
            return;
        }
        let i = req.instance as usize;
        self.insts[i].waiting_live -= 1;
        self.reject(r, t, Status::Timeout);
    }

    /// Pops queue entries of requests that timed out while waiting.
    fn drop_stale_head(&mut self, i: usize) {
        while let Some(&h) = self.insts[i].waiting.front() {
            if self.reqs[h as usize].phase != Phase::Rejected {
                break;
            }
            self.insts[i].waiting.pop_front();
        }
    }

    /// Queues a request for prefill on instance `i` (at the head when it is being recomputed).
    fn assign_prefill(&mut self, r: u32, i: usize, t: f64, front: bool) {
        let req = &self.reqs[r as usize];
        let remaining = req.prompt as u64
            + req.generated as u64
            + if self.insts[i].role == Role::Mixed {
                (req.output - req.generated) as u64
            } else {
                0
            };
        self.charge(r, i, remaining);
        let req = &mut self.reqs[r as usize];
        req.instance = i as u32;
        req.phase = Phase::Waiting;
        let inst = &mut self.insts[i];
        inst.waiting_live += 1;
        if front {
            inst.waiting.push_front(r);
        } else {
            inst.waiting.push_back(r);
        }
        self.wake(i, t);
    }

    /// Removes a decoding request from its instance's decode aggregates; returns its KV blocks.
    fn leave_decode(&mut self, i: usize, r: u32) -> u64 {
        let inst = &mut self.insts[i];
        let req = &self.reqs[r as usize];
        let ctx = req.c0 + (inst.round - req.r0);
        let ph = inst.phase_of(req.c0, req.r0);
        inst.bucket[ph] -= 1;
        inst.n_dec -= 1;
        inst.dec_ctx_sum -= ctx;
        ceil_div(ctx, inst.block_size)
    }

    fn close_piece(&mut self, r: u32, round: u64) {
        let p = self.reqs[r as usize].open_piece;
        if p != NONE {
            self.pieces[p as usize].b = round;
            self.reqs[r as usize].open_piece = NONE;
        }
    }

    /// Adds a request whose context of `c0` tokens is in instance `i`'s KV cache to its decode set.
    fn join_decode(&mut self, i: usize, r: u32, t: f64) {
        let req = &self.reqs[r as usize];
        let (c0, g0, output) = (req.prefill_len as u64, req.generated, req.output);
        let inst = &mut self.insts[i];
        let r0 = inst.round;
        let ph = inst.phase_of(c0, r0);
        inst.bucket[ph] += 1;
        inst.n_dec += 1;
        inst.dec_ctx_sum += c0;
        let seq = inst.next_seq;
        inst.next_seq += 1;
        inst.running.insert(seq, r);
        let rf = r0 + (output - 1 - g0) as u64;
        let req = &mut self.reqs[r as usize];
        req.phase = Phase::Decoding;
        req.instance = i as u32;
        req.decode_instance = i as u32;
        req.seq = seq;
        req.c0 = c0;
        req.r0 = r0;
        req.g0 = g0;
        let epoch = req.epoch;
        inst.finish_heap.push(Reverse((rf, r, epoch)));
        let p = self.add_piece(
            r,
            Piece {
                time: t,
                instance: i as u32,
                a: r0,
                b: r0,
                next: NONE,
            },
        );
        self.reqs[r as usize].open_piece = p;
    }

    fn preempt(&mut self, i: usize, r: u32, t: f64) {
        let phase = self.reqs[r as usize].phase;
        let blocks = match phase {
            Phase::Decoding => {
                let blocks = self.leave_decode(i, r);
                let round = self.insts[i].round;
                let req = &mut self.reqs[r as usize];
                req.generated = req.g0 + (round - req.r0) as u32;
                self.close_piece(r, round);
                blocks
            }
            Phase::Prefilling => {
                let inst = &mut self.insts[i];
                if let Some(pos) = inst.prefilling.iter().position(|&x| x == r) {
                    inst.prefilling.remove(pos);
                }
                ceil_div(self.reqs[r as usize].prefill_len as u64, inst.block_size)
            }
            _ => 0,
        };
        let inst = &mut self.insts[i];
        let req = &mut self.reqs[r as usize];
        inst.free_blocks += blocks;
        inst.running.remove(&req.seq);
        req.epoch += 1;
        req.preemptions += 1;
        if inst.role == Role::Decode {
            // A decode instance cannot recompute: the request goes back to the prefill stage.
            let p = self.pick(self.plan.runs[self.run_idx].prefill_router, None);
            self.assign_prefill(r, p, t, true);
        } else {
            req.phase = Phase::Waiting;
            inst.waiting_live += 1;
            inst.waiting.push_front(r);
        }
    }

    fn finish(&mut self, i: usize, r: u32, t: f64, blocks: u64) {
        self.release(r);
        let inst = &mut self.insts[i];
        let req = &mut self.reqs[r as usize];
        inst.free_blocks += blocks;
        inst.running.remove(&req.seq);
        req.phase = Phase::Done;
        req.generated = req.output;
        req.finish = t;
        if req.decode_instance == NONE {
            req.decode_instance = i as u32;
        }
        let wl = &self.plan.workloads[self.plan.runs[self.run_idx].workload];
        if wl.kind == ArrivalKind::Closed {
            self.issue_closed(t + wl.think_time_s);
        }
        if !self.insts[i].incoming.is_empty() {
            self.try_transfers(i, t);
        }
    }

    /// The next closed-loop request, if the workload has one left and its time is within the duration.
    fn issue_closed(&mut self, t: f64) {
        let wl = &self.plan.workloads[self.plan.runs[self.run_idx].workload];
        if self.closed_next < self.reqs.len() && t < wl.duration_s {
            let r = self.closed_next as u32;
            self.closed_next += 1;
            self.push_event(t, EV_ARRIVAL, r);
        }
    }

    /// A prefill instance finished a request's prefill: hand its KV cache to a decode instance.
    fn begin_transfer(&mut self, src: usize, r: u32, t: f64) {
        let pool = self.insts[src].local_pool;
        let dst = self.pick(self.plan.runs[self.run_idx].decode_router, Some(pool));
        let req = &self.reqs[r as usize];
        let remaining = (req.output - req.generated) as u64;
        let blocks = ceil_div(req.prefill_len as u64, self.insts[src].block_size) as u32;
        self.charge(r, dst, remaining);
        self.insts[src].running.remove(&self.reqs[r as usize].seq);
        let req = &mut self.reqs[r as usize];
        req.phase = Phase::PendingTransfer;
        req.instance = dst as u32;
        req.src_blocks = blocks;
        req.kv_ready = t;
        self.insts[dst].incoming.push_back(r);
        self.try_transfers(dst, t);
    }

    /// Starts the transfers waiting on decode instance `d` for which it has KV blocks and batch room.
    fn try_transfers(&mut self, d: usize, t: f64) {
        while let Some(&r) = self.insts[d].incoming.front() {
            let inst = &self.insts[d];
            let req = &self.reqs[r as usize];
            let blocks = ceil_div(req.prefill_len as u64, inst.block_size);
            if blocks > inst.free_blocks
                || inst.running.len() as u64 + inst.reserved >= inst.max_batch
            {
                break;
            }
            let inst = &mut self.insts[d];
            inst.incoming.pop_front();
            inst.free_blocks -= blocks;
            inst.reserved += 1;
            let src_pool = self.insts[self.reqs[r as usize].prefill_instance as usize].local_pool;
            let dst_pool = self.insts[d].local_pool;
            let link = self
                .links
                .iter_mut()
                .find(|l| l.src_pool == src_pool && l.dst_pool == dst_pool)
                .expect("decode set only holds linked pools");
            let bytes = self.kv_bytes_per_token * self.reqs[r as usize].prefill_len as f64;
            let start = t.max(link.busy_until);
            link.busy_until = start + bytes / link.bandwidth;
            let end = link.busy_until + link.latency_s;
            let req = &mut self.reqs[r as usize];
            req.phase = Phase::Transferring;
            req.transfer_start = t;
            req.kv_wait_s += t - req.kv_ready;
            self.push_event(end, EV_TRANSFER_END, r);
        }
    }

    fn end_transfer(&mut self, r: u32, t: f64) {
        let req = &mut self.reqs[r as usize];
        req.kv_transfer_s += t - req.transfer_start;
        req.transfers += 1;
        let (src, dst, blocks) = (
            req.prefill_instance as usize,
            req.instance as usize,
            req.src_blocks as u64,
        );
        req.src_blocks = 0;
        self.insts[src].free_blocks += blocks;
        self.wake(src, t);
        // The request keeps its reserved batch slot until it joins the decode set.
        if self.insts[dst].busy {
            self.insts[dst].joining.push(r);
        } else {
            self.insts[dst].reserved -= 1;
            self.join_decode(dst, r, t);
            self.wake(dst, t);
        }
    }

    /// Whether a prefill chunk could be scheduled now with the full token budget.
    fn can_prefill(&mut self, i: usize) -> bool {
        self.drop_stale_head(i);
        let inst = &self.insts[i];
        if !inst.prefilling.is_empty() {
            return true;
        }
        match inst.waiting.front() {
            None => false,
            Some(&h) => {
                let req = &self.reqs[h as usize];
                let len = req.prompt as u64 + req.generated as u64;
                (inst.running.len() as u64) < inst.max_batch
                    && ceil_div(len, inst.block_size) <= inst.free_blocks
                    && (inst.chunked || len <= inst.max_batched_tokens)
            }
        }
    }

    /// Forms and prices the next step of instance `i` at time `t`; leaves it idle if there is no work.
    fn start_step(&mut self, i: usize, t: f64) -> Result<()> {
        let decode = self.insts[i].n_dec > 0
            && !(self.insts[i].policy == SchedulePolicy::PrefillFirst && self.can_prefill(i));
        let mut stats = StepStats::default();
        let mut budget = self.insts[i].max_batched_tokens;
        let mut n_dec = 0;
        if decode {
            // Every decoder whose context sits on a block boundary needs one more block; preempt the newest
            // running requests (recompute later) until they fit.
            loop {
                let inst = &self.insts[i];
                let need = inst.bucket[(inst.round % inst.block_size) as usize];
                if need <= inst.free_blocks {
                    break;
                }
                let victim = match inst.running.iter().next_back() {
                    Some((_, &v)) => v,
                    None => {
                        return Err(InferaError::Simulation(format!(
                            "instance {i} needs {need} KV blocks with nothing left to preempt"
                        )))
                    }
                };
                self.preempt(i, victim, t);
            }
            let inst = &mut self.insts[i];
            let need = inst.bucket[(inst.round % inst.block_size) as usize];
            inst.free_blocks -= need;
            n_dec = inst.n_dec;
            stats.tokens += n_dec as f64;
            stats.sampled += n_dec as f64;
            stats.attn_pairs += (inst.dec_ctx_sum + n_dec) as f64;
            stats.kv_read_tokens += (inst.dec_ctx_sum + n_dec) as f64;
            budget = budget.saturating_sub(n_dec);
        }

        let mut chunks = std::mem::take(&mut self.insts[i].chunks);
        chunks.clear();
        // Continue admitted prefills in admission order, then admit from the queue head (FCFS).
        let inst = &self.insts[i];
        for &r in inst.prefilling.iter() {
            if budget == 0 {
                break;
            }
            let req = &self.reqs[r as usize];
            let c = ((req.prefill_len - req.prefilled) as u64).min(budget);
            chunks.push((r, c as u32));
            budget -= c;
        }
        loop {
            let inst = &self.insts[i];
            if budget == 0 || inst.running.len() as u64 >= inst.max_batch {
                break;
            }
            self.drop_stale_head(i);
            let inst = &self.insts[i];
            let Some(&h) = inst.waiting.front() else {
                break;
            };
            let req = &self.reqs[h as usize];
            let len = req.prompt as u64 + req.generated as u64;
            let blocks = ceil_div(len, inst.block_size);
            if blocks > inst.free_blocks || (!inst.chunked && len > budget) {
                break;
            }
            let inst = &mut self.insts[i];
            inst.waiting.pop_front();
            inst.waiting_live -= 1;
            inst.free_blocks -= blocks;
            let seq = inst.next_seq;
            inst.next_seq += 1;
            inst.running.insert(seq, h);
            inst.prefilling.push_back(h);
            let req = &mut self.reqs[h as usize];
            req.phase = Phase::Prefilling;
            req.seq = seq;
            req.prefill_len = len as u32;
            req.prefilled = 0;
            req.prefill_instance = i as u32;
            if req.first_sched.is_nan() {
                req.first_sched = t;
            }
            let c = len.min(budget);
            chunks.push((h, c as u32));
            budget -= c;
        }
        let mut prefill_tokens = 0u64;
        for &(r, c) in &chunks {
            let req = &self.reqs[r as usize];
            let (p, c) = (req.prefilled as f64, c as f64);
            prefill_tokens += c as u64;
            stats.tokens += c;
            stats.attn_pairs += c * p + c * (c + 1.0) / 2.0;
            stats.kv_read_tokens += p + c;
            if req.prefilled + c as u32 == req.prefill_len {
                stats.sampled += 1.0;
            }
        }

        let n_chunks = chunks.len();
        self.insts[i].chunks = chunks;
        // Blocks left after this step's allocations go to KV caches waiting to move here.
        if !self.insts[i].incoming.is_empty() {
            self.try_transfers(i, t);
        }
        if stats.tokens == 0.0 {
            self.insts[i].busy = false;
            return Ok(());
        }
        if self.insts[i].free_blocks > self.insts[i].total_blocks {
            return Err(InferaError::Simulation(format!(
                "instance {i} has {} free KV blocks of {} (a block was freed twice)",
                self.insts[i].free_blocks, self.insts[i].total_blocks
            )));
        }
        let cost = &self.costs[self.insts[i].cost];
        let duration = cost.step_seconds(&stats);
        let energy = cost.step_energy_j(&stats, duration);
        let inst = &mut self.insts[i];
        inst.busy = true;
        inst.step_decodes = n_dec;
        let step_no = inst.steps;
        inst.steps += 1;
        self.busy_s[i] += duration;
        self.busy_energy_j[i] += energy;
        if self.opts.iterations {
            let inst = &self.insts[i];
            let rows = &mut self.iter_rows;
            rows.run.push(self.run_idx as u32);
            rows.pool.push(inst.pool as u32);
            rows.instance.push(self.inst_local[i]);
            rows.step.push(step_no);
            rows.start_s.push(t);
            rows.duration_s.push(duration);
            rows.batch_size.push((n_dec as usize + n_chunks) as u32);
            rows.prefill_tokens.push(prefill_tokens as u32);
            rows.decode_tokens.push(n_dec as u32);
            rows.kv_blocks_used
                .push((inst.total_blocks - inst.free_blocks) as u32);
            rows.energy_j.push(energy);
        }
        self.push_event(t + duration, EV_STEP_END, i as u32);
        Ok(())
    }

    fn end_step(&mut self, i: usize, t: f64) -> Result<()> {
        if self.insts[i].step_decodes > 0 {
            let inst = &mut self.insts[i];
            let r = inst.round;
            if self.opts.token_stats {
                inst.round_end.push(t);
            }
            inst.dec_ctx_sum += inst.n_dec;
            inst.round += 1;
            while let Some(&Reverse((rf, req, epoch))) = self.insts[i].finish_heap.peek() {
                if rf != r {
                    break;
                }
                self.insts[i].finish_heap.pop();
                let rq = &self.reqs[req as usize];
                if rq.epoch != epoch || rq.phase != Phase::Decoding {
                    continue;
                }
                let blocks = self.leave_decode(i, req);
                let round = self.insts[i].round;
                self.close_piece(req, round);
                self.finish(i, req, t, blocks);
            }
        }
        let chunks = std::mem::take(&mut self.insts[i].chunks);
        for &(r, c) in &chunks {
            let req = &mut self.reqs[r as usize];
            if req.phase != Phase::Prefilling {
                continue;
            }
            req.prefilled += c;
            if req.prefilled < req.prefill_len {
                continue;
            }
            // Prefill complete: it samples the next token.
            self.insts[i].prefilling.pop_front();
            let req = &mut self.reqs[r as usize];
            req.generated += 1;
            req.prefills += 1;
            if req.first_token.is_nan() {
                req.first_token = t;
            }
            self.add_piece(
                r,
                Piece {
                    time: t,
                    instance: NONE,
                    a: 0,
                    b: 0,
                    next: NONE,
                },
            );
            let req = &self.reqs[r as usize];
            if req.generated >= req.output {
                let blocks = ceil_div(req.prefill_len as u64, self.insts[i].block_size);
                self.finish(i, r, t, blocks);
            } else if self.insts[i].role == Role::Prefill {
                self.begin_transfer(i, r, t);
            } else {
                self.insts[i].running.remove(&self.reqs[r as usize].seq);
                self.join_decode(i, r, t);
            }
        }
        self.insts[i].chunks = chunks;
        if !self.insts[i].joining.is_empty() {
            let joining = std::mem::take(&mut self.insts[i].joining);
            for &r in &joining {
                self.insts[i].reserved -= 1;
                self.join_decode(i, r, t);
            }
            self.insts[i].joining = joining;
            self.insts[i].joining.clear();
        }
        self.start_step(i, t)
    }

    fn run(&mut self) -> Result<()> {
        let wl = &self.plan.workloads[self.plan.runs[self.run_idx].workload];
        // Open-loop arrivals are merged from a sorted list rather than pushed onto the heap.
        let mut order: Vec<u32> = Vec::new();
        match wl.kind {
            ArrivalKind::Open => {
                // Requests arriving at or after the workload's duration are never issued.
                order = (0..self.reqs.len() as u32)
                    .filter(|&r| wl.arrival_s[r as usize] < wl.duration_s)
                    .collect();
                let arr = &wl.arrival_s;
                order.sort_by(|&a, &b| arr[a as usize].total_cmp(&arr[b as usize]).then(a.cmp(&b)));
            }
            ArrivalKind::Closed => {
                for _ in 0..wl.users.min(self.reqs.len() as u64) {
                    self.issue_closed(0.0);
                }
            }
        }
        let mut next_open = 0usize;
        loop {
            let open_t = order.get(next_open).map(|&r| self.reqs[r as usize].arrival);
            let take_open = match (open_t, self.heap.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(ta), Some(Reverse((tk, class, _, _)))) => {
                    (time_key(ta), EV_ARRIVAL) < (*tk, *class)
                }
            };
            if take_open {
                let r = order[next_open];
                next_open += 1;
                let t = self.reqs[r as usize].arrival;
                self.arrive(r, t);
                continue;
            }
            let Reverse((tk, class, _, idx)) = self.heap.pop().expect("peeked");
            let t = f64::from_bits(tk);
            match class {
                EV_STEP_END => self.end_step(idx as usize, t)?,
                EV_TRANSFER_END => self.end_transfer(idx, t),
                EV_TIMEOUT => self.timeout(idx, t),
                EV_ARRIVAL => self.arrive(idx, t),
                _ => {
                    let i = idx as usize;
                    self.insts[i].wake_pending = false;
                    if !self.insts[i].busy {
                        self.start_step(i, t)?;
                    }
                }
            }
        }
        if let Some((k, r)) = self
            .reqs
            .iter()
            .enumerate()
            .find(|(_, r)| !matches!(r.phase, Phase::Done | Phase::NotIssued | Phase::Rejected))
        {
            return Err(InferaError::Simulation(format!(
                "request {k} did not finish (stuck in {:?})",
                r.phase
            )));
        }
        Ok(())
    }
}

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

/// Per-run statistics, computed in the core so that a run can be summarised without keeping a row per
/// request (the `summary` table; `docs/results.md`).
#[derive(Default)]
pub struct RunStatsRows {
    pub run: Vec<u32>,
    pub requests: Vec<u64>,
    pub rejected_queue_full: Vec<u64>,
    pub rejected_timeout: Vec<u64>,
    pub first_arrival_s: Vec<f64>,
    pub last_departure_s: Vec<f64>,
    pub prompt_tokens: Vec<u64>,
    pub output_tokens: Vec<u64>,
    pub slo_met_requests: Vec<u64>,
    pub preemptions: Vec<u64>,
    /// (name, values per run) for every quantile column, in output order.
    pub quantiles: Vec<(String, Vec<Option<f64>>)>,
    pub slo_pass: Vec<Option<bool>>,
}

/// The quantile columns of the summary: (metric, percentiles).
pub const SUMMARY_QUANTILES: [(&str, &[u32]); 6] = [
    ("ttft", &[50, 90, 99]),
    ("tpot", &[50, 90, 99]),
    ("e2e", &[50, 90, 99]),
    ("queue", &[50, 90, 99]),
    ("kv_transfer", &[50, 99]),
    ("kv_wait", &[99]),
];

impl Sim<'_> {
    /// Appends this run's per-request rows (when kept), statistics and instance facts.
    fn collect(
        &self,
        rows: &mut RequestRows,
        stats: &mut RunStatsRows,
        inst_rows: &mut InstanceRows,
    ) {
        let run = &self.plan.runs[self.run_idx];
        let mut times: Vec<f64> = Vec::new();
        let mut scratch: Vec<f64> = Vec::new();
        // Per-metric values over finished requests, for the run's quantiles.
        let mut metric: [Vec<f64>; 6] = Default::default();
        let (mut n_ok, mut n_full, mut n_timeout, mut slo_met, mut preempt) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let (mut prompt_tok, mut output_tok) = (0u64, 0u64);
        let (mut first_arrival, mut last_departure) = (f64::INFINITY, f64::NEG_INFINITY);
        for (k, req) in self.reqs.iter().enumerate() {
            if req.phase != Phase::Done && req.phase != Phase::Rejected {
                continue;
            }
            let finished = req.status == Status::Finished;
            let tpot_mean = if finished && req.output > 1 {
                Some((req.finish - req.first_token) / (req.output - 1) as f64)
            } else {
                None
            };
            let ok = finished
                && run.slos.iter().all(|slo| {
                    let v = match slo.metric {
                        Metric::Ttft => Some(req.first_token - req.arrival),
                        Metric::Tpot => tpot_mean,
                        Metric::E2e => Some(req.finish - req.arrival),
                        Metric::Queue => Some(req.first_sched - req.arrival),
                    };
                    v.is_none_or(|v| v <= slo.threshold_s)
                });
            first_arrival = first_arrival.min(req.arrival);
            last_departure = last_departure.max(req.finish);
            match req.status {
                Status::Finished => {
                    n_ok += 1;
                    prompt_tok += req.prompt as u64;
                    output_tok += req.output as u64;
                    metric[0].push(req.first_token - req.arrival);
                    if let Some(t) = tpot_mean {
                        metric[1].push(t);
                    }
                    metric[2].push(req.finish - req.arrival);
                    metric[3].push(req.first_sched - req.arrival);
                    if req.transfers > 0 {
                        metric[4].push(req.kv_transfer_s);
                        metric[5].push(req.kv_wait_s);
                    }
                }
                Status::QueueFull => n_full += 1,
                Status::Timeout => n_timeout += 1,
            }
            slo_met += ok as u64;
            preempt += req.preemptions as u64;
            if !self.opts.requests {
                continue;
            }
            // A rejected request was never prefilled: it is reported on the instance that turned it away.
            let pre_i = if req.prefill_instance == NONE {
                req.instance
            } else {
                req.prefill_instance
            } as usize;
            let dec_i = if req.decode_instance == NONE {
                pre_i
            } else {
                req.decode_instance as usize
            };
            rows.run.push(self.run_idx as u32);
            rows.status.push(req.status);
            rows.request_id.push(k as u64);
            rows.prefill_pool.push(self.insts[pre_i].pool as u32);
            rows.prefill_instance.push(self.inst_local[pre_i]);
            rows.decode_pool.push(self.insts[dec_i].pool as u32);
            rows.decode_instance.push(self.inst_local[dec_i]);
            rows.arrival_s.push(req.arrival);
            rows.first_scheduled_s.push(req.first_sched);
            rows.first_token_s.push(req.first_token);
            rows.finish_s.push(req.finish);
            rows.prompt_tokens.push(req.prompt);
            rows.output_tokens.push(req.output);
            rows.kv_wait_s.push(req.kv_wait_s);
            rows.kv_transfer_s.push(req.kv_transfer_s);
            rows.prefills.push(req.prefills);
            rows.transfers.push(req.transfers);
            rows.preemptions.push(req.preemptions);
            rows.tpot_mean_s.push(tpot_mean);
            let mut tpot_p99 = None;
            if finished && self.opts.token_stats && req.output > 1 {
                times.clear();
                let mut p = req.piece_head;
                while p != NONE {
                    let piece = &self.pieces[p as usize];
                    if piece.instance == NONE {
                        times.push(piece.time);
                    } else {
                        let ends = &self.insts[piece.instance as usize].round_end;
                        times.extend_from_slice(&ends[piece.a as usize..piece.b as usize]);
                    }
                    p = piece.next;
                }
                tpot_p99 = gap_quantile(&times, 0.99, &mut scratch);
            }
            rows.tpot_p99_s.push(tpot_p99);
            rows.slo_met.push(ok);
        }

        // Whether every percentile target holds over all requests, a rejected one counting as infinitely late
        // (and a one-token request having no TPOT).
        let rejected = (n_full + n_timeout) as usize;
        let slo_pass = (!run.slos.is_empty()).then(|| {
            run.slos.iter().all(|slo| {
                let idx = match slo.metric {
                    Metric::Ttft => 0,
                    Metric::Tpot => 1,
                    Metric::E2e => 2,
                    Metric::Queue => 3,
                };
                let mut vals = metric[idx].clone();
                vals.extend(std::iter::repeat_n(f64::INFINITY, rejected));
                match slo.percentile {
                    None => vals.iter().all(|v| *v <= slo.threshold_s),
                    Some(p) => quantile(&mut vals, p / 100.0).is_none_or(|v| v <= slo.threshold_s),
                }
            })
        });
        stats.run.push(self.run_idx as u32);
        stats.requests.push(n_ok);
        stats.rejected_queue_full.push(n_full);
        stats.rejected_timeout.push(n_timeout);
        stats.first_arrival_s.push(first_arrival);
        stats.last_departure_s.push(last_departure);
        stats.prompt_tokens.push(prompt_tok);
        stats.output_tokens.push(output_tok);
        stats.slo_met_requests.push(slo_met);
        stats.preemptions.push(preempt);
        stats.slo_pass.push(slo_pass);
        let mut col = 0;
        for (m, (name, pcts)) in SUMMARY_QUANTILES.iter().enumerate() {
            for p in pcts.iter() {
                if stats.quantiles.len() <= col {
                    stats.quantiles.push((format!("{name}_p{p}_s"), Vec::new()));
                }
                let q = quantile(&mut metric[m], *p as f64 / 100.0);
                stats.quantiles[col].1.push(q);
                col += 1;
            }
        }

        for (i, inst) in self.insts.iter().enumerate() {
            inst_rows.run.push(self.run_idx as u32);
            inst_rows.pool.push(inst.pool as u32);
            inst_rows.instance.push(self.inst_local[i]);
            inst_rows.kv_blocks.push(inst.total_blocks);
            inst_rows.steps.push(inst.steps);
            inst_rows.busy_s.push(self.busy_s[i]);
            inst_rows.busy_energy_j.push(self.busy_energy_j[i]);
        }
    }
}

/// Results of simulating every run of a plan, as column vectors.
#[derive(Default)]
pub struct SimRows {
    pub requests: RequestRows,
    pub stats: RunStatsRows,
    pub iterations: IterationRows,
    pub instances: InstanceRows,
}

/// Simulates every run of `plan`, in order.
pub fn simulate_rows(plan: &Plan, opts: SimOptions) -> Result<SimRows> {
    let mut out = SimRows::default();
    for run_idx in 0..plan.runs.len() {
        let mut sim = Sim::new(plan, run_idx, opts);
        sim.iter_rows = std::mem::take(&mut out.iterations);
        sim.run()?;
        sim.collect(&mut out.requests, &mut out.stats, &mut out.instances);
        out.iterations = std::mem::take(&mut sim.iter_rows);
    }
    Ok(out)
}

#[cfg(test)]
mod quantile_tests {
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
}
