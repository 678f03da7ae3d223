//! Decoding the `runs` table (each run's model, workload, seed, routers and kept outputs) and the `slos`
//! table (each run's service-level objectives).

use arrow_array::RecordBatch;

use crate::error::{plan_err, PlanResult};
use crate::plan::run::{Keep, Metric, Run, Slo};
use crate::plan::table::with_table;

/// The runs, with no pools, links or SLOs yet (their own tables add them).
pub fn decode(batch: &RecordBatch, models: usize, workloads: usize) -> PlanResult<Vec<Run>> {
    with_table(batch, "runs", |t| {
        let name = t.strings("name")?;
        let system = t.strings("system")?;
        let model = t.index("model", "models", models)?;
        let workload = t.index("workload", "workloads", workloads)?;
        let seed = t.u64_exact("seed")?;
        // `router` alone (older writers) sets both stages.
        let (pre_col, dec_col) = if t.has("prefill_router") || t.has("decode_router") {
            ("prefill_router", "decode_router")
        } else {
            ("router", "router")
        };
        let prefill_router = t.strings(pre_col)?;
        let decode_router = t.strings(dec_col)?;
        let flag = |col: &str| -> PlanResult<Vec<bool>> {
            if t.has(col) {
                t.bools(col)
            } else {
                Ok(vec![true; t.len()])
            }
        };
        let (keep_req, keep_it, keep_tok) = (
            flag("keep_requests")?,
            flag("keep_iterations")?,
            flag("keep_token_stats")?,
        );
        let prefix_weight = t.optional("prefix_weight", 1.0, |t, c| t.nonneg(c))?;
        Ok((0..t.len())
            .map(|i| Run {
                name: name[i].clone(),
                system: system[i].clone(),
                model: model[i],
                workload: workload[i],
                seed: seed[i],
                prefill_router: prefill_router[i].clone(),
                decode_router: decode_router[i].clone(),
                prefix_weight: prefix_weight[i],
                keep: Keep {
                    requests: keep_req[i],
                    iterations: keep_it[i],
                    token_stats: keep_tok[i],
                },
                pools: Vec::new(),
                links: Vec::new(),
                slos: Vec::new(),
            })
            .collect::<Vec<_>>())
    })
}

/// Adds each `slos` row to its run; `class_rows` says where each `classes` row went (workload, index).
pub fn slos(batch: &RecordBatch, runs: &mut [Run], class_rows: &[(usize, u32)]) -> PlanResult<()> {
    with_table(batch, "slos", |t| {
        let run = t.index("run", "runs", runs.len())?;
        let class = if t.has("class") {
            t.index_opt("class", "classes", class_rows.len())?
        } else {
            vec![None; t.len()]
        };
        let metric = t.parsed("metric", Metric::parse)?;
        let pct = t.f64_opt("percentile")?;
        let thr = t.positive("threshold_s")?;
        for i in 0..t.len() {
            let percentile = match pct[i] {
                None => None,
                Some(p) if p > 0.0 && p <= 100.0 => Some(p),
                Some(p) => {
                    return Err(t.in_cell(
                        "percentile",
                        i,
                        plan_err!("slos row {}: percentile {} is not in (0, 100]", i, p),
                    ))
                }
            };
            let class = match class[i] {
                None => None,
                Some(c) if class_rows[c].0 == runs[run[i]].workload => Some(class_rows[c].1),
                Some(c) => {
                    return Err(t.in_cell(
                        "class",
                        i,
                        plan_err!(
                            "slos row {}: class {} is not a class of run {}'s workload",
                            i,
                            c,
                            run[i]
                        ),
                    ))
                }
            };
            runs[run[i]].slos.push(Slo {
                metric: metric[i],
                percentile,
                threshold_s: thr[i],
                class,
            });
        }
        Ok(())
    })
}
