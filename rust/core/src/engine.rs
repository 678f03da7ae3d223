//! The discrete-event, iteration-level serving engine.
//!
//! Each instance runs engine steps back to back while it has work. A step batches one decode token for
//! every running decoding request with prefill chunks of admitted requests, up to the pool's token budget;
//! the cost model prices it; at its end every decoding request emits one token and every prefill that
//! completes emits its first token.
//!
//! The hot loop avoids per-token work: a decoding request is described by where it joined the decode set
//! (context length `c0` at decode round `r0`), so its context, tokens generated and KV blocks at any later
//! round follow arithmetically. The instance keeps only aggregates — number of decoders, sum of their
//! contexts, how many of them cross a KV-block boundary in each round phase — and a heap of finishing
//! rounds. A step therefore costs O(requests that start, finish or are preempted in it), not O(batch size).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use crate::cost::{StepCost, StepStats};
use crate::error::{InferaError, Result};
use crate::plan::{ArrivalKind, Plan, Router, SchedulePolicy};

const NONE: u32 = u32::MAX;

/// What the engine records besides per-request results.
#[derive(Debug, Clone, Copy)]
pub struct SimOptions {
    /// Keep one row per engine step (the `iterations` table).
    pub iterations: bool,
    /// Keep each request's token emission times to report its TPOT percentile.
    pub token_stats: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self { iterations: true, token_stats: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotIssued,
    Waiting,
    Prefilling,
    Decoding,
    Done,
}

/// Per-request state. Static fields come from the workload; the rest changes as it is served.
#[derive(Debug, Clone)]
struct Req {
    prompt: u32,
    output: u32,
    arrival: f64,
    instance: u32,
    phase: Phase,
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
    first_sched: f64,
    first_token: f64,
    finish: f64,
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
    cost: usize,
    max_batch: u64,
    max_batched_tokens: u64,
    block_size: u64,
    total_blocks: u64,
    free_blocks: u64,
    chunked: bool,
    policy: SchedulePolicy,
    waiting: VecDeque<u32>,
    prefilling: VecDeque<u32>,
    running: BTreeMap<u64, u32>,
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
    step_start: f64,
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

/// Event classes, ordered for simultaneous events: step ends first, then arrivals, then idle instances
/// waking, so a burst of arrivals at one instant is seen by the first step it triggers.
const EV_STEP_END: u8 = 0;
const EV_ARRIVAL: u8 = 1;
const EV_WAKE: u8 = 2;

/// Per-run output columns, appended to the shared results.
#[derive(Default)]
pub struct RequestRows {
    pub run: Vec<u32>,
    pub request_id: Vec<u64>,
    pub pool: Vec<u32>,
    pub instance: Vec<u32>,
    pub arrival_s: Vec<f64>,
    pub first_scheduled_s: Vec<f64>,
    pub first_token_s: Vec<f64>,
    pub finish_s: Vec<f64>,
    pub prompt_tokens: Vec<u32>,
    pub output_tokens: Vec<u32>,
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
    heap: BinaryHeap<Reverse<(u64, u8, u64, u32)>>,
    next_event_seq: u64,
    rr_next: usize,
    closed_next: usize,
    busy_s: Vec<f64>,
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
        let wl = &plan.workloads[run.workload];
        let model = &plan.models[run.model];
        let mut insts = Vec::new();
        let mut inst_local = Vec::new();
        let mut costs = Vec::new();
        for &pi in &run.pools {
            let pool = &plan.pools[pi];
            costs.push(StepCost::new(model, &plan.chips[pool.chip], pool));
            for k in 0..pool.instances {
                insts.push(Instance {
                    pool: pi,
                    cost: costs.len() - 1,
                    max_batch: pool.max_batch,
                    max_batched_tokens: pool.max_batched_tokens,
                    block_size: pool.block_size,
                    total_blocks: pool.kv_blocks,
                    free_blocks: pool.kv_blocks,
                    chunked: pool.chunked_prefill,
                    policy: pool.policy,
                    waiting: VecDeque::new(),
                    prefilling: VecDeque::new(),
                    running: BTreeMap::new(),
                    next_seq: 0,
                    n_dec: 0,
                    dec_ctx_sum: 0,
                    bucket: vec![0; pool.block_size as usize],
                    finish_heap: BinaryHeap::new(),
                    round: 0,
                    round_end: Vec::new(),
                    busy: false,
                    wake_pending: false,
                    step_start: 0.0,
                    step_decodes: 0,
                    chunks: Vec::new(),
                    steps: 0,
                    outstanding_tokens: 0,
                });
                inst_local.push(k as u32);
            }
        }
        let reqs = (0..wl.prompt_tokens.len())
            .map(|i| Req {
                prompt: wl.prompt_tokens[i],
                output: wl.output_tokens[i],
                arrival: wl.arrival_s[i],
                instance: NONE,
                phase: Phase::NotIssued,
                generated: 0,
                prefill_len: 0,
                prefilled: 0,
                c0: 0,
                r0: 0,
                g0: 0,
                seq: 0,
                epoch: 0,
                first_sched: f64::NAN,
                first_token: f64::NAN,
                finish: f64::NAN,
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
            heap: BinaryHeap::new(),
            next_event_seq: 0,
            rr_next: 0,
            closed_next: 0,
            busy_s: vec![0.0; n_inst],
            iter_rows: IterationRows::default(),
        }
    }

