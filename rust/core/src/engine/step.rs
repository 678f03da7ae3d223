//! Engine steps of one instance: forming and pricing the next step, and what happens when it ends.

use super::events::Class;
use super::request::Phase;
use super::Sim;
use crate::cost::StepStats;
use crate::error::{InferaError, Result};
use crate::plan::Role;

/// Per-step output columns (the `iterations` table).
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

impl Sim<'_> {
    /// Forms and prices the next step of instance `i` at time `t`; leaves it idle if there is no work.
    pub(super) fn start_step(&mut self, i: usize, t: f64) -> Result<()> {
        let inst = &mut self.insts[i];
        let (reqs, prefixes) = (&self.reqs, self.prefixes);
        let decode = self.schedulers[inst.local_pool]
            .carries_decodes(inst.n_dec, &mut || inst.can_prefill(reqs, prefixes));
        let mut stats = StepStats::default();
        let mut budget = self.insts[i].max_batched_tokens;
        let mut n_dec = 0;
        if decode {
            // Every decoder whose context sits on a block boundary needs one more block; preempt the newest
            // running requests (recompute later) until they fit.
            loop {
                let inst = &self.insts[i];
                let need = inst.round_blocks();
                if need <= inst.kv.available() {
                    break;
                }
                let Some(victim) = inst.kv.victim() else {
                    return Err(InferaError::Simulation(format!(
                        "instance {i} needs {need} KV blocks with nothing left to preempt"
                    )));
                };
                self.preempt(i, victim, t);
            }
            n_dec = self.insts[i].take_decode_round(&mut stats);
            budget = budget.saturating_sub(n_dec);
        }
        let prefill_tokens = self.insts[i].form_prefill(
            i as u32,
            &mut self.reqs,
            self.prefixes,
            budget,
            t,
            &mut stats,
        );
        // Blocks left after this step's allocations go to KV caches waiting to move here.
        if !self.insts[i].incoming.is_empty() {
            self.try_transfers(i, t);
        }
        if stats.tokens == 0.0 {
            self.insts[i].busy = false;
            // An idle scheduler polls its input at once.
            let pending = self.insts[i].inbox.drain();
            if !pending.is_empty() {
                self.take_in(i, pending, t);
            }
            return Ok(());
        }
        self.insts[i].kv.check_accounting(i)?;
        let inst = &mut self.insts[i];
        let cost = &self.costs[inst.local_pool];
        let duration = cost.step_seconds(&stats);
        let energy = cost.step_energy_j(&stats, duration);
        inst.busy = true;
        inst.step_decodes = n_dec;
        let step_no = inst.steps;
        inst.steps += 1;
        inst.busy_s += duration;
        inst.busy_energy_j += energy;
        if self.opts.iterations {
            let rows = &mut self.iter_rows;
            rows.run.push(self.run_idx as u32);
            rows.pool.push(inst.pool as u32);
            rows.instance.push(inst.index);
            rows.step.push(step_no);
            rows.start_s.push(t);
            rows.duration_s.push(duration);
            rows.batch_size
                .push((n_dec as usize + inst.chunks.len()) as u32);
            rows.prefill_tokens.push(prefill_tokens as u32);
            rows.decode_tokens.push(n_dec as u32);
            rows.kv_blocks_used.push(inst.kv.used_blocks() as u32);
            rows.energy_j.push(energy);
        }
        self.events.push(t + duration, Class::StepEnd, i as u32);
        Ok(())
    }

    /// Instance `i`'s step ended at `t`: decoders emit a token (and some finish), completed prefills emit
    /// their first token and move on, arrived KV caches join the decode set; then the next step starts.
    pub(super) fn end_step(&mut self, i: usize, t: f64) -> Result<()> {
        if self.insts[i].step_decodes > 0 {
            let r = self.insts[i].end_round(t, self.opts.token_stats);
            while let Some(req) = self.insts[i].pop_finished(r, &self.reqs) {
                let ctx = self.insts[i].context(&self.reqs[req as usize]);
                self.insts[i].leave_decode(&self.reqs[req as usize]);
                let round = self.insts[i].round;
                self.emissions.close(&mut self.reqs[req as usize], round);
                self.finish(i, req, t, ctx);
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
            // Prefill complete: it samples the next token, and its prompt's KV joins the prefix cache.
            let (ids, tokens) = self.prefixes.of(r as usize);
            if !ids.is_empty() {
                let kv = &mut self.insts[i].kv;
                let (node, segs) = kv.cache_prompt(req.node, req.node_segs as usize, ids, tokens);
                req.node = node;
                req.node_segs = segs as u32;
            }
            self.insts[i].prefilling.pop_front();
            req.generated += 1;
            req.prefills += 1;
            let done = req.generated >= req.output;
            let handed_on = !done && self.insts[i].role == Role::Prefill;
            // Streamed from the decode side, the first token waits for the request to join it (`join_decode`).
            if !(handed_on && self.insts[i].first_token_at_decode && req.first_token.is_nan()) {
                if req.first_token.is_nan() {
                    req.first_token = t;
                }
                self.emissions.single(req, t);
            }
            if done {
                let ctx = req.prefill_len as u64;
                self.finish(i, r, t, ctx);
            } else if self.insts[i].role == Role::Prefill {
                self.begin_transfer(i, r, t);
            } else {
                self.insts[i].kv.leave(req.seq);
                self.join_decode(i, r, t);
            }
        }
        let had_prefill = !chunks.is_empty();
        self.insts[i].chunks = chunks;
        let received = self.insts[i].inbox.step_ended(had_prefill);
        if !received.is_empty() {
            self.take_in(i, received, t);
        }
        if !self.insts[i].joining.is_empty() {
            let mut joining = std::mem::take(&mut self.insts[i].joining);
            for &r in &joining {
                self.insts[i].kv.reserved -= 1;
                self.join_decode(i, r, t);
            }
            joining.clear();
            self.insts[i].joining = joining;
        }
        self.start_step(i, t)
    }
}
