//! The builder's tables, column types and defaults, and plans it builds decoded back.

use std::fs::File;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use super::*;
use crate::error::InferaError;
use crate::plan::{Plan, PLAN_VERSION, PLAN_VERSION_KEY};

#[test]
fn empty_builder_packs_every_table_with_no_rows() {
    let batch = PlanBuilder::new().build();
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(
        batch
            .schema()
            .metadata()
            .get(PLAN_VERSION_KEY)
            .map(String::as_str),
        Some("1")
    );
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "chips",
            "engines",
            "models",
            "operators",
            "workloads",
            "requests",
            "runs",
            "pools",
            "links",
            "slos"
        ]
    );
    for col in batch.columns() {
        assert_eq!(col.as_list::<i32>().value(0).len(), 0);
    }
}

#[test]
fn column_types_match_the_plan_schema() {
    let tables = tiny_dense_plan(1).tables();
    let ty = |t: &str, c: &str| -> DataType {
        let (_, s) = tables.iter().find(|(n, _)| *n == t).unwrap();
        s.column_by_name(c).unwrap().data_type().clone()
    };
    assert_eq!(ty("chips", "name"), DataType::Utf8);
    assert_eq!(ty("chips", "memory_bw"), DataType::Float64);
    assert_eq!(ty("engines", "chip"), DataType::UInt32);
    assert_eq!(ty("models", "layers"), DataType::UInt32);
    assert_eq!(ty("operators", "tp_shard"), DataType::Boolean);
    assert_eq!(ty("requests", "arrival_s"), DataType::Float64);
    assert_eq!(ty("requests", "prompt_tokens"), DataType::UInt32);
    assert_eq!(ty("runs", "seed"), DataType::UInt64);
    assert_eq!(ty("pools", "chunked_prefill"), DataType::Boolean);
    assert_eq!(ty("pools", "kv_blocks"), DataType::UInt32);
    assert_eq!(ty("slos", "percentile"), DataType::Float64);
}

#[test]
fn optional_columns_hold_nulls() {
    let mut b = tiny_dense_plan(0);
    b.request(0, None, 8, 2);
    b.request(0, Some(1.5), 8, 2);
    b.slo(0, "ttft", None, 1.0);
    b.slo(0, "tpot", Some(99.0), 0.1);
    let tables = b.tables();
    let col = |t: &str, c: &str| {
        let (_, s) = tables.iter().find(|(n, _)| *n == t).unwrap();
        s.column_by_name(c).unwrap().clone()
    };
    let arrival = col("requests", "arrival_s");
    assert!(arrival.is_null(0));
    assert_eq!(
        arrival
            .as_primitive::<arrow_array::types::Float64Type>()
            .value(1),
        1.5
    );
    let pct = col("slos", "percentile");
    assert!(pct.is_null(0));
    assert_eq!(
        pct.as_primitive::<arrow_array::types::Float64Type>()
            .value(1),
        99.0
    );
}

#[test]
fn adders_return_row_indices() {
    let mut b = PlanBuilder::new();
    assert_eq!(b.chip(ChipRow::default()), 0);
    assert_eq!(b.chip(ChipRow::default()), 1);
    assert_eq!(b.engine(1, "tensor", "fp8", 1e15, 0.5), 0);
    assert_eq!(b.model(ModelRow::default()), 0);
    assert_eq!(b.operator(OperatorRow::default()), 0);
    assert_eq!(b.operator(OperatorRow::default()), 1);
    assert_eq!(b.workload(WorkloadRow::default()), 0);
    assert_eq!(b.request(0, Some(0.0), 1, 1), 0);
    assert_eq!(b.request(0, Some(0.0), 1, 1), 1);
    assert_eq!(b.request(0, Some(0.0), 1, 1), 2);
    assert_eq!(b.run(RunRow::default()), 0);
    assert_eq!(b.pool(PoolRow::default()), 0);
    assert_eq!(b.slo(0, "e2e", None, 1.0), 0);
    assert_eq!(b.engines[0].chip, 1);
    assert_eq!(b.requests.len(), 3);
}

