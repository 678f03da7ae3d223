//! What the simulated runs measured: per-request rows, per-run statistics and SLO checks, read from the
//! engine's final state.

mod quantile;
mod requests;
mod slo;
mod stats;

#[cfg(test)]
mod tests;

pub use quantile::{gap_quantile, quantile, quantiles, stretch_gap_quantile, GapBlocks, Stretch};
pub use requests::RequestRows;
pub use stats::{ClassStatsRows, RunStatsRows, SUMMARY_QUANTILES};

use crate::engine::{self, Emission, IterationRows, Outcome, SimOptions, Status};
use crate::error::Result;
use crate::plan::{Plan, Slo};
use requests::Derived;
use stats::RunTally;

/// Per-instance facts (the `instances` table).
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
    /// Prompt tokens looked up in the instance's prefix cache at admissions, and of them found cached.
    pub prefix_lookup_tokens: Vec<u64>,
    pub prefix_hit_tokens: Vec<u64>,
}

/// Results of simulating every run of a plan, as column vectors.
#[derive(Default)]
pub struct SimRows {
    pub requests: RequestRows,
    pub stats: RunStatsRows,
    /// Per (run, class) statistics of runs whose traffic has classes.
    pub classes: ClassStatsRows,
    pub iterations: IterationRows,
    pub instances: InstanceRows,
}

/// Simulates every run of `plan`, in order, and collects what each measured.
pub fn simulate_rows(plan: &Plan, opts: SimOptions) -> Result<SimRows> {
    let mut out = SimRows::default();
    for run_idx in 0..plan.runs.len() {
        let outcome = engine::simulate_run(plan, run_idx, opts, &mut out.iterations)?;
        collect(plan, run_idx, &outcome, &mut out);
    }
    Ok(out)
}

/// The first class of workload `w`, numbered across the plan's workloads in order.
pub(crate) fn class_offset(plan: &Plan, w: usize) -> u32 {
    plan.workloads[..w]
        .iter()
        .map(|w| w.classes.len() as u32)
        .sum()
}

/// The targets each class's requests are judged by: its own, or the run's when it has none.
fn class_slos(run_slos: &[Slo], all: &[Slo], classes: usize) -> Vec<Vec<Slo>> {
    (0..classes)
        .map(|c| {
            let own: Vec<Slo> = all
                .iter()
                .filter(|s| s.class == Some(c as u32))
                .cloned()
                .collect();
            if own.is_empty() {
                run_slos.to_vec()
            } else {
                own
            }
        })
        .collect()
}

/// Appends run `run_idx`'s per-request rows (when kept), statistics and instance facts.
fn collect(plan: &Plan, run_idx: usize, o: &Outcome, out: &mut SimRows) {
    let run = &plan.runs[run_idx];
    let wl = &plan.workloads[run.workload];
    let run_slos: Vec<Slo> = run
        .slos
        .iter()
        .filter(|s| s.class.is_none())
        .cloned()
        .collect();
    let per_class = class_slos(&run_slos, &run.slos, wl.classes.len());
    let offset = class_offset(plan, run.workload);
    let mut class_tallies: Vec<RunTally> = per_class.iter().map(|_| RunTally::new()).collect();
    let mut class_cached = vec![0u64; per_class.len()];
    let mut tally = RunTally::new();
    let blocks: Vec<GapBlocks> = if o.opts.token_stats {
        o.insts
            .iter()
            .map(|i| GapBlocks::new(&i.round_end))
            .collect()
    } else {
        Vec::new()
    };
    let mut stretches: Vec<Stretch> = Vec::new();
    let mut scratch = Vec::new();
    if o.opts.requests {
        out.requests.reserve(o.reqs.len());
    }
    let place = |i: usize| (o.insts[i].pool as u32, o.insts[i].index);
    for (k, req) in o.reqs.iter().enumerate() {
        if !req.left() {
            continue;
        }
        let finished = req.status == Status::Finished;
        let tpot_mean = if finished && req.output > 1 {
            Some((req.finish - req.first_token) / (req.output - 1) as f64)
        } else {
            None
        };
        let class = wl.class.get(k).map(|&c| c as usize);
        let slos = class.map_or(run_slos.as_slice(), |c| per_class[c].as_slice());
        let slo_met = finished && slo::request_meets(slos, req, tpot_mean);
        tally.add(req, tpot_mean, slo_met);
        if let Some(c) = class {
            class_tallies[c].add(req, tpot_mean, slo_met);
            if finished {
                class_cached[c] += req.cached_tokens;
            }
        }
        if !o.opts.requests {
            continue;
        }
        let mut tpot_p99 = None;
        if finished && o.opts.token_stats && req.output > 1 {
            stretches.clear();
            stretches.extend(o.emissions.of(req).map(|e| match e {
                Emission::At(t) => Stretch::whole(std::slice::from_ref(t)),
                Emission::Rounds { instance, a, b } => {
                    Stretch::of(&o.insts[instance].round_end, &blocks[instance], a, b)
                }
            }));
            tpot_p99 = stretch_gap_quantile(&stretches, 0.99, &mut scratch);
        }
        let derived = Derived {
            tpot_mean,
            tpot_p99,
            slo_met,
            class: class.map(|c| offset + c as u32),
        };
        out.requests
            .push(run_idx as u32, k as u64, req, place, derived);
    }
    tally.push_into(run_idx as u32, &run_slos, &mut out.stats);
    for (c, t) in class_tallies.into_iter().enumerate() {
        out.classes.class.push(offset + c as u32);
        out.classes.priority.push(wl.classes[c].priority);
        out.classes.cached_tokens.push(class_cached[c]);
        t.push_class_into(run_idx as u32, &per_class[c], &mut out.classes.stats);
    }

    let rows = &mut out.instances;
    for inst in &o.insts {
        rows.run.push(run_idx as u32);
        rows.pool.push(inst.pool as u32);
        rows.instance.push(inst.index);
        rows.kv_blocks.push(inst.kv.total_blocks);
        rows.steps.push(inst.steps);
        rows.busy_s.push(inst.busy_s);
        rows.busy_energy_j.push(inst.busy_energy_j);
        rows.prefix_lookup_tokens.push(inst.kv.prefix.lookup_tokens);
        rows.prefix_hit_tokens.push(inst.kv.prefix.hit_tokens);
    }
}
