//! Tweaks: typed changes to the builder's rows that keep the plan's shape (and often its validity) but push
//! the engine to extremes: parallel shapes, tiny or huge budgets, odd arrivals, glacial or instant hardware.

use proptest::prelude::*;

use infera_core::builder::PlanBuilder;

/// Optional `pools` columns written for every pool (absent when `None`).
#[derive(Debug, Clone, Default)]
pub struct PoolExtras {
    pub pp: Option<u32>,
    pub ep: Option<u32>,
    pub microbatches: Option<u32>,
    pub node_size: Option<u32>,
    pub network_bw: Option<f64>,
    pub network_latency_s: Option<f64>,
    pub max_queue: Option<u32>,
    pub queue_timeout_s: Option<f64>,
}

#[derive(Debug, Clone)]
pub enum Tweak {
    /// Pool `pool` gets `tp` x `instances` (chips = tp x pp x instances, saturating at u32::MAX).
    Shape {
        pool: usize,
        tp: u32,
        instances: u32,
    },
    Pipeline {
        pp: u32,
        ep: u32,
        microbatches: u32,
        node_size: u32,
        network_bw: f64,
        network_latency_s: f64,
    },
    Overload {
        max_queue: u32,
        queue_timeout_s: f64,
    },
    Tokens {
        row: usize,
        prompt: u32,
        output: u32,
    },
    Arrival {
        row: usize,
        at: f64,
    },
    KvBlocks {
        pool: usize,
        blocks: u32,
    },
    BlockSize {
        pool: usize,
        size: u32,
    },
    MaxBatch {
        pool: usize,
        n: u32,
    },
    Budget {
        pool: usize,
        tokens: u32,
        chunked: bool,
    },
    PrefillFirst {
        pool: usize,
    },
    Routers {
        prefill: &'static str,
        decode: &'static str,
    },
    Overhead {
        pool: usize,
        s: f64,
    },
    /// Multiplies every rate of the chip (memory, links, engines).
    Speed {
        factor: f64,
    },
    Closed {
        users: u32,
        think_s: f64,
    },
    Duration {
        s: f64,
    },
    Slo {
        metric: &'static str,
        percentile: Option<f64>,
        threshold_s: f64,
    },
    LinkSpeed {
        bandwidth: f64,
        latency_s: f64,
    },
    Seed {
        seed: u64,
    },
}

const EXTREMES: [f64; 8] = [0.0, 1e-300, 1e-9, 1e-3, 1.0, 1e9, 1e300, f64::INFINITY];

pub fn tweak_strategy() -> impl Strategy<Value = Tweak> {
    use proptest::sample::select;
    let p = 0usize..3;
    let r = 0usize..8;
    let extreme = select(EXTREMES.to_vec());
    prop_oneof![
        (
            p.clone(),
            select(vec![1u32, 2, 3, 4, 8, 16, 65_536]),
            select(vec![1u32, 2, 3, 17, 64, 1_000_000])
        )
            .prop_map(|(pool, tp, instances)| Tweak::Shape {
                pool,
                tp,
                instances
            }),
        (
            select(vec![1u32, 2, 3, 65_536]),
            select(vec![1u32, 2, 3]),
            select(vec![0u32, 1, 3, 1 << 20]),
            select(vec![0u32, 1, 2, 8]),
            extreme.clone(),
            extreme.clone()
        )
            .prop_map(
                |(pp, ep, microbatches, node_size, network_bw, network_latency_s)| {
                    Tweak::Pipeline {
                        pp,
                        ep,
                        microbatches,
                        node_size,
                        network_bw,
                        network_latency_s,
                    }
                }
            ),
        (select(vec![0u32, 1, 2, u32::MAX]), extreme.clone()).prop_map(
            |(max_queue, queue_timeout_s)| Tweak::Overload {
                max_queue,
                queue_timeout_s
            }
        ),
        (
            r.clone(),
            select(vec![1u32, 2, 15, 16, 17, 100, 4096, 100_000_000]),
            select(vec![1u32, 2, 16, 17, 300])
        )
            .prop_map(|(row, prompt, output)| Tweak::Tokens {
                row,
                prompt,
                output
            }),
        (
            r.clone(),
            prop_oneof![extreme.clone(), Just(f64::MAX), Just(0.0049), Just(-0.0)]
        )
            .prop_map(|(row, at)| Tweak::Arrival { row, at }),
        (p.clone(), select(vec![1u32, 2, 9, 10, 24, 100, u32::MAX]))
            .prop_map(|(pool, blocks)| Tweak::KvBlocks { pool, blocks }),
        (p.clone(), select(vec![1u32, 2, 3, 1 << 16, 1 << 20]))
            .prop_map(|(pool, size)| Tweak::BlockSize { pool, size }),
        (p.clone(), select(vec![1u32, 2, u32::MAX]))
            .prop_map(|(pool, n)| Tweak::MaxBatch { pool, n }),
        (
            p.clone(),
            select(vec![1u32, 2, 16, 137, u32::MAX]),
            any::<bool>()
        )
            .prop_map(|(pool, tokens, chunked)| Tweak::Budget {
                pool,
                tokens,
                chunked
            }),
        p.clone().prop_map(|pool| Tweak::PrefillFirst { pool }),
        (select(Vec::from(ROUTERS)), select(Vec::from(ROUTERS)))
            .prop_map(|(prefill, decode)| Tweak::Routers { prefill, decode }),
        (p.clone(), extreme.clone()).prop_map(|(pool, s)| Tweak::Overhead { pool, s }),
        select(vec![1e-300, 1e-12, 1e12, 1e300]).prop_map(|factor| Tweak::Speed { factor }),
        (select(vec![1u32, 2, u32::MAX]), extreme.clone())
            .prop_map(|(users, think_s)| Tweak::Closed { users, think_s }),
        extreme.clone().prop_map(|s| Tweak::Duration { s }),
        (
            select(vec!["ttft", "tpot", "e2e", "queue"]),
            prop_oneof![
                Just(None),
                Just(Some(1e-300)),
                Just(Some(50.0)),
                Just(Some(100.0))
            ],
            extreme.clone(),
        )
            .prop_map(|(metric, percentile, threshold_s)| Tweak::Slo {
                metric,
                percentile,
                threshold_s
            }),
        (extreme.clone(), extreme).prop_map(|(bandwidth, latency_s)| Tweak::LinkSpeed {
            bandwidth,
            latency_s
        }),
        prop_oneof![Just(0u64), Just(u64::MAX)].prop_map(|seed| Tweak::Seed { seed }),
    ]
}

