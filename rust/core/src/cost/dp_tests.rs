//! Attention data parallelism: step times against the formulas of `docs/cost-model.md` ("Attention data
//! parallelism"), worked out by hand.
use super::{StepCost, StepStats};
use crate::plan::builder::{single_pool, ChipRow, ModelRow, OperatorRow, PoolRow};
use crate::plan::{Plan, Pool};
use crate::test_support::{close, in_node_all_reduce};

const LINK_BW: f64 = 1e11;
const LINK_LAT: f64 = 2e-6;

/// A decoded plan: one chip (1 TB/s memory, a 1e15 FLOP/s bf16 tensor engine, 100 GB/s links with 2 µs
/// latency, energy per FLOP and per byte), a model with `kv_heads` KV heads (1: MLA's shared latent) and
/// operators `ops`, one instance of `tp` chips.
fn plan(ops: Vec<OperatorRow>, tp: u32, kv_heads: u32) -> Plan {
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
        kv_heads,
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

/// Two layers of: attention (reads weights and the KV cache, scores pairs) and its all-reduce, flagged as
/// the attention block; a matmul MLP and its all-reduce on the whole stage.
fn layer_ops(flag: bool) -> Vec<OperatorRow> {
    let op = |name: &str, engine: &str| OperatorRow {
        name: name.into(),
        engine: engine.into(),
        count: 2.0,
        ..Default::default()
    };
    let collective = |name: &str, attention_dp: bool| OperatorRow {
        bytes_per_token: 1e4,
        tp_shard: false,
        attention_dp,
        ..op(name, "collective")
    };
    vec![
        OperatorRow {
            flops_per_attn_pair: 1e4,
            weight_bytes: 8e6,
            bytes_per_kv_token: 1e3,
            attention_dp: flag,
            ..op("attention", "tensor")
        },
        collective("attn_allreduce", flag),
        OperatorRow {
            flops_per_token: 1e9,
            weight_bytes: 1e9,
            bytes_per_token: 1e3,
            ..op("mlp", "tensor")
        },
        collective("mlp_allreduce", false),
    ]
}

/// 64 decoding requests with 4096 tokens of context each.
fn decode_step() -> StepStats {
    StepStats {
        tokens: 64.0,
        sampled: 64.0,
        attn_pairs: 64.0 * 4096.0,
        kv_read_tokens: 64.0 * 4096.0,
        seqs: 64.0,
        ..Default::default()
    }
}

/// One all-gather (or reduce-scatter) of `bytes` over `p` chips of one node: the faster of a ring and a
/// direct gather with one latency.
fn ring(bytes: f64, p: f64) -> f64 {
    let ring = (p - 1.0) / p * bytes / LINK_BW + (p - 1.0) * LINK_LAT;
    ring.min((p - 1.0) / p * bytes / LINK_BW + LINK_LAT)
}

#[test]
fn degree_one_prices_the_attention_block_as_plain_tensor_parallelism() {
    let flagged = plan(layer_ops(true), 8, 1);
    let plain = plan(layer_ops(false), 8, 1);
    let s = decode_step();
    let (a, b) = (cost(&flagged, |_| {}), cost(&plain, |_| {}));
    assert_eq!(a.step_seconds(&s).to_bits(), b.step_seconds(&s).to_bits());
    // The flag alone (dp_attention = 1) changes nothing; a degree above 1 does.
    let dp = cost(&flagged, |q| q.dp_attention = 8);
    assert_ne!(dp.step_seconds(&s), a.step_seconds(&s));
    // Without any flagged operator, the ranks still hand the tokens over around each all-reduced block: at
    // ranks of one chip that costs what the all-reduce did, at ranks of 2 chips one gather within a rank more.
    let unflagged = |d: u64| cost(&plain, |q| q.dp_attention = d).step_seconds(&s);
    close(unflagged(8), b.step_seconds(&s));
    close(
        unflagged(4),
        b.step_seconds(&s) + 4.0 * ring(1e4 * 64.0 / 4.0, 2.0),
    );
}

#[test]
fn mla_at_tp8_dp8_reads_each_ranks_kv_once_and_drops_the_attention_all_reduce() {
    let p = plan(layer_ops(true), 8, 1);
    let s = decode_step();
    // The MLP on all 64 tokens over 8 chips (count 2 / tp 8): 1.6e10 FLOPs vs 2.5e8 + 16e3 bytes.
    let mlp = (0.25 * 1e9 * 64.0 / 1e15_f64).max((0.25 * 1e9 + 0.25 * 1e3 * 64.0) / 1e12);
    let bytes = 1e4 * 64.0; // one layer's activations of the whole batch

    // dp = 1: attention sharded over 8 chips, but MLA's one KV head is replicated on each: every chip reads
    // all 64 × 4096 context tokens (2 layers × 1e3 B) plus 1/8 of the weights.
    let tp = cost(&p, |_| {});
    let att_tp = (0.25 * 1e4 * 262_144.0 / 1e15_f64).max((0.25 * 8e6 + 2e3 * 262_144.0) / 1e12);
    let ar = in_node_all_reduce(8.0, bytes, LINK_BW, LINK_LAT);
    close(
        tp.step_seconds(&s),
        1e-4 + att_tp + 2.0 * ar + mlp + 2.0 * ar,
    );

    // dp = 8: each chip is an attention rank of 1 chip with 8 of the requests: it reads only their context
    // (8 × 4096 tokens) and the whole attention weights; no attention all-reduce; around the MLP an
    // all-gather and a reduce-scatter of the batch over the 8 chips (nothing left to gather in a rank).
    let dp = cost(&p, |q| q.dp_attention = 8);
    let att_dp = (2.0 * 1e4 * 32_768.0 / 1e15_f64).max((2.0 * 8e6 + 2e3 * 32_768.0) / 1e12);
    close(
        dp.step_seconds(&s),
        1e-4 + att_dp + mlp + 2.0 * (2.0 * ring(bytes, 8.0)),
    );
    assert!(dp.step_seconds(&s) < tp.step_seconds(&s));
}

#[test]
fn ranks_of_several_chips_all_reduce_within_the_rank_and_gather_back_their_tokens() {
    // tp = 8, dp = 4: 4 ranks of 2 chips, 16 requests each; GQA with 8 KV heads split over a rank's 2.
    let p = plan(layer_ops(true), 8, 8);
    let s = decode_step();
    let c = cost(&p, |q| q.dp_attention = 4);
    // Attention: count 2 / 2 chips; 16 × 4096 context tokens, KV split 2 ways.
    let att = (1e4 * 65_536.0 / 1e15_f64).max((8e6 + 1e3 * 65_536.0) / 1e12);
    let mlp = (0.25 * 1e9 * 64.0 / 1e15_f64).max((0.25 * 1e9 + 0.25 * 1e3 * 64.0) / 1e12);
    let bytes = 1e4 * 64.0;
    let attn_ar = in_node_all_reduce(2.0, bytes / 4.0, LINK_BW, LINK_LAT); // the rank's 16 tokens, 2 chips
    let hand_over = 2.0 * ring(bytes, 8.0) + ring(bytes / 4.0, 2.0);
    close(
        c.step_seconds(&s),
        1e-4 + att + 2.0 * attn_ar + mlp + 2.0 * hand_over,
    );
}

#[test]
fn expert_parallel_all_to_alls_start_from_the_ranks_unchanged() {
    let moe = OperatorRow {
        name: "moe_alltoall".into(),
        engine: "alltoall".into(),
        count: 3.0,
        bytes_per_token: 1e4,
        tp_shard: false,
        ..Default::default()
    };
    let mut p = plan(vec![moe], 8, 1);
    p.models[0].operators[0].experts_per_token = 8.0;
    let s = decode_step();
    let ep = cost(&p, |q| q.ep = 8);
    let ep_dp = cost(&p, |q| {
        q.ep = 8;
        q.dp_attention = 8;
    });
    close(ep_dp.step_seconds(&s), ep.step_seconds(&s));
    // With ep = 1 the MoE block's all-reduce becomes the ranks' gather and scatter.
    let dp = cost(&p, |q| q.dp_attention = 2);
    let bytes = 1e4 * 64.0;
    close(
        dp.step_seconds(&s),
        1e-4 + 3.0 * (2.0 * ring(bytes, 8.0) + ring(bytes / 2.0, 4.0)),
    );
}

#[test]
fn the_busiest_rank_sets_the_attention_time_when_requests_do_not_divide_evenly() {
    let p = plan(layer_ops(true), 8, 1);
    let dp = cost(&p, |q| q.dp_attention = 8);
    let with = |n: f64| StepStats {
        tokens: n,
        sampled: n,
        attn_pairs: n * 4096.0,
        kv_read_tokens: n * 4096.0,
        seqs: n,
        ..Default::default()
    };
    // 57 to 64 decodes over 8 ranks: the busiest holds 8 in each case, so the attention costs the same and
    // only the blocks run on all chips grow with the batch.
    let attention = |n: f64| {
        dp.step_seconds(&with(n))
            - cost(&p, |q| q.dp_attention = 8).step_seconds(&{
                let mut s = with(n);
                s.attn_pairs = 0.0;
                s.kv_read_tokens = 0.0;
                s
            })
    };
    close(attention(57.0), attention(64.0));
    assert!(attention(65.0) > attention(64.0));
    // A lone request runs on one rank: its attention costs what 8 requests' do, one per rank.
    close(attention(1.0), attention(8.0));
    // Energy counts the work done, the even share: the busiest rank is only what the step waits for.
    let s = with(57.0);
    assert_eq!(dp.rank_share(&s), s.split(8.0));
    close(dp.busiest_rank(&s).seqs, 8.0);
}

#[test]
fn each_rank_pays_the_per_sequence_cpu_work_of_its_own_requests() {
    let p = plan(layer_ops(true), 8, 1);
    let per_seq = 30e-6;
    let with = |dp: u64, per_seq: f64| {
        cost(&p, |q| {
            q.dp_attention = dp;
            q.step_overhead_per_seq_s = per_seq;
        })
    };
    let s = decode_step();
    // Without attention DP one scheduler handles all 64 sequences; at dp = 8 eight do, 8 sequences each.
    close(
        with(1, per_seq).step_seconds(&s) - with(1, 0.0).step_seconds(&s),
        64.0 * per_seq,
    );
    close(
        with(8, per_seq).step_seconds(&s) - with(8, 0.0).step_seconds(&s),
        8.0 * per_seq,
    );
    // 57 sequences: the busiest rank holds 8 of them.
    let mut odd = s;
    odd.seqs = 57.0;
    close(
        with(8, per_seq).step_seconds(&odd) - with(8, 0.0).step_seconds(&odd),
        8.0 * per_seq,
    );
}