    fn push_event(&mut self, t: f64, class: u8, idx: u32) {
        self.next_event_seq += 1;
        self.heap.push(Reverse((time_key(t), class, self.next_event_seq, idx)));
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

    fn route(&mut self, r: u32) -> usize {
        let n = self.insts.len();
        match self.plan.runs[self.run_idx].router {
            Router::RoundRobin => {
                let i = self.rr_next % n;
                self.rr_next = (self.rr_next + 1) % n;
                i
            }
            Router::LeastTokens => {
                let _ = r;
                (0..n).min_by_key(|&i| (self.insts[i].outstanding_tokens, i)).unwrap_or(0)
            }
        }
    }

    fn arrive(&mut self, r: u32, t: f64) {
        let i = self.route(r);
        let req = &mut self.reqs[r as usize];
        req.arrival = t;
        req.instance = i as u32;
        req.phase = Phase::Waiting;
        let inst = &mut self.insts[i];
        inst.outstanding_tokens += req.prompt as u64 + req.output as u64;
        inst.waiting.push_back(r);
        if !inst.busy && !inst.wake_pending {
            inst.wake_pending = true;
            self.push_event(t, EV_WAKE, i as u32);
        }
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

    fn preempt(&mut self, i: usize, r: u32) {
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
        req.phase = Phase::Waiting;
        req.epoch += 1;
        req.preemptions += 1;
        inst.waiting.push_front(r);
    }

    fn finish(&mut self, i: usize, r: u32, t: f64, blocks: u64) {
        let inst = &mut self.insts[i];
        let req = &mut self.reqs[r as usize];
        inst.free_blocks += blocks;
        inst.running.remove(&req.seq);
        inst.outstanding_tokens -= req.prompt as u64 + req.output as u64;
        req.phase = Phase::Done;
        req.generated = req.output;
        req.finish = t;
        let wl = &self.plan.workloads[self.plan.runs[self.run_idx].workload];
        if wl.kind == ArrivalKind::Closed {
            self.issue_closed(t + wl.think_time_s);
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

    /// Whether a prefill chunk could be scheduled now with the full token budget.
    fn can_prefill(&self, i: usize) -> bool {
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
                            "instance {} needs {} KV blocks with nothing left to preempt",
                            i, need
                        )))
                    }
                };
                self.preempt(i, victim);
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
            let c = (req.prefill_len - req.prefilled) as u64;
            let c = c.min(budget);
            chunks.push((r, c as u32));
            budget -= c;
        }
        loop {
            let inst = &self.insts[i];
            if budget == 0 || inst.running.len() as u64 >= inst.max_batch {
                break;
            }
            let Some(&h) = inst.waiting.front() else { break };
            let req = &self.reqs[h as usize];
            let len = req.prompt as u64 + req.generated as u64;
            let blocks = ceil_div(len, inst.block_size);
            if blocks > inst.free_blocks || (!inst.chunked && len > budget) {
                break;
            }
            let inst = &mut self.insts[i];
            inst.waiting.pop_front();
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
        if stats.tokens == 0.0 {
            self.insts[i].busy = false;
            return Ok(());
        }
        let cost = &self.costs[self.insts[i].cost];
        let duration = cost.step_seconds(&stats);
        let power = cost.instance_power_w;
        let inst = &mut self.insts[i];
        inst.busy = true;
        inst.step_start = t;
        inst.step_decodes = n_dec;
        let step_no = inst.steps;
        inst.steps += 1;
        self.busy_s[i] += duration;
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
            rows.kv_blocks_used.push((inst.total_blocks - inst.free_blocks) as u32);
            rows.energy_j.push(power * duration);
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
            if req.first_token.is_nan() {
                req.first_token = t;
            }
            self.add_piece(r, Piece { time: t, instance: NONE, a: 0, b: 0, next: NONE });
            let req = &self.reqs[r as usize];
            if req.generated >= req.output {
                let blocks = ceil_div(req.prefill_len as u64, self.insts[i].block_size);
                self.finish(i, r, t, blocks);
                continue;
            }
            let (c0, g0, output) = (req.prefill_len as u64, req.generated, req.output);
            let inst = &mut self.insts[i];
            let r0 = inst.round;
            let ph = inst.phase_of(c0, r0);
            inst.bucket[ph] += 1;
            inst.n_dec += 1;
            inst.dec_ctx_sum += c0;
            let req = &mut self.reqs[r as usize];
            req.phase = Phase::Decoding;
            req.c0 = c0;
            req.r0 = r0;
            req.g0 = g0;
            let rf = r0 + (output - 1 - g0) as u64;
            let epoch = req.epoch;
            inst.finish_heap.push(Reverse((rf, r, epoch)));
            let p = self.add_piece(r, Piece { time: t, instance: i as u32, a: r0, b: r0, next: NONE });
            self.reqs[r as usize].open_piece = p;
        }
        self.insts[i].chunks = chunks;
        self.start_step(i, t)
    }

