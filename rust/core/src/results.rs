//! Turns simulation rows into Arrow record batches: `requests`, `iterations`, `instances`, `stats` and
//! `classes`.
//!
//! Names (run, system, pool) are dictionary-encoded: one small dictionary per column and a u32 key per
//! row, so a million-row table carries no repeated strings and Polars reads them as categoricals.

use std::sync::Arc;

use arrow_array::{
    types::UInt32Type, ArrayRef, BooleanArray, DictionaryArray, Float64Array, RecordBatch,
    StringArray, UInt32Array, UInt64Array,
};
use arrow_schema::{Field, Schema};

use crate::engine::Status;
use crate::error::Result;
use crate::metrics::{RunStatsRows, SimRows};
use crate::plan::Plan;

/// The three result tables of a simulation.
#[derive(Debug, Clone)]
pub struct SimOutput {
    /// One row per finished request.
    pub requests: RecordBatch,
    /// One row per engine step (empty when per-step output is turned off).
    pub iterations: RecordBatch,
    /// One row per instance: KV capacity, steps run, busy time.
    pub instances: RecordBatch,
    /// One row per run: request counts and latency statistics (kept even without per-request rows).
    pub stats: RecordBatch,
    /// One row per (run, traffic class) of the runs whose traffic has classes: the same statistics over
    /// the class's requests, judged by its own SLO, with TTFT, TPOT and end-to-end means.
    pub classes: RecordBatch,
}

/// Dictionary-encodes `names[keys[i]]` (null where a key is `None`). Several keys may share a name (two runs
/// of one `run` block), so the dictionary is deduplicated first: consumers such as Polars expect unique
/// dictionary values.
fn dict_opt(keys: &[Option<u32>], names: &[String]) -> ArrayRef {
    let mut unique: Vec<&str> = Vec::new();
    let remap: Vec<u32> = names
        .iter()
        .map(|n| match unique.iter().position(|u| *u == n.as_str()) {
            Some(p) => p as u32,
            None => {
                unique.push(n);
                (unique.len() - 1) as u32
            }
        })
        .collect();
    let values = Arc::new(StringArray::from_iter_values(unique));
    let keys: UInt32Array = keys.iter().map(|k| k.map(|k| remap[k as usize])).collect();
    Arc::new(
        DictionaryArray::<UInt32Type>::try_new(keys, values).expect("keys index the dictionary"),
    )
}

/// Dictionary-encodes `names[keys[i]]` (see [`dict_opt`]).
fn dict(keys: &[u32], names: &[String]) -> ArrayRef {
    let keys: Vec<Option<u32>> = keys.iter().map(|&k| Some(k)).collect();
    dict_opt(&keys, names)
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    // A column is nullable exactly when it holds nulls (TPOT of single-token requests).
    let fields: Vec<Field> = cols
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), a.null_count() > 0))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    Ok(RecordBatch::try_new(
        schema,
        cols.into_iter().map(|(_, a)| a).collect(),
    )?)
}

fn f64s(v: Vec<f64>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}

/// Times that did not happen (a rejected request's first token) are NaN in the rows and null in the table.
fn times(v: &[f64]) -> ArrayRef {
    Arc::new(
        v.iter()
            .map(|x| if x.is_nan() { None } else { Some(*x) })
            .collect::<Float64Array>(),
    )
}

fn diff(a: &[f64], b: &[f64]) -> ArrayRef {
    Arc::new(
        a.iter()
            .zip(b)
            .map(|(x, y)| Some(x - y).filter(|d| !d.is_nan()))
            .collect::<Float64Array>(),
    )
}

