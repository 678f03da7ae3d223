//! Cross-table checks of a decoded plan: what no single table can express (every run has pools that can
//! prefill and the links its disaggregated pools need, a bounded number of instances, engines for its
//! model's operators on its chips, KV caches and token budgets that fit its longest request).

use super::system::Role;
use super::{Plan, MAX_INSTANCES};
use crate::error::{plan_err, PlanError, PlanResult};

impl Plan {
    pub(super) fn validate(&self) -> PlanResult<()> {
        for (ri, run) in self.runs.iter().enumerate() {
            let in_run = |e: PlanError| e.table("runs").row(ri);
            if run.pools.is_empty() {
                return Err(in_run(plan_err!("run '{}' has no pools", run.name)));
            }
            let instances: u64 = run.pools.iter().map(|&p| self.pools[p].instances).sum();
            if instances > MAX_INSTANCES {
                return Err(in_run(plan_err!(
                    "run '{}' has {} instances; the engine simulates at most {} per run",
                    run.name,
                    instances,
                    MAX_INSTANCES
                )));
            }
            if !run.pools.iter().any(|&p| self.pools[p].role.prefills()) {
                return Err(in_run(plan_err!(
                    "run '{}' has no pool that can prefill",
                    run.name
                )));
            }
            for &pi in &run.pools {
                let pool = &self.pools[pi];
                let out = run
                    .links
                    .iter()
                    .filter(|&&l| {
                        self.links[l].src == pi
                            && self.pools[self.links[l].dst].role == Role::Decode
                    })
                    .count();
                if pool.role == Role::Prefill && out == 0 {
                    return Err(plan_err!(
                        "run '{}': prefill pool '{}' has no link to a decode pool",
                        run.name,
                        pool.name
                    )
                    .table("pools")
                    .column("role")
                    .row(pi));
                }
                let inc = run
                    .links
                    .iter()
                    .filter(|&&l| {
                        self.links[l].dst == pi
                            && self.pools[self.links[l].src].role == Role::Prefill
                    })
                    .count();
                if pool.role == Role::Decode && inc == 0 {
                    return Err(plan_err!(
                        "run '{}': decode pool '{}' has no link from a prefill pool",
                        run.name,
                        pool.name
                    )
                    .table("pools")
                    .column("role")
                    .row(pi));
                }
            }
            let model = &self.models[run.model];
            let wl = &self.workloads[run.workload];
            if wl.prompt_tokens.is_empty() {
                return Err(plan_err!(
                    "run '{}': workload '{}' has no requests",
                    run.name,
                    wl.name
                )
                .table("workloads")
                .row(run.workload));
            }
            let longest = wl
                .prompt_tokens
                .iter()
                .zip(&wl.output_tokens)
                .map(|(p, o)| *p as u64 + *o as u64)
                .max()
                .unwrap_or(0);
            let longest_prompt = wl
                .prompt_tokens
                .iter()
                .map(|&p| p as u64)
                .max()
                .unwrap_or(0);
            for &pi in &run.pools {
                let pool = &self.pools[pi];
                let in_pool = |col: &str, e: PlanError| e.table("pools").column(col).row(pi);
                // A prefill-only instance hands each KV cache on after the prompt: it never holds an output.
                let max_ctx = if pool.role == Role::Prefill {
                    longest_prompt
                } else {
                    longest
                };
                let chip = &self.chips[pool.chip];
                for op in &model.operators {
                    if !op.is_communication() && chip.engine_for(op).is_none() {
                        return Err(in_pool(
                            "chip",
                            plan_err!(
                                "run '{}': chip '{}' has no '{}' engine for operator '{}' ({})",
                                run.name,
                                chip.name,
                                chip.route(op).join("' or '"),
                                op.name,
                                op.dtype
                            ),
                        ));
                    }
                }
                let need = model.kv.blocks(max_ctx, pool.block_size, pool.state_blocks);
                if need > pool.kv_blocks {
                    let capacity_tokens = pool.kv_blocks.saturating_mul(pool.block_size);
                    return Err(in_pool(
                        "kv_blocks",
                        plan_err!(
                            "run '{}' pool '{}': KV cache holds {} blocks ({} tokens) per instance but a request of {} tokens needs {}",
                            run.name,
                            pool.name,
                            pool.kv_blocks,
                            capacity_tokens,
                            max_ctx,
                            need
                        ),
                    ));
                }
                // Without chunks a request's whole context (a preempted one is recomputed with the tokens it
                // generated) must be one prefill.
                if !pool.chunked_prefill && max_ctx > pool.max_batched_tokens {
                    return Err(in_pool(
                        "max_batched_tokens",
                        plan_err!(
                            "run '{}' pool '{}': without chunked prefill, max_batched_tokens ({}) must cover the longest context ({})",
                            run.name,
                            pool.name,
                            pool.max_batched_tokens,
                            max_ctx
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
