//! Decoding the `pools` table (each pool's chips, parallelism, batching, KV cache, policy, role and
//! topology, with the per-row checks that they fit together) and the optional `links` table.

use arrow_array::RecordBatch;

use crate::error::{plan_err, PlanResult};
use crate::plan::system::{Link, Pool, Role};
use crate::plan::table::{has_table, with_table};

/// The pools of `runs` runs on `chips` chips (memory placement is added by `memories::place`).
pub fn decode(batch: &RecordBatch, runs: usize, chips: usize) -> PlanResult<Vec<Pool>> {
    with_table(batch, "pools", |t| {
        let name = t.strings("name")?;
        let run = t.index("run", "runs", runs)?;
        let chip = t.index("chip", "chips", chips)?;
        let n_chips = t.int_in("chips", 1, u32::MAX as u64)?;
        let tp = t.int_in("tp", 1, 65_536)?;
        let instances = t.int_in("instances", 1, u32::MAX as u64)?;
        let max_batch = t.int_in("max_batch", 1, u32::MAX as u64)?;
        let mbt = t.int_in("max_batched_tokens", 1, u32::MAX as u64)?;
        let block = t.int_in("block_size", 1, 1 << 20)?;
        let kv_blocks = t.int_in("kv_blocks", 1, u32::MAX as u64)?;
        let state_blocks = t.optional("state_blocks", 0, |t, c| t.int_in(c, 0, u32::MAX as u64))?;
        let chunked = t.bools("chunked_prefill")?;
        let policy = t.strings("policy")?;
        let overhead = t.nonneg("step_overhead_s")?;
        let max_queue = t.optional("max_queue", 0, |t, c| t.int_in(c, 0, u64::MAX))?;
        let queue_timeout = t.optional("queue_timeout_s", f64::INFINITY, |t, c| {
            t.f64_checked(c, true)
        })?;
        if let Some(i) = queue_timeout.iter().position(|&x| x <= 0.0) {
            return Err(t.in_cell(
                "queue_timeout_s",
                i,
                plan_err!("pools row {}: queue_timeout_s must be > 0", i),
            ));
        }
        // Parallelism and topology (optional columns: absent means tp-only instances within one node).
        let ones = || vec![1u64; t.len()];
        let pp = if t.has("pp") {
            t.int_in("pp", 1, 65_536)?
        } else {
            ones()
        };
        let ep = if t.has("ep") {
            t.int_in("ep", 1, 65_536)?
        } else {
            ones()
        };
        let dp_attention = if t.has("dp_attention") {
            t.int_in("dp_attention", 1, 65_536)?
        } else {
            ones()
        };
        let microbatches = t.optional("microbatches", 0, |t, c| t.int_in(c, 0, 1 << 20))?;
        let node_size = t.optional("node_size", 0, |t, c| t.int_in(c, 0, u32::MAX as u64))?;
        let network_bw = t.optional("network_bw", 0.0, |t, c| t.nonneg(c))?;
        let network_latency = t.optional("network_latency_s", 0.0, |t, c| t.nonneg(c))?;
        let graph_max_tokens = t.optional("graph_max_tokens", u64::MAX, |t, c| {
            t.int_in(c, 0, u64::MAX)
        })?;
        let graph_prefill = t.optional("graph_prefill", true, |t, c| t.bools(c))?;
        let eager_launch = t.optional("eager_launch_s", 0.0, |t, c| t.nonneg(c))?;
        let graph_pad = t.optional("graph_pad_tokens", 1, |t, c| t.int_in(c, 1, 1 << 20))?;
        let per_seq = t.optional("step_overhead_per_seq_s", 0.0, |t, c| t.nonneg(c))?;
        let per_layer = t.optional("step_overhead_per_layer_s", 0.0, |t, c| t.nonneg(c))?;
        let recv_interval = t.optional("recv_interval", 1, |t, c| t.int_in(c, 1, 1 << 20))?;
        let frontend = t.optional("frontend_per_token_s", 0.0, |t, c| t.nonneg(c))?;
        let frontend_workers = t.optional("frontend_workers", 1, |t, c| t.int_in(c, 1, 1 << 20))?;
        let first_at_decode = t.optional("first_token_at_decode", false, |t, c| t.bools(c))?;
        let prefix_cache = t.optional("prefix_cache_blocks", 0, |t, c| t.int_in(c, 0, u64::MAX))?;
        let role = t.optional("role", Role::Mixed, |t, c| t.parsed(c, Role::parse))?;
        (0..t.len())
            .map(|i| {
                if tp[i] * pp[i] * instances[i] != n_chips[i] {
                    return Err(t.in_cell(
                        "chips",
                        i,
                        plan_err!(
                            "pool '{}': {} chips cannot form {} instances of tp={} x pp={}",
                            name[i],
                            n_chips[i],
                            instances[i],
                            tp[i],
                            pp[i]
                        ),
                    ));
                }
                if tp[i] % ep[i] != 0 {
                    return Err(t.in_cell(
                        "ep",
                        i,
                        plan_err!("pool '{}': ep={} must divide tp={}", name[i], ep[i], tp[i]),
                    ));
                }
                if tp[i] % dp_attention[i] != 0 {
                    return Err(t.in_cell(
                        "dp_attention",
                        i,
                        plan_err!(
                            "pool '{}': dp_attention={} must divide tp={}",
                            name[i],
                            dp_attention[i],
                            tp[i]
                        ),
                    ));
                }
                // 0 (or absent) node size: the whole instance is one node.
                let node = if node_size[i] == 0 { tp[i] * pp[i] } else { node_size[i] };
                // An instance within one node needs no alignment; a larger one must not split a group.
                if tp[i] * pp[i] > node && !(node % tp[i] == 0 || tp[i] % node == 0) {
                    return Err(t.in_cell(
                        "node_size",
                        i,
                        plan_err!(
                            "pool '{}': node_size={} and tp={} must divide one another",
                            name[i],
                            node,
                            tp[i]
                        ),
                    ));
                }
                if tp[i] * pp[i] > node && network_bw[i] <= 0.0 {
                    return Err(t.in_cell(
                        "network_bw",
                        i,
                        plan_err!(
                            "pool '{}': an instance of {} chips spans nodes of {} but network_bw is not set",
                            name[i],
                            tp[i] * pp[i],
                            node
                        ),
                    ));
                }
                Ok(Pool {
                    name: name[i].clone(),
                    run: run[i],
                    role: role[i],
                    chip: chip[i],
                    chips: n_chips[i],
                    tp: tp[i],
                    instances: instances[i],
                    max_batch: max_batch[i],
                    max_batched_tokens: mbt[i],
                    block_size: block[i],
                    kv_blocks: kv_blocks[i],
                    state_blocks: state_blocks[i],
                    chunked_prefill: chunked[i],
                    policy: policy[i].clone(),
                    step_overhead_s: overhead[i],
                    // 0 means no limit (the compiler writes 0 when none is set).
                    max_queue: if max_queue[i] == 0 { u64::MAX } else { max_queue[i] },
                    queue_timeout_s: queue_timeout[i],
                    pp: pp[i],
                    ep: ep[i],
                    dp_attention: dp_attention[i],
                    microbatches: if pp[i] == 1 { 1 } else if microbatches[i] == 0 { pp[i] } else { microbatches[i] },
                    node_size: node,
                    network_bw: network_bw[i],
                    network_latency_s: network_latency[i],
                    weights_memory: None,
                    kv_memory: None,
                    graph_max_tokens: graph_max_tokens[i],
                    graph_prefill: graph_prefill[i],
                    eager_launch_s: eager_launch[i],
                    step_overhead_per_seq_s: per_seq[i],
                    step_overhead_per_layer_s: per_layer[i],
                    graph_pad_tokens: graph_pad[i],
                    recv_interval: recv_interval[i],
                    frontend_per_token_s: frontend[i],
                    frontend_workers: frontend_workers[i] as u32,
                    first_token_at_decode: first_at_decode[i],
                    prefix_cache_blocks: prefix_cache[i],
                })
            })
            .collect::<PlanResult<Vec<_>>>()
    })
}

/// The links between `pools` (the table is optional: a plan without it has no links); both ends of a
/// link belong to one run.
pub fn links(batch: &RecordBatch, pools: &[Pool]) -> PlanResult<Vec<Link>> {
    if !has_table(batch, "links") {
        return Ok(Vec::new());
    }
    with_table(batch, "links", |t| {
        let src = t.index("src", "pools", pools.len())?;
        let dst = t.index("dst", "pools", pools.len())?;
        let bw = t.f64_checked("bandwidth", true)?;
        let lat = t.nonneg("latency_s")?;
        (0..t.len())
            .map(|i| {
                if bw[i].is_nan() || bw[i] <= 0.0 {
                    return Err(t.in_cell(
                        "bandwidth",
                        i,
                        plan_err!("links row {}: bandwidth must be > 0", i),
                    ));
                }
                if pools[src[i]].run != pools[dst[i]].run {
                    return Err(t.in_row(
                        i,
                        plan_err!("links row {}: the two pools belong to different runs", i),
                    ));
                }
                Ok(Link {
                    src: src[i],
                    dst: dst[i],
                    bandwidth: bw[i],
                    latency_s: lat[i],
                })
            })
            .collect::<PlanResult<Vec<_>>>()
    })
}