/// Builds the result batches. Per-run names come from `plan`.
pub fn build(plan: &Plan, rows: SimRows) -> Result<SimOutput> {
    let run_names: Vec<String> = plan.runs.iter().map(|r| r.name.clone()).collect();
    let system_names: Vec<String> = plan.runs.iter().map(|r| r.system.clone()).collect();
    let pool_names: Vec<String> = plan.pools.iter().map(|p| p.name.clone()).collect();

    // The prefix cache's figures are reported only for plans that name prefixes, so that every other
    // plan's frames are exactly what they were before prefix caching.
    let prefixes = plan.workloads.iter().any(|w| w.prefixes.present);
    // Every workload's classes, numbered across the plan in order (`metrics::class_offset`).
    let class_names: Vec<String> = plan
        .workloads
        .iter()
        .flat_map(|w| w.classes.iter().map(|c| c.name.clone()))
        .collect();
    let r = rows.requests;
    let nullable_tpot = |v: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let statuses: Vec<String> = Status::ALL.iter().map(|s| s.as_str().to_string()).collect();
    let status_keys: Vec<u32> = r.status.iter().map(|s| *s as u32).collect();
    let mut request_cols = vec![
        ("run", dict(&r.run, &run_names)),
        ("system", dict(&r.run, &system_names)),
        ("request_id", Arc::new(UInt64Array::from(r.request_id))),
        ("status", dict(&status_keys, &statuses)),
        ("prefill_pool", dict(&r.prefill_pool, &pool_names)),
        (
            "prefill_instance",
            Arc::new(UInt32Array::from(r.prefill_instance)),
        ),
        ("decode_pool", dict(&r.decode_pool, &pool_names)),
        (
            "decode_instance",
            Arc::new(UInt32Array::from(r.decode_instance)),
        ),
        (
            "prompt_tokens",
            Arc::new(UInt32Array::from(r.prompt_tokens)),
        ),
        (
            "output_tokens",
            Arc::new(UInt32Array::from(r.output_tokens)),
        ),
        ("arrival_s", f64s(r.arrival_s.clone())),
        ("first_scheduled_s", times(&r.first_scheduled_s)),
        ("first_token_s", times(&r.first_token_s)),
        ("finish_s", times(&r.finish_s)),
        ("queue_s", diff(&r.first_scheduled_s, &r.arrival_s)),
        ("ttft_s", diff(&r.first_token_s, &r.arrival_s)),
        ("tpot_mean_s", nullable_tpot(r.tpot_mean_s)),
        ("tpot_p99_s", nullable_tpot(r.tpot_p99_s)),
        ("e2e_s", diff(&r.finish_s, &r.arrival_s)),
        ("kv_wait_s", f64s(r.kv_wait_s)),
        ("kv_transfer_s", f64s(r.kv_transfer_s)),
        ("prefills", Arc::new(UInt32Array::from(r.prefills))),
        ("transfers", Arc::new(UInt32Array::from(r.transfers))),
        ("preemptions", Arc::new(UInt32Array::from(r.preemptions))),
        ("slo_met", Arc::new(BooleanArray::from(r.slo_met))),
    ];
    if prefixes {
        request_cols.push((
            "cached_tokens",
            Arc::new(UInt64Array::from(r.cached_tokens)),
        ));
    }
    // Only a plan with classes has the column, so the results of one without are as they were.
    if !class_names.is_empty() {
        request_cols.push(("class", dict_opt(&r.class, &class_names)));
    }
    let requests = batch(request_cols)?;

    let it = rows.iterations;
    let iterations = batch(vec![
        ("run", dict(&it.run, &run_names)),
        ("system", dict(&it.run, &system_names)),
        ("pool", dict(&it.pool, &pool_names)),
        ("instance", Arc::new(UInt32Array::from(it.instance))),
        ("step", Arc::new(UInt64Array::from(it.step))),
        ("start_s", f64s(it.start_s)),
        ("duration_s", f64s(it.duration_s)),
        ("batch_size", Arc::new(UInt32Array::from(it.batch_size))),
        (
            "prefill_tokens",
            Arc::new(UInt32Array::from(it.prefill_tokens)),
        ),
        (
            "decode_tokens",
            Arc::new(UInt32Array::from(it.decode_tokens)),
        ),
        (
            "kv_blocks_used",
            Arc::new(UInt32Array::from(it.kv_blocks_used)),
        ),
        ("energy_j", f64s(it.energy_j)),
    ])?;

    let ins = rows.instances;
    let mut instance_cols = vec![
        ("run", dict(&ins.run, &run_names)),
        ("system", dict(&ins.run, &system_names)),
        ("pool", dict(&ins.pool, &pool_names)),
        ("instance", Arc::new(UInt32Array::from(ins.instance))),
        ("kv_blocks", Arc::new(UInt64Array::from(ins.kv_blocks))),
        ("steps", Arc::new(UInt64Array::from(ins.steps))),
        ("busy_s", f64s(ins.busy_s)),
        ("busy_energy_j", f64s(ins.busy_energy_j)),
    ];
    if prefixes {
        let rate: Vec<Option<f64>> = ins
            .prefix_hit_tokens
            .iter()
            .zip(&ins.prefix_lookup_tokens)
            .map(|(&h, &l)| (l > 0).then(|| h as f64 / l as f64))
            .collect();
        instance_cols.push((
            "prefix_lookup_tokens",
            Arc::new(UInt64Array::from(ins.prefix_lookup_tokens)),
        ));
        instance_cols.push((
            "prefix_hit_tokens",
            Arc::new(UInt64Array::from(ins.prefix_hit_tokens)),
        ));
        instance_cols.push(("prefix_hit_rate", Arc::new(Float64Array::from(rate))));
    }
    let instances = batch(instance_cols)?;
    let stats = stats_batch(rows.stats, &run_names, &system_names, Vec::new())?;
    let cl = rows.classes;
    let class_cols: Vec<(String, ArrayRef)> = vec![
        ("class".into(), dict(&cl.class, &class_names)),
        ("priority".into(), Arc::new(UInt32Array::from(cl.priority))),
        (
            "cached_tokens".into(),
            Arc::new(UInt64Array::from(cl.cached_tokens)),
        ),
    ];
    let classes = stats_batch(cl.stats, &run_names, &system_names, class_cols)?;
    Ok(SimOutput {
        requests,
        iterations,
        instances,
        stats,
        classes,
    })
}