#[test]
fn tiny_plan_decodes_to_what_was_built() {
    let mut b = tiny_dense_plan(5);
    b.slo(0, "ttft", Some(90.0), 0.5);
    let plan = Plan::from_batch(&b.build()).unwrap();
    assert_eq!(plan.chips.len(), 1);
    let chip = &plan.chips[0];
    assert_eq!(chip.name, "tiny-chip");
    assert_eq!(
        (chip.memory_bw, chip.link_bw, chip.link_latency_s),
        (1e12, 1e11, 1e-6)
    );
    assert_eq!(chip.engines.len(), 2);
    assert_eq!(
        (chip.engines[0].kind.as_str(), chip.engines[0].flops),
        ("tensor", 1e14)
    );
    assert_eq!(
        (chip.engines[1].kind.as_str(), chip.engines[1].flops),
        ("vector", 1e13)
    );

    let m = &plan.models[0];
    assert_eq!(
        (m.name.as_str(), m.layers, m.kv_heads),
        ("tiny-dense", 2, 2)
    );
    assert_eq!(m.operators.len(), 7);
    let names: Vec<&str> = m.operators.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "norm",
            "qkv_proj",
            "attention",
            "o_proj",
            "allreduce",
            "mlp",
            "lm_head"
        ]
    );
    // 2 norms × 2 layers × 512 B + 2 layers × (262144 + 131072 + 1048576) B + 512000 B (LM head).
    assert_eq!(
        m.weight_bytes,
        4.0 * 512.0 + 2.0 * (262_144.0 + 131_072.0 + 1_048_576.0) + 512_000.0
    );
    assert_eq!(m.kv_bytes_per_token, 1024.0);

    let w = &plan.workloads[0];
    assert_eq!(w.kind, "open");
    assert_eq!(w.duration_s, f64::INFINITY);
    assert_eq!(w.arrival_s, [0.0, 0.005, 0.01, 0.015, 0.02]);
    assert_eq!(w.prompt_tokens, [32, 69, 106, 46, 83]);
    assert_eq!(w.output_tokens, [4, 17, 30, 14, 27]);

    let run = &plan.runs[0];
    assert_eq!(
        (
            run.name.as_str(),
            run.system.as_str(),
            run.model,
            run.workload
        ),
        ("tiny", "tiny-system", 0, 0)
    );
    assert_eq!(run.pools, [0]);
    assert_eq!(run.slos.len(), 1);
    assert_eq!(
        (run.slos[0].percentile, run.slos[0].threshold_s),
        (Some(90.0), 0.5)
    );

    let p = &plan.pools[0];
    assert_eq!(
        (
            p.chips,
            p.tp,
            p.instances,
            p.max_batch,
            p.max_batched_tokens
        ),
        (1, 1, 1, 64, 2048)
    );
    assert_eq!(
        (p.block_size, p.kv_blocks, p.chunked_prefill),
        (16, 1024, true)
    );
    assert_eq!(
        (p.policy.as_str(), p.step_overhead_s),
        ("decode_first", 1e-4)
    );
}

#[test]
fn builder_defaults_form_a_valid_plan() {
    let mut b = PlanBuilder::new();
    let chip = b.chip(ChipRow::default());
    b.engine(chip, "tensor", "bf16", 1e14, 1.0);
    let model = b.model(ModelRow::default());
    b.operator(OperatorRow {
        model,
        flops_per_token: 1e9,
        weight_bytes: 1e9,
        ..Default::default()
    });
    let wl = b.workload(WorkloadRow::default());
    b.request(wl, Some(0.0), 16, 4);
    let run = b.run(RunRow::default());
    b.pool(PoolRow {
        run,
        chip,
        ..Default::default()
    });
    let plan = Plan::from_batch(&b.build()).unwrap();
    assert_eq!(plan.pools[0].kv_blocks, 4096);
    assert_eq!(plan.runs[0].seed, 0);
}

#[test]
fn seeds_survive_packing() {
    let mut b = tiny_dense_plan(1);
    b.runs[0].seed = 123_456_789;
    let plan = Plan::from_batch(&b.build()).unwrap();
    assert_eq!(plan.runs[0].seed, 123_456_789);
}

#[test]
fn ipc_file_keeps_the_batch_and_its_metadata() {
    let batch = tiny_dense_plan(3).build();
    let path =
        std::env::temp_dir().join(format!("infera-builder-{}-ipc.arrow", std::process::id()));
    write_ipc(&batch, &path).unwrap();
    let file = File::open(&path).unwrap();
    let reader = arrow_ipc::reader::FileReader::try_new(file, None).unwrap();
    assert_eq!(
        reader
            .schema()
            .metadata()
            .get(PLAN_VERSION_KEY)
            .map(String::as_str),
        Some(PLAN_VERSION)
    );
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].columns(), batch.columns());
}

#[test]
fn write_ipc_reports_io_errors() {
    let batch = tiny_dense_plan(1).build();
    let dir =
        std::env::temp_dir().join(format!("infera-builder-{}-no-such-dir", std::process::id()));
    let err = write_ipc(&batch, dir.join("sub").join("plan.arrow")).unwrap_err();
    assert!(matches!(err, InferaError::Io(_)), "{err:?}");
}