const ROUTERS: [&str; 3] = ["round_robin", "least_tokens", "power_of_two"];

/// Applies `t` to the builder's rows and the pools' optional columns. Indices wrap around what exists.
pub fn tweak(b: &mut PlanBuilder, x: &mut PoolExtras, t: &Tweak) {
    fn at<T>(v: &mut [T], i: usize) -> Option<&mut T> {
        let n = v.len();
        (n > 0).then(|| &mut v[i % n])
    }
    let pp = x.pp.unwrap_or(1) as u64;
    match *t {
        Tweak::Shape {
            pool,
            tp,
            instances,
        } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.tp = tp;
                p.instances = instances;
                p.chips = (tp as u64 * pp * instances as u64).min(u32::MAX as u64) as u32;
            }
        }
        Tweak::Pipeline {
            pp,
            ep,
            microbatches,
            node_size,
            network_bw,
            network_latency_s,
        } => {
            *x = PoolExtras {
                pp: Some(pp),
                ep: Some(ep),
                microbatches: Some(microbatches),
                node_size: Some(node_size),
                network_bw: Some(network_bw),
                network_latency_s: Some(network_latency_s),
                ..x.clone()
            };
            for p in &mut b.pools {
                p.chips =
                    (p.tp as u64 * pp as u64 * p.instances as u64).min(u32::MAX as u64) as u32;
            }
        }
        Tweak::Overload {
            max_queue,
            queue_timeout_s,
        } => {
            x.max_queue = Some(max_queue);
            x.queue_timeout_s = Some(queue_timeout_s);
        }
        Tweak::Tokens {
            row,
            prompt,
            output,
        } => {
            if let Some(q) = at(&mut b.requests, row) {
                q.prompt_tokens = prompt;
                q.output_tokens = output;
            }
        }
        Tweak::Arrival { row, at: when } => {
            if let Some(q) = at(&mut b.requests, row) {
                q.arrival_s = Some(when);
            }
        }
        Tweak::KvBlocks { pool, blocks } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.kv_blocks = blocks;
            }
        }
        Tweak::BlockSize { pool, size } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.block_size = size;
            }
        }
        Tweak::MaxBatch { pool, n } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.max_batch = n;
            }
        }
        Tweak::Budget {
            pool,
            tokens,
            chunked,
        } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.max_batched_tokens = tokens;
                p.chunked_prefill = chunked;
            }
        }
        Tweak::PrefillFirst { pool } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.policy = "prefill_first".into();
            }
        }
        Tweak::Routers { prefill, decode } => {
            for r in &mut b.runs {
                r.prefill_router = prefill.into();
                r.decode_router = decode.into();
            }
        }
        Tweak::Overhead { pool, s } => {
            if let Some(p) = at(&mut b.pools, pool) {
                p.step_overhead_s = s;
            }
        }
        Tweak::Speed { factor } => {
            for c in &mut b.chips {
                c.memory_bw *= factor;
                c.link_bw *= factor;
            }
            for e in &mut b.engines {
                e.flops *= factor;
            }
        }
        Tweak::Closed { users, think_s } => {
            for w in &mut b.workloads {
                w.kind = "closed".into();
                w.users = users;
                w.think_time_s = think_s;
            }
            for q in &mut b.requests {
                q.arrival_s = None;
            }
        }
        Tweak::Duration { s } => {
            for w in &mut b.workloads {
                w.duration_s = s;
            }
        }
        Tweak::Slo {
            metric,
            percentile,
            threshold_s,
        } => {
            b.slo(0, metric, percentile, threshold_s);
        }
        Tweak::LinkSpeed {
            bandwidth,
            latency_s,
        } => {
            for l in &mut b.links {
                l.bandwidth = bandwidth;
                l.latency_s = latency_s;
            }
        }
        Tweak::Seed { seed } => {
            for r in &mut b.runs {
                r.seed = seed;
            }
        }
    }
}