/// The statistics table of `st`: run and system, then `extra` (a class's name), then the statistics.
fn stats_batch(
    st: RunStatsRows,
    run_names: &[String],
    system_names: &[String],
    extra: Vec<(String, ArrayRef)>,
) -> Result<RecordBatch> {
    let u64s = |v: Vec<u64>| -> ArrayRef { Arc::new(UInt64Array::from(v)) };
    let mut cols: Vec<(String, ArrayRef)> = vec![
        ("run".into(), dict(&st.run, run_names)),
        ("system".into(), dict(&st.run, system_names)),
    ];
    cols.extend(extra);
    cols.extend([
        ("requests".into(), u64s(st.requests)),
        ("rejected_queue_full".into(), u64s(st.rejected_queue_full)),
        ("rejected_timeout".into(), u64s(st.rejected_timeout)),
        ("first_arrival_s".into(), f64s(st.first_arrival_s)),
        ("last_departure_s".into(), f64s(st.last_departure_s)),
        ("prompt_tokens".into(), u64s(st.prompt_tokens)),
        ("output_tokens".into(), u64s(st.output_tokens)),
        ("slo_met_requests".into(), u64s(st.slo_met_requests)),
        ("preemptions".into(), u64s(st.preemptions)),
    ]);
    for (name, vals) in st.means {
        cols.push((name, Arc::new(Float64Array::from(vals))));
    }
    for (name, vals) in st.quantiles {
        cols.push((name, Arc::new(Float64Array::from(vals))));
    }
    cols.push(("slo_pass".into(), Arc::new(BooleanArray::from(st.slo_pass))));
    batch(cols.iter().map(|(n, a)| (n.as_str(), a.clone())).collect())
}