    fn run(&mut self) -> Result<()> {
        let wl = &self.plan.workloads[self.plan.runs[self.run_idx].workload];
        // Open-loop arrivals are merged from a sorted list rather than pushed onto the heap.
        let mut order: Vec<u32> = Vec::new();
        match wl.kind {
            ArrivalKind::Open => {
                order = (0..self.reqs.len() as u32).collect();
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
                (Some(ta), Some(Reverse((tk, class, _, _)))) => (time_key(ta), EV_ARRIVAL) < (*tk, *class),
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
        if let Some((k, _)) = self.reqs.iter().enumerate().find(|(_, r)| r.phase != Phase::Done && r.phase != Phase::NotIssued) {
            return Err(InferaError::Simulation(format!("request {} did not finish", k)));
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
    let hi_v = if hi == lo { lo_v } else { rest.iter().copied().fold(f64::INFINITY, f64::min) };
    Some(lo_v + (hi_v - lo_v) * (pos - lo as f64))
}

impl Sim<'_> {
    /// Appends this run's per-request results.
    fn collect(&self, rows: &mut RequestRows, inst_rows: &mut InstanceRows) {
        let run = &self.plan.runs[self.run_idx];
        let mut times: Vec<f64> = Vec::new();
        let mut gaps: Vec<f64> = Vec::new();
        for (k, req) in self.reqs.iter().enumerate() {
            if req.phase != Phase::Done {
                continue;
            }
            let inst = &self.insts[req.instance as usize];
            rows.run.push(self.run_idx as u32);
            rows.request_id.push(k as u64);
            rows.pool.push(inst.pool as u32);
            rows.instance.push(self.inst_local[req.instance as usize]);
            rows.arrival_s.push(req.arrival);
            rows.first_scheduled_s.push(req.first_sched);
            rows.first_token_s.push(req.first_token);
            rows.finish_s.push(req.finish);
            rows.prompt_tokens.push(req.prompt);
            rows.output_tokens.push(req.output);
            rows.preemptions.push(req.preemptions);
            let tpot_mean = if req.output > 1 {
                Some((req.finish - req.first_token) / (req.output - 1) as f64)
            } else {
                None
            };
            rows.tpot_mean_s.push(tpot_mean);
            let mut tpot_p99 = None;
            if self.opts.token_stats && req.output > 1 {
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
                gaps.clear();
                gaps.extend(times.windows(2).map(|w| w[1] - w[0]));
                tpot_p99 = quantile(&mut gaps, 0.99);
            }
            rows.tpot_p99_s.push(tpot_p99);
            let ok = run.slos.iter().all(|slo| {
                let v = match slo.metric {
                    crate::plan::Metric::Ttft => Some(req.first_token - req.arrival),
                    crate::plan::Metric::Tpot => tpot_mean,
                    crate::plan::Metric::E2e => Some(req.finish - req.arrival),
                    crate::plan::Metric::Queue => Some(req.first_sched - req.arrival),
                };
                v.is_none_or(|v| v <= slo.threshold_s)
            });
            rows.slo_met.push(ok);
        }
        for (i, inst) in self.insts.iter().enumerate() {
            inst_rows.run.push(self.run_idx as u32);
            inst_rows.pool.push(inst.pool as u32);
            inst_rows.instance.push(self.inst_local[i]);
            inst_rows.kv_blocks.push(inst.total_blocks);
            inst_rows.steps.push(inst.steps);
            inst_rows.busy_s.push(self.busy_s[i]);
        }
    }
}

/// Results of simulating every run of a plan, as column vectors.
#[derive(Default)]
pub struct SimRows {
    pub requests: RequestRows,
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
        sim.collect(&mut out.requests, &mut out.instances);
        out.iterations = std::mem::take(&mut sim.iter_rows);
    }
    Ok(out)
}
