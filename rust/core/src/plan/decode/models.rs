//! Decoding the `models` and `operators` tables: each model with its operators.

use arrow_array::RecordBatch;

use crate::error::{plan_err, PlanResult};
use crate::plan::model::{KvShape, Model, Operator, OPERATOR_ENGINES};
use crate::plan::table::with_table;

/// The models, each with at least one operator.
pub fn decode(batch: &RecordBatch) -> PlanResult<Vec<Model>> {
    let mut models = with_table(batch, "models", |t| {
        let name = t.strings("name")?;
        let layers = t.int_in("layers", 1, 100_000)?;
        let kv_heads = t.int_in("kv_heads", 1, 1_000_000)?;
        let weight_bytes = t.positive("weight_bytes")?;
        let kvb = t.positive("kv_bytes_per_token")?;
        // The cache layout (optional columns: absent means one group of full-attention layers).
        let int_or = |col: &str, max: u64, default: u64| {
            if t.has(col) {
                t.int_in(col, 0, max)
            } else {
                Ok(vec![default; t.len()])
            }
        };
        let full_groups = int_or("kv_full_groups", 100_000, 1)?;
        let window_groups = int_or("kv_window_groups", 100_000, 0)?;
        let window = int_or("sliding_window", u32::MAX as u64, 0)?;
        let state_bytes = t.optional("state_bytes", 0.0, |t, c| t.nonneg(c))?;
        for i in 0..t.len() {
            if full_groups[i] + window_groups[i] == 0 {
                return Err(t.in_cell(
                    "kv_full_groups",
                    i,
                    plan_err!(
                        "models row {}: kv_full_groups + kv_window_groups must be >= 1",
                        i
                    ),
                ));
            }
            if (window_groups[i] > 0) != (window[i] > 0) {
                return Err(t.in_cell(
                    "sliding_window",
                    i,
                    plan_err!(
                        "models row {}: sliding_window must be > 0 exactly when kv_window_groups is",
                        i
                    ),
                ));
            }
        }
        Ok((0..t.len())
            .map(|i| Model {
                name: name[i].clone(),
                layers: layers[i],
                kv_heads: kv_heads[i],
                weight_bytes: weight_bytes[i],
                kv_bytes_per_token: kvb[i],
                kv: KvShape {
                    full_groups: full_groups[i],
                    window_groups: window_groups[i],
                    window: window[i],
                    state_bytes: state_bytes[i],
                },
                operators: Vec::new(),
            })
            .collect::<Vec<_>>())
    })?;

    with_table(batch, "operators", |t| {
        let model = t.index("model", "models", models.len())?;
        let name = t.strings("name")?;
        let engine = t.choice("engine", &OPERATOR_ENGINES)?;
        let dtype = t.strings("dtype")?;
        let count = t.nonneg("count")?;
        let fpt = t.nonneg("flops_per_token")?;
        let fps = t.nonneg("flops_per_sampled")?;
        let fap = t.nonneg("flops_per_attn_pair")?;
        let wb = t.nonneg("weight_bytes")?;
        let bpt = t.nonneg("bytes_per_token")?;
        let bps = t.nonneg("bytes_per_sampled")?;
        let bkv = t.nonneg("bytes_per_kv_token")?;
        let shard = t.bools("tp_shard")?;
        let experts = t.optional("experts", 0.0, |t, c| t.nonneg(c))?;
        let experts_per_token = t.optional("experts_per_token", 0.0, |t, c| t.nonneg(c))?;
        let window = t.optional("window", false, |t, c| t.bools(c))?;
        let bytes_per_seq = t.optional("bytes_per_seq", 0.0, |t, c| t.nonneg(c))?;
        let attention_dp = t.optional("attention_dp", false, |t, c| t.bools(c))?;
        for i in 0..t.len() {
            if experts[i] > 0.0
                && !(experts_per_token[i] > 0.0 && experts_per_token[i] <= experts[i])
            {
                return Err(t.in_cell(
                    "experts_per_token",
                    i,
                    plan_err!(
                        "operators row {}: experts_per_token must be in (0, experts] for an expert operator",
                        i
                    ),
                ));
            }
            if window[i] && models[model[i]].kv.window == 0 {
                return Err(t.in_cell(
                    "window",
                    i,
                    plan_err!(
                        "operators row {}: a windowed operator needs its model's sliding_window > 0",
                        i
                    ),
                ));
            }
            models[model[i]].operators.push(Operator {
                name: name[i].clone(),
                engine: engine[i].clone(),
                dtype: dtype[i].clone(),
                count: count[i],
                flops_per_token: fpt[i],
                flops_per_sampled: fps[i],
                flops_per_attn_pair: fap[i],
                weight_bytes: wb[i],
                bytes_per_token: bpt[i],
                bytes_per_sampled: bps[i],
                bytes_per_kv_token: bkv[i],
                tp_shard: shard[i],
                experts: experts[i],
                experts_per_token: experts_per_token[i],
                window: window[i],
                bytes_per_seq: bytes_per_seq[i],
                attention_dp: attention_dp[i],
            });
        }
        Ok(())
    })?;
    for (i, m) in models.iter().enumerate() {
        if m.operators.is_empty() {
            return Err(plan_err!("model '{}' has no operators", m.name)
                .table("models")
                .row(i));
        }
    }
    Ok(models)
}
