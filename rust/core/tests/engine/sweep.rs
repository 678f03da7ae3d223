//! Sweeps over scheduler configurations and traffic shapes (deterministic pseudo-random), mixed and
//! disaggregated: every plan keeps the serving invariants.

use infera_core::builder::{tiny_dense_plan, PlanBuilder, PoolRow};
use infera_core::{simulate_batch, SimOptions};

use crate::common::{check_invariants, f64s, max_in_system, names, u32s};

/// SplitMix64: a small deterministic generator for the sweep.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn sweep_plan(seed: u64) -> PlanBuilder {
    let mut g = Mix(seed);
    let n = 20 + g.below(60) as usize;
    let mut b = tiny_dense_plan(n);
    let mut max_ctx = 0u64;
    let burst = g.below(3) == 0;
    for (k, q) in b.requests.iter_mut().enumerate() {
        let (long_prompt, long_output) = (g.below(4) == 0, g.below(4) == 0);
        q.prompt_tokens = 1 + g.below(if long_prompt { 400 } else { 60 }) as u32;
        q.output_tokens = 1 + g.below(if long_output { 200 } else { 20 }) as u32;
        q.arrival_s = Some(if burst {
            0.0
        } else {
            k as f64 * 1e-4 * g.below(20) as f64
        });
        max_ctx = max_ctx.max(q.prompt_tokens as u64 + q.output_tokens as u64);
    }
    if g.below(3) == 0 {
        b.workloads[0].kind = "closed".into();
        b.workloads[0].users = 1 + g.below(12) as u32;
        b.workloads[0].think_time_s = [0.0, 1e-4, 1e-2][g.below(3) as usize];
        for q in &mut b.requests {
            q.arrival_s = None;
        }
    }
    let p = &mut b.pools[0];
    p.block_size = [1, 4, 16, 32][g.below(4) as usize];
    let min_blocks = max_ctx.div_ceil(p.block_size as u64) as u32;
    let tight = g.below(2) == 0;
    p.kv_blocks = min_blocks + g.below(if tight { 3 } else { 3 * min_blocks as u64 }) as u32;
    p.chunked_prefill = g.below(3) != 0;
    p.max_batched_tokens = if p.chunked_prefill {
        1 + g.below(600) as u32
    } else {
        max_ctx as u32 + g.below(300) as u32
    };
    p.max_batch = 1 + g.below(40) as u32;
    p.policy = g.pick(&["decode_first", "prefill_first"]).into();
    p.instances = 1 + g.below(3) as u32;
    p.tp = 1 + g.below(2) as u32;
    p.chips = p.instances * p.tp;
    b.runs[0] =
        b.runs[0]
            .clone()
            .with_router(g.pick(&["round_robin", "least_tokens", "power_of_two"]));
    b.runs[0].seed = g.next();
    b
}

#[test]
fn sweep_of_configurations_keeps_the_invariants() {
    let seeds: u64 = std::env::var("INFERA_SWEEP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let mut preempted = 0;
    for seed in 0..seeds {
        let b = sweep_plan(seed);
        let out = match simulate_batch(&b.build(), SimOptions::default()) {
            Ok(out) => out,
            Err(e) => panic!("sweep seed {seed}: {e}\n{:?}", b.pools[0]),
        };
        check_invariants(&b, &out);
        if u32s(&out.requests, "preemptions").iter().any(|&p| p > 0) {
            preempted += 1;
        }
        if b.workloads[0].kind == "closed" {
            let r = &out.requests;
            let users = b.workloads[0].users as usize;
            assert_eq!(
                max_in_system(&f64s(r, "arrival_s"), &f64s(r, "finish_s")),
                users.min(b.requests.len()),
                "seed {seed}"
            );
        }
    }
    // The sweep is meant to stress the KV cache: a good share of its plans preempt.
    assert!(
        preempted * 5 >= seeds,
        "only {preempted} of {seeds} plans preempted"
    );
}

fn disaggregated_sweep_plan(seed: u64) -> PlanBuilder {
    let mut b = sweep_plan(seed);
    let mut g = Mix(seed ^ 0xD15A);
    let mixed = b.pools[0].clone();
    b.pools[0].name = "pre".into();
    b.pools[0].role = "prefill".into();
    let mut dec = PoolRow {
        name: "dec".into(),
        role: "decode".into(),
        ..mixed.clone()
    };
    dec.instances = 1 + g.below(3) as u32;
    dec.chips = dec.instances * dec.tp;
    dec.max_batch = 1 + g.below(40) as u32;
    b.pool(dec);
    b.link(0, 1, [1e9, 1e11][g.below(2) as usize], 1e-5);
    if g.below(2) == 0 {
        // A mixed pool alongside.
        b.pool(PoolRow {
            name: "mix".into(),
            ..mixed
        });
    }
    b.runs[0].decode_router = g
        .pick(&["round_robin", "least_tokens", "power_of_two"])
        .into();
    b
}

#[test]
fn disaggregated_sweep_keeps_the_invariants() {
    let seeds: u64 = std::env::var("INFERA_SWEEP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    for seed in 0..seeds {
        let b = disaggregated_sweep_plan(seed);
        let out = match simulate_batch(&b.build(), SimOptions::default()) {
            Ok(out) => out,
            Err(e) => panic!("sweep seed {seed}: {e}\n{:?}", b.pools),
        };
        check_invariants(&b, &out);
        let r = &out.requests;
        let (pools, outputs, transfers) = (
            names(r, "decode_pool"),
            u32s(r, "output_tokens"),
            u32s(r, "transfers"),
        );
        for k in 0..r.num_rows() {
            if names(r, "prefill_pool")[k] == "pre" && outputs[k] > 1 {
                assert_eq!(
                    pools[k], "dec",
                    "seed {seed}: a request prefilled on 'pre' decodes on 'dec'"
                );
                assert!(transfers[k] >= 1, "seed {seed}");
            }
        }
    }
}
