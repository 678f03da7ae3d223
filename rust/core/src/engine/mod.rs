//! The discrete-event, iteration-level serving engine: the run loop and the components it hands work to.
//!
//! Each instance runs engine steps back to back while it has work (`step`). A step batches one decode token
//! for every running decoding request with prefill chunks of admitted requests, up to the pool's token
//! budget, as the pool's scheduling policy (`scheduler/`) composes it; the cost model prices it; at its end
//! every decoding request emits one token and every prefill that completes emits its first token.
//!
//! Pools have roles. A request is routed (`router/`) to a prefill-capable instance (mixed or prefill). On a
//! mixed instance it then decodes in place. On a prefill instance its KV cache moves to a decode instance
//! over the link between the two pools (`transfer`). Requests enter as the workload's arrival process
//! (`arrivals/`) issues them.
//!
//! The components own their state — events, requests, instances and their KV caches, links, routers,
//! policies, arrivals — and this loop hands each what it needs; none sees the whole simulator.

mod events;
mod frontend;
mod instance;
mod kv_cache;
mod options;
mod prefix_cache;
mod recv;
mod registry;
mod request;
mod step;
mod transfer;

pub mod arrivals;
pub mod router;
pub mod scheduler;

#[cfg(test)]
mod frontend_tests;
#[cfg(test)]
mod prefix_tests;
#[cfg(test)]
mod priority_tests;
#[cfg(test)]
mod recv_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;

use events::{Class, Events};
use instance::Instance;
use request::{Emissions, Phase, NONE};
use router::Routing;
use scheduler::Scheduler;
use transfer::Transfers;

pub use options::SimOptions;
pub use request::Status;
pub(crate) use request::{Emission, Req, NONE as NO_INSTANCE};
pub use step::IterationRows;

use crate::cost::StepCost;
use crate::error::{InferaError, Result};
use crate::plan::{Plan, Prefixes, Role};

/// Checks that every router, scheduling policy and arrival process `plan` names is registered, and that
/// each workload has what its arrival process needs, without simulating.
pub fn check(plan: &Plan) -> Result<()> {
    let kinds = plan
        .workloads
        .iter()
        .enumerate()
        .map(|(row, wl)| arrivals::resolve(&wl.kind, row))
        .collect::<Result<Vec<_>>>()?;
    for (row, run) in plan.runs.iter().enumerate() {
        router::resolve(&run.prefill_router, "prefill_router", row)?;
    }
    for (row, run) in plan.runs.iter().enumerate() {
        router::resolve(&run.decode_router, "decode_router", row)?;
    }
    for (row, pool) in plan.pools.iter().enumerate() {
        scheduler::resolve(&pool.policy, row)?;
    }
    for (row, (kind, wl)) in kinds.iter().zip(&plan.workloads).enumerate() {
        (kind.check)(wl, row)?;
    }
    Ok(())
}

/// What a simulated run leaves behind, for the statistics to read.
pub(crate) struct Outcome {
    /// The options the run was simulated with (the caller's, narrowed by what the run keeps).
    pub opts: SimOptions,
    pub reqs: Vec<Req>,
    pub emissions: Emissions,
    pub insts: Vec<Instance>,
}

/// Simulates run `run_idx` of `plan`, appending its per-step rows (when kept) to `iterations`.
pub(crate) fn simulate_run(
    plan: &Plan,
    run_idx: usize,
    opts: SimOptions,
    iterations: &mut IterationRows,
) -> Result<Outcome> {
    let mut sim = Sim::new(plan, run_idx, opts)?;
    sim.iter_rows = std::mem::take(iterations);
    let ran = sim.run();
    *iterations = std::mem::take(&mut sim.iter_rows);
    ran?;
    Ok(Outcome {
        opts: sim.opts,
        reqs: sim.reqs,
        emissions: sim.emissions,
        insts: sim.insts,
    })
}

struct Sim<'p> {
    run_idx: usize,
    opts: SimOptions,
    reqs: Vec<Req>,
    emissions: Emissions,
    insts: Vec<Instance>,
    /// Each instance's pool, as an index among the run's pools.
    pool_of: Vec<usize>,
    /// Per pool of the run: its step cost and scheduling policy.
    costs: Vec<StepCost>,
    schedulers: Vec<Box<dyn Scheduler>>,
    routing: Routing,
    transfers: Transfers,
    arrivals: Box<dyn arrivals::Arrivals + 'p>,
    /// Scratch for the arrivals a departure sets off.
    issue: Vec<(f64, u32)>,
    /// The workload's prompt segments, for the prefix caches and the prefix-aware router.
    prefixes: &'p Prefixes,
    events: Events,
    iter_rows: IterationRows,
}

