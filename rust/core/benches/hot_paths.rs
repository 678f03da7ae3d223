//! Criterion benches of the engine's hot paths (issue "Engine speed").
//!
//! * `price_step`: pricing one step with the cost model (O(operators), whatever the batch).
//! * `decode_steps/batch=B`: whole closed-loop simulations that hold the decode batch at B requests, reported
//!   per engine step (criterion's throughput = steps). Each step forms a batch, prices it, and handles its
//!   events; the per-step cost must not grow with B (the decode set is kept as aggregates).
//!
//! Run: `cargo bench -p infera-core --bench hot_paths` (results in benches/RESULTS.md).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use infera_core::builder::{tiny_dense_plan, RequestRow, WorkloadRow};
use infera_core::cost::{StepCost, StepStats};
use infera_core::{Plan, SimOptions};

/// A plan whose single instance keeps `batch` requests decoding: `batch` closed-loop users, each sending
/// four requests of 32 prompt and 2,000 output tokens.
fn closed_loop_plan(batch: u32) -> Plan {
    let mut b = tiny_dense_plan(1);
    b.workloads[0] = WorkloadRow {
        name: "closed".into(),
        kind: "closed".into(),
        users: batch,
        ..Default::default()
    };
    b.requests = (0..batch * 4)
        .map(|_| RequestRow {
            workload: 0,
            arrival_s: None,
            prompt_tokens: 32,
            output_tokens: 2000,
            send_delay_s: 0.0,
        })
        .collect();
    b.pools[0].max_batch = 1024;
    b.pools[0].kv_blocks = 1_000_000;
    Plan::from_batch(&b.build()).expect("valid bench plan")
}

fn price_step(c: &mut Criterion) {
    let plan = Plan::from_batch(&tiny_dense_plan(1).build()).expect("valid plan");
    let cost = StepCost::new(&plan.models[0], &plan.chips[0], &plan.pools[0]);
    let stats = StepStats {
        tokens: 512.0,
        sampled: 256.0,
        attn_pairs: 1.2e6,
        kv_read_tokens: 1.2e6,
        seqs: 256.0,
        ..Default::default()
    };
    c.bench_function("price_step", |bench| {
        bench.iter(|| cost.step_seconds(black_box(&stats)))
    });
}

fn decode_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_steps");
    group.sample_size(10);
    let opts = SimOptions {
        requests: false,
        iterations: false,
        token_stats: false,
    };
    for batch in [8u32, 512] {
        let plan = closed_loop_plan(batch);
        let steps: u64 = {
            let out = infera_core::simulate(
                &plan,
                SimOptions {
                    iterations: true,
                    ..opts
                },
            )
            .expect("simulates");
            out.iterations.num_rows() as u64
        };
        group.throughput(Throughput::Elements(steps));
        group.bench_with_input(BenchmarkId::new("batch", batch), &plan, |bench, plan| {
            bench.iter(|| infera_core::simulate(black_box(plan), opts).expect("simulates"))
        });
    }
    group.finish();
}

criterion_group!(benches, price_step, decode_steps);
criterion_main!(benches);
