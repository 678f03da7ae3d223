//! What the fuzz targets of `infera-core` share: the bound on which decoded plans are simulated
//! ([`small`], [`simulate_if_small`]) and the structured plan description the `plan_simulate` target
//! draws ([`spec`]).
//!
//! The contract every target checks is the core's own: any input either decodes or is an `InferaError`,
//! and a plan that decodes either simulates or is an `InferaError` — never a panic, an abort, a hang past
//! libFuzzer's `-timeout=` or memory past its `-rss_limit_mb=`. An `Err` is an accepted outcome, so the
//! targets discard it.

pub mod spec;

use infera_core::{simulate, Plan, SimOptions};

/// Most instances of a plan that is simulated.
const MAX_INSTANCES: u64 = 16;
/// Most requests of a plan that is simulated.
const MAX_REQUESTS: usize = 64;
/// Most prompt plus output tokens of all requests of a plan that is simulated.
const MAX_TOKENS: u64 = 50_000;
/// Most runs of a plan that is simulated.
const MAX_RUNS: usize = 8;
/// Most pipeline stages times microbatches of a pool that is simulated.
const MAX_STAGES: u64 = 64;

/// Whether `plan` is small enough to simulate in one fuzzing execution (well under a second). The
/// engine's cost grows with instances, requests, tokens and pipeline stages, none of which the decoder
/// bounds this tightly (a plan of a million instances is valid), so larger plans are only decoded.
pub fn small(plan: &Plan) -> bool {
    let instances: u64 = plan.pools.iter().map(|p| p.instances).sum();
    let requests: usize = plan.workloads.iter().map(|w| w.prompt_tokens.len()).sum();
    let tokens: u64 = plan
        .workloads
        .iter()
        .flat_map(|w| w.prompt_tokens.iter().zip(&w.output_tokens))
        .map(|(&p, &o)| u64::from(p) + u64::from(o))
        .sum();
    instances <= MAX_INSTANCES
        && requests <= MAX_REQUESTS
        && tokens <= MAX_TOKENS
        && plan.runs.len() <= MAX_RUNS
        && plan
            .pools
            .iter()
            .all(|p| p.pp.saturating_mul(p.microbatches) <= MAX_STAGES)
}

/// Simulates `plan` when it is [`small`]; a simulation error is an accepted outcome.
pub fn simulate_if_small(plan: &Plan, opts: SimOptions) {
    if small(plan) {
        let _ = simulate(plan, opts);
    }
}