impl<'p> Sim<'p> {
    fn new(plan: &'p Plan, run_idx: usize, opts: SimOptions) -> Result<Sim<'p>> {
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
        let arrivals = (arrivals::resolve(&wl.kind, run.workload)?.new)(wl);
        let prefill_router = router::resolve(&run.prefill_router, "prefill_router", run_idx)?;
        let decode_router = router::resolve(&run.decode_router, "decode_router", run_idx)?;
        let mut insts = Vec::new();
        let mut costs = Vec::new();
        let mut schedulers = Vec::new();
        let mut pool_ranges = Vec::new();
        for (local, &pi) in run.pools.iter().enumerate() {
            let pool = &plan.pools[pi];
            costs.push(StepCost::new(model, &plan.chips[pool.chip], pool));
            schedulers.push(scheduler::resolve(&pool.policy, pi)?());
            let start = insts.len();
            for k in 0..pool.instances {
                insts.push(Instance::new(pi, local, k as u32, pool, model));
            }
            pool_ranges.push(start..insts.len());
        }
        let local_of = |pi: usize| {
            run.pools
                .iter()
                .position(|&p| p == pi)
                .expect("link pools belong to the run")
        };
        let transfers = Transfers::new(
            run.links.iter().map(|&l| {
                let link = &plan.links[l];
                (local_of(link.src), local_of(link.dst), link)
            }),
            model.kv,
            model.kv_bytes_per_token,
        );
        let prefill_set = (0..insts.len())
            .filter(|&i| insts[i].role.prefills())
            .collect();
        let decode_sets = (0..run.pools.len())
            .map(|local| {
                transfers
                    .targets(local)
                    .filter(|&dst| plan.pools[run.pools[dst]].role == Role::Decode)
                    .flat_map(|dst| pool_ranges[dst].clone())
                    .collect()
            })
            .collect();
        let routing = Routing::new(
            insts.len(),
            (prefill_set, prefill_router),
            (decode_sets, decode_router),
            run.seed,
            run.prefix_weight,
        );
        let reqs = (0..wl.prompt_tokens.len())
            .map(|i| {
                let mut req = Req::new(wl.prompt_tokens[i], wl.output_tokens[i], wl.arrival_s[i]);
                req.priority = wl.priority(i);
                req
            })
            .collect();
        Ok(Sim {
            run_idx,
            opts,
            reqs,
            emissions: Emissions::new(opts.token_stats),
            pool_of: insts.iter().map(|inst| inst.local_pool).collect(),
            insts,
            costs,
            schedulers,
            routing,
            transfers,
            arrivals,
            issue: Vec::new(),
            prefixes: &wl.prefixes,
            events: Events::default(),
            iter_rows: IterationRows::default(),
        })
    }

    fn run(&mut self) -> Result<()> {
        for (t, r) in self.arrivals.start() {
            self.events.push(t, Class::Arrival, r);
        }
        let mut next = self.arrivals.scheduled();
        loop {
            if let Some((t, r)) = next {
                if self.events.precedes(t, Class::Arrival) {
                    self.arrive(r, t);
                    next = self.arrivals.scheduled();
                    continue;
                }
            }
            let Some((t, class, subject)) = self.events.pop() else {
                break;
            };
            match class {
                Class::StepEnd => self.end_step(subject as usize, t)?,
                Class::TransferEnd => self.end_transfer(subject, t),
                Class::Timeout => self.timeout(subject, t),
                Class::Arrival => self.arrive(subject, t),
                Class::Received => {
                    let i = self.reqs[subject as usize].instance as usize;
                    self.receive(subject, i, t);
                }
                Class::Wake => {
                    let i = subject as usize;
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

    /// Makes an idle instance look for work at time `t`, after every other event of that instant.
    fn wake(&mut self, i: usize, t: f64) {
        let inst = &mut self.insts[i];
        if !inst.busy && !inst.wake_pending {
            inst.wake_pending = true;
            self.events.push(t, Class::Wake, i as u32);
        }
    }

    /// Routes `tokens` of request `r`'s work to instance `i`, instead of where it was charged before.
    fn charge(&mut self, r: u32, i: usize, tokens: u64) {
        self.release(r);
        self.routing.add_load(i, tokens);
        let req = &mut self.reqs[r as usize];
        req.charge = tokens;
        req.charge_inst = i as u32;
    }

    fn release(&mut self, r: u32) {
        let req = &mut self.reqs[r as usize];
        if req.charge_inst != NONE {
            let (i, tokens) = (req.charge_inst as usize, req.charge);
            req.charge_inst = NONE;
            req.charge = 0;
            self.routing.remove_load(i, tokens);
        }
    }

    fn arrive(&mut self, r: u32, t: f64) {
        self.reqs[r as usize].arrival = t;
        let i = self.pick_prefill(r);
        // The front end tokenizes the prompt before the scheduler sees the request (`frontend`).
        if self.insts[i].frontend.active() {
            let req = &mut self.reqs[r as usize];
            req.instance = i as u32;
            let at = self.insts[i].frontend.take(t, req.prompt);
            self.events.push(at, Class::Received, r);
            return;
        }
        self.receive(r, i, t);
    }

    /// Request `r` reaches instance `i`'s scheduler at `t`.
    fn receive(&mut self, r: u32, i: usize, t: f64) {
        // A scheduler that polls its input every few steps sees the request later (`recv`).
        if self.insts[i].inbox.holds(self.insts[i].busy) {
            self.reqs[r as usize].instance = i as u32;
            self.insts[i].inbox.push(r);
            return;
        }
        self.admit(r, i, t);
    }

    /// Instance `i`'s scheduler takes in request `r` at `t`: it queues it, or turns it away when the queue
    /// is full. The queue timeout counts from the request's arrival.
    fn admit(&mut self, r: u32, i: usize, t: f64) {
        if self.insts[i].waiting_live >= self.insts[i].max_queue {
            self.reqs[r as usize].instance = i as u32;
            self.reject(r, t, Status::QueueFull);
            return;
        }
        self.assign_prefill(r, i, t, false);
        let timeout = self.insts[i].queue_timeout_s;
        if timeout.is_finite() {
            let at = (self.reqs[r as usize].arrival + timeout).max(t);
            self.events.push(at, Class::Timeout, r);
        }
    }

    /// The prefill-capable instance that takes request `r` (the prefix-aware router sees how much of its
    /// prompt each candidate has cached).
    fn pick_prefill(&mut self, r: u32) -> usize {
        let req = &self.reqs[r as usize];
        let len = req.prompt as u64 + req.generated as u64;
        let seg = self.prefixes.of(r as usize);
        let insts = &self.insts;
        self.routing
            .pick_prefill(len, &mut |i| insts[i].kv.lookup(seg, len).tokens)
    }

    /// Request `r` left the system at `t` (`finished` or turned away): the arrival process may issue
    /// others.
    fn departed(&mut self, t: f64, r: u32, finished: bool) {
        let mut issue = std::mem::take(&mut self.issue);
        self.arrivals.departed(t, r, finished, &mut issue);
        for &(at, c) in &issue {
            self.events.push(at, Class::Arrival, c);
        }
        issue.clear();
        self.issue = issue;
    }

    /// Turns a request away: it leaves the system at `t` with `status`.
    fn reject(&mut self, r: u32, t: f64, status: Status) {
        self.release(r);
        let req = &mut self.reqs[r as usize];
        req.phase = Phase::Rejected;
        req.status = status;
        req.finish = t;
        self.departed(t, r, false);
    }

    /// A request's queue timeout fired: if it is still waiting and was never admitted, it is rejected now.
    /// Its queue entry is dropped lazily when it reaches the head.
    fn timeout(&mut self, r: u32, t: f64) {
        let req = &self.reqs[r as usize];
        if req.phase != Phase::Waiting || !req.first_sched.is_nan() {
            return;
        }
        let i = req.instance as usize;
        self.insts[i].waiting_live -= 1;
        self.reject(r, t, Status::Timeout);
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
        let priority = req.priority;
        self.insts[i].enqueue(r, priority, front);
        self.wake(i, t);
    }

    /// Adds request `r`, whose KV cache is on instance `i`, to its decode set at `t`.
    fn join_decode(&mut self, i: usize, r: u32, t: f64) {
        let req = &mut self.reqs[r as usize];
        if req.first_token.is_nan() {
            // Its prefill instance left the first token to the decode side, which streams it on arrival.
            req.first_token = t;
            self.emissions.single(req, t);
        }
        let r0 = self.insts[i].join_decode(i as u32, r, req);
        self.emissions.open(req, t, i as u32, r0);
    }

    /// Evicts request `r` from instance `i` to be recomputed later, freeing its KV blocks.
    fn preempt(&mut self, i: usize, r: u32, t: f64) {
        let phase = self.reqs[r as usize].phase;
        let blocks = match phase {
            Phase::Decoding => {
                let blocks = self.insts[i].leave_decode(&self.reqs[r as usize]);
                let round = self.insts[i].round;
                let req = &mut self.reqs[r as usize];
                req.generated = req.g0 + (round - req.r0) as u32;
                self.emissions.close(req, round);
                blocks
            }
            Phase::Prefilling => {
                let inst = &mut self.insts[i];
                if let Some(pos) = inst.prefilling.iter().position(|&x| x == r) {
                    inst.prefilling.remove(pos);
                }
                inst.kv.blocks_for(self.reqs[r as usize].prefill_len as u64)
            }
            _ => 0,
        };
        let inst = &mut self.insts[i];
        let req = &mut self.reqs[r as usize];
        inst.kv.leave_prefix(req.node, blocks, None);
        req.node = NONE;
        req.node_segs = 0;
        inst.kv.leave(req.seq);
        req.epoch += 1;
        req.preemptions += 1;
        if inst.role == Role::Decode {
            // A decode instance cannot recompute: the request goes back to the prefill stage.
            let p = self.pick_prefill(r);
            self.assign_prefill(r, p, t, true);
        } else {
            req.phase = Phase::Waiting;
            inst.enqueue(r, req.priority, true);
        }
    }

    /// Request `r` emitted its last token on instance `i` at `t`, with a context of `ctx` tokens in its KV
    /// cache: its blocks are freed, or kept as cached prompt and output when the workload names them.
    fn finish(&mut self, i: usize, r: u32, t: f64, ctx: u64) {
        self.release(r);
        let inst = &mut self.insts[i];
        let req = &mut self.reqs[r as usize];
        let out_id = self.prefixes.output_of(r as usize);
        let output =
            (out_id != 0).then(|| (out_id, ctx.min(req.prompt as u64 + req.output as u64)));
        let blocks = inst.kv.blocks_for(ctx);
        inst.kv.leave_prefix(req.node, blocks, output);
        req.node = NONE;
        req.node_segs = 0;
        inst.kv.leave(req.seq);
        req.phase = Phase::Done;
        req.generated = req.output;
        req.finish = t;
        if req.decode_instance == NONE {
            req.decode_instance = i as u32;
        }
        self.departed(t, r, true);
        if !self.insts[i].incoming.is_empty() {
            self.try_transfers(i, t);
        }
    }

    /// A prefill instance finished a request's prefill: hand its KV cache to a decode instance.
    fn begin_transfer(&mut self, src: usize, r: u32, t: f64) {
        let req = &self.reqs[r as usize];
        let len = req.prefill_len as u64;
        let seg = self.prefixes.of(r as usize);
        let insts = &self.insts;
        let dst = self
            .routing
            .pick_decode(self.insts[src].local_pool, len, &mut |i| {
                insts[i].kv.lookup(seg, len).tokens
            });
        let req = &self.reqs[r as usize];
        let remaining = (req.output - req.generated) as u64;
        let kv = &self.insts[src].kv;
        let blocks =
            (kv.blocks_for(req.prefill_len as u64) - kv.prefix.path_blocks(req.node)) as u32;
        self.charge(r, dst, remaining);
        let req = &mut self.reqs[r as usize];
        self.insts[src].kv.leave(req.seq);
        // The prompt's cached blocks stay referenced on the prefill side until the transfer has read them.
        req.src_node = req.node;
        req.node = NONE;
        req.node_segs = 0;
        req.phase = Phase::PendingTransfer;
        req.instance = dst as u32;
        req.src_blocks = blocks;
        req.kv_ready = t;
        self.insts[dst].incoming.push_back(r);
        self.try_transfers(dst, t);
    }

    /// Starts the transfers waiting on decode instance `d` for which it has KV blocks and batch room.
    fn try_transfers(&mut self, d: usize, t: f64) {
        self.transfers.start_waiting(
            &mut self.insts[d],
            &mut self.reqs,
            &self.pool_of,
            self.prefixes,
            t,
            &mut self.events,
        );
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
        let src_node = std::mem::replace(&mut req.src_node, NONE);
        self.insts[src].kv.leave_prefix(src_node, blocks, None);
        // The decode instance now holds the prompt's KV: it caches it for later turns.
        let (ids, tokens) = self.prefixes.of(r as usize);
        if !ids.is_empty() {
            let kv = &mut self.insts[dst].kv;
            let (node, segs) = kv.cache_prompt(req.node, req.node_segs as usize, ids, tokens);
            req.node = node;
            req.node_segs = segs as u32;
        }
        self.wake(src, t);
        // The request keeps its reserved batch slot until it joins the decode set.
        if self.insts[dst].busy {
            self.insts[dst].joining.push(r);
        } else {
            self.insts[dst].kv.reserved -= 1;
            self.join_decode(dst, r, t);
            self.wake(dst, t);
        }
    }
}
