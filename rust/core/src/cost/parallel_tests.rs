//! Pipeline, expert and cross-node parallelism: step times against the formulas of
//! `docs/cost-model.md` ("Mixture of experts", "Parallelism"), worked out by hand.
use super::{touched_expert_share, StepCost, StepStats};
use crate::plan::builder::{single_pool, ChipRow, ModelRow, OperatorRow, PoolRow};
use crate::plan::{Plan, Pool};
use crate::test_support::{close, in_node_all_reduce};

const LINK_BW: f64 = 1e11;
const LINK_LAT: f64 = 2e-6;
const NET_BW: f64 = 1e10;
const NET_LAT: f64 = 5e-6;

/// A decoded plan: one chip (1 TB/s memory at efficiency 1, a 1e15 FLOP/s bf16 tensor engine, 100 GB/s
/// links with 2 µs latency), one model with 8 KV heads and operators `ops`, one single-instance pool of
/// `tp` chips. Parallelism fields are set on the decoded pool by the tests.
fn plan(ops: Vec<OperatorRow>, tp: u32) -> Plan {
    let chip = ChipRow {
        name: "c".into(),
        memory_bw: 1e12,
        memory_efficiency: 1.0,
        link_bw: LINK_BW,
        link_latency_s: LINK_LAT,
        power_busy_w: 100.0,
        ..Default::default()
    };
    let model = ModelRow {
        kv_heads: 8,
        ..Default::default()
    };
    let pool = PoolRow {
        chips: tp,
        tp,
        step_overhead_s: 1e-4,
        ..Default::default()
    };
    let engines = [("tensor", "bf16", 1e15, 1.0)];
    Plan::from_batch(&single_pool(chip, &engines, model, ops, pool).build())
        .expect("test plan is valid")
}

fn cost(p: &Plan, set: impl FnOnce(&mut Pool)) -> StepCost {
    let mut pool = p.pools[0].clone();
    set(&mut pool);
    StepCost::new(&p.models[0], &p.chips[0], &pool)
}

fn op(name: &str, engine: &str, count: f64) -> OperatorRow {
    OperatorRow {
        name: name.into(),
        engine: engine.into(),
        count,
        ..Default::default()
    }
}

fn matmul() -> OperatorRow {
    OperatorRow {
        flops_per_token: 1e9,
        weight_bytes: 1e9,
        bytes_per_token: 1e3,
        ..op("mm", "tensor", 2.0)
    }
}

fn send() -> OperatorRow {
    OperatorRow {
        bytes_per_token: 8192.0,
        tp_shard: false,
        ..op("send", "p2p", 1.0)
    }
}

fn stats(tokens: f64, sampled: f64) -> StepStats {
    StepStats {
        tokens,
        sampled,
        attn_pairs: 0.0,
        kv_read_tokens: 0.0,
        ..Default::default()
    }
}

/// One stage of the matmul at pp = 2 on `t` tokens: half its count, weights read once.
fn mm_stage(t: f64) -> f64 {
    (1e9 * t / 1e15_f64).max((1e9 + 1e3 * t) / 1e12)
}

#[test]
fn pipeline_step_is_microbatches_plus_bubble_times_stage_plus_transfers() {
    let p = plan(vec![matmul(), send()], 1);
    let one = cost(&p, |_| {});
    let two = cost(&p, |q| {
        q.pp = 2;
        q.microbatches = 2;
        q.node_size = 8;
    });
    // pp = 1: as before, overhead + the operator (both counts, one weight read of 2 GB).
    close(
        one.step_seconds(&stats(100.0, 4.0)),
        1e-4 + (2e9 * 100.0 / 1e15_f64).max((2e9 + 2e3 * 100.0) / 1e12),
    );
    // 100 tokens in m = 2 micro-batches of 50: (m + pp − 1) = 3 stage times, one boundary inside the node.
    let transfer = 50.0 * 8192.0 / LINK_BW + LINK_LAT;
    close(
        two.step_seconds(&stats(100.0, 4.0)),
        1e-4 + 3.0 * mm_stage(50.0) + transfer,
    );
    // One decode token cannot be split: m = 1, the token crosses both stages.
    close(
        two.step_seconds(&stats(1.0, 1.0)),
        1e-4 + 2.0 * mm_stage(1.0) + 8192.0 / LINK_BW + LINK_LAT,
    );
    // More micro-batches shrink the bubble share (pp − 1) / (m + pp − 1) but re-read the weights.
    let eight = cost(&p, |q| {
        q.pp = 2;
        q.microbatches = 8;
        q.node_size = 8;
    });
    close(
        eight.step_seconds(&stats(800.0, 8.0)),
        1e-4 + 9.0 * mm_stage(100.0) + 100.0 * 8192.0 / LINK_BW + LINK_LAT,
    );
    assert_eq!(two.instance_power_w, 200.0);
}

#[test]
fn pipeline_boundaries_across_nodes_use_the_network() {
    let p = plan(vec![matmul(), send()], 4);
    let set = |node: u64| {
        move |q: &mut Pool| {
            q.pp = 4;
            q.microbatches = 1;
            q.node_size = node;
            q.network_bw = NET_BW;
            q.network_latency_s = NET_LAT;
        }
    };
    // tp = 4, pp = 4: 16 chips. Nodes of 8 hold two stages each: boundary 2 crosses nodes (j·tp = 8).
    let bytes = 10.0 * 8192.0;
    let c8 = cost(&p, set(8));
    close(
        c8.pipeline_transfer_s(bytes),
        2.0 * (bytes / LINK_BW + LINK_LAT) + bytes / NET_BW + NET_LAT,
    );
    // Nodes of 4 chips: every boundary crosses; nodes of 16: none does.
    close(
        cost(&p, set(4)).pipeline_transfer_s(bytes),
        3.0 * (bytes / NET_BW + NET_LAT),
    );
    close(
        cost(&p, set(16)).pipeline_transfer_s(bytes),
        3.0 * (bytes / LINK_BW + LINK_LAT),
    );
}

#[test]
fn cross_node_tensor_parallel_all_reduce_is_hierarchical() {
    let ar = OperatorRow {
        bytes_per_token: 1e4,
        tp_shard: false,
        ..op("ar", "collective", 4.0)
    };
    let p = plan(vec![ar], 16);
    let at = |node: u64| {
        cost(&p, |q| {
            q.node_size = node;
            q.network_bw = NET_BW;
            q.network_latency_s = NET_LAT;
        })
    };
    let (intra, cross) = (at(16), at(8));
    let m = 1e4 * 100.0;
    let flat = in_node_all_reduce(16.0, m, LINK_BW, LINK_LAT);
    // K = 8 chips per node over 2 nodes: 8 rings, one per network port; bandwidth min(W, 8 × 10 GB/s),
    // every step at the network latency.
    let hier = 2.0 * 15.0 / 16.0 * m / 8e10 + 30.0 * NET_LAT;
    close(intra.all_reduce_s(m), flat);
    close(cross.all_reduce_s(m), hier);
    let s = stats(100.0, 1.0);
    close(
        cross.step_seconds(&s) - intra.step_seconds(&s),
        4.0 * (hier - flat),
    );
    assert!(cross.step_seconds(&s) > intra.step_seconds(&s));
    // One chip per node: a plain ring over the network; a fast network is still bound by the chip link.
    close(
        at(1).all_reduce_s(m),
        2.0 * 15.0 / 16.0 * m / NET_BW + 30.0 * NET_LAT,
    );
    let fast = cost(&p, |q| {
        q.node_size = 8;
        q.network_bw = 1e12;
        q.network_latency_s = NET_LAT;
    });
    close(
        fast.all_reduce_s(m),
        2.0 * 15.0 / 16.0 * m / LINK_BW + 30.0 * NET_LAT,
    );
}

/// A MoE layer stand-in: 8 experts of 1e8 weight bytes each, 2 per token (1 MFLOP each), sharded; and
/// its communication, 3 MoE layers of 1e4-byte activations.
fn moe_plan(tp: u32) -> Plan {
    let experts = OperatorRow {
        flops_per_token: 2e6,
        weight_bytes: 8e8,
        bytes_per_token: 0.0,
        ..op("experts", "tensor", 1.0)
    };
    let comm = OperatorRow {
        bytes_per_token: 1e4,
        tp_shard: false,
        ..op("moe", "alltoall", 3.0)
    };
    let mut p = plan(vec![experts, comm], tp);
    for o in &mut p.models[0].operators {
        if o.name == "experts" {
            o.experts = 8.0;
        }
        o.experts_per_token = 2.0;
    }
    p
}

#[test]
fn expert_parallel_step_adds_dispatch_and_combine_all_to_alls() {
    let p = moe_plan(4);
    let ep1 = cost(&p, |_| {});
    let ep4 = cost(&p, |q| q.ep = 4);
    let t = 64.0;
    // ep = 1: one all-reduce of the activations per MoE layer.
    let ar = in_node_all_reduce(4.0, 1e4 * t, LINK_BW, LINK_LAT);
    close(ep1.moe_comm_s(1e4, t, 2.0), ar);
    // ep = 4: each chip sends T·k·h·a / ep bytes in each of two all-to-alls, pairwise over 3 rounds.
    let per_chip = t * 2.0 * 1e4 / 4.0;
    let a2a = 3.0 * (per_chip / 4.0 / LINK_BW + LINK_LAT);
    close(ep4.all_to_all_s(per_chip), a2a);
    close(ep4.moe_comm_s(1e4, t, 2.0), 2.0 * a2a);
    // Compute and weights per chip are the same either way: the step differs by the communication only.
    let s = stats(t, t);
    close(
        ep4.step_seconds(&s) - ep1.step_seconds(&s),
        3.0 * (2.0 * a2a - ar),
    );
}

#[test]
fn decode_reads_only_the_experts_its_tokens_touch() {
    let p = moe_plan(1);
    let c = cost(&p, |_| {});
    close(touched_expert_share(8.0, 2.0, 1.0), 0.25);
    close(touched_expert_share(8.0, 2.0, 2.0), 1.0 - 0.75 * 0.75);
    close(touched_expert_share(8.0, 8.0, 1.0), 1.0);
    assert_eq!(touched_expert_share(0.0, 2.0, 10.0), 0.0);
    // One token: 2 of 8 experts → 2e8 bytes at 1 TB/s; tp = 1 so no communication.
    close(c.step_seconds(&stats(1.0, 1.0)), 1e-4 + 2e8 / 1e12);
    // 16 tokens: E·(1 − (3/4)^16) experts expected.
    let share = 1.0 - 0.75_f64.powi(16);
    close(
        c.step_seconds(&stats(16.0, 16.0)),
        1e-4 + (8e8 * share / 1e12).max(16.0 * 2e6 / 1e15),
    );
}
